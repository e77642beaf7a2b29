package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
)

// LoadConfig reads tokenizer_config.json: bos/eos/pad tokens, the chat template and
// added_tokens_decoder (merged into the added tokens when tokenizer.json lacks one).
func (t *Tokenizer) LoadConfig(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var c struct {
		BOS          json.RawMessage            `json:"bos_token"`
		EOS          json.RawMessage            `json:"eos_token"`
		Pad          json.RawMessage            `json:"pad_token"`
		ChatTemplate json.RawMessage            `json:"chat_template"`
		AddedDecoder map[string]json.RawMessage `json:"added_tokens_decoder"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	t.BOSToken, t.EOSToken, t.PadToken = tokenString(c.BOS), tokenString(c.EOS), tokenString(c.Pad)
	if len(c.ChatTemplate) > 0 && string(c.ChatTemplate) != "null" {
		var s string
		if json.Unmarshal(c.ChatTemplate, &s) == nil {
			t.ChatTemplate = s
		} else {
			// A list of named templates: take "default".
			var named []struct {
				Name     string `json:"name"`
				Template string `json:"template"`
			}
			if err := json.Unmarshal(c.ChatTemplate, &named); err != nil {
				return fmt.Errorf("%s: chat_template is neither a string nor a list of named templates", path)
			}
			for _, n := range named {
				if n.Name == "default" {
					t.ChatTemplate = n.Template
				}
			}
		}
	}
	var extra []AddedToken
	for idStr, raw := range c.AddedDecoder {
		var a AddedToken
		if err := json.Unmarshal(raw, &a); err != nil {
			return fmt.Errorf("%s: added_tokens_decoder[%s]: %w", path, idStr, err)
		}
		if _, err := fmt.Sscan(idStr, &a.ID); err != nil {
			return fmt.Errorf("%s: added_tokens_decoder key %q is not an id", path, idStr)
		}
		if _, ok := t.addedIDs[a.ID]; !ok {
			extra = append(extra, a)
		}
	}
	if len(extra) > 0 {
		t.SetAddedTokens(append(append([]AddedToken(nil), t.added...), extra...))
	}
	return nil
}

// tokenString reads "tok" or {"content": "tok", ...}.
func tokenString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var o struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw, &o) == nil {
		return o.Content
	}
	return ""
}
