//go:build cuda

package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/quant"
)

// xlaBackend returns the CUDA XLA backend or skips (these tests run on the GPU machine:
// GOMLX_BACKEND=xla:<plugin>,tf32=false).
func xlaBackend(t testing.TB) compute.Backend {
	t.Helper()
	if !strings.HasPrefix(os.Getenv("GOMLX_BACKEND"), "xla:") {
		t.Skip("set GOMLX_BACKEND=xla:<CUDA PJRT plugin> to run the CUDA kernel tests")
	}
	be, err := backend.Default()
	if err != nil {
		t.Fatal(err)
	}
	if err := Init(); err != nil {
		t.Fatal(err)
	}
	return be
}

// onDevice puts data (a flat slice) of the given shape on the device with no host copy left, so a
// later read really comes from device memory.
func onDevice[T interface {
	uint8 | int32 | uint32 | float32 | bfloat16T
}](t testing.TB, be compute.Backend, flat []T, dims ...int) (*tensors.Tensor, cu.DevicePtr) {
	t.Helper()
	return place(t, be, tensors.FromFlatDataAndDimensions(flat, dims...))
}

// zerosOnDevice is onDevice for a zero tensor of the given dtype and shape.
func zerosOnDevice(t testing.TB, be compute.Backend, dt dtypes.DType, dims ...int) (*tensors.Tensor, cu.DevicePtr) {
	t.Helper()
	return place(t, be, tensors.FromShape(shapes.Make(dt, dims...)))
}

// place moves tt to the device, drops its host copy and returns its device address once the copy
// is done. tt is kept alive until the test ends: callers often keep only the address, and a
// collected tensor frees its device buffer for the next allocation to reuse while a kernel still
// reads it (the first GPU run's attention check failed so).
func place(t testing.TB, be compute.Backend, tt *tensors.Tensor) (*tensors.Tensor, cu.DevicePtr) {
	t.Helper()
	t.Cleanup(func() { runtime.KeepAlive(tt) })
	tt.MustMaterializeOnDevice(be, false, 0)
	tt.FinalizeLocal()
	p, err := DevicePtr(tt, be)
	if err != nil {
		t.Fatal(err)
	}
	if err := Synchronize(); err != nil { // PJRT's host-to-device copy may still be in flight
		t.Fatal(err)
	}
	return tt, p
}

// TestDevicePtr: a kernel-side read of an XLA buffer's address returns the tensor's values, and a
// kernel-side write is what GoMLX then reads (the zero-copy contract).
func TestDevicePtr(t *testing.T) {
	be := xlaBackend(t)
	data := []float32{1, 2, 3, 4, 5, 6, 7, 8}
	tt, p := onDevice(t, be, data, 8)
	got := make([]float32, 8)
	if err := onContext(func() error { return cu.MemcpyDtoH(unsafePtr(got), p, 32) }); err != nil {
		t.Fatal(err)
	}
	for i := range data {
		if got[i] != data[i] {
			t.Fatalf("read through the device pointer %v, want %v", got, data)
		}
	}
	back := []float32{9, 8, 7, 6, 5, 4, 3, 2}
	if err := onContext(func() error { return cu.MemcpyHtoD(p, unsafePtr(back), 32) }); err != nil {
		t.Fatal(err)
	}
	if err := Synchronize(); err != nil {
		t.Fatal(err)
	}
	// An XLA computation on the tensor sees the write.
	exec, err := graph.NewExec(be, func(x *graph.Node) *graph.Node { return graph.MulScalar(x, 2) })
	if err != nil {
		t.Fatal(err)
	}
	defer exec.Finalize()
	out, err := exec.Call(tt)
	if err != nil {
		t.Fatal(err)
	}
	doubled := tensors.MustCopyFlatData[float32](out[0])
	for i := range back {
		if doubled[i] != 2*back[i] {
			t.Fatalf("XLA read %v after the kernel-side write of %v", doubled, back)
		}
	}
}

func randomNF4(rng *rand.Rand, out, in int) *quant.Quantized {
	w := make([]float32, out*in)
	for i := range w {
		w[i] = float32(rng.NormFloat64() * 0.02)
	}
	return quant.QuantizeNF4(w, out, in)
}

