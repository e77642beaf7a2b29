//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"gorgonia.org/cu"
)

// newMLPWeights quantizes random gate, up [F, D] and down [D, F] matrices onto the device.
func newMLPWeights(t testing.TB, be compute.Backend, rng *rand.Rand, D, F int) (gate, up, down NF4Weights) {
	t.Helper()
	put := func(out, in int) NF4Weights {
		q := randomNF4(rng, out, in)
		_, pp := onDevice(t, be, q.Packed, len(q.Packed))
		_, pa := onDevice(t, be, q.Absmax, len(q.Absmax))
		return NF4Weights{Packed: pp, Scales: NF4Scales{Absmax: pa}}
	}
	return put(F, D), put(F, D), put(D, F)
}

// newMLPAdapters puts random LoRA adapters of rank r on gate, up [F, D] and down [D, F] on the
// device (nil for r = 0), with distinct scales.
func newMLPAdapters(t testing.TB, be compute.Backend, rng *rand.Rand, D, F, r int) *MLPAdapters {
	t.Helper()
	if r == 0 {
		return nil
	}
	put := func(out, in int, scale float32) Adapter {
		_, pa := onDevice(t, be, randF32(rng, r*in, 0.05), r, in)
		_, pb := onDevice(t, be, randF32(rng, out*r, 0.05), out, r)
		return Adapter{A: pa, B: pb, Scale: scale}
	}
	return &MLPAdapters{Gate: put(F, D, 0.5), Up: put(F, D, 2), Down: put(D, F, 1.25), R: r}
}

