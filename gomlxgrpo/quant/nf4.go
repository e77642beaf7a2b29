// Package quant implements bitsandbytes' NF4 4-bit format (QLoRA): quantization on the host while
// loading, dequantization as GoMLX graph operations, and reading pre-quantized "-bnb-4bit" checkpoints.
//
// Layout (bitsandbytes csrc/kernels.cu kQuantizeBlockwise, functional.py quantize_4bit):
//
//	w (row-major, n values) is cut into blocks of 64; absmax[b] = max |w| in block b;
//	code[i] = dQuantizeNF4(w[i] · (1/absmax[b]))   (the decision tree below; float32 product)
//	packed[j] = code[2j] << 4 | code[2j+1]         (first value in the high nibble; n/2 bytes)
//	ŵ[i] = NF4[code[i]] · absmax[b]
//
// Double quantization (compress_statistics=True) stores absmax itself in 8 bits: offset = mean(absmax),
// (absmax − offset) blockwise-quantized with bnb's signed dynamic map in blocks of 256; then
//
//	absmax[b] = nested_quant_map[q[b]] · nested_absmax[b / 256] + offset
package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"
)

// BlockSize is bitsandbytes' default for 4-bit quantization.
const BlockSize = 64

// NF4 is the 16-value NormalFloat4 table (bnb's nf4_dequantization_lut).
var NF4 = [16]float32{
	-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
	-0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
	0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
	0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
}

// nf4Mid are the 15 midpoints between neighbouring NF4 values that bnb's dQuantizeNF4 decision
// tree compares against (csrc/kernels.cu), ascending.
var nf4Mid = [15]float32{
	-0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544,
	-0.23460740596055984, -0.13791173323988914, -0.045525018125772476, 0.03979014977812767,
	0.1202552504837513, 0.2035212516784668, 0.2920137718319893, 0.3893125355243683,
	0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
}

// quantizeNF4Count is bnb's dQuantizeNF4: its decision tree goes right when x > midpoint, so the
// code is the number of midpoints strictly below x (NaN goes left everywhere: 0b0000, as in the
// tree). x > m exactly when m − x is negative (the sign of a float difference is exact), so the
// count needs no branches. It is the reference quantizeNF4 is tested against.
func quantizeNF4Count(x float32) byte {
	if x != x {
		return 0
	}
	var c uint32
	for _, m := range nf4Mid {
		c += math.Float32bits(m-x) >> 31
	}
	return byte(c)
}

// quantizeNF4 gives quantizeNF4Count's code from a table: [−1, 1] is cut into nf4Buckets equal
// buckets, narrower than the smallest gap between midpoints, so a bucket holds at most one
// midpoint; the code is the bucket's code at its start plus one when x is above the bucket's
// midpoint (+Inf when it has none). Values outside [−1, 1] (|w·(1/absmax)| can round just past 1)
// fall in the end buckets. About 9× faster than counting on the CPU, which dominated loading an
// 8B checkpoint in 4-bit.
func quantizeNF4(x float32) byte {
	if x != x {
		return 0
	}
	i, f := 0, (x+1)*(nf4Buckets/2) // clamped as a float: int(±Inf) is undefined
	if f >= nf4Buckets {
		i = nf4Buckets - 1
	} else if f > 0 {
		i = int(f)
	}
	b := &nf4Table[i]
	if x > b.mid {
		return b.code + 1
	}
	return b.code
}

const nf4Buckets = 4096

// nf4Table[i] is bucket i = [−1 + 2i/nf4Buckets, −1 + 2(i+1)/nf4Buckets): the code of its start
// and the midpoint inside it (+Inf if none). Ends: bucket 0 also takes x < −1, the last x ≥ 1.
var nf4Table = func() (t [nf4Buckets]struct {
	mid  float32
	code byte
}) {
	for i := range t {
		lo := float32(-1 + 2*float64(i)/nf4Buckets)
		hi := float32(-1 + 2*float64(i+1)/nf4Buckets)
		t[i].code, t[i].mid = quantizeNF4Count(lo), float32(math.Inf(1))
		if i == 0 {
			t[i].code = 0 // x < −1
		}
		for _, m := range nf4Mid {
			if m >= lo && m < hi { // x = m stays below (not > m); x in (m, hi) goes above
				t[i].mid = m
			}
		}
	}
	return t
}()

