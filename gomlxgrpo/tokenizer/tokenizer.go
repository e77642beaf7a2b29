// Package tokenizer implements Hugging Face tokenizer.json byte-level BPE (Llama 3.x, Qwen2/2.5,
// cl100k/Phi-4, GPT-2) and chat templates, byte-exact with Hugging Face's tokenizers.
//
// Encoding follows tokenizers' pipeline:
//
//	split on added tokens (leftmost-longest) → normalize (NFC for Qwen) → pre-tokenize with the
//	split regex → byte-level map → BPE per piece → post-process (e.g. Llama's <|begin_of_text|>)
//
// The BPE itself is tiktoken-go's (ranks = vocabulary ids as bytes): for these byte-level
// vocabularies, merging by the rank of the merged bytes equals tokenizers' merge-list order, and a
// piece found whole in the vocabulary is emitted directly, which is tokenizers' ignore_merges.
package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/pkoukk/tiktoken-go"
	"golang.org/x/text/unicode/norm"
)

// AddedToken is an entry of tokenizer.json's added_tokens.
type AddedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// Tokenizer is a loaded byte-level BPE tokenizer.
type Tokenizer struct {
	bpe      *tiktoken.Tiktoken
	idToKey  map[int][]byte // token id → bytes (BPE vocabulary)
	added    []AddedToken   // sorted longest content first
	addedIDs map[int]*AddedToken
	byFirst  map[byte][]*AddedToken
	nfc      bool
	prefix   []int // post-processor ids before the sequence (with add_special_tokens)
	suffix   []int // and after it
	size     int   // number of ids (max id + 1)

	// From tokenizer_config.json, when present.
	BOSToken, EOSToken, PadToken string
	ChatTemplate                 string
}

type fileJSON struct {
	AddedTokens   []AddedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type         string          `json:"type"`
		Vocab        json.RawMessage `json:"vocab"`
		IgnoreMerges bool            `json:"ignore_merges"`
	} `json:"model"`
}

// LoadDir loads dir/tokenizer.json and, when present, dir/tokenizer_config.json.
func LoadDir(dir string) (*Tokenizer, error) {
	t, err := LoadFile(dir + "/tokenizer.json")
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(dir + "/tokenizer_config.json"); err == nil {
		if err := t.LoadConfig(dir + "/tokenizer_config.json"); err != nil {
			return nil, err
		}
	}
	if b, err := os.ReadFile(dir + "/chat_template.jinja"); err == nil && t.ChatTemplate == "" {
		t.ChatTemplate = string(b)
	}
	return t, nil
}

// LoadFile loads a tokenizer.json file.
func LoadFile(path string) (*Tokenizer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading tokenizer: %w", err)
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse builds a Tokenizer from the bytes of a tokenizer.json.
func Parse(data []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("tokenizer.json is not valid JSON: %w", err)
	}
	if f.Model.Type != "BPE" {
		return nil, fmt.Errorf("tokenizer model type %q is not supported: gomlxgrpo implements byte-level BPE (Llama 3, Qwen2, Phi-4, GPT-2), not WordPiece, Unigram or WordLevel", f.Model.Type)
	}
	var vocab map[string]int
	if err := json.Unmarshal(f.Model.Vocab, &vocab); err != nil {
		return nil, fmt.Errorf("model.vocab: %w", err)
	}
	pattern, err := splitPattern(f.PreTokenizer)
	if err != nil {
		return nil, err
	}
	t := &Tokenizer{idToKey: map[int][]byte{}, addedIDs: map[int]*AddedToken{}, byFirst: map[byte][]*AddedToken{}}
	ranks := make(map[string]int, len(vocab))
	for key, id := range vocab {
		b, ok := byteLevelDecode(key)
		if !ok {
			return nil, fmt.Errorf("vocabulary entry %q (id %d) is not byte-level: only byte-level BPE tokenizers are supported", key, id)
		}
		ranks[string(b)] = id
		t.idToKey[id] = b
		t.size = max(t.size, id+1)
	}
	core, err := tiktoken.NewCoreBPE(ranks, map[string]int{}, pattern)
	if err != nil {
		return nil, fmt.Errorf("pre-tokenizer regex: %w", err)
	}
	t.bpe = tiktoken.NewTiktoken(core, nil, nil)
	t.SetAddedTokens(f.AddedTokens)
	if t.nfc, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, err
	}
	if err := t.parsePostProcessor(f.PostProcessor); err != nil {
		return nil, err
	}
	return t, nil
}

