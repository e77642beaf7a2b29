"""GRPO loss, KL, clip-ratio and advantage goldens computed with TRL's formulas in PyTorch.

    python3 scripts/make_grpo_goldens.py gomlxgrpo/grpo/testdata/grpo.golden.json

The formulas are transcribed from trl/trainer/grpo_trainer.py (_compute_loss and
_generate_and_score_completions, TRL @f2cd577) for fixed random inputs: every loss_type, token- and
sequence-level ratios, beta 0 and 0.04, stored old log-probs (clipping active) and detached ones.
"""
import json, math, sys
import torch

torch.manual_seed(0)
B, T, G = 6, 7, 3
lens = [7, 5, 1, 0, 3, 7]
mask = torch.zeros(B, T)
for i, n in enumerate(lens):
    mask[i, :n] = 1
logps = -torch.rand(B, T, dtype=torch.float64) * 3 - 0.1
old = logps + (torch.rand(B, T, dtype=torch.float64) - 0.5) * 0.8      # ratios from ~0.67 to ~1.5: clipping active
ref = logps + (torch.rand(B, T, dtype=torch.float64) - 0.5) * 0.6
adv = torch.tensor([1.2, -0.7, -0.5, 0.9, -1.3, 0.4], dtype=torch.float64)
MAXC = 9
GA = 2
NUM_ITEMS = 31.0  # dapo: tokens of the whole accumulation window (this micro-batch has 23)


def nanstd(x, dim=None, keepdim=False):
    mean = torch.nanmean(x, dim=dim, keepdim=True)
    var = torch.nanmean((x - mean) ** 2, dim=dim, keepdim=True)
    count = torch.sum(~torch.isnan(x), dim=dim, keepdim=True)
    corr = torch.where(count > 1, count / (count - 1), torch.full_like(count, float("nan"), dtype=x.dtype))
    std = torch.sqrt(var * corr)
    return std if keepdim else (std.squeeze(dim) if dim is not None else std.squeeze())


def loss_case(loss_type, level, beta, use_old, eps_low=0.2, eps_high=0.28):
    lp = logps.clone().requires_grad_(True)
    o = old if use_old else lp.detach()
    a = adv.unsqueeze(1)
    log_ratio = lp - o
    if level == "token":
        liw = log_ratio
    else:
        liw = ((log_ratio * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).unsqueeze(-1)
    coef_1 = torch.exp(liw)
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    per_token_loss = -torch.min(coef_1 * a, coef_2 * a)
    if beta != 0:
        kl = torch.exp(ref - lp) - (ref - lp) - 1
        per_token_loss = per_token_loss + beta * kl
    if loss_type == "grpo":
        loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean() / GA
    elif loss_type == "bnpo":
        loss = (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0) / GA
    elif loss_type == "dr_grpo":
        loss = (per_token_loss * mask).sum() / (per_token_loss.size(0) * MAXC) / GA
    else:
        loss = (per_token_loss * mask).sum() / max(NUM_ITEMS, 1.0)
    loss.backward()

    def gmean(x):
        if x.shape[1] == 1:
            return (x.sum() / x.shape[0]).item()
        return ((x * mask).sum() / mask.sum().clamp(min=1.0)).item()

    low = ((coef_1 < 1 - eps_low) & (a < 0)).double()
    high = ((coef_1 > 1 + eps_high) & (a > 0)).double()
    out = dict(loss_type=loss_type, level=level, beta=beta, use_old=use_old, eps_low=eps_low, eps_high=eps_high,
               loss=loss.item(), grad=lp.grad.tolist(),
               low_mean=gmean(low), high_mean=gmean(high), region_mean=gmean(((low + high) > 0).double()))
    if beta != 0:
        out["kl"] = gmean(torch.exp(ref - lp) - (ref - lp) - 1)
    return out


def adv_case(scale, weights):
    rpf = torch.tensor([[1.0, 0.5, float("nan")], [0.0, 0.5, 2.0], [2.0, float("nan"), 0.0],
                        [float("nan"), float("nan"), float("nan")], [1.0, 1.0, 1.0], [1.0, 1.0, 1.0],
                        [0.5, 0.0, 0.0], [0.5, 0.0, 0.0], [0.5, 0.0, 0.0]], dtype=torch.float64)
    w = torch.tensor(weights, dtype=torch.float64)
    unscorable = torch.isnan(rpf).all(dim=1)
    rewards = (rpf * w.unsqueeze(0)).nansum(dim=1)
    rewards[unscorable] = float("nan")
    mean_g = torch.nanmean(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    if scale in ("group", "none"):
        std = nanstd(rewards.view(-1, G), dim=1).repeat_interleave(G, dim=0)
    else:
        std = nanstd(rewards).expand_as(rewards)
    advs = rewards - mean_g
    if scale != "none":
        advs = advs / (std + 1e-4)
    zero = torch.isclose(std, torch.zeros_like(std))
    advs = torch.nan_to_num(advs, nan=0.0)
    nan = lambda t: [None if math.isnan(v) else v for v in t.tolist()]
    return dict(scale=scale, weights=weights, rewards_per_func=[nan(r) for r in rpf], rewards=nan(rewards),
                advantages=advs.tolist(), zero_std=zero.tolist(), G=G)


losses = []
for lt in ["grpo", "bnpo", "dr_grpo", "dapo"]:
    for level in ["token", "sequence"]:
        for beta in [0.0, 0.04]:
            for use_old in [True, False]:
                losses.append(loss_case(lt, level, beta, use_old))
advs = [adv_case(s, w) for s in ["group", "batch", "none"] for w in ([1.0, 1.0, 1.0], [0.5, 2.0, 1.0])]
json.dump(dict(generator="scripts/make_grpo_goldens.py", torch=torch.__version__, B=B, T=T, mask=mask.tolist(),
               logps=logps.tolist(), old=old.tolist(), ref=ref.tolist(), adv=adv.tolist(), max_completion_length=MAXC,
               ga=GA, num_items=NUM_ITEMS, losses=losses, advantages=advs), open(sys.argv[1], "w"))
print("wrote", len(losses), "loss cases and", len(advs), "advantage cases")
