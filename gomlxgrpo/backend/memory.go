package backend

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"

	"github.com/gomlx/compute"
)

var (
	memOnce  sync.Once
	memTotal int64
)

// IsXLA reports whether be is go-xla's PJRT backend (the one with CUDA device buffers).
func IsXLA(be compute.Backend) bool { return be != nil && strings.HasPrefix(be.Name(), "xla") }

// DeviceMemory returns the total memory in bytes of the GPU that be runs on, and false when be
// is not a CUDA backend or the figure is unavailable. It asks nvidia-smi (installed with every
// NVIDIA driver) once: go-xla v0.4.4 exposes no device memory query, and gorgonia.org/cu sits
// behind the cuda build tag. The first visible GPU is assumed, as XLA uses device 0.
func DeviceMemory(be compute.Backend) (int64, bool) {
	if !IsXLA(be) || !hasNvidiaDriver() {
		return 0, false
	}
	memOnce.Do(func() {
		args := []string{"--query-gpu=memory.total", "--format=csv,noheader,nounits"}
		if v := os.Getenv("CUDA_VISIBLE_DEVICES"); v != "" {
			args = append(args, "--id="+strings.Split(v, ",")[0])
		}
		out, err := exec.Command("nvidia-smi", args...).Output()
		if err != nil {
			return
		}
		mib, err := strconv.ParseInt(strings.TrimSpace(strings.Split(string(out), "\n")[0]), 10, 64)
		if err == nil {
			memTotal = mib << 20
		}
	})
	return memTotal, memTotal > 0
}
