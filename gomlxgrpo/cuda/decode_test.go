//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"
	"gorgonia.org/cu"
)

// Host references for the decode kernels, on fresh random inputs every run (llm.c's validate).
// Tolerances are one or two bfloat16 steps (2⁻⁸ relative): the kernels and the references sum in
// different orders, which can move a bfloat16 rounding by one step.

func freshRNG(i uint64) *rand.Rand { return rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), i)) }

func randBF16(rng *rand.Rand, n int, scale float64) ([]float32, []bfloat16T) {
	f := make([]float32, n)
	h := make([]bfloat16T, n)
	for i := range f {
		h[i] = bfloat16From(float32(rng.NormFloat64() * scale))
		f[i] = h[i].Float32()
	}
	return f, h
}

func randF32(rng *rand.Rand, n int, scale float64) []float32 {
	f := make([]float32, n)
	for i := range f {
		f[i] = float32(rng.NormFloat64() * scale)
	}
	return f
}

func readBF16(t *testing.T, tt *tensors.Tensor) []float32 {
	t.Helper()
	var out []float32
	for _, v := range readDevice[bfloat16T](tt) {
		out = append(out, v.Float32())
	}
	return out
}

func syncT(t *testing.T) {
	t.Helper()
	if err := Synchronize(); err != nil {
		t.Fatal(err)
	}
}

func near(t *testing.T, what string, got, want []float32, tol func(i int) float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range want {
		if d := math.Abs(float64(got[i] - want[i])); d > tol(i) || math.IsNaN(float64(got[i])) {
			t.Fatalf("%s: element %d = %v, reference %v (tolerance %v)", what, i, got[i], want[i], tol(i))
		}
	}
}

func bf(v float32) float32 { return roundBF16(v) }

func TestRMSNorm(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(4)
	for _, c := range [][2]int{{1, 64}, {5, 1536}, {8, 4096}, {3, 5120}} {
		rows, d := c[0], c[1]
		x, xh := randBF16(rng, rows*d, 1)
		w, wh := randBF16(rng, d, 1)
		_, px := onDevice(t, be, xh, rows, d)
		_, pw := onDevice(t, be, wh, d)
		ot, po := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
		if err := RMSNorm(px, pw, po, rows, d, 1e-6); err != nil {
			t.Fatal(err)
		}
		syncT(t)
		want := make([]float32, rows*d)
		for r := range rows {
			ss := 0.0
			for i := range d {
				ss += float64(x[r*d+i]) * float64(x[r*d+i])
			}
			inv := float32(1 / math.Sqrt(ss/float64(d)+1e-6))
			for i := range d {
				want[r*d+i] = bf(w[i] * bf(x[r*d+i]*inv))
			}
		}
		near(t, "rmsnorm", readBF16(t, ot), want, func(i int) float64 { return 0.008*math.Abs(float64(want[i])) + 1e-6 })
	}
}

func rotRef(z []float32, c, s []float32) []float32 {
	h := len(z) / 2
	out := make([]float32, 2*h)
	for i := range h {
		z0, z1 := bf(z[i]), bf(z[i+h])
		out[i] = bf(z0*c[i] - z1*s[i])
		out[i+h] = bf(z1*c[i] + z0*s[i])
	}
	return out
}