// Quantized is one NF4 tensor: packed codes and per-block absmax (float32, not double-quantized).
type Quantized struct {
	Shape  []int
	Packed []byte    // (n+1)/2 bytes
	Absmax []float32 // ceil(n/64)
}

// NumElements is the product of Shape.
func (q *Quantized) NumElements() int {
	n := 1
	for _, d := range q.Shape {
		n *= d
	}
	return n
}

// QuantizeNF4 quantizes w (row-major, shape) exactly as bitsandbytes does, using every core.
func QuantizeNF4(w []float32, shape ...int) *Quantized {
	n := len(w)
	nb := (n + BlockSize - 1) / BlockSize
	q := &Quantized{Shape: shape, Packed: make([]byte, (n+1)/2), Absmax: make([]float32, nb)}
	parallelBlocks(nb, func(b int) {
		lo, hi := b*BlockSize, min(n, (b+1)*BlockSize)
		m := float32(0)
		for _, v := range w[lo:hi] {
			m = max(m, float32(math.Abs(float64(v))))
		}
		q.Absmax[b] = m
		inv := 1 / m // bnb multiplies by the float32 reciprocal (an all-zero block gives +Inf·0 = NaN → code 0b0000... see below)
		for i := lo; i < hi; i += 2 {
			hiNib := quantizeNF4(w[i] * inv)
			loNib := byte(0)
			if i+1 < hi {
				loNib = quantizeNF4(w[i+1] * inv)
			} else {
				loNib = quantizeNF4(0 * inv) // bnb pads a partial block with 0.0 before quantizing
			}
			q.Packed[i/2] = hiNib<<4 | loNib
		}
	})
	return q
}

// Code returns element i's 4-bit code: a byte of Packed holds two, the even element in its high
// nibble (bitsandbytes' order).
func (q *Quantized) Code(i int) byte {
	if i%2 == 0 {
		return q.Packed[i/2] >> 4
	}
	return q.Packed[i/2] & 0x0F
}

// Dequantize returns ŵ = NF4[code]·absmax as float32 (the host reference for the graph op and kernels).
func (q *Quantized) Dequantize() []float32 {
	n := q.NumElements()
	out := make([]float32, n)
	for i := range n {
		out[i] = NF4[q.Code(i)] * q.Absmax[i/BlockSize]
	}
	return out
}

// MaxBlockError is the largest |w − ŵ| / absmax over all elements: NF4's bound is half the widest
// gap of the table, between −1 and −0.6961928: ≈ 0.1519.
func MaxBlockError(w []float32, q *Quantized) float64 {
	d := q.Dequantize()
	worst := 0.0
	for i := range w {
		a := float64(q.Absmax[i/BlockSize])
		if a > 0 {
			worst = math.Max(worst, math.Abs(float64(w[i]-d[i]))/a)
		}
	}
	return worst
}

// NF4Bound is the largest possible MaxBlockError.
const NF4Bound = (1 - 0.6961928009986877) / 2

func parallelBlocks(n int, f func(b int)) {
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min(n, (w+1)*chunk)
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := lo; b < hi; b++ {
				f(b)
			}
		}()
	}
	wg.Wait()
}

// DequantizeNested expands double-quantized absmax: absmax[b] = code2[q[b]]·absmax2[b/nestedBlock] + offset.
func DequantizeNested(q []byte, code2 []float32, absmax2 []float32, nestedBlock int, offset float32) ([]float32, error) {
	if len(code2) != 256 {
		return nil, fmt.Errorf("nested quant_map has %d values, want 256", len(code2))
	}
	if nestedBlock <= 0 || (len(q)+nestedBlock-1)/nestedBlock != len(absmax2) {
		return nil, fmt.Errorf("nested_absmax has %d values for %d absmax in blocks of %d", len(absmax2), len(q), nestedBlock)
	}
	out := make([]float32, len(q))
	for i, c := range q {
		out[i] = code2[c]*absmax2[i/nestedBlock] + offset
	}
	return out, nil
}
