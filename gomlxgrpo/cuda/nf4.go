//go:build cuda

package cuda

import (
	"fmt"
	"unsafe"

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
	const threads = 256
	blocks := int((n/8 + threads - 1) / threads)
	args := []unsafe.Pointer{unsafe.Pointer(&packed), unsafe.Pointer(&absmax), unsafe.Pointer(&out), unsafe.Pointer(&n)}
	return onContext(func() error { return fns[name].Launch(blocks, 1, 1, threads, 1, 1, 0, stream, args) })
}

// LoRA is the fused adapter term of NF4GEMV: y += Scale · U · Bᵀ with U = x·Aᵀ [B, R] float32 and
// the adapter's B [out, R] float32.
type LoRA struct {
	U, B  cu.DevicePtr
	R     int
	Scale float32
}

// NF4Scales are an NF4 weight's block scales: Absmax [n/64] float32, or with double quantization
// (Absmax 0) absmax[k] = Code[Q[k]]·Absmax2[k/256] + Offset (Q uint8, Code [256] and Absmax2 float32).
type NF4Scales struct {
	Absmax, Q, Code, Absmax2 cu.DevicePtr
	Offset                   float32
}

// NF4GEMV computes y [rows, out] float32 = x [rows, in] (bfloat16 bits) · Wᵀ for NF4 W [out, in],
// plus bias [out] (bfloat16 bits; 0 for none) and the LoRA term when lora is not nil, reading the
// 4-bit weights once per 32 rows. in must be a multiple of 8. Asynchronous, like NF4Dequant.
func NF4GEMV(packed cu.DevicePtr, sc NF4Scales, x, y cu.DevicePtr, rows, in, out int, bias cu.DevicePtr, lora *LoRA) error {
	if in%8 != 0 {
		return fmt.Errorf("cuda: NF4GEMV needs in %% 8 == 0, got %d", in)
	}
	var u, b cu.DevicePtr
	r, scale := int32(0), float32(0)
	if lora != nil {
		u, b, r, scale = lora.U, lora.B, int32(lora.R), lora.Scale
	}
	rows32, in32, out32 := int32(rows), int32(in), int32(out)
	const warps = 4
	args := []unsafe.Pointer{unsafe.Pointer(&packed), unsafe.Pointer(&sc.Absmax), unsafe.Pointer(&sc.Q), unsafe.Pointer(&sc.Code),
		unsafe.Pointer(&sc.Absmax2), unsafe.Pointer(&sc.Offset), unsafe.Pointer(&x), unsafe.Pointer(&y),
		unsafe.Pointer(&rows32), unsafe.Pointer(&in32), unsafe.Pointer(&out32), unsafe.Pointer(&bias), unsafe.Pointer(&u), unsafe.Pointer(&b),
		unsafe.Pointer(&r), unsafe.Pointer(&scale)}
	return onContext(func() error {
		return fns["nf4_gemv_lora"].Launch((out+warps-1)/warps, (rows+31)/32, 1, 32*warps, 1, 1, 0, stream, args)
	})
}
