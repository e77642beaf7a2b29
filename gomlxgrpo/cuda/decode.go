//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"strconv"
	"unsafe"

	"gorgonia.org/cu"
)

// The decode-step kernels (kernels/rmsnorm.cu, rope_cache.cu, attention_decode.cu,
// elementwise.cu, gemv_bf16.cu). Activations are bfloat16 bits, projection outputs float32, as
// documented in each kernel. All launches are asynchronous on the default stream.

// RMSNorm: out [rows, d] = w ⊙ x/rms(x) (bfloat16 bits), as model.rmsNorm.
func RMSNorm(x, w, out cu.DevicePtr, rows, d int, eps float32) error {
	d32 := int32(d)
	return launch("rmsnorm_bf16", [3]int{rows, 1, 1}, 256, 0, p(&x), p(&w), p(&out), p(&d32), p(&eps))
}

// ResidualRMSNorm: x [rows, d] = bf16(x + bf16(y)) (y float32), then out = RMSNorm(x)·w: one launch
// for the residual add and the norm that follows it, equal to ResidualAdd then RMSNorm bit for bit.
func ResidualRMSNorm(x, y, w, out cu.DevicePtr, rows, d int, eps float32) error {
	d32 := int32(d)
	return launch("residual_rmsnorm_bf16", [3]int{rows, 1, 1}, 256, 0, p(&x), p(&y), p(&w), p(&out), p(&d32), p(&eps))
}

// ResidualRMSNormLoRA is ResidualRMSNorm writing x + y to xo instead of x (xo must not alias x),
// with the LoRA down-projections of up to 3 adapters of rank r on its output in the same launch
// (residual_rmsnorm_lora_bf16): u[m] [rows, r] float32 = out · a[m]ᵀ for a[m] [r, d] float32. With
// y = 0 it is RMSNorm of x and xo is not written. The decoder's norms feed q/k/v and gate/up, whose
// adapters' down-projections were a launch of their own after every norm.
func ResidualRMSNormLoRA(x, y, w, xo, out cu.DevicePtr, rows, d int, eps float32, a, u []cu.DevicePtr, r int) error {
	n := len(a)
	if n < 1 || n > 3 || len(u) != n || r < 1 {
		return fmt.Errorf("cuda: ResidualRMSNormLoRA takes 1 to 3 adapters of rank ≥ 1 and as many outputs, got %d, %d and rank %d", n, len(u), r)
	}
	if y != 0 && xo == x {
		return fmt.Errorf("cuda: ResidualRMSNormLoRA writes x + y to another buffer than x (its blocks still read x)")
	}
	var a3, u3 [3]cu.DevicePtr
	copy(a3[:], a)
	copy(u3[:], u)
	per, blocks := loraNormSplit(rows, n*r)
	d32, r32, n32, per32 := int32(d), int32(r), int32(n), int32(per)
	return launch(normLoRAKernel(d), [3]int{rows, blocks, 1}, 256, 0, p(&x), p(&y), p(&w), p(&xo), p(&out), p(&d32), p(&eps),
		p(&a3[0]), p(&a3[1]), p(&a3[2]), p(&u3[0]), p(&u3[1]), p(&u3[2]), p(&r32), p(&n32), p(&per32))
}

// normLoRAElems are the one-pass norm forms (residual_rmsnorm_lora_bf16_e<E>: rows of at most
// E·256 elements, each thread's E in registers).
var normLoRAElems = []int{4, 8, 12, 16, 20, 24}

// normLoRAKernel names the fused norm's kernel for rows of d elements: the smallest one-pass form
// that holds the row (each thread's elements in registers: one load round trip instead of ~4), or
// the general one (two passes of LORA_CHUNK elements per thread at a time) for longer rows and with
// GOMLXGRPO_NORM=chunked (read at every launch, for an A/B in one process). Same bits. H100, round
// 57, batch-8 decode step with LoRA r=16: 8B 6.37 against 6.58 ms, Phi-4 10.87 against 11.11 ms.
func normLoRAKernel(d int) string {
	if os.Getenv("GOMLXGRPO_NORM") != "chunked" {
		for _, e := range normLoRAElems {
			if d <= 256*e {
				return fmt.Sprintf("residual_rmsnorm_lora_bf16_e%d", e)
			}
		}
	}
	return "residual_rmsnorm_lora_bf16"
}

// loraNormPer is residual_rmsnorm_lora_bf16's and swiglu_lora_bf16's most outputs per block
// (LORA_PER, SWIGLU_PER).
const loraNormPer = 4

