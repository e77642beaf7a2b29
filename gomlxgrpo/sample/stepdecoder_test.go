package sample

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

// fakeDecoder stands in for the CUDA decoder (gomlxgrpo/cuda, tested on the GPU): it refuses or fails
// in Start as told, else answers every Step with token 7 at log-prob −1 and records what it saw.
type fakeDecoder struct {
	startErr      error
	starts, steps int
	closes        int
}

func (f *fakeDecoder) Start(caches []*tensors.Tensor, k1, k2 []uint32, p Params) error {
	f.starts++
	return f.startErr
}

func (f *fakeDecoder) Step(ids, pos []int32, valid [][]bool, writeIdx, step int) ([]int32, []float32, error) {
	f.steps++
	toks, lps := make([]int32, len(ids)), make([]float32, len(ids))
	for i := range toks {
		toks[i], lps[i] = 7, -1
	}
	return toks, lps, nil
}

func (f *fakeDecoder) Close() { f.closes++ }

// TestStepDecoderHook: the Generator hands the decode steps after the first token to its
// StepDecoder; a Start error wrapping ErrDecoderUnsupported sends the generation to the GoMLX path
// (same tokens as without a decoder), any other Start error is returned.
func TestStepDecoderHook(t *testing.T) {
	m := loadTiny(t)
	gen, err := NewGenerator(m)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	req := func() *Request {
		return &Request{Prompts: [][]int{{5, 9, 13}, {11, 12}}, MaxNewTokens: 6, Params: DefaultParams(), Seed: 4}
	}
	gen.Decoder = nil
	ref, err := gen.Generate(req())
	if err != nil {
		t.Fatal(err)
	}

	// A decoder that runs: tokens 2… come from it, Close is called once.
	f := &fakeDecoder{}
	gen.Decoder = f
	res, err := gen.Generate(req())
	if err != nil {
		t.Fatal(err)
	}
	if !res.Timing.StepDecoder || f.starts != 1 || f.closes != 1 || f.steps != 5 {
		t.Fatalf("decoder used %v, starts %d, closes %d, steps %d; want true, 1, 1, 5", res.Timing.StepDecoder, f.starts, f.closes, f.steps)
	}
	for i := range res.Tokens {
		if res.Tokens[i][0] != ref.Tokens[i][0] {
			t.Errorf("row %d: the first token comes from the prefill (%d), got %d", i, ref.Tokens[i][0], res.Tokens[i][0])
		}
		if fmt.Sprint(res.Tokens[i][1:]) != "[7 7 7 7 7]" || res.LogProbs[i][1] != -1 {
			t.Errorf("row %d: tokens after the first %v (log-prob %v), want the decoder's 7s at -1", i, res.Tokens[i][1:], res.LogProbs[i][1])
		}
	}

	// A decoder that declines: the GoMLX path decodes, exactly as without one.
	f = &fakeDecoder{startErr: fmt.Errorf("too many rows: %w", ErrDecoderUnsupported)}
	gen.Decoder = f
	if res, err = gen.Generate(req()); err != nil {
		t.Fatal(err)
	}
	if res.Timing.StepDecoder || f.steps != 0 || f.closes != 0 {
		t.Fatalf("declining decoder: used %v, steps %d, closes %d", res.Timing.StepDecoder, f.steps, f.closes)
	}
	if fmt.Sprint(res.Tokens) != fmt.Sprint(ref.Tokens) {
		t.Fatalf("after a declining decoder: %v, without a decoder %v", res.Tokens, ref.Tokens)
	}

	// A decoder that fails: the error comes back.
	gen.Decoder = &fakeDecoder{startErr: errors.New("scratch allocation failed")}
	if _, err = gen.Generate(req()); err == nil || !strings.Contains(err.Error(), "scratch allocation failed") {
		t.Fatalf("failing decoder: error %v", err)
	}
}

// sharingDecoder is a fakeDecoder that also takes shared prompts (PromptSharer) and checks, in
// Start, the promise the Generator makes with them: every row's cache entries below the prompt
// width are its source row's bits.
type sharingDecoder struct {
	fakeDecoder
	src     []int32
	prefix  int
	checked int // cache entries compared
	diff    string
}

func (f *sharingDecoder) SharePrompts(src []int32, prefix int) { f.src, f.prefix = src, prefix }

func (f *sharingDecoder) Start(caches []*tensors.Tensor, k1, k2 []uint32, p Params) error {
	for _, c := range caches { // [B, K, S, H]
		dims := c.Shape().Dimensions
		B, K, S, H, size := dims[0], dims[1], dims[2], dims[3], c.DType().Size()
		_ = c.ConstBytes(func(data []byte) {
			for b := range B {
				for k := range K {
					for s := range f.prefix {
						at := func(row int) []byte {
							i := (((row*K+k)*S + s) * H) * size
							return data[i : i+H*size]
						}
						f.checked++
						if string(at(b)) != string(at(int(f.src[b]))) && f.diff == "" {
							f.diff = fmt.Sprintf("row %d kv head %d position %d differs from row %d's", b, k, s, f.src[b])
						}
					}
				}
			}
		})
	}
	return f.fakeDecoder.Start(caches, k1, k2, p)
}

// TestStepDecoderSharedPrompts: a PromptSharer decoder learns each row's first row with the same
// prompt and the prompt width, and the caches it gets hold the same bits there in those rows.
func TestStepDecoderSharedPrompts(t *testing.T) {
	m := loadTiny(t)
	gen, err := NewGenerator(m)
	if err != nil {
		t.Fatal(err)
	}
	defer gen.Close()
	f := &sharingDecoder{}
	gen.Decoder = f
	a, b := []int{5, 9, 13}, []int{11, 12}
	if _, err := gen.Generate(&Request{Prompts: [][]int{a, a, b, a, b}, MaxNewTokens: 4, Params: DefaultParams(), Seed: 4}); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.src); got != "[0 0 2 0 2]" || f.prefix < 3 {
		t.Fatalf("SharePrompts(%s, %d), want [0 0 2 0 2] and the prompt width (≥ 3)", got, f.prefix)
	}
	if f.checked == 0 || f.diff != "" {
		t.Fatalf("compared %d cache rows; %s", f.checked, f.diff)
	}
}

// TestPromptGroup: G for prompts on G consecutive rows each, 0 for any other layout.
func TestPromptGroup(t *testing.T) {
	for _, c := range []struct {
		src  []int32
		want int
	}{
		{[]int32{0, 0, 0, 0, 4, 4, 4, 4}, 4},
		{[]int32{0, 0, 0, 0, 0, 0, 0, 0}, 8},
		{[]int32{0, 1, 2}, 1},
		{[]int32{0}, 1},
		{[]int32{0, 0, 2, 2, 2, 5}, 0}, // groups of 2, 3 and 1
		{[]int32{0, 0, 2, 0}, 0},       // prompt A again after B
		{[]int32{0, 0, 0, 3, 3}, 0},    // 3 then 2
	} {
		if got := PromptGroup(c.src); got != c.want {
			t.Errorf("PromptGroup(%v) = %d, want %d", c.src, got, c.want)
		}
	}
}
