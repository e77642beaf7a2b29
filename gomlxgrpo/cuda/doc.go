// Package cuda launches the project's CUDA kernels (../../kernels) on GoMLX's own device buffers.
//
// Everything but this comment is behind the "cuda" build tag: the default build and CI need no
// CUDA. Build with the CUDA headers and the driver's link stub (../shared/docs/gpu-and-build.md):
//
//	CGO_CFLAGS=-I$CUDA/include CGO_LDFLAGS=-L$CUDA/lib/stubs go build -tags cuda ./...
//
// Zero-copy: XLA (PJRT) runs in the device's primary CUDA context; Init retains the same context,
// so a GoMLX tensor's device address (DevicePtr) is valid for the kernels and nothing is copied.
// Order the two with Synchronize between an XLA execution and a kernel reading its outputs, and
// before XLA reads what a kernel wrote.
//
// Rounding: the tensor-core NF4 matmuls (the decoder's default) multiply each weight rounded as
// bitsandbytes' bf16 inference kernel (gemm_4bit_simt.cu) does, w = bf16(bf16(NF4[code]) ·
// bf16(absmax)); the GoMLX path, which computes GRPO's log-probs and gradients, dequantizes as
// bitsandbytes' dequantize_4bit, w = bf16(NF4[code] · absmax), as PEFT's training forward does.
// The two can differ by one bfloat16 step in a weight, so a sampled token may differ in a near-tie;
// the loss is unaffected, since both the old and the new log-probs come from the GoMLX path.
package cuda
