//go:build cuda

package cuda

import (
	"cmp"
	"fmt"
	"sync"
	"unsafe"

	"gorgonia.org/cu"
)

// NF4Weights is one NF4 matrix [out, in]: its packed codes and scales (NF4GEMV's arguments).
type NF4Weights struct {
	Packed cu.DevicePtr
	Scales NF4Scales
}

// MLPBuffers are DecodeMLP's outputs: xo [B, D] bf16 (the residual x + ya; not written when ya
// is 0), h [B, D] bf16 (the norm's output; 0: not written), g and u [B, F] float32 (gate and up),
// act [B, F] bf16 (the SwiGLU; 0: not written) and y [B, D] float32 (down).
type MLPBuffers struct {
	XO, H, G, U, Act, Y cu.DevicePtr
}

// Adapter is one projection's LoRA adapter for DecodeMLP: A [r, in] and B [out, r] float32 (the
// model's LoRA weights, read in place), scaled by Scale.
type Adapter struct {
	A, B  cu.DevicePtr
	Scale float32
}

// MLPAdapters are the LoRA adapters of DecodeMLP's three projections: all three, of one rank R.
type MLPAdapters struct {
	Gate, Up, Down Adapter
	R              int
}

// NextNorm is the norm after DecodeMLP's residual add (the next layer's input norm, or the final
// one), in the same launch as ResidualRMSNormLoRA (or ResidualRMSNorm, without adapters) computes
// it: XO [B, D] bf16 = xo + bf16(y), H [B, D] bf16 = rmsnorm(XO)·W, and U[m] [B, R] float32 =
// H·A[m]ᵀ for up to 3 adapters A[m] [R, D] float32 (the next projections' LoRA down-projections).
// XO must not be the rows it adds to (xo, or x without a residual); it may be x otherwise.
type NextNorm struct {
	W, XO, H cu.DevicePtr
	A, U     []cu.DevicePtr
	R        int
}

// OProj is the o projection that DecodeMLP computes first when MLPOptions.O is set (phase O, as
// LoRADown + NF4GEMV do): ya [B, D] float32 = attn·W_oᵀ (+ s·(attn·Aᵀ)·Bᵀ with LoRA of rank R),
// attn [B, In] bf16, then a grid barrier before the norm reads it as its residual.
type OProj struct {
	Attn cu.DevicePtr
	W    NF4Weights
	In   int
	LoRA *Adapter // nil: none
	R    int
}

// MLPOptions are DecodeMLP's optional parts: the MLP's LoRA adapters, the o projection before it
// and the norm after it (nil: none).
type MLPOptions struct {
	LoRA *MLPAdapters
	Next *NextNorm
	O    *OProj
}

