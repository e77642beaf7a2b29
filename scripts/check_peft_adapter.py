"""Loads adapters written by gomlxgrpo (TestWritePEFTFixture) with transformers + PEFT and compares log-probs.

    GOMLXGRPO_PEFT_FIXTURE=/tmp/peft go test ./gomlxgrpo/lora -run WritePEFTFixture
    python3 scripts/check_peft_adapter.py /tmp/peft

Exits non-zero when any adapter's log-probs differ from Go's by more than 1e-4 (relative, float32).
"""
import json, os, sys
import torch
from transformers import AutoModelForCausalLM
from peft import PeftModel

root = sys.argv[1]
worst_all, ok = 0.0, True
for name in sorted(os.listdir(root)):
    d = os.path.join(root, name)
    ref = json.load(open(os.path.join(d, "go_logprobs.json")))
    base = AutoModelForCausalLM.from_pretrained(ref["base"], dtype=torch.float32, attn_implementation="eager")
    model = PeftModel.from_pretrained(base, d).eval()
    ids = torch.tensor([ref["ids"]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits.float()
    lp = torch.log_softmax(logits[0, :-1], -1).gather(-1, ids[0, 1:, None]).squeeze(-1)
    go = torch.tensor(ref["logprobs"])
    rel = ((lp - go).abs() / go.abs().clamp(min=1)).max().item()
    with torch.no_grad(), model.disable_adapter():
        base_lp = torch.log_softmax(model(input_ids=ids).logits.float()[0, :-1], -1).gather(-1, ids[0, 1:, None]).squeeze(-1)
    moved = (base_lp - go).abs().max().item()
    print(json.dumps(dict(case=name, max_rel_diff=rel, adapter_effect=moved, ok=rel < 1e-4 and moved > 1e-3)))
    ok = ok and rel < 1e-4 and moved > 1e-3
sys.exit(0 if ok else 1)
