//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"unsafe"

	"gorgonia.org/cu"
)

// LoRA is the fused adapter term of NF4GEMV and GEMVBF16: y += Scale · U · Bᵀ with U = x·Aᵀ [B, R]
// float32 and the adapter's B [out, R] float32.
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

// tensorCores selects the tensor-core kernels (kernels/nf4_mma.cu, kernels/gemm_bf16_mma.cu) for
// NF4 and bfloat16 matmuls whose input length is a multiple of 64: GOMLXGRPO_MMA=1. Off by default
// until timed on a GPU (they pass the kernel emulator; the GPU tests run both forms).
var tensorCores = os.Getenv("GOMLXGRPO_MMA") == "1"

// matmul launches y [rows, out] float32 = x [rows, in] · Wᵀ (+ bias) (+ LoRA) on the kernel the
// shapes call for: the CUDA-core GEMV gemvBase (gemvKernel's forms) or, with tensorCores and in a
// multiple of 64, the tensor-core mmaBase. weight are the kernel's leading arguments (the weight
// and, for NF4, its scales); the rest are common to every form. fn names the caller in errors.
func matmul(fn, gemvBase, mmaBase string, x, y cu.DevicePtr, rows, in, out int, bias cu.DevicePtr, lora *LoRA, weight ...unsafe.Pointer) error {
	if in%8 != 0 {
		return fmt.Errorf("cuda: %s needs in %% 8 == 0, got %d", fn, in)
	}
	rows32, in32, out32 := int32(rows), int32(in), int32(out)
	u, b, r, scale := lora.args()
	name, grid := gemvKernel(gemvBase, rows, out)
	if tensorCores && in%64 == 0 {
		name, grid = mmaKernel(mmaBase, rows, out)
	}
	args := append(weight, p(&x), p(&y), p(&rows32), p(&in32), p(&out32), p(&bias), p(&u), p(&b), p(&r), p(&scale))
	return launch(name, grid, gemvThreads, 0, args...)
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
