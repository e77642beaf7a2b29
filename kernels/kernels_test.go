package kernels

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
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

// TestEveryKernelListed checks that every kernel the PTX files define is in All, so that Init
// loads it: the launchers put the matmul forms' names together at run time (mmaKernel), which
// TestLaunchedKernelsListed cannot see, and nf4_mma_s64 reached the GPU unlisted once.
func TestEveryKernelListed(t *testing.T) {
	files, err := filepath.Glob("*.ptx")
	if err != nil || len(files) == 0 {
		t.Fatalf("no PTX files found: %v", err)
	}
	entry := regexp.MustCompile(`\.visible \.entry (\w+)\(`)
	for _, f := range files {
		ptx, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range entry.FindAllStringSubmatch(string(ptx), -1) {
			if _, ok := All[m[1]]; !ok {
				t.Errorf("%s defines kernel %s, which kernels.All does not list", f, m[1])
			}
		}
	}
}

// TestLaunchArgumentsFit: every kernel parameter is at most 8 bytes. gorgonia.org/cu's Launch
// copies 8 bytes per argument, so a wider one (a struct by value) reaches the kernel as its first
// 8 bytes followed by the next arguments' (nf4_mma_n8g's NF4Mat did: a misaligned address on an
// H100, where the emulator, calling kernels directly, passed). Also checks nf4_mma_n8g's count:
// 3 matrices of 14 fields, then x, B, in, ws and cnt, as gomlxgrpo/cuda's NF4GEMVGroup passes them.
func TestLaunchArgumentsFit(t *testing.T) {
	entry := regexp.MustCompile(`\.entry (\w+)\(([^)]*)\)`)
	param := regexp.MustCompile(`\.param (?:\.align \d+ )?\.(\w+) \w+(?:\[(\d+)\])?`)
	seen := 0
	for name, ptx := range All {
		for _, m := range entry.FindAllStringSubmatch(ptx, -1) {
			if m[1] != name {
				continue
			}
			seen++
			ps := param.FindAllStringSubmatch(m[2], -1)
			for i, pm := range ps {
				size := 8
				if pm[2] != "" {
					size, _ = strconv.Atoi(pm[2])
				} else if n, err := strconv.Atoi(pm[1][1:]); err == nil {
					size = n / 8
				}
				if size > 8 {
					t.Errorf("%s: parameter %d is %d bytes (%s); gorgonia.org/cu passes 8 per argument", name, i, size, pm[0])
				}
			}
			if (name == "nf4_mma_n8g" || name == "nf4_mma_n8gw" || name == "nf4_mma_s64g") && len(ps) != 3*14+5 {
				t.Errorf("%s takes %d parameters, NF4GEMVGroup passes %d", name, len(ps), 3*14+5)
			}
		}
	}
	if seen != len(All) {
		t.Errorf("found the parameter lists of %d of the %d kernels", seen, len(All))
	}
}

// TestKernelsWaitForTheirInputs: every kernel calls griddepcontrol.wait (pdl_wait). The decoder
// launches with programmatic dependent launch (gomlxgrpo/cuda/pdl.go), under which a kernel may
// start before the previous one on the stream has finished: one without the wait would read
// inputs still being written, and, finishing early, would let the kernel after it start before its
// own predecessor ended. Each also triggers its dependents (griddepcontrol.launch_dependents), or
// the next kernel could not start early.
func TestKernelsWaitForTheirInputs(t *testing.T) {
	for name, ptx := range All {
		start := strings.Index(ptx, ".visible .entry "+name+"(")
		if start < 0 {
			t.Errorf("%s: PTX does not define the kernel", name)
			continue
		}
		body := ptx[start+1:]
		if next := strings.Index(body, ".visible .entry "); next >= 0 {
			body = body[:next]
		}
		for _, op := range []string{"griddepcontrol.wait", "griddepcontrol.launch_dependents"} {
			if !strings.Contains(body, op) {
				t.Errorf("%s: no %s in its PTX: call pdl_start (or pdl_trigger and pdl_wait) in the kernel (kernels/common.cuh)", name, op)
			}
		}
	}
}

// TestFile: every module in All is named by File after the file it was embedded from (what
// GOMLXGRPO_PTX_DIR replaces), and nothing else is.
func TestFile(t *testing.T) {
	for name, ptx := range All {
		file := File(ptx)
		if file == "" {
			t.Fatalf("%s: File does not name its module: add the module to File", name)
		}
		b, err := os.ReadFile(file)
		if err != nil || string(b) != ptx {
			t.Errorf("%s: File says %s, whose text is not the embedded module (%v)", name, file, err)
		}
	}
	if File("not a module") != "" {
		t.Error(`File("not a module") is not ""`)
	}
}
