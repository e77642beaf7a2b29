//go:build cuda

package cuda

import (
	"fmt"

	"gorgonia.org/cu"
)

// NF4Dequant writes the n weights of an NF4 tensor (packed [n/2] bytes, absmax [⌈n/64⌉] float32)
// to out as bfloat16 bits (bf16) or float32. n must be a multiple of 8 (every real weight is).
// The launch is asynchronous; call Synchronize before reading out from the host or from XLA.
func NF4Dequant(packed, absmax, out cu.DevicePtr, n int64, bf16 bool) error {
	if n%8 != 0 {
		return fmt.Errorf("cuda: NF4Dequant needs a multiple of 8 weights, got %d", n)
	}
	name := "nf4_dequant_f32"
	if bf16 {
		name = "nf4_dequant_bf16"
	}
	return launch(name, [3]int{int((n/8 + 255) / 256), 1, 1}, 256, 0, p(&packed), p(&absmax), p(&out), p(&n))
}

// NF4Scales are an NF4 weight's block scales: Absmax [n/64] float32, or with double quantization
// (Absmax 0) absmax[k] = Code[Q[k]]·Absmax2[k/256] + Offset (Q uint8, Code [256] and Absmax2 float32).
type NF4Scales struct {
	Absmax, Q, Code, Absmax2 cu.DevicePtr
	Offset                   float32
}

// NF4GEMV computes y [rows, out] float32 = x [rows, in] (bfloat16 bits) · Wᵀ for NF4 W [out, in],
// plus bias [out] (bfloat16 bits; 0 for none) and the LoRA term when lora is not nil, reading the
// 4-bit weights once per 32 rows (8 for batches of at most 8; 64 on the tensor-core form).
// in must be a multiple of 8. Asynchronous, like NF4Dequant.
func NF4GEMV(packed cu.DevicePtr, sc NF4Scales, x, y cu.DevicePtr, rows, in, out int, bias cu.DevicePtr, lora *LoRA) error {
	return matmul("NF4GEMV", "nf4_gemv_lora", "nf4_mma", true, x, y, rows, in, out, bias, lora,
		p(&packed), p(&sc.Absmax), p(&sc.Q), p(&sc.Code), p(&sc.Absmax2), p(&sc.Offset))
}
