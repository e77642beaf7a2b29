#!/usr/bin/env python3
"""Peak live buffers of a scheduled HLO module (XLA's *after_optimizations.txt dump).

Walks the ENTRY computation in its schedule order; each instruction's result is a buffer (bitcast,
get-tuple-element and tuple alias their operands; parameters and constants are not temporaries),
live from its definition to its last use. Prints the peak and the largest buffers live at it, with
their opcode and shape, so one can see which values a gradient executable keeps (used for issue 7:
bench/RESULTS.md). Usage: hlo_liveness.py FILE [N]."""
import re, sys
from collections import Counter

BYTES = {"pred": 1, "s8": 1, "u8": 1, "s16": 2, "u16": 2, "f16": 2, "bf16": 2, "s32": 4, "u32": 4, "f32": 4, "s64": 8, "u64": 8, "f64": 8}
SHAPE = re.compile(r"\b(pred|[su](?:8|16|32|64)|f16|bf16|f32|f64)\[([0-9,]*)\]")

def size_of(shape_text):
    total = 0
    for dt, dims in SHAPE.findall(shape_text):
        n = 1
        for d in filter(None, dims.split(",")):
            n *= int(d)
        total += n * BYTES[dt]
    return total

def main():
    path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25
    lines, entry = open(path).read().split("\n"), False
    instrs = []
    for ln in lines:
        if ln.startswith("ENTRY"):
            entry = True
            continue
        if entry and ln.startswith("}"):
            break
        if not entry or "=" not in ln:
            continue
        m = re.match(r"\s*(?:ROOT\s+)?%?([\w.\-]+)\s*=\s*(.*?)\s+([\w\-]+)\((.*)", ln)
        if not m:
            continue
        name, shape, op, rest = m.groups()
        args = rest.split(")", 1)[0]
        operands = re.findall(r"%?([\w.\-]+)", args)
        instrs.append((name, shape, op, operands, ln))
    index = {n: i for i, (n, *_ ) in enumerate(instrs)}
    alias = {}
    def root(n):
        while n in alias:
            n = alias[n]
        return n
    size, last, info = {}, {}, {}
    for i, (name, shape, op, operands, ln) in enumerate(instrs):
        ops = [o for o in operands if o in index]
        if op in ("bitcast", "get-tuple-element", "tuple") or op == "opt-barrier":
            if ops:
                alias[name] = ops[0]
                for o in ops:
                    last[root(o)] = i
            continue
        for o in ops:
            last[root(o)] = i
        if op in ("parameter", "constant"):
            continue
        size[name] = size_of(shape)
        last.setdefault(name, i)
        meta = re.search(r'op_name="([^"]*)"', ln)
        info[name] = (op, shape[:70], (meta.group(1) if meta else "")[:60])
    # Sweep.
    events = Counter()
    for n, s in size.items():
        events[index[n]] += s
        events[last[n] + 1] -= s
    live, peak, at = 0, 0, 0
    for i in range(len(instrs) + 1):
        live += events.get(i, 0)
        if live > peak:
            peak, at = live, i
    alive = [(s, n) for n, s in size.items() if index[n] <= at <= last[n]]
    alive.sort(reverse=True)
    print(f"{len(instrs)} instructions; peak {peak/2**30:.2f} GiB of temporaries at #{at} ({instrs[at][0]})")
    kinds = Counter()
    for s, n in alive:
        kinds[(info[n][0], info[n][1])] += s
    print("by (opcode, shape) at the peak:")
    for (op, sh), s in kinds.most_common(top):
        cnt = sum(1 for s2, n in alive if (info[n][0], info[n][1]) == (op, sh))
        print(f"  {s/2**20:9.1f} MiB  {cnt:4d}x  {op:14s} {sh}")

main()
