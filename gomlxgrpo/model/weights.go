package model

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/gomlx/compute"
	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/dtypes/bfloat16"
	"github.com/gomlx/compute/dtypes/float16"
	"github.com/gomlx/compute/shapes"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/hf"
)

// ReadTensor reads one checkpoint tensor from disk and converts it to dtype (F32, BF16 or F16 in the
// file; Float32, BFloat16 or Float16 out). Only this tensor is held in host memory.
func ReadTensor(info *hf.TensorInfo, dtype dtypes.DType) (*tensors.Tensor, error) {
	if same := map[string]dtypes.DType{"F32": dtypes.Float32, "BF16": dtypes.BFloat16, "F16": dtypes.Float16}[info.DType]; same == dtype {
		// Same dtype: read the file straight into the tensor, so the host holds one copy.
		t := tensors.FromShape(shapes.Make(dtype, info.Shape...))
		var rerr error
		if err := t.MutableBytes(func(data []byte) { rerr = info.ReadRaw(data) }); err != nil {
			return nil, err
		}
		return t, rerr
	}
	raw := make([]byte, info.Size)
	if err := info.ReadRaw(raw); err != nil {
		return nil, err
	}
	return ConvertRaw(info.Name, info.DType, info.Shape, raw, dtype)
}

// ConvertRaw converts little-endian safetensors bytes of srcDType into a tensor of dtype.
func ConvertRaw(name, srcDType string, shape []int, raw []byte, dtype dtypes.DType) (*tensors.Tensor, error) {
	var n int
	switch srcDType {
	case "F32":
		n = len(raw) / 4
	case "BF16", "F16":
		n = len(raw) / 2
	default:
		return nil, fmt.Errorf("tensor %q: dtype %s is not a float type we load (F32, BF16, F16)", name, srcDType)
	}
	t := tensors.FromShape(shapes.Make(dtype, shape...))
	// Same dtype: copy bytes as they are.
	if (srcDType == "F32" && dtype == dtypes.Float32) || (srcDType == "BF16" && dtype == dtypes.BFloat16) || (srcDType == "F16" && dtype == dtypes.Float16) {
		err := t.MutableBytes(func(data []byte) { copy(data, raw) })
		return t, err
	}
	at := func(i int) float32 {
		switch srcDType {
		case "F32":
			return math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		case "BF16":
			return math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*i:])) << 16)
		default:
			return float16.FromBits(binary.LittleEndian.Uint16(raw[2*i:])).Float32()
		}
	}
	var err error
	switch dtype {
	case dtypes.Float32:
		err = tensors.MutableFlatData(t, func(flat []float32) {
			for i := range n {
				flat[i] = at(i)
			}
		})
	case dtypes.BFloat16:
		err = tensors.MutableFlatData(t, func(flat []bfloat16.BFloat16) {
			for i := range n {
				flat[i] = bfloat16.FromFloat32(at(i))
			}
		})
	case dtypes.Float16:
		err = tensors.MutableFlatData(t, func(flat []float16.Float16) {
			for i := range n {
				flat[i] = float16.FromFloat32(at(i))
			}
		})
	default:
		return nil, fmt.Errorf("tensor %q: cannot load into dtype %s", name, dtype)
	}
	return t, err
}

// toDevice moves t to the backend's device 0 and frees its host copy, so that loading a model never
// holds more than one tensor on the host.
func toDevice(t *tensors.Tensor, backend compute.Backend) error {
	return t.ToDevice(backend, 0)
}
