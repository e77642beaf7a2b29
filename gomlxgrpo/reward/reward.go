// Package reward holds GRPO reward functions: plain Go over completions, one score each.
//
// A Func gets the batch's samples (prompt, completion and the dataset row) and returns one score per
// sample; NaN means "not applicable", which GRPO excludes exactly as TRL does with None. The built-ins
// reproduce Unsloth's notebooks, including Python's regex semantics (re.match without DOTALL, $
// before a final newline, Unicode \s and \d).
package reward

import (
	"fmt"
	"math"
	"runtime/debug"
)

// Sample is one completion to score.
type Sample struct {
	Prompt        string            // the user's question (last user message)
	Completion    string            // the generated text, special tokens removed
	CompletionIDs []int             // the generated token ids (EOS included when the row stopped)
	Answer        string            // the dataset's reference answer, if any
	Fields        map[string]string // every dataset column, for custom rewards
}

// Func scores a batch of samples: len(result) must equal len(samples). NaN excludes a sample.
type Func func(samples []Sample) []float64

// Reward is a named, weighted reward function. Name is what metrics call it (rewards/<Name>/mean).
type Reward struct {
	Name   string
	Fn     Func
	Weight float64 // 0 means 1
}

// PanicError is returned when a reward function panics; training state is untouched.
type PanicError struct {
	Name   string
	Sample int // index of the sample being scored when known, else -1
	Value  any
	Stack  string
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("reward function %q panicked (batch of samples, first sample index %d): %v\nfix the function and resume from the last checkpoint; no training state was changed", e.Name, e.Sample, e.Value)
}

// Score runs every reward over samples and returns scores[i][k] for sample i and reward k. A panic or
// a wrong-length result becomes an error naming the function; NaN scores are passed through.
func Score(rewards []Reward, samples []Sample) ([][]float64, error) {
	out := make([][]float64, len(samples))
	for i := range out {
		out[i] = make([]float64, len(rewards))
	}
	for k, r := range rewards {
		scores, err := safeCall(r, samples)
		if err != nil {
			return nil, err
		}
		if len(scores) != len(samples) {
			return nil, fmt.Errorf("reward function %q returned %d scores for %d samples", r.Name, len(scores), len(samples))
		}
		for i, s := range scores {
			if math.IsInf(s, 0) {
				return nil, fmt.Errorf("reward function %q returned %v for sample %d: rewards must be finite (NaN excludes a sample)", r.Name, s, i)
			}
			out[i][k] = s
		}
	}
	return out, nil
}

func safeCall(r Reward, samples []Sample) (scores []float64, err error) {
	defer func() {
		if v := recover(); v != nil {
			// Find which sample failed by scoring them one by one (cheap: only on the error path).
			idx := -1
			for i := range samples {
				if failsAlone(r, samples[i:i+1]) {
					idx = i
					break
				}
			}
			err = &PanicError{Name: r.Name, Sample: idx, Value: v, Stack: string(debug.Stack())}
		}
	}()
	return r.Fn(samples), nil
}

func failsAlone(r Reward, one []Sample) (failed bool) {
	defer func() {
		if recover() != nil {
			failed = true
		}
	}()
	r.Fn(one)
	return false
}

// PerSample lifts a function of one sample into a Func.
func PerSample(f func(s Sample) float64) Func {
	return func(samples []Sample) []float64 {
		out := make([]float64, len(samples))
		for i, s := range samples {
			out[i] = f(s)
		}
		return out
	}
}