// loraNormSplit spreads outs down-projection outputs per row over blocks per row of per outputs
// each: about one block per SM over the step's rows, at most loraNormPer outputs per block.
func loraNormSplit(rows, outs int) (per, blocks int) {
	blocks = max((outs+loraNormPer-1)/loraNormPer, min(outs, (sms+rows-1)/rows))
	per = (outs + blocks - 1) / blocks
	return per, (outs + per - 1) / per
}

// RopeCache rotates q [rows, n·h] and k [rows, kv·h] (float32) at positions pos [rows] int32 with
// invFreq [h/2] float32, writes q to qOut [rows, n, h] and k, v into the caches [rows, kv, s, h]
// (bfloat16 bits) at the cache index held in device memory at writeIdx (int32). Rows of q are
// qStride floats apart, rows of k and v kvStride (0 means packed: n·h and kv·h).
func RopeCache(q, k, v, pos, invFreq, qOut, kCache, vCache cu.DevicePtr, rows, n, kv, h, s int, writeIdx cu.DevicePtr, qStride, kvStride int) error {
	if qStride == 0 {
		qStride = n * h
	}
	if kvStride == 0 {
		kvStride = kv * h
	}
	if h%2 != 0 || h > 2048 {
		return fmt.Errorf("cuda: RopeCache needs an even head dim ≤ 2048, got %d", h)
	}
	n32, k32, h32, s32, qs32, kvs32 := int32(n), int32(kv), int32(h), int32(s), int32(qStride), int32(kvStride)
	return launch("rope_cache_bf16", [3]int{rows, n + kv, 1}, h/2, 0,
		p(&q), p(&k), p(&v), p(&pos), p(&invFreq), p(&qOut), p(&kCache), p(&vCache), p(&n32), p(&k32), p(&h32), p(&s32), p(&writeIdx), p(&qs32), p(&kvs32))
}

// MaxAttentionPositions is the longest cache the one-launch attention forms take (longer ones go to
// the split form, which keeps no scores in shared memory): their scores (4 bytes each) and the
// 8 KiB of per-warp partial outputs share the 48 KiB of shared memory a block gets by default.
const MaxAttentionPositions = (48<<10 - 8<<10 - 32) / 4

// AttentionDecode: out [rows, n·h] = softmax(q·Kᵀ/√h)·V over the cache positions s with
// (valid[row,s] ∧ s ≤ w) ∨ s = w, w the int32 in device memory at writeIdx; q [rows, n, h], caches
// [rows, kv, s, h] bfloat16 bits, valid [rows, s] bytes.
//
// Shared prompts (sp, the zero value: none): row b reads the cache positions below sp.Prefix from
// row sp.Src[b]'s cache, which must hold the same bits there (the sampler's copies of one prefilled
// prompt): the rows of a prompt then read one copy of it, from L2 for all but the first
// (kernels/attention_decode.cu).
func AttentionDecode(q, kCache, vCache, valid, out cu.DevicePtr, rows, n, kv, h, s int, writeIdx cu.DevicePtr, sp SharedPrompts) error {
	if h > 256 || h%4 != 0 || n%kv != 0 {
		return fmt.Errorf("cuda: AttentionDecode needs a head dim ≤ 256 divisible by 4 and heads divisible by kv heads, got h=%d n=%d kv=%d", h, n, kv)
	}
	if sp.Prefix < 0 || sp.Prefix > s {
		return fmt.Errorf("cuda: AttentionDecode: shared prompt prefix %d outside the cache's %d positions", sp.Prefix, s)
	}
	n32, k32, h32, s32, p32 := int32(n), int32(kv), int32(h), int32(s), int32(sp.Prefix)
	args := []unsafe.Pointer{p(&q), p(&kCache), p(&vCache), p(&valid), p(&out), p(&n32), p(&k32), p(&h32), p(&s32), p(&writeIdx), p(&sp.Src), p(&p32)}
	if useSplitAttention(s) {
		slice, slices := attentionSlices(s)
		floats, counters := attentionScratch(rows, n, h, s)
		return splitK.with("AttentionDecode", floats, counters, func(ws, cnt cu.DevicePtr) error {
			sc, part, l32 := ws, ws+cu.DevicePtr(4*rows*n*s), int32(slice)
			args := append(args, p(&sc), p(&part), p(&cnt), p(&l32))
			grid := [3]int{n, slices, rows}
			if err := launch("attention_scores_split_bf16", grid, 256, 0, args...); err != nil {
				return err
			}
			return launch("attention_out_split_bf16", grid, 256, 0, args...)
		})
	}
	if qh := attentionHeads(rows, n, kv, h, s); qh > 1 {
		if rows*n/qh > wideAttentionBlocks { // more blocks than the card holds at once: 8 warps, as the per-head kernels
			if r := 8 / qh; attentionRows() && sp.Src != 0 && sp.Group%r == 0 && rows%r == 0 && (h == 64 || h == 128) && 4*qh*r*s <= maxRowsScores {
				return launch(fmt.Sprintf("attention_decode_bf16_h%dr%dw8", qh, r), [3]int{rows / r, n / qh, 1}, 256, 4*qh*r*s, args...)
			}
			return launch(fmt.Sprintf("attention_decode_bf16_h%dw8", qh), [3]int{rows, n / qh, 1}, 256, 4*qh*s, args...)
		}
		return launch(fmt.Sprintf("attention_decode_bf16_h%d", qh), [3]int{rows, n / qh, 1}, 512, 4*qh*s, args...)
	}
	if (wideAttention || deepAttention) && rows*n <= wideAttentionBlocks && s <= maxWideAttentionPositions {
		if deepAttention && h <= 128 {
			return launch("attention_decode_bf16_w16u16", [3]int{rows, n, 1}, 512, 4*s, args...)
		}
		return launch("attention_decode_bf16_w16", [3]int{rows, n, 1}, 512, 4*s, args...)
	}
	return launch("attention_decode_bf16", [3]int{rows, n, 1}, 256, 4*s, args...)
}

