//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"strconv"
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
// every form. nf4 says which tensor-core kernel family mmaBase is. fn names the caller in errors.
func matmul(fn, gemvBase, mmaBase string, nf4 bool, x, y cu.DevicePtr, rows, in, out int, bias cu.DevicePtr, lora *LoRA, weight ...unsafe.Pointer) error {
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
	name, grid, threads, shared, floats, counters := mmaKernel(mmaBase, rows, in, out, nf4)
	return splitK.with(fn, floats, counters, func(ws, cnt cu.DevicePtr) error {
		return launch(name, grid, threads, shared, append(args, p(&ws), p(&cnt))...)
	})
}

// reserveMatmul grows the split-K scratch for a rows × in → out matmul ahead of a stream capture
// (allocating while capturing would put a buffer in the graph that the next growth retires).
func reserveMatmul(rows, in, out int, nf4 bool) error {
	if !tensorCores || in%64 != 0 {
		return nil
	}
	_, _, _, _, floats, counters := mmaKernel("", rows, in, out, nf4)
	return splitK.reserve(floats, counters)
}

// Split-K (kernels/mma.cuh): when a matrix has few tiles of 16 output rows, the blocks of a tile
// split its input chunks between them, so that every SM gets blocks and each warp's loads are all
// in flight at once; the last block of a tile adds the partial sums.
const (
	mmaWarps        = 4    // warps per block of the n8 and s64 forms (MMA_WARPS)
	mmaNoSplitTiles = 4096 // ≥ 31 tiles per SM: enough blocks without splitting (e.g. the LM head)
	mmaManyTiles    = 512  // ~4 tiles per SM: no split for the register-tiled forms
	mmaMaxSplits    = 64
	// n8MaxWarpChunks: the most chunks of 128 inputs a warp of the streaming NF4 form
	// (nf4_mma_n8) owns (NF4_MAX_WARP_CHUNKS: its slice of x then fits 40 KiB of shared memory).
	n8MaxWarpChunks = 5
)

// n8BlocksPerSM is the blocks per SM that the streaming NF4 form's split-K sizing aims to fill, and
// n8WarpChunks the most chunks a warp owns (1 … n8MaxWarpChunks). 1 block per SM: a small matrix
// (the 1.5B shape's q/k/v and o) then goes unsplit, each warp issuing all of its few chunks' loads
// at once, instead of being spread over 5 blocks per SM that then pay split-K's finish (partials
// out, fence, counter, reads back): timed on an H100 in the eighth session (bench/gpu_round27.sh,
// GOMLXGRPO_N8_BLOCKS=1 against the previous 5: one layer's projections 52.5 vs 54.6 µs, batch-8
// decode step 2.56 vs 2.69 ms). The large matrices split as before. GOMLXGRPO_N8_BLOCKS and
// GOMLXGRPO_N8_CHUNKS override them, for sweeps on a GPU.
var n8BlocksPerSM, n8WarpChunks = envInt("GOMLXGRPO_N8_BLOCKS", 1, 1, 16), envInt("GOMLXGRPO_N8_CHUNKS", n8MaxWarpChunks, 1, n8MaxWarpChunks)

// n8WarpTiles reports whether an in → out NF4 matmul of up to 8 rows takes the form with a tile of
// 16 output rows per warp (nf4_mma_n8w, nf4_mma_n8gw: 64 output rows per block share one staging
// of x, a quarter of the streaming form's reads of x from L2): for matrices of at least
// n8wMinSize inputs and outputs. Timed on an H100 (ninth session, bench/gpu_round36.sh, LoRA r=16):
// the Llama-3.1-8B batch-8 decode step 6.93 ms against 7.69 with every matmul in the streaming
// form, while on the Qwen2.5-1.5B shape (inputs of 1,536; outputs of 1,536 to 17,920) the warp
// tiles took 3.07 ms against 2.91, its small matrices better served by one tile per block.
// GOMLXGRPO_MMA8=warps or =streaming picks one form for every matrix; read at each launch, so that
// `grpo bench generate --ab` compares them in one process.
func n8WarpTiles(in, out int) bool {
	switch os.Getenv("GOMLXGRPO_MMA8") {
	case "warps":
		return true
	case "streaming":
		return false
	}
	return in >= n8wMinSize && out >= n8wMinSize
}

// n8wMinSize: the smallest inputs and outputs that n8WarpTiles gives the warp-tile form.
const n8wMinSize = 4096