func TestRopeCache(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(5)
	for _, c := range []struct{ rows, n, kv, h, s int }{{1, 4, 2, 8, 32}, {8, 12, 2, 128, 96}, {3, 32, 8, 128, 64}} {
		q := randF32(rng, c.rows*c.n*c.h, 1)
		k := randF32(rng, c.rows*c.kv*c.h, 1)
		v := randF32(rng, c.rows*c.kv*c.h, 1)
		pos := make([]int32, c.rows)
		for i := range pos {
			pos[i] = int32(rng.IntN(4000))
		}
		inv := make([]float32, c.h/2)
		for i := range inv {
			inv[i] = float32(math.Pow(10000, -2*float64(i)/float64(c.h)))
		}
		w := rng.IntN(c.s)
		_, pw := onDevice(t, be, []int32{int32(w)}, 1)
		_, pq := onDevice(t, be, q, len(q))
		_, pk := onDevice(t, be, k, len(k))
		_, pv := onDevice(t, be, v, len(v))
		_, pp := onDevice(t, be, pos, len(pos))
		_, pi := onDevice(t, be, inv, len(inv))
		qt, pqo := zerosOnDevice(t, be, dtypes.BFloat16, c.rows, c.n, c.h)
		kt, pkc := zerosOnDevice(t, be, dtypes.BFloat16, c.rows, c.kv, c.s, c.h)
		vt, pvc := zerosOnDevice(t, be, dtypes.BFloat16, c.rows, c.kv, c.s, c.h)
		if err := RopeCache(pq, pk, pv, pp, pi, pqo, pkc, pvc, c.rows, c.n, c.kv, c.h, c.s, pw, 0, 0); err != nil {
			t.Fatal(err)
		}
		syncT(t)
		gq, gk, gv := readBF16(t, qt), readBF16(t, kt), readBF16(t, vt)
		wantK := make([]float32, len(gk))
		wantV := make([]float32, len(gv))
		wantQ := make([]float32, 0, len(gq))
		for b := range c.rows {
			cs, sn := make([]float32, c.h/2), make([]float32, c.h/2)
			for i := range cs {
				a := float32(pos[b]) * inv[i]
				cs[i], sn[i] = bf(float32(math.Cos(float64(a)))), bf(float32(math.Sin(float64(a))))
			}
			for n := range c.n {
				wantQ = append(wantQ, rotRef(q[(b*c.n+n)*c.h:(b*c.n+n+1)*c.h], cs, sn)...)
			}
			for kh := range c.kv {
				at := ((b*c.kv+kh)*c.s + w) * c.h
				copy(wantK[at:], rotRef(k[(b*c.kv+kh)*c.h:(b*c.kv+kh+1)*c.h], cs, sn))
				for i := range c.h {
					wantV[at+i] = bf(v[(b*c.kv+kh)*c.h+i])
				}
			}
		}
		tol := func(i int) float64 { return 0.02 }
		near(t, "rope q", gq, wantQ, tol)
		near(t, "k cache", gk, wantK, tol)
		near(t, "v cache", gv, wantV, func(int) float64 { return 0 })
	}
}

func TestAttentionDecode(t *testing.T) {
	defer func(h int, w, s, d bool) { forceHeads, wideAttention, splitAttention, deepAttention = h, w, s, d }(forceHeads, wideAttention, splitAttention, deepAttention)
	// The split form, the per-head kernel with 8 and 16 warps (and 16 positions per warp in
	// flight), then 2, 3 and 4 query heads per block where the group divides (the per-head w16u16
	// kernel elsewhere).
	for _, form := range []struct {
		split, w16, deep bool
		heads            int
	}{{true, false, false, 1}, {false, false, false, 1}, {false, true, false, 1}, {false, false, true, 1}, {false, false, true, 2}, {false, false, true, 3}, {false, false, true, 4}} {
		splitAttention, wideAttention, deepAttention, forceHeads = form.split, form.w16, form.deep, form.heads
		testAttentionDecode(t)
	}
}