// TestDecodeMLP checks DecodeMLP (decode_mlp_n8, one cooperative launch) against the decoder's
// four launches on the same inputs: ResidualRMSNorm or, with adapters, ResidualRMSNormLoRA (xo and
// h must be its bits), the gate/up NF4GEMVGroup with their LoRA up-projections (g and u within the
// float32 rounding of two summation orders), SwiGLU or SwiGLULoRA on the fused kernel's own g and
// u (act must be its bits) and the down NF4GEMV on that act (y within rounding). Shapes: the
// Qwen2.5-1.5B MLP at batch 8, fewer rows, a ragged F; grids of as many blocks as fit at once, one
// per SM, and fewer blocks than the down matmul's tasks; no adapters and rank 16 (the GRPO
// step's), and rank 5 (lora_up's scalar loop). With adapters it launches twice, the second time
// with other adapters, on the one barrier state: the LoRA flag one launch leaves must not let the
// next one's epilogues read the earlier down-projections. With the next norm (NextNorm: q/k/v
// adapters of rank 16, or none as the final norm), its xo, h and down-projections must be
// ResidualRMSNormLoRA's (ResidualRMSNorm's) bits on the fused kernel's own xo and y. With the o
// projection first (OProj, with an adapter of rank 16 or none), ya must be LoRADown + NF4GEMV's
// within rounding, and the rest is checked on the fused kernel's ya.
func TestDecodeMLP(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(21)
	for _, c := range []struct{ rows, d, f, blocks, r, next, o int }{ // next: the next norm's adapters, o: the o adapter's rank (-1: none)
		{8, 1536, 8960, 0, 0, -1, -1},  // as many blocks as fit at once
		{3, 1536, 8960, -1, 0, -1, -1}, // one per SM
		{8, 512, 1344, 7, 0, -1, -1},   // fewer blocks than tasks; F not a multiple of 128
		{8, 1536, 8960, 0, 16, -1, -1}, // the 1.5B GRPO step's decode
		{8, 1536, 8960, -1, 16, 3, -1}, // … with the next layer's input norm and its q/k/v adapters
		{5, 512, 1344, 7, 5, 0, -1},    // the final norm
		{8, 1536, 8960, 0, 16, 3, 16},  // the o projection first, with its adapter
		{3, 512, 1344, 7, 0, -1, 0},    // … without, fewer blocks than tasks
		{2, 4096, 1024, 0, 16, 3, 16},  // the 8B hidden size: 64 KiB of staged rows, past the default 48
	} {
		if c.blocks < 0 {
			c.blocks = multiprocessors()
		}
		t.Run(fmt.Sprintf("rows=%d/d=%d/f=%d/blocks=%d/r=%d/next=%d/o=%d", c.rows, c.d, c.f, c.blocks, c.r, c.next, c.o), func(t *testing.T) {
			B, D, F, r := c.rows, c.d, c.f, c.r
			gate, up, down := newMLPWeights(t, be, rng, D, F)
			_, xh := randBF16(rng, B*D, 1)
			ya := randF32(rng, B*D, 1)
			_, wh := randBF16(rng, D, 1)
			_, px := onDevice(t, be, xh, B, D)
			xrT, pxr := onDevice(t, be, xh, B, D) // the reference's copy, which ResidualRMSNorm updates in place
			yaT, pya := onDevice(t, be, ya, B, D)
			_, pw := onDevice(t, be, wh, D)
			launches := 1
			if r > 0 {
				launches = 2
			}
			for launch := range launches {
				lora := newMLPAdapters(t, be, rng, D, F, r)
				xoT, pxo := zerosOnDevice(t, be, dtypes.BFloat16, B, D)
				hT, ph := zerosOnDevice(t, be, dtypes.BFloat16, B, D)
				gT, pg := zerosOnDevice(t, be, dtypes.Float32, B, F)
				uT, pu := zerosOnDevice(t, be, dtypes.Float32, B, F)
				actT, pact := zerosOnDevice(t, be, dtypes.BFloat16, B, F)
				yT, py := zerosOnDevice(t, be, dtypes.Float32, B, D)
				const eps = 1e-6
				var next *NextNorm
				var xo2T, h2T *tensors.Tensor
				var u2T []*tensors.Tensor
				if c.next >= 0 {
					_, wh2 := randBF16(rng, D, 1)
					_, pw2 := onDevice(t, be, wh2, D)
					var pxo2, ph2 cu.DevicePtr
					xo2T, pxo2 = zerosOnDevice(t, be, dtypes.BFloat16, B, D)
					h2T, ph2 = zerosOnDevice(t, be, dtypes.BFloat16, B, D)
					next = &NextNorm{W: pw2, XO: pxo2, H: ph2, R: 16}
					for range c.next {
						_, pa := onDevice(t, be, randF32(rng, 16*D, 0.05), 16, D)
						uT, pu := zerosOnDevice(t, be, dtypes.Float32, B, 16)
						next.A, next.U, u2T = append(next.A, pa), append(next.U, pu), append(u2T, uT)
					}
				}
				var op *OProj
				var yoT *tensors.Tensor
				var pattn cu.DevicePtr
				if c.o >= 0 {
					_, ah := randBF16(rng, B*D, 1)
					_, pattn = onDevice(t, be, ah, B, D)
					wo, _, _ := newMLPWeights(t, be, rng, D, D) // [D, D]
					op = &OProj{Attn: pattn, W: wo, In: D}
					if c.o > 0 {
						_, pa := onDevice(t, be, randF32(rng, c.o*D, 0.05), c.o, D)
						_, pb := onDevice(t, be, randF32(rng, D*c.o, 0.05), D, c.o)
						op.LoRA, op.R = &Adapter{A: pa, B: pb, Scale: 0.75}, c.o
					}
					var pyo cu.DevicePtr
					yoT, pyo = zerosOnDevice(t, be, dtypes.Float32, B, D) // the decoder's LoRADown + NF4GEMV on attn
					var lo *LoRA
					if c.o > 0 {
						_, puo := zerosOnDevice(t, be, dtypes.Float32, B, c.o)
						if err := LoRADown(pattn, op.LoRA.A, puo, B, D, c.o); err != nil {
							t.Fatal(err)
						}
						lo = &LoRA{U: puo, B: op.LoRA.B, R: c.o, Scale: op.LoRA.Scale}
					}
					if err := NF4GEMV(wo.Packed, wo.Scales, pattn, pyo, B, D, D, 0, lo); err != nil {
						t.Fatal(err)
					}
					syncT(t)
				}
				if err := DecodeMLP(px, pya, pw, eps, gate, up, down, MLPBuffers{XO: pxo, H: ph, G: pg, U: pu, Act: pact, Y: py}, B, D, F, c.blocks, MLPOptions{LoRA: lora, Next: next, O: op}); err != nil {
					t.Fatal(err)
				}
				syncT(t)
				if op != nil { // ya is now the fused kernel's o projection, which the checks below take as their residual
					yo := readDevice[float32](yoT)
					m := 0.0
					for _, v := range yo {
						m = math.Max(m, math.Abs(float64(v)))
					}
					near(t, fmt.Sprintf("launch %d: o projection", launch), readDevice[float32](yaT), yo, func(int) float64 { return 1e-4*m + 1e-6 })
				}
				if next != nil { // the norm kernels on the fused kernel's xo and y
					xn2T, pxn2 := zerosOnDevice(t, be, dtypes.BFloat16, B, D)
					hn2T, phn2 := zerosOnDevice(t, be, dtypes.BFloat16, B, D)
					var un []*tensors.Tensor
					if c.next > 0 {
						var us []cu.DevicePtr
						for range c.next {
							uT, pu := zerosOnDevice(t, be, dtypes.Float32, B, 16)
							un, us = append(un, uT), append(us, pu)
						}
						if err := ResidualRMSNormLoRA(pxo, py, next.W, pxn2, phn2, B, D, eps, next.A, us, 16); err != nil {
							t.Fatal(err)
						}
					} else {
						if err := onContext(func() error { return cu.MemcpyDtoD(pxn2, pxo, int64(2*B*D)) }); err != nil {
							t.Fatal(err)
						}
						if err := ResidualRMSNorm(pxn2, py, next.W, phn2, B, D, eps); err != nil {
							t.Fatal(err)
						}
					}
					syncT(t)
					exact := func(int) float64 { return 0 }
					near(t, fmt.Sprintf("launch %d: next norm's xo", launch), readBF16(t, xo2T), readBF16(t, xn2T), exact)
					near(t, fmt.Sprintf("launch %d: next norm's h", launch), readBF16(t, h2T), readBF16(t, hn2T), exact)
					for m := range un {
						near(t, fmt.Sprintf("launch %d: next norm's u[%d]", launch, m), readDevice[float32](u2T[m]), readDevice[float32](un[m]), exact)
					}
				}
				xroT, pxro := zerosOnDevice(t, be, dtypes.BFloat16, B, D) // ResidualRMSNormLoRA's x + ya
				hrT, phr := zerosOnDevice(t, be, dtypes.BFloat16, B, D)
				grT, pgr := zerosOnDevice(t, be, dtypes.Float32, B, F)
				urT, pur := zerosOnDevice(t, be, dtypes.Float32, B, F)
				acrT, pacr := zerosOnDevice(t, be, dtypes.BFloat16, B, F)
				yrT, pyr := zerosOnDevice(t, be, dtypes.Float32, B, D)
				var lg, lu, ld *LoRA
				if lora != nil {
					_, pug := zerosOnDevice(t, be, dtypes.Float32, B, r)
					_, puu := zerosOnDevice(t, be, dtypes.Float32, B, r)
					_, pud := zerosOnDevice(t, be, dtypes.Float32, B, r)
					if err := ResidualRMSNormLoRA(pxr, pya, pw, pxro, phr, B, D, eps, []cu.DevicePtr{lora.Gate.A, lora.Up.A}, []cu.DevicePtr{pug, puu}, r); err != nil {
						t.Fatal(err)
					}
					if err := SwiGLULoRA(pg, pu, pacr, B, F, 0, lora.Down.A, pud, r); err != nil { // on the fused kernel's g and u
						t.Fatal(err)
					}
					lg = &LoRA{U: pug, B: lora.Gate.B, R: r, Scale: lora.Gate.Scale}
					lu = &LoRA{U: puu, B: lora.Up.B, R: r, Scale: lora.Up.Scale}
					ld = &LoRA{U: pud, B: lora.Down.B, R: r, Scale: lora.Down.Scale}
				} else {
					if launch > 0 {
						t.Fatal("one launch without adapters") // ResidualRMSNorm below updates pxr in place
					}
					xroT = xrT
					if err := ResidualRMSNorm(pxr, pya, pw, phr, B, D, eps); err != nil {
						t.Fatal(err)
					}
					if err := SwiGLU(pg, pu, pacr, B, F, 0); err != nil { // on the fused kernel's g and u
						t.Fatal(err)
					}
				}
				if err := NF4GEMVGroup([]NF4Matrix{{Packed: gate.Packed, Scales: gate.Scales, Y: pgr, Out: F, LoRA: lg}, {Packed: up.Packed, Scales: up.Scales, Y: pur, Out: F, LoRA: lu}}, phr, B, D); err != nil {
					t.Fatal(err)
				}
				if err := NF4GEMV(down.Packed, down.Scales, pact, pyr, B, F, D, 0, ld); err != nil { // on the fused kernel's act
					t.Fatal(err)
				}
				syncT(t)
				same := func(what string, got, want []float32) {
					t.Helper()
					near(t, fmt.Sprintf("launch %d: %s", launch, what), got, want, func(int) float64 { return 0 })
				}
				same("xo", readBF16(t, xoT), readBF16(t, xroT))
				same("h", readBF16(t, hT), readBF16(t, hrT))
				same("act", readBF16(t, actT), readBF16(t, acrT))
				rel := func(want []float32) func(int) float64 {
					m := 0.0
					for _, v := range want {
						m = math.Max(m, math.Abs(float64(v)))
					}
					return func(int) float64 { return 1e-4*m + 1e-6 }
				}
				gr, ur, yr := readDevice[float32](grT), readDevice[float32](urT), readDevice[float32](yrT)
				near(t, fmt.Sprintf("launch %d: g", launch), readDevice[float32](gT), gr, rel(gr))
				near(t, fmt.Sprintf("launch %d: u", launch), readDevice[float32](uT), ur, rel(ur))
				near(t, fmt.Sprintf("launch %d: y", launch), readDevice[float32](yT), yr, rel(yr))
			}
		})
	}
}

