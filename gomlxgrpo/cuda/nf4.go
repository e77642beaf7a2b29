//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"unsafe"

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

// NF4Scales are an NF4 weight's block scales: Absmax [n/64] float32, or with double quantization
// (Absmax 0) absmax[k] = Code[Q[k]]·Absmax2[k/256] + Offset (Q uint8, Code [256] and Absmax2 float32).
type NF4Scales struct {
	Absmax, Q, Code, Absmax2 cu.DevicePtr
	Offset                   float32
}

// NF4GEMV computes y [rows, out] float32 = x [rows, in] (bfloat16 bits) · Wᵀ for NF4 W [out, in],
// plus bias [out] (bfloat16 bits; 0 for none) and the LoRA term when lora is not nil, reading the
// 4-bit weights once per 32 rows (8 for batches of at most 8; 64 on the tensor-core form).
// in must be a multiple of 8. Asynchronous, like NF4Dequant.
func NF4GEMV(packed cu.DevicePtr, sc NF4Scales, x, y cu.DevicePtr, rows, in, out int, bias cu.DevicePtr, lora *LoRA) error {
	return matmul("NF4GEMV", "nf4_gemv_lora", "nf4_mma", true, x, y, rows, in, out, bias, lora,
		p(&packed), p(&sc.Absmax), p(&sc.Q), p(&sc.Code), p(&sc.Absmax2), p(&sc.Offset))
}

// NF4Matrix is one matrix of NF4GEMVGroup: NF4 W [Out, in] with its scales, the output y [rows, Out]
// float32, a bias (0 for none) and an adapter (nil for none).
type NF4Matrix struct {
	Packed cu.DevicePtr
	Scales NF4Scales
	Y      cu.DevicePtr
	Out    int
	Bias   cu.DevicePtr
	LoRA   *LoRA
}

// nf4Mat is one matrix of nf4_mma_n8g (kernels/nf4_mma.cu's NF4Mat), passed as its 14 fields in
// this order (params): gorgonia.org/cu's Launch copies 8 bytes per argument, so a struct cannot go
// by value (it did, and reached the kernel as its first pointer and the next arguments' bytes).
type nf4Mat struct {
	packed, absmax, absmaxQ, code2, absmax2, y, bias, u, loraB cu.DevicePtr
	offset                                                     float32
	out, tiles, r                                              int32
	scale                                                      float32
	_                                                          int32 // Launch reads 8 bytes at &scale
}

// params are m's kernel arguments, NF4MAT_PARAMS' order.
func (m *nf4Mat) params() []unsafe.Pointer {
	return []unsafe.Pointer{p(&m.packed), p(&m.absmax), p(&m.absmaxQ), p(&m.code2), p(&m.absmax2), p(&m.y), p(&m.bias), p(&m.u), p(&m.loraB),
		p(&m.offset), p(&m.out), p(&m.tiles), p(&m.r), p(&m.scale)}
}

// groupedMMA selects nf4_mma_n8g for the decoder's q/k/v and gate/up groups: the default since it
// was timed (H100, Qwen2.5-1.5B shape, batch 8: 2.80 vs 3.17 ms per decode step, GRPO step 0.88 vs
// 0.99 s; bench/RESULTS.md, seventh session); GOMLXGRPO_MMA_GROUP=0 turns it off.
var groupedMMA = os.Getenv("GOMLXGRPO_MMA_GROUP") != "0"

// groupable reports whether NF4GEMVGroup runs rows × in in one launch: the tensor-core forms
// (nf4_mma_n8g and n8gw up to 8 rows, nf4_mma_s64g beyond), with in a multiple of 64.
func groupable(rows, in int) bool { return groupedMMA && tensorCores && in%64 == 0 }

// groupWarpTiles reports whether a group's grid numbers blocks of 4 tiles of 16 output rows (the
// warp-tile forms nf4_mma_n8gw and nf4_mma_s64g) rather than single tiles (nf4_mma_n8g).
func groupWarpTiles(rows, in int, outs []int) bool { return rows > 8 || n8WarpTiles(in, sum(outs)) }

