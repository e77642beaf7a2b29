package reward

import (
	"regexp"
	"strings"
)

// The GSM8K <reasoning>/<answer> rewards of Unsloth's Llama 3.1 (8B), Phi-4 and Qwen2.5 GRPO
// notebooks (credited there to willccbb's gist). Maximum total: 4.0.

// XMLSystemPrompt is those notebooks' SYSTEM_PROMPT.
const XMLSystemPrompt = "\nRespond in the following format:\n<reasoning>\n...\n</reasoning>\n<answer>\n...\n</answer>\n"

// ExtractXMLAnswer is extract_xml_answer: text.split("<answer>")[-1].split("</answer>")[0].strip().
func ExtractXMLAnswer(text string) string {
	a := pySplitLast(text, "<answer>")
	if i := strings.Index(a, "</answer>"); i >= 0 {
		a = a[:i]
	}
	return pyStrip(a)
}

// Correctness is correctness_reward_func: 2.0 when the extracted answer equals the reference exactly.
func Correctness(samples []Sample) []float64 {
	return PerSample(func(s Sample) float64 {
		if ExtractXMLAnswer(s.Completion) == s.Answer {
			return 2.0
		}
		return 0
	})(samples)
}

// Int is int_reward_func: 0.5 when the extracted answer .isdigit().
func Int(samples []Sample) []float64 {
	return PerSample(func(s Sample) float64 {
		if pyIsDigit(ExtractXMLAnswer(s.Completion)) {
			return 0.5
		}
		return 0
	})(samples)
}

var (
	strictFormat = pyCompile(`^<reasoning>\n.*?\n</reasoning>\n<answer>\n.*?\n</answer>\n$`, false, false)
	softFormat   = pyCompile(`<reasoning>.*?</reasoning>\s*<answer>.*?</answer>`, false, false)
)

func matchReward(re *regexp.Regexp) Func {
	return PerSample(func(s Sample) float64 {
		if pyMatch(re, s.Completion) != nil {
			return 0.5
		}
		return 0
	})
}

// StrictFormat is strict_format_reward_func: 0.5 for re.match(r"^<reasoning>\n.*?\n</reasoning>\n<answer>\n.*?\n</answer>\n$")
// (no DOTALL: the reasoning and the answer must each be one line).
func StrictFormat(samples []Sample) []float64 { return matchReward(strictFormat)(samples) }

// SoftFormat is soft_format_reward_func: 0.5 for re.match(r"<reasoning>.*?</reasoning>\s*<answer>.*?</answer>").
func SoftFormat(samples []Sample) []float64 { return matchReward(softFormat)(samples) }

// CountXML is count_xml: +0.125 for each of "<reasoning>\n", "\n</reasoning>\n", "\n<answer>\n" and
// "\n</answer>" present exactly once, minus 0.001 per character after the closing answer tag.
func CountXML(text string) float64 {
	count := 0.0
	if pyCount(text, "<reasoning>\n") == 1 {
		count += 0.125
	}
	if pyCount(text, "\n</reasoning>\n") == 1 {
		count += 0.125
	}
	if pyCount(text, "\n<answer>\n") == 1 {
		count += 0.125
		count -= float64(pyLen(pySplitLast(text, "\n</answer>\n"))) * 0.001
	}
	if pyCount(text, "\n</answer>") == 1 {
		count += 0.125
		count -= float64(pyLen(pySplitLast(text, "\n</answer>"))-1) * 0.001
	}
	return count
}

// XMLCount is xmlcount_reward_func.
func XMLCount(samples []Sample) []float64 {
	return PerSample(func(s Sample) float64 { return CountXML(s.Completion) })(samples)
}

// UnslothXML returns the five notebook rewards in the notebooks' order, named as TRL logs them.
func UnslothXML() []Reward {
	return []Reward{
		{Name: "xmlcount_reward_func", Fn: XMLCount},
		{Name: "soft_format_reward_func", Fn: SoftFormat},
		{Name: "strict_format_reward_func", Fn: StrictFormat},
		{Name: "int_reward_func", Fn: Int},
		{Name: "correctness_reward_func", Fn: Correctness},
	}
}
