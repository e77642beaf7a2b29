package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/text/unicode/norm"
)

// The references were written by scripts/tokenizer_goldens.js with Hugging Face's tokenizers@0.23.2
// (Rust, under node) and @huggingface/jinja@0.5.11.

func gunzip(t testing.TB, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	loadOnce sync.Once
	loaded   map[string]*Tokenizer
)

// testTokenizers loads the real Llama 3.1, Qwen2.5 and cl100k tokenizer.json files (and Phi-4 built on cl100k).
func testTokenizers(t testing.TB) map[string]*Tokenizer {
	loadOnce.Do(func() {
		loaded = map[string]*Tokenizer{}
		for name, file := range map[string]string{"llama3_1": "llama3_1", "qwen2_5": "qwen2_5", "cl100k": "gpt4"} {
			tk, err := Parse(gunzip(t, "testdata/"+file+".tokenizer.json.gz"))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if err := tk.LoadConfig("testdata/" + file + ".tokenizer_config.json"); err != nil {
				t.Fatal(err)
			}
			loaded[name] = tk
		}
		loaded["phi4"] = Phi4FromCL100K(loaded["cl100k"])
	})
	return loaded
}

type idsGolden struct {
	Tokenizers map[string]struct {
		Texts int     `json:"texts"`
		Bulk  [][]any `json:"bulk"`
		Hard  []struct {
			Text        string `json:"text"`
			IDs         []int  `json:"ids"`
			IDsSpecial  []int  `json:"ids_special"`
			Decoded     string `json:"decoded"`
			DecodedSkip string `json:"decoded_skip"`
		} `json:"hard"`
		Partial []struct {
			IDs     []int  `json:"ids"`
			Decoded string `json:"decoded"`
		} `json:"partial"`
	} `json:"tokenizers"`
}

func loadIDsGolden(t testing.TB) *idsGolden {
	var g idsGolden
	if err := json.Unmarshal(gunzip(t, "testdata/ids.golden.json.gz"), &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

// gsm8kTexts returns every question and answer of the vendored GSM8K, in the generator's order.
func gsm8kTexts(t testing.TB) []string {
	var out []string
	for _, f := range []string{"train.jsonl", "test.jsonl"} {
		fh, err := os.Open(filepath.Join("..", "..", "datasets", "gsm8k", f))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "" {
				continue
			}
			var r struct{ Question, Answer string }
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r.Question, r.Answer)
		}
		fh.Close()
	}
	return out
}

// fnv is 64-bit FNV-1a over the ids as little-endian uint32, as the generator computes it.
func fnv(ids []int) string {
	h := uint64(0xcbf29ce484222325)
	for _, id := range ids {
		for k := range 4 {
			h ^= uint64((uint32(id) >> (8 * k)) & 0xff)
			h *= 0x100000001b3
		}
	}
	return fmt.Sprintf("%x", h)
}

