//go:build cuda

package cuda

import (
	"unsafe"

	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/sample"
)

// Sample draws one token per row of logits [rows, vocab] float32 with sample_rows (kernels/sample.cu),
// the CUDA twin of sample.SampleGraph: the same warpers and the same counter-based uniforms, keyed by
// key1/key2 [rows] uint32 (sample.RowKeys) and the token index held in device memory at step
// (int32). Writes tokens [rows] int32 and logps [rows] float32. Asynchronous, like the other launchers.
func Sample(logits, key1, key2, tokens, logps cu.DevicePtr, rows, vocab int, step cu.DevicePtr, p sample.Params) error {
	args := sample.SamplerArgs(nil, nil, 0, p) // normalizes temperature, top-p, top-k, min-p
	temp, topK, topP, minP := args[3].(float32), args[4].(int32), args[5].(float32), args[6].(float32)
	greedy := int32(0)
	if p.Greedy {
		greedy = 1
	}
	v32 := int32(vocab)
	kp := []unsafe.Pointer{unsafe.Pointer(&logits), unsafe.Pointer(&v32), unsafe.Pointer(&key1), unsafe.Pointer(&key2),
		unsafe.Pointer(&step), unsafe.Pointer(&temp), unsafe.Pointer(&topK), unsafe.Pointer(&topP), unsafe.Pointer(&minP),
		unsafe.Pointer(&greedy), unsafe.Pointer(&tokens), unsafe.Pointer(&logps)}
	return onContext(func() error { return fns["sample_rows"].Launch(rows, 1, 1, 1024, 1, 1, 0, stream, kp) })
}
