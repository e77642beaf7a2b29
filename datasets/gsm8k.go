// Package datasets holds the training data gomlxgrpo ships: GSM8K (vendored, MIT license in
// gsm8k/LICENSE) and generators for tasks a tiny model can learn (arithmetic word problems, countdown).
package datasets

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
)

//go:embed gsm8k/train.jsonl
var gsm8kTrain []byte

//go:embed gsm8k/test.jsonl
var gsm8kTest []byte

// Problem is one question with its worked solution and final answer.
type Problem struct {
	Question string
	Solution string // full reference solution (GSM8K: the text before "####")
	Answer   string // final answer (GSM8K: the text after "#### ")
}

// GSM8K returns the "train" (7473) or "test" (1319) split of openai/gsm8k "main".
func GSM8K(split string) ([]Problem, error) {
	var data []byte
	switch split {
	case "train":
		data = gsm8kTrain
	case "test":
		data = gsm8kTest
	default:
		return nil, fmt.Errorf("GSM8K split %q: want train or test", split)
	}
	var out []Problem
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var r struct{ Question, Answer string }
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("gsm8k/%s.jsonl line %d: %w", split, n, err)
		}
		sol, ans, ok := strings.Cut(r.Answer, "####")
		if !ok {
			return nil, fmt.Errorf("gsm8k/%s.jsonl line %d: answer has no ####", split, n)
		}
		// extract_hash_answer: text.split("####")[1].strip()
		out = append(out, Problem{Question: r.Question, Solution: strings.TrimSpace(sol), Answer: strings.TrimSpace(ans)})
	}
	return out, sc.Err()
}
