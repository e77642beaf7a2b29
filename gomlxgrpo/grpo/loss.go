package grpo

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"
)

// The GRPO loss exactly as TRL's GRPOTrainer._compute_loss computes it, for loss types grpo, bnpo,
// dr_grpo and dapo. With logπ the policy's per-token log-probs, logπ_old those of the sampling
// policy (logπ detached when num_iterations = 1), logπ_ref the reference (adapters disabled), M
// the completion mask and Â the advantage of each completion:
//
//	log ρ = logπ − logπ_old                          token level
//	log ρ = Σ_t (logπ − logπ_old)·M / max(Σ_t M, 1)  sequence level (GSPO), broadcast over t
//	ℓ_t   = −min(ρ·Â, clip(ρ, 1−ε_low, 1+ε_high)·Â) + β·KL_t
//	KL_t  = exp(ref − logπ) − (ref − logπ) − 1       (k3; only when β ≠ 0)
//
//	grpo:    mean_i( Σ_t ℓM / max(Σ_t M, 1) ) / GA
//	bnpo:    Σ ℓM / max(ΣM, 1) / GA
//	dr_grpo: Σ ℓM / (B · max_completion_length) / GA
//	dapo:    Σ ℓM / max(num_items_in_batch, 1)   (completion tokens of the whole accumulation window)
//
// Deliberate simplifications: none of TRL's optional extras (delta two-sided clipping, vLLM
// importance-sampling correction, entropy masks, off-policy masks, bias-corrected KL) are implemented.

// LossInputs are the graph nodes the loss reads. Shapes: B completions × T completion positions.
type LossInputs struct {
	LogPs      *Node // [B, T] float32, logπ_θ (differentiable)
	OldLogPs   *Node // [B, T] or nil: nil means logπ_θ detached (num_iterations = 1)
	RefLogPs   *Node // [B, T] or nil when β = 0
	Mask       *Node // [B, T] float32 completion mask
	Advantages *Node // [B] float32
	// NumItemsInBatch: scalar float32, completion tokens of the accumulation window (dapo's normalizer).
	NumItemsInBatch *Node
}

// LossOutputs holds the loss and TRL's per-step metrics (as sums and counts, so that micro-batches
// can be combined exactly).
type LossOutputs struct {
	Loss *Node // scalar, already divided for gradient accumulation
	// Metric sums over masked tokens: KL, low/high/region clip indicators; Tokens = ΣM.
	KLSum, LowClipSum, HighClipSum, RegionClipSum, Tokens *Node
	// Per-sequence clip means [B] for clip_ratio/low_min and high_max.
	LowClipSeq, HighClipSeq *Node
}

// Loss builds the loss graph for cfg.
func Loss(cfg *Config, in *LossInputs) *LossOutputs {
	logp, mask := in.LogPs, in.Mask
	g := logp.Graph()
	B := logp.Shape().Dimensions[0]
	old := in.OldLogPs
	if old == nil {
		old = StopGradient(logp)
	}
	adv := ExpandAxes(in.Advantages, -1) // [B, 1]
	logRatio := Sub(logp, old)
	var logW *Node
	if cfg.ImportanceSamplingLevel == "sequence" {
		num := ReduceSum(Mul(logRatio, mask), -1)
		den := MaxScalar(ReduceSum(mask, -1), 1)
		logW = ExpandAxes(Div(num, den), -1) // [B, 1]
	} else {
		logW = logRatio
	}
	coef1 := Exp(logW)
	coef2 := ClipScalar(coef1, 1-cfg.EpsilonLow(), 1+cfg.EpsilonHi())
	loss1 := Mul(coef1, adv)
	loss2 := Mul(coef2, adv)
	perToken := Neg(Min(loss1, loss2))
	if perToken.Rank() == 2 && perToken.Shape().Dimensions[1] == 1 {
		perToken = BroadcastToDims(perToken, logp.Shape().Dimensions...)
	}
	out := &LossOutputs{Tokens: ReduceAllSum(mask)}
	if cfg.Beta != 0 {
		d := Sub(in.RefLogPs, logp)
		kl := Sub(Sub(Exp(d), d), OnesLike(d))
		perToken = Add(perToken, MulScalar(kl, cfg.Beta))
		out.KLSum = ReduceAllSum(Mul(kl, mask))
	} else {
		out.KLSum = ScalarZero(g, dtypes.Float32)
	}
	masked := Mul(perToken, mask)
	ga := float64(cfg.GradientAccumulationSteps)
	switch cfg.LossType {
	case "grpo":
		perSeq := Div(ReduceSum(masked, -1), MaxScalar(ReduceSum(mask, -1), 1))
		out.Loss = DivScalar(ReduceAllMean(perSeq), ga)
	case "bnpo":
		out.Loss = DivScalar(Div(ReduceAllSum(masked), MaxScalar(ReduceAllSum(mask), 1)), ga)
	case "dr_grpo":
		out.Loss = DivScalar(DivScalar(ReduceAllSum(masked), float64(B*cfg.MaxCompletionLength)), ga)
	default: // dapo
		out.Loss = Div(ReduceAllSum(masked), MaxScalar(in.NumItemsInBatch, 1))
	}
	// Clip metrics: is_low_clipped = (ρ < 1-ε_low) ∧ (Â < 0); is_high_clipped = (ρ > 1+ε_high) ∧ (Â > 0).
	zero := ScalarZero(g, dtypes.Float32)
	low := And(LessThan(coef1, Scalar(g, dtypes.Float32, 1-cfg.EpsilonLow())), LessThan(adv, zero))
	high := And(GreaterThan(coef1, Scalar(g, dtypes.Float32, 1+cfg.EpsilonHi())), GreaterThan(adv, zero))
	region := Or(low, high)
	f := func(b *Node) *Node {
		return BroadcastToDims(ConvertDType(b, dtypes.Float32), logp.Shape().Dimensions...)
	}
	lowF, highF, regF := f(low), f(high), f(region)
	out.LowClipSum = ReduceAllSum(Mul(lowF, mask))
	out.HighClipSum = ReduceAllSum(Mul(highF, mask))
	out.RegionClipSum = ReduceAllSum(Mul(regF, mask))
	seqTok := ReduceSum(mask, -1)
	out.LowClipSeq = Div(ReduceSum(Mul(lowF, mask), -1), seqTok)
	out.HighClipSeq = Div(ReduceSum(Mul(highF, mask), -1), seqTok)
	return out
}
