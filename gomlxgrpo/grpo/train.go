package grpo

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Train runs steps until max_steps (or ctx is cancelled), writing metrics to OutputDir/metrics.jsonl,
// the resume state after every step, and checkpoint-N folders every save_steps. An error leaves the
// last saved state intact: fix the cause and Resume.
func (t *Trainer) Train(ctx context.Context) error {
	var metricsFile *os.File
	if t.OutputDir != "" {
		if err := os.MkdirAll(t.OutputDir, 0o755); err != nil {
			return err
		}
		f, err := os.OpenFile(filepath.Join(t.OutputDir, "metrics.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		metricsFile = f
	}
	for t.Step < t.Cfg.MaxSteps {
		if err := ctx.Err(); err != nil {
			return err
		}
		m, err := t.StepOnce()
		if err != nil {
			return fmt.Errorf("step %d: %w", t.Step+1, err)
		}
		if metricsFile != nil {
			if err := writeMetrics(metricsFile, m); err != nil {
				return err
			}
		}
		if t.OutputDir != "" {
			if err := t.SaveState(filepath.Join(t.OutputDir, "state")); err != nil {
				return fmt.Errorf("saving the training state: %w", err)
			}
			if t.Cfg.SaveSteps > 0 && (t.Step%t.Cfg.SaveSteps == 0 || t.Step == t.Cfg.MaxSteps) {
				if err := t.SaveCheckpoint(filepath.Join(t.OutputDir, fmt.Sprintf("checkpoint-%d", t.Step))); err != nil {
					return err
				}
			}
		}
		if t.OnStep != nil {
			t.OnStep(m)
		}
	}
	return nil
}

// SaveCheckpoint writes the training state and the adapter (PEFT format) into dir.
func (t *Trainer) SaveCheckpoint(dir string) error {
	if err := t.SaveState(dir); err != nil {
		return err
	}
	return t.Adapters.Save(dir)
}

// Resume loads OutputDir/state (or the given dir) so that Train continues where it stopped.
func (t *Trainer) Resume(dir string) error {
	root := dir
	if fi, err := os.Stat(filepath.Join(dir, "state")); err == nil && fi.IsDir() {
		dir = filepath.Join(dir, "state")
	}
	if err := t.LoadState(dir); err != nil {
		return err
	}
	return trimMetrics(filepath.Join(root, "metrics.jsonl"), t.Step)
}

// trimMetrics drops metric lines of steps after `step` (written before a crash, then lost).
func trimMetrics(path string, step int) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil // no metrics yet
	}
	var keep []byte
	for _, line := range bytes.Split(data, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var row struct {
			Step int `json:"step"`
		}
		if json.Unmarshal(line, &row) == nil && row.Step <= step {
			keep = append(append(keep, line...), '\n')
		}
	}
	return os.WriteFile(path, keep, 0o644)
}

// writeMetrics appends one JSON line: {"step": N, "<metric>": value, ...}; NaN is written as null.
func writeMetrics(f *os.File, m *StepMetrics) error {
	row := map[string]any{"step": m.Step}
	for k, v := range m.Values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			row[k] = nil
		} else {
			row[k] = v
		}
	}
	b, err := json.Marshal(row)
	if err != nil {
		return err
	}
	_, err = f.Write(append(b, '\n'))
	return err
}

// TrainUntil runs steps until `target` while the learning-rate schedule uses scheduleSteps as its
// length (for notebooks that train a few steps per cell).
func (t *Trainer) TrainUntil(ctx context.Context, target, scheduleSteps int) error {
	t.scheduleSteps = scheduleSteps
	defer func() { t.scheduleSteps = 0 }()
	saved := t.Cfg.MaxSteps
	t.Cfg.MaxSteps = target
	defer func() { t.Cfg.MaxSteps = saved }()
	return t.Train(ctx)
}
