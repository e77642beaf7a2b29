// One decode position per row: rotary embedding of q and k (transformers' rotate_half, the
// non-interleaved halves of GoMLX's RoPEWithCosSin) and the K/V cache write, as model.Forward does
// for T = 1 with a bfloat16 model:
//
//   ang_i = pos_b · inv_freq_i (float32);  c_i = bf16(cos ang_i), s_i = bf16(sin ang_i)     i < H/2
//   rot(z)_i = z_i·c_i − z_{i+H/2}·s_i,   rot(z)_{i+H/2} = z_{i+H/2}·c_i + z_i·s_i
//   qout[b,n,:] = bf16(rot(bf16 q[b,n,:]))
//   kcache[b,k,w,:] = bf16(rot(bf16 k[b,k,:])),  vcache[b,k,w,:] = bf16(v[b,k,:])      w = write_idx
//
// q [B, N·H], k and v [B, K·H] float32 (projection outputs, rows `stride` floats apart: N·H and
// K·H for separate projections, (N+2K)·H for Phi-3's fused qkv_proj); caches [B, K, S, H] bfloat16
// bits. Grid: (B, N + K) blocks of H/2 threads.

#include "common.cuh"

extern "C" __global__ void rope_cache_bf16(const float* __restrict__ q, const float* __restrict__ k,
                                           const float* __restrict__ v, const int* __restrict__ pos,
                                           const float* __restrict__ inv_freq, unsigned short* __restrict__ qout,
                                           unsigned short* __restrict__ kcache, unsigned short* __restrict__ vcache,
                                           int N, int K, int H, int S, const int* __restrict__ write_idx_p, int q_stride,
                                           int kv_stride) {
  pdl_start();
  const int write_idx = *write_idx_p;
  const int b = blockIdx.x, head = blockIdx.y, i = threadIdx.x, half = H / 2;
  if (i >= half) return;
  const float ang = (float)pos[b] * inv_freq[i];
  const float c = bf16_to_f32(f32_to_bf16(cosf(ang))), s = bf16_to_f32(f32_to_bf16(sinf(ang)));
  const float* src;
  unsigned short* dst;
  if (head < N) {
    src = q + (long long)b * q_stride + (long long)head * H;
    dst = qout + ((long long)b * N + head) * H;
  } else {
    const int kh = head - N;
    src = k + (long long)b * kv_stride + (long long)kh * H;
    const long long at = (((long long)b * K + kh) * S + write_idx) * H;
    dst = kcache + at;
    const float* vs = v + (long long)b * kv_stride + (long long)kh * H;
    vcache[at + i] = f32_to_bf16(vs[i]);
    vcache[at + i + half] = f32_to_bf16(vs[i + half]);
  }
  const float z0 = bf16_to_f32(f32_to_bf16(src[i])), z1 = bf16_to_f32(f32_to_bf16(src[i + half]));
  dst[i] = f32_to_bf16(z0 * c - z1 * s);
  dst[i + half] = f32_to_bf16(z1 * c + z0 * s);
}
