package tiny

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
	"github.com/gomlx/gomlx/core/tensors"
	gmodel "github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"

	"github.com/gomlxgrpo/gomlxgrpo/datasets"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/grpo"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

// Shape of the tiny model.
const (
	Hidden, Layers, Heads, KVHeads, Intermediate, MaxPositions = 128, 3, 4, 2, 256, 512
)

// PretrainConfig configures the supervised pretraining that makes the tiny model.
type PretrainConfig struct {
	Steps     int     // optimizer steps
	Batch     int     // sequences per step
	LR        float64 // peak learning rate (cosine decay, 5% warmup)
	NoiseRate float64 // fraction of targets whose numbers are off by 1–3: the flaw GRPO should remove
	Seed      uint64
}

// DefaultPretrain is what made the shipped model.
func DefaultPretrain() PretrainConfig {
	return PretrainConfig{Steps: 1500, Batch: 64, LR: 3e-3, NoiseRate: 0.4, Seed: 2026}
}

// SystemPrompt is the system message of every tiny-model prompt: Unsloth's XML format prompt.
const SystemPrompt = reward.XMLSystemPrompt

// Messages is the prompt conversation for a question.
func Messages(question string) []tokenizer.Message {
	return []tokenizer.Message{{Role: "system", Content: SystemPrompt}, {Role: "user", Content: question}}
}

// writeFresh writes config.json, the tokenizer files and randomly initialized weights
// (transformers' init: normal(0, 0.02), norms 1) into dir.
func writeFresh(dir string, seed uint64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tj, vocab := TokenizerJSON()
	cfg := map[string]any{
		"architectures": []string{"LlamaForCausalLM"}, "model_type": "llama", "vocab_size": vocab, "hidden_size": Hidden,
		"intermediate_size": Intermediate, "num_hidden_layers": Layers, "num_attention_heads": Heads, "num_key_value_heads": KVHeads,
		"head_dim": Hidden / Heads, "max_position_embeddings": MaxPositions, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
		"rope_scaling": nil, "tie_word_embeddings": true, "hidden_act": "silu", "attention_bias": false, "mlp_bias": false,
		"torch_dtype": "float32", "bos_token_id": nil, "eos_token_id": vocab - 5, "pad_token_id": vocab - 7,
	}
	cb, _ := json.MarshalIndent(cfg, "", "  ")
	for name, data := range map[string][]byte{"config.json": cb, "tokenizer.json": tj, "tokenizer_config.json": TokenizerConfigJSON(),
		"generation_config.json": []byte(fmt.Sprintf(`{"eos_token_id": %d, "pad_token_id": %d}`, vocab-5, vocab-7))} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return err
		}
	}
	rng := rand.New(rand.NewPCG(seed, 17))
	ts := map[string]hf.RawTensor{}
	add := func(name string, ones bool, shape ...int) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		b := make([]byte, 4*n)
		for i := range n {
			v := float32(1)
			if !ones {
				v = float32(rng.NormFloat64() * 0.02)
			}
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		ts[name] = hf.RawTensor{DType: "F32", Shape: shape, Data: b}
	}
	H := Hidden / Heads
	add("model.embed_tokens.weight", false, vocab, Hidden)
	add("model.norm.weight", true, Hidden)
	for i := range Layers {
		p := fmt.Sprintf("model.layers.%d.", i)
		add(p+"input_layernorm.weight", true, Hidden)
		add(p+"post_attention_layernorm.weight", true, Hidden)
		add(p+"self_attn.q_proj.weight", false, Heads*H, Hidden)
		add(p+"self_attn.k_proj.weight", false, KVHeads*H, Hidden)
		add(p+"self_attn.v_proj.weight", false, KVHeads*H, Hidden)
		add(p+"self_attn.o_proj.weight", false, Hidden, Heads*H)
		add(p+"mlp.gate_proj.weight", false, Intermediate, Hidden)
		add(p+"mlp.up_proj.weight", false, Intermediate, Hidden)
		add(p+"mlp.down_proj.weight", false, Hidden, Intermediate)
	}
	return hf.WriteSafetensors(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"})
}

// noisy returns the problem with its numbers off by 1–3 (consistently in reasoning and answer).
func noisy(p datasets.Problem, rng *rand.Rand) datasets.Problem {
	d := 1 + rng.IntN(3)
	if rng.IntN(2) == 0 {
		d = -d
	}
	var wrong int
	fmt.Sscan(p.Answer, &wrong)
	wrong += d
	lines := strings.Split(p.Solution, "\n")
	last := lines[len(lines)-1]
	i := strings.LastIndex(last, "= ")
	lines[len(lines)-1] = last[:i+2] + fmt.Sprint(wrong)
	return datasets.Problem{Question: p.Question, Solution: strings.Join(lines, "\n"), Answer: fmt.Sprint(wrong)}
}