// DecodeMLP runs decode_mlp_n8 (kernels/decode_mlp.cu): a layer's MLP half for rows ≤ 8 on NF4
// weights, in one cooperative launch of blocks 128-thread blocks (0: as many as fit at once) with
// one grid barrier, as the decoder's four launches do (residual_rmsnorm_bf16 or its LoRA form, the
// gate/up matmuls, swiglu_bf16 or its LoRA form, the down matmul):
//
//	xo = bf16(x + bf16(ya));  h = rmsnorm(xo)·wn;  g, u = h·Wgᵀ, h·Wuᵀ (+ s·(h·Aᵀ)·Bᵀ each)
//	y = a·Wdᵀ (+ s·(a·Adᵀ)·Bdᵀ),  a = swiglu(g, u)
//
// x, wn [D] bf16 and ya [B, D] float32 (0: no residual). opt.LoRA: the adapters; opt.Next: the
// norm after the residual add, in the same launch once every tile of y is done; opt.O: ya is first
// computed as the o projection (another grid barrier). The first piece of a persistent decode
// step, timed against the decoder's launches by BenchmarkDecodeMLP; the decoder runs it with
// GOMLXGRPO_DECODE_MLP=mlp, =fused (with the next norm) or =fused+o (and the o projection).
func DecodeMLP(x, ya, wn cu.DevicePtr, eps float32, gate, up, down NF4Weights, out MLPBuffers, rows, d, f, blocks int, opt MLPOptions) error {
	if err := checkDecodeMLP(rows, d, f, ya != 0 && out.XO == x, opt.LoRA); err != nil {
		return err
	}
	var nn NextNorm
	if opt.Next != nil {
		src := x // the rows the next norm adds y to
		if ya != 0 {
			src = out.XO
		}
		if err := checkNextNorm(opt.Next, src); err != nil {
			return err
		}
		nn = *opt.Next
	}
	var op OProj
	var oa Adapter
	if opt.O != nil {
		if err := checkOProj(opt.O, ya); err != nil {
			return err
		}
		op = *opt.O
		if op.LoRA != nil {
			oa = *op.LoRA
		} else {
			op.R = 0
		}
	}
	var a3, u3 [3]cu.DevicePtr
	copy(a3[:], nn.A)
	copy(u3[:], nn.U)
	r2, n2 := int32(nn.R), int32(len(nn.A))
	blocks, sp, err := mlpGrid(d, f, op.In, blocks)
	if err != nil {
		return err
	}
	bar, err := gridBarrierState()
	if err != nil {
		return err
	}
	var ad MLPAdapters
	if opt.LoRA != nil {
		ad = *opt.LoRA
	}
	floats, counters := mlpScratch(d, sp, ad.R, op.R)
	r32, d32, f32, z32, rank := int32(rows), int32(d), int32(f), int32(sp.z), int32(ad.R)
	ro, nh, zo := int32(op.R), int32(op.In), int32(sp.zo)
	return splitK.with("DecodeMLP", floats, counters, func(ws, cnt cu.DevicePtr) error {
		args := []any{&x, &ya, &wn, &eps, &out.XO, &out.H}
		mat := func(m *NF4Weights) {
			args = append(args, &m.Packed, &m.Scales.Absmax, &m.Scales.Q, &m.Scales.Code, &m.Scales.Absmax2, &m.Scales.Offset)
		}
		for _, m := range []*NF4Weights{&gate, &up, &down} {
			mat(m)
		}
		args = append(args, &out.G, &out.U, &out.Act, &out.Y, &r32, &d32, &f32, &z32, &ws, &cnt, &bar)
		for _, a := range []*Adapter{&ad.Gate, &ad.Up, &ad.Down} {
			args = append(args, &a.A, &a.B, &a.Scale)
		}
		args = append(args, &rank, &nn.W, &nn.XO, &nn.H, &a3[0], &a3[1], &a3[2], &u3[0], &u3[1], &u3[2], &r2, &n2, &op.Attn)
		mat(&op.W)
		args = append(args, &oa.A, &oa.B, &oa.Scale, &ro, &nh, &zo)
		ptrs := make([]unsafe.Pointer, len(args))
		for i, a := range args {
			ptrs[i] = p(a)
		}
		return launchCooperative("decode_mlp_n8", blocks, 128, shared(sp), ptrs...)
	})
}

// checkDecodeMLP refuses what decode_mlp_n8 does not take, before any GPU work (aliased: xo is x
// while a residual is added, which the blocks still read).
func checkDecodeMLP(rows, d, f int, aliased bool, lora *MLPAdapters) error {
	switch {
	case rows < 1 || rows > 8:
		return fmt.Errorf("cuda: DecodeMLP takes 1 to 8 rows, got %d", rows)
	case d%64 != 0 || f%64 != 0:
		return fmt.Errorf("cuda: DecodeMLP needs D and F multiples of 64, got %d and %d", d, f)
	case aliased:
		return fmt.Errorf("cuda: DecodeMLP writes x + ya to another buffer than x (its blocks still read x)")
	case lora == nil:
		return nil
	case lora.R < 1 || lora.R > maxMLPRank:
		return fmt.Errorf("cuda: DecodeMLP takes LoRA ranks 1 to %d, got %d", maxMLPRank, lora.R)
	}
	for _, a := range []struct {
		name string
		ad   Adapter
	}{{"gate", lora.Gate}, {"up", lora.Up}, {"down", lora.Down}} {
		if a.ad.A == 0 || a.ad.B == 0 {
			return fmt.Errorf("cuda: DecodeMLP: the %s adapter has no A or B (it takes adapters on all three projections, or none)", a.name)
		}
	}
	return nil
}