// n8wMaxWarpChunks caps the chunks of 128 inputs a warp of nf4_mma_n8w owns: 8 by default (2
// rounds of its NF4_DEPTH loads in flight; the block's slice of x is then at most 16 KiB),
// GOMLXGRPO_N8W_CHUNKS (1 … 16) for sweeps, read at each launch.
func n8wMaxWarpChunks() int { return envInt("GOMLXGRPO_N8W_CHUNKS", 8, 1, 16) }

// n8wWave is the warps nf4_mma_n8w's split-K sizing aims to keep busy: 4 blocks of 4 warps per SM
// (GOMLXGRPO_N8W_BLOCKS overrides the 4).
func n8wWave() int { return mmaWarps * envInt("GOMLXGRPO_N8W_BLOCKS", 4, 1, 32) * multiprocessors() }

// mmaSplits, when set (GOMLXGRPO_MMA_SPLITS), is the split-K of the register-tiled forms (the 64-row
// NF4 form, the bfloat16 forms) for every shape instead of their rules: for sweeps on a GPU.
var mmaSplits = envInt("GOMLXGRPO_MMA_SPLITS", 0, 0, mmaMaxSplits)

// envInt returns the integer in environment variable name, def when unset, and panics when it is
// not an integer in [lo, hi] (a mistyped tuning variable should not be ignored silently).
func envInt(name string, def, lo, hi int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		panic(fmt.Sprintf("cuda: %s=%q: want an integer in [%d, %d]", name, v, lo, hi))
	}
	return n
}

// s64PerSM is the blocks per SM that the s64 forms' split-K sizing aims to fill: 2, though 4 fit
// (128 registers and 40 KiB of shared memory per block of 128 threads), since fewer splits cost
// less in the finish (each tile's last warp reads its splits' partials one after the other). On
// an H200: one Llama-3.2-3B layer's projections with LoRA at 64 rows 207.6 / 213.1 / 241.8 µs
// aiming at 2 / 4 / 8 (round 63); the 3B batch-64 decode step 8.10 vs 8.43 ms with 2 against 4
// (round 64, A/B in one process); with the shorter epilogue, 3 against 2 made no difference (5.44
// vs 5.45 ms, round 74). GOMLXGRPO_S64_BLOCKS overrides it for sweeps, read at each
// launch. s64MinChunks: the fewest chunks of 64 inputs a split leaves a block (its ring of stages
// needs a few to overlap the copies with the multiplies).
func s64PerSM() int { return envInt("GOMLXGRPO_S64_BLOCKS", 2, 1, 32) }

const s64MinChunks = 4

// mmaKernel returns the tensor-core kernel for rows × in → out (nf4: NF4 weights, else bfloat16),
// its grid (output rows along x: 16 per block, 64 for the warp-tile forms; 8 or 64 rows of x along
// y; split-K blocks along z), threads per block, dynamic shared memory and the split-K scratch it
// needs (float32 partials, tile counters).
//
// Up to 8 rows on NF4 weights (the decode case) the streaming form nf4_mma_n8 covers the matrix in
// about one wave of resident blocks: each warp owns ⌈tiles·chunks / (4·wave)⌉ chunks of 128
// inputs (1 to n8MaxWarpChunks), the blocks of a tile split its chunks accordingly, and each block
// stages its slice of x in shared memory. Matmuls of more than 8 rows take the s64 forms
// (nf4_mma_s64, gemm_bf16_mma_s64), split so that about s64PerSM blocks per SM are busy (at least
// s64MinChunks chunks each). The bfloat16 batch-8 form (64 inputs per chunk, x in registers)
// splits only matrices of fewer than mmaManyTiles tiles, two chunks per warp.
func mmaKernel(base string, rows, in, out int, nf4 bool) (name string, grid [3]int, threads, shared, floats, counters int) {
	return mmaKernelForm(base, rows, in, out, nf4, n8WarpTiles(in, out))
}

