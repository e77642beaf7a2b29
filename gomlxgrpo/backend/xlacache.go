package backend

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// XLA compiles each executable (prefill, log-probs, gradient, optimizer) when a process first runs
// it: 75 to 130 s before a GRPO run's first step on an H100, paid again by every new notebook
// kernel. XLA can keep its GEMM/fusion autotuning results on disk between processes
// (--xla_gpu_per_fusion_autotune_cache_dir), keyed by what it compiles, so a changed model or a
// new XLA tunes afresh. Its compiled-kernel cache (--xla_gpu_kernel_cache_file) is not used: with
// JAX 0.11.2's CUDA plugin the second process, reading the cache, crashed in its first execution
// (SIGSEGV in ExecuteAndWait; H100, tenth session, bench/gpu_round42.sh). PJRT plugins read
// XLA_FLAGS when they load; an unknown flag there aborts the process, so a flag is added only when
// the plugin's binary holds its name.
var xlaCacheFlags = []struct{ flag, name string }{
	{"--xla_gpu_per_fusion_autotune_cache_dir", "autotune"},
}

// XLACacheDir returns where the XLA compilation caches go: $GOMLXGRPO_XLA_CACHE if it is a path,
// "" if it is "0" or "off" (no cache), else gomlxgrpo/xla in the user's cache directory.
func XLACacheDir() string {
	switch v := os.Getenv("GOMLXGRPO_XLA_CACHE"); v {
	case "0", "off":
		return ""
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return ""
		}
		return filepath.Join(d, "gomlxgrpo", "xla")
	default:
		return v
	}
}

// setXLACacheFlags adds the cache flags that plugin (a file; "" for none) knows and XLA_FLAGS does
// not already set to XLA_FLAGS, creating dir; it returns the flags added. Errors leave XLA_FLAGS as it was: a cache
// is an optimization, so the caller reports them and goes on.
func setXLACacheFlags(plugin, dir string) ([]string, error) {
	if dir == "" || plugin == "" {
		return nil, nil
	}
	current := os.Getenv("XLA_FLAGS")
	var want []string
	for _, f := range xlaCacheFlags {
		if !strings.Contains(current, f.flag) {
			want = append(want, f.flag)
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	known, err := fileContains(plugin, want)
	if err != nil {
		return nil, err
	}
	var added []string
	for _, f := range xlaCacheFlags {
		if known[f.flag] {
			if err := os.MkdirAll(filepath.Join(dir, f.name), 0o755); err != nil {
				return nil, err
			}
			added = append(added, f.flag+"="+filepath.Join(dir, f.name))
		}
	}
	if len(added) > 0 {
		if err := os.Setenv("XLA_FLAGS", strings.TrimSpace(current+" "+strings.Join(added, " "))); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// fileContains reports which of names occur in the file at path (read once, in pieces).
func fileContains(path string, names []string) (map[string]bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading the PJRT plugin for its flags: %w", err)
	}
	defer f.Close()
	found := map[string]bool{}
	longest := 0
	spelled := make([][]byte, len(names)) // without the dashes: how XLA's flag table spells them
	for i, n := range names {
		spelled[i] = []byte(strings.TrimLeft(n, "-"))
		longest = max(longest, len(spelled[i]))
	}
	buf := make([]byte, 0, 4<<20+longest)
	chunk := make([]byte, 4<<20)
	for {
		n, err := f.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for i, name := range names {
			if !found[name] && bytes.Contains(buf, spelled[i]) {
				found[name] = true
			}
		}
		if len(found) == len(names) || err == io.EOF {
			return found, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the PJRT plugin for its flags: %w", err)
		}
		if len(buf) > longest { // keep a tail that a name may straddle
			buf = append(buf[:0], buf[len(buf)-longest:]...)
		}
	}
}
