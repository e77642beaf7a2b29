package hf

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// TensorInfo describes one tensor of a safetensors file: its header entry plus where it lives.
type TensorInfo struct {
	Name   string
	DType  string // safetensors dtype: F32, BF16, F16, U8, I64, ...
	Shape  []int
	File   string
	Offset int64 // absolute byte offset in File
	Size   int64 // bytes
}

// dtypeSize is the element size of each safetensors dtype we accept.
var dtypeSize = map[string]int{"F64": 8, "F32": 4, "BF16": 2, "F16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}

// maxHeader bounds the JSON header (the format's own limit is 100 MB).
const maxHeader = 100 << 20

// ReadSafetensorsHeader reads the header of one .safetensors file and checks every entry against the
// file's size, so a truncated or corrupt file fails here, before any weight is read.
//
// Layout: u64 little-endian header length N, N bytes of JSON {name: {dtype, shape, data_offsets:[b,e]}},
// then the data; offsets are relative to the end of the header.
func ReadSafetensorsHeader(path string) ([]TensorInfo, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("opening safetensors file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated safetensors file (no header length): %w", path, err)
	}
	if n > maxHeader || int64(n)+8 > st.Size() {
		return nil, nil, fmt.Errorf("%s: header length %d does not fit the file (%d bytes): the file is truncated or not safetensors; download it again", path, n, st.Size())
	}
	hdr := make([]byte, n)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated header: %w", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: header is not valid JSON: %w", path, err)
	}
	base := int64(8 + n)
	var infos []TensorInfo
	var meta map[string]string
	for name, v := range raw {
		if name == "__metadata__" {
			_ = json.Unmarshal(v, &meta)
			continue
		}
		var e struct {
			DType   string  `json:"dtype"`
			Shape   []int   `json:"shape"`
			Offsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(v, &e); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %q: bad header entry: %w", path, name, err)
		}
		es, ok := dtypeSize[e.DType]
		if !ok {
			return nil, nil, fmt.Errorf("%s: tensor %q has unsupported dtype %q", path, name, e.DType)
		}
		if len(e.Offsets) != 2 || e.Offsets[1] < e.Offsets[0] {
			return nil, nil, fmt.Errorf("%s: tensor %q: bad data_offsets %v", path, name, e.Offsets)
		}
		numel := int64(1)
		for _, d := range e.Shape {
			numel *= int64(d)
		}
		size := e.Offsets[1] - e.Offsets[0]
		if size != numel*int64(es) {
			return nil, nil, fmt.Errorf("%s: tensor %q: %d bytes for shape %v of %s (want %d)", path, name, size, e.Shape, e.DType, numel*int64(es))
		}
		if base+e.Offsets[1] > st.Size() {
			return nil, nil, fmt.Errorf("%s: tensor %q ends at byte %d but the file has %d bytes: the file is truncated; download it again", path, name, base+e.Offsets[1], st.Size())
		}
		infos = append(infos, TensorInfo{Name: name, DType: e.DType, Shape: e.Shape, File: path, Offset: base + e.Offsets[0], Size: size})
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Offset < infos[j].Offset })
	return infos, meta, nil
}

// ReadRaw reads the tensor's bytes (little-endian, row-major) into buf, which must hold Size bytes.
func (t *TensorInfo) ReadRaw(buf []byte) error {
	if int64(len(buf)) != t.Size {
		return fmt.Errorf("tensor %q: buffer of %d bytes for %d", t.Name, len(buf), t.Size)
	}
	f, err := os.Open(t.File)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.ReadAt(buf, t.Offset); err != nil {
		return fmt.Errorf("%s: reading tensor %q: %w", t.File, t.Name, err)
	}
	return nil
}

// NumElements is the product of Shape.
func (t *TensorInfo) NumElements() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// WriteSafetensors writes tensors (name → dtype, shape, raw little-endian bytes) as one safetensors
// file, names sorted as the Python library writes them. metadata may be nil.
func WriteSafetensors(path string, tensors map[string]RawTensor, metadata map[string]string) error {
	specs := make([]TensorSpec, 0, len(tensors))
	for n, t := range tensors {
		specs = append(specs, TensorSpec{Name: n, DType: t.DType, Shape: t.Shape})
	}
	return WriteSafetensorsFunc(path, specs, metadata, func(name string, buf []byte) error {
		if t := tensors[name]; len(t.Data) != len(buf) {
			return fmt.Errorf("tensor %q: %d bytes for shape %v of %s", name, len(t.Data), t.Shape, t.DType)
		}
		copy(buf, tensors[name].Data)
		return nil
	})
}

// TensorSpec names a tensor of WriteSafetensorsFunc.
type TensorSpec struct {
	Name, DType string
	Shape       []int
}

// WriteSafetensorsFunc writes a safetensors file whose tensors' bytes come from fill, one tensor at a
// time into one reused buffer, so a checkpoint larger than memory can be written (grpo bench's
// random checkpoints). Names are sorted as the Python library writes them; metadata may be nil.
func WriteSafetensorsFunc(path string, specs []TensorSpec, metadata map[string]string, fill func(name string, buf []byte) error) error {
	specs = slices.Clone(specs)
	slices.SortFunc(specs, func(a, b TensorSpec) int { return strings.Compare(a.Name, b.Name) })
	header := map[string]any{}
	if metadata != nil {
		header["__metadata__"] = metadata
	}
	var off, largest int64
	sizes := make([]int64, len(specs))
	for i, t := range specs {
		es, ok := dtypeSize[t.DType]
		if !ok {
			return fmt.Errorf("tensor %q: unsupported dtype %q", t.Name, t.DType)
		}
		numel := int64(1)
		for _, d := range t.Shape {
			numel *= int64(d)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		sizes[i] = numel * int64(es)
		header[t.Name] = map[string]any{"dtype": t.DType, "shape": shape, "data_offsets": []int64{off, off + sizes[i]}}
		off += sizes[i]
		largest = max(largest, sizes[i])
	}
	hdr, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hdr)%8 != 0 { // the Python writer pads the header with spaces to 8-byte alignment
		hdr = append(hdr, ' ')
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := binary.Write(w, binary.LittleEndian, uint64(len(hdr))); err != nil {
		f.Close()
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		f.Close()
		return err
	}
	buf := make([]byte, largest)
	for i, t := range specs {
		b := buf[:sizes[i]]
		if err := fill(t.Name, b); err != nil {
			f.Close()
			return err
		}
		if _, err := w.Write(b); err != nil {
			f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

// RawTensor is a tensor as bytes, for WriteSafetensors.
type RawTensor struct {
	DType string
	Shape []int
	Data  []byte
}