// BenchmarkDecodeMLP times 28 layers' MLP halves (the Qwen2.5-1.5B shape at batch 8, distinct
// weights per layer so that L2 holds none of them) replayed as one CUDA graph: the decoder's four
// launches per layer (norm, gate/up, SwiGLU, down) against one DecodeMLP launch per layer, with as
// many blocks as fit at once and with one per SM; without adapters, and with rank-16 adapters on
// all three projections (the decoder's LoRA launches against DecodeMLP's), then also with the
// norm that follows (ResidualRMSNormLoRA with q/k/v adapters, against DecodeMLP's NextNorm), then
// also with the o projection before (LoRADown + NF4GEMV, against DecodeMLP's OProj).
func BenchmarkDecodeMLP(b *testing.B) {
	be := xlaBackend(b)
	rng := rand.New(rand.NewPCG(1, 5))
	const layers, B, D, F = 28, 8, 1536, 8960
	g0, u0, d0 := newMLPWeights(b, be, rng, D, F) // quantized once, copied per layer
	copyOf := func(w NF4Weights, n int) NF4Weights {
		var packed, absmax cu.DevicePtr
		err := onContext(func() (err error) {
			if packed, err = memAlloc(int64(n / 2)); err != nil {
				return err
			}
			if absmax, err = memAlloc(int64(4 * n / 64)); err != nil {
				return err
			}
			if err = cu.MemcpyDtoD(packed, w.Packed, int64(n/2)); err != nil {
				return err
			}
			return cu.MemcpyDtoD(absmax, w.Scales.Absmax, int64(4*n/64))
		})
		if err != nil {
			b.Fatal(err)
		}
		return NF4Weights{Packed: packed, Scales: NF4Scales{Absmax: absmax}}
	}
	o0, _, _ := newMLPWeights(b, be, rng, D, D) // the o projection [D, D]
	type layer struct{ gate, up, down, o NF4Weights }
	ls := make([]layer, layers)
	for l := range ls {
		ls[l] = layer{copyOf(g0, F*D), copyOf(u0, F*D), copyOf(d0, D*F), copyOf(o0, D*D)}
	}
	_, xh := randBF16(rng, B*D, 0.01)
	_, px := onDevice(b, be, xh, B, D)
	_, pxo := zerosOnDevice(b, be, dtypes.BFloat16, B, D)
	_, pya := onDevice(b, be, randF32(rng, B*D, 0.01), B, D)
	_, wh := randBF16(rng, D, 1)
	_, pw := onDevice(b, be, wh, D)
	_, ph := zerosOnDevice(b, be, dtypes.BFloat16, B, D)
	_, pg := zerosOnDevice(b, be, dtypes.Float32, B, F)
	_, pu := zerosOnDevice(b, be, dtypes.Float32, B, F)
	_, pact := zerosOnDevice(b, be, dtypes.BFloat16, B, F)
	_, py := zerosOnDevice(b, be, dtypes.Float32, B, D)
	if err := reserveGroup(B, D, []int{F, F}); err != nil {
		b.Fatal(err)
	}
	if err := reserveMatmul(B, F, D, true); err != nil {
		b.Fatal(err)
	}
	const r = 16 // the GRPO step's adapters: one set for every layer (1.3 MB: L2 may hold them, for both forms alike)
	lora := newMLPAdapters(b, be, rng, D, F, r)
	_, pug := zerosOnDevice(b, be, dtypes.Float32, B, r)
	_, puu := zerosOnDevice(b, be, dtypes.Float32, B, r)
	_, pud := zerosOnDevice(b, be, dtypes.Float32, B, r)
	for _, blocks := range []int{0, multiprocessors()} {
		if err := reserveDecodeMLP(D, F, D, blocks, r, r); err != nil { // the largest scratch: with the o projection
			b.Fatal(err)
		}
	}
	chain := func() error {
		for _, l := range ls {
			if err := ResidualRMSNorm(px, pya, pw, ph, B, D, 1e-6); err != nil {
				return err
			}
			if err := NF4GEMVGroup([]NF4Matrix{{Packed: l.gate.Packed, Scales: l.gate.Scales, Y: pg, Out: F}, {Packed: l.up.Packed, Scales: l.up.Scales, Y: pu, Out: F}}, ph, B, D); err != nil {
				return err
			}
			if err := SwiGLU(pg, pu, pact, B, F, 0); err != nil {
				return err
			}
			if err := NF4GEMV(l.down.Packed, l.down.Scales, pact, py, B, F, D, 0, nil); err != nil {
				return err
			}
		}
		return nil
	}
	// chainLoRA: the decoder's launches with adapters (its default fused LoRA kernels).
	chainLoRA := func() error {
		lg := &LoRA{U: pug, B: lora.Gate.B, R: r, Scale: lora.Gate.Scale}
		lu := &LoRA{U: puu, B: lora.Up.B, R: r, Scale: lora.Up.Scale}
		ld := &LoRA{U: pud, B: lora.Down.B, R: r, Scale: lora.Down.Scale}
		for _, l := range ls {
			if err := ResidualRMSNormLoRA(px, pya, pw, pxo, ph, B, D, 1e-6, []cu.DevicePtr{lora.Gate.A, lora.Up.A}, []cu.DevicePtr{pug, puu}, r); err != nil {
				return err
			}
			if err := NF4GEMVGroup([]NF4Matrix{{Packed: l.gate.Packed, Scales: l.gate.Scales, Y: pg, Out: F, LoRA: lg}, {Packed: l.up.Packed, Scales: l.up.Scales, Y: pu, Out: F, LoRA: lu}}, ph, B, D); err != nil {
				return err
			}
			if err := SwiGLULoRA(pg, pu, pact, B, F, 0, lora.Down.A, pud, r); err != nil {
				return err
			}
			if err := NF4GEMV(l.down.Packed, l.down.Scales, pact, py, B, F, D, 0, ld); err != nil {
				return err
			}
		}
		return nil
	}
	// With the next norm (the next layer's input norm and its q/k/v adapters' down-projections):
	// ResidualRMSNormLoRA after the four launches, against DecodeMLP's phase 3.
	_, px2 := zerosOnDevice(b, be, dtypes.BFloat16, B, D)
	next := &NextNorm{W: pw, XO: px2, H: ph, R: r}
	for range 3 {
		_, pa := onDevice(b, be, randF32(rng, r*D, 0.05), r, D)
		_, pu := zerosOnDevice(b, be, dtypes.Float32, B, r)
		next.A, next.U = append(next.A, pa), append(next.U, pu)
	}
	chainNorm := func() error {
		if err := chainLoRA(); err != nil {
			return err
		}
		for range ls { // the norms, one per layer (after each layer's four launches in the decoder)
			if err := ResidualRMSNormLoRA(pxo, py, pw, px2, ph, B, D, 1e-6, next.A, next.U, r); err != nil {
				return err
			}
		}
		return nil
	}
	// With the o projection before (its LoRA down-projection and NF4 matmul on the attention's
	// output, as the decoder launches them), against DecodeMLP's phase O.
	_, ah := randBF16(rng, B*D, 1)
	_, pattn := onDevice(b, be, ah, B, D)
	oa := &Adapter{Scale: 2}
	_, oa.A = onDevice(b, be, randF32(rng, r*D, 0.05), r, D)
	_, oa.B = onDevice(b, be, randF32(rng, D*r, 0.05), D, r)
	_, puo := zerosOnDevice(b, be, dtypes.Float32, B, r)
	if err := reserveMatmul(B, D, D, true); err != nil {
		b.Fatal(err)
	}
	chainO := func() error {
		for _, l := range ls {
			if err := LoRADown(pattn, oa.A, puo, B, D, r); err != nil {
				return err
			}
			if err := NF4GEMV(l.o.Packed, l.o.Scales, pattn, pya, B, D, D, 0, &LoRA{U: puo, B: oa.B, R: r, Scale: oa.Scale}); err != nil {
				return err
			}
		}
		return chainNorm()
	}
	fused := func(blocks int, ad *MLPAdapters, nn *NextNorm, withO bool) func() error {
		return func() error {
			for _, l := range ls {
				var op *OProj
				if withO {
					op = &OProj{Attn: pattn, W: l.o, In: D, LoRA: oa, R: r}
				}
				if err := DecodeMLP(px, pya, pw, 1e-6, l.gate, l.up, l.down, MLPBuffers{XO: pxo, G: pg, U: pu, Y: py}, B, D, F, blocks, MLPOptions{LoRA: ad, Next: nn, O: op}); err != nil {
					return err
				}
			}
			return nil
		}
	}
	s := ownStream(b)
	_ = Synchronize()
	sms := multiprocessors()
	for _, form := range []struct {
		name   string
		record func() error
	}{
		{"r=0/launches", chain}, {"r=0/fused/blocks=max", fused(0, nil, nil, false)}, {fmt.Sprintf("r=0/fused/blocks=%d", sms), fused(sms, nil, nil, false)},
		{"r=16/launches", chainLoRA}, {"r=16/fused/blocks=max", fused(0, lora, nil, false)}, {fmt.Sprintf("r=16/fused/blocks=%d", sms), fused(sms, lora, nil, false)},
		{"r=16+norm/launches", chainNorm}, {"r=16+norm/fused/blocks=max", fused(0, lora, next, false)},
		{"r=16+norm+o/launches", chainO}, {"r=16+norm+o/fused/blocks=max", fused(0, lora, next, true)},
	} {
		b.Run(form.name, func(b *testing.B) {
			g, err := capture(s, form.record)
			if err != nil {
				b.Fatal(err)
			}
			defer g.destroy()
			replay(b, s, g, 3) // warm
			b.ResetTimer()
			start := time.Now()
			replay(b, s, g, b.N)
			b.ReportMetric(time.Since(start).Seconds()/float64(b.N)/layers*1e6, "us/layer")
		})
	}
}