// SetAddedTokens replaces the added-token table (used to build Phi-4's from cl100k).
func (t *Tokenizer) SetAddedTokens(added []AddedToken) {
	t.added = append([]AddedToken(nil), added...)
	sort.SliceStable(t.added, func(i, j int) bool { return len(t.added[i].Content) > len(t.added[j].Content) })
	t.addedIDs = map[int]*AddedToken{}
	t.byFirst = map[byte][]*AddedToken{}
	for i := range t.added {
		a := &t.added[i]
		if a.Content == "" {
			continue
		}
		t.addedIDs[a.ID] = a
		t.byFirst[a.Content[0]] = append(t.byFirst[a.Content[0]], a)
		t.size = max(t.size, a.ID+1)
	}
}

// AddedTokens returns the added tokens (longest first).
func (t *Tokenizer) AddedTokens() []AddedToken { return t.added }

// gpt2Pattern is the regex ByteLevel uses when use_regex is true.
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// splitPattern extracts the pre-tokenizer regex: a Split with behavior Isolated (or Removed with
// invert) followed by ByteLevel without regex, or a ByteLevel with use_regex (GPT-2's pattern).
func splitPattern(raw json.RawMessage) (string, error) {
	type pt struct {
		Type    string `json:"type"`
		Pattern struct {
			Regex  string `json:"Regex"`
			String string `json:"String"`
		} `json:"pattern"`
		Behavior       string `json:"behavior"`
		Invert         bool   `json:"invert"`
		UseRegex       *bool  `json:"use_regex"`
		AddPrefixSpace bool   `json:"add_prefix_space"`
		Pretokenizers  []pt   `json:"pretokenizers"`
	}
	var p pt
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("pre_tokenizer: %w", err)
	}
	list := []pt{p}
	if p.Type == "Sequence" {
		list = p.Pretokenizers
	}
	pattern := ""
	for _, q := range list {
		switch q.Type {
		case "Split":
			if q.Pattern.Regex == "" || !((q.Behavior == "Isolated" && !q.Invert) || (q.Behavior == "Removed" && q.Invert)) {
				return "", fmt.Errorf("pre_tokenizer Split with behavior %q invert=%v is not supported", q.Behavior, q.Invert)
			}
			pattern = q.Pattern.Regex
		case "ByteLevel":
			if q.AddPrefixSpace {
				return "", fmt.Errorf("ByteLevel add_prefix_space=true is not supported")
			}
			if q.UseRegex == nil || *q.UseRegex {
				pattern = gpt2Pattern
			}
		default:
			return "", fmt.Errorf("pre_tokenizer %q is not supported (byte-level BPE tokenizers use Split + ByteLevel)", q.Type)
		}
	}
	if pattern == "" {
		return "", fmt.Errorf("pre_tokenizer has no split regex")
	}
	return pattern, nil
}

func parseNormalizer(raw json.RawMessage) (bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var n struct {
		Type        string            `json:"type"`
		Normalizers []json.RawMessage `json:"normalizers"`
	}
	if err := json.Unmarshal(raw, &n); err != nil {
		return false, err
	}
	switch n.Type {
	case "NFC":
		return true, nil
	case "Sequence":
		nfc := false
		for _, r := range n.Normalizers {
			v, err := parseNormalizer(r)
			if err != nil {
				return false, err
			}
			nfc = nfc || v
		}
		return nfc, nil
	}
	return false, fmt.Errorf("normalizer %q is not supported (only NFC)", n.Type)
}

