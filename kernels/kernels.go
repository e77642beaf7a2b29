// Package kernels holds the project's CUDA C kernels (one op per .cu file) and their PTX, built by
// scripts/build_kernels.sh and embedded here so that no CUDA compiler is needed at run time. The
// Go launchers live in gomlxgrpo/cuda behind the "cuda" build tag; this package itself needs no CUDA.
package kernels

import _ "embed"

// NF4Dequant is the PTX of nf4_dequant.cu: nf4_dequant_bf16, nf4_dequant_f32.
//
//go:embed nf4_dequant.ptx
var NF4Dequant string

// NF4GEMV is the PTX of nf4_gemv.cu: nf4_gemv_lora, nf4_gemv_lora_b8, nf4_gemv_lora_b8r4.
//
//go:embed nf4_gemv.ptx
var NF4GEMV string

// NF4MMA is the PTX of nf4_mma.cu: nf4_mma_n8, nf4_mma_n64 (tensor cores).
//
//go:embed nf4_mma.ptx
var NF4MMA string

// GemmBF16MMA is the PTX of gemm_bf16_mma.cu: gemm_bf16_mma_n8, gemm_bf16_mma_n64 (tensor cores).
//
//go:embed gemm_bf16_mma.ptx
var GemmBF16MMA string

// Sample is the PTX of sample.cu: sample_rows.
//
//go:embed sample.ptx
var Sample string

// Decode is the PTX of the decode-step kernels: rmsnorm.cu (rmsnorm_bf16, residual_rmsnorm_bf16), rope_cache.cu
// (rope_cache_bf16), attention_decode.cu (attention_decode_bf16, attention_decode_gqa_bf16), elementwise.cu (embed_rows_bf16,
// residual_add_bf16, swiglu_bf16) and gemv_bf16.cu (gemv_bf16_lora, gemv_bf16_lora_b8, gemv_bf16_lora_b8r4, lora_down).
var Decode = map[string]string{
	"rmsnorm_bf16":              rmsnorm,
	"residual_rmsnorm_bf16":     rmsnorm,
	"rope_cache_bf16":           ropeCache,
	"attention_decode_bf16":     attentionDecode,
	"attention_decode_gqa_bf16": attentionDecode,
	"embed_rows_bf16":           elementwise,
	"residual_add_bf16":         elementwise,
	"swiglu_bf16":               elementwise,
	"gemv_bf16_lora":            gemvBF16,
	"gemv_bf16_lora_b8":         gemvBF16,
	"gemv_bf16_lora_b8r4":       gemvBF16,
	"lora_down":                 gemvBF16,
}

var (
	//go:embed rmsnorm.ptx
	rmsnorm string
	//go:embed rope_cache.ptx
	ropeCache string
	//go:embed attention_decode.ptx
	attentionDecode string
	//go:embed elementwise.ptx
	elementwise string
	//go:embed gemv_bf16.ptx
	gemvBF16 string
)