// splitAttention selects the split form (attention_scores_split_bf16 then attention_out_split_bf16,
// kernels/attention_decode.cu: one block per head, slice of positions and row, instead of one
// block walking all of a row's positions) for every cache: GOMLXGRPO_ATTN=split. Otherwise it
// serves only caches longer than MaxAttentionPositions (it keeps no scores in shared memory): timed
// on an H100 (bench/RESULTS.md, seventh session) it was slower than the one-launch forms on the
// benchmark shapes (batch 8: 3.32 vs 3.23 ms per decode step; batch 64: 23.6 ms, 19.9 with the
// previous kernels and the 8-warp form).
var splitAttention = os.Getenv("GOMLXGRPO_ATTN") == "split"

// useSplitAttention reports whether AttentionDecode takes the split form for an s-position cache.
// It reads GOMLXGRPO_ATTN again at every launch, so that `grpo bench generate --ab
// GOMLXGRPO_ATTN=split` compares the forms in one process.
func useSplitAttention(s int) bool {
	return splitAttention || os.Getenv("GOMLXGRPO_ATTN") == "split" || s > MaxAttentionPositions
}

const (
	attentionSlice     = 64 // positions per round of the split kernels' 8 warps (THREADS/32 · UNROLL)
	attentionMaxSlices = 16 // per row: longer caches get R > 1 rounds per slice
)

// attentionSlices returns the split form's positions per slice (a multiple of attentionSlice) and
// the number of slices for a cache of s positions.
func attentionSlices(s int) (slice, slices int) {
	slice = attentionSlice * max(1, (s+attentionSlice*attentionMaxSlices-1)/(attentionSlice*attentionMaxSlices))
	return slice, (s + slice - 1) / slice
}

// attentionScratch is the split form's scratch in the split-K buffers: scores [rows, n, s] and
// partial outputs [rows, n, slices, h] (float32), one counter per (row, head).
func attentionScratch(rows, n, h, s int) (floats, counters int) {
	_, slices := attentionSlices(s)
	return rows*n*s + rows*n*slices*h, rows * n
}

// reserveAttention grows the split-K scratch for AttentionDecode's split form ahead of a stream
// capture, as reserveMatmul does for the matmuls.
func reserveAttention(rows, n, h, s int) error {
	if !useSplitAttention(s) {
		return nil
	}
	return splitK.reserve(attentionScratch(rows, n, h, s))
}

// wideAttention selects attention_decode_bf16_w16 (16 warps per (row, head) block: twice the cache
// positions in flight) when the step has at most wideAttentionBlocks blocks, the small decode
// batches where the 8-warp blocks leave SMs idle. On by default since it was timed (H100, Qwen2.5-1.5B
// shape, batch 8: 3.55 vs 3.72 ms per decode step, bench/RESULTS.md); GOMLXGRPO_ATTN=w8 turns it off.
// TestAttentionDecode runs every form.
var wideAttention = os.Getenv("GOMLXGRPO_ATTN") == "" || os.Getenv("GOMLXGRPO_ATTN") == "w16"