// TestGSM8KMatchesHF encodes every GSM8K question and answer (17,584 texts) with each tokenizer, with
// and without special tokens, and compares with Hugging Face's ids.
func TestGSM8KMatchesHF(t *testing.T) {
	g := loadIDsGolden(t)
	texts := gsm8kTexts(t)
	for name, tk := range testTokenizers(t) {
		t.Run(name, func(t *testing.T) {
			ref := g.Tokenizers[name]
			if ref.Texts != len(texts) {
				t.Fatalf("golden has %d texts, datasets/gsm8k has %d", ref.Texts, len(texts))
			}
			bad := 0
			for i, s := range texts {
				a, b := tk.Encode(s, false), tk.Encode(s, true)
				r := ref.Bulk[i]
				if fnv(a) != r[0].(string) || len(a) != int(r[1].(float64)) || fnv(b) != r[2].(string) || len(b) != int(r[3].(float64)) {
					if bad++; bad <= 3 {
						t.Errorf("text %d differs from Hugging Face (%d tokens here, %v there): %q", i, len(a), r[1], s)
					}
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d texts differ", bad, len(texts))
			}
		})
	}
}

// TestHardCasesMatchHF: whitespace runs, tabs, CJK, emoji, accents, digits, contractions and special
// tokens inside text; ids with and without special tokens, and both decodes.
func TestHardCasesMatchHF(t *testing.T) {
	g := loadIDsGolden(t)
	for name, tk := range testTokenizers(t) {
		t.Run(name, func(t *testing.T) {
			for _, h := range g.Tokenizers[name].Hard {
				if got := tk.Encode(h.Text, false); !equal(got, h.IDs) {
					t.Errorf("Encode(%q) = %v, Hugging Face %v", h.Text, got, h.IDs)
				}
				if got := tk.Encode(h.Text, true); !equal(got, h.IDsSpecial) {
					t.Errorf("Encode(%q, special) = %v, Hugging Face %v", h.Text, got, h.IDsSpecial)
				}
				if got := tk.Decode(h.IDs, false); got != h.Decoded {
					t.Errorf("Decode(%v) = %q, Hugging Face %q", h.IDs, got, h.Decoded)
				}
				if got := tk.Decode(h.IDs, true); got != h.DecodedSkip {
					t.Errorf("Decode(%v, skip special) = %q, Hugging Face %q", h.IDs, got, h.DecodedSkip)
				}
			}
			for _, p := range g.Tokenizers[name].Partial {
				if got := tk.Decode(p.IDs, false); got != p.Decoded {
					t.Errorf("Decode(%v) of split UTF-8 = %q, Hugging Face %q", p.IDs, got, p.Decoded)
				}
			}
		})
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestPhi4Specials is offline-assets.md's check of Phi-4's table.
func TestPhi4Specials(t *testing.T) {
	tk := testTokenizers(t)["phi4"]
	got := tk.Encode("<|im_start|>Hello<|im_sep|> World<|im_end|><|dummy_85|>", false)
	want := []int{100264, 9906, 100266, 4435, 100265, 100349}
	if !equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if tk.VocabSize() != 100352 || tk.PadID() != 100349 || tk.EOSID() != 100265 {
		t.Fatalf("vocab %d pad %d eos %d; want 100352, 100349, 100265", tk.VocabSize(), tk.PadID(), tk.EOSID())
	}
}

// TestInvalidUTF8 checks that invalid input is replaced per maximal subpart (Python's errors="replace").
func TestInvalidUTF8(t *testing.T) {
	for in, want := range map[string]string{
		"a\xffb":          "a\uFFFDb",
		"\xe2\x82":        "\uFFFD",              // truncated 3-byte sequence: one replacement
		"\xe2\x82x":       "\uFFFDx",             // same, then ASCII
		"\xf0\x9f\x98":    "\uFFFD",              // truncated emoji
		"\xc0\xaf":        "\uFFFD\uFFFD",        // overlong: two
		"\xed\xa0\x80z":   "\uFFFD\uFFFD\uFFFDz", // surrogate: three
		"ok \xe6\x97\xa5": "ok 日",
	} {
		if got := ToValidUTF8([]byte(in)); got != want {
			t.Errorf("ToValidUTF8(%q) = %q, want %q", in, got, want)
		}
	}
	tk := testTokenizers(t)["llama3_1"]
	if got, want := tk.Encode("a\xffb", false), tk.Encode("a\uFFFDb", false); !equal(got, want) {
		t.Errorf("invalid UTF-8 encodes as %v, want the U+FFFD encoding %v", got, want)
	}
}

func TestUnsupportedModelType(t *testing.T) {
	for _, typ := range []string{"WordPiece", "Unigram"} {
		_, err := Parse([]byte(`{"model":{"type":"` + typ + `","vocab":{}},"added_tokens":[]}`))
		if err == nil || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s: error %v should name the type", typ, err)
		}
	}
}

type templateGolden struct {
	Renders []struct {
		Template            string    `json:"template"`
		Conversation        string    `json:"conversation"`
		AddGenerationPrompt bool      `json:"add_generation_prompt"`
		Messages            []Message `json:"messages"`
		Text                *string   `json:"text"`
		Error               *string   `json:"error"`
	} `json:"renders"`
}

// TestChatTemplatesMatchHF renders the official templates (and our reasoning template) byte for byte
// as @huggingface/jinja does.
func TestChatTemplatesMatchHF(t *testing.T) {
	var g templateGolden
	if err := json.Unmarshal(gunzip(t, "testdata/templates.golden.json.gz"), &g); err != nil {
		t.Fatal(err)
	}
	if len(g.Renders) < 50 {
		t.Fatalf("only %d renders in the golden", len(g.Renders))
	}
	for _, r := range g.Renders {
		name := fmt.Sprintf("%s/%s/gen=%v", r.Template, r.Conversation, r.AddGenerationPrompt)
		src, err := os.ReadFile(filepath.Join("templates", r.Template))
		if err != nil {
			t.Fatal(err)
		}
		tpl, err := CompileChatTemplate(string(src))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := tpl.Render(r.Messages, ChatOptions{AddGenerationPrompt: r.AddGenerationPrompt, BOSToken: "<BOS>", EOSToken: "<EOS>",
			Extra: map[string]any{"date_string": "26 Jul 2024"}})
		if r.Error != nil {
			if err == nil {
				t.Errorf("%s: Hugging Face raised %q, we rendered %q", name, *r.Error, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != *r.Text {
			t.Errorf("%s:\n got %q\nwant %q", name, got, *r.Text)
		}
	}
}

// FuzzRoundTrip: decode(encode(s)) == s for valid UTF-8 (NFC(s) for Qwen, whose normalizer is NFC).
func FuzzRoundTrip(f *testing.F) {
	for _, s := range []string{"hello world", "  spaces  ", "東京 🤖", "<|im_start|>x<|im_end|>", "e\u0301", "\t\n\r\n"} {
		f.Add(s)
	}
	toks := testTokenizers(f)
	f.Fuzz(func(t *testing.T, s string) {
		s = ToValidUTF8([]byte(s))
		for name, tk := range toks {
			want := s
			if tk.nfc {
				want = norm.NFC.String(s)
			}
			if got := tk.Decode(tk.Encode(s, false), false); got != want {
				t.Fatalf("%s: decode(encode(%q)) = %q", name, s, got)
			}
		}
	})
}

// BenchmarkEncodeGSM8K encodes the GSM8K train questions and answers (4.2 MB) on one goroutine.
func BenchmarkEncodeGSM8K(b *testing.B) {
	texts := gsm8kTexts(b)[:2*7473]
	size := 0
	for _, s := range texts {
		size += len(s)
	}
	for _, name := range []string{"llama3_1", "qwen2_5", "cl100k"} {
		tk := testTokenizers(b)[name]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				for _, s := range texts {
					tk.Encode(s, false)
				}
			}
		})
	}
}
