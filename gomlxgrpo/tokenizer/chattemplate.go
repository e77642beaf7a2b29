package tokenizer

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// Message is one chat turn.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatOptions are the variables transformers' apply_chat_template passes to the template.
type ChatOptions struct {
	AddGenerationPrompt bool
	BOSToken, EOSToken  string // defaults: the tokenizer's
	// Extra variables (e.g. "tools", "date_string"); nil is fine.
	Extra map[string]any
}

// ChatTemplate is a compiled Jinja chat template.
type ChatTemplate struct {
	source string
	tpl    *exec.Template
}

// CompileChatTemplate compiles source as transformers does: Jinja with trim_blocks and
// lstrip_blocks, plus the raise_exception and strftime_now globals.
func CompileChatTemplate(source string) (*ChatTemplate, error) {
	cfg := config.New()
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	cfg.KeepTrailingNewline = false
	env := &exec.Environment{
		Context:           gonja.DefaultContext.Inherit(),
		Filters:           gonja.DefaultEnvironment.Filters,
		Tests:             gonja.DefaultEnvironment.Tests,
		ControlStructures: gonja.DefaultEnvironment.ControlStructures,
		Methods:           gonja.DefaultEnvironment.Methods,
	}
	env.Context.Set("raise_exception", func(msg string) (string, error) {
		return "", errors.New("chat template: " + msg)
	})
	env.Context.Set("strftime_now", func(format string) string {
		return strftime(time.Now(), format)
	})
	loader, err := loaders.NewFileSystemLoader("")
	if err != nil {
		return nil, err
	}
	shifted, err := loaders.NewShiftedLoader("chat_template", strings.NewReader(source), loader)
	if err != nil {
		return nil, err
	}
	tpl, err := exec.NewTemplate("chat_template", cfg, shifted, env)
	if err != nil {
		return nil, fmt.Errorf("chat template does not compile: %w", err)
	}
	return &ChatTemplate{source: source, tpl: tpl}, nil
}

// Render renders messages. The result is the exact prompt text, special tokens included.
func (c *ChatTemplate) Render(messages []Message, opts ChatOptions) (string, error) {
	msgs := make([]any, len(messages))
	for i, m := range messages {
		msgs[i] = map[string]any{"role": m.Role, "content": m.Content}
	}
	vars := map[string]any{
		"messages":              msgs,
		"add_generation_prompt": opts.AddGenerationPrompt,
		"bos_token":             opts.BOSToken,
		"eos_token":             opts.EOSToken,
	}
	for k, v := range opts.Extra {
		vars[k] = v
	}
	var buf bytes.Buffer
	if err := c.tpl.Execute(&buf, exec.NewContext(vars)); err != nil {
		return "", fmt.Errorf("rendering chat template: %w", err)
	}
	return buf.String(), nil
}

// ApplyChatTemplate renders messages with the tokenizer's own template (tokenizer_config.json).
func (t *Tokenizer) ApplyChatTemplate(messages []Message, opts ChatOptions) (string, error) {
	if t.ChatTemplate == "" {
		return "", fmt.Errorf("this tokenizer has no chat_template: pass a template file (e.g. one of gomlxgrpo/tokenizer/templates)")
	}
	tpl, err := CompileChatTemplate(t.ChatTemplate)
	if err != nil {
		return "", err
	}
	if opts.BOSToken == "" {
		opts.BOSToken = t.BOSToken
	}
	if opts.EOSToken == "" {
		opts.EOSToken = t.EOSToken
	}
	return tpl.Render(messages, opts)
}

// strftime formats t with the C directives chat templates use (%d %b %Y %m %B %H %M %S %y %a %A).
func strftime(t time.Time, f string) string {
	r := strings.NewReplacer("%d", "02", "%b", "Jan", "%B", "January", "%Y", "2006", "%y", "06", "%m", "01",
		"%H", "15", "%M", "04", "%S", "05", "%a", "Mon", "%A", "Monday", "%%", "%")
	return t.Format(r.Replace(f))
}
