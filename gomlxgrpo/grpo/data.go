package grpo

import (
	"math/rand/v2"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/tokenizer"
)

// Example is one training prompt: a conversation for the chat template (or raw token ids) plus the
// dataset's fields, which reward functions receive.
type Example struct {
	Prompt    []tokenizer.Message // rendered with the chat template and add_generation_prompt
	PromptIDs []int               // used instead of Prompt when set (models without a tokenizer)
	Answer    string
	Fields    map[string]string
}

// Dataset is what the trainer samples prompts from.
type Dataset interface {
	Len() int
	At(i int) Example
}

// Examples is a Dataset over a slice.
type Examples []Example

// Len implements Dataset.
func (e Examples) Len() int { return len(e) }

// At implements Dataset.
func (e Examples) At(i int) Example { return e[i] }

// Cursor walks a dataset in a fresh shuffled order each epoch (TRL's RepeatRandomSampler with a
// seed), so the position is two integers and resuming restores the exact order.
type Cursor struct {
	Epoch int `json:"epoch"`
	Index int `json:"index"`
}

// order returns the permutation of epoch e.
func order(n int, seed uint64, epoch int) []int {
	rng := rand.New(rand.NewPCG(seed, uint64(epoch)+0xC0FFEE))
	return rng.Perm(n)
}

// Next returns the next k example indices and advances the cursor.
func (c *Cursor) Next(n, k int, seed uint64) []int {
	out := make([]int, 0, k)
	perm := order(n, seed, c.Epoch)
	for len(out) < k {
		if c.Index >= n {
			c.Epoch++
			c.Index = 0
			perm = order(n, seed, c.Epoch)
		}
		out = append(out, perm[c.Index])
		c.Index++
	}
	return out
}