// checkNextNorm refuses a NextNorm decode_mlp_n8 cannot apply: src is the rows it adds y to.
func checkNextNorm(n *NextNorm, src cu.DevicePtr) error {
	switch {
	case n.W == 0 || n.XO == 0 || n.H == 0:
		return fmt.Errorf("cuda: DecodeMLP: the next norm needs its weight and its XO and H outputs")
	case n.XO == src:
		return fmt.Errorf("cuda: DecodeMLP: the next norm writes x + y to another buffer than the one it reads (its blocks still read it)")
	case len(n.A) > 3 || len(n.U) != len(n.A):
		return fmt.Errorf("cuda: DecodeMLP: the next norm takes up to 3 adapters and as many outputs, got %d and %d", len(n.A), len(n.U))
	case len(n.A) > 0 && n.R < 1:
		return fmt.Errorf("cuda: DecodeMLP: the next norm's adapters need a rank ≥ 1, got %d", n.R)
	}
	return nil
}

// checkOProj refuses an OProj decode_mlp_n8 cannot apply (ya: where it writes).
func checkOProj(o *OProj, ya cu.DevicePtr) error {
	switch {
	case ya == 0 || o.Attn == 0 || o.W.Packed == 0:
		return fmt.Errorf("cuda: DecodeMLP: the o projection needs its input, its NF4 weight and ya to write")
	case o.In < 64 || o.In%64 != 0:
		return fmt.Errorf("cuda: DecodeMLP: the o projection's input size must be a multiple of 64, got %d", o.In)
	case o.LoRA != nil && (o.R < 1 || o.R > maxMLPRank || o.LoRA.A == 0 || o.LoRA.B == 0):
		return fmt.Errorf("cuda: DecodeMLP: the o projection's adapter needs A, B and a rank of 1 to %d, got %d", maxMLPRank, o.R)
	}
	return nil
}

// maxMLPRank bounds DecodeMLP's rank (its LoRA scratch is [Z + 3][8][r] floats).
const maxMLPRank = 256

// mlpGrid resolves DecodeMLP's grid (blocks 0: the most that fit on the card at once, 3 per SM
// at decode_mlp_n8's 168 registers: one per SM leaves 4 warps per SM to keep the weights' loads in
// flight) and checks that it can be co-resident; nh: the o projection's inputs (0: none).
func mlpGrid(d, f, nh, blocks int) (int, mlpSplits, error) {
	// With blocks 0 the occupancy is asked at one block per SM's staging, which only shrinks
	// as the grid grows (more splits of F and NH), so the grid it allows stays resident.
	sp := mlpSplit(d, f, nh, cmp.Or(blocks, multiprocessors()))
	if err := mlpSharedMemory(shared(sp)); err != nil {
		return 0, sp, fmt.Errorf("cuda: DecodeMLP: D=%d, F=%d: %w", d, f, err)
	}
	most, err := cooperativeBlocks("decode_mlp_n8", 128, shared(sp))
	if err != nil {
		return 0, sp, err
	}
	if blocks == 0 {
		blocks = most
	}
	if blocks > most {
		return 0, sp, fmt.Errorf("cuda: DecodeMLP: %d blocks cannot all be resident at once (at most %d with %d bytes of shared memory each)", blocks, most, shared(sp))
	}
	return blocks, mlpSplit(d, f, nh, blocks), nil
}

// mlpShared is the dynamic shared memory decode_mlp_n8 has been let take (above the default 48
// KiB: the 8 staged rows of D = 4,096 take 64 KiB). Set before a graph capture by
// reserveDecodeMLP, so that the capture's own launches need no new attribute.
var mlpShared struct {
	sync.Mutex
	bytes int
}

