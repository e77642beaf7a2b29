"""AdamW goldens with PyTorch's own optimizer: torch.nn.utils.clip_grad_norm_ then torch.optim.AdamW,
as TRL's Trainer steps (max_grad_norm, learning rate set per step by the schedule).

    /usr/bin/python3 scripts/make_adamw_goldens.py gomlxgrpo/grpo/testdata/adamw.golden.json

Three parameters of different shapes, five steps with fresh random gradients (some steps clipped,
some not), the learning rate changing every step, weight decay on. Computed in float64 from
float32-representable inputs; gomlxgrpo's flat AdamW (gomlxgrpo/grpo/adamw.go) runs in float32.
"""
import json, sys
import torch

torch.manual_seed(0)
shapes = [[4, 3], [2, 5], [7]]
steps, max_norm = 5, 1.0
betas, eps, wd = (0.9, 0.99), 1e-8, 0.1
lrs = [1e-2, 8e-3, 6e-3, 4e-3, 2e-3]
scales = [0.2, 3.0, 0.5, 5.0, 0.1]  # gradient sizes: total norms on both sides of max_norm

f32 = lambda t: t.float().double()  # float32-representable values
init = [f32(torch.randn(*s)) for s in shapes]
grads = [[f32(torch.randn(*s) * sc) for s in shapes] for sc in scales]
params = [torch.nn.Parameter(p.clone()) for p in init]
opt = torch.optim.AdamW(params, lr=lrs[0], betas=betas, eps=eps, weight_decay=wd)
out = []
for k in range(steps):
    for p, g in zip(params, grads[k]):
        p.grad = g.clone()
    norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
    for group in opt.param_groups:
        group["lr"] = lrs[k]
    opt.step()
    opt.zero_grad(set_to_none=True)
    out.append(dict(grad_norm=float(norm), params=[p.detach().flatten().tolist() for p in params]))

json.dump(dict(generator="scripts/make_adamw_goldens.py", torch=torch.__version__, shapes=shapes, max_grad_norm=max_norm,
               betas=list(betas), eps=eps, weight_decay=wd, lrs=lrs, init=[p.flatten().tolist() for p in init],
               grads=[[g.flatten().tolist() for g in gs] for gs in grads], steps=out), open(sys.argv[1], "w"), indent=1)