// deepAttention selects attention_decode_bf16_w16u16 where the 16-warp form runs and the head dim
// is at most 128 (16 positions per warp in flight instead of 8, the same bits). The default since
// it was timed (H100, eighth session, bench/gpu_round25.sh: BenchmarkAttentionDecode batch 8 14.7
// vs 15.6 µs, batch-8 decode step 2.70 vs 2.76 ms); GOMLXGRPO_ATTN=w16 takes the plain 16-warp
// form. TestAttentionDecode runs both.
var deepAttention = os.Getenv("GOMLXGRPO_ATTN") == "" || os.Getenv("GOMLXGRPO_ATTN") == "w16u16"

const (
	wideAttentionBlocks = 264 // 2 per SM on an H100/H200
	// maxWideAttentionPositions: the w16 form's 16 KiB of per-warp partial outputs leave the rest of
	// the 48 KiB of shared memory for its scores.
	maxWideAttentionPositions = (48<<10 - 16<<10 - 64) / 4
)

// attentionHeads returns how many query heads sharing a kv head one block of
// attention_decode_bf16_hN takes (each K and V row then read once for them, not once per head), or
// 1 for the per-head kernels: the most of 4, 3 and 2 that divides the group (n/kv) and still leaves
// at least attentionHeadsMinBlocks blocks for the step (fewer, longer blocks would leave SMs idle:
// a batch-8 Qwen2.5-1.5B step has only 96 per-head blocks) with the scores in shared memory.
// GOMLXGRPO_ATTN_HEADS=N asks for N (1: the per-head kernels), read at each launch so that
// `grpo bench generate --ab` can compare in one process; the test sets forceHeads. A per-head form
// named by GOMLXGRPO_ATTN keeps the per-head kernels. Timed on an H100 (ninth session): the 3B
// batch-64 step's attention 151 → 106 µs per layer (3 heads, 8 warps); 2 heads on the 1.5B batch-8
// step (48 blocks) was slower, hence the block floor.
func attentionHeads(rows, n, kv, h, s int) int {
	want := forceHeads
	if v := os.Getenv("GOMLXGRPO_ATTN_HEADS"); v != "" && want == 0 {
		want, _ = strconv.Atoi(v)
	}
	if h > 128 || want == 1 || os.Getenv("GOMLXGRPO_ATTN") != "" {
		return 1
	}
	for _, qh := range []int{4, 3, 2} {
		if (n/kv)%qh != 0 || 4*qh*s > maxHeadsScores {
			continue
		}
		if want == qh || (want == 0 && rows*n/qh >= attentionHeadsMinBlocks) {
			return qh
		}
	}
	return 1
}

// SharedPrompts tells AttentionDecode which rows hold the same prompt (sample.PromptSharer): Src,
// int32 [rows] in device memory, each row's first row with its prompt (0: no sharing); Prefix, the
// prompt width (cache positions below it hold the same bits in those rows); Group, when every
// prompt's rows are Group consecutive rows (sample.PromptGroup), else 0.
type SharedPrompts struct {
	Src           cu.DevicePtr
	Prefix, Group int
}

// attentionRows reports whether AttentionDecode may take the forms with several rows of one prompt
// per block (attention_decode_bf16_hQHrRw8: the prompt's tiles read once for R rows, not once per
// row) when the heads form would run with 8 warps. The default since timed on an H100 (round 85,
// 3B NF4 batch 64, 8 prompts × 8, A/B in one process: 5.337 against 5.437 ms per decode step);
// GOMLXGRPO_ATTN_ROWS=0 keeps the one-row forms, read at each launch so that `grpo bench generate
// --ab` compares in one process.
func attentionRows() bool { return os.Getenv("GOMLXGRPO_ATTN_ROWS") != "0" }

// forceHeads, when not 0, is what attentionHeads asks for (tests).
var forceHeads int

const (
	attentionHeadsMinBlocks = 128
	// maxHeadsScores: shared memory for attention_decode_bf16_hN's scores (bytes) next to its 8 KiB
	// of per-warp partial outputs.
	maxHeadsScores = 48<<10 - 8<<10 - 64
	// maxRowsScores: the same for attention_decode_bf16_hQHrRw8, whose two head-dim instances each
	// keep 4 KiB of per-warp partial outputs.
	maxRowsScores = 48<<10 - 8<<10 - 128
)