// mlpSharedMemory lets decode_mlp_n8 take bytes of dynamic shared memory per block.
func mlpSharedMemory(bytes int) error {
	mlpShared.Lock()
	defer mlpShared.Unlock()
	if bytes <= max(mlpShared.bytes, 48<<10) {
		return nil
	}
	if err := onContext(func() error { return allowSharedMemory("decode_mlp_n8", bytes) }); err != nil {
		return err
	}
	mlpShared.bytes = bytes
	return nil
}

// mlpSplits are DecodeMLP's splits for a grid: z of F for the down matmul and zo of NH for the o
// projection (about one task per block: groups of 64 outputs × splits), and the staged row's
// width, stride uint4 (decode_mlp.cu's header).
type mlpSplits struct{ z, zo, stride int }

// mlpSplit is DecodeMLP's splits on blocks blocks (nh: the o projection's inputs, 0: none).
func mlpSplit(d, f, nh, blocks int) mlpSplits {
	groups := (d + 63) / 64
	split := func(chunks int) (z, per int) {
		z = max(1, min(blocks/groups, chunks))
		per = (chunks + z - 1) / z
		return (chunks + per - 1) / per, per
	}
	z, per2 := split((f + 127) / 128)
	zo, perO := 1, 0
	if nh > 0 {
		zo, perO = split((nh + 127) / 128)
	}
	return mlpSplits{z: z, zo: zo, stride: 16*max((d+127)/128, per2, perO) + 1}
}

// shared is the dynamic shared memory the staged rows take: 8 rows of stride uint4.
func shared(sp mlpSplits) int { return 8 * sp.stride * 16 }

// mlpScratch is DecodeMLP's scratch for its splits, adapters of rank r (0: none) and an o adapter
// of rank ro: the down matmul's split-K partials [tiles][z][4][32] float32 (a warp tile per 16 of
// the d outputs), the LoRA down-projections' pu [z][8][r] and lu [3][8][r], the o projection's
// partials [tiles][zo][4][32] and its down-projection [8][ro]; a counter per tile for each of the
// two matmuls.
func mlpScratch(d int, sp mlpSplits, r, ro int) (floats, counters int) {
	tiles := (d + 63) / 64 * 4
	return tiles*sp.z*32*4 + (sp.z+3)*8*r + tiles*sp.zo*32*4 + 8*ro, 2 * tiles
}

// gridBarrierState is the cooperative kernels' state for the launches on the package's stream,
// allocated and zeroed once: the grid barrier's two uint32 (kernels/grid_barrier.cuh: it leaves
// its count at 0), then decode_mlp_n8's LoRA counts and flag and its next norm's counts (its
// header), in gridStateWords uint32. The launches on one stream run one after another.
const gridStateWords = 8

var gridBar struct {
	sync.Mutex
	ptr cu.DevicePtr
}

func gridBarrierState() (cu.DevicePtr, error) {
	gridBar.Lock()
	defer gridBar.Unlock()
	if gridBar.ptr != 0 {
		return gridBar.ptr, nil
	}
	err := onContext(func() error {
		ptr, err := memAlloc(4 * gridStateWords)
		if err != nil {
			return err
		}
		if err := cu.MemsetD32(ptr, 0, gridStateWords); err != nil {
			_ = memFree(ptr, 4*gridStateWords)
			return err
		}
		gridBar.ptr = ptr
		return nil
	})
	return gridBar.ptr, err
}

// reserveDecodeMLP sets up what DecodeMLP needs before a graph capture (which may not allocate)
// for adapters of rank r, an o projection of nh inputs and an o adapter of rank ro (0: none): its
// scratch and the grid barrier's state.
func reserveDecodeMLP(d, f, nh, blocks, r, ro int) error {
	_, sp, err := mlpGrid(d, f, nh, blocks)
	if err != nil {
		return err
	}
	if err := splitK.reserve(mlpScratch(d, sp, r, ro)); err != nil {
		return err
	}
	_, err = gridBarrierState()
	return err
}
