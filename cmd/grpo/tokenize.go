package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

func init() {
	register("tokenize", "token ids of --text (or stdin) with a tokenizer.json, as JSON", runTokenize)
	register("chat-template", "render --messages with a model's or a file's chat template, exactly", runChatTemplate)
}

// loadTokenizer accepts a tokenizer.json file, a model folder or a hub id.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	if st, err := os.Stat(path); err == nil && !st.IsDir() {
		t, err := tokenizer.LoadFile(path)
		if err != nil {
			return nil, err
		}
		if cfg := filepath.Join(filepath.Dir(path), "tokenizer_config.json"); fileExists(cfg) {
			if err := t.LoadConfig(cfg); err != nil {
				return nil, err
			}
		}
		return t, nil
	}
	dir, err := hf.Resolve(path)
	if err != nil {
		return nil, err
	}
	return tokenizer.LoadDir(dir)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func runTokenize(args []string) error {
	fs := flag.NewFlagSet("tokenize", flag.ExitOnError)
	path := fs.String("tokenizer", "", "tokenizer.json, model folder or hub id")
	special := fs.Bool("add-special", false, "apply the post-processor (e.g. Llama's <|begin_of_text|>)")
	text := fs.String("text", "", "text to tokenize (default: stdin)")
	jsonl := fs.Bool("jsonl", false, "stdin holds one JSON string per line; print one {\"ids\":[...]} per line")
	_ = fs.Parse(args)
	if *path == "" {
		return fmt.Errorf("--tokenizer is required")
	}
	tk, err := loadTokenizer(*path)
	if err != nil {
		return err
	}
	if *jsonl {
		sc := bufio.NewScanner(os.Stdin)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		w := bufio.NewWriter(os.Stdout)
		defer w.Flush()
		enc := json.NewEncoder(w)
		for n := 1; sc.Scan(); n++ {
			var s string
			if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
				return fmt.Errorf("stdin line %d is not a JSON string: %w", n, err)
			}
			if err := enc.Encode(map[string][]int{"ids": nonNil(tk.Encode(s, *special))}); err != nil {
				return err
			}
		}
		return sc.Err()
	}
	s := *text
	if !flagSet(fs, "text") {
		b, err := io.ReadAll(os.Stdin)
		if err != nil {
			return err
		}
		s = string(b)
	}
	return printJSON(map[string][]int{"ids": nonNil(tk.Encode(s, *special))})
}

func nonNil(ids []int) []int {
	if ids == nil {
		return []int{}
	}
	return ids
}

func flagSet(fs *flag.FlagSet, name string) bool {
	found := false
	fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

func runChatTemplate(args []string) error {
	fs := flag.NewFlagSet("chat-template", flag.ExitOnError)
	modelRef := fs.String("model", "", "model folder or hub id (uses tokenizer_config.json's chat_template)")
	tplFile := fs.String("template", "", "a .jinja chat template file")
	msgFile := fs.String("messages", "", "JSON file: [{\"role\":...,\"content\":...}, ...]")
	agp := fs.Bool("add-generation-prompt", false, "end with the assistant's generation prompt")
	bos := fs.String("bos-token", "", "bos_token variable (default: the tokenizer's)")
	eos := fs.String("eos-token", "", "eos_token variable (default: the tokenizer's)")
	_ = fs.Parse(args)
	if (*modelRef == "") == (*tplFile == "") {
		return fmt.Errorf("give exactly one of --model or --template")
	}
	data, err := os.ReadFile(*msgFile)
	if err != nil {
		return fmt.Errorf("--messages: %w", err)
	}
	var msgs []tokenizer.Message
	if err := json.Unmarshal(data, &msgs); err != nil {
		return fmt.Errorf("--messages %s: expected a JSON list of {role, content}: %w", *msgFile, err)
	}
	opts := tokenizer.ChatOptions{AddGenerationPrompt: *agp, BOSToken: *bos, EOSToken: *eos}
	var out string
	if *tplFile != "" {
		src, err := os.ReadFile(*tplFile)
		if err != nil {
			return err
		}
		tpl, err := tokenizer.CompileChatTemplate(string(src))
		if err != nil {
			return err
		}
		out, err = tpl.Render(msgs, opts)
		if err != nil {
			return err
		}
	} else {
		tk, err := loadTokenizer(*modelRef)
		if err != nil {
			return err
		}
		if out, err = tk.ApplyChatTemplate(msgs, opts); err != nil {
			return err
		}
	}
	_, err = os.Stdout.WriteString(out)
	return err
}