// EmbedRows: x [rows, d] = E[ids[row], :] (bfloat16 bits, ids int32).
func EmbedRows(ids, e, x cu.DevicePtr, rows, d int) error {
	r32, d32 := int32(rows), int32(d)
	return launch("embed_rows_bf16", [3]int{(rows*d + 255) / 256, 1, 1}, 256, 0, p(&ids), p(&e), p(&x), p(&r32), p(&d32))
}

// ResidualAdd: x = x + y for n elements (x bfloat16 bits, y float32).
func ResidualAdd(x, y cu.DevicePtr, n int) error {
	n64 := int64(n)
	return launch("residual_add_bf16", [3]int{(n + 255) / 256, 1, 1}, 256, 0, p(&x), p(&y), p(&n64))
}

// SwiGLU: act [rows, f] = silu(g)·u (g, u float32 with rows stride floats apart, 0 meaning f;
// act bfloat16 bits).
func SwiGLU(g, u, act cu.DevicePtr, rows, f, stride int) error {
	if stride == 0 {
		stride = f
	}
	r32, f32, s32 := int32(rows), int32(f), int32(stride)
	return launch("swiglu_bf16", [3]int{(rows*f + 255) / 256, 1, 1}, 256, 0, p(&g), p(&u), p(&act), p(&r32), p(&f32), p(&s32))
}

// SwiGLULoRA is SwiGLU with the down projection's LoRA down-projection on its output in the same
// launch: ud [rows, r] float32 = act · aᵀ for a [r, f] float32: swiglu_lora_bf16 (blocks over rows
// and outputs). (A split over f, g, u and A read once per launch, was slower on an H100: Phi-4's
// batch-8 decode step 11.39 against 11.14 ms, bench/RESULTS.md, thirteenth session.)
func SwiGLULoRA(g, u, act cu.DevicePtr, rows, f, stride int, a, ud cu.DevicePtr, r int) error {
	if stride == 0 {
		stride = f
	}
	if r < 1 {
		return fmt.Errorf("cuda: SwiGLULoRA needs an adapter rank ≥ 1, got %d", r)
	}
	f32, s32, r32 := int32(f), int32(stride), int32(r)
	per, blocks := loraNormSplit(rows, r)
	per32 := int32(per)
	return launch("swiglu_lora_bf16", [3]int{rows, blocks, 1}, 512, 0, p(&g), p(&u), p(&act), p(&f32), p(&s32), p(&a), p(&ud), p(&r32), p(&per32))
}

// GEMVBF16: y [rows, out] float32 = x [rows, in] · Wᵀ (+ bias) (+ LoRA) for bfloat16 W [out, in].
func GEMVBF16(w, x, y cu.DevicePtr, rows, in, out int, bias cu.DevicePtr, lora *LoRA) error {
	return matmul("GEMVBF16", "gemv_bf16_lora", "gemm_bf16_mma", false, x, y, rows, in, out, bias, lora, p(&w))
}

// LoRADown: u [rows, r] float32 = x [rows, in] (bfloat16 bits) · Aᵀ for A [r, in] float32.
func LoRADown(x, a, u cu.DevicePtr, rows, in, r int) error {
	rows32, in32, r32 := int32(rows), int32(in), int32(r)
	if in%8 != 0 {
		return fmt.Errorf("cuda: LoRADown needs in %% 8 == 0, got %d", in)
	}
	return launch("lora_down", [3]int{rows * r, 1, 1}, 128, 0, p(&x), p(&a), p(&u), p(&rows32), p(&in32), p(&r32))
}

// LoRADownN is LoRADown for 1 to 3 adapters of rank r on the same x in one launch (lora_down3):
// u[m] [rows, r] = x · a[m]ᵀ.
func LoRADownN(x cu.DevicePtr, a, u []cu.DevicePtr, rows, in, r int) error {
	n := len(a)
	if n < 1 || n > 3 || len(u) != n {
		return fmt.Errorf("cuda: LoRADownN takes 1 to 3 adapters and as many outputs, got %d and %d", n, len(u))
	}
	if in%8 != 0 {
		return fmt.Errorf("cuda: LoRADownN needs in %% 8 == 0, got %d", in)
	}
	var a3, u3 [3]cu.DevicePtr
	copy(a3[:], a)
	copy(u3[:], u)
	rows32, in32, r32 := int32(rows), int32(in), int32(r)
	return launch("lora_down3", [3]int{rows * r, n, 1}, 128, 0, p(&x), p(&a3[0]), p(&a3[1]), p(&a3[2]), p(&u3[0]), p(&u3[1]), p(&u3[2]),
		p(&rows32), p(&in32), p(&r32))
}
