//go:build cuda

package cuda

import (
	"fmt"
	"os"

	"gorgonia.org/cu"
)

// NF4Dequant writes the n weights of an NF4 tensor (packed [n/2] bytes, absmax [⌈n/64⌉] float32)
// to out as bfloat16 bits (bf16) or float32. n must be a multiple of 8 (every real weight is).
// The launch is asynchronous; call Synchronize before reading out from the host or from XLA.
func NF4Dequant(packed, absmax, out cu.DevicePtr, n int64, bf16 bool) error {
	if n%8 != 0 {
		return fmt.Errorf("cuda: NF4Dequant needs a multiple of 8 weights, got %d", n)
	}
	name := "nf4_dequant_f32"
	if bf16 {
		name = "nf4_dequant_bf16"
	}
	return launch(name, [3]int{int((n/8 + 255) / 256), 1, 1}, 256, 0, p(&packed), p(&absmax), p(&out), p(&n))
}

// LoRA is the fused adapter term of NF4GEMV: y += Scale · U · Bᵀ with U = x·Aᵀ [B, R] float32 and
// the adapter's B [out, R] float32.
type LoRA struct {
	U, B  cu.DevicePtr
	R     int
	Scale float32
}

// args are the GEMV kernels' LoRA parameters (all zero without an adapter).
func (l *LoRA) args() (u, b cu.DevicePtr, r int32, scale float32) {
	if l == nil {
		return 0, 0, 0, 0
	}
	return l.U, l.B, int32(l.R), l.Scale
}

// The decode GEMVs (kernels/gemv.cuh) run 4 warps per block. The plain kernels give each warp one
// output row and read the weights once per 32 rows of x; "_b8" forms take 8 rows of x, and "_b8r4"
// also give each warp 4 output rows (each activation load serves 4 rows), used where that still
// leaves at least gemvMinBlocks blocks.
const (
	gemvThreads   = 128
	gemvMinBlocks = 512 // ~4 per SM on an H100/H200
)

// gemvKernel returns the kernel name and grid for rows × out.
func gemvKernel(base string, rows, out int) (string, [3]int) {
	per, outPerBlock := 32, gemvThreads/32
	if rows <= 8 {
		base, per = base+"_b8", 8
		if out/(4*gemvThreads/32) >= gemvMinBlocks {
			base, outPerBlock = base+"r4", 4*gemvThreads/32
		}
	}
	return base, [3]int{(out + outPerBlock - 1) / outPerBlock, (rows + per - 1) / per, 1}
}

// NF4Scales are an NF4 weight's block scales: Absmax [n/64] float32, or with double quantization
// (Absmax 0) absmax[k] = Code[Q[k]]·Absmax2[k/256] + Offset (Q uint8, Code [256] and Absmax2 float32).
type NF4Scales struct {
	Absmax, Q, Code, Absmax2 cu.DevicePtr
	Offset                   float32
}

// tensorCores selects the tensor-core kernels (kernels/nf4_mma.cu, kernels/gemm_bf16_mma.cu) for
// NF4 and bfloat16 matmuls whose input length is a multiple of 64: GOMLXGRPO_MMA=1. Off by default
// until timed on a GPU (they pass the kernel emulator; the GPU tests run both forms).
var tensorCores = os.Getenv("GOMLXGRPO_MMA") == "1"

// NF4GEMV computes y [rows, out] float32 = x [rows, in] (bfloat16 bits) · Wᵀ for NF4 W [out, in],
// plus bias [out] (bfloat16 bits; 0 for none) and the LoRA term when lora is not nil, reading the
// 4-bit weights once per 32 rows (8 for batches of at most 8; 64 on the tensor-core form).
// in must be a multiple of 8. Asynchronous, like NF4Dequant.
func NF4GEMV(packed cu.DevicePtr, sc NF4Scales, x, y cu.DevicePtr, rows, in, out int, bias cu.DevicePtr, lora *LoRA) error {
	if in%8 != 0 {
		return fmt.Errorf("cuda: NF4GEMV needs in %% 8 == 0, got %d", in)
	}
	rows32, in32, out32 := int32(rows), int32(in), int32(out)
	u, b, r, scale := lora.args()
	name, grid := gemvKernel("nf4_gemv_lora", rows, out)
	if tensorCores && in%64 == 0 {
		name, grid = mmaKernel("nf4_mma", rows, out)
	}
	return launch(name, grid, gemvThreads, 0,
		p(&packed), p(&sc.Absmax), p(&sc.Q), p(&sc.Code), p(&sc.Absmax2), p(&sc.Offset), p(&x), p(&y),
		p(&rows32), p(&in32), p(&out32), p(&bias), p(&u), p(&b), p(&r), p(&scale))
}

// mmaKernel returns the tensor-core kernel base+"_n8" or base+"_n64" and its grid: 16 output rows
// per block, 8 or 64 rows of x per block row.
func mmaKernel(base string, rows, out int) (string, [3]int) {
	name, per := base+"_n8", 8
	if rows > 8 {
		name, per = base+"_n64", 64
	}
	return name, [3]int{(out + 15) / 16, (rows + per - 1) / per, 1}
}
