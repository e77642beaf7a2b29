// Package tiny is the small reasoning model gomlxgrpo ships, so that GRPO runs on any CPU with
// nothing downloaded: a Llama-architecture model of ~0.5M parameters with a byte-level tokenizer,
// pretrained by this package's SFT on generated arithmetic word problems in the
// <reasoning>/<answer> format, deliberately left imperfect so that GRPO has room to improve it.
package tiny

import (
	"encoding/json"
	"sort"
	"strings"

	"github.com/gomlxgrpo/gomlxgrpo/datasets"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/reward"
)

// ChatTemplate is ChatML; the tiny model was trained on exactly this rendering.
const ChatTemplate = "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

// specials are the added tokens, in id order after the vocabulary.
var specials = []struct {
	content string
	special bool
}{
	{"<|endoftext|>", true}, {"<|im_start|>", true}, {"<|im_end|>", true},
	{"<reasoning>", false}, {"</reasoning>", false}, {"<answer>", false}, {"</answer>", false},
}

// words become single tokens (with and without a leading space): the vocabulary of the generated
// problems and of the system prompt. Everything else falls back to bytes.
func words() []string {
	set := map[string]bool{}
	add := func(text string) {
		for _, w := range strings.FieldsFunc(text, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
		}) {
			if len(w) > 1 {
				set[w] = true
			}
		}
	}
	for _, p := range datasets.Arithmetic(5000, 99) {
		add(p.Question)
	}
	add(reward.XMLSystemPrompt + " system user assistant Respond following format")
	var out []string
	for w := range set {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// byteRune is GPT-2's bytes_to_unicode.
func byteRune(b int) rune {
	if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
		return rune(b)
	}
	n := 0
	for x := 0; x < b; x++ {
		if !((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF)) {
			n++
		}
	}
	return rune(256 + n)
}

func byteLevel(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		b.WriteRune(byteRune(int(c)))
	}
	return b.String()
}

// TokenizerJSON builds the tiny model's tokenizer.json: byte-level BPE with Llama 3's split regex,
// 256 byte tokens, whole-word tokens found directly (ignore_merges), and the added tokens above.
func TokenizerJSON() ([]byte, int) {
	vocab := map[string]int{}
	for b := range 256 {
		vocab[byteLevel(string([]byte{byte(b)}))] = b
	}
	for _, w := range words() {
		for _, v := range []string{w, " " + w} {
			if _, ok := vocab[byteLevel(v)]; !ok {
				vocab[byteLevel(v)] = len(vocab)
			}
		}
	}
	var added []map[string]any
	for _, s := range specials {
		id := len(vocab) + len(added)
		added = append(added, map[string]any{"id": id, "content": s.content, "single_word": false, "lstrip": false,
			"rstrip": false, "normalized": false, "special": s.special})
	}
	tj := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": nil,
		"pre_tokenizer": map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`}, "behavior": "Isolated", "invert": false},
			map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}}},
		"post_processor": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": false, "use_regex": false},
		"decoder":        map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": true, "vocab": vocab, "merges": []any{}},
	}
	b, _ := json.MarshalIndent(tj, "", " ")
	return b, len(vocab) + len(added)
}

// TokenizerConfigJSON is tokenizer_config.json with the chat template and special tokens.
func TokenizerConfigJSON() []byte {
	b, _ := json.MarshalIndent(map[string]any{
		"bos_token": nil, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "chat_template": ChatTemplate,
		"model_max_length": 512, "tokenizer_class": "PreTrainedTokenizerFast",
	}, "", "  ")
	return b
}