// Pretrain creates the tiny model in dir: fresh weights, then supervised training on generated
// arithmetic problems (loss on the completion tokens only), then the weights saved in float32.
func Pretrain(dir string, be compute.Backend, cfg PretrainConfig, logf func(string, ...any)) error {
	if err := writeFresh(dir, cfg.Seed); err != nil {
		return err
	}
	m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		return err
	}
	defer m.Close()
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return err
	}
	for v := range m.Store.IterVariables() {
		v.SetTrainable(true)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 3))
	problems := datasets.Arithmetic(cfg.Steps*cfg.Batch, cfg.Seed)
	eos := tok.EOSID()
	encode := func(p datasets.Problem) (prompt, completion []int) {
		text, _ := tok.ApplyChatTemplate(Messages(p.Question), tokenizer.ChatOptions{AddGenerationPrompt: true})
		return tok.Encode(text, false), append(tok.Encode(datasets.XMLCompletion(p), false), eos)
	}
	opt := optimizer.Adam().LearningRate(cfg.LR).Betas(0.9, 0.95).WeightDecay(0.01).Epsilon(1e-8).DType(dtypes.Float32).Done()
	exec, err := gmodel.NewExec(be, m.Store, func(scope *gmodel.Scope, in []*Node) *Node {
		ids, posn, valid, targets, mask, lr := in[0], in[1], in[2], in[3], in[4], in[5]
		h := m.Forward(&model.Inputs{IDs: ids, Positions: posn, KeyValid: valid})
		C, L := targets.Shape().Dimensions[1], ids.Shape().Dimensions[1]
		lp, _ := grpo.TokenLogPs(m, SliceAxis(h, 1, AxisRange(L-C-1, L-1)), targets, 1, 0, false)
		loss := Neg(Div(ReduceAllSum(Mul(lp, mask)), ReduceAllSum(mask)))
		optimizer.LearningRateVarWithValue(scope, dtypes.Float32, cfg.LR).SetNodeValue(lr)
		opt.UpdateGraph(scope, ids.Graph(), loss)
		return loss
	})
	if err != nil {
		return err
	}
	const P, C = 96, 48 // every rendered prompt and completion of the generator fits
	avg := 0.0
	for step := range cfg.Steps {
		var ids, posn [][]int32
		var valid [][]bool
		var targets [][]int32
		var mask [][]float32
		for b := range cfg.Batch {
			p := problems[step*cfg.Batch+b]
			if rng.Float64() < cfg.NoiseRate {
				p = noisy(p, rng)
			}
			pr, co := encode(p)
			if len(pr) > P || len(co) > C {
				return fmt.Errorf("tiny pretraining: prompt %d / completion %d tokens exceed %d / %d", len(pr), len(co), P, C)
			}
			row := make([]int32, P+C)
			ps := make([]int32, P+C)
			va := make([]bool, P+C)
			tg := make([]int32, C)
			mk := make([]float32, C)
			off := P - len(pr)
			for j, id := range pr {
				row[off+j], ps[off+j], va[off+j] = int32(id), int32(j), true
			}
			for j := range C {
				ps[P+j] = int32(len(pr) + j)
				if j < len(co) {
					row[P+j], va[P+j], tg[j], mk[j] = int32(co[j]), true, int32(co[j]), 1
				}
			}
			ids, posn, valid, targets, mask = append(ids, row), append(posn, ps), append(valid, va), append(targets, tg), append(mask, mk)
		}
		lr := cfg.LR * math.Min(1, float64(step+1)/float64(cfg.Steps/20+1)) * 0.5 * (1 + math.Cos(math.Pi*float64(step)/float64(cfg.Steps)))
		out, err := exec.Call(ids, posn, valid, targets, mask, float32(lr))
		if err != nil {
			return err
		}
		loss := float64(tensors.ToScalar[float32](out[0]))
		avg = 0.98*avg + 0.02*loss
		if (step+1)%100 == 0 || step == 0 {
			logf("pretrain step %d/%d  loss %.4f (avg %.4f)  lr %.2g", step+1, cfg.Steps, loss, avg/(1-math.Pow(0.98, float64(step+1))), lr)
		}
	}
	return saveWeights(m, filepath.Join(dir, "model.safetensors"))
}

// saveWeights writes the model's (base) variables as float32 safetensors with Hugging Face names.
func saveWeights(m *model.Model, path string) error {
	ts := map[string]hf.RawTensor{}
	for v := range m.Store.IterVariables() {
		p := v.Path()
		if !strings.HasPrefix(p, "/model/") && !strings.HasPrefix(p, "/lm_head/") {
			continue
		}
		vals := tensors.MustCopyFlatData[float32](v.MustValue())
		b := make([]byte, 4*len(vals))
		for i, x := range vals {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
		}
		ts[strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", ".")] = hf.RawTensor{DType: "F32", Shape: v.Shape().Dimensions, Data: b}
	}
	return hf.WriteSafetensors(path, ts, map[string]string{"format": "pt"})
}
