package tiny

import (
	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"

	"github.com/gomlxgrpo/gomlxgrpo/datasets"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

// Evaluation is greedy accuracy on held-out generated problems.
type Evaluation struct {
	Problems    int     `json:"problems"`
	Correct     float64 `json:"correct"`       // fraction whose extracted answer equals the reference
	StrictFmt   float64 `json:"strict_format"` // fraction passing strict_format_reward_func
	SoftFmt     float64 `json:"soft_format"`
	MeanReward  float64 `json:"mean_reward"` // mean of the five Unsloth rewards' sum (max 4.0)
	FirstSample string  `json:"first_sample"`
}

// Evaluate decodes n held-out problems greedily with the model in dir.
func Evaluate(dir string, be compute.Backend, n int, seed uint64) (*Evaluation, error) {
	m, err := model.Load(dir, be, model.LoadOptions{DType: dtypes.Float32})
	if err != nil {
		return nil, err
	}
	defer m.Close()
	tok, err := tokenizer.LoadDir(dir)
	if err != nil {
		return nil, err
	}
	return EvaluateModel(m, tok, n, seed)
}

// EvaluateModel is Evaluate for a loaded model (with its adapters, if any).
func EvaluateModel(m *model.Model, tok *tokenizer.Tokenizer, n int, seed uint64) (*Evaluation, error) {
	gen, err := sample.NewGenerator(m)
	if err != nil {
		return nil, err
	}
	defer gen.Close()
	problems := datasets.Arithmetic(n, seed+1_000_003) // a seed the pretraining never used
	var prompts [][]int
	for _, p := range problems {
		text, err := tok.ApplyChatTemplate(Messages(p.Question), tokenizer.ChatOptions{AddGenerationPrompt: true})
		if err != nil {
			return nil, err
		}
		prompts = append(prompts, tok.Encode(text, false))
	}
	ev := &Evaluation{Problems: n}
	for start := 0; start < n; start += 64 {
		end := min(n, start+64)
		res, err := gen.Generate(&sample.Request{Prompts: prompts[start:end], MaxNewTokens: 48, Params: sample.Params{Greedy: true},
			StopTokens: []int{tok.EOSID()}, PadID: tok.PadID()})
		if err != nil {
			return nil, err
		}
		var samples []reward.Sample
		for i, toks := range res.Tokens {
			samples = append(samples, reward.Sample{Completion: tok.Decode(toks, true), Answer: problems[start+i].Answer})
		}
		if start == 0 {
			ev.FirstSample = samples[0].Completion
		}
		scores, err := reward.Score(reward.UnslothXML(), samples)
		if err != nil {
			return nil, err
		}
		for _, s := range scores {
			total := 0.0
			for _, v := range s {
				total += v
			}
			ev.MeanReward += total
			if s[4] > 0 {
				ev.Correct++
			}
			if s[2] > 0 {
				ev.StrictFmt++
			}
			if s[1] > 0 {
				ev.SoftFmt++
			}
		}
	}
	f := float64(n)
	ev.Correct, ev.StrictFmt, ev.SoftFmt, ev.MeanReward = ev.Correct/f, ev.StrictFmt/f, ev.SoftFmt/f, ev.MeanReward/f
	return ev, nil
}
