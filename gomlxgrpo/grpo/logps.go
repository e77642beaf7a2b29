package grpo

import (
	"github.com/gomlx/compute/dtypes"
	. "github.com/gomlx/gomlx/core/graph"

	"github.com/gomlxgrpo/gomlxgrpo/gomlxgrpo/model"
)

// TokenLogPs computes per-token log-probabilities and entropies of targets under hidden states,
// without materializing [B, T, V] logits: the T positions are processed in chunks of `chunk`, each
//
//	z = h·Wᵀ / temperature  (float32)          [B, c, V]
//	logp = z[target] − logsumexp(z)            [B, c]
//	H = logsumexp(z) − Σ softmax(z)·z          [B, c]   (no gradient)
//
// and each chunk is a gradient checkpoint, so its logits are recomputed in the backward pass rather
// than stored (Unsloth's chunked_hidden_states_selective_log_softmax; TRL's selective_log_softmax
// with the temperature applied as in _get_per_token_logps_and_entropies).
//
// hidden: [B, T, D]; targets: [B, T] int32. Returns logps, entropies: [B, T] float32.
func TokenLogPs(m *model.Model, hidden, targets *Node, temperature float64, chunk int, noAdapters bool) (logps, entropies *Node) {
	T := hidden.Shape().Dimensions[1]
	if chunk <= 0 {
		chunk = 128
	}
	var lps, ents []*Node
	for start := 0; start < T; start += chunk {
		end := min(T, start+chunk)
		h := SliceAxis(hidden, 1, AxisRange(start, end))
		tg := SliceAxis(targets, 1, AxisRange(start, end))
		if T > chunk {
			h = h.Checkpoint()
		}
		z := ConvertDType(m.LMHead.Apply(h, !noAdapters), dtypes.Float32) // [B, c, V]
		if temperature != 1 {
			z = DivScalar(z, temperature)
		}
		lse := ReduceMax(z, -1)
		lse = Add(lse, Log(ReduceSum(Exp(Sub(z, ExpandAxes(lse, -1))), -1))) // stable logsumexp [B, c]
		picked := ReduceSum(Mul(z, OneHot(tg, m.Config.VocabSize, dtypes.Float32)), -1)
		lp := Sub(picked, lse)
		zs := StopGradient(z)
		p := Exp(Sub(zs, ExpandAxes(StopGradient(lse), -1)))
		ent := Sub(StopGradient(lse), ReduceSum(Mul(p, zs), -1))
		if T > chunk {
			lp, ent = lp.StopCheckpoint(), ent.StopCheckpoint()
		}
		lps = append(lps, lp)
		ents = append(ents, ent)
	}
	if len(lps) == 1 {
		return lps[0], ents[0]
	}
	return Concatenate(lps, 1), Concatenate(ents, 1)
}
