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
package cuda
