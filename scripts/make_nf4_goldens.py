"""An independent implementation of bitsandbytes' NF4 format (pure Python, float32 emulated with
struct), written from bitsandbytes' csrc/kernels.cu (kQuantizeBlockwise, dQuantizeNF4) and
functional.py (quantize_4bit); bitsandbytes itself cannot be installed here. It writes the exact
packed bytes and absmax of fixed tensors for the Go tests:

    python3 scripts/make_nf4_goldens.py > gomlxgrpo/quant/testdata/nf4.golden.json
"""
import json, struct

def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]

# NF4 values; the quantization thresholds are the midpoints of neighbours, as float32 constants.
NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]
# kernels.cu hard-codes these midpoints; recompute them to check they are the midpoints (to 1e-9).
THRESH = [0.03979014977812767, 0.3893125355243683, 0.6427869200706482, 0.8614784181118011, 0.5016634166240692,
          0.2035212516784668, 0.2920137718319893, 0.1202552504837513, -0.33967943489551544, -0.13791173323988914,
          -0.045525018125772476, -0.23460740596055984, -0.6106329262256622, -0.4599952697753906, -0.8480964004993439]
mids = [(NF4[i] + NF4[i + 1]) / 2 for i in range(15)]
assert all(any(abs(t - m) < 1e-7 for m in mids) for t in THRESH)
T = sorted(f32(t) for t in THRESH)  # ascending float32 thresholds

def quantize(x):
    # code = number of thresholds strictly below x (the decision tree's "x > t" tests); NaN → 0.
    if x != x:
        return 0
    return sum(1 for t in T if x > t)

def lcg_values(n, seed, scale):
    out, s = [], seed
    for _ in range(n):
        s = (1103515245 * s + 12345) % 2**31
        u = s / 2**31
        # a heavy-ish tail: mostly small values, some large
        v = (u - 0.5) * scale * (1 if (s >> 7) % 9 else 6)
        out.append(f32(v))
    return out

def nf4(values, blocksize=64):
    n = len(values)
    absmax, codes = [], []
    for b in range(0, n, blocksize):
        block = values[b:b + blocksize]
        m = f32(max(abs(v) for v in block))
        absmax.append(m)
        inv = f32(1.0 / m) if m != 0 else float("inf")
        padded = block + [0.0] * (len(block) % 2)
        for v in padded:
            prod = f32(v * inv) if not (v == 0 and inv == float("inf")) else float("nan")
            codes.append(quantize(prod))
    packed = bytes((codes[2 * j] << 4) | codes[2 * j + 1] for j in range(len(codes) // 2))
    return packed, absmax

cases = []
for name, n, seed, scale in [("block_aligned_2x128", 256, 1, 0.2), ("partial_last_block_3x37", 111, 7, 3.0),
                             ("with_zero_block", 192, 3, 1.0)]:
    vals = lcg_values(n, seed, scale)
    if name == "with_zero_block":
        vals[64:128] = [0.0] * 64
    packed, absmax = nf4(vals)
    cases.append(dict(name=name, values=vals, packed=packed.hex(), absmax=absmax))
print(json.dumps(dict(generator="scripts/make_nf4_goldens.py", nf4=NF4, cases=cases)))
