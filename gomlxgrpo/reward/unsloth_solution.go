package reward

import (
	"regexp"
	"strings"
)

// The rewards of Unsloth's newer GRPO notebooks (Qwen3 (4B) and Gemma3 (1B)), with their tags
// <start_working_out> … <end_working_out> <SOLUTION> … </SOLUTION>. The two notebooks use different
// values and slightly different patterns; Table picks one.

const (
	ReasoningStart = "<start_working_out>"
	ReasoningEnd   = "<end_working_out>"
	SolutionStart  = "<SOLUTION>"
	SolutionEnd    = "</SOLUTION>"
)

// SolutionSystemPrompt is those notebooks' system prompt.
const SolutionSystemPrompt = "You are given a problem.\nThink about the problem and provide your working out.\n" +
	"Place it between " + ReasoningStart + " and " + ReasoningEnd + ".\nThen, provide your solution between " + SolutionStart + SolutionEnd

// Table holds one notebook's values.
type Table struct {
	Name string
	// match_format_approximately: +Hit / +Miss for each counted tag (count == 1 or not).
	Hit, Miss          float64
	CountReasoningOpen bool // Qwen3 prepends <start_working_out> in its chat template, so it does not count it
	// check_answer.
	NoMatch, Exact, Stripped, Ratio10, Ratio20, Wrong, NotNumber float64
	// check_numbers.
	NumNoMatch, NumEqual, NumDiffer float64

	matchFormat, matchNumbers *regexp.Regexp
}

// Qwen3Table is nb/Qwen3_(4B)-GRPO.ipynb. eosToken is the tokenizer's eos_token, optionally matched
// after </SOLUTION> ("" for none).
func Qwen3Table(eosToken string) *Table {
	eos := ""
	if eosToken != "" {
		eos = "(?:" + regexp.QuoteMeta(eosToken) + ")?"
	}
	return &Table{
		Name: "qwen3", Hit: 0.5, Miss: -1.0, CountReasoningOpen: false,
		NoMatch: -2.0, Exact: 5.0, Stripped: 3.5, Ratio10: 2.0, Ratio20: 1.5, Wrong: -2.5, NotNumber: -4.5,
		NumNoMatch: -2.5, NumEqual: 3.5, NumDiffer: -1.5,
		matchFormat:  pyCompile(ReasoningEnd+`.*?`+SolutionStart+`(.+?)`+SolutionEnd+`[\s]{0,}`+eos+`[\s]{0,}$`, true, true),
		matchNumbers: pyCompile(SolutionStart+`.*?[\s]{0,}([-]?[\d\.\,]{1,})`, true, true),
	}
}

// Gemma3Table is nb/Gemma3_(1B)-GRPO.ipynb (GSM8K).
func Gemma3Table() *Table {
	return &Table{
		Name: "gemma3", Hit: 0.5, Miss: -0.5, CountReasoningOpen: true,
		NoMatch: 0, Exact: 3.0, Stripped: 1.5, Ratio10: 0.5, Ratio20: 0.25, Wrong: -1.0, NotNumber: -0.5,
		NumNoMatch: 0, NumEqual: 1.5, NumDiffer: 0,
		matchFormat:  pyCompile(`^[\s]{0,}`+ReasoningStart+`.+?`+ReasoningEnd+`.*?`+SolutionStart+`(.+?)`+SolutionEnd+`[\s]{0,}$`, true, true),
		matchNumbers: pyCompile(SolutionStart+`.*?([\d\.]{1,})`, true, true),
	}
}

// MatchFormatExactly: +3.0 when match_format.search finds the whole format.
func (t *Table) MatchFormatExactly(samples []Sample) []float64 {
	return PerSample(func(s Sample) float64 {
		if pySearch(t.matchFormat, s.Completion) != nil {
			return 3.0
		}
		return 0
	})(samples)
}

// MatchFormatApproximately: +Hit or +Miss for each tag seen exactly once or not.
func (t *Table) MatchFormatApproximately(samples []Sample) []float64 {
	return PerSample(func(s Sample) float64 {
		score := 0.0
		tags := []string{ReasoningEnd, SolutionStart, SolutionEnd}
		if t.CountReasoningOpen {
			tags = append([]string{ReasoningStart}, tags...)
		}
		for _, tag := range tags {
			if strings.Count(s.Completion, tag) == 1 {
				score += t.Hit
			} else {
				score += t.Miss
			}
		}
		return score
	})(samples)
}

// CheckAnswer compares the solution with the answer: exact, equal after strip, or by ratio.
func (t *Table) CheckAnswer(samples []Sample) []float64 {
	return PerSample(func(s Sample) float64 {
		m := pySearch(t.matchFormat, s.Completion)
		if m == nil {
			return t.NoMatch
		}
		guess := m[1]
		switch {
		case guess == s.Answer:
			return t.Exact
		case pyStrip(guess) == pyStrip(s.Answer):
			return t.Stripped
		}
		g, ok1 := pyFloat(guess)
		a, ok2 := pyFloat(s.Answer)
		if !ok1 || !ok2 || a == 0 { // float() failed or ZeroDivisionError: the except branch
			return t.NotNumber
		}
		ratio := g / a
		switch {
		case ratio >= 0.9 && ratio <= 1.1:
			return t.Ratio10
		case ratio >= 0.8 && ratio <= 1.2:
			return t.Ratio20
		}
		return t.Wrong
	})(samples)
}

// CheckNumbers extracts the first number after <SOLUTION> and compares it as a float (commas
// removed in Qwen3's version).
func (t *Table) CheckNumbers(samples []Sample) []float64 {
	return PerSample(func(s Sample) float64 {
		m := pySearch(t.matchNumbers, s.Completion)
		if m == nil {
			return t.NumNoMatch
		}
		a, ok := pyFloat(s.Answer)
		if !ok {
			return 0
		}
		guess := pyStrip(m[1])
		if t.Name == "qwen3" {
			guess = strings.ReplaceAll(guess, ",", "")
		}
		g, ok := pyFloat(guess)
		if !ok {
			return 0
		}
		if g == a {
			return t.NumEqual
		}
		return t.NumDiffer
	})(samples)
}

// Rewards returns the four functions named as the notebooks name them.
func (t *Table) Rewards() []Reward {
	return []Reward{
		{Name: "match_format_exactly", Fn: t.MatchFormatExactly},
		{Name: "match_format_approximately", Fn: t.MatchFormatApproximately},
		{Name: "check_answer", Fn: t.CheckAnswer},
		{Name: "check_numbers", Fn: t.CheckNumbers},
	}
}
