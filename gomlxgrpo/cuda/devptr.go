//go:build cuda

package cuda

import (
	"fmt"

	"github.com/gomlx/compute"
	"github.com/gomlx/go-xla/compute/xla"
	"github.com/gomlx/go-xla/pjrt"
	"github.com/gomlx/gomlx/core/tensors"
	"gorgonia.org/cu"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/backend"
)

// DevicePtr returns the device address of t's buffer on be (device 0), moving t to the device
// first if needed, once XLA has finished writing it (awaitReady). The address stays valid while t
// keeps that buffer (do not donate or finalize it).
//
// go-xla v0.4.4 keeps the PJRT buffer in an unexported field of *xla.Buffer; it is read with
// backend.FieldPtr (pinned versions; TestDevicePtr guards it), then PJRT_Buffer_UnsafePointer
// gives the CUDA address.
func DevicePtr(t *tensors.Tensor, be compute.Backend) (cu.DevicePtr, error) {
	buf, err := t.Buffer(be, 0)
	if err != nil {
		return 0, err
	}
	xb, ok := buf.(*xla.Buffer)
	if !ok {
		return 0, fmt.Errorf("cuda: tensor is on backend %q, not an XLA CUDA backend", be.Name())
	}
	f, err := backend.FieldPtr(xb, "pjrtBuffer")
	if err != nil {
		return 0, err
	}
	pb := *(**pjrt.Buffer)(f)
	if err := awaitReady(pb); err != nil {
		return 0, err
	}
	p, err := pb.UnsafePointer()
	if err != nil {
		return 0, fmt.Errorf("cuda: PJRT buffer address: %w", err)
	}
	return cu.DevicePtr(uintptr(p)), nil
}