func testAttentionDecode(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(6)
	// The last two: a long cache (slices of 5 rounds for the split form) and one longer than the
	// one-launch forms take (split form only).
	// H = 64 and 128 run on tensor cores in the one-launch forms.
	for _, c := range []struct{ rows, n, kv, h, s int }{{1, 2, 1, 8, 32}, {8, 12, 2, 128, 480}, {3, 32, 8, 128, 256}, {64, 24, 8, 128, 456}, {64, 32, 8, 128, 300}, {4, 8, 2, 64, 200}, {2, 4, 2, 128, 4400}, {1, 2, 1, 64, 12000}} {
		if c.s > MaxAttentionPositions && !splitAttention {
			continue
		}
		q, qh := randBF16(rng, c.rows*c.n*c.h, 1)
		kc, kch := randBF16(rng, c.rows*c.kv*c.s*c.h, 1)
		vc, vch := randBF16(rng, c.rows*c.kv*c.s*c.h, 1)
		valid := make([]uint8, c.rows*c.s)
		w := c.s/2 + rng.IntN(c.s/2)
		for b := range c.rows {
			pad := rng.IntN(w / 2)
			for s := pad; s < c.s; s++ {
				valid[b*c.s+s] = 1
			}
		}
		// Masked rows of the caches hold NaN: no form may read them (0·NaN is NaN); a cache's
		// unwritten positions may hold anything.
		nan := bfloat16From(float32(math.NaN()))
		for b := range c.rows {
			for s := range c.s {
				if (valid[b*c.s+s] == 1 && s <= w) || s == w {
					continue
				}
				for kh := range c.kv {
					for i := range c.h {
						at := ((b*c.kv+kh)*c.s+s)*c.h + i
						kc[at], kch[at], vc[at], vch[at] = float32(math.NaN()), nan, float32(math.NaN()), nan
					}
				}
			}
		}
		_, pw := onDevice(t, be, []int32{int32(w)}, 1)
		_, pq := onDevice(t, be, qh, len(qh))
		_, pk := onDevice(t, be, kch, len(kch))
		_, pv := onDevice(t, be, vch, len(vch))
		_, pm := onDevice(t, be, valid, len(valid))
		ot, po := zerosOnDevice(t, be, dtypes.BFloat16, c.rows, c.n*c.h)
		if err := AttentionDecode(pq, pk, pv, pm, po, c.rows, c.n, c.kv, c.h, c.s, pw, SharedPrompts{}); err != nil {
			t.Fatal(err)
		}
		syncT(t)
		want := make([]float32, 0, c.rows*c.n*c.h)
		for b := range c.rows {
			for n := range c.n {
				kh := n / (c.n / c.kv)
				sc := make([]float64, c.s)
				m := math.Inf(-1)
				for s := range c.s {
					sc[s] = math.Inf(-1)
					if (valid[b*c.s+s] == 1 && s <= w) || s == w {
						d := float32(0)
						for i := range c.h {
							d += q[(b*c.n+n)*c.h+i] * kc[((b*c.kv+kh)*c.s+s)*c.h+i]
						}
						sc[s] = float64(bf(d)) / math.Sqrt(float64(c.h))
						m = math.Max(m, sc[s])
					}
				}
				z := 0.0
				for s := range sc {
					sc[s] = math.Exp(sc[s] - m)
					z += sc[s]
				}
				for i := range c.h {
					acc := 0.0
					for s := range sc {
						if p := float64(bf(float32(sc[s] / z))); p != 0 { // masked rows hold NaN
							acc += p * float64(vc[((b*c.kv+kh)*c.s+s)*c.h+i])
						}
					}
					want = append(want, bf(float32(acc)))
				}
			}
		}
		near(t, fmt.Sprintf("attention %+v split %v w16 %v w16u16 %v heads %d", c, splitAttention, wideAttention, deepAttention, attentionHeads(c.rows, c.n, c.kv, c.h, c.s)), readBF16(t, ot), want, func(i int) float64 { return 0.02*math.Abs(float64(want[i])) + 0.01 })
	}
}