// TestDecodeMLPRefuses: what decode_mlp_n8 cannot take is refused before any launch, with an
// error naming the problem: more than 8 rows, D or F not a multiple of 64, x + ya written over x,
// adapters on fewer than all three projections, a next norm writing over the rows it reads or
// with more adapters than outputs, an o projection with nowhere to write or inputs not a multiple
// of 64, and a grid too large to be resident at once.
func TestDecodeMLPRefuses(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(22)
	const B, D, F = 4, 256, 512
	gate, up, down := newMLPWeights(t, be, rng, D, F)
	_, px := onDevice(t, be, make([]float32, B*D), B, D)
	_, pya := zerosOnDevice(t, be, dtypes.Float32, B, D)
	_, pw := zerosOnDevice(t, be, dtypes.BFloat16, D)
	_, pxo := zerosOnDevice(t, be, dtypes.BFloat16, B, D)
	_, pg := zerosOnDevice(t, be, dtypes.Float32, B, F)
	_, pu := zerosOnDevice(t, be, dtypes.Float32, B, F)
	_, py := zerosOnDevice(t, be, dtypes.Float32, B, D)
	out := MLPBuffers{XO: pxo, G: pg, U: pu, Y: py}
	lora := newMLPAdapters(t, be, rng, D, F, 4)
	half := *lora
	half.Down = Adapter{}
	most, err := cooperativeBlocks("decode_mlp_n8", 128, shared(mlpSplit(D, F, 0, multiprocessors())))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, want string
		rows, d, f int
		out        MLPBuffers
		blocks     int
		opt        MLPOptions
		ya         cu.DevicePtr
	}{
		{"rows", "1 to 8 rows", 9, D, F, out, 0, MLPOptions{}, pya},
		{"d", "multiples of 64", B, D + 32, F, out, 0, MLPOptions{}, pya},
		{"aliased", "another buffer than x", B, D, F, MLPBuffers{XO: px, G: pg, U: pu, Y: py}, 0, MLPOptions{}, pya},
		{"half adapters", "down adapter", B, D, F, out, 0, MLPOptions{LoRA: &half}, pya},
		{"next aliased", "another buffer than the one it reads", B, D, F, out, 0, MLPOptions{Next: &NextNorm{W: pw, XO: pxo, H: pxo}}, pya},
		{"next outputs", "as many outputs", B, D, F, out, 0, MLPOptions{Next: &NextNorm{W: pw, XO: px, H: pxo, A: []cu.DevicePtr{lora.Gate.A}, R: 4}}, pya},
		{"o without ya", "ya to write", B, D, F, out, 0, MLPOptions{O: &OProj{Attn: px, W: gate, In: D}}, 0},
		{"o inputs", "multiple of 64", B, D, F, out, 0, MLPOptions{O: &OProj{Attn: px, W: gate, In: 100}}, pya},
		{"grid", "cannot all be resident", B, D, F, out, most + 1, MLPOptions{}, pya},
	} {
		err := DecodeMLP(px, c.ya, pw, 1e-6, gate, up, down, c.out, c.rows, c.d, c.f, c.blocks, c.opt)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error saying %q", c.name, err, c.want)
		}
	}
}
