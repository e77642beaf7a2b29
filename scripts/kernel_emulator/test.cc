#include <string>
#include <functional>
#include <tuple>
// Runs every kernel of kernels/ on the CPU emulator (emu.h) against plain C++ references on random
// inputs, the same checks as gomlxgrpo/cuda's GPU tests. Usage: scripts/kernel_emulator/run.sh
#include <cstdio>
#include <cstdlib>
#include <random>

#include "emu.h"

typedef unsigned short u16;
struct NF4Mat {  // kernels/nf4_mma.cu's grouped-launch matrix, passed as its 14 fields (NF4MAT_ARGS)
  const unsigned* packed;
  const float* absmax;
  const unsigned char* absmax_q;
  const float* code2;
  const float* absmax2;
  float* y;
  const u16* bias;
  const float* u;
  const float* lora_b;
  float offset;
  int out, tiles, r;
  float scale;
};
extern "C" {
#define NF4MAT_DECL const unsigned*, const float*, const unsigned char*, const float*, const float*, float*, const u16*, const float*, const float*, float, int, int, int, float
void nf4_mma_n8g(NF4MAT_DECL, NF4MAT_DECL, NF4MAT_DECL, const u16*, int, int, float*, unsigned*);
void nf4_mma_n8gw(NF4MAT_DECL, NF4MAT_DECL, NF4MAT_DECL, const u16*, int, int, float*, unsigned*);
void nf4_mma_s64g(NF4MAT_DECL, NF4MAT_DECL, NF4MAT_DECL, const u16*, int, int, float*, unsigned*);
// NF4MAT_ARGS spreads an NF4Mat into nf4_mma_n8g's 14 parameters per matrix.
#define NF4MAT_ARGS(m) m.packed, m.absmax, m.absmax_q, m.code2, m.absmax2, m.y, m.bias, m.u, m.lora_b, m.offset, m.out, m.tiles, m.r, m.scale
void nf4_dequant_f32(const unsigned*, const float*, float*, long long);
void grid_chain_u32(unsigned*, unsigned*, int, int, unsigned*);
#define MLP_MAT_DECL const unsigned*, const float*, const unsigned char*, const float*, const float*, float
void decode_mlp_n8(const u16*, const float*, const u16*, float, u16*, u16*, MLP_MAT_DECL, MLP_MAT_DECL, MLP_MAT_DECL, float*, float*, u16*, float*, int, int, int, int, float*, unsigned*, unsigned*,
                   const float*, const float*, float, const float*, const float*, float, const float*, const float*, float, int,
                   const u16*, u16*, u16*, const float*, const float*, const float*, float*, float*, float*, int, int,
                   const u16*, MLP_MAT_DECL, const float*, const float*, float, int, int, int);
void grid_barrier_loop(unsigned*, int);
void nf4_dequant_bf16(const unsigned*, const float*, u16*, long long);
void nf4_gemv_lora(const unsigned*, const float*, const unsigned char*, const float*, const float*, float, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float);
void nf4_gemv_lora_b8(const unsigned*, const float*, const unsigned char*, const float*, const float*, float, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float);
void nf4_gemv_lora_b8r4(const unsigned*, const float*, const unsigned char*, const float*, const float*, float, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float);
void gemv_bf16_lora(const u16*, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float);
void gemv_bf16_lora_b8(const u16*, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float);
void gemv_bf16_lora_b8r4(const u16*, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float);
void lora_down(const u16*, const float*, float*, int, int, int);
void lora_down3(const u16*, const float*, const float*, const float*, float*, float*, float*, int, int, int);
void nf4_mma_n8(const unsigned*, const float*, const unsigned char*, const float*, const float*, float, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float, float*, unsigned*);
void nf4_mma_n8w(const unsigned*, const float*, const unsigned char*, const float*, const float*, float, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float, float*, unsigned*);
void nf4_mma_s64(const unsigned*, const float*, const unsigned char*, const float*, const float*, float, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float, float*, unsigned*);
void gemm_bf16_mma_n8(const u16*, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float, float*, unsigned*);
void gemm_bf16_mma_s64(const u16*, const u16*, float*, int, int, int, const u16*, const float*, const float*, int, float, float*, unsigned*);
void rmsnorm_bf16(const u16*, const u16*, u16*, int, float);
void residual_rmsnorm_bf16(u16*, const float*, const u16*, u16*, int, float);
void residual_rmsnorm_lora_bf16(const u16*, const float*, const u16*, u16*, u16*, int, float, const float*, const float*,
                                const float*, float*, float*, float*, int, int, int);
void residual_rmsnorm_lora_bf16_e4(const u16*, const float*, const u16*, u16*, u16*, int, float, const float*, const float*,
                                   const float*, float*, float*, float*, int, int, int);
void residual_rmsnorm_lora_bf16_e8(const u16*, const float*, const u16*, u16*, u16*, int, float, const float*, const float*,
                                   const float*, float*, float*, float*, int, int, int);
void residual_rmsnorm_lora_bf16_e12(const u16*, const float*, const u16*, u16*, u16*, int, float, const float*, const float*,
                                   const float*, float*, float*, float*, int, int, int);
void residual_rmsnorm_lora_bf16_e16(const u16*, const float*, const u16*, u16*, u16*, int, float, const float*, const float*,
                                   const float*, float*, float*, float*, int, int, int);
void residual_rmsnorm_lora_bf16_e20(const u16*, const float*, const u16*, u16*, u16*, int, float, const float*, const float*,
                                   const float*, float*, float*, float*, int, int, int);
void residual_rmsnorm_lora_bf16_e24(const u16*, const float*, const u16*, u16*, u16*, int, float, const float*, const float*,
                                   const float*, float*, float*, float*, int, int, int);
void rope_cache_bf16(const float*, const float*, const float*, const int*, const float*, u16*, u16*, u16*, int, int, int, int, const int*, int, int);
void attention_decode_bf16(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h2(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h3(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h4(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h2w8(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h3w8(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h4w8(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h2r4w8(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h3r2w8(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_h4r2w8(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_w16(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_decode_bf16_w16u16(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int);
void attention_scores_split_bf16(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int, float*, float*, unsigned*, int);
void attention_out_split_bf16(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int, float*, float*, unsigned*, int);
void embed_rows_bf16(const int*, const u16*, u16*, int, int);
void residual_add_bf16(u16*, const float*, long long);
void swiglu_bf16(const float*, const float*, u16*, int, int, int);
void swiglu_lora_bf16(const float*, const float*, u16*, int, int, const float*, float*, int, int);
void sample_rows(const float*, int, const unsigned*, const unsigned*, const int*, float, int, float, float, int, int*, float*);
void sample_max_split(const float*, int, float, int, float*);
void sample_draw_split(const float*, int, const unsigned*, const unsigned*, const int*, float, float, int, float*, unsigned*, int*, float*);
}

static std::mt19937_64 rng(12345);
static float gauss(double s) { return std::normal_distribution<double>(0, s)(rng); }
static u16 tobf(float f) {  // round to nearest even, as the kernels
  unsigned u = __float_as_uint(f);
  u += 0x7fff + ((u >> 16) & 1);
  return u >> 16;
}
static float fbf(u16 h) { return __uint_as_float(unsigned(h) << 16); }
static float bf(float f) { return fbf(tobf(f)); }
static int failures = 0;
#define CHECK(cond, ...)            \
  do {                              \
    if (!(cond)) {                  \
      printf("FAIL %s:%d: ", __FILE__, __LINE__); \
      printf(__VA_ARGS__);          \
      printf("\n");                 \
      failures++;                   \
      return;                       \
    }                               \
  } while (0)

static const float NF4[16] = {-1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
                              -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
                              0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
                              0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

struct NF4W {
  std::vector<unsigned char> packed;
  std::vector<float> absmax, w;
};
static NF4W randomNF4(int out, int in) {
  NF4W q;
  long long n = (long long)out * in;
  q.packed.resize(n / 2);
  q.absmax.resize((n + 63) / 64);
  for (auto& b : q.packed) b = rng() & 0xff;
  for (auto& a : q.absmax) a = std::fabs(gauss(0.05)) + 0.01f;
  q.w.resize(n);
  for (long long i = 0; i < n; i++) {
    int code = i % 2 == 0 ? q.packed[i / 2] >> 4 : q.packed[i / 2] & 15;
    q.w[i] = NF4[code] * q.absmax[i / 64];
  }
  return q;
}

static void testDequant() {
  auto q = randomNF4(24, 136);
  long long n = 24 * 136;
  std::vector<float> out(n);
  std::vector<u16> outb(n);
  emuLaunch({unsigned((n / 8 + 255) / 256)}, 256, 0, [&] { nf4_dequant_f32((const unsigned*)q.packed.data(), q.absmax.data(), out.data(), n); });
  emuLaunch({unsigned((n / 8 + 255) / 256)}, 256, 0, [&] { nf4_dequant_bf16((const unsigned*)q.packed.data(), q.absmax.data(), outb.data(), n); });
  for (long long i = 0; i < n; i++) {
    CHECK(out[i] == q.w[i], "dequant f32 [%lld] %g want %g", i, out[i], q.w[i]);
    CHECK(outb[i] == tobf(q.w[i]), "dequant bf16 [%lld]", i);
  }
  printf("ok nf4_dequant\n");
}

// DoubleQuant holds double-quantized block scales: absmax[k] = code2[aq[k]]·absmax2[k/256] + offset.
struct DoubleQuant {
  std::vector<unsigned char> aq;
  std::vector<float> code2, absmax2;
  float offset = 0.03f;
};

// doubleQuantize gives q random double-quantized scales (when dq; else unused zeros of the right
// sizes) and rebuilds q.w from them.
static DoubleQuant doubleQuantize(NF4W& q, bool dq) {
  DoubleQuant d{std::vector<unsigned char>(q.absmax.size()), std::vector<float>(256), std::vector<float>((q.absmax.size() + 255) / 256)};
  if (!dq) return d;
  for (auto& c : d.code2) c = gauss(1);
  for (auto& a : d.absmax2) a = std::fabs(gauss(0.02)) + 0.001f;
  for (size_t k = 0; k < d.aq.size(); k++) d.aq[k] = rng() & 0xff, q.absmax[k] = d.code2[d.aq[k]] * d.absmax2[k / 256] + d.offset;
  for (size_t i = 0; i < q.w.size(); i++) {
    int code = i % 2 == 0 ? q.packed[i / 2] >> 4 : q.packed[i / 2] & 15;
    q.w[i] = NF4[code] * q.absmax[i / 64];
  }
  return d;
}

// MMAWeights: random NF4 weights [out, in] (double-quantized scales with dq) and the values the
// tensor-core kernels multiply, rounded as bitsandbytes' bf16 inference kernel does:
// bf16(bf16(NF4[code]) · bf16(absmax)) (kernels/nf4_mma.cu).
struct MMAWeights {
  NF4W q;
  DoubleQuant d;
  std::vector<float> wf;
  MMAWeights(int out, int in, bool dq) : q(randomNF4(out, in)), d(doubleQuantize(q, dq)), wf(q.w.size()) {
    for (size_t i = 0; i < wf.size(); i++) {
      const int code = i % 2 == 0 ? q.packed[i / 2] >> 4 : q.packed[i / 2] & 15;
      wf[i] = bf(bf(NF4[code]) * bf(q.absmax[i / 64]));
    }
  }
};

static void testGEMV(bool nf4, bool dq, int in, int rows, int out = 40) {
  const int r = 4;
  auto q = randomNF4(out, in);
  auto d = doubleQuantize(q, dq);
  auto& aq = d.aq;
  auto &code2 = d.code2, &absmax2 = d.absmax2;
  const float offset = d.offset;
  std::vector<u16> wb(out * in), xb(rows * in), bias(out);
  std::vector<float> x(rows * in), wf(out * in);
  for (int i = 0; i < out * in; i++) wb[i] = tobf(gauss(0.05)), wf[i] = nf4 ? q.w[i] : fbf(wb[i]);
  for (int i = 0; i < rows * in; i++) xb[i] = tobf(gauss(1)), x[i] = fbf(xb[i]);
  for (auto& b : bias) b = tobf(gauss(0.1));
  std::vector<float> A(r * in), Bm(out * r), u(rows * r), y(rows * out);
  for (auto& a : A) a = gauss(0.05);
  for (auto& b : Bm) b = gauss(0.05);
  emuLaunch({unsigned(rows * r)}, 128, 0, [&] { lora_down(xb.data(), A.data(), u.data(), rows, in, r); });  // the launcher's grid (gomlxgrpo/cuda/decode.go)
  for (int b = 0; b < rows; b++)
    for (int j = 0; j < r; j++) {
      double ref = 0, mag = 0;
      for (int i = 0; i < in; i++) ref += double(x[b * in + i]) * A[j * in + i], mag += std::fabs(double(x[b * in + i]) * A[j * in + i]);
      CHECK(std::fabs(u[b * r + j] - ref) <= 1e-5 * mag + 1e-6, "lora_down [%d,%d] %g want %g", b, j, u[b * r + j], ref);
    }
  {  // lora_down3: three adapters on the same x in one launch (the decoder's q/k/v and gate/up groups)
    std::vector<float> A3[3], u3[3];
    for (int m = 0; m < 3; m++) {
      A3[m].resize(r * in), u3[m].assign(rows * r, -1.f);
      for (auto& a : A3[m]) a = gauss(0.05);
    }
    emuLaunch({unsigned(rows * r), 3}, 128, 0, [&] { lora_down3(xb.data(), A3[0].data(), A3[1].data(), A3[2].data(), u3[0].data(), u3[1].data(), u3[2].data(), rows, in, r); });
    for (int m = 0; m < 3; m++)
      for (int b = 0; b < rows; b++)
        for (int j = 0; j < r; j++) {
          double ref = 0, mag = 0;
          for (int i = 0; i < in; i++) ref += double(x[b * in + i]) * A3[m][j * in + i], mag += std::fabs(double(x[b * in + i]) * A3[m][j * in + i]);
          CHECK(std::fabs(u3[m][b * r + j] - ref) <= 1e-5 * mag + 1e-6, "lora_down3 adapter %d [%d,%d] %g want %g", m, b, j, u3[m][b * r + j], ref);
        }
  }
  const bool b8 = rows <= 8;  // the launcher's choice (gomlxgrpo/cuda/nf4.go gemvKernel)
  const int per = b8 ? 8 : 32;
  const bool r4 = b8 && out >= 32;  // the launcher uses R = 4 on large matrices only; here, on out ≥ 32
  const int outPerBlock = r4 ? 16 : 4;
  dim3 grid{unsigned((out + outPerBlock - 1) / outPerBlock), unsigned((rows + per - 1) / per)};
  auto nf4k = r4 ? nf4_gemv_lora_b8r4 : b8 ? nf4_gemv_lora_b8 : nf4_gemv_lora;
  auto bf16k = r4 ? gemv_bf16_lora_b8r4 : b8 ? gemv_bf16_lora_b8 : gemv_bf16_lora;
  if (nf4)
    emuLaunch(grid, 128, 0, [&] { nf4k((const unsigned*)q.packed.data(), dq ? nullptr : q.absmax.data(), aq.data(), code2.data(), absmax2.data(), offset, xb.data(), y.data(), rows, in, out, bias.data(), u.data(), Bm.data(), r, 0.5f); });
  else
    emuLaunch(grid, 128, 0, [&] { bf16k(wb.data(), xb.data(), y.data(), rows, in, out, bias.data(), u.data(), Bm.data(), r, 0.5f); });
  for (int b = 0; b < rows; b++)
    for (int o = 0; o < out; o++) {
      double ref = fbf(bias[o]), mag = std::fabs(ref);
      for (int i = 0; i < in; i++) ref += double(x[b * in + i]) * wf[o * in + i], mag += std::fabs(double(x[b * in + i]) * wf[o * in + i]);
      for (int j = 0; j < r; j++) ref += 0.5 * u[b * r + j] * Bm[o * r + j], mag += std::fabs(0.5 * u[b * r + j] * Bm[o * r + j]);
      CHECK(std::fabs(y[b * out + o] - ref) <= 1e-5 * mag + 1e-6, "%s gemv [%d,%d] %g want %g", nf4 ? "nf4" : "bf16", b, o, y[b * out + o], ref);
    }
  printf("ok %s gemv%s + lora_down (in=%d rows=%d out=%d)\n", nf4 ? (dq ? "nf4 (double quant)" : "nf4") : "bf16", r4 ? " r4" : "", in, rows, out);
}

// MMACase is one tensor-core matmul check: random x, bias and LoRA terms for rows × in → out; the
// kernel under test writes y, checked against a double reference over the weights wf (float).
struct MMACase {
  int rows, out, in, splits, r;
  std::vector<u16> xb, bias;
  std::vector<float> u, Bm, y, ws;
  std::vector<unsigned> cnt;
  MMACase(int rows_, int out_, int in_, int splits_, int r_ = 3) : rows(rows_), out(out_), in(in_), splits(splits_), r(r_) {
    xb.resize((size_t)rows * in), bias.resize(out), u.resize(rows * r), Bm.resize(out * r), y.assign((size_t)rows * out, -7.f);
    ws.assign(tiles() * splits * 32 * 4 * (s64() ? 8 : 1), 0.f);  // the launcher's sizes (gomlxgrpo/cuda/matmul.go)
    cnt.assign(tiles(), 0);
    for (auto& v : xb) v = tobf(gauss(1));
    for (auto& b : bias) b = tobf(gauss(0.1));
    for (auto& v : u) v = gauss(0.5);
    for (auto& v : Bm) v = gauss(0.05);
  }
  // More than 8 rows take the s64 forms (gomlxgrpo/cuda/matmul.go mmaKernelForm): blocks of 64
  // output rows (4 warp tiles, each finishing its own split-K) and 64 rows of x; else blocks of
  // one 16-row tile and 8 rows of x.
  bool s64() const { return rows > 8; }
  dim3 grid() const {
    return s64() ? dim3{unsigned((out + 63) / 64), unsigned((rows + 63) / 64), unsigned(splits)}
                 : dim3{unsigned((out + 15) / 16), unsigned((rows + 7) / 8), unsigned(splits)};
  }
  size_t tiles() const {  // the split-K tiles
    const dim3 g = grid();
    return (size_t)g.x * g.y * (s64() ? 4 : 1);
  }
  void check(const std::vector<float>& wf, const char* name) {
    for (size_t i = 0; i < cnt.size(); i++) CHECK(cnt[i] == 0, "%s: split-K counter %zu left at %u", name, i, cnt[i]);
    for (int b = 0; b < rows; b++)
      for (int o = 0; o < out; o++) {
        double ref = fbf(bias[o]), mag = std::fabs(ref);
        for (int i = 0; i < in; i++) {
          const double p = double(fbf(xb[(size_t)b * in + i])) * wf[(size_t)o * in + i];
          ref += p, mag += std::fabs(p);
        }
        for (int j = 0; j < r; j++) ref += 0.5 * u[b * r + j] * Bm[o * r + j], mag += std::fabs(0.5 * u[b * r + j] * Bm[o * r + j]);
        CHECK(std::fabs(y[(size_t)b * out + o] - ref) <= 1e-5 * mag + 1e-6, "%s [%d,%d] %g want %g", name, b, o, y[(size_t)b * out + o], ref);
      }
    printf("ok %s (rows=%d out=%d in=%d splits=%d r=%d)\n", name, rows, out, in, splits, r);
  }
};

// testMMAStaged: nf4_mma_s64, the NF4 matmul of more than 8 rows: 4 warps each owning a 16-row
// output tile (64 per block), 64 rows of x per block, split-K per warp tile.
static void testMMAStaged(bool dq, int rows, int out, int in, int splits, int r = 3) {
  MMAWeights mw(out, in, dq);
  auto& [q, d, wf] = mw;
  MMACase c(rows, out, in, splits, r);
  emuLaunch(c.grid(), 128, 0, [&] { nf4_mma_s64((const unsigned*)q.packed.data(), dq ? nullptr : q.absmax.data(), d.aq.data(), d.code2.data(), d.absmax2.data(), d.offset, c.xb.data(), c.y.data(), rows, in, out, c.bias.data(), c.u.data(), c.Bm.data(), c.r, 0.5f, c.ws.data(), c.cnt.data()); });
  c.check(wf, dq ? "nf4 mma s64 (double quant)" : "nf4 mma s64");
}

// testMMA: the tensor-core NF4 matmul (nf4_mma.cu), weights rounded to bfloat16 in the reference as
// the kernel and the GoMLX path use them; plain and double-quantized scales, ragged sizes. More
// than 8 rows: nf4_mma_s64 (testMMAStaged).
static void testMMA(bool dq, int rows, int out, int in, int splits = 1, int r = 3) {
  if (rows > 8) return testMMAStaged(dq, rows, out, in, splits, r);
  MMAWeights mw(out, in, dq);
  auto& [q, d, wf] = mw;
  MMACase c(rows, out, in, splits, r);
  const int chunks = (in + 127) / 128, per = (chunks + splits - 1) / splits;
  const size_t shared = 8 * (16 * per + 1) * 16;  // nf4_mma_n8's slice of x (the launcher's size)
  emuLaunch(c.grid(), 128, shared, [&] { nf4_mma_n8((const unsigned*)q.packed.data(), dq ? nullptr : q.absmax.data(), d.aq.data(), d.code2.data(), d.absmax2.data(), d.offset, c.xb.data(), c.y.data(), rows, in, out, c.bias.data(), c.u.data(), c.Bm.data(), c.r, 0.5f, c.ws.data(), c.cnt.data()); });
  c.check(wf, dq ? "nf4 mma (double quant)" : "nf4 mma");
}

// testMMAN8W: nf4_mma_n8w, the batch-8 streaming form with a tile of 16 output rows per warp (64
// per block), split-K per warp tile.
static void testMMAN8W(bool dq, int rows, int out, int in, int splits, int r = 3) {
  MMAWeights mw(out, in, dq);
  auto& [q, d, wf] = mw;
  MMACase c(rows, out, in, splits, r);
  const dim3 grid{unsigned((out + 63) / 64), unsigned((rows + 7) / 8), unsigned(splits)};
  const size_t tiles = (size_t)grid.x * 4 * grid.y;  // warp tiles, the launcher's sizes (gomlxgrpo/cuda/matmul.go)
  c.ws.assign(tiles * splits * 32 * 4, 0.f);
  c.cnt.assign(tiles, 0);
  const int chunks = (in + 127) / 128, per = (chunks + splits - 1) / splits;
  emuLaunch(grid, 128, 8 * (16 * per + 1) * 16, [&] { nf4_mma_n8w((const unsigned*)q.packed.data(), dq ? nullptr : q.absmax.data(), d.aq.data(), d.code2.data(), d.absmax2.data(), d.offset, c.xb.data(), c.y.data(), rows, in, out, c.bias.data(), c.u.data(), c.Bm.data(), c.r, 0.5f, c.ws.data(), c.cnt.data()); });
  c.check(wf, dq ? "nf4 mma n8w (double quant)" : "nf4 mma n8w");
}

// testMMAGroup: nf4_mma_n8g (wt: nf4_mma_n8gw, a tile per warp; more than 8 rows: nf4_mma_s64g),
// up to three NF4 matrices of different heights on the same x in one launch (the decoder's q/k/v
// and gate/up groups): each output equals its own reference, some matrices with double-quantized
// scales, some without an adapter or a bias, the split-K counters of the whole grid back at zero.
static void testMMAGroup(int rows, std::vector<int> outs, int in, int splits, int r = 3, bool wt = false) {
  const bool s64 = rows > 8;
  wt = wt || s64;
  const int tileRows = wt ? 64 : 16;  // a grid tile: a block's output rows
  const int n = outs.size();
  std::vector<MMAWeights> mw;
  std::vector<MMACase> cs;
  int tiles = 0;
  for (int m = 0; m < n; m++) {
    mw.emplace_back(outs[m], in, m == 1);  // the middle matrix double-quantized
    cs.emplace_back(rows, outs[m], in, splits, m == 2 ? 0 : r);  // the third without an adapter
    cs[m].xb = cs[0].xb;
    tiles += (outs[m] + tileRows - 1) / tileRows;
  }
  const int rowBlocks = s64 ? (rows + 63) / 64 : (rows + 7) / 8, warpTiles = (wt ? 4 * tiles : tiles) * rowBlocks;
  std::vector<float> ws((size_t)warpTiles * splits * 32 * 4 * (s64 ? 8 : 1), 0.f);  // the launcher's sizes
  std::vector<unsigned> cnt(warpTiles, 0);
  NF4Mat ms[3] = {};
  for (int m = 0; m < n; m++) {
    const bool dq = m == 1;
    const NF4W& q = mw[m].q;
    const DoubleQuant& d = mw[m].d;
    ms[m] = NF4Mat{(const unsigned*)q.packed.data(), dq ? nullptr : q.absmax.data(), d.aq.data(), d.code2.data(), d.absmax2.data(),
                   cs[m].y.data(), m == 0 ? cs[m].bias.data() : nullptr, cs[m].r ? cs[m].u.data() : nullptr, cs[m].r ? cs[m].Bm.data() : nullptr,
                   d.offset, outs[m], (outs[m] + tileRows - 1) / tileRows, cs[m].r, 0.5f};
    if (m != 0) std::fill(cs[m].bias.begin(), cs[m].bias.end(), 0);  // the reference's bias: none
  }
  const int chunks = (in + 127) / 128, per = (chunks + splits - 1) / splits;
  const size_t shared = s64 ? 0 : 8 * (16 * per + 1) * 16;
  emuLaunch(dim3{unsigned(tiles), unsigned(rowBlocks), unsigned(splits)}, 128, shared,
            [&] { (s64 ? nf4_mma_s64g : wt ? nf4_mma_n8gw : nf4_mma_n8g)(NF4MAT_ARGS(ms[0]), NF4MAT_ARGS(ms[1]), NF4MAT_ARGS(ms[2]), cs[0].xb.data(), rows, in, ws.data(), cnt.data()); });
  for (int i = 0; i < warpTiles; i++) CHECK(cnt[i] == 0, "nf4 mma group: split-K counter %d left at %u", i, cnt[i]);
  const std::string form = s64 ? "nf4 mma group (s64)" : wt ? "nf4 mma group (warp tiles)" : "nf4 mma group";
  for (int m = 0; m < n; m++) cs[m].check(mw[m].wf, (form + (m == 0 ? ", matrix 0" : m == 1 ? ", matrix 1 (double quant)" : ", matrix 2 (no adapter)")).c_str());
}


// testMMABF16: the tensor-core bfloat16 matmul (gemm_bf16_mma.cu): gemm_bf16_mma_n8 up to 8 rows,
// beyond them gemm_bf16_mma_s64 (4 warps each owning a 16-row output tile, 64 rows of x staged per
// block, split-K per warp tile).
static void testMMABF16(int rows, int out, int in, int splits = 1, int r = 3) {
  std::vector<u16> wb((size_t)out * in);
  std::vector<float> wf(wb.size());
  for (size_t i = 0; i < wb.size(); i++) wb[i] = tobf(gauss(0.05)), wf[i] = fbf(wb[i]);
  MMACase c(rows, out, in, splits, r);
  auto k = c.s64() ? gemm_bf16_mma_s64 : gemm_bf16_mma_n8;
  emuLaunch(c.grid(), 128, 0, [&] { k(wb.data(), c.xb.data(), c.y.data(), rows, in, out, c.bias.data(), c.u.data(), c.Bm.data(), c.r, 0.5f, c.ws.data(), c.cnt.data()); });
  c.check(wf, c.s64() ? "bf16 mma s64" : "bf16 mma");
}

static void testRMSNorm() {
  const int rows = 3, D = 200;
  std::vector<u16> x(rows * D), w(D), out(rows * D);
  for (auto& v : x) v = tobf(gauss(1));
  for (auto& v : w) v = tobf(gauss(1));
  emuLaunch({rows}, 256, 0, [&] { rmsnorm_bf16(x.data(), w.data(), out.data(), D, 1e-6f); });
  for (int r = 0; r < rows; r++) {
    double ss = 0;
    for (int i = 0; i < D; i++) ss += double(fbf(x[r * D + i])) * fbf(x[r * D + i]);
    float inv = 1 / std::sqrt(ss / D + 1e-6);
    for (int i = 0; i < D; i++) {
      float want = bf(fbf(w[i]) * bf(fbf(x[r * D + i]) * inv)), got = fbf(out[r * D + i]);
      CHECK(std::fabs(got - want) <= 0.008 * std::fabs(want) + 1e-6, "rmsnorm [%d,%d] %g want %g", r, i, got, want);
    }
  }
  printf("ok rmsnorm\n");
}

// testResidualRMSNorm: the fused residual add + norm equals residual_add_bf16 then rmsnorm_bf16
// (both kernels, bit for bit: x and the normalized output).
static void testResidualRMSNorm() {
  const int rows = 3, D = 600;
  std::vector<u16> x(rows * D), w(D), out(rows * D), x2, out2(rows * D);
  std::vector<float> y(rows * D);
  for (auto& v : x) v = tobf(gauss(1));
  for (auto& v : y) v = gauss(1);
  for (auto& v : w) v = tobf(gauss(1));
  x2 = x;
  emuLaunch({rows}, 256, 0, [&] { residual_rmsnorm_bf16(x.data(), y.data(), w.data(), out.data(), D, 1e-6f); });
  emuLaunch({unsigned((rows * D + 255) / 256)}, 256, 0, [&] { residual_add_bf16(x2.data(), y.data(), rows * D); });
  emuLaunch({rows}, 256, 0, [&] { rmsnorm_bf16(x2.data(), w.data(), out2.data(), D, 1e-6f); });
  for (int i = 0; i < rows * D; i++) {
    CHECK(x[i] == x2[i], "residual_rmsnorm x[%d] %g want %g", i, fbf(x[i]), fbf(x2[i]));
    CHECK(out[i] == out2[i], "residual_rmsnorm out[%d] %g want %g", i, fbf(out[i]), fbf(out2[i]));
  }
  printf("ok residual_rmsnorm (equals residual_add then rmsnorm)\n");
}

static void rot(const float* z, const float* c, const float* s, int H, float* out) {
  int h = H / 2;
  for (int i = 0; i < h; i++) {
    float z0 = bf(z[i]), z1 = bf(z[i + h]);
    out[i] = bf(z0 * c[i] - z1 * s[i]);
    out[i + h] = bf(z1 * c[i] + z0 * s[i]);
  }
}

static void testRope(bool fused) {
  const int B = 2, N = 4, K = 2, H = 16, S = 40;
  const int w = 17;
  const int qs = fused ? (N + 2 * K) * H : N * H, kvs = fused ? (N + 2 * K) * H : K * H;
  std::vector<float> buf(B * (N + 2 * K) * H), q, k, v;
  for (auto& x : buf) x = gauss(1);
  const float *pq, *pk, *pv;
  if (fused) {
    pq = buf.data(), pk = buf.data() + N * H, pv = buf.data() + (N + K) * H;
  } else {
    q.assign(buf.begin(), buf.begin() + B * N * H);
    k.assign(buf.begin() + B * N * H, buf.begin() + B * (N + K) * H);
    v.assign(buf.begin() + B * (N + K) * H, buf.end());
    pq = q.data(), pk = k.data(), pv = v.data();
  }
  std::vector<int> pos = {5, 3000};
  std::vector<float> inv(H / 2);
  for (int i = 0; i < H / 2; i++) inv[i] = std::pow(10000.0, -2.0 * i / H);
  std::vector<u16> qo(B * N * H), kc(B * K * S * H), vc(B * K * S * H);
  emuLaunch({B, N + K}, H / 2, 0, [&] { rope_cache_bf16(pq, pk, pv, pos.data(), inv.data(), qo.data(), kc.data(), vc.data(), N, K, H, S, &w, qs, kvs); });
  for (int b = 0; b < B; b++) {
    float c[64], s[64], want[128];
    for (int i = 0; i < H / 2; i++) {
      float a = float(pos[b]) * inv[i];
      c[i] = bf(cosf(a)), s[i] = bf(sinf(a));
    }
    for (int n = 0; n < N; n++) {
      rot(pq + b * qs + n * H, c, s, H, want);
      for (int i = 0; i < H; i++) CHECK(std::fabs(fbf(qo[(b * N + n) * H + i]) - want[i]) <= 0.02, "rope q");
    }
    for (int kh = 0; kh < K; kh++) {
      rot(pk + b * kvs + kh * H, c, s, H, want);
      long long at = ((long long)(b * K + kh) * S + w) * H;
      for (int i = 0; i < H; i++) {
        CHECK(std::fabs(fbf(kc[at + i]) - want[i]) <= 0.02, "rope k");
        CHECK(vc[at + i] == tobf(pv[b * kvs + kh * H + i]), "v cache");
      }
    }
  }
  printf("ok rope_cache (%s)\n", fused ? "fused qkv" : "separate");
}

// attentionRef is the double-precision reference of the decode attention of row b, query head n
// (B rows, N heads, K kv heads, S positions, new position w): out[i] for i < H, the probabilities
// rounded to bfloat16 before the sum (as model.groupedAttention and the kernels do).
static std::vector<float> attentionRef(const std::vector<u16>& q, const std::vector<u16>& kc, const std::vector<u16>& vc,
                                       const std::vector<unsigned char>& valid, int b, int n, int N, int K, int H, int S, int w) {
  const int kh = n / (N / K);
  std::vector<double> sc(S);
  double m = -INFINITY;
  for (int s = 0; s < S; s++) {
    sc[s] = -INFINITY;
    if ((valid[b * S + s] && s <= w) || s == w) {
      float d = 0;
      for (int i = 0; i < H; i++) d += fbf(q[(b * N + n) * H + i]) * fbf(kc[((b * K + kh) * S + s) * H + i]);
      sc[s] = bf(d) / std::sqrt(double(H));
      m = std::max(m, sc[s]);
    }
  }
  double z = 0;
  for (auto& v : sc) v = std::exp(v - m), z += v;
  std::vector<float> out(H);
  for (int i = 0; i < H; i++) {
    double acc = 0;
    for (int s = 0; s < S; s++) {
      const double p = bf(float(sc[s] / z));
      if (p != 0) acc += p * fbf(vc[((b * K + kh) * S + s) * H + i]);  // masked rows may hold NaN
    }
    out[i] = bf(acc);
  }
  return out;
}

// testAttention checks a decode attention form against a double-precision reference: the 8-warp
// per-head kernel, the 16-warp one (w16), or with split > 0 the split pair over slices of split
// positions (the per-row counters must be back at 0 afterwards).
static void testAttention(int H, int S, int w, bool w16 = false, int split = 0) {
  const int B = 2, N = 4, K = 2;
  std::vector<u16> q(B * N * H), kc(B * K * S * H), vc(B * K * S * H), out(B * N * H);
  for (auto& x : q) x = tobf(gauss(1));
  for (auto& x : kc) x = tobf(gauss(1));
  for (auto& x : vc) x = tobf(gauss(1));
  std::vector<unsigned char> valid(B * S, 1);
  for (int s = 0; s < 7; s++) valid[S + s] = 0;  // row 1 left-padded
  valid[w - 1] = 0;                              // a masked position inside row 0
  // Masked rows of the caches hold NaN: a form must not read them (0·NaN is NaN), as the caches'
  // unwritten positions may hold anything.
  for (int b = 0; b < B; b++)
    for (int s = 0; s < S; s++)
      if (!((valid[b * S + s] && s <= w) || s == w))
        for (int kh = 0; kh < K; kh++)
          for (int i = 0; i < H; i++) kc[((b * K + kh) * S + s) * H + i] = vc[((b * K + kh) * S + s) * H + i] = 0x7fc0;
  if (split > 0) {
    const int P = (S + split - 1) / split;
    std::vector<float> sc(B * N * S, NAN), part(B * N * P * H, NAN);
    std::vector<unsigned> cnt(B * N, 0);
    auto args = [&] { return std::make_tuple(q.data(), kc.data(), vc.data(), valid.data(), out.data(), N, K, H, S, &w, nullptr, 0, sc.data(), part.data(), cnt.data(), split); };
    emuLaunch({unsigned(N), unsigned(P), B}, 256, 0, [&] { std::apply(attention_scores_split_bf16, args()); });
    emuLaunch({unsigned(N), unsigned(P), B}, 256, 0, [&] { std::apply(attention_out_split_bf16, args()); });
    for (unsigned c : cnt) CHECK(c == 0, "attention split: a row counter left at %u", c);
  } else if (w16)  // the 16-warp form (the launcher's GOMLXGRPO_ATTN=w16)
    emuLaunch({B, N}, 512, 4 * S, [&] { attention_decode_bf16_w16(q.data(), kc.data(), vc.data(), valid.data(), out.data(), N, K, H, S, &w, nullptr, 0); });
  else
    emuLaunch({B, N}, 256, 4 * S, [&] { attention_decode_bf16(q.data(), kc.data(), vc.data(), valid.data(), out.data(), N, K, H, S, &w, nullptr, 0); });
  for (int b = 0; b < B; b++)
    for (int n = 0; n < N; n++) {
      const std::vector<float> want = attentionRef(q, kc, vc, valid, b, n, N, K, H, S, w);
      for (int i = 0; i < H; i++) {
        const float got = fbf(out[(b * N + n) * H + i]);
        CHECK(std::fabs(got - want[i]) <= 0.02 * std::fabs(want[i]) + 0.01, "attention [%d,%d,%d] %g want %g", b, n, i, got, want[i]);
      }
    }
  printf("ok attention_decode%s (H=%d S=%d split=%d)\n", w16 ? "_w16" : split ? "_split" : "", H, S, split);
}

// AttnLaunch launches one decode attention form on (q, kc, vc, valid) into out.
typedef std::function<void(const u16*, const u16*, const u16*, const unsigned char*, u16*, int, int, int, int, const int*, const int*, int)> AttnLaunch;

// testAttentionSame: two decode attention forms give the same bits on random inputs with a
// left-padded row and a masked position inside the other.
static void testAttentionSame(const char* what, int H, int S, int w, int N, int K, AttnLaunch want, AttnLaunch got) {
  const int B = 2;
  std::vector<u16> q(B * N * H), kc(B * K * S * H), vc(B * K * S * H), out(B * N * H), ref(B * N * H);
  for (auto& x : q) x = tobf(gauss(1));
  for (auto& x : kc) x = tobf(gauss(1));
  for (auto& x : vc) x = tobf(gauss(1));
  std::vector<unsigned char> valid(B * S, 1);
  for (int s = 0; s < 5; s++) valid[S + s] = 0;  // row 1 left-padded
  valid[w / 2] = 0;                              // a masked position inside row 0
  want(q.data(), kc.data(), vc.data(), valid.data(), ref.data(), N, K, H, S, &w, nullptr, 0);
  got(q.data(), kc.data(), vc.data(), valid.data(), out.data(), N, K, H, S, &w, nullptr, 0);
  for (int i = 0; i < B * N * H; i++) CHECK(out[i] == ref[i], "%s [%d] %g want %g (H=%d S=%d N=%d K=%d)", what, i, fbf(out[i]), fbf(ref[i]), H, S, N, K);
  printf("ok %s (H=%d S=%d N=%d K=%d)\n", what, H, S, N, K);
}

// testAttentionHeads: the form with QH query heads per block (attention_decode_bf16_hQH, or with w8
// its 8-warp twin _hQHw8: each K and V row read once for them) equals the per-head kernel of the
// same warp count (w16u16, or the 8-warp attention_decode_bf16) bit for bit.
static void testAttentionHeads(int QH, int H, int S, int w, int N, int K, bool w8 = false) {
  const unsigned threads = w8 ? 256 : 512;
  char what[112];
  snprintf(what, sizeof what, "attention_decode_bf16_h%d%s equals the per-head %s kernel", QH, w8 ? "w8" : "", w8 ? "8-warp" : "w16u16");
  testAttentionSame(what, H, S, w, N, K,
                    [&](auto... a) {
                      emuLaunch({2u, unsigned(N)}, threads, 4 * S, [&] {
                        if (w8) attention_decode_bf16(a...);
                        else attention_decode_bf16_w16u16(a...);
                      });
                    },
                    [&](auto... a) {
                      emuLaunch({2u, unsigned(N / QH)}, threads, 4 * QH * S, [&] {
                        if (QH == 2) (w8 ? attention_decode_bf16_h2w8 : attention_decode_bf16_h2)(a...);
                        if (QH == 3) (w8 ? attention_decode_bf16_h3w8 : attention_decode_bf16_h3)(a...);
                        if (QH == 4) (w8 ? attention_decode_bf16_h4w8 : attention_decode_bf16_h4)(a...);
                      });
                    });
}

// testAttentionDeep: the 16-warp form with 16 positions per warp in flight equals the 16-warp form
// bit for bit (H ≤ 128: each warp takes the same positions in the same order).
static void testAttentionDeep(int H, int S, int w) {
  const int N = 6, K = 2;
  testAttentionSame("attention_decode_w16u16 equals the 16-warp form", H, S, w, N, K,
                    [&](auto... a) { emuLaunch({2u, unsigned(N)}, 512, 4 * S, [&] { attention_decode_bf16_w16(a...); }); },
                    [&](auto... a) { emuLaunch({2u, unsigned(N)}, 512, 4 * S, [&] { attention_decode_bf16_w16u16(a...); }); });
}

// copyPrompts sets the prompt entries (positions < P) of every row b of cache c [B, K, S, H] whose
// src[b] is another row: to src[b]'s, as the sampler's prefill leaves them, or to nan when not 0.
static void copyPrompts(std::vector<u16>& c, const int* src, int B, int K, int S, int H, int P, u16 nan) {
  for (int b = 0; b < B; b++)
    if (src[b] != b)
      for (int kh = 0; kh < K; kh++)
        for (int s = 0; s < P; s++)
          for (int i = 0; i < H; i++) c[((b * K + kh) * S + s) * H + i] = nan ? nan : c[((src[b] * K + kh) * S + s) * H + i];
}

// testAttentionShared: a form with shared prompts (src_row, prefix: rows 0–2 hold prompt A, rows
// 3–4 prompt B, prefix positions of each copied from the prompt's first row, as the sampler's
// prefill leaves them) gives its own bits without them; then with the copies' prompt entries
// overwritten by NaN, it must give the same bits again with src_row (it reads them from the first
// row) and NaN without (so the check can fail).
static void testAttentionShared(const char* what, int H, int S, int P, int w, int N, int K, AttnLaunch launch) {
  const int B = 5;
  const int src[B] = {0, 0, 0, 3, 3};
  std::vector<u16> q(B * N * H), kc(B * K * S * H), vc(B * K * S * H), out(B * N * H), ref(B * N * H);
  for (auto& x : q) x = tobf(gauss(1));
  for (auto& x : kc) x = tobf(gauss(1));
  for (auto& x : vc) x = tobf(gauss(1));
  std::vector<unsigned char> valid(B * S, 1);
  for (int b = 3; b < B; b++)
    for (int s = 0; s < 4; s++) valid[b * S + s] = 0;  // prompt B left-padded
  for (int s = P; s < S; s++) valid[1 * S + s] = s % 7 != 3;  // completion positions masked in row 1 only
  copyPrompts(kc, src, B, K, S, H, P, 0), copyPrompts(vc, src, B, K, S, H, P, 0);
  launch(q.data(), kc.data(), vc.data(), valid.data(), ref.data(), N, K, H, S, &w, nullptr, 0);
  launch(q.data(), kc.data(), vc.data(), valid.data(), out.data(), N, K, H, S, &w, src, P);
  for (int i = 0; i < B * N * H; i++) CHECK(out[i] == ref[i], "%s, copied prompts [%d] %g want %g", what, i, fbf(out[i]), fbf(ref[i]));
  copyPrompts(kc, src, B, K, S, H, P, 0x7fc0), copyPrompts(vc, src, B, K, S, H, P, 0x7fc0);
  launch(q.data(), kc.data(), vc.data(), valid.data(), out.data(), N, K, H, S, &w, src, P);
  for (int i = 0; i < B * N * H; i++) CHECK(out[i] == ref[i], "%s, shared prompts [%d] %g want %g", what, i, fbf(out[i]), fbf(ref[i]));
  launch(q.data(), kc.data(), vc.data(), valid.data(), out.data(), N, K, H, S, &w, nullptr, 0);
  CHECK(std::isnan(fbf(out[1 * N * H])), "%s: the copies' NaN prompt entries were not read without src_row", what);
  printf("ok %s with shared prompts (H=%d S=%d P=%d N=%d K=%d)\n", what, H, S, P, N, K);
}

// testAttentionSharedForms runs testAttentionShared on every form the launcher picks.
static void testAttentionSharedForms() {
  const unsigned B = 5;
  testAttentionShared("attention_decode_bf16", 128, 300, 200, 290, 4, 2, [&](auto... a) { emuLaunch({B, 4u}, 256, 4 * 300, [&] { attention_decode_bf16(a...); }); });
  testAttentionShared("attention_decode_bf16 (CUDA-core passes)", 16, 48, 30, 40, 4, 2, [&](auto... a) { emuLaunch({B, 4u}, 256, 4 * 48, [&] { attention_decode_bf16(a...); }); });
  testAttentionShared("attention_decode_bf16_w16", 64, 70, 33, 60, 4, 2, [&](auto... a) { emuLaunch({B, 4u}, 512, 4 * 70, [&] { attention_decode_bf16_w16(a...); }); });
  testAttentionShared("attention_decode_bf16_w16u16", 128, 300, 256, 299, 12, 2, [&](auto... a) { emuLaunch({B, 12u}, 512, 4 * 300, [&] { attention_decode_bf16_w16u16(a...); }); });
  testAttentionShared("attention_decode_bf16_h3w8", 128, 150, 100, 149, 6, 2, [&](auto... a) { emuLaunch({B, 2u}, 256, 4 * 3 * 150, [&] { attention_decode_bf16_h3w8(a...); }); });
  testAttentionShared("attention_decode_bf16_h4", 64, 70, 50, 69, 8, 2, [&](auto... a) { emuLaunch({B, 2u}, 512, 4 * 4 * 70, [&] { attention_decode_bf16_h4(a...); }); });
  testAttentionShared("attention_decode_bf16_h2 (CUDA-core passes)", 16, 48, 20, 47, 4, 2, [&](auto... a) { emuLaunch({B, 2u}, 512, 4 * 2 * 48, [&] { attention_decode_bf16_h2(a...); }); });
  const int S = 150, L = 64, NS = (S + L - 1) / L, N = 4;
  std::vector<float> sc(B * N * S), part(B * N * NS * 128);
  std::vector<unsigned> cnt(B * N, 0);
  testAttentionShared("the split form", 128, S, 100, 140, N, 2, [&](auto... a) {
    emuLaunch({unsigned(N), unsigned(NS), B}, 256, 0, [&] { attention_scores_split_bf16(a..., sc.data(), part.data(), cnt.data(), L); });
    emuLaunch({unsigned(N), unsigned(NS), B}, 256, 0, [&] { attention_out_split_bf16(a..., sc.data(), part.data(), cnt.data(), L); });
  });
}

// testAttentionRows: the form with R rows of one prompt per block (attention_decode_bf16_hQHrRw8)
// equals the heads form _hQHw8 bit for bit: 4R rows in two prompts of 2R rows, the copies' prompt
// entries copied from the prompt's first row; then with those entries NaN, with shared prompts;
// and without shared prompts (every tile per row) on the copied entries.
static void testAttentionRows(int QH, int R, int H, int S, int P, int w, int N, int K) {
  const int B = 4 * R;
  std::vector<int> src(B);
  for (int b = 0; b < B; b++) src[b] = b < 2 * R ? 0 : 2 * R;
  std::vector<u16> q(B * N * H), kc(B * K * S * H), vc(B * K * S * H), out(B * N * H), ref(B * N * H);
  for (auto& x : q) x = tobf(gauss(1));
  for (auto& x : kc) x = tobf(gauss(1));
  for (auto& x : vc) x = tobf(gauss(1));
  std::vector<unsigned char> valid(B * S, 1);
  for (int b = 2 * R; b < B; b++)
    for (int s = 0; s < 5; s++) valid[b * S + s] = 0;  // the second prompt left-padded
  for (int b = 0; b < B; b++)
    for (int s = P; s < S; s++) valid[b * S + s] = (s + b) % 5 != 0;  // completion positions masked here and there
  copyPrompts(kc, src.data(), B, K, S, H, P, 0), copyPrompts(vc, src.data(), B, K, S, H, P, 0);
  auto heads = [&](const int* sr, int pf, u16* o) {
    emuLaunch({unsigned(B), unsigned(N / QH)}, 256, 4 * QH * S, [&] {
      if (QH == 2) attention_decode_bf16_h2w8(q.data(), kc.data(), vc.data(), valid.data(), o, N, K, H, S, &w, sr, pf);
      if (QH == 3) attention_decode_bf16_h3w8(q.data(), kc.data(), vc.data(), valid.data(), o, N, K, H, S, &w, sr, pf);
      if (QH == 4) attention_decode_bf16_h4w8(q.data(), kc.data(), vc.data(), valid.data(), o, N, K, H, S, &w, sr, pf);
    });
  };
  auto rows = [&](const int* sr, int pf, u16* o) {
    emuLaunch({unsigned(B / R), unsigned(N / QH)}, 256, 4 * QH * R * S, [&] {
      if (QH == 2) attention_decode_bf16_h2r4w8(q.data(), kc.data(), vc.data(), valid.data(), o, N, K, H, S, &w, sr, pf);
      if (QH == 3) attention_decode_bf16_h3r2w8(q.data(), kc.data(), vc.data(), valid.data(), o, N, K, H, S, &w, sr, pf);
      if (QH == 4) attention_decode_bf16_h4r2w8(q.data(), kc.data(), vc.data(), valid.data(), o, N, K, H, S, &w, sr, pf);
    });
  };
  char what[96];
  snprintf(what, sizeof what, "attention_decode_bf16_h%dr%dw8 equals _h%dw8", QH, R, QH);
  heads(nullptr, 0, ref.data());
  rows(nullptr, 0, out.data());
  for (int i = 0; i < B * N * H; i++) CHECK(out[i] == ref[i], "%s, no shared prompts [%d] %g want %g", what, i, fbf(out[i]), fbf(ref[i]));
  rows(src.data(), P, out.data());
  for (int i = 0; i < B * N * H; i++) CHECK(out[i] == ref[i], "%s, copied prompts [%d] %g want %g", what, i, fbf(out[i]), fbf(ref[i]));
  copyPrompts(kc, src.data(), B, K, S, H, P, 0x7fc0), copyPrompts(vc, src.data(), B, K, S, H, P, 0x7fc0);
  rows(src.data(), P, out.data());
  for (int i = 0; i < B * N * H; i++) CHECK(out[i] == ref[i], "%s, shared prompts [%d] %g want %g", what, i, fbf(out[i]), fbf(ref[i]));
  printf("ok %s (H=%d S=%d P=%d N=%d K=%d)\n", what, H, S, P, N, K);
}

// testResidualRMSNormLoRA: the norm with the LoRA down-projections fused gives residual_rmsnorm's
// (or rmsnorm's, without a residual) bits for x and the output, and each adapter's u = out·Aᵀ
// within float32 rounding of a double-precision sum, for n adapters of rank r over J blocks per
// row of per outputs each (the last block partly empty when per does not divide n·r).
static void testResidualRMSNormLoRA(int n, int r, int per, bool residual) {
  const int rows = 3, D = 600, J = (n * r + per - 1) / per;
  std::vector<u16> x(rows * D), w(D), out(rows * D, 0), xo(rows * D, 0), x2, out2(rows * D);
  std::vector<float> y(rows * D);
  for (auto& v : x) v = tobf(gauss(1));
  for (auto& v : y) v = gauss(1);
  for (auto& v : w) v = tobf(gauss(1));
  std::vector<float> A[3], u[3];
  for (int m = 0; m < 3; m++) {
    A[m].resize(r * D), u[m].assign(rows * r, -7.f);
    for (auto& a : A[m]) a = gauss(0.05);
  }
  x2 = x;
  emuLaunch({rows, unsigned(J)}, 256, 0, [&] {
    residual_rmsnorm_lora_bf16(x.data(), residual ? y.data() : nullptr, w.data(), xo.data(), out.data(), D, 1e-6f, A[0].data(),
                               A[1].data(), A[2].data(), u[0].data(), u[1].data(), u[2].data(), r, n, per);
  });
  if (residual) {
    emuLaunch({rows}, 256, 0, [&] { residual_rmsnorm_bf16(x2.data(), y.data(), w.data(), out2.data(), D, 1e-6f); });
  } else {
    emuLaunch({rows}, 256, 0, [&] { rmsnorm_bf16(x2.data(), w.data(), out2.data(), D, 1e-6f); });
  }
  for (int i = 0; i < rows * D; i++) {
    if (residual) CHECK(xo[i] == x2[i], "residual_rmsnorm_lora x[%d] %g want %g", i, fbf(xo[i]), fbf(x2[i]));
    CHECK(out[i] == out2[i], "residual_rmsnorm_lora out[%d] %g want %g", i, fbf(out[i]), fbf(out2[i]));
  }
  if (!residual)
    for (int i = 0; i < rows * D; i++) CHECK(xo[i] == 0, "residual_rmsnorm_lora wrote x without a residual");
  for (int m = 0; m < 3; m++)
    for (int b = 0; b < rows; b++)
      for (int j = 0; j < r; j++) {
        if (m >= n) {
          CHECK(u[m][b * r + j] == -7.f, "residual_rmsnorm_lora wrote adapter %d of %d", m, n);
          continue;
        }
        double ref = 0, mag = 0;
        for (int i = 0; i < D; i++) ref += double(fbf(out2[b * D + i])) * A[m][j * D + i], mag += std::fabs(double(fbf(out2[b * D + i])) * A[m][j * D + i]);
        CHECK(std::fabs(u[m][b * r + j] - ref) <= 1e-5 * mag + 1e-6, "residual_rmsnorm_lora adapter %d [%d,%d] %g want %g", m, b, j, u[m][b * r + j], ref);
      }
  printf("ok residual_rmsnorm_lora (n=%d r=%d per=%d residual=%d)\n", n, r, per, residual);
}

// testRMSNormLoRARegs: each one-pass form (residual_rmsnorm_lora_bf16_e<E>) writes the general
// kernel's bits for xo, out and every u, on rows that fill its E·256 elements, leave some unused,
// or are shorter than a thread per element; with and without a residual.
static void testRMSNormLoRARegs() {
  using K = void (*)(const u16*, const float*, const u16*, u16*, u16*, int, float, const float*, const float*, const float*,
                     float*, float*, float*, int, int, int);
  const std::pair<int, K> forms[] = {{4, residual_rmsnorm_lora_bf16_e4},   {8, residual_rmsnorm_lora_bf16_e8},
                                     {12, residual_rmsnorm_lora_bf16_e12}, {16, residual_rmsnorm_lora_bf16_e16},
                                     {20, residual_rmsnorm_lora_bf16_e20}, {24, residual_rmsnorm_lora_bf16_e24}};
  const int rows = 2;
  for (auto [E, kernel] : forms)
    for (int D : {E * 256, E * 256 - 200, 100})
      for (int n : {1, 3})
        for (bool residual : {true, false}) {
          const int r = n == 1 ? 16 : 5, per = n == 1 ? 1 : 4, J = (n * r + per - 1) / per;
          std::vector<u16> x(rows * D), w(D);
          std::vector<float> y(rows * D);
          for (auto& v : x) v = tobf(gauss(1));
          for (auto& v : y) v = gauss(1);
          for (auto& v : w) v = tobf(gauss(1));
          std::vector<float> A[3];
          for (auto& a : A) {
            a.resize(r * D);
            for (auto& v : a) v = gauss(0.05);
          }
          std::vector<u16> xo[2], out[2];
          std::vector<float> u[2][3];
          for (int f = 0; f < 2; f++) {
            xo[f].assign(rows * D, 0), out[f].assign(rows * D, 0);
            for (auto& v : u[f]) v.assign(rows * r, -7.f);
            emuLaunch({rows, unsigned(J)}, 256, 0, [&] {
              (f == 0 ? kernel : residual_rmsnorm_lora_bf16)(x.data(), residual ? y.data() : nullptr, w.data(), xo[f].data(),
                                                            out[f].data(), D, 1e-6f, A[0].data(), A[1].data(), A[2].data(),
                                                            u[f][0].data(), u[f][1].data(), u[f][2].data(), r, n, per);
            });
          }
          CHECK(xo[0] == xo[1] && out[0] == out[1], "residual_rmsnorm_lora_bf16_e%d (D=%d n=%d residual=%d): x or out differ", E, D,
                n, residual);
          for (int m = 0; m < 3; m++)
            CHECK(memcmp(u[0][m].data(), u[1][m].data(), 4 * rows * r) == 0,
                  "residual_rmsnorm_lora_bf16_e%d (D=%d n=%d residual=%d): adapter %d's u differs", E, D, n, residual, m);
        }
  printf("ok residual_rmsnorm_lora one-pass forms (equal the general kernel's bits)\n");
}

// testSwiGLULoRA: swiglu with the down projection's LoRA down-projection fused gives swiglu_bf16's
// act bits and ud = act·Aᵀ within float32 rounding of a double-precision sum, with gate and up in
// separate buffers (stride F) or Phi-3's halves of one row (stride 2F).
static void testSwiGLULoRA(int r, int per, bool fused) {
  const int B = 3, F = 700, stride = fused ? 2 * F : F, J = (r + per - 1) / per;
  std::vector<float> g(B * stride), u(B * stride), A(r * F), ud(B * r, -7.f);
  for (auto& v : g) v = gauss(2);
  for (auto& v : u) v = gauss(2);
  for (auto& v : A) v = gauss(0.05);
  const float* gp = g.data();
  const float* up = fused ? g.data() + F : u.data();
  std::vector<u16> act(B * F, 0), act2(B * F);
  emuLaunch({B, unsigned(J)}, 512, 0, [&] { swiglu_lora_bf16(gp, up, act.data(), F, stride, A.data(), ud.data(), r, per); });
  emuLaunch({unsigned((B * F + 255) / 256)}, 256, 0, [&] { swiglu_bf16(gp, up, act2.data(), B, F, stride); });
  for (int i = 0; i < B * F; i++) CHECK(act[i] == act2[i], "swiglu_lora act[%d] %g want %g", i, fbf(act[i]), fbf(act2[i]));
  for (int b = 0; b < B; b++)
    for (int j = 0; j < r; j++) {
      double ref = 0, mag = 0;
      for (int i = 0; i < F; i++) ref += double(fbf(act2[b * F + i])) * A[j * F + i], mag += std::fabs(double(fbf(act2[b * F + i])) * A[j * F + i]);
      CHECK(std::fabs(ud[b * r + j] - ref) <= 1e-5 * mag + 1e-6, "swiglu_lora u[%d,%d] %g want %g", b, j, ud[b * r + j], ref);
    }
  printf("ok swiglu_lora (r=%d per=%d stride=%d)\n", r, per, stride);
}

static void testElementwise() {
  const int B = 3, D = 40, V = 10, F = 24;
  std::vector<u16> E(V * D), x(B * D);
  for (auto& e : E) e = tobf(gauss(1));
  std::vector<int> ids = {7, 0, 9};
  emuLaunch({unsigned((B * D + 255) / 256)}, 256, 0, [&] { embed_rows_bf16(ids.data(), E.data(), x.data(), B, D); });
  for (int b = 0; b < B; b++)
    for (int i = 0; i < D; i++) CHECK(x[b * D + i] == E[ids[b] * D + i], "embed");
  std::vector<float> y(B * D);
  for (auto& v : y) v = gauss(1);
  auto x0 = x;
  emuLaunch({1}, 256, 0, [&] { residual_add_bf16(x.data(), y.data(), B * D); });
  for (int i = 0; i < B * D; i++) CHECK(x[i] == tobf(fbf(x0[i]) + bf(y[i])), "residual");
  std::vector<float> gu(B * 2 * F);
  for (auto& v : gu) v = gauss(2);
  std::vector<u16> act(B * F);
  emuLaunch({1}, 256, 0, [&] { swiglu_bf16(gu.data(), gu.data() + F, act.data(), B, F, 2 * F); });
  for (int b = 0; b < B; b++)
    for (int i = 0; i < F; i++) {
      float g = bf(gu[b * 2 * F + i]), u = bf(gu[b * 2 * F + F + i]);
      float want = bf(bf(g * bf(1 / (1 + std::exp(-g)))) * u);
      CHECK(std::fabs(fbf(act[b * F + i]) - want) <= 0.008 * std::fabs(want) + 1e-6, "swiglu");
    }
  printf("ok elementwise (embed, residual, swiglu strided)\n");
}

// grid_barrier (kernels/grid_barrier.cuh) through grid_chain_u32, blocks running at once: the
// result after each number of phases must be the host's recurrence. Without the barrier (or with
// a block let through early) a block reads elements of the previous phase that others have not
// written yet. The barrier's state must be back at count 0 after every launch.
static void testGridBarrier(unsigned blocks, unsigned threads, int n, int phases) {
  unsigned* x = static_cast<unsigned*>(emuSharedAlloc(4 * n));
  unsigned* y = static_cast<unsigned*>(emuSharedAlloc(4 * n));
  unsigned* bar = static_cast<unsigned*>(emuSharedAlloc(8));
  std::vector<unsigned> want(n), next(n);
  for (int i = 0; i < n; i++) x[i] = want[i] = unsigned(rng());
  CHECK(emuLaunchConcurrent({blocks}, threads, 0, [&] { grid_chain_u32(x, y, n, phases, bar); }), "a block's process failed");
  for (int p = 0; p < phases; p++) {
    for (int i = 0; i < n; i++) next[i] = 3u * want[i] + want[(i + 1) % n] + want[(i + n / 2) % n];
    std::swap(want, next);
  }
  const unsigned* got = phases % 2 == 0 ? x : y;
  for (int i = 0; i < n; i++) CHECK(got[i] == want[i], "grid_chain_u32 (%u blocks, n=%d, %d phases) element %d: %u, want %u", blocks, n, phases, i, got[i], want[i]);
  CHECK(bar[0] == 0 && bar[1] == unsigned(phases), "barrier state (%u, %u), want (0, %d)", bar[0], bar[1], phases);
  CHECK(emuLaunchConcurrent({blocks}, threads, 0, [&] { grid_barrier_loop(bar, 3); }), "a block's process failed");
  CHECK(bar[0] == 0 && bar[1] == unsigned(phases + 3), "barrier state after 3 more (%u, %u)", bar[0], bar[1]);
  printf("ok grid barrier (%u blocks of %u threads, n=%d, %d phases)\n", blocks, threads, n, phases);
}

// emuShared returns n zeroed Ts in memory shared with emuLaunchConcurrent's block processes.
template <class T>
static T* emuShared(size_t n) {
  return static_cast<T*>(emuSharedAlloc(n * sizeof(T)));
}

// testDecodeMLP: decode_mlp_n8 (kernels/decode_mlp.cu), the MLP half of a layer in one
// cooperative launch, blocks running at once: xo and h must be residual_rmsnorm_bf16's bits; g and
// u the double-precision products of h with the bf16-rounded weights (plus, with adapters of rank
// r, s·(h·Aᵀ)·Bᵀ); a swiglu_bf16's formula on the kernel's own g and u, bit for bit; y the product
// of a with Wd (plus its adapter's term); the split-K counters and LoRA counts back at 0 and the
// LoRA flag at ~generation. Shapes: D and F ragged against the 128-input chunks, phase 2 split Z
// ways, fewer blocks than phase 2's tasks (blocks then take several). Each case launches twice on
// one barrier state, the second time with other adapters: a flag left by the first launch must not
// let the second's epilogues read the first's down-projections. With adapters, u_g and u_u must be
// residual_rmsnorm_lora_bf16's bits. With next (phase 3: the norm after this residual add, feeding
// n2 adapters of rank r2), xo2, h2 and the u2 must be residual_rmsnorm_lora_bf16's bits (or
// residual_rmsnorm_bf16's, n2 = 0) on the kernel's own y, and its counts back at 0. With NH > 0
// (phase O: ya computed first as attn·W_oᵀ, with an adapter of rank ro, over Zo splits of NH),
// ya must be the double-precision product within rounding; the rest is checked on that ya.
static void testDecodeMLP(int B, int D, int F, int Z, unsigned blocks, bool residual, bool dq, int r = 0, bool next = false, int n2 = 0, int r2 = 0,
                          int NH = 0, int Zo = 1, int ro = 0) {
  MMAWeights wg(F, D, dq), wu(F, D, dq), wd(D, F, dq), wo(D, std::max(NH, 64), dq);
  std::vector<u16> x(B * D), wn(D), attn(B * std::max(NH, 1));
  float* yav = emuShared<float>(B * D);  // ya: an input, or phase O's output
  for (auto& v : x) v = tobf(gauss(1));
  for (int i = 0; i < B * D; i++) yav[i] = gauss(1);
  for (auto& v : wn) v = tobf(1 + gauss(0.1));
  for (auto& v : attn) v = tobf(gauss(1));
  std::vector<float> Ao(std::max(ro, 1) * std::max(NH, 1)), Bo(D * std::max(ro, 1));
  for (auto& v : Ao) v = gauss(0.05);
  for (auto& v : Bo) v = gauss(0.05);
  const float eps = 1e-6f, sg = 0.5f, su = 2.f, sd = 1.25f, so = 0.75f;
  const int chunks1 = (D + 127) / 128, chunks2 = (F + 127) / 128, per2 = (chunks2 + Z - 1) / Z;
  const int chunksO = (NH + 127) / 128, perO = NH > 0 ? (chunksO + Zo - 1) / Zo : 0;
  const int stride = 16 * std::max({chunks1, per2, perO}) + 1, groups = (D + 63) / 64;
  u16 *xo = emuShared<u16>(B * D), *h = emuShared<u16>(B * D), *act = emuShared<u16>(B * F);
  float *g = emuShared<float>(B * F), *u = emuShared<float>(B * F), *y = emuShared<float>(B * D);
  float* ws = emuShared<float>((size_t)groups * 4 * Z * 32 * 4 + (Z + 3) * 8 * r + (size_t)groups * 4 * Zo * 32 * 4 + 8 * ro);
  unsigned *cnt = emuShared<unsigned>(groups * 8), *bar = emuShared<unsigned>(8);
  std::vector<float> Ag(r * D), Bg(F * r), Au(r * D), Bu(F * r), Ad(r * F), Bd(D * r);
  std::vector<u16> wn2(D);
  for (auto& v : wn2) v = tobf(1 + gauss(0.1));
  std::vector<float> A2[3];
  float* u2[3];
  for (int m = 0; m < 3; m++) {
    A2[m].resize(std::max(r2, 1) * D);
    for (auto& a : A2[m]) a = gauss(0.05);
    u2[m] = emuShared<float>(B * std::max(r2, 1));
  }
  u16 *xo2 = emuShared<u16>(B * D), *h2 = emuShared<u16>(B * D);
  for (int launch = 0; launch < (r > 0 ? 2 : 1); launch++) {
    for (auto* v : {&Ag, &Bg, &Au, &Bu, &Ad, &Bd})
      for (auto& e : *v) e = gauss(0.05);
    for (int i = 0; i < B * F; i++) act[i] = 0xffff;  // NaN until written
    const unsigned gen = bar[1];
#define MLP_MAT(w) (const unsigned*)w.q.packed.data(), dq ? nullptr : w.q.absmax.data(), w.d.aq.data(), w.d.code2.data(), w.d.absmax2.data(), w.d.offset
    CHECK(emuLaunchConcurrent({blocks}, 128, 8 * stride * 16, [&] {
            decode_mlp_n8(x.data(), residual ? yav : nullptr, wn.data(), eps, xo, h, MLP_MAT(wg), MLP_MAT(wu), MLP_MAT(wd), g, u, act, y, B, D, F, Z, ws, cnt, bar,
                          Ag.data(), Bg.data(), sg, Au.data(), Bu.data(), su, Ad.data(), Bd.data(), sd, r,
                          next ? wn2.data() : nullptr, xo2, h2, A2[0].data(), A2[1].data(), A2[2].data(), u2[0], u2[1], u2[2], r2, n2,
                          NH > 0 ? attn.data() : nullptr, MLP_MAT(wo), Ao.data(), Bo.data(), so, ro, NH, Zo);
          }), "a block's process failed");
#undef MLP_MAT
    if (NH > 0) {  // phase O against double precision
      for (int b = 0; b < B; b++)
        for (int o = 0; o < D; o++) {
          double ref = 0, mag = 0;
          for (int k = 0; k < NH; k++) {
            const double p = double(fbf(attn[b * NH + k])) * wo.wf[(size_t)o * NH + k];
            ref += p, mag += std::fabs(p);
          }
          for (int j = 0; j < ro; j++) {
            double uj = 0, um = 0;
            for (int k = 0; k < NH; k++) {
              const double p = double(fbf(attn[b * NH + k])) * Ao[(size_t)j * NH + k];
              uj += p, um += std::fabs(p);
            }
            ref += so * uj * Bo[(size_t)o * ro + j], mag += std::fabs(so) * um * std::fabs(Bo[(size_t)o * ro + j]);
          }
          CHECK(std::fabs(yav[b * D + o] - ref) <= 1e-5 * mag + 1e-6, "decode_mlp phase O ya[%d,%d] %g want %g", b, o, yav[b * D + o], ref);
        }
      for (int i = groups * 4; i < groups * 8; i++) CHECK(cnt[i] == 0, "decode_mlp phase O split-K counter %d left at %u", i - groups * 4, cnt[i]);
      CHECK(bar[7] == 0, "decode_mlp phase O LoRA count left at %u", bar[7]);
    }
    const std::vector<float> ya(yav, yav + B * D);
    // The norm: residual_rmsnorm_bf16 (or rmsnorm_bf16) on a copy.
    std::vector<u16> xr = x, hr(B * D);
    if (residual)
      emuLaunch({unsigned(B)}, 256, 0, [&] { residual_rmsnorm_bf16(xr.data(), ya.data(), wn.data(), hr.data(), D, eps); });
    else
      emuLaunch({unsigned(B)}, 256, 0, [&] { rmsnorm_bf16(xr.data(), wn.data(), hr.data(), D, eps); });
    for (int i = 0; i < B * D; i++) {
      if (residual) CHECK(xo[i] == xr[i], "decode_mlp xo[%d] %04x, want %04x", i, xo[i], xr[i]);
      CHECK(h[i] == hr[i], "decode_mlp h[%d] %04x, want %04x", i, h[i], hr[i]);
    }
    auto product = [](const float* in, const float* wf, int b, int o, int K, double& mag) {
      double ref = 0;
      for (int k = 0; k < K; k++) {
        const double p = double(in[(size_t)b * K + k]) * wf[(size_t)o * K + k];
        ref += p, mag += std::fabs(p);
      }
      return ref;
    };
    // lora: s·(in·Aᵀ)·Bᵀ for row b, output o, with its magnitude.
    auto lora = [&](const float* in, const std::vector<float>& A, const std::vector<float>& Bm, float s, int b, int o, int K, double& mag) {
      double l = 0, lm = 0;
      for (int j = 0; j < r; j++) {
        double um = 0;
        const double uj = product(in, A.data(), b, j, K, um);
        l += uj * Bm[(size_t)o * r + j], lm += um * std::fabs(Bm[(size_t)o * r + j]);
      }
      mag += std::fabs(s) * lm;
      return s * l;
    };
    std::vector<float> hf(B * D), af(B * F);
    for (int i = 0; i < B * D; i++) hf[i] = fbf(hr[i]);
    for (int b = 0; b < B; b++)
      for (int o = 0; o < F; o++) {
        double mag = 0;
        const double rg = product(hf.data(), wg.wf.data(), b, o, D, mag) + lora(hf.data(), Ag, Bg, sg, b, o, D, mag);
        CHECK(std::fabs(g[b * F + o] - rg) <= 1e-5 * mag + 1e-6, "decode_mlp g[%d,%d] %g want %g (r=%d, launch %d)", b, o, g[b * F + o], rg, r, launch);
        mag = 0;
        const double ru = product(hf.data(), wu.wf.data(), b, o, D, mag) + lora(hf.data(), Au, Bu, su, b, o, D, mag);
        CHECK(std::fabs(u[b * F + o] - ru) <= 1e-5 * mag + 1e-6, "decode_mlp u[%d,%d] %g want %g (r=%d, launch %d)", b, o, u[b * F + o], ru, r, launch);
        const float gv = bf(g[b * F + o]);
        const float silu = bf(gv * bf(1.f / (1.f + expf(-gv))));
        const u16 want = tobf(silu * bf(u[b * F + o]));
        CHECK(act[b * F + o] == want, "decode_mlp a[%d,%d] %04x, want %04x", b, o, act[b * F + o], want);
        af[b * F + o] = fbf(want);
      }
    for (int b = 0; b < B; b++)
      for (int o = 0; o < D; o++) {
        double mag = 0;
        const double ry = product(af.data(), wd.wf.data(), b, o, F, mag) + lora(af.data(), Ad, Bd, sd, b, o, F, mag);
        CHECK(std::fabs(y[b * D + o] - ry) <= 1e-5 * mag + 1e-6, "decode_mlp y[%d,%d] %g want %g (r=%d, launch %d)", b, o, y[b * D + o], ry, r, launch);
      }
    for (int i = 0; i < groups * 4; i++) CHECK(cnt[i] == 0, "decode_mlp split-K counter %d left at %u", i, cnt[i]);
    const unsigned barriers = NH > 0 ? 2 : 1;
    CHECK(bar[0] == 0 && bar[1] == gen + barriers && bar[2] == 0 && bar[3] == 0, "decode_mlp barrier state (%u, %u, %u, %u), want (0, %u, 0, 0)", bar[0], bar[1], bar[2], bar[3], gen + barriers);
    if (r > 0) CHECK(bar[4] == ~gen, "decode_mlp LoRA flag %08x, want %08x", bar[4], ~gen);
    if (r > 0) {  // u_g, u_u: the fused norm's bits
      const float* lu = ws + (size_t)groups * 4 * Z * 32 * 4 + Z * 8 * r;
      std::vector<u16> xn(B * D), hn(B * D);
      std::vector<float> ug(B * r, -7.f), uu(B * r, -7.f), un(B * r);
      emuLaunch({unsigned(B), unsigned((2 * r + 3) / 4)}, 256, 0, [&] {
        residual_rmsnorm_lora_bf16(x.data(), residual ? ya.data() : nullptr, wn.data(), xn.data(), hn.data(), D, eps, Ag.data(), Au.data(),
                                   Au.data(), ug.data(), uu.data(), un.data(), r, 2, 4);
      });
      for (int b = 0; b < B; b++)
        for (int j = 0; j < r; j++) {
          CHECK(lu[b * r + j] == ug[b * r + j], "decode_mlp u_g[%d,%d] %g, the fused norm's %g", b, j, lu[b * r + j], ug[b * r + j]);
          CHECK(lu[(8 + b) * r + j] == uu[b * r + j], "decode_mlp u_u[%d,%d] %g, the fused norm's %g", b, j, lu[(8 + b) * r + j], uu[b * r + j]);
        }
    }
    if (next) {  // phase 3 against the norm kernels on (xo, y)
      std::vector<u16> xin(residual ? std::vector<u16>(xo, xo + B * D) : x), xr2(B * D), hr2(B * D);
      std::vector<float> yv(y, y + B * D), ur[3];
      if (n2 > 0) {
        for (int m = 0; m < 3; m++) ur[m].assign(B * r2, -7.f);
        emuLaunch({unsigned(B), unsigned((n2 * r2 + 3) / 4)}, 256, 0, [&] {
          residual_rmsnorm_lora_bf16(xin.data(), yv.data(), wn2.data(), xr2.data(), hr2.data(), D, eps, A2[0].data(), A2[1].data(),
                                     A2[2].data(), ur[0].data(), ur[1].data(), ur[2].data(), r2, n2, 4);
        });
      } else {
        xr2 = xin;
        emuLaunch({unsigned(B)}, 256, 0, [&] { residual_rmsnorm_bf16(xr2.data(), yv.data(), wn2.data(), hr2.data(), D, eps); });
      }
      for (int i = 0; i < B * D; i++) {
        CHECK(xo2[i] == xr2[i], "decode_mlp xo2[%d] %04x, want %04x", i, xo2[i], xr2[i]);
        CHECK(h2[i] == hr2[i], "decode_mlp h2[%d] %04x, want %04x", i, h2[i], hr2[i]);
      }
      for (int m = 0; m < n2; m++)
        for (int i = 0; i < B * r2; i++) CHECK(u2[m][i] == ur[m][i], "decode_mlp u2[%d][%d] %g, want %g", m, i, u2[m][i], ur[m][i]);
      CHECK(bar[5] == 0 && bar[6] == 0, "decode_mlp phase-3 counts (%u, %u), want (0, 0)", bar[5], bar[6]);
    }
  }
  printf("ok decode_mlp_n8 (B=%d D=%d F=%d Z=%d blocks=%u%s%s r=%d", B, D, F, Z, blocks, residual ? " residual" : "", dq ? " double quant" : "", r);
  if (next) printf(", next norm with %d adapters of rank %d", n2, r2);
  if (NH > 0) printf(", o projection NH=%d Zo=%d ro=%d", NH, Zo, ro);
  printf(")\n");
}

// Sort-based reference of the warpers (gomlxgrpo/sample/device.go's Warp) and the Gumbel draw.
static unsigned lowbias32(unsigned x) {
  x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15; x *= 0x846ca68bu; x ^= x >> 16;
  return x;
}
static float uniform01(unsigned k1, unsigned k2, int step, int v) {
  unsigned x = lowbias32(lowbias32(lowbias32((unsigned)v * 0x9E3779B9u ^ k1) ^ k2) ^ ((unsigned)step + 1u) * 0x85EBCA6Bu);
  return ((float)(x >> 9) + 0.5f) * (1.0f / 8388608.0f);  // < 1 in float32 (see gomlxgrpo/sample/device.go)
}

static void testSample() {
  const int B = 3, V = 3000;
  std::vector<float> logits(B * V);
  for (auto& l : logits) l = gauss(2);
  std::vector<unsigned> k1 = {1, 22, 333}, k2 = {4, 55, 666};
  struct P { int greedy; float t; int k; float p, minp; };
  for (P p : {P{1, 1, 0, 1, 0}, P{0, 1, 0, 1, 0}, P{0, 0.7f, 50, 1, 0}, P{0, 1, 0, 0.9f, 0}, P{0, 1.1f, 200, 0.8f, 0.02f}, P{0, 1, 0, 1, 0.1f}}) {
    std::vector<int> tok(B);
    std::vector<float> lp(B);
    int step = 17;
    emuLaunch({B}, 1024, 0, [&] { sample_rows(logits.data(), V, k1.data(), k2.data(), &step, p.t, p.k, p.p, p.minp, p.greedy, tok.data(), lp.data()); });
    for (int b = 0; b < B; b++) {
      std::vector<float> x(V);
      for (int v = 0; v < V; v++) x[v] = p.greedy ? logits[b * V + v] : logits[b * V + v] / p.t;
      std::vector<float> s(x);
      std::sort(s.begin(), s.end(), std::greater<float>());
      float lo = -INFINITY;
      if (!p.greedy && p.k > 0) lo = s[p.k - 1];
      if (!p.greedy && p.p < 1) {
        double z = 0;
        for (float v : s) if (v >= lo) z += std::exp(v - s[0]);
        double before = 0;
        float cut = s[0];
        for (float v : s) {
          if (v < lo || before / z >= p.p) break;
          cut = v;
          before += std::exp(v - s[0]);
        }
        lo = std::max(lo, cut);
      }
      if (!p.greedy && p.minp > 0) lo = std::max(lo, s[0] + logf(p.minp));
      int best = -1;
      float bs = -INFINITY;
      double lsum = 0;
      for (int v = 0; v < V; v++) {
        if (x[v] < lo) continue;
        lsum += std::exp(double(x[v]) - s[0]);
        float sc = p.greedy ? x[v] : x[v] - logf(-logf(uniform01(k1[b], k2[b], step, v)));
        if (sc > bs) bs = sc, best = v;
      }
      double wantLP = x[best] - s[0] - std::log(lsum);
      CHECK(tok[b] == best, "sample greedy=%d t=%g k=%d p=%g minp=%g row %d: kernel %d, reference %d", p.greedy, p.t, p.k, p.p, p.minp, b, tok[b], best);
      CHECK(std::fabs(lp[b] - wantLP) < 1e-4, "sample logp row %d: %g want %g", b, lp[b], wantLP);
    }
  }
  printf("ok sample_rows\n");
}

// testSampleSplit: the split sampler (sample_max_split + sample_draw_split, S blocks per row) draws
// the token sample_rows draws and its log-prob within float rounding of the normalizer's sum, for
// greedy, plain and min-p draws, slice counts that divide the vocabulary or not, an empty last
// slice (9 entries in 4 slices of 3), ties in the logits, and leaves its counters at zero.
static void testSampleSplit() {
  const int B = 4;
  std::vector<unsigned> k1 = {1, 22, 333, 4444}, k2 = {4, 55, 666, 7777};
  struct P { int greedy; float t, minp; };
  struct VS { int V; std::vector<int> slices; };
  for (const VS& vs : {VS{3001, {1, 3, 7}}, VS{9, {4}}}) {
    const int V = vs.V;
    std::vector<float> logits(B * V);
    for (auto& l : logits) l = gauss(2);
    if (V > 2000) {
      for (int v = 0; v < V; v += 7) logits[2 * V + v] = 1.5f;  // row 2: many equal logits (greedy ties: lowest index)
      logits[2 * V + 1000] = logits[2 * V + 2000] = 9.f;
    }
    for (P p : {P{1, 1, 0}, P{0, 1, 0}, P{0, 0.7f, 0.05f}, P{0, 1.3f, 0.2f}}) {
      for (int S : vs.slices) {
        std::vector<int> tok(B), want(B);
        std::vector<float> lp(B), wantLP(B), part(4 * B * S, -3.f);
        std::vector<unsigned> cnt(B, 0);
        int step = 23;
        emuLaunch({B}, 1024, 0, [&] { sample_rows(logits.data(), V, k1.data(), k2.data(), &step, p.t, 0, 1, p.minp, p.greedy, want.data(), wantLP.data()); });
        emuLaunch(dim3{unsigned(S), unsigned(B)}, 1024, 0, [&] { sample_max_split(logits.data(), V, p.t, p.greedy, part.data()); });
        emuLaunch(dim3{unsigned(S), unsigned(B)}, 1024, 0, [&] { sample_draw_split(logits.data(), V, k1.data(), k2.data(), &step, p.t, p.minp, p.greedy, part.data(), cnt.data(), tok.data(), lp.data()); });
        for (int b = 0; b < B; b++) {
          CHECK(tok[b] == want[b], "sample split greedy=%d t=%g minp=%g V=%d S=%d row %d: %d, sample_rows %d", p.greedy, p.t, p.minp, V, S, b, tok[b], want[b]);
          CHECK(std::fabs(lp[b] - wantLP[b]) <= 1e-5f * std::max(1.f, std::fabs(wantLP[b])), "sample split V=%d S=%d row %d: log-prob %g, sample_rows %g", V, S, b, lp[b], wantLP[b]);
          CHECK(cnt[b] == 0, "sample split S=%d: counter %d left at %u", S, b, cnt[b]);
        }
      }
    }
  }
  printf("ok sample split (equals sample_rows)\n");
}

int main() {
  testDequant();
  // in = 136: the 4-byte loop only; 1280 and 2080: 16-byte loads, several steps per lane.
  // Rows 37: the 32-row kernels over two launch rows; 5: the 8-row ones.
  for (int in : {136, 1280}) {
    testGEMV(true, false, in, 37);
    testGEMV(true, true, in, 37);
  }
  testGEMV(true, false, 1280, 5);
  testGEMV(true, true, 136, 5);
  testGEMV(true, false, 1280, 8, 37);  // 37 output rows: the last warp's 4 rows run past the end
  testGEMV(false, false, 136, 3, 37);
  testGEMV(true, false, 1280, 8, 24);  // out < 32: one row per warp
  testGEMV(false, false, 2080, 4, 24);
  testGEMV(false, false, 136, 37);
  testGEMV(false, false, 2080, 37);
  testGEMV(false, false, 2080, 5);
  testMMA(false, 5, 40, 320);   // 5 inputs chunks: the 4 warps' split is uneven; 40 rows: a ragged tile
  testMMA(true, 8, 32, 256);
  testMMA(false, 37, 24, 128);  // the 64-row form, 37 of 64 rows
  testMMA(false, 5, 40, 1344, 3);  // split-K: 11 chunks over 3 blocks (4, 4, 3), a 64-input tail
  testMMA(true, 37, 24, 1088, 2);  // split-K, 64-row form, tail
  testMMA(false, 8, 16, 320, 4);   // 3 chunks over 4 blocks: the last block has none
  testMMA(false, 3, 24, 2496, 1);  // 5 chunks per warp: the load ring (4 deep) wraps; a tail
  testMMA(true, 8, 16, 2560, 2);   // 20 chunks over 2 blocks
  testMMAGroup(5, {40, 16, 24}, 320, 1);    // q/k/v-like: three heights, ragged tiles
  testMMAGroup(8, {48, 32}, 1344, 3, 16);   // gate/up-like: two matrices, split-K with a tail, rank 16
  testMMAGroup(3, {16, 16, 40}, 2496, 2);   // the load ring wraps
  testMMAN8W(false, 5, 40, 320, 1);          // 40 of 64 output rows: warps 2 and 3 past the end
  testMMAN8W(true, 8, 200, 1344, 3);         // 11 chunks over 3 blocks, a 64-input tail; 4 blocks, the last ragged
  testMMAN8W(false, 3, 64, 2496, 2, 16);     // 10 chunks per warp: the load ring wraps; rank 16
  testMMAN8W(false, 8, 16, 320, 4);          // 3 chunks over 4 blocks: the last block has none
  testMMAN8W(false, 8, 40, 1408, 11);        // 11 splits: the finish's loads 8 splits at a time, then 3
  testMMA(false, 6, 24, 2304, 9, 16);        // 9 splits (18 chunks: 2 per block, warps 2 and 3 idle)
  testMMAGroup(5, {40, 16, 24}, 320, 1, 3, true);    // every matrix within one block of 64 rows
  testMMAGroup(8, {130, 64}, 1344, 3, 16, true);     // a ragged block, split-K with a tail
  testMMAStaged(false, 37, 40, 640, 1);   // 10 chunks: the stage ring (4) and the code ring (4) wrap; 40 of 64 rows, 37 of 64
  testMMAStaged(true, 64, 150, 640, 3);   // 10 chunks over 3 blocks (4, 4, 2); two row blocks, the second ragged
  testMMAStaged(false, 70, 16, 128, 4);   // two x-row blocks; 2 chunks over 4 blocks: two have none
  testMMAStaged(false, 64, 130, 1472, 2, 16);  // 23 chunks over 2 blocks (12, 11), rank 16
  testMMAGroup(64, {72, 16, 24}, 640, 2);      // s64g: q/k/v-like, ragged blocks of 64 rows, split-K
  testMMAGroup(37, {130, 64}, 384, 1, 16);     // s64g: gate/up-like, unsplit, rank 16
  testMMAGroup(70, {40, 24, 8}, 192, 3);       // s64g: two x-row blocks, 3 chunks over 3 blocks
  testMMA(false, 8, 40, 640, 2, 16);      // rank 16: the LoRA term 4 at a time
  testMMA(true, 37, 24, 256, 1, 8);
  testMMABF16(3, 40, 320);
  testMMABF16(64, 17, 192);
  testMMABF16(3, 40, 640, 3);
  testMMABF16(64, 17, 384, 2);
  testMMABF16(37, 40, 640, 1);         // 10 chunks: the stage ring (4) and the weight ring (2) wrap; 40 of 64 rows, 37 of 64
  testMMABF16(64, 150, 640, 3, 16);    // 10 chunks over 3 blocks (4, 4, 2); two output blocks, the second ragged; rank 16
  testMMABF16(70, 16, 192, 4, 0);      // two x-row blocks; 3 chunks over 4 blocks: one has none; no adapter
  testRMSNorm();
  testResidualRMSNorm();
  testSwiGLULoRA(16, 1, false);
  testSwiGLULoRA(5, 4, true);  // 2 blocks per row, the second with 1 output
  testResidualRMSNormLoRA(3, 5, 4, true);   // 15 outputs over 4 blocks, the last with 3
  testResidualRMSNormLoRA(2, 8, 1, true);
  testResidualRMSNormLoRA(1, 16, 3, false);  // the first layer's input norm (no residual), Phi-3's one qkv adapter
  testRMSNormLoRARegs();
  testRope(false);
  testRope(true);
  testAttention(16, 48, 30);  // positions after w are flagged valid: only s ≤ w counts
  testAttention(128, 150, 149);
  testAttention(256, 70, 20);
  testAttention(8, 9, 8);
  testAttention(64, 70, 40);  // H = 64 on tensor cores (attn_scores_mma, attn_out_mma)
  testAttention(64, 70, 40, true);
  testAttention(16, 48, 30, true);
  testAttention(128, 300, 299, true);  // more positions than the 16 warps' first UNROLL sweep (128)
  testAttention(256, 70, 20, true);
  testAttention(16, 48, 30, false, 64);     // one slice
  testAttention(128, 150, 149, false, 64);  // 3 slices, the last partial
  testAttention(256, 70, 20, false, 64);    // a slice entirely past w: its partial is 0
  testAttention(8, 9, 8, false, 64);
  testAttention(128, 300, 299, false, 128); // two rounds of the 8 warps per slice
  testAttentionDeep(128, 600, 599);  // more positions than one round (256) of the 16 × 16
  testAttentionDeep(64, 70, 40);
  testAttentionDeep(16, 9, 8);       // fewer positions than warps
  testAttentionHeads(3, 128, 300, 299, 12, 2);  // G = 6 (the Qwen2.5-1.5B shape), more than one round of positions
  testAttentionHeads(2, 128, 150, 149, 12, 2);
  testAttentionHeads(4, 64, 70, 40, 8, 2);       // G = 4 (Llama-3.1-8B, Phi-4), H < 128: lanes without dimensions
  testAttentionHeads(3, 16, 48, 30, 6, 2);       // G = 3 (Llama-3.2-3B)
  testAttentionHeads(2, 128, 9, 8, 4, 1);        // fewer positions than warps
  testAttentionHeads(3, 128, 150, 149, 6, 2, true);
  testAttentionHeads(2, 64, 70, 40, 8, 2, true);
  testAttentionHeads(4, 128, 9, 8, 4, 1, true);
  testAttentionSharedForms();
  testAttentionRows(3, 2, 128, 300, 256, 299, 6, 2);  // the Llama-3.2-3B batch-64 shape's grouping (G = 3)
  testAttentionRows(4, 2, 64, 100, 40, 90, 8, 2);     // P not a multiple of 16: a tile across the prompt width
  testAttentionRows(2, 4, 128, 70, 32, 69, 4, 2);
  testElementwise();
  testSample();
  testSampleSplit();
  testGridBarrier(4, 64, 1000, 7);  // elements past the grid's threads: a second round per thread
  testGridBarrier(8, 32, 256, 6);   // one element per thread
  testGridBarrier(1, 64, 50, 3);    // one block: the barrier is its own last arrival
  testDecodeMLP(8, 320, 448, 2, 3, true, false);  // 5 groups × 2 splits = 10 tasks on 3 blocks; D, F past whole chunks
  testDecodeMLP(5, 256, 384, 3, 8, false, true);  // fewer rows, no residual, double quant; 12 tasks on 8 blocks
  testDecodeMLP(8, 128, 640, 1, 4, true, false);  // no split-K
  testDecodeMLP(8, 1536, 256, 2, 4, true, false);  // the Qwen2.5-1.5B hidden size (its norm's whole row)
  testDecodeMLP(8, 320, 448, 2, 3, true, false, 4);  // LoRA: 8 down-projection outputs on 3 blocks (they loop)
  testDecodeMLP(6, 256, 384, 3, 8, false, true, 5);  // LoRA of an odd rank (lora_up's scalar loop), 12 tasks on 8 blocks
  testDecodeMLP(8, 128, 640, 1, 4, true, false, 16); // LoRA without split-K: every down tile waits for u_d
  testDecodeMLP(8, 320, 448, 2, 3, true, false, 4, true, 3, 4);  // the next norm with q/k/v adapters: 24 tasks on 3 blocks
  testDecodeMLP(5, 256, 384, 3, 8, false, true, 0, true, 0, 0);  // the final norm (no adapters), no residual before it
  testDecodeMLP(8, 1536, 256, 2, 4, true, false, 16, true, 2, 5); // the 1.5B hidden size; 10 outputs: a part-empty task
  testDecodeMLP(8, 320, 448, 2, 3, true, false, 4, true, 3, 4, 384, 2, 4);  // the o projection first: NH ≠ D, 10 tasks on 3 blocks
  testDecodeMLP(5, 256, 384, 3, 8, true, true, 0, false, 0, 0, 192, 1, 0);  // no adapters, no split of NH (a chunk past NH)
  testDecodeMLP(6, 192, 256, 1, 4, true, false, 5, true, 1, 8, 640, 1, 5);  // NH past D, unsplit: a staged tail past D to clear; odd rank
  if (failures) {
    printf("%d FAILED\n", failures);
    return 1;
  }
  printf("all kernels match their references on the emulator\n");
}