// TestAttentionDecodeSharedPrompts: with shared prompts (rows in groups of 4 holding one prompt,
// its cache entries copied from the group's first row, as the sampler leaves them) every form
// gives the bits it gives without; then, with the copies' prompt entries overwritten by NaN, the
// same bits again (it reads the first row's), and NaN without sharing (the check can fail).
func TestAttentionDecodeSharedPrompts(t *testing.T) {
	defer func(h int, w, s, d bool) { forceHeads, wideAttention, splitAttention, deepAttention = h, w, s, d }(forceHeads, wideAttention, splitAttention, deepAttention)
	be := xlaBackend(t)
	rng := freshRNG(16)
	nan := bfloat16From(float32(math.NaN()))
	// The last two forms: the launcher's choice with GOMLXGRPO_ATTN_ROWS=0 (the one-row forms) and
	// with the default, which takes the forms with several rows of a prompt per block (hQHrRw8) on
	// the last three shapes.
	defer os.Unsetenv("GOMLXGRPO_ATTN_ROWS")
	for _, form := range []struct {
		split, w16, deep, rows bool
		heads                  int
	}{{true, false, false, false, 1}, {false, false, false, false, 1}, {false, true, false, false, 1}, {false, false, true, false, 1}, {false, false, true, false, 3}, {false, false, true, false, 4}, {false, false, false, false, 0}, {false, false, false, true, 0}} {
		splitAttention, wideAttention, deepAttention, forceHeads = form.split, form.w16, form.deep, form.heads
		os.Setenv("GOMLXGRPO_ATTN_ROWS", map[bool]string{false: "0", true: "1"}[form.rows])
		shapes := []struct{ rows, n, kv, h, s, prefix int }{{8, 12, 2, 128, 456, 256}, {16, 24, 8, 128, 300, 200}, {12, 32, 8, 64, 200, 64}, {8, 4, 2, 16, 48, 30}}
		if form.heads == 0 { // the launcher's choice: shapes with more than 264 heads-form blocks (8 warps; the rows forms unless GOMLXGRPO_ATTN_ROWS=0)
			shapes = append(shapes, []struct{ rows, n, kv, h, s, prefix int }{{48, 24, 8, 128, 300, 200}, {40, 32, 8, 64, 200, 72}, {72, 16, 8, 128, 100, 48}}...)
		}
		for _, c := range shapes {
			_, qh := randBF16(rng, c.rows*c.n*c.h, 1)
			_, kch := randBF16(rng, c.rows*c.kv*c.s*c.h, 1)
			_, vch := randBF16(rng, c.rows*c.kv*c.s*c.h, 1)
			src := make([]int32, c.rows)
			valid := make([]uint8, c.rows*c.s)
			w := c.s - 1 - rng.IntN(c.s-c.prefix)
			for b := range c.rows {
				src[b] = int32(b - b%4)
				pad := 3 * (b / 4) // each prompt its own left padding
				for s := pad; s < c.s; s++ {
					valid[b*c.s+s] = uint8(min(1, (s+b)%9)) // completion positions masked here and there
					if s < c.prefix {
						valid[b*c.s+s] = 1
					}
				}
			}
			copies := func(v bfloat16T) { // the copies' prompt entries: the first row's, or v
				for b := range c.rows {
					if int(src[b]) == b {
						continue
					}
					for kh := range c.kv {
						for s := range c.prefix {
							for i := range c.h {
								at, from := ((b*c.kv+kh)*c.s+s)*c.h+i, ((int(src[b])*c.kv+kh)*c.s+s)*c.h+i
								if v == 0 {
									kch[at], vch[at] = kch[from], vch[from]
								} else {
									kch[at], vch[at] = v, v
								}
							}
						}
					}
				}
			}
			run := func(shared bool) []float32 {
				_, pw := onDevice(t, be, []int32{int32(w)}, 1)
				_, pq := onDevice(t, be, qh, len(qh))
				_, pk := onDevice(t, be, kch, len(kch))
				_, pv := onDevice(t, be, vch, len(vch))
				_, pm := onDevice(t, be, valid, len(valid))
				_, ps := onDevice(t, be, src, len(src))
				ot, po := zerosOnDevice(t, be, dtypes.BFloat16, c.rows, c.n*c.h)
				sp := SharedPrompts{}
				if shared {
					sp = SharedPrompts{Src: ps, Prefix: c.prefix, Group: 4}
				}
				if err := AttentionDecode(pq, pk, pv, pm, po, c.rows, c.n, c.kv, c.h, c.s, pw, sp); err != nil {
					t.Fatal(err)
				}
				syncT(t)
				return readBF16(t, ot)
			}
			what := fmt.Sprintf("attention %+v split %v w16 %v w16u16 %v heads %d rows form %v", c, splitAttention, wideAttention, deepAttention, attentionHeads(c.rows, c.n, c.kv, c.h, c.s), form.rows)
			copies(0)
			want := run(false)
			near(t, what+", copied prompts", run(true), want, func(int) float64 { return 0 })
			copies(nan)
			near(t, what+", shared prompts", run(true), want, func(int) float64 { return 0 })
			if got := run(false); !math.IsNaN(float64(got[5*c.n*c.h])) {
				t.Errorf("%s: row 5 read its own prompt entries (NaN) and gave %v", what, got[5*c.n*c.h])
			}
		}
	}
}

func TestElementwise(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(7)
	const rows, d, V = 6, 1536, 1000
	e, eh := randBF16(rng, V*d, 1)
	ids := make([]int32, rows)
	for i := range ids {
		ids[i] = int32(rng.IntN(V))
	}
	_, pe := onDevice(t, be, eh, V, d)
	_, pid := onDevice(t, be, ids, len(ids))
	xt, px := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
	if err := EmbedRows(pid, pe, px, rows, d); err != nil {
		t.Fatal(err)
	}
	syncT(t)
	x := readBF16(t, xt)
	for b := range rows {
		near(t, "embed", x[b*d:(b+1)*d], e[int(ids[b])*d:(int(ids[b])+1)*d], func(int) float64 { return 0 })
	}
	y := randF32(rng, rows*d, 1)
	_, py := onDevice(t, be, y, len(y))
	if err := ResidualAdd(px, py, rows*d); err != nil {
		t.Fatal(err)
	}
	syncT(t)
	wantX := make([]float32, len(x))
	for i := range x {
		wantX[i] = bf(x[i] + bf(y[i]))
	}
	near(t, "residual", readBF16(t, xt), wantX, func(int) float64 { return 0 })
	g, u := randF32(rng, rows*d, 2), randF32(rng, rows*d, 1)
	_, pg := onDevice(t, be, g, len(g))
	_, pu := onDevice(t, be, u, len(u))
	at, pa := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
	if err := SwiGLU(pg, pu, pa, rows, d, 0); err != nil {
		t.Fatal(err)
	}
	syncT(t)
	want := make([]float32, len(g))
	for i := range g {
		gv := bf(g[i])
		sig := bf(float32(1 / (1 + math.Exp(-float64(gv)))))
		want[i] = bf(bf(gv*sig) * bf(u[i]))
	}
	near(t, "swiglu", readBF16(t, at), want, func(i int) float64 { return 0.008*math.Abs(float64(want[i])) + 1e-6 })
}

