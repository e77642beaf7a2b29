package hf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// Checkpoint is the set of tensors of a model folder: one model.safetensors, or the shards listed
// in model.safetensors.index.json. Only headers are read here; data is read tensor by tensor.
type Checkpoint struct {
	Dir     string
	Tensors map[string]*TensorInfo
}

// OpenCheckpoint reads the safetensors headers of dir. Every shard named in the index must exist
// and every tensor must lie in the shard the index says.
func OpenCheckpoint(dir string) (*Checkpoint, error) {
	ck := &Checkpoint{Dir: dir, Tensors: map[string]*TensorInfo{}}
	indexPath := filepath.Join(dir, "model.safetensors.index.json")
	var files []string
	var weightMap map[string]string
	if data, err := os.ReadFile(indexPath); err == nil {
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(data, &idx); err != nil {
			return nil, fmt.Errorf("%s: invalid JSON: %w", indexPath, err)
		}
		if len(idx.WeightMap) == 0 {
			return nil, fmt.Errorf("%s: empty weight_map", indexPath)
		}
		weightMap = idx.WeightMap
		seen := map[string]bool{}
		for _, f := range idx.WeightMap {
			if !seen[f] {
				seen[f] = true
				files = append(files, f)
			}
		}
		sort.Strings(files)
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				return nil, fmt.Errorf("shard %s listed in model.safetensors.index.json is missing from %s: download it again", f, dir)
			}
		}
	} else {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s has no model.safetensors (nor an index of shards): only safetensors checkpoints are supported", dir)
		}
		if _, err := os.Stat(filepath.Join(dir, "model.safetensors")); err == nil {
			files = []string{"model.safetensors"}
		} else if len(matches) == 1 {
			files = []string{filepath.Base(matches[0])}
		} else {
			return nil, fmt.Errorf("%s has %d safetensors files but no model.safetensors.index.json", dir, len(matches))
		}
	}
	for _, f := range files {
		infos, _, err := ReadSafetensorsHeader(filepath.Join(dir, f))
		if err != nil {
			return nil, err
		}
		for i := range infos {
			t := &infos[i]
			if prev, dup := ck.Tensors[t.Name]; dup {
				return nil, fmt.Errorf("tensor %q appears in both %s and %s", t.Name, filepath.Base(prev.File), f)
			}
			if weightMap != nil && weightMap[t.Name] != f {
				return nil, fmt.Errorf("tensor %q is in %s but the index puts it in %q", t.Name, f, weightMap[t.Name])
			}
			ck.Tensors[t.Name] = t
		}
	}
	for name, f := range weightMap {
		if _, ok := ck.Tensors[name]; !ok {
			return nil, fmt.Errorf("tensor %q listed in the index for %s is not in that file: the shard is truncated or from another model", name, f)
		}
	}
	return ck, nil
}

// Names returns the tensor names, sorted.
func (ck *Checkpoint) Names() []string {
	names := make([]string, 0, len(ck.Tensors))
	for n := range ck.Tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Consumer tracks which tensors a loader used, so that loading can be strict.
type Consumer struct {
	ck   *Checkpoint
	used map[string]bool
}

// NewConsumer starts tracking consumption of ck's tensors.
func (ck *Checkpoint) NewConsumer() *Consumer {
	return &Consumer{ck: ck, used: map[string]bool{}}
}

// Take returns the tensor named name after checking its shape against want (nil skips the check).
func (c *Consumer) Take(name string, want []int) (*TensorInfo, error) {
	t, ok := c.ck.Tensors[name]
	if !ok {
		return nil, fmt.Errorf("checkpoint %s lacks tensor %q (shape %v expected)", c.ck.Dir, name, want)
	}
	if want != nil && !slices.Equal(t.Shape, want) {
		return nil, fmt.Errorf("tensor %q has shape %v, expected %v from config.json", name, t.Shape, want)
	}
	c.used[name] = true
	return t, nil
}

// Has reports whether the checkpoint holds name.
func (c *Consumer) Has(name string) bool { _, ok := c.ck.Tensors[name]; return ok }

// Skip marks name as deliberately ignored (e.g. a duplicate lm_head of tied embeddings).
func (c *Consumer) Skip(name string) { c.used[name] = true }

// Unused lists the tensors nobody took; a strict loader fails when it is not empty.
func (c *Consumer) Unused() []string {
	var out []string
	for _, n := range c.ck.Names() {
		if !c.used[n] {
			out = append(out, n)
		}
	}
	return out
}

// CheckAllUsed returns an error listing unmatched tensors, if any.
func (c *Consumer) CheckAllUsed() error {
	u := c.Unused()
	if len(u) == 0 {
		return nil
	}
	show := u
	if len(show) > 10 {
		show = show[:10]
	}
	return fmt.Errorf("checkpoint %s has %d tensors the model does not use (is config.json for this checkpoint?): %s", c.ck.Dir, len(u), strings.Join(show, ", "))
}
