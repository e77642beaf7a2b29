package grpo

import "math"

// Advantages are the group-relative advantages of one generation batch and the reward statistics TRL logs.
type Advantages struct {
	Rewards    []float64 // r_i = nansum_k w_k·R_ik; NaN when every reward function returned NaN
	Advantages []float64 // Â_i (0 for unscorable completions)
	Std        []float64 // the std each advantage was divided by (group or batch)
	ZeroStd    []bool    // isclose(std, 0): the group carries no learning signal
}

// ComputeAdvantages implements TRL's sum_then_normalize aggregation (grpo_trainer.py,
// _generate_and_score_completions), for rewards[i][k] of completion i (groups of g consecutive
// completions share a prompt) and reward function k:
//
//	r_i = Σ_k w_k·R_ik (nansum; NaN when all R_ik are NaN)
//	Â_i = (r_i − nanmean_group(r)) / (nanstd_group(r) + 1e-4)   scale "group"
//	Â_i = (r_i − nanmean_group(r)) / (nanstd_batch(r) + 1e-4)   scale "batch"
//	Â_i =  r_i − nanmean_group(r)                               scale "none"
//
// nanstd uses Bessel's correction (NaN when fewer than 2 values); NaN advantages become 0.
func ComputeAdvantages(rewards [][]float64, weights []float64, g int, scale string) *Advantages {
	n := len(rewards)
	a := &Advantages{Rewards: make([]float64, n), Advantages: make([]float64, n), Std: make([]float64, n), ZeroStd: make([]bool, n)}
	for i, row := range rewards {
		sum, any := 0.0, false
		for k, v := range row {
			if math.IsNaN(v) {
				continue
			}
			w := 1.0
			if k < len(weights) {
				w = weights[k]
			}
			sum += w * v
			any = true
		}
		if !any {
			sum = math.NaN()
		}
		a.Rewards[i] = sum
	}
	batchStd := NanStd(a.Rewards)
	for start := 0; start < n; start += g {
		grp := a.Rewards[start:min(n, start+g)]
		mean, std := NanMean(grp), NanStd(grp)
		if scale == "batch" {
			std = batchStd
		}
		for i := start; i < start+len(grp); i++ {
			adv := a.Rewards[i] - mean
			if scale != "none" {
				adv /= std + 1e-4
			}
			if math.IsNaN(adv) {
				adv = 0
			}
			a.Advantages[i], a.Std[i] = adv, std
			a.ZeroStd[i] = isClose(std, 0)
		}
	}
	return a
}

// isClose is torch.isclose with its defaults (rtol 1e-5, atol 1e-8); NaN is not close to anything.
func isClose(x, y float64) bool { return math.Abs(x-y) <= 1e-8+1e-5*math.Abs(y) }

// NanMean is torch.nanmean: the mean of the non-NaN values (NaN if none).
func NanMean(x []float64) float64 {
	s, c := 0.0, 0
	for _, v := range x {
		if !math.IsNaN(v) {
			s += v
			c++
		}
	}
	if c == 0 {
		return math.NaN()
	}
	return s / float64(c)
}

// NanStd is TRL's nanstd: sample standard deviation of the non-NaN values (NaN if fewer than 2).
func NanStd(x []float64) float64 {
	m := NanMean(x)
	s, c := 0.0, 0
	for _, v := range x {
		if !math.IsNaN(v) {
			s += (v - m) * (v - m)
			c++
		}
	}
	if c < 2 {
		return math.NaN()
	}
	// TRL computes Bessel's factor as count/(count-1) of integer tensors, which torch divides in float32.
	correction := float64(float32(c) / float32(c-1))
	return math.Sqrt(s / float64(c) * correction)
}
