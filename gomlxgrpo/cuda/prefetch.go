//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"strconv"

	"gorgonia.org/cu"
)

// ByteRange is n bytes of device memory from P.
type ByteRange struct {
	P cu.DevicePtr
	N int64
}

// l2PrefetchRanges is how many ranges one l2_prefetch launch takes (kernels/l2_prefetch.cu).
const l2PrefetchRanges = 6

// L2Prefetch asks L2 for the bytes of up to six ranges (one 128-byte line per prefetch, with the
// evict-last priority) and returns without waiting for them to arrive: a launch of about one
// block per SM whose threads issue a few prefetches each. Asynchronous, like the other launches.
func L2Prefetch(ranges []ByteRange) error {
	if len(ranges) > l2PrefetchRanges {
		return fmt.Errorf("cuda: L2Prefetch takes at most %d ranges per launch, got %d", l2PrefetchRanges, len(ranges))
	}
	var ps [l2PrefetchRanges]cu.DevicePtr
	var ns [l2PrefetchRanges]int64
	lines := int64(0)
	for i, r := range ranges {
		ps[i], ns[i] = r.P, r.N
		lines += (r.N + 127) / 128
	}
	if lines == 0 {
		return nil
	}
	blocks := int(min((lines+255)/256, int64(multiprocessors())))
	return launch("l2_prefetch", [3]int{blocks, 1, 1}, 256, 0, p(&ps[0]), p(&ns[0]), p(&ps[1]), p(&ns[1]), p(&ps[2]), p(&ns[2]),
		p(&ps[3]), p(&ns[3]), p(&ps[4]), p(&ns[4]), p(&ps[5]), p(&ns[5]))
}

// l2PrefetchBudget is the most bytes of weights the decoder prefetches into L2 ahead of one matmul
// group (whole groups only; prefetchGroup): GOMLXGRPO_L2_PREFETCH MiB, read when a step is
// recorded (so `grpo bench generate --ab` compares it in one process); 0 or unset, none. Opt-in
// until timed: written in the eleventh session, after its device time ran out.
func l2PrefetchBudget() int64 {
	mib, err := strconv.Atoi(os.Getenv("GOMLXGRPO_L2_PREFETCH"))
	if err != nil || mib <= 0 {
		return 0
	}
	return int64(mib) << 20
}

// weightRanges are the bytes a matmul of l reads from its weights, in the order its blocks need
// them: the NF4 codes then their scales (float32 absmax, or with double quantization the 8-bit
// codes of the absmax, whose small tables stay cached anyway), or the bfloat16 weight.
func (l *linearPtrs) weightRanges() []ByteRange {
	n := int64(l.out) * int64(l.in)
	if l.packed == 0 {
		return []ByteRange{{l.w, 2 * n}}
	}
	if l.scales.Absmax != 0 {
		return []ByteRange{{l.packed, n / 2}, {l.scales.Absmax, 4 * (n / 64)}}
	}
	return []ByteRange{{l.packed, n / 2}, {l.scales.Q, n / 64}}
}

// prefetchGroup launches L2Prefetch for the weights of ls (a matmul group about to follow the
// kernels launched next) when they come to at most budget bytes, else nothing: the group's blocks
// all start at once across its matrices in about one wave, so weights half in L2 would leave every
// SM one slow block to wait for.
func prefetchGroup(budget int64, ls ...*linearPtrs) error {
	var rs []ByteRange
	total := int64(0)
	for _, l := range ls {
		for _, r := range l.weightRanges() {
			rs, total = append(rs, r), total+r.N
		}
	}
	if total > budget || len(rs) > l2PrefetchRanges {
		return nil
	}
	return L2Prefetch(rs)
}