// mmaKernelForm is mmaKernel with the choice of the batch-8 NF4 form made by the caller: warpTiles
// for nf4_mma_n8w (a grouped launch decides it for the whole group).
func mmaKernelForm(base string, rows, in, out int, nf4, warpTiles bool) (name string, grid [3]int, threads, shared, floats, counters int) {
	name, per, nt, threads := base+"_n8", 8, 1, gemvThreads
	if rows > 8 {
		name, per, nt = base+"_s64", 64, 8
	}
	grid = [3]int{(out + 15) / 16, (rows + per - 1) / per, 1}
	tiles := grid[0] * grid[1]
	switch {
	case rows > 8:
		grid[0] = (out + 16*mmaWarps - 1) / (16 * mmaWarps)
		tiles = grid[0] * mmaWarps * grid[1] // warp tiles: each warp finishes its own split-K
		chunks, blocks, wave := in/64, grid[0]*grid[1], s64PerSM()*multiprocessors()
		grid[2] = max(1, min((wave+blocks-1)/blocks, chunks/s64MinChunks))
		if mmaSplits > 0 {
			grid[2] = max(1, min(mmaSplits, chunks))
		}
	case nf4 && rows <= 8 && warpTiles:
		name = base + "_n8w"
		grid[0] = (out + 16*mmaWarps - 1) / (16 * mmaWarps)
		tiles = grid[0] * mmaWarps * grid[1] // warp tiles: each warp finishes its own split-K
		chunks := (in + 127) / 128
		perWarp := min(n8wMaxWarpChunks(), max(1, (tiles*chunks+n8wWave()-1)/n8wWave()))
		grid[2] = (chunks + perWarp - 1) / perWarp
		blockChunks := (chunks + grid[2] - 1) / grid[2]
		shared = 8 * (16*blockChunks + 1) * 16
	case nf4 && rows <= 8:
		chunks := (in + 127) / 128
		wave := 4 * n8BlocksPerSM * multiprocessors()
		perWarp := min(n8WarpChunks, max(1, (tiles*chunks+wave-1)/wave))
		grid[2] = (chunks + 4*perWarp - 1) / (4 * perWarp)
		blockChunks := (chunks + grid[2] - 1) / grid[2]
		shared = 8 * (16*blockChunks + 1) * 16
	case mmaSplits > 0:
		grid[2] = min(mmaSplits, max(1, in/64))
	case tiles < mmaManyTiles:
		grid[2] = min(mmaMaxSplits, max(1, (in/64+7)/8))
	}
	if grid[2] == 1 {
		return name, grid, threads, shared, 0, 0
	}
	return name, grid, threads, shared, tiles * grid[2] * 32 * 4 * nt, tiles
}

// splitK holds the split-K scratch, shared by every launch on the one stream (launches run in
// order, so one launch's blocks never meet another's): partial sums and per-tile counters that
// the kernels leave at zero. Buffers outgrown are kept, not freed, since a captured decode graph
// may still point at them; all of them together stay within a few MiB.
var splitK scratchBuffers

type scratchBuffers struct {
	sync.Mutex
	ws, cnt        cu.DevicePtr
	wsFloats, cntN int
	retired        []cu.DevicePtr
	capturing      bool // a stream capture is under way (graph.go): growing is an error
}

// with runs run on the context's thread with buffers of at least floats float32 and counters
// zeroed uint32; fn names the caller in errors.
func (s *scratchBuffers) with(fn string, floats, counters int, run func(ws, cnt cu.DevicePtr) error) error {
	return onContext(func() error {
		ws, cnt, err := s.get(floats, counters)
		if err != nil {
			return fmt.Errorf("cuda: %s: split-K scratch: %w", fn, err)
		}
		return run(ws, cnt)
	})
}

// reserve grows the buffers to floats and counters ahead of a stream capture (growing while
// capturing is an error: reserveMatmul, reserveGroup, reserveAttention).
func (s *scratchBuffers) reserve(floats, counters int) error {
	return onContext(func() error {
		_, _, err := s.get(floats, counters)
		return err
	})
}

// get returns buffers of at least floats float32 and counters zeroed uint32 (call on the context's
// thread).
func (s *scratchBuffers) get(floats, counters int) (ws, cnt cu.DevicePtr, err error) {
	s.Lock()
	defer s.Unlock()
	if floats <= s.wsFloats && counters <= s.cntN {
		return s.ws, s.cnt, nil
	}
	if s.capturing {
		return 0, 0, fmt.Errorf("%d floats and %d counters needed while capturing a graph, %d and %d reserved (reserveMatmul first)", floats, counters, s.wsFloats, s.cntN)
	}
	f, c := max(floats, 2*s.wsFloats, 1<<10), max(counters, 2*s.cntN, 1<<8) // small first sizes: the tiny models' tests grow it too
	var nws, ncnt cu.DevicePtr
	if nws, err = memAlloc(int64(4 * f)); err != nil {
		return 0, 0, err
	}
	if ncnt, err = memAlloc(int64(4 * c)); err != nil {
		_ = memFree(nws, int64(4*f))
		return 0, 0, err
	}
	if err = cu.MemsetD32(ncnt, 0, int64(c)); err != nil {
		_ = memFree(nws, int64(4*f))
		_ = memFree(ncnt, int64(4*c))
		return 0, 0, err
	}
	if s.ws != 0 {
		s.retired = append(s.retired, s.ws, s.cnt)
	}
	s.ws, s.cnt, s.wsFloats, s.cntN = nws, ncnt, f, c
	return s.ws, s.cnt, nil
}
