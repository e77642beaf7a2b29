//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"sync"
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
// NF4 and bfloat16 matmuls whose input length is a multiple of 64; GOMLXGRPO_MMA=0 turns them off
// (the CUDA-core GEMVs then serve every batch of at most 8 rows). On an H200 they beat the GEMVs at
// 8 rows and by 14× at 64 (bench/RESULTS.md).
var tensorCores = os.Getenv("GOMLXGRPO_MMA") != "0"

// matmul launches y [rows, out] float32 = x [rows, in] · Wᵀ (+ bias) (+ LoRA) on the kernel the
// shapes call for: the CUDA-core GEMV gemvBase (gemvKernel's forms) or, with tensorCores and in a
// multiple of 64, the tensor-core mmaBase (split over the inputs as mmaKernel decides). weight are
// the kernel's leading arguments (the weight and, for NF4, its scales); the rest are common to
// every form. chunk is the tensor-core kernel's inputs per chunk. fn names the caller in errors.
func matmul(fn, gemvBase, mmaBase string, chunk int, x, y cu.DevicePtr, rows, in, out int, bias cu.DevicePtr, lora *LoRA, weight ...unsafe.Pointer) error {
	if in%8 != 0 {
		return fmt.Errorf("cuda: %s needs in %% 8 == 0, got %d", fn, in)
	}
	rows32, in32, out32 := int32(rows), int32(in), int32(out)
	u, b, r, scale := lora.args()
	args := append(weight, p(&x), p(&y), p(&rows32), p(&in32), p(&out32), p(&bias), p(&u), p(&b), p(&r), p(&scale))
	if !tensorCores || in%64 != 0 {
		name, grid := gemvKernel(gemvBase, rows, out)
		return launch(name, grid, gemvThreads, 0, args...)
	}
	name, grid, nt := mmaKernel(mmaBase, rows, out, (in+chunk-1)/chunk)
	return onContext(func() error {
		splitK.Lock()
		defer splitK.Unlock()
		ws, cnt, err := splitK.scratch(grid[0]*grid[1]*grid[2]*32*4*nt, grid[0]*grid[1])
		if err != nil {
			return fmt.Errorf("cuda: %s: split-K scratch: %w", fn, err)
		}
		return launch(name, grid, gemvThreads, 0, append(args, p(&ws), p(&cnt))...)
	})
}

// Split-K (kernels/mma.cuh): when a matrix has few tiles of 16 output rows, the blocks of a tile
// split its input chunks between them, so that every SM gets blocks and each warp's loads (one or
// two chunks) are all in flight at once; the last block of a tile adds the partial sums.
const (
	mmaNoSplitTiles = 4096 // ≥ 31 tiles per SM: enough blocks without splitting (e.g. the LM head)
	mmaManyTiles    = 512  // ~4 tiles per SM: give each warp two chunks (four at 64 rows) rather than one
	mmaMaxSplits    = 64
)

// mmaKernel returns the tensor-core kernel base+"_n8" or base+"_n64", its grid (16 output rows per
// block along x, 8 or 64 rows of x along y, split-K blocks along z) and its n-tiles per block (1 or
// 8), for rows × out and chunks input chunks.
func mmaKernel(base string, rows, out, chunks int) (string, [3]int, int) {
	name, per, nt, perWarp := base+"_n8", 8, 1, 1
	if rows > 8 {
		name, per, nt, perWarp = base+"_n64", 64, 8, 2
	}
	grid := [3]int{(out + 15) / 16, (rows + per - 1) / per, 1}
	tiles := grid[0] * grid[1]
	if tiles >= mmaManyTiles {
		perWarp *= 2
	}
	if tiles < mmaNoSplitTiles {
		grid[2] = min(mmaMaxSplits, max(1, (chunks+4*perWarp-1)/(4*perWarp)))
	}
	return name, grid, nt
}

// splitK holds the split-K scratch, shared by every launch on the one stream (launches run in
// order, so one launch's blocks never meet another's): partial sums and per-tile counters that
// the kernels leave at zero. It only grows; it lives as long as the process (a few MiB).
var splitK scratchBuffers

type scratchBuffers struct {
	sync.Mutex
	ws, cnt        cu.DevicePtr
	wsFloats, cntN int
}

// scratch returns buffers of at least floats float32 and counters zeroed uint32 (on the context's thread).
func (s *scratchBuffers) scratch(floats, counters int) (ws, cnt cu.DevicePtr, err error) {
	if floats > s.wsFloats || counters > s.cntN {
		if s.ws != 0 || s.cnt != 0 {
			if err := cu.Synchronize(); err != nil { // earlier launches may still use the old buffers
				return 0, 0, err
			}
			_ = cu.MemFree(s.ws)
			_ = cu.MemFree(s.cnt)
			s.ws, s.cnt, s.wsFloats, s.cntN = 0, 0, 0, 0
		}
		f, c := max(floats, 2*s.wsFloats, 1<<16), max(counters, 2*s.cntN, 1<<12)
		if s.ws, err = cu.MemAlloc(int64(4 * f)); err != nil {
			return 0, 0, err
		}
		if s.cnt, err = cu.MemAlloc(int64(4 * c)); err != nil {
			return 0, 0, err
		}
		if err = cu.MemsetD32(s.cnt, 0, int64(c)); err != nil {
			return 0, 0, err
		}
		s.wsFloats, s.cntN = f, c
	}
	return s.ws, s.cnt, nil
}
