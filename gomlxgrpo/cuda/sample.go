//go:build cuda

package cuda

import (
	"os"

	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// Sample draws one token per row of logits [rows, vocab] float32 with kernels/sample.cu, the CUDA
// twin of sample.SampleGraph: the same warpers and the same counter-based uniforms, keyed by
// key1/key2 [rows] uint32 (sample.RowKeys) and the token index held in device memory at step
// (int32). Writes tokens [rows] int32 and logps [rows] float32. Asynchronous, like the other
// launchers.
//
// Draws with top-k or top-p bisect thresholds over whole rows: one block per row (sample_rows).
// The others (greedy, temperature, min-p: TRL's defaults) take the split form, sampleSlices(rows)
// blocks per row in two launches (sample_max_split, sample_draw_split) and the split-K scratch:
// the same token, the log-prob's normalizer summed in another order. GOMLXGRPO_SAMPLE=rows keeps
// the one-block form for every draw.
func Sample(logits, key1, key2, tokens, logps cu.DevicePtr, rows, vocab int, step cu.DevicePtr, params sample.Params) error {
	temp, topK, topP, minP := params.Normalized()
	greedy := int32(0)
	if params.Greedy {
		greedy = 1
	}
	v32 := int32(vocab)
	if !splitSample(params.Greedy, topK, topP, vocab) {
		return launch("sample_rows", [3]int{rows, 1, 1}, 1024, 0, p(&logits), p(&v32), p(&key1), p(&key2), p(&step),
			p(&temp), p(&topK), p(&topP), p(&minP), p(&greedy), p(&tokens), p(&logps))
	}
	S := sampleSlices(rows)
	return splitK.with("Sample", 4*rows*S, rows, func(ws, cnt cu.DevicePtr) error {
		grid := [3]int{S, rows, 1}
		if err := launch("sample_max_split", grid, 1024, 0, p(&logits), p(&v32), p(&temp), p(&greedy), p(&ws)); err != nil {
			return err
		}
		return launch("sample_draw_split", grid, 1024, 0, p(&logits), p(&v32), p(&key1), p(&key2), p(&step),
			p(&temp), p(&minP), p(&greedy), p(&ws), p(&cnt), p(&tokens), p(&logps))
	})
}

// rowSample keeps sample_rows for every draw: GOMLXGRPO_SAMPLE=rows.
var rowSample = os.Getenv("GOMLXGRPO_SAMPLE") == "rows"

// splitSample reports whether Sample takes the split form for a draw with the normalized topK and
// topP (sample.Params.Normalized): greedy, or no top-k and no top-p (their bisections need whole rows).
func splitSample(greedy bool, topK int32, topP float32, vocab int) bool {
	return !rowSample && (greedy || ((topK <= 0 || int(topK) >= vocab) && topP >= 1))
}

// sampleSlices is the split form's blocks per row: about 256 blocks in all (2 per SM of an
// H100), at most 32 per row.
func sampleSlices(rows int) int { return max(1, min(32, 256/max(rows, 1))) }

// reserveSample grows the split-K scratch for Sample's split form ahead of a stream capture.
func reserveSample(rows int) error {
	return splitK.reserve(4*rows*sampleSlices(rows), rows)
}
