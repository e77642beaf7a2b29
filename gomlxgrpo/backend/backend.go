// Package backend picks the GoMLX compute backend: $GOMLX_BACKEND when set, else a CUDA PJRT plugin
// when one is installed (JAX's jax_plugins/xla_cuda13, or go-xla's own install), else the pure-Go CPU backend.
package backend

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/compute"
	_ "github.com/gomlx/compute/gobackend"  // pure-Go CPU backend, "go"
	_ "github.com/gomlx/go-xla/compute/xla" // XLA/PJRT backend, "xla:<plugin>"
)

// CPU is the configuration of the pure-Go backend. Ops run one at a time, each op using every
// core: compute v0.1.5's default (ops in parallel, each op fanning out on the same worker pool)
// was seen to stall on a 2-core machine, every worker waiting for a free worker.
const CPU = "go:ops_sequential"

var (
	once    sync.Once
	shared  compute.Backend
	initErr error
)

// Default returns the process-wide backend, created on first use (see Config).
func Default() (compute.Backend, error) {
	once.Do(func() {
		cfg, why := Config()
		if cfg == CPU && hasNvidiaDriver() && os.Getenv(compute.ConfigEnvVar) == "" {
			fmt.Fprintf(os.Stderr, "gomlxgrpo: this machine has an NVIDIA driver but %s; running on the CPU.\n"+
				"  install JAX's CUDA plugin (pip install \"jax[cuda13]\") or set GOMLX_BACKEND=xla:/path/to/xla_cuda_plugin.so\n", why)
		}
		if plugin, ok := strings.CutPrefix(cfg, "xla:"); ok {
			plugin, _, _ = strings.Cut(plugin, ",") // options follow the path
			// A plugin named rather than a path (GOMLX_BACKEND=xla:cuda: go-xla finds it) is not
			// read for its flags: no cache then.
			if st, err := os.Stat(plugin); err != nil || st.IsDir() {
				plugin = ""
			}
			if _, err := setXLACacheFlags(plugin, XLACacheDir()); err != nil {
				fmt.Fprintf(os.Stderr, "gomlxgrpo: no XLA compilation cache (%v); every run compiles afresh (GOMLXGRPO_XLA_CACHE=0 silences this)\n", err)
			}
		}
		shared, initErr = compute.NewWithConfig(cfg)
		if initErr != nil {
			initErr = fmt.Errorf("creating backend %q (%s): %w\n  set GOMLX_BACKEND=go for the CPU, or GOMLX_BACKEND=xla:/path/to/xla_cuda_plugin.so for a CUDA PJRT plugin", cfg, why, initErr)
		}
	})
	return shared, initErr
}

// Config returns the backend configuration to use and why it was chosen.
func Config() (cfg, why string) {
	if v := os.Getenv(compute.ConfigEnvVar); v != "" {
		if v == "go" {
			return CPU, "from $GOMLX_BACKEND (go, with sequential op scheduling)"
		}
		return v, "from $GOMLX_BACKEND"
	}
	if p := FindCUDAPlugin(); p != "" {
		// go-xla would try to download a plugin when none is configured; we found one, so say so.
		_ = os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
		return "xla:" + p, "CUDA PJRT plugin found at " + p
	}
	return CPU, "no CUDA PJRT plugin found (looked for jax_plugins/xla_cuda*/xla_cuda_plugin.so in Python environments and go-xla's install dir); set GOMLX_BACKEND to choose"
}

// FindCUDAPlugin looks for a CUDA PJRT plugin where JAX or go-xla install one, returning "" if none.
// It only looks when an NVIDIA driver is present (/dev/nvidiactl or /proc/driver/nvidia).
func FindCUDAPlugin() string {
	if !hasNvidiaDriver() {
		return ""
	}
	var patterns []string
	home, _ := os.UserHomeDir()
	if v := os.Getenv("VIRTUAL_ENV"); v != "" {
		patterns = append(patterns, v+"/lib/python3*/site-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so")
	}
	patterns = append(patterns,
		"/opt/*/.venv/lib/python3*/site-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so",
		"/usr/local/lib/python3*/dist-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so",
		"/usr/lib/python3*/dist-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so",
		home+"/.local/lib/python3*/site-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so",
		home+"/.local/lib/go-xla/*cuda*.so",
		"/usr/local/lib/go-xla/*cuda*.so",
	)
	for _, p := range patterns {
		m, _ := filepath.Glob(p)
		if len(m) > 0 {
			sort.Strings(m)
			return m[len(m)-1] // newest CUDA major sorts last
		}
	}
	return ""
}

func hasNvidiaDriver() bool {
	for _, p := range []string{"/dev/nvidiactl", "/proc/driver/nvidia/version"} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}
