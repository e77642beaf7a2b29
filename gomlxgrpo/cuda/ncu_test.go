//go:build cuda

package cuda

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
	"unsafe"

	"gorgonia.org/cu"
)

// BenchmarkNF4Projections times one decoder layer's 7 NF4 projections as the Decoder launches them
// (q/k/v and gate/up grouped where the form allows it, o and down alone), launched directly, on
// memory from cu.MemAlloc: no PJRT in the process, so Nsight Compute can profile it (it crashed
// under PJRT in an earlier session: bench/gpu_ncu.sh). Shapes: Qwen2.5-1.5B at 8 rows and
// Llama-3.2-3B at 64 rows, Llama-3.1-8B and Phi-4 at 8 rows (where the
// warp-tile form runs; Phi-4's gate and up are two matrices here, one fused matrix in the model).
// GOMLXGRPO_NCU_LAYER=NAME runs one shape. 8 copies of each matrix are used in turn so that the
// reads come from memory. Runs only with GOMLXGRPO_CUDA_RAW=1 (a GPU machine).
func BenchmarkNF4Projections(b *testing.B) {
	if os.Getenv("GOMLXGRPO_CUDA_RAW") != "1" {
		b.Skip("set GOMLXGRPO_CUDA_RAW=1 on a GPU machine")
	}
	if err := Init(); err != nil {
		b.Fatal(err)
	}
	type layer struct {
		name     string
		rows     int
		q, kv, h int // q/o width, k and v width, hidden = in of q/k/v/o/gate/up
		inter    int
	}
	rng := rand.New(rand.NewPCG(3, 4))
	layers := []layer{{"qwen1.5b-b8", 8, 1536, 256, 1536, 8960}, {"llama3b-b64", 64, 3072, 1024, 3072, 8192},
		{"llama8b-b8", 8, 4096, 1024, 4096, 14336}, {"phi4-b8", 8, 5120, 1280, 5120, 17920}}
	for _, l := range layers {
		if only := os.Getenv("GOMLXGRPO_NCU_LAYER"); only != "" && only != l.name {
			continue // uploading every shape's 8 copies takes a while: GOMLXGRPO_NCU_LAYER picks one
		}
		// q, k, v, o, gate, up, down: [out, in]
		shapes := [][2]int{{l.q, l.h}, {l.kv, l.h}, {l.kv, l.h}, {l.h, l.q}, {l.inter, l.h}, {l.inter, l.h}, {l.h, l.inter}}
		const copies = 8
		type mat struct {
			packed, absmax, y cu.DevicePtr
			out, in           int
		}
		mats := make([][]mat, copies)
		bytes := 0.0
		for _, sh := range shapes {
			q := randomNF4(rng, sh[0], sh[1])
			bytes += float64(len(q.Packed) + 4*len(q.Absmax))
			for c := range copies {
				mats[c] = append(mats[c], mat{rawDevice(b, q.Packed), rawDevice(b, q.Absmax), rawZeros(b, 4*l.rows*sh[0]), sh[0], sh[1]})
			}
		}
		x := rawZeros(b, 2*l.rows*l.inter)
		// LoRA r=16 on every projection, as in the decoder (u = x·A precomputed: [rows, r]; B [out, r]).
		const rank = 16
		u := rawDevice(b, randF32(rng, l.rows*rank, 1))
		loras := make([]*LoRA, len(shapes))
		for j, sh := range shapes {
			loras[j] = &LoRA{U: u, B: rawDevice(b, randF32(rng, sh[0]*rank, 0.1)), R: rank, Scale: 2}
		}
		forms := []string{"default", "lora16"}
		for _, form := range forms {
			b.Run(l.name+"/"+form, func(b *testing.B) {
				lora := func(j int) *LoRA {
					if form == "lora16" {
						return loras[j]
					}
					return nil
				}
				for _, sh := range shapes {
					if err := reserveMatmul(l.rows, sh[1], sh[0], true); err != nil {
						b.Fatal(err)
					}
				}
				for _, grp := range [][]int{{0, 1, 2}, {4, 5}} {
					var outs []int
					for _, j := range grp {
						outs = append(outs, shapes[j][0])
					}
					if groupable(l.rows, shapes[grp[0]][1]) {
						if err := reserveGroup(l.rows, shapes[grp[0]][1], outs); err != nil {
							b.Fatal(err)
						}
					}
				}
				one := func(c int) error {
					m := mats[c]
					group := func(js ...int) error {
						var ms []NF4Matrix
						for _, j := range js {
							ms = append(ms, NF4Matrix{Packed: m[j].packed, Scales: NF4Scales{Absmax: m[j].absmax}, Y: m[j].y, Out: m[j].out, LoRA: lora(j)})
						}
						return NF4GEMVGroup(ms, x, l.rows, m[js[0]].in)
					}
					single := func(j int) error {
						return NF4GEMV(m[j].packed, NF4Scales{Absmax: m[j].absmax}, x, m[j].y, l.rows, m[j].in, m[j].out, 0, lora(j))
					}
					for _, err := range []error{group(0, 1, 2), single(3), group(4, 5), single(6)} {
						if err != nil {
							return err
						}
					}
					return nil
				}
				if err := one(0); err != nil { // warm-up: loads and scratch
					b.Fatal(err)
				}
				_ = Synchronize()
				b.ResetTimer()
				start := time.Now()
				for i := range b.N {
					if err := one(i % copies); err != nil {
						b.Fatal(err)
					}
				}
				_ = Synchronize()
				sec := time.Since(start).Seconds()
				b.ReportMetric(sec/float64(b.N)*1e6, "us/layer")
				b.ReportMetric(bytes*float64(b.N)/sec/1e9, "GB/s")
			})
		}
	}
}

// rawDevice copies flat to memory from cu.MemAlloc (freed when the benchmark ends).
func rawDevice[T uint8 | int32 | float32 | bfloat16T](t testing.TB, flat []T) cu.DevicePtr {
	t.Helper()
	n := int64(len(flat)) * int64(unsafe.Sizeof(flat[0]))
	p := rawZeros(t, int(n))
	if err := onContext(func() error { return cu.MemcpyHtoD(p, unsafe.Pointer(&flat[0]), n) }); err != nil {
		t.Fatal(err)
	}
	return p
}

// rawZeros allocates n zero bytes with cu.MemAlloc (freed when the benchmark ends).
func rawZeros(t testing.TB, n int) cu.DevicePtr {
	t.Helper()
	var p cu.DevicePtr
	err := onContext(func() (err error) {
		if p, err = memAlloc(int64(n)); err != nil {
			return err
		}
		return cu.MemsetD8(p, 0, int64(n))
	})
	if err != nil {
		t.Fatal(fmt.Errorf("allocating %d bytes: %w", n, err))
	}
	t.Cleanup(func() { _ = onContext(func() error { return memFree(p, int64(n)) }) })
	return p
}