// mmaWeights are q's weights as the tensor-core NF4 kernels multiply them, rounded as
// bitsandbytes' bf16 inference kernel does (kernels/nf4_mma.cu): bf16(bf16(NF4[code]) ·
// bf16(absmax)), the product of two bfloat16 values being exact in float32.
func mmaWeights(q *quant.Quantized) []float32 {
	w := make([]float32, q.NumElements())
	for i := range w {
		w[i] = roundBF16(roundBF16(quant.NF4[q.Code(i)]) * roundBF16(q.Absmax[i/quant.BlockSize]))
	}
	return w
}

// TestNF4Dequant compares the kernel with the host reference on fresh random weights of several
// shapes (llm.c-style: new inputs every run), both output types, bit for bit.
func TestNF4Dequant(t *testing.T) {
	be := xlaBackend(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for _, sh := range [][2]int{{64, 64}, {1536, 8960}, {8, 24}, {256, 4104}} {
		q := randomNF4(rng, sh[0], sh[1])
		n := sh[0] * sh[1]
		want := q.Dequantize()
		_, pp := onDevice(t, be, q.Packed, len(q.Packed))
		_, pa := onDevice(t, be, q.Absmax, len(q.Absmax))
		for _, bf16 := range []bool{false, true} {
			dt := dtypes.Float32
			if bf16 {
				dt = dtypes.BFloat16
			}
			ot, po := zerosOnDevice(t, be, dt, n)
			if err := NF4Dequant(pp, pa, po, int64(n), bf16); err != nil {
				t.Fatal(err)
			}
			if err := Synchronize(); err != nil {
				t.Fatal(err)
			}
			var got []float32
			if bf16 {
				for _, v := range readDevice[bfloat16T](ot) {
					got = append(got, v.Float32())
				}
			} else {
				got = readDevice[float32](ot)
			}
			for i := range want {
				w := want[i]
				if bf16 {
					w = roundBF16(w)
				}
				if got[i] != w {
					t.Fatalf("%v bf16=%v: element %d = %v, host reference %v", sh, bf16, i, got[i], w)
				}
			}
		}
	}
}

// TestNF4GEMV compares the fused decode matmul (with and without LoRA) with a float64 host
// reference on fresh random inputs, for several shapes and row counts, in its CUDA-core forms and
// its tensor-core forms (nf4_mma.cu, whose weights are rounded to bfloat16 as the reference's then are).
func TestNF4GEMV(t *testing.T) {
	be := xlaBackend(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	defer func(v bool, s int) { tensorCores, mmaSplits = v, s }(tensorCores, mmaSplits)
	// The tensor-core forms by their split rules and split 3 ways (the 64-row form nf4_mma_s64;
	// the batch-8 ones), the batch-8 form with a tile per warp (GOMLXGRPO_MMA8=warps) in the last.
	for _, form := range []struct {
		mma    bool
		splits int
		mma8   string
	}{{false, 0, ""}, {true, 0, ""}, {true, 3, ""}, {true, 3, "warps"}} {
		tensorCores, mmaSplits = form.mma, form.splits
		t.Setenv("GOMLXGRPO_MMA8", form.mma8)
		testNF4GEMV(t, be, rng, form.mma)
	}
}

func testNF4GEMV(t *testing.T, be compute.Backend, rng *rand.Rand, mma bool) {
	for _, c := range []struct{ rows, out, in, r int }{{1, 64, 64, 0}, {8, 1536, 8960, 16}, {5, 256, 1536, 8}, {19, 512, 3072, 16}, {8, 8200, 512, 16}, {64, 1000, 1536, 16}, {37, 3000, 256, 0}} {
		q := randomNF4(rng, c.out, c.in)
		w := q.Dequantize()
		if mma && c.in%64 == 0 {
			w = mmaWeights(q)
		}
		xs := make([]float32, c.rows*c.in)
		for i := range xs {
			xs[i] = roundBF16(float32(rng.NormFloat64()))
		}
		xbf := make([]bfloat16T, len(xs))
		for i, v := range xs {
			xbf[i] = bfloat16From(v)
		}
		_, pp := onDevice(t, be, q.Packed, len(q.Packed))
		_, pa := onDevice(t, be, q.Absmax, len(q.Absmax))
		_, px := onDevice(t, be, xbf, c.rows, c.in)
		yt, py := zerosOnDevice(t, be, dtypes.Float32, c.rows, c.out)
		var lora *LoRA
		var u, lb []float32
		if c.r > 0 {
			u = make([]float32, c.rows*c.r)
			lb = make([]float32, c.out*c.r)
			for i := range u {
				u[i] = float32(rng.NormFloat64())
			}
			for i := range lb {
				lb[i] = float32(rng.NormFloat64() * 0.1)
			}
			_, pu := onDevice(t, be, u, c.rows, c.r)
			_, pb := onDevice(t, be, lb, c.out, c.r)
			lora = &LoRA{U: pu, B: pb, R: c.r, Scale: 2}
		}
		if err := NF4GEMV(pp, NF4Scales{Absmax: pa}, px, py, c.rows, c.in, c.out, 0, lora); err != nil {
			t.Fatal(err)
		}
		if err := Synchronize(); err != nil {
			t.Fatal(err)
		}
		got := readDevice[float32](yt)
		for b := range c.rows {
			for o := range c.out {
				want, mag := 0.0, 0.0
				for i := range c.in {
					p := float64(xs[b*c.in+i]) * float64(w[o*c.in+i])
					want += p
					mag += math.Abs(p)
				}
				for j := range c.r {
					p := 2 * float64(u[b*c.r+j]) * float64(lb[o*c.r+j])
					want += p
					mag += math.Abs(p)
				}
				if d := math.Abs(float64(got[b*c.out+o]) - want); d > 1e-5*mag+1e-6 {
					t.Fatalf("%+v tensor cores %v: y[%d,%d] = %v, reference %v (|terms| %v)", c, mma, b, o, got[b*c.out+o], want, mag)
				}
			}
		}
	}
}

// TestNF4GEMVGroup: NF4GEMVGroup's one launch over the decoder's q/k/v and gate/up groups
// (nf4_mma_n8g) gives each matrix its own product, bias and adapter term, as separate launches do;
// shapes of Qwen2.5-1.5B (k and v: 16 tiles each) and a ragged tiny one, at 8 and 3 rows.
func TestNF4GEMVGroup(t *testing.T) {
	be := xlaBackend(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	defer func(g, m bool) { groupedMMA, tensorCores = g, m }(groupedMMA, tensorCores)
	groupedMMA, tensorCores = true, true
	for _, c := range []struct {
		rows, in int
		outs     []int
		mma8     string // GOMLXGRPO_MMA8: "warps" for nf4_mma_n8gw (up to 8 rows; more take nf4_mma_s64g)
	}{{8, 1536, []int{1536, 256, 256}, ""}, {8, 1536, []int{8960, 8960}, ""}, {3, 192, []int{40, 24, 8}, ""},
		{8, 1536, []int{1536, 256, 256}, "warps"}, {8, 4096, []int{14336, 14336}, "warps"}, {3, 192, []int{40, 24, 8}, "warps"},
		{64, 3072, []int{3072, 1024, 1024}, ""}, {64, 3072, []int{8192, 8192}, ""}, {37, 192, []int{40, 24, 8}, ""}, {70, 1536, []int{130, 64}, ""}} {
		t.Setenv("GOMLXGRPO_MMA8", c.mma8)
		if !groupable(c.rows, c.in) {
			t.Fatalf("%+v: not groupable", c)
		}
		xs := make([]float32, c.rows*c.in)
		xbf := make([]bfloat16T, len(xs))
		for i := range xs {
			xs[i] = roundBF16(float32(rng.NormFloat64()))
			xbf[i] = bfloat16From(xs[i])
		}
		_, px := onDevice(t, be, xbf, c.rows, c.in)
		type ref struct {
			w, u, lb, bias []float32
			r              int
			y              *tensors.Tensor
		}
		refs := make([]ref, len(c.outs))
		ms := make([]NF4Matrix, len(c.outs))
		for m, out := range c.outs {
			q := randomNF4(rng, out, c.in)
			w := mmaWeights(q)
			_, pp := onDevice(t, be, q.Packed, len(q.Packed))
			_, pa := onDevice(t, be, q.Absmax, len(q.Absmax))
			yt, py := zerosOnDevice(t, be, dtypes.Float32, c.rows, out)
			refs[m] = ref{w: w, y: yt}
			ms[m] = NF4Matrix{Packed: pp, Scales: NF4Scales{Absmax: pa}, Y: py, Out: out}
			if m == 0 { // a bias on the first (Qwen2's q/k/v have one)
				refs[m].bias = make([]float32, out)
				bh := make([]bfloat16T, out)
				for i := range bh {
					refs[m].bias[i] = roundBF16(float32(rng.NormFloat64() * 0.1))
					bh[i] = bfloat16From(refs[m].bias[i])
				}
				_, ms[m].Bias = onDevice(t, be, bh, out)
			}
			if m < 2 { // adapters on the first two, of different ranks
				r := 16 / (m + 1)
				refs[m].r, refs[m].u, refs[m].lb = r, randF32(rng, c.rows*r, 1), randF32(rng, out*r, 0.1)
				_, pu := onDevice(t, be, refs[m].u, c.rows, r)
				_, pb := onDevice(t, be, refs[m].lb, out, r)
				ms[m].LoRA = &LoRA{U: pu, B: pb, R: r, Scale: 2}
			}
		}
		if err := NF4GEMVGroup(ms, px, c.rows, c.in); err != nil {
			t.Fatal(err)
		}
		if err := Synchronize(); err != nil {
			t.Fatal(err)
		}
		for m, out := range c.outs {
			got := readDevice[float32](refs[m].y)
			for b := range c.rows {
				for o := range out {
					want, mag := 0.0, 0.0
					if refs[m].bias != nil {
						want, mag = float64(refs[m].bias[o]), math.Abs(float64(refs[m].bias[o]))
					}
					for i := range c.in {
						p := float64(xs[b*c.in+i]) * float64(refs[m].w[o*c.in+i])
						want += p
						mag += math.Abs(p)
					}
					for j := range refs[m].r {
						p := 2 * float64(refs[m].u[b*refs[m].r+j]) * float64(refs[m].lb[o*refs[m].r+j])
						want += p
						mag += math.Abs(p)
					}
					if d := math.Abs(float64(got[b*out+o]) - want); d > 1e-5*mag+1e-6 {
						t.Fatalf("rows %d in %d, matrix %d of %v: y[%d,%d] = %v, reference %v (|terms| %v)", c.rows, c.in, m, c.outs, b, o, got[b*out+o], want, mag)
					}
				}
			}
		}
	}
}

// BenchmarkNF4GEMV reports the weight-read bandwidth of the decode matmul on a Llama-3.1-8B MLP
// shape (14336 × 4096) at 8 and 64 rows, on the CUDA-core, tensor-core and (64 rows) wide
// tensor-core forms: GB/s = (4-bit codes + scales) per launch / time. Eight weight matrices (235 MB)
// are used in turn so that the reads come from memory, not from L2.
func BenchmarkNF4GEMV(b *testing.B) {
	be := xlaBackend(b)
	rng := rand.New(rand.NewPCG(1, 2))
	const out, in, sets = 14336, 4096, 8
	var packed, absmax []cu.DevicePtr
	var bytes float64
	for range sets {
		q := randomNF4(rng, out, in)
		_, pp := onDevice(b, be, q.Packed, len(q.Packed))
		_, pa := onDevice(b, be, q.Absmax, len(q.Absmax))
		packed, absmax = append(packed, pp), append(absmax, pa)
		bytes = float64(len(q.Packed) + 4*len(q.Absmax))
	}
	defer func(v bool) { tensorCores = v }(tensorCores)
	for _, form := range []string{"gemv", "mma"} {
		for _, rows := range []int{8, 64} {
			b.Run(fmt.Sprintf("rows=%d/%s", rows, form), func(b *testing.B) {
				tensorCores = form != "gemv"
				_, px := zerosOnDevice(b, be, dtypes.BFloat16, rows, in)
				_, py := zerosOnDevice(b, be, dtypes.Float32, rows, out)
				_ = Synchronize()
				b.ResetTimer()
				start := time.Now()
				for i := range b.N {
					if err := NF4GEMV(packed[i%sets], NF4Scales{Absmax: absmax[i%sets]}, px, py, rows, in, out, 0, nil); err != nil {
						b.Fatal(err)
					}
				}
				_ = Synchronize()
				b.ReportMetric(bytes*float64(b.N)/time.Since(start).Seconds()/1e9, "GB/s")
			})
		}
	}
}

// BenchmarkNF4Layer times the 7 NF4 projections of a Qwen2.5-1.5B decoder layer (q, k, v, o,
// gate, up, down) at 8 rows on the tensor-core form, where most matrices are too small to fill the
// card alone: 28 layers' matmuls (330 MB of weights, so the reads come from memory) captured into
// one CUDA graph and replayed, as the Decoder runs a step. Reports µs per layer and GB/s of weights.
func BenchmarkNF4Layer(b *testing.B) {
	be := xlaBackend(b)
	rng := rand.New(rand.NewPCG(1, 3))
	type mat struct {
		packed, absmax cu.DevicePtr
		out, in        int
	}
	const layers, rows = 28, 8
	shapes := [][2]int{{1536, 1536}, {256, 1536}, {256, 1536}, {1536, 1536}, {8960, 1536}, {8960, 1536}, {1536, 8960}}
	var mats []mat
	var bytes float64
	for _, sh := range shapes { // one random matrix per shape (quantizing is slow on the host), 28 copies on the device
		q := randomNF4(rng, sh[0], sh[1])
		bytes += layers * float64(len(q.Packed)+4*len(q.Absmax))
		for range layers {
			_, pp := onDevice(b, be, q.Packed, len(q.Packed))
			_, pa := onDevice(b, be, q.Absmax, len(q.Absmax))
			mats = append(mats, mat{pp, pa, sh[0], sh[1]})
		}
		if err := reserveMatmul(rows, sh[1], sh[0], true); err != nil {
			b.Fatal(err)
		}
	}
	_, px := zerosOnDevice(b, be, dtypes.BFloat16, rows, 8960)
	_, py := zerosOnDevice(b, be, dtypes.Float32, rows, 8960)
	s := ownStream(b)
	_ = Synchronize()
	g, err := capture(s, func() error {
		for l := range layers {
			for j := range shapes {
				m := mats[j*layers+l]
				if err := NF4GEMV(m.packed, NF4Scales{Absmax: m.absmax}, px, py, rows, m.in, m.out, 0, nil); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer g.destroy()
	b.ResetTimer()
	start := time.Now()
	replay(b, s, g, b.N)
	sec := time.Since(start).Seconds()
	b.ReportMetric(sec/float64(b.N)/layers*1e6, "us/layer")
	b.ReportMetric(bytes*float64(b.N)/sec/1e9, "GB/s")
}

// BenchmarkCopy reports the card's device-to-device copy bandwidth (read + write bytes per second
// over a 1 GiB buffer), the ceiling BenchmarkNF4GEMV's weight-read bandwidth is compared with.
func BenchmarkCopy(b *testing.B) {
	xlaBackend(b)
	const n = 1 << 30
	var src, dst cu.DevicePtr
	err := onContext(func() error {
		var err error
		if src, err = cu.MemAlloc(n); err != nil {
			return err
		}
		dst, err = cu.MemAlloc(n)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	defer onContext(func() error { _ = cu.MemFree(src); return cu.MemFree(dst) })
	_ = Synchronize()
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		if err := onContext(func() error { return cu.MemcpyDtoD(dst, src, n) }); err != nil {
			b.Fatal(err)
		}
	}
	_ = Synchronize()
	b.ReportMetric(2*n*float64(b.N)/time.Since(start).Seconds()/1e9, "GB/s")
}
