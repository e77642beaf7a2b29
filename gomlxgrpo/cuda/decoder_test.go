//go:build cuda

package cuda

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/lora"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// TestDecoderMatchesGoMLX decodes with the CUDA Decoder and with the GoMLX path on the tiny test
// checkpoints in bfloat16 (bf16 and NF4 projections, with LoRA adapters whose B is non-zero): the
// Decoder's log-probs of its own greedy tokens must equal those of a full GoMLX forward pass over
// prompt + completion within bfloat16 noise, and its sampled tokens must be the model's (log-probs
// again checked against the full forward at temperature 1).
func TestDecoderMatchesGoMLX(t *testing.T) {
	be := xlaBackend(t)
	defer func(g bool) { groupedMMA = g }(groupedMMA)
	for _, name := range []string{"llama3_gqa_rope_scaled", "llama_mqa_tied_bf16_sharded", "qwen2_gqa_tied_bias", "qwen2_mha_untied_f16_sharded", "phi3_gqa_fused", "phi3_mqa_bf16_sharded"} {
		for _, quant := range []string{"bf16", "nf4", "nf4+double-quant"} {
			// A subtest per model and format: -test.run 'TestDecoderMatchesGoMLX/phi3_gqa_fused/nf4$' picks one.
			t.Run(name+"/"+quant, func(t *testing.T) {
				nf4 := quant != "bf16"
				m, err := model.Load("../model/testdata/models/"+name, be, model.LoadOptions{DType: dtypes.BFloat16, Load4Bit: nf4, DoubleQuant: quant == "nf4+double-quant"})
				if err != nil {
					t.Fatal(err)
				}
				ad, err := lora.Attach(m, lora.Config{R: 8, Alpha: 16, TargetModules: lora.AllProjections, Seed: 3})
				if err != nil {
					t.Fatal(err)
				}
				randomLoRAB(t, ad)
				dec, err := NewDecoder(m)
				if err != nil {
					t.Fatalf("%s %s: %v", name, quant, err)
				}
				gen, err := sample.NewGenerator(m)
				if err != nil {
					t.Fatal(err)
				}
				gen.Decoder = dec
				// NF4 runs with the q/k/v and gate/up matmuls grouped (nf4_mma_n8g, the default) and one
				// launch per projection, on the same loaded model (each generation records its own graph).
				groupings := []bool{false}
				if nf4 {
					groupings = []bool{true, false}
				}
				for _, grouped := range groupings {
					groupedMMA = grouped
					quant := quant
					if nf4 && !grouped {
						quant += ", one launch per projection"
					}
					checkDecoder(t, name, quant, m, gen, dec)
				}
				gen.Close()
				m.Close()
			})
		}
	}
}

