package reward

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// TestMatchesPythonReference compares every built-in reward with Python's re on hand-written and
// random completions (scripts/make_reward_goldens.py).
func TestMatchesPythonReference(t *testing.T) {
	data, err := os.ReadFile("testdata/rewards.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Cases []struct {
			Completion string             `json:"completion"`
			Answer     string             `json:"answer"`
			Scores     map[string]float64 `json:"scores"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	fns := map[string]Func{}
	for _, r := range UnslothXML() {
		fns[r.Name] = r.Fn
	}
	for _, tb := range []*Table{Qwen3Table("<|endoftext|>"), Gemma3Table()} {
		for _, r := range tb.Rewards() {
			fns[tb.Name+"/"+r.Name] = r.Fn
		}
	}
	bad := 0
	for i, c := range g.Cases {
		for name, want := range c.Scores {
			fn := fns[name]
			if fn == nil {
				t.Fatalf("no Go function for %s", name)
			}
			got := fn([]Sample{{Completion: c.Completion, Answer: c.Answer}})[0]
			if math.Abs(got-want) > 1e-12 {
				if bad++; bad < 15 {
					t.Errorf("case %d %s(%q, answer %q) = %v, Python %v", i, name, c.Completion, c.Answer, got, want)
				}
			}
		}
	}
	if len(g.Cases) < 400 {
		t.Fatalf("only %d cases", len(g.Cases))
	}
}

func TestPanicNamesFunctionAndSample(t *testing.T) {
	boom := Reward{Name: "my_reward", Fn: PerSample(func(s Sample) float64 {
		if s.Completion == "bad" {
			panic("index out of range")
		}
		return 1
	})}
	_, err := Score([]Reward{boom}, []Sample{{Completion: "ok"}, {Completion: "bad"}})
	var pe *PanicError
	if !errors.As(err, &pe) || pe.Name != "my_reward" || pe.Sample != 1 || !strings.Contains(err.Error(), "index out of range") {
		t.Fatalf("got %v", err)
	}
	short := Reward{Name: "short", Fn: func(s []Sample) []float64 { return []float64{1} }}
	if _, err := Score([]Reward{short}, []Sample{{}, {}}); err == nil || !strings.Contains(err.Error(), "short") {
		t.Fatalf("wrong-length result: %v", err)
	}
	nan := Reward{Name: "nan", Fn: func(s []Sample) []float64 { return []float64{math.NaN()} }}
	got, err := Score([]Reward{nan}, []Sample{{}})
	if err != nil || !math.IsNaN(got[0][0]) {
		t.Fatalf("NaN should pass through: %v %v", got, err)
	}
}
