package quant

import (
	"math"
	"sort"

	"github.com/gomlx/compute/dtypes"
	"github.com/gomlx/compute/shapes"
	. "github.com/gomlx/gomlx/core/graph"
)

// NestedBlockSize is bitsandbytes' block size for double-quantizing absmax.
const NestedBlockSize = 256

// DynamicMap is bitsandbytes' signed 8-bit dynamic quantization map (functional.py
// create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8)): for exponents e = 0..6, the
// midpoints of linspace(0.1, 1, 2^e + 1) scaled by 10^(e-6), with both signs, plus the extra
// linear items, 0 and 1, sorted. Computed in float32 as torch does; it is what double quantization
// uses when this package quantizes (pre-quantized checkpoints carry their own map).
func DynamicMap() [256]float32 {
	var data []float32
	linspace := func(n int) []float32 { // torch.linspace(0.1, 1, n) in float32, both halves as ATen computes them
		out := make([]float32, n)
		start, end := float32(0.1), float32(1)
		step := float32((float64(end) - float64(start)) / float64(n-1))
		for i := range n {
			if i < n/2 {
				out[i] = start + step*float32(i)
			} else {
				out[i] = end - step*float32(n-1-i)
			}
		}
		return out
	}
	add := func(n int, scale float64) {
		b := linspace(n)
		for i := 0; i+1 < n; i++ {
			mean := (b[i] + b[i+1]) / 2
			data = append(data, float32(scale)*mean, -float32(scale)*mean)
		}
	}
	const maxExp, nonSign = 7, 7
	for i := range maxExp {
		add(1<<(i+nonSign-maxExp)+1, math.Pow(10, float64(-(maxExp-1)+i)))
	}
	additional := 1<<(nonSign-maxExp) - 1 // 0 for these arguments
	if additional > 0 {
		add(additional+1, math.Pow(10, float64(-(maxExp-1)+maxExp-1)))
	}
	data = append(data, 0, 1)
	for len(data) < 256 {
		data = append(data, 0)
	}
	sort.Slice(data, func(i, j int) bool { return data[i] < data[j] })
	var out [256]float32
	copy(out[:], data)
	return out
}

// quantize8 is bitsandbytes' dQuantize<0>: a 7-step binary search over the sorted map, then the
// nearer of the two neighbours by midpoint.
func quantize8(code *[256]float32, x float32) byte {
	pivot, upperPivot, lowerPivot := 127, 255, 0
	lower, upper := float32(-1), float32(1)
	val := code[pivot]
	for i := 64; i > 0; i >>= 1 {
		if x > val {
			lowerPivot, lower = pivot, val
			pivot += i
		} else {
			upperPivot, upper = pivot, val
			pivot -= i
		}
		val = code[pivot]
	}
	if upperPivot == 255 {
		upper = code[upperPivot]
	}
	if lowerPivot == 0 {
		lower = code[lowerPivot]
	}
	if x > val {
		if x > (upper+val)*0.5 {
			return byte(upperPivot)
		}
		return byte(pivot)
	}
	if x < (lower+val)*0.5 {
		return byte(lowerPivot)
	}
	return byte(pivot)
}

// DoubleQuantized is absmax stored in 8 bits (bitsandbytes' compress_statistics=True).
type DoubleQuantized struct {
	Q       []byte    // [nBlocks] codes into Code
	Absmax2 []float32 // [ceil(nBlocks/256)]
	Offset  float32   // mean of the original absmax
	Code    [256]float32
}

// DoubleQuantize compresses absmax as quantize_4bit(compress_statistics=True) does:
// offset = mean(absmax); (absmax − offset) quantized blockwise (256) with the dynamic map.
func DoubleQuantize(absmax []float32) *DoubleQuantized {
	d := &DoubleQuantized{Code: DynamicMap(), Q: make([]byte, len(absmax))}
	sum := 0.0
	for _, a := range absmax {
		sum += float64(a)
	}
	d.Offset = float32(sum / float64(len(absmax)))
	for b := 0; b < len(absmax); b += NestedBlockSize {
		hi := min(len(absmax), b+NestedBlockSize)
		m := float32(0)
		for _, a := range absmax[b:hi] {
			m = max(m, float32(math.Abs(float64(a-d.Offset))))
		}
		d.Absmax2 = append(d.Absmax2, m)
		inv := 1 / m
		for i := b; i < hi; i++ {
			d.Q[i] = quantize8(&d.Code, (absmax[i]-d.Offset)*inv)
		}
	}
	return d
}

// Absmax expands the compressed absmax on the host.
func (d *DoubleQuantized) Absmax() []float32 {
	out, _ := DequantizeNested(d.Q, d.Code[:], d.Absmax2, NestedBlockSize, d.Offset)
	return out
}

// NestedAbsmaxGraph expands double-quantized absmax in the graph: code[q]·absmax2[b/256] + offset.
// q [nBlocks] uint8, absmax2 [ceil(nBlocks/256)] float32, code [256] float32, offset scalar float32.
func NestedAbsmaxGraph(q, absmax2, code, offset *Node) *Node {
	g := q.Graph()
	nb := q.Shape().Dimensions[0]
	vals := Gather(code, ExpandAxes(ConvertDType(q, dtypes.Int32), -1))
	block := DivScalar(Iota(g, shapes.Make(dtypes.Int32, nb), 0), NestedBlockSize)
	scale := Gather(absmax2, ExpandAxes(block, -1))
	return Add(Mul(vals, scale), offset)
}
