package grpo

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
)

// The training state is everything that is not the frozen base model: adapter weights, AdamW's
// moments and step counters, the learning-rate variable, plus the trainer's step and data cursor.
// Random streams need no state: sampling seeds derive from (seed, step, row).
//
// GoMLX's ml/model/checkpoint saves every variable of the store, the frozen base model included
// (16 GB for an 8B model), so the state is written here with safetensors instead: only the
// variables that change, about 3× the adapter size.
//
// It is written to OutputDir/state after every step, atomically (a new folder renamed over the old),
// so a kill -9 loses at most the step in flight; checkpoint-N folders (every save_steps) hold the
// same plus the adapter in PEFT's format.

type trainerState struct {
	Step   int       `json:"step"`
	Cursor Cursor    `json:"cursor"`
	Config Config    `json:"config"`
	Buffer *genBatch `json:"buffer,omitempty"` // the generation batch still in use (num_iterations > 1)
}

var stateDTypes = map[dtypes.DType]string{dtypes.Float32: "F32", dtypes.Int64: "I64", dtypes.BFloat16: "BF16", dtypes.Int32: "I32"}
var stateDTypesBack = map[string]dtypes.DType{"F32": dtypes.Float32, "I64": dtypes.Int64, "BF16": dtypes.BFloat16, "I32": dtypes.Int32}

// isBase reports whether a store path belongs to the frozen base model.
func isBase(p string) bool {
	return strings.HasPrefix(p, "/model/") || strings.HasPrefix(p, "/lm_head/")
}

// SaveState writes the training state into dir (replaced atomically).
func (t *Trainer) SaveState(dir string) error {
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return err
	}
	ts := map[string]hf.RawTensor{}
	for v := range t.Model.Store.IterVariables() {
		if isBase(v.Path()) || v.Path() == accPath {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return err
		}
		dt, ok := stateDTypes[val.Shape().DType]
		if !ok {
			return fmt.Errorf("variable %s has dtype %s, which the state file cannot hold", v.Path(), val.Shape().DType)
		}
		var raw []byte
		if err := val.ConstBytes(func(b []byte) { raw = append([]byte(nil), b...) }); err != nil {
			return err
		}
		ts[v.Path()] = hf.RawTensor{DType: dt, Shape: val.Shape().Dimensions, Data: raw}
	}
	if err := hf.WriteSafetensors(filepath.Join(tmp, "state.safetensors"), ts, nil); err != nil {
		return err
	}
	st, _ := json.MarshalIndent(trainerState{Step: t.Step, Cursor: t.Cursor, Config: t.Cfg, Buffer: t.reusableBuffer()}, "", "  ")
	if err := os.WriteFile(filepath.Join(tmp, "trainer_state.json"), st, 0o644); err != nil {
		return err
	}
	old := dir + ".old"
	_ = os.RemoveAll(old)
	if _, err := os.Stat(dir); err == nil {
		if err := os.Rename(dir, old); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// LoadState restores a state written by SaveState (from OutputDir/state or a checkpoint-N folder).
// The configuration must match in everything that shapes the state (LoRA variables must exist).
func (t *Trainer) LoadState(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "trainer_state.json")); err != nil {
		// A crash between the two renames leaves the previous state in dir.old.
		if _, err2 := os.Stat(filepath.Join(dir+".old", "trainer_state.json")); err2 == nil {
			dir = dir + ".old"
		} else {
			return fmt.Errorf("%s holds no training state (trainer_state.json): %w", dir, err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, "trainer_state.json"))
	if err != nil {
		return err
	}
	var st trainerState
	if err := json.Unmarshal(data, &st); err != nil {
		return fmt.Errorf("%s/trainer_state.json: %w", dir, err)
	}
	infos, _, err := hf.ReadSafetensorsHeader(filepath.Join(dir, "state.safetensors"))
	if err != nil {
		return err
	}
	for i := range infos {
		info := &infos[i]
		dt, ok := stateDTypesBack[info.DType]
		if !ok {
			return fmt.Errorf("state tensor %s has dtype %s", info.Name, info.DType)
		}
		raw := make([]byte, info.Size)
		if err := info.ReadRaw(raw); err != nil {
			return err
		}
		tt := tensors.FromShape(shapes.Make(dt, info.Shape...))
		if err := tt.MutableBytes(func(b []byte) { copy(b, raw) }); err != nil {
			return err
		}
		if v := t.Model.Store.GetVariable(info.Name); v != nil {
			if !v.Shape().Equal(tt.Shape()) {
				return fmt.Errorf("state tensor %s has shape %s, the model's variable %s: the state belongs to another configuration", info.Name, tt.Shape(), v.Shape())
			}
			if err := v.SetValue(tt); err != nil {
				return err
			}
			continue
		}
		if strings.HasPrefix(info.Name, "/lora/") {
			return fmt.Errorf("state has adapter %s that this model lacks: resume with the same LoRA configuration", info.Name)
		}
		v, err := t.Model.Store.CreateVariable(info.Name, tt)
		if err != nil {
			return err
		}
		v.SetTrainable(false) // optimizer moments and counters
	}
	if err := t.opt.adoptLegacy(t.Model.Store); err != nil { // a state saved with GoMLX's Adam (adamw.go)
		return fmt.Errorf("%s: %w", dir, err)
	}
	t.Step, t.Cursor, t.buffer = st.Step, st.Cursor, st.Buffer
	return nil
}

// reusableBuffer is the generation batch when the next step will reuse it.
func (t *Trainer) reusableBuffer() *genBatch {
	if t.Cfg.NumIterations > 1 && t.Step%t.Cfg.NumIterations != 0 {
		return t.buffer
	}
	return nil
}