// checkDecoder is one model and weight format of TestDecoderMatchesGoMLX: greedy, sampled, then
// greedy again with the kernels launched one by one, with dependent launches, with the forms
// that the tiny checkpoints' shapes do not take by default (the batch-8 NF4 matmul's warp tiles,
// several query heads per attention block, the matmul of more than 8 rows), and with the step's
// synchronous copies (the default's go through page-locked memory).
func checkDecoder(t *testing.T, name, quant string, m *model.Model, gen *sample.Generator, dec sample.StepDecoder) {
	t.Helper()
	prompts := [][]int{{5, 9, 13, 17, 21, 3, 7}, {11, 12, 13}, {11, 12, 13}}
	heads := "1" // query heads per attention block for case 4: the most that divides the group
	for _, qh := range []int{4, 3, 2} {
		if heads == "1" && (m.Config.NumHeads/m.Config.NumKVHeads)%qh == 0 {
			heads = fmt.Sprint(qh)
		}
	}
	var captured [][]int
	var ref *sample.Result
	var nine [][]int // case 5's batch: the prompts three times over (rows decode independently)
	for range 3 {
		nine = append(nine, prompts...)
	}
	for ci, p := range []sample.Params{{Greedy: true}, sample.DefaultParams(), {Greedy: true}, {Greedy: true}, {Greedy: true}, {Greedy: true}, {Greedy: true}} {
		// Case 2 launches the kernels one by one instead of replaying a captured graph, case 3
		// replays a graph of programmatic dependent launches (GOMLXGRPO_PDL=1: each kernel may
		// start before the previous one ends): both must decode exactly what the graph decoded.
		// Case 4 takes the other kernel forms, whose sums run in another order: it must match
		// the GoMLX path as case 0 does; so must case 5, nine rows through the NF4 matmul of more
		// than 8 rows (nf4_mma_s64, grouped q/k/v and gate/up), each row against its prompt's row
		// of the reference. Case 6 copies each step's inputs and outputs synchronously from pageable
		// memory (GOMLXGRPO_STEP_IO=sync; the others through page-locked memory, the default) and
		// must decode what the graph decoded.
		graphs, pdl, mma8, attnHeads, stepIO, ps := "1", "0", "", "", "", prompts
		switch ci {
		case 2:
			graphs = "0"
		case 3:
			pdl = "1"
		case 4:
			mma8, attnHeads = "warps", heads
		case 5:
			ps = nine
		case 6:
			stepIO = "sync"
		}
		t.Setenv("GOMLXGRPO_CUDA_GRAPH", graphs)
		t.Setenv("GOMLXGRPO_PDL", pdl)
		t.Setenv("GOMLXGRPO_MMA8", mma8)
		t.Setenv("GOMLXGRPO_ATTN_HEADS", attnHeads)
		t.Setenv("GOMLXGRPO_STEP_IO", stepIO)
		res, err := gen.Generate(&sample.Request{Prompts: ps, MaxNewTokens: 12, Params: p, Seed: 9})
		if err != nil {
			t.Fatalf("%s %s: %v", name, quant, err)
		}
		switch ci {
		case 0, 4, 5:
			if ci == 0 {
				captured = res.Tokens
				gen.Decoder = nil // the GoMLX path's greedy decode, token for token
				ref, err = gen.Generate(&sample.Request{Prompts: prompts, MaxNewTokens: 12, Params: p, Seed: 9})
				gen.Decoder = dec
				if err != nil {
					t.Fatal(err)
				}
			}
			for i, pr := range ps {
				want := ref.Tokens[i%len(prompts)]
				j := firstDiff(res.Tokens[i], want)
				if j < 0 {
					continue
				}
				// Random tiny models have near-flat logits: a bfloat16 rounding (one step is
				// 1/64 for logits in [2, 4)) may flip a near-tie, nothing more. Allowed only
				// when GoMLX scores both tokens within two such steps.
				full := append(append([]int(nil), pr...), want[:j]...)
				both := [][]int{append(append([]int(nil), full...), res.Tokens[i][j]), append(append([]int(nil), full...), want[j])}
				lp, err := m.NextTokenLogProbs(both, false)
				if err != nil {
					t.Fatal(err)
				}
				if gap := math.Abs(float64(lp[0][len(full)-1] - lp[1][len(full)-1])); gap > 2.0/64 {
					t.Errorf("%s %s case %d row %d: greedy token %d is %d on the CUDA path, %d on the GoMLX path (log-prob gap %.4f)",
						name, quant, ci, i, j, res.Tokens[i][j], want[j], gap)
				}
			}
		case 2, 3, 6:
			how := map[int]string{2: "direct launches", 3: "the graph of dependent launches", 6: "synchronous step copies"}[ci]
			for i := range prompts {
				if fmt.Sprint(res.Tokens[i]) != fmt.Sprint(captured[i]) {
					t.Errorf("%s %s row %d: %s decoded %v, the captured graph %v", name, quant, i, how, res.Tokens[i], captured[i])
				}
			}
		}
		fulls := make([][]int, len(ps)) // one forward pass for every row
		for i, pr := range ps {
			fulls[i] = append(append([]int(nil), pr...), res.Tokens[i]...)
		}
		lp, err := m.NextTokenLogProbs(fulls, false)
		if err != nil {
			t.Fatal(err)
		}
		for i, pr := range ps {
			for j, got := range res.LogProbs[i] {
				want := float64(lp[i][len(pr)-1+j])
				if math.Abs(got-want) > 0.05+0.02*math.Abs(want) {
					t.Errorf("%s %s %+v row %d token %d: decoder log-prob %.4f, full forward %.4f", name, quant, p, i, j, got, want)
				}
			}
		}
	}
}

// randomLoRAB gives every adapter's B normal values of standard deviation 0.05 (seeded): PEFT
// initializes B to zero, which would make the adapters no-ops in the decoder tests.
func randomLoRAB(t *testing.T, ad *lora.Adapters) {
	t.Helper()
	rng := rand.New(rand.NewPCG(4, 4))
	for _, a := range ad.List {
		dims := a.B.Shape().Dimensions
		vals := make([]float32, dims[0]*dims[1])
		for i := range vals {
			vals[i] = float32(rng.NormFloat64() * 0.05)
		}
		if err := a.B.SetValue(tensors.FromFlatDataAndDimensions(vals, dims...)); err != nil {
			t.Fatal(err)
		}
	}
}

// firstDiff returns the first index where a and b differ, or -1 when they are equal.
func firstDiff(a, b []int) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return min(len(a), len(b))
	}
	return -1
}

