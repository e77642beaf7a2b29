// Package kernels holds the project's CUDA C kernels (one op per .cu file) and their PTX, built by
// scripts/build_kernels.sh and embedded here so that no CUDA compiler is needed at run time. The
// Go launchers live in gomlxgrpo/cuda behind the "cuda" build tag; this package itself needs no CUDA.
package kernels

import _ "embed"

// NF4Dequant is the PTX of nf4_dequant.cu: nf4_dequant_bf16, nf4_dequant_f32.
//
//go:embed nf4_dequant.ptx
var NF4Dequant string

// NF4GEMV is the PTX of nf4_gemv.cu: nf4_gemv_lora.
//
//go:embed nf4_gemv.ptx
var NF4GEMV string

// Sample is the PTX of sample.cu: sample_rows.
//
//go:embed sample.ptx
var Sample string