// TestGEMVBF16AndLoRADown checks the bfloat16 matmul (CUDA-core and tensor-core forms) and the LoRA
// down-projection against float64 host references on fresh random inputs.
func TestGEMVBF16AndLoRADown(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(8)
	defer func(v bool) { tensorCores = v }(tensorCores)
	for _, mma := range []bool{false, true} {
		tensorCores = mma
		testGEMVBF16(t, be, rng, mma)
	}
}

// checkLoRADown: u [rows, r] = x [rows, in] · aᵀ (a [r, in]) to within float32 summation error.
func checkLoRADown(t *testing.T, what string, x, a, u []float32, rows, in, r int) {
	t.Helper()
	for b := range rows {
		for j := range r {
			ref, mag := 0.0, 0.0
			for i := range in {
				p := float64(x[b*in+i]) * float64(a[j*in+i])
				ref, mag = ref+p, mag+math.Abs(p)
			}
			if math.Abs(float64(u[b*r+j])-ref) > 1e-5*mag+1e-6 {
				t.Fatalf("%s: u[%d,%d] = %v, reference %v", what, b, j, u[b*r+j], ref)
			}
		}
	}
}

func testGEMVBF16(t *testing.T, be compute.Backend, rng *rand.Rand, mma bool) {
	for _, c := range []struct{ rows, out, in, r int }{{1, 64, 64, 0}, {8, 2048, 1536, 16}, {13, 1000, 512, 8}, {6, 8200, 256, 4}, {64, 1003, 1536, 16}, {70, 200, 1024, 4}} {
		w, wh := randBF16(rng, c.out*c.in, 0.05)
		x, xh := randBF16(rng, c.rows*c.in, 1)
		bias, bh := randBF16(rng, c.out, 0.1)
		_, pw := onDevice(t, be, wh, c.out, c.in)
		_, px := onDevice(t, be, xh, c.rows, c.in)
		_, pb := onDevice(t, be, bh, c.out)
		yt, py := zerosOnDevice(t, be, dtypes.Float32, c.rows, c.out)
		var lora *LoRA
		var a, lb, u []float32
		if c.r > 0 {
			a, lb = randF32(rng, c.r*c.in, 0.05), randF32(rng, c.out*c.r, 0.05)
			_, pa := onDevice(t, be, a, c.r, c.in)
			_, plb := onDevice(t, be, lb, c.out, c.r)
			ut, pu := zerosOnDevice(t, be, dtypes.Float32, c.rows, c.r)
			if err := LoRADown(px, pa, pu, c.rows, c.in, c.r); err != nil {
				t.Fatal(err)
			}
			syncT(t)
			u = readDevice[float32](ut)
			checkLoRADown(t, fmt.Sprintf("lora_down %+v", c), x, a, u, c.rows, c.in, c.r)
			lora = &LoRA{U: pu, B: plb, R: c.r, Scale: 0.5}
			// LoRADownN: x through three adapters in one launch (the decoder's q/k/v group).
			as := [][]float32{a, randF32(rng, c.r*c.in, 0.05), randF32(rng, c.r*c.in, 0.05)}
			var pas, pus []cu.DevicePtr
			var uts []*tensors.Tensor
			for _, am := range as {
				_, pam := onDevice(t, be, am, c.r, c.in)
				ut3, pu3 := zerosOnDevice(t, be, dtypes.Float32, c.rows, c.r)
				pas, pus, uts = append(pas, pam), append(pus, pu3), append(uts, ut3)
			}
			if err := LoRADownN(px, pas, pus, c.rows, c.in, c.r); err != nil {
				t.Fatal(err)
			}
			syncT(t)
			for m, am := range as {
				checkLoRADown(t, fmt.Sprintf("lora_down3 %+v adapter %d", c, m), x, am, readDevice[float32](uts[m]), c.rows, c.in, c.r)
			}
		}
		if err := GEMVBF16(pw, px, py, c.rows, c.in, c.out, pb, lora); err != nil {
			t.Fatal(err)
		}
		syncT(t)
		got := readDevice[float32](yt)
		for b := range c.rows {
			for o := range c.out {
				ref, mag := float64(bias[o]), math.Abs(float64(bias[o]))
				for i := range c.in {
					p := float64(x[b*c.in+i]) * float64(w[o*c.in+i])
					ref, mag = ref+p, mag+math.Abs(p)
				}
				for j := range c.r {
					p := 0.5 * float64(u[b*c.r+j]) * float64(lb[o*c.r+j])
					ref, mag = ref+p, mag+math.Abs(p)
				}
				if math.Abs(float64(got[b*c.out+o])-ref) > 1e-5*mag+1e-6 {
					t.Fatalf("gemv_bf16 %+v tensor cores %v: y[%d,%d] = %v, reference %v", c, mma, b, o, got[b*c.out+o], ref)
				}
			}
		}
	}
}

