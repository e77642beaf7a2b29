//go:build cuda

package cuda

import (
	"fmt"
	"testing"
	"time"

	"github.com/gomlx/compute/dtypes"
)

// TestGridBarrier runs grid_chain_u32 under a cooperative launch of one block per SM and of the
// most blocks the card holds at once: after each number of phases the result must be the host's
// recurrence, which any block passing the barrier early breaks (it reads elements of the previous
// phase that other blocks have not written yet), and the barrier's count must be back at 0 with
// its generation advanced by the barriers passed. A grid larger than the card holds must be
// refused with an error, not hang.
func TestGridBarrier(t *testing.T) {
	be := xlaBackend(t)
	const threads = 128
	most, err := cooperativeBlocks("grid_chain_u32", threads, 0)
	if err != nil {
		t.Fatal(err)
	}
	barT, bar := zerosOnDevice(t, be, dtypes.Uint32, 2)
	gen := uint32(0)
	rng := freshRNG(11)
	for _, c := range []struct{ blocks, n, phases int }{
		{multiprocessors(), 1<<16 + 7, 9},
		{most, 1<<18 + 3, 8},
		{most, most*threads - 5, 5}, // at most one element per thread
	} {
		t.Run(fmt.Sprintf("blocks=%d/n=%d/phases=%d", c.blocks, c.n, c.phases), func(t *testing.T) {
			x0 := make([]uint32, c.n)
			for i := range x0 {
				x0[i] = rng.Uint32()
			}
			xt, px := onDevice(t, be, x0, c.n)
			yt, py := zerosOnDevice(t, be, dtypes.Uint32, c.n)
			if err := GridChain(px, py, c.n, c.phases, c.blocks, threads, bar); err != nil {
				t.Fatal(err)
			}
			syncT(t)
			want, next := append([]uint32(nil), x0...), make([]uint32, c.n)
			for range c.phases {
				for i := range want {
					next[i] = 3*want[i] + want[(i+1)%c.n] + want[(i+c.n/2)%c.n]
				}
				want, next = next, want
			}
			got := readDevice[uint32](yt)
			if c.phases%2 == 0 {
				got = readDevice[uint32](xt)
			}
			bad := 0
			for i := range want {
				if got[i] != want[i] {
					if bad < 5 {
						t.Errorf("element %d: %d, want %d", i, got[i], want[i])
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d elements wrong", bad, c.n)
			}
			gen += uint32(c.phases)
			if b := readDevice[uint32](barT); b[0] != 0 || b[1] != gen {
				t.Errorf("barrier state (%d, %d), want (0, %d)", b[0], b[1], gen)
			}
		})
	}
	if err := GridBarrierLoop(bar, 1, most+multiprocessors(), threads); err == nil {
		syncT(t)
		t.Errorf("a cooperative grid of %d blocks (the card holds %d) was launched", most+multiprocessors(), most)
	}
}

// BenchmarkGridBarrier times one grid barrier on the card: a cooperative launch of iters barriers
// less one of none, over iters, for one block per SM up to the most the card holds at once. The
// figure a persistent decode kernel pays per phase (a layer has ~6).
func BenchmarkGridBarrier(b *testing.B) {
	be := xlaBackend(b)
	const threads, iters = 128, 2000
	most, err := cooperativeBlocks("grid_barrier_loop", threads, 0)
	if err != nil {
		b.Fatal(err)
	}
	_, bar := zerosOnDevice(b, be, dtypes.Uint32, 2)
	run := func(blocks, n int) time.Duration {
		start := time.Now()
		if err := GridBarrierLoop(bar, n, blocks, threads); err != nil {
			b.Fatal(err)
		}
		if err := Synchronize(); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	for _, blocks := range []int{multiprocessors(), 2 * multiprocessors(), 4 * multiprocessors(), most} {
		if blocks > most {
			continue
		}
		b.Run(fmt.Sprintf("blocks=%d", blocks), func(b *testing.B) {
			run(blocks, iters) // warm: module load, clocks
			var with, without time.Duration
			b.ResetTimer()
			for range b.N {
				with += run(blocks, iters)
				without += run(blocks, 0)
			}
			b.ReportMetric(float64((with-without).Nanoseconds())/float64(b.N*iters)/1e3, "µs/barrier")
		})
	}
	// For scale: a launch boundary on the same stream, iters launches of none (host-bound outside a
	// CUDA graph, which the decode step replays).
	b.Run(fmt.Sprintf("launches/blocks=%d", multiprocessors()), func(b *testing.B) {
		var total time.Duration
		for range b.N {
			start := time.Now()
			for range iters {
				if err := GridBarrierLoop(bar, 0, multiprocessors(), threads); err != nil {
					b.Fatal(err)
				}
			}
			if err := Synchronize(); err != nil {
				b.Fatal(err)
			}
			total += time.Since(start)
		}
		b.ReportMetric(float64(total.Nanoseconds())/float64(b.N*iters)/1e3, "µs/launch")
	})
}