// NF4GEMVGroup is NF4GEMV for 1 to 3 matrices that read the same x [rows, in]: one launch
// (nf4_mma_n8g, nf4_mma_n8gw or nf4_mma_s64g) where groupable, else one NF4GEMV each.
func NF4GEMVGroup(ms []NF4Matrix, x cu.DevicePtr, rows, in int) error {
	if len(ms) < 1 || len(ms) > 3 {
		return fmt.Errorf("cuda: NF4GEMVGroup takes 1 to 3 matrices, got %d", len(ms))
	}
	if !groupable(rows, in) {
		for _, m := range ms {
			if err := NF4GEMV(m.Packed, m.Scales, x, m.Y, rows, in, m.Out, m.Bias, m.LoRA); err != nil {
				return err
			}
		}
		return nil
	}
	outs := make([]int, len(ms))
	for i, m := range ms {
		outs[i] = m.Out
	}
	wt := groupWarpTiles(rows, in, outs)
	tiles, total := groupTiles(outs, wt)
	var args [3]nf4Mat
	for i, m := range ms {
		u, b, r, scale := m.LoRA.args()
		args[i] = nf4Mat{packed: m.Packed, absmax: m.Scales.Absmax, absmaxQ: m.Scales.Q, code2: m.Scales.Code, absmax2: m.Scales.Absmax2,
			y: m.Y, bias: m.Bias, u: u, loraB: b, offset: m.Scales.Offset, out: int32(m.Out), tiles: tiles[i], r: r, scale: scale}
	}
	name, grid, threads, shared, floats, counters := mmaKernelForm("nf4_mma", rows, in, groupRows(total, wt), true, wt) // the n8 form's grid over all tiles
	name = map[string]string{"nf4_mma_n8": "nf4_mma_n8g", "nf4_mma_n8w": "nf4_mma_n8gw", "nf4_mma_s64": "nf4_mma_s64g"}[name]
	rows32, in32 := int32(rows), int32(in)
	return splitK.with("NF4GEMVGroup", floats, counters, func(ws, cnt cu.DevicePtr) error {
		params := append(append(args[0].params(), args[1].params()...), args[2].params()...)
		return launch(name, grid, threads, shared, append(params, p(&x), p(&rows32), p(&in32), p(&ws), p(&cnt))...)
	})
}

// groupTiles returns each matrix's tiles in nf4_mma_n8g's grid (matrices of outs rows, at most 3)
// and their total: tiles of 16 output rows, or with warp tiles (nf4_mma_n8gw, nf4_mma_s64g) blocks of 4 of them,
// so that no block spans two matrices.
func groupTiles(outs []int, warpTiles bool) (tiles [3]int32, total int) {
	rows := 16
	if warpTiles {
		rows = 16 * mmaWarps
	}
	for i, out := range outs {
		t := (out + rows - 1) / rows
		tiles[i], total = int32(t), total+t
	}
	return tiles, total
}

// groupRows is the output rows whose grid mmaKernelForm sizes for a group of total tiles
// (groupTiles with warpTiles).
func groupRows(total int, warpTiles bool) int {
	if warpTiles {
		return 16 * mmaWarps * total
	}
	return 16 * total
}

func sum(v []int) (s int) {
	for _, x := range v {
		s += x
	}
	return s
}

// reserveGroup is reserveMatmul for NF4GEMVGroup's one launch over matrices of outs rows.
func reserveGroup(rows, in int, outs []int) error {
	if !tensorCores || in%64 != 0 {
		return nil
	}
	wt := groupWarpTiles(rows, in, outs)
	_, total := groupTiles(outs, wt)
	_, _, _, _, floats, counters := mmaKernelForm("", rows, in, groupRows(total, wt), true, wt)
	return splitK.reserve(floats, counters)
}
