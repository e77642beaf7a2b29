//go:build cuda

package cuda

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"

	"gorgonia.org/cu"
)

// Kernel timing without external tools (ncu crashed under PJRT on the GPU machine): with
// GOMLXGRPO_CUDA_PROFILE=1 every launch is bracketed by two CUDA events on its stream, and the
// Decoder launches kernel by kernel instead of replaying a captured graph. Collected after each
// decode step; ProfileReport sums the time per kernel.
var profile = struct {
	sync.Mutex
	on      bool
	pending []timedLaunch
	total   map[string]float64 // milliseconds
	calls   map[string]int
}{on: os.Getenv("GOMLXGRPO_CUDA_PROFILE") == "1", total: map[string]float64{}, calls: map[string]int{}}

type timedLaunch struct {
	name       string
	start, end cu.Event
}

// profiled launches run between two recorded events (called by launch, on the context's thread).
func profiled(name string, run func() error) error {
	start, err := cu.MakeEvent(cu.DefaultEvent)
	if err != nil {
		return err
	}
	end, err := cu.MakeEvent(cu.DefaultEvent)
	if err != nil {
		return err
	}
	if err := start.Record(stream); err != nil {
		return err
	}
	if err := run(); err != nil {
		return err
	}
	if err := end.Record(stream); err != nil {
		return err
	}
	profile.Lock()
	profile.pending = append(profile.pending, timedLaunch{name, start, end})
	profile.Unlock()
	return nil
}

// collectProfile adds the finished launches' times (call after the stream is synchronized).
func collectProfile() error {
	if !profile.on {
		return nil
	}
	return onContext(func() error {
		profile.Lock()
		defer profile.Unlock()
		for _, l := range profile.pending {
			ms, err := l.start.Elapsed(l.end)
			if err != nil {
				return err
			}
			profile.total[l.name] += ms
			profile.calls[l.name]++
			_ = cu.DestroyEvent(&l.start)
			_ = cu.DestroyEvent(&l.end)
		}
		profile.pending = profile.pending[:0]
		return nil
	})
}

// ProfileReport returns the time per kernel since the last report (most first) and resets the
// sums; empty unless GOMLXGRPO_CUDA_PROFILE=1.
func ProfileReport() string {
	if err := collectProfile(); err != nil {
		return "cuda profile: " + err.Error()
	}
	profile.Lock()
	defer profile.Unlock()
	names := make([]string, 0, len(profile.total))
	sum := 0.0
	for n, ms := range profile.total {
		names = append(names, n)
		sum += ms
	}
	if len(names) == 0 {
		return ""
	}
	sort.Slice(names, func(i, j int) bool { return profile.total[names[i]] > profile.total[names[j]] })
	var b strings.Builder
	fmt.Fprintf(&b, "cuda profile: %.3f ms in kernels\n", sum)
	for _, n := range names {
		ms, c := profile.total[n], profile.calls[n]
		fmt.Fprintf(&b, "cuda profile: %9.3f ms %5.1f%% %7d calls %9.2f us/call  %s\n", ms, 100*ms/sum, c, 1000*ms/float64(c), n)
	}
	profile.total, profile.calls = map[string]float64{}, map[string]int{}
	return b.String()
}
