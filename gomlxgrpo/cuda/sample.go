//go:build cuda

package cuda

import (
	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// Sample draws one token per row of logits [rows, vocab] float32 with sample_rows (kernels/sample.cu),
// the CUDA twin of sample.SampleGraph: the same warpers and the same counter-based uniforms, keyed by
// key1/key2 [rows] uint32 (sample.RowKeys) and the token index held in device memory at step
// (int32). Writes tokens [rows] int32 and logps [rows] float32. Asynchronous, like the other launchers.
func Sample(logits, key1, key2, tokens, logps cu.DevicePtr, rows, vocab int, step cu.DevicePtr, params sample.Params) error {
	temp, topK, topP, minP := params.Normalized()
	greedy := int32(0)
	if params.Greedy {
		greedy = 1
	}
	v32 := int32(vocab)
	return launch("sample_rows", [3]int{rows, 1, 1}, 1024, 0, p(&logits), p(&v32), p(&key1), p(&key2), p(&step),
		p(&temp), p(&topK), p(&topP), p(&minP), p(&greedy), p(&tokens), p(&logps))
}
