package kernels

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestPTXLoadable checks what the CUDA driver would refuse at load time (InvalidPtx) without a GPU:
// every embedded PTX targets sm_90, defines the kernels it is named for, and calls no function it
// does not define (libdevice's __nv_* functions are resolved only when scripts/build_kernels.sh
// links libdevice; the first GPU run of unlinked PTX failed exactly so).
func TestPTXLoadable(t *testing.T) {
	extern := regexp.MustCompile(`(?m)^\.extern \.func.*?(\w+)\s*$`)
	for name, ptx := range All {
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

// TestLaunchedKernelsListed checks that every kernel the Go launchers name literally
// (launch("name", …) in gomlxgrpo/cuda) is in All, so that Init loads it: lora_down3 reached the
// GPU unlisted once and failed there as InvalidHandle. (Names put together at run time — the
// matmul forms — are covered by the GPU tests that run each form.)
func TestLaunchedKernelsListed(t *testing.T) {
	files, err := filepath.Glob("../gomlxgrpo/cuda/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no launcher sources found: %v", err)
	}
	launched := regexp.MustCompile(`\blaunch\("(\w+)"`)
	n := 0
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range launched.FindAllStringSubmatch(string(src), -1) {
			n++
			if _, ok := All[m[1]]; !ok {
				t.Errorf("%s launches kernel %s, which kernels.All does not list", filepath.Base(f), m[1])
			}
		}
	}
	if n < 10 {
		t.Errorf("found only %d launch(\"name\", …) calls in gomlxgrpo/cuda: has the launcher changed?", n)
	}
}

// TestGroupedMatmulStructSize: nf4_mma_n8g takes its three matrices as 96-byte structs (NF4Mat),
// which gomlxgrpo/cuda mirrors field by field (nf4Mat, with a compile-time size check under the
// cuda tag); the PTX's parameter sizes must stay 96 so that the driver copies what Go passes.
func TestGroupedMatmulStructSize(t *testing.T) {
	ptx := All["nf4_mma_n8g"]
	for i := range 3 {
		if want := fmt.Sprintf(".param .align 8 .b8 nf4_mma_n8g_param_%d[96]", i); !strings.Contains(ptx, want) {
			t.Errorf("nf4_mma_n8g's PTX lacks %q: NF4Mat changed size; update gomlxgrpo/cuda's nf4Mat", want)
		}
	}
}