// TestProfile: with profiling on, each launch is timed and reported under its kernel's name.
func TestProfile(t *testing.T) {
	be := xlaBackend(t)
	profile.on = true
	defer func() { profile.on = false; ProfileReport() }()
	const rows, d = 4, 4096
	_, xh := randBF16(freshRNG(9), rows*d, 1)
	_, px := onDevice(t, be, xh, rows, d)
	_, pw := onDevice(t, be, xh[:d], d)
	_, po := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
	for range 3 {
		if err := RMSNorm(px, pw, po, rows, d, 1e-6); err != nil {
			t.Fatal(err)
		}
	}
	syncT(t)
	r := ProfileReport()
	if !strings.Contains(r, "3 calls") || !strings.Contains(r, "rmsnorm_bf16") || strings.Contains(r, " 0.000 ms in kernels") {
		t.Fatalf("profile report:\n%s", r)
	}
}

// TestResidualRMSNorm: the fused residual add + norm equals ResidualAdd then RMSNorm bit for bit
// (x updated in place, and the normalized output), on fresh random inputs.
func TestResidualRMSNorm(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(10)
	for _, c := range [][2]int{{1, 64}, {8, 1536}, {5, 5120}} {
		rows, d := c[0], c[1]
		_, xh := randBF16(rng, rows*d, 1)
		_, wh := randBF16(rng, d, 1)
		y := randF32(rng, rows*d, 1)
		xa, pxa := onDevice(t, be, xh, rows, d)
		xb, pxb := onDevice(t, be, xh, rows, d)
		_, pw := onDevice(t, be, wh, d)
		_, py := onDevice(t, be, y, rows*d)
		oa, poa := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
		ob, pob := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
		if err := ResidualRMSNorm(pxa, py, pw, poa, rows, d, 1e-6); err != nil {
			t.Fatal(err)
		}
		if err := ResidualAdd(pxb, py, rows*d); err != nil {
			t.Fatal(err)
		}
		if err := RMSNorm(pxb, pw, pob, rows, d, 1e-6); err != nil {
			t.Fatal(err)
		}
		syncT(t)
		near(t, "fused residual x", readBF16(t, xa), readBF16(t, xb), func(int) float64 { return 0 })
		near(t, "fused residual norm", readBF16(t, oa), readBF16(t, ob), func(int) float64 { return 0 })
	}
}