// writeMLPCheckpoint writes a random 2-layer checkpoint of arch (Llama or Qwen2) whose MLP
// DecodeMLP takes (hidden 128, intermediate 256: multiples of 64; the shipped tiny checkpoints'
// intermediate size is 96) in bfloat16: embeddings uniform in ±1 and projections of variance 1/in,
// so that the logits are far from flat and greedy decoding has few near-ties (untied: a tied
// embedding this large makes every token repeat itself); norms 1, biases 0.1.
func writeMLPCheckpoint(t *testing.T, dir string, arch hf.Architecture) {
	t.Helper()
	const D, F, N, K, V = 128, 256, 4, 2, 512
	c := &hf.Config{Architecture: arch, VocabSize: V, HiddenSize: D, IntermediateSize: F, NumLayers: 2, NumHeads: N, NumKVHeads: K, HeadDim: D / N, TieWordEmbeddings: false}
	specs := hf.Layout(c, "BF16")
	rng := rand.New(rand.NewPCG(7, uint64(len(arch))))
	err := hf.WriteSafetensorsFunc(filepath.Join(dir, "model.safetensors"), specs, map[string]string{"format": "pt"}, func(name string, buf []byte) error {
		var spec hf.TensorSpec
		for _, s := range specs {
			if s.Name == name {
				spec = s
			}
		}
		a := 1.0 // embeddings, lm_head
		switch {
		case strings.HasSuffix(name, "norm.weight"):
			a = 0
		case strings.HasSuffix(name, ".bias"):
			a = 0
		case strings.Contains(name, "_proj"):
			a = math.Sqrt(3 / float64(spec.Shape[len(spec.Shape)-1]))
		}
		for i := 0; i+1 < len(buf); i += 2 {
			v := float32((2*rng.Float64() - 1) * a)
			switch {
			case strings.HasSuffix(name, "norm.weight"):
				v = 1
			case strings.HasSuffix(name, ".bias"):
				v = 0.1
			}
			binary.LittleEndian.PutUint16(buf[i:], uint16(math.Float32bits(v)>>16))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"architectures": []string{string(arch)}, "vocab_size": V, "hidden_size": D, "intermediate_size": F,
		"num_hidden_layers": 2, "num_attention_heads": N, "num_key_value_heads": K, "rms_norm_eps": 1e-6,
		"max_position_embeddings": 256, "rope_theta": 1e6, "tie_word_embeddings": false,
		"torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2,
	}
	data, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDecoderFusedMLP is TestDecoderMatchesGoMLX's checks (checkDecoder: the GoMLX path's greedy
// tokens and log-probs, the graph against direct and dependent launches, ...) with every layer's
// MLP half in one DecodeMLP launch (GOMLXGRPO_DECODE_MLP=mlp, =fused: with the norm after it,
// and =fused+o: with the o projection before it too), on random Llama and Qwen2 checkpoints whose MLP it takes, NF4 with and without double
// quantization, LoRA r=8 on all projections with non-zero B. It first checks that the decoder
// does take the fused path there.
func TestDecoderFusedMLP(t *testing.T) {
	be := xlaBackend(t)
	for _, arch := range []hf.Architecture{hf.Llama, hf.Qwen2} {
		dir := t.TempDir()
		writeMLPCheckpoint(t, dir, arch)
		for _, c := range []struct{ mode, quant string }{{"mlp", "nf4"}, {"fused", "nf4"}, {"fused+o", "nf4"}, {"fused+o", "nf4+double-quant"}} {
			mode, quant := c.mode, c.quant
			t.Run(string(arch)+"/"+mode+"/"+quant, func(t *testing.T) {
				t.Setenv("GOMLXGRPO_DECODE_MLP", mode)
				m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.BFloat16, Load4Bit: true, DoubleQuant: quant == "nf4+double-quant"})
				if err != nil {
					t.Fatal(err)
				}
				defer m.Close()
				ad, err := lora.Attach(m, lora.Config{R: 8, Alpha: 16, TargetModules: lora.AllProjections, Seed: 3})
				if err != nil {
					t.Fatal(err)
				}
				randomLoRAB(t, ad)
				dec, err := NewDecoder(m)
				if err != nil {
					t.Fatal(err)
				}
				d := dec.(*Decoder)
				for i := range d.layers {
					if a, ok := d.fusedMLP(&d.layers[i]); !ok || a == nil || a.R != 8 {
						t.Fatalf("layer %d: the decoder does not take DecodeMLP with rank-8 adapters (%v, %v)", i, a, ok)
					}
					if o := d.fusedO(&d.layers[i]); (o != nil) != (mode == "fused+o") || o != nil && o.R != 8 {
						t.Fatalf("layer %d, %s: the decoder's o projection in DecodeMLP is %+v", i, mode, o)
					}
				}
				gen, err := sample.NewGenerator(m)
				if err != nil {
					t.Fatal(err)
				}
				defer gen.Close()
				gen.Decoder = dec
				checkDecoder(t, string(arch), quant+", GOMLXGRPO_DECODE_MLP="+mode, m, gen, dec)
			})
		}
	}
}