func (t *Tokenizer) parsePostProcessor(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var p struct {
		Type       string            `json:"type"`
		Processors []json.RawMessage `json:"processors"`
		Single     []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
			Sequence *struct {
				ID string `json:"id"`
			} `json:"Sequence"`
		} `json:"single"`
		SpecialTokens map[string]struct {
			IDs []int `json:"ids"`
		} `json:"special_tokens"`
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("post_processor: %w", err)
	}
	switch p.Type {
	case "ByteLevel":
		return nil
	case "Sequence":
		for _, r := range p.Processors {
			if err := t.parsePostProcessor(r); err != nil {
				return err
			}
		}
		return nil
	case "TemplateProcessing":
		seen := false
		for _, item := range p.Single {
			if item.Sequence != nil {
				seen = true
				continue
			}
			if item.SpecialToken != nil {
				ids := p.SpecialTokens[item.SpecialToken.ID].IDs
				if seen {
					t.suffix = append(t.suffix, ids...)
				} else {
					t.prefix = append(t.prefix, ids...)
				}
			}
		}
		return nil
	}
	return fmt.Errorf("post_processor %q is not supported", p.Type)
}

// VocabSize is the number of token ids (largest id + 1).
func (t *Tokenizer) VocabSize() int { return t.size }

// Encode tokenizes text; addSpecial applies the post-processor (e.g. Llama's <|begin_of_text|>).
// Added and special tokens written in the text are always recognized, as in Hugging Face.
// Invalid UTF-8 is first replaced with U+FFFD per maximal invalid subsequence.
func (t *Tokenizer) Encode(text string, addSpecial bool) []int {
	if !utf8.ValidString(text) {
		text = ToValidUTF8([]byte(text))
	}
	var ids []int
	if addSpecial {
		ids = append(ids, t.prefix...)
	}
	start := 0
	for i := 0; i < len(text); {
		a := t.addedAt(text, i)
		if a == nil {
			i++
			continue
		}
		segEnd, next := i, i+len(a.Content)
		if a.LStrip {
			segEnd = len(strings.TrimRight(text[start:i], " \t\n\r")) + start
		}
		if a.RStrip {
			next = len(text) - len(strings.TrimLeft(text[next:], " \t\n\r"))
		}
		ids = t.encodeOrdinary(text[start:segEnd], ids)
		ids = append(ids, a.ID)
		start, i = next, next
	}
	ids = t.encodeOrdinary(text[start:], ids)
	if addSpecial {
		ids = append(ids, t.suffix...)
	}
	return ids
}

// addedAt returns the longest added token starting at text[i], honoring single_word.
func (t *Tokenizer) addedAt(text string, i int) *AddedToken {
	for _, a := range t.byFirst[text[i]] {
		if !strings.HasPrefix(text[i:], a.Content) {
			continue
		}
		if a.SingleWord && (!wordBoundaryBefore(text, i) || !wordBoundaryAfter(text, i+len(a.Content))) {
			continue
		}
		return a
	}
	return nil
}

func isWordRune(r rune) bool {
	return r == '_' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r > 127
}

func wordBoundaryBefore(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !isWordRune(r)
}

func wordBoundaryAfter(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !isWordRune(r)
}

func (t *Tokenizer) encodeOrdinary(s string, ids []int) []int {
	if s == "" {
		return ids
	}
	if t.nfc {
		s = norm.NFC.String(s)
	}
	return append(ids, t.bpe.EncodeOrdinary(s)...)
}

// Decode turns ids back into text; skipSpecial drops special added tokens. Bytes that do not form
// valid UTF-8 become U+FFFD as in Hugging Face's byte-level decoder.
func (t *Tokenizer) Decode(ids []int, skipSpecial bool) string {
	var buf []byte
	for _, id := range ids {
		if a, ok := t.addedIDs[id]; ok {
			if skipSpecial && a.Special {
				continue
			}
			buf = append(buf, a.Content...)
			continue
		}
		buf = append(buf, t.idToKey[id]...)
	}
	return ToValidUTF8(buf)
}

// TokenID returns the id of an added token or a vocabulary entry given by its text, or -1.
func (t *Tokenizer) TokenID(s string) int {
	for i := range t.added {
		if t.added[i].Content == s {
			return t.added[i].ID
		}
	}
	for id, b := range t.idToKey {
		if string(b) == s {
			return id
		}
	}
	return -1
}

// EOSID is the id of EOSToken, or -1.
func (t *Tokenizer) EOSID() int {
	if t.EOSToken == "" {
		return -1
	}
	return t.TokenID(t.EOSToken)
}

// PadID is the id of PadToken, or -1.
func (t *Tokenizer) PadID() int {
	if t.PadToken == "" {
		return -1
	}
	return t.TokenID(t.PadToken)
}