// TestResidualRMSNormLoRA: the norm with the adapters' down-projections fused writes
// ResidualRMSNorm's bits to the other x buffer and the output (RMSNorm's without a residual), and
// u equal to LoRADownN on that output within float32 rounding (another order of the same sum), for
// 1 to 3 adapters over rows and block splits of the decode shapes; the one-pass forms (the
// default where a row fits, d ≤ 6,144) and the general kernel (GOMLXGRPO_NORM=chunked, and the
// 8,192 case) write the same bits.
func TestResidualRMSNormLoRA(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(11)
	for _, c := range []struct{ rows, d, n, r int }{{1, 64, 1, 8}, {8, 1536, 3, 16}, {5, 5120, 2, 16}, {64, 3072, 3, 16}, {3, 8192, 2, 16}} {
		for _, residual := range []bool{true, false} {
			rows, d := c.rows, c.d
			_, xh := randBF16(rng, rows*d, 1)
			_, wh := randBF16(rng, d, 1)
			y := randF32(rng, rows*d, 1)
			_, pxa := onDevice(t, be, xh, rows, d)
			xb, pxb := onDevice(t, be, xh, rows, d)
			_, pw := onDevice(t, be, wh, d)
			py := cu.DevicePtr(0)
			if residual {
				_, py = onDevice(t, be, y, rows*d)
			}
			xo, pxo := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
			oa, poa := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
			ob, pob := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
			var as, ua, ub []cu.DevicePtr
			var uat, ubt []*tensors.Tensor
			for range c.n {
				_, pa := onDevice(t, be, randF32(rng, c.r*d, 0.05), c.r*d)
				ta, pua := zerosOnDevice(t, be, dtypes.Float32, rows, c.r)
				tb, pub := zerosOnDevice(t, be, dtypes.Float32, rows, c.r)
				as, ua, ub, uat, ubt = append(as, pa), append(ua, pua), append(ub, pub), append(uat, ta), append(ubt, tb)
			}
			if err := ResidualRMSNormLoRA(pxa, py, pw, pxo, poa, rows, d, 1e-6, as, ua, c.r); err != nil {
				t.Fatal(err)
			}
			// The general (two-pass) kernel must write the one-pass form's bits.
			xoc, pxoc := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
			oc, poc := zerosOnDevice(t, be, dtypes.BFloat16, rows, d)
			var uc []cu.DevicePtr
			var uct []*tensors.Tensor
			for range c.n {
				tc, puc := zerosOnDevice(t, be, dtypes.Float32, rows, c.r)
				uc, uct = append(uc, puc), append(uct, tc)
			}
			t.Setenv("GOMLXGRPO_NORM", "chunked")
			if err := ResidualRMSNormLoRA(pxa, py, pw, pxoc, poc, rows, d, 1e-6, as, uc, c.r); err != nil {
				t.Fatal(err)
			}
			t.Setenv("GOMLXGRPO_NORM", "")
			var err error
			if residual {
				err = ResidualRMSNorm(pxb, py, pw, pob, rows, d, 1e-6)
			} else {
				err = RMSNorm(pxb, pw, pob, rows, d, 1e-6)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := LoRADownN(pob, as, ub, rows, d, c.r); err != nil {
				t.Fatal(err)
			}
			syncT(t)
			what := fmt.Sprintf("%+v residual %v", c, residual)
			if residual {
				near(t, what+" x", readBF16(t, xo), readBF16(t, xb), func(int) float64 { return 0 })
			}
			near(t, what+" norm", readBF16(t, oa), readBF16(t, ob), func(int) float64 { return 0 })
			near(t, what+" norm, general form", readBF16(t, oc), readBF16(t, oa), func(int) float64 { return 0 })
			if residual {
				near(t, what+" x, general form", readBF16(t, xoc), readBF16(t, xo), func(int) float64 { return 0 })
			}
			for m := range c.n {
				want := readDevice[float32](ubt[m])
				near(t, fmt.Sprintf("%s u[%d]", what, m), readDevice[float32](uat[m]), want, func(i int) float64 { return 1e-4 * (1 + math.Abs(float64(want[i]))) })
				near(t, fmt.Sprintf("%s u[%d], general form", what, m), readDevice[float32](uct[m]), readDevice[float32](uat[m]), func(int) float64 { return 0 })
			}
		}
	}
}

// TestSwiGLULoRA: the activation with the down projection's LoRA down-projection fused writes
// SwiGLU's bits and ud equal to LoRADown on that activation within float32 rounding, for gate and
// up in separate buffers and as halves of Phi-3's gate_up rows, and the same bits when run again.
func TestSwiGLULoRA(t *testing.T) {
	be := xlaBackend(t)
	rng := freshRNG(12)
	cases := []struct{ rows, f, r int }{{1, 64, 8}, {8, 8960, 16}, {8, 14336, 16}, {8, 17920, 16}, {4, 3000, 40}, {64, 8192, 16}}
	for _, c := range cases {
		for _, fused := range []bool{false, true} {
			stride := c.f
			if fused {
				stride = 2 * c.f
			}
			_, pg := onDevice(t, be, randF32(rng, c.rows*stride, 2), c.rows*stride)
			_, pu := onDevice(t, be, randF32(rng, c.rows*stride, 2), c.rows*stride)
			if fused {
				pu = pg + cu.DevicePtr(4*c.f)
			}
			_, pa := onDevice(t, be, randF32(rng, c.r*c.f, 0.05), c.r*c.f)
			aa, paa := zerosOnDevice(t, be, dtypes.BFloat16, c.rows, c.f)
			ab, pab := zerosOnDevice(t, be, dtypes.BFloat16, c.rows, c.f)
			ua, pua := zerosOnDevice(t, be, dtypes.Float32, c.rows, c.r)
			ua2, pua2 := zerosOnDevice(t, be, dtypes.Float32, c.rows, c.r)
			ub, pub := zerosOnDevice(t, be, dtypes.Float32, c.rows, c.r)
			for _, u := range []cu.DevicePtr{pua, pua2} {
				if err := SwiGLULoRA(pg, pu, paa, c.rows, c.f, stride, pa, u, c.r); err != nil {
					t.Fatal(err)
				}
			}
			if err := SwiGLU(pg, pu, pab, c.rows, c.f, stride); err != nil {
				t.Fatal(err)
			}
			if err := LoRADown(pab, pa, pub, c.rows, c.f, c.r); err != nil {
				t.Fatal(err)
			}
			syncT(t)
			what := fmt.Sprintf("%+v fused %v", c, fused)
			near(t, what+" act", readBF16(t, aa), readBF16(t, ab), func(int) float64 { return 0 })
			want := readDevice[float32](ub)
			got := readDevice[float32](ua)
			near(t, what+" u", got, want, func(i int) float64 { return 1e-4 * (1 + math.Abs(float64(want[i]))) })
			near(t, what+" u, second run", readDevice[float32](ua2), got, func(int) float64 { return 0 })
		}
	}
}

// BenchmarkAttentionDecode times one layer's decode attention (456 cache positions, all valid up
// to the last) on the decode shapes of the benchmarks (Qwen2.5-1.5B at batch 8, Llama-3.2-3B at
// batch 64) in each form. Reports µs per call and GB/s of the K and V caches read once.
func BenchmarkAttentionDecode(b *testing.B) {
	// GOMLXGRPO_CUDA_RAW=1: memory from cu.MemAlloc and no PJRT in the process, so that Nsight
	// Compute can profile the launches (it crashed under PJRT: BenchmarkNF4Projections).
	var be compute.Backend
	if os.Getenv("GOMLXGRPO_CUDA_RAW") == "1" {
		if err := Init(); err != nil {
			b.Fatal(err)
		}
	} else {
		be = xlaBackend(b)
	}
	rng := freshRNG(9)
	defer func(h int, w, s, d bool) { forceHeads, wideAttention, splitAttention, deepAttention = h, w, s, d }(forceHeads, wideAttention, splitAttention, deepAttention)
	const s = 456
	for _, c := range []struct {
		name           string
		rows, n, kv, h int
	}{{"qwen1.5b-b8", 8, 12, 2, 128}, {"llama3b-b64", 64, 24, 8, 128}} {
		_, qh := randBF16(rng, c.rows*c.n*c.h, 1)
		_, kch := randBF16(rng, c.rows*c.kv*s*c.h, 1)
		_, vch := randBF16(rng, c.rows*c.kv*s*c.h, 1)
		valid := make([]uint8, c.rows*s)
		for i := range valid {
			valid[i] = 1
		}
		pw, pm := benchBuffer(b, be, []int32{s - 1}), benchBuffer(b, be, valid)
		pq, pk, pv := benchBuffer(b, be, qh), benchBuffer(b, be, kch), benchBuffer(b, be, vch)
		po := benchBuffer(b, be, make([]bfloat16T, c.rows*c.n*c.h))
		for _, form := range []string{"split", "w8", "w16", "w16u16", "h2", "h3", "h4"} {
			b.Run(c.name+"/"+form, func(b *testing.B) {
				splitAttention, wideAttention, deepAttention, forceHeads = form == "split", form == "w16", form == "w16u16", 1
				if (form == "w16" || form == "w16u16") && c.rows*c.n > wideAttentionBlocks {
					b.Skip("w16 is for steps of at most wideAttentionBlocks blocks")
				}
				if form[0] == 'h' {
					deepAttention, forceHeads = true, int(form[1]-'0')
					if attentionHeads(c.rows, c.n, c.kv, c.h, s) != forceHeads {
						b.Skip("the group does not divide into " + form[1:] + " heads")
					}
				}
				if err := AttentionDecode(pq, pk, pv, pm, po, c.rows, c.n, c.kv, c.h, s, pw, SharedPrompts{}); err != nil { // scratch, warm-up
					b.Fatal(err)
				}
				_ = Synchronize()
				b.ResetTimer()
				start := time.Now()
				for range b.N {
					if err := AttentionDecode(pq, pk, pv, pm, po, c.rows, c.n, c.kv, c.h, s, pw, SharedPrompts{}); err != nil {
						b.Fatal(err)
					}
				}
				_ = Synchronize()
				sec := time.Since(start).Seconds()
				b.ReportMetric(sec/float64(b.N)*1e6, "us/call")
				b.ReportMetric(float64(2*2*c.rows*c.kv*s*c.h)*float64(b.N)/sec/1e9, "GB/s")
			})
		}
	}
}

// benchBuffer puts flat on the device: through PJRT (be), or with cu.MemAlloc when be is nil
// (GOMLXGRPO_CUDA_RAW=1, for Nsight Compute).
func benchBuffer[T uint8 | int32 | float32 | bfloat16T](b testing.TB, be compute.Backend, flat []T) cu.DevicePtr {
	if be == nil {
		return rawDevice(b, flat)
	}
	_, p := onDevice(b, be, flat, len(flat))
	return p
}
