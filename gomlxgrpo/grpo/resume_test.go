package grpo

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gomlx/gomlx/core/tensors"
)

// TestMain lets the test binary act as a training process for TestKillAndResume.
func TestMain(m *testing.M) {
	if dir := os.Getenv("GOMLXGRPO_TRAIN_CHILD"); dir != "" {
		os.Exit(childTrain(dir))
	}
	os.Exit(m.Run())
}

func childTrain(dir string) int {
	t := &testing.T{}
	cfg := toyConfig()
	cfg.MaxSteps = 6
	cfg.NumIterations = 2 // stored old log-probs and a generation batch that spans the restart
	tr := toyTrainer(t, cfg)
	tr.OutputDir = dir
	if _, err := os.Stat(filepath.Join(dir, "state")); err == nil {
		if err := tr.Resume(dir); err != nil {
			println("resume:", err.Error())
			return 3
		}
	}
	if err := tr.Train(context.Background()); err != nil {
		println("train:", err.Error())
		return 2
	}
	return 0
}

func runChild(t *testing.T, dir string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GOMLXGRPO_TRAIN_CHILD="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

func countLines(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
	}
	return n
}

// TestKillAndResume kills a training process with SIGKILL after a few steps, resumes it, and checks
// that the resumed run ends with exactly the adapters and optimizer state of an uninterrupted run.
func TestKillAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three training processes")
	}
	ref, crashed := t.TempDir(), t.TempDir()
	if err := runChild(t, ref).Wait(); err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	cmd := runChild(t, crashed)
	deadline := time.Now().Add(5 * time.Minute)
	for countLines(filepath.Join(crashed, "metrics.jsonl")) < 3 {
		if time.Now().After(deadline) {
			t.Fatal("child made no progress")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill() // SIGKILL, mid-step
	_ = cmd.Wait()
	if err := runChild(t, crashed).Wait(); err != nil {
		t.Fatalf("resumed run: %v", err)
	}
	if n := countLines(filepath.Join(crashed, "metrics.jsonl")); n != 6 {
		t.Errorf("metrics.jsonl has %d lines after resume, want 6 (one per step)", n)
	}
	a := loadStateTensors(t, filepath.Join(ref, "state"))
	b := loadStateTensors(t, filepath.Join(crashed, "state"))
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("state has %d tensors vs %d", len(a), len(b))
	}
	for name, x := range a {
		y, ok := b[name]
		if !ok {
			t.Fatalf("resumed state lacks %s", name)
		}
		for i := range x {
			if x[i] != y[i] {
				t.Fatalf("%s[%d]: uninterrupted %v, resumed %v", name, i, x[i], y[i])
			}
		}
	}
	if _, err := os.Stat(filepath.Join(crashed, "checkpoint-6", "adapter_model.safetensors")); err != nil {
		t.Error("final checkpoint-6 with the PEFT adapter is missing")
	}
}

// loadStateTensors reads every float32 tensor of a state folder.
func loadStateTensors(t *testing.T, dir string) map[string][]float32 {
	tr := toyTrainer(t, toyConfig())
	if err := tr.LoadState(dir); err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for v := range tr.Model.Store.IterVariables() {
		if isBase(v.Path()) {
			continue
		}
		val := v.MustValue()
		if val.Shape().DType.String() == "Float32" {
			out[v.Path()] = tensors.MustCopyFlatData[float32](val)
		} else {
			out[v.Path()] = []float32{float32(len(strconv.Itoa(0)))}
		}
	}
	if tr.Step != 6 {
		t.Fatalf("state at step %d, want 6", tr.Step)
	}
	return out
}
