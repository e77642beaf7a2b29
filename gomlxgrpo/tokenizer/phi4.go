package tokenizer

import "fmt"

// Phi4AddedTokens is Phi-4's special-token table on top of cl100k's 100256 ranks:
// <|dummy_0|>=100256, <|endoftext|>=100257, <|fim_prefix|>/<|fim_middle|>/<|fim_suffix|>=100258–100260,
// <|dummy_1..3|>=100261–100263, <|im_start|>=100264, <|im_end|>=100265, <|im_sep|>=100266,
// <|endofprompt|>=100276, and <|dummy_4|>… filling 100267–100351 except 100276 (pad <|dummy_85|>=100349);
// 100352 ids in all.
func Phi4AddedTokens() []AddedToken {
	tok := func(id int, s string) AddedToken { return AddedToken{ID: id, Content: s, Special: true} }
	out := []AddedToken{
		tok(100256, "<|dummy_0|>"), tok(100257, "<|endoftext|>"),
		tok(100258, "<|fim_prefix|>"), tok(100259, "<|fim_middle|>"), tok(100260, "<|fim_suffix|>"),
		tok(100261, "<|dummy_1|>"), tok(100262, "<|dummy_2|>"), tok(100263, "<|dummy_3|>"),
		tok(100264, "<|im_start|>"), tok(100265, "<|im_end|>"), tok(100266, "<|im_sep|>"),
		tok(100276, "<|endofprompt|>"),
	}
	n := 4
	for id := 100267; id < 100352; id++ {
		if id == 100276 {
			continue
		}
		out = append(out, tok(id, fmt.Sprintf("<|dummy_%d|>", n)))
		n++
	}
	return out
}

// Phi4FromCL100K turns a cl100k tokenizer.json (e.g. GPT-4's) into Phi-4's tokenizer: same ranks and
// split regex, Phi-4's added tokens, eos <|im_end|> and pad <|dummy_85|>, as Phi-4's tokenizer_config.json says.
func Phi4FromCL100K(cl100k *Tokenizer) *Tokenizer {
	t := *cl100k
	t.SetAddedTokens(Phi4AddedTokens())
	t.prefix, t.suffix = nil, nil
	t.BOSToken, t.EOSToken, t.PadToken = "<|endoftext|>", "<|im_end|>", "<|dummy_85|>"
	return &t
}
