// Package kernels holds the project's CUDA C kernels (one op per .cu file) and their PTX, built by
// scripts/build_kernels.sh and embedded here so that no CUDA compiler is needed at run time. The
// Go launchers live in gomlxgrpo/cuda behind the "cuda" build tag; this package itself needs no CUDA.
package kernels

import _ "embed"

// All maps every kernel the Go launchers in gomlxgrpo/cuda call to the PTX module that defines it:
// the one list that gomlxgrpo/cuda's Init loads from and TestPTXLoadable checks (a kernel missing
// here reaches the GPU as a nil function, which the driver reports only as InvalidHandle).
var All = map[string]string{
	// nf4_dequant.cu: the standalone NF4 dequantization.
	"nf4_dequant_bf16": nf4Dequant,
	"nf4_dequant_f32":  nf4Dequant,
	// nf4_gemv.cu: NF4 matmul on CUDA cores (+ bias + LoRA).
	"nf4_gemv_lora":      nf4GEMV,
	"nf4_gemv_lora_b8":   nf4GEMV,
	"nf4_gemv_lora_b8r4": nf4GEMV,
	// nf4_mma.cu: NF4 matmul on tensor cores.
	"nf4_mma_n8":   nf4MMA,
	"nf4_mma_n8g":  nf4MMA,
	"nf4_mma_n8w":  nf4MMA,
	"nf4_mma_n8gw": nf4MMA,
	"nf4_mma_s64":  nf4MMA,
	"nf4_mma_s64g": nf4MMA,
	// gemm_bf16_mma.cu: bf16 matmul on tensor cores.
	"gemm_bf16_mma_n8":  gemmBF16MMA,
	"gemm_bf16_mma_s64": gemmBF16MMA,
	// sample.cu: temperature, top-k/top-p/min-p and the draw.
	"sample_rows":       sample,
	"sample_max_split":  sample,
	"sample_draw_split": sample,
	// The decode step: rmsnorm.cu, rope_cache.cu, attention_decode.cu, elementwise.cu, gemv_bf16.cu.
	"rmsnorm_bf16":                   rmsnorm,
	"residual_rmsnorm_bf16":          rmsnorm,
	"residual_rmsnorm_lora_bf16":     rmsnorm,
	"residual_rmsnorm_lora_bf16_e4":  rmsnorm,
	"residual_rmsnorm_lora_bf16_e8":  rmsnorm,
	"residual_rmsnorm_lora_bf16_e12": rmsnorm,
	"residual_rmsnorm_lora_bf16_e16": rmsnorm,
	"residual_rmsnorm_lora_bf16_e20": rmsnorm,
	"residual_rmsnorm_lora_bf16_e24": rmsnorm,
	"rope_cache_bf16":                ropeCache,
	"attention_decode_bf16":          attentionDecode,
	"attention_decode_bf16_w16":      attentionDecode,
	"attention_decode_bf16_w16u16":   attentionDecode,
	"attention_decode_bf16_h2":       attentionDecode,
	"attention_decode_bf16_h3":       attentionDecode,
	"attention_decode_bf16_h4":       attentionDecode,
	"attention_decode_bf16_h2w8":     attentionDecode,
	"attention_decode_bf16_h3w8":     attentionDecode,
	"attention_decode_bf16_h4w8":     attentionDecode,
	"attention_decode_bf16_h2r4w8":   attentionDecode,
	"attention_decode_bf16_h3r2w8":   attentionDecode,
	"attention_decode_bf16_h4r2w8":   attentionDecode,
	"attention_scores_split_bf16":    attentionDecode,
	"attention_out_split_bf16":       attentionDecode,
	"embed_rows_bf16":                elementwise,
	"residual_add_bf16":              elementwise,
	"swiglu_bf16":                    elementwise,
	"swiglu_lora_bf16":               elementwise,
	"gemv_bf16_lora":                 gemvBF16,
	"gemv_bf16_lora_b8":              gemvBF16,
	"gemv_bf16_lora_b8r4":            gemvBF16,
	"lora_down":                      gemvBF16,
	"lora_down3":                     gemvBF16,
	// grid_barrier.cu: the grid-wide barrier of a persistent kernel, tested and timed (cooperative launch).
	"grid_chain_u32":    gridBarrier,
	"grid_barrier_loop": gridBarrier,
	// decode_mlp.cu: a layer's MLP half in one cooperative launch (a persistent decode step's first piece).
	"decode_mlp_n8": decodeMLP,
}

var (
	//go:embed nf4_dequant.ptx
	nf4Dequant string
	//go:embed nf4_gemv.ptx
	nf4GEMV string
	//go:embed nf4_mma.ptx
	nf4MMA string
	//go:embed gemm_bf16_mma.ptx
	gemmBF16MMA string
	//go:embed sample.ptx
	sample string
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
	//go:embed grid_barrier.ptx
	gridBarrier string
	//go:embed decode_mlp.ptx
	decodeMLP string
)

// File names the embedded module ptx (a value of All) by its file in this folder, e.g.
// "nf4_mma.ptx": gomlxgrpo/cuda's Init loads that file from $GOMLXGRPO_PTX_DIR instead when the
// folder has it, so one binary can time several builds of a kernel on one card (bench/gpu_*.sh;
// the GPU machine has no Go to rebuild with). "" for a string that is not one of them.
func File(ptx string) string {
	for name, text := range map[string]*string{"nf4_dequant.ptx": &nf4Dequant, "nf4_gemv.ptx": &nf4GEMV, "nf4_mma.ptx": &nf4MMA,
		"gemm_bf16_mma.ptx": &gemmBF16MMA, "sample.ptx": &sample, "rmsnorm.ptx": &rmsnorm, "rope_cache.ptx": &ropeCache,
		"attention_decode.ptx": &attentionDecode, "elementwise.ptx": &elementwise, "gemv_bf16.ptx": &gemvBF16,
		"grid_barrier.ptx": &gridBarrier, "decode_mlp.ptx": &decodeMLP} {
		if *text == ptx {
			return name
		}
	}
	return ""
}
