package model

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"

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
	if _, err := rawValues(name, srcDType, len(raw)); err != nil {
		return nil, err
	}
	t := tensors.FromShape(shapes.Make(dtype, shape...))
	// Same dtype: copy bytes as they are.
	if (srcDType == "F32" && dtype == dtypes.Float32) || (srcDType == "BF16" && dtype == dtypes.BFloat16) || (srcDType == "F16" && dtype == dtypes.Float16) {
		err := t.MutableBytes(func(data []byte) { copy(data, raw) })
		return t, err
	}
	var err error
	switch dtype {
	case dtypes.Float32:
		err = tensors.MutableFlatData(t, func(flat []float32) { decodeFloat32(flat, srcDType, raw) })
	case dtypes.BFloat16:
		err = tensors.MutableFlatData(t, func(flat []bfloat16.BFloat16) { decodeInto(flat, srcDType, raw, bfloat16.FromFloat32) })
	case dtypes.Float16:
		err = tensors.MutableFlatData(t, func(flat []float16.Float16) { decodeInto(flat, srcDType, raw, float16.FromFloat32) })
	default:
		return nil, fmt.Errorf("tensor %q: cannot load into dtype %s", name, dtype)
	}
	return t, err
}

// toDevice moves t to the backend's device 0 and frees its host copy, so that loading a model never
// holds more than one tensor on the host. After a tensor of releaseBytes or more it also hands the
// freed memory back to the operating system: Go's collector would otherwise let garbage pile up
// between collections (heap goal = twice the live heap) and keep freed pages resident, and a
// Llama-3.1-8B load in 4 bits peaked at 5.39 GiB of host memory on the GPU machine (issue 4's
// goal: under 4 GiB above the largest tensor, 1 GiB there).
func toDevice(t *tensors.Tensor, backend compute.Backend) error {
	big := t.Memory() >= releaseBytes
	if err := t.ToDevice(backend, 0); err != nil {
		return err
	}
	if big {
		debug.FreeOSMemory()
	}
	return nil
}

// releaseBytes is the tensor size from which toDevice returns freed memory to the OS: the
// embeddings and lm_head of every supported model, a few collections per load.
const releaseBytes = 256 << 20

// hostScratch holds the file bytes and float32 values of one tensor at a time while quantizing, grown
// to the largest tensor and reused, so that loading in 4 bits makes no garbage per projection (each
// fresh pair was 350 MB for one Llama-3.1-8B MLP projection).
type hostScratch struct {
	raw  []byte
	vals []float32
}

// float32s reads info (F32, BF16 or F16) as float32 values into the scratch; the slice is valid until
// the next call.
func (s *hostScratch) float32s(info *hf.TensorInfo) ([]float32, error) {
	n, err := rawValues(info.Name, info.DType, int(info.Size))
	if err != nil {
		return nil, err
	}
	if int64(cap(s.raw)) < info.Size {
		s.raw = make([]byte, info.Size)
	}
	if cap(s.vals) < n {
		s.vals = make([]float32, n)
	}
	raw, vals := s.raw[:info.Size], s.vals[:n]
	if err := info.ReadRaw(raw); err != nil {
		return nil, err
	}
	decodeFloat32(vals, info.DType, raw)
	return vals, nil
}

// rawValues returns how many srcDType values nbytes hold, or an error for a dtype we do not load.
func rawValues(name, srcDType string, nbytes int) (int, error) {
	switch srcDType {
	case "F32":
		return nbytes / 4, nil
	case "BF16", "F16":
		return nbytes / 2, nil
	}
	return 0, fmt.Errorf("tensor %q: dtype %s is not a float type we load (F32, BF16, F16)", name, srcDType)
}

// decodeInto decodes len(flat) srcDType values of raw into flat through float32 and conv, in parallel.
func decodeInto[T any](flat []T, srcDType string, raw []byte, conv func(float32) T) {
	inParallel(len(flat), func(lo, hi int) {
		f := make([]float32, hi-lo)
		decodeFloat32Range(f, srcDType, raw, lo)
		for i, v := range f {
			flat[lo+i] = conv(v)
		}
	})
}

// decodeFloat32 decodes len(dst) little-endian srcDType values of raw (F32, BF16 or F16) into dst,
// in parallel over chunks: the per-element conversion was most of the host's time loading an 8B
// checkpoint.
func decodeFloat32(dst []float32, srcDType string, raw []byte) {
	inParallel(len(dst), func(lo, hi int) { decodeFloat32Range(dst[lo:hi], srcDType, raw, lo) })
}

// decodeFloat32Range decodes values first … first+len(dst)−1 of raw into dst.
func decodeFloat32Range(dst []float32, srcDType string, raw []byte, first int) {
	switch srcDType {
	case "F32":
		src := raw[4*first : 4*(first+len(dst))]
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case "BF16":
		src := raw[2*first : 2*(first+len(dst))]
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	default: // F16
		src := raw[2*first : 2*(first+len(dst))]
		for i := range dst {
			dst[i] = float16.FromBits(binary.LittleEndian.Uint16(src[2*i:])).Float32()
		}
	}
}

// inParallel calls f(lo, hi) over [0, n) in chunks of at least 64 Ki elements on GOMAXPROCS goroutines.
func inParallel(n int, f func(lo, hi int)) {
	const minChunk = 1 << 16
	workers := min(runtime.GOMAXPROCS(0), (n+minChunk-1)/minChunk)
	if workers <= 1 {
		f(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			f(lo, hi)
		}(lo, min(n, lo+chunk))
	}
	wg.Wait()
}
