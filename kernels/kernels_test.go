package kernels

import (
	"regexp"
	"strings"
	"testing"
)

// TestPTXLoadable checks what the CUDA driver would refuse at load time (InvalidPtx) without a GPU:
// every embedded PTX targets sm_90, defines the kernels it is named for, and calls no function it
// does not define (libdevice's __nv_* functions are resolved only when scripts/build_kernels.sh
// links libdevice; the first GPU run of unlinked PTX failed exactly so).
func TestPTXLoadable(t *testing.T) {
	modules := map[string]string{"nf4_dequant_bf16": NF4Dequant, "nf4_dequant_f32": NF4Dequant,
		"nf4_gemv_lora": NF4GEMV, "nf4_gemv_lora_b8": NF4GEMV, "nf4_gemv_lora_b8r4": NF4GEMV, "nf4_mma_n8": NF4MMA, "nf4_mma_n64": NF4MMA,
		"gemm_bf16_mma_n8": GemmBF16MMA, "gemm_bf16_mma_n64": GemmBF16MMA, "sample_rows": Sample}
	for name, ptx := range Decode {
		modules[name] = ptx
	}
	extern := regexp.MustCompile(`(?m)^\.extern \.func.*?(\w+)\s*$`)
	for name, ptx := range modules {
		if !strings.Contains(ptx, "\n.target sm_90") {
			t.Errorf("%s: PTX does not target sm_90", name)
		}
		if !strings.Contains(ptx, ".visible .entry "+name+"(") {
			t.Errorf("%s: PTX does not define the kernel", name)
		}
		for _, m := range extern.FindAllStringSubmatch(ptx, -1) {
			t.Errorf("%s: PTX calls %s, which it does not define: rebuild with libdevice linked (scripts/build_kernels.sh)", name, m[1])
		}
	}
}
