#!/usr/bin/env python3
"""Known-value fixtures for tests/test_quant.c: NF4 (bitsandbytes layout) with double quantization.

Run once by hand (python3 with torch, Debian's python3-torch 1.13 was used):
    python3 tests/data/quant/make_fixtures.py > tests/data/quant/nf4_fixtures.txt
Tests never run it. bitsandbytes itself is not installable here, so this is an independent
implementation written from bitsandbytes' documented algorithm and its published tables (read in
bitsandbytes-foundation/bitsandbytes at 95f9af3: bitsandbytes/functional.py create_dynamic_map,
quantize_4bit(compress_statistics=True), quantize_blockwise, dequantize_4bit; csrc/kernels.cu
kQuantizeBlockwise, dQuantizeNF4, dQuantize, kDequantizeBlockwise). No bitsandbytes code is copied;
the semantics reproduced are:

  * NF4 levels: the 16 float32 values of get_4bit_type("nf4") (= kernels.cu nf4_dequantization_lut).
  * blocks of 64 consecutive elements of the flattened (row-major) tensor; the last block may be short
    (its missing elements count as 0 for the absmax). absmax = max |x| in float32.
  * the scale is applied as a float32 multiply by inv = 1.0f / absmax (not a division by absmax);
    an all-zero block has inv = inf and 0 * inf = NaN, which quantizes to code 0 (level -1.0).
  * the NF4 code of s = x * inv is the number of decision thresholds t_0 < ... < t_14 with s > t_i
    (strict), where t_i is the midpoint of levels i and i+1 computed in double and rounded to float32
    (these are the constants of dQuantizeNF4's comparison tree; NaN compares false everywhere -> 0).
  * packing: two codes per byte, the FIRST element (even flat index) in the HIGH nibble; an odd element
    count leaves one padding nibble, which the kernel quantizes from the 0.0 it loads there: code 7
    (level 0.0), so the last byte's low nibble is 7.
  * double quantization (compress_statistics=True): offset = mean(absmax) (float32), then the float32
    values absmax - offset are quantized blockwise (blocks of 256) to 8 bits with the signed dynamic
    map create_dynamic_map(signed=True) (float32 via torch.linspace as in functional.py), absmax2 = max
    |.| per 256-block, s = v * (1.0f / absmax2), and the code chosen by kernels.cu dQuantize<0>: a
    7-step bisection starting at index 127 (steps 64..1, going up when s > code[pivot]), then the
    neighbour comparison against the float32 midpoint (a + b) * 0.5f described in dQuantize.
  * dequantization: absmax' = code[q] * absmax2 + offset (two float32 ops), w = level[c] * absmax'.
"""
import struct
import sys

import torch

NF4 = [-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
       -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
       0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
       0.7229568362236023, 1.0]


def f32(v):
    return struct.unpack("f", struct.pack("f", v))[0]


def dynamic_map_signed():
    """create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8) as documented."""
    vals = []
    for i in range(7):  # exponent 10^-6 .. 10^0, 2^i fraction values per sign
        b = torch.linspace(0.1, 1, 2 ** i + 1, dtype=torch.float32)
        means = (b[:-1] + b[1:]) / 2.0
        vals += ((10 ** (-6 + i)) * means).tolist()
        vals += (-(10 ** (-6 + i)) * means).tolist()
    vals += [0.0, 1.0]
    assert len(vals) == 256
    return sorted(vals)


def nf4_code(s, thr):
    if s != s:
        return 0
    return sum(1 for t in thr if s > t)


def dq8_code(s, code):
    """dQuantize<0> semantics (bisection + float32 midpoint) on float32 s."""
    pivot, lo_p, up_p, lo, up = 127, 0, 255, -1.0, 1.0
    val = code[pivot]
    i = 64
    while i > 0:
        if s > val:
            lo_p, lo, pivot = pivot, val, pivot + i
        else:
            up_p, up, pivot = pivot, val, pivot - i
        val = code[pivot]
        i >>= 1
    if up_p == 255:
        up = code[255]
    if lo_p == 0:
        lo = code[0]
    if s > val:
        return up_p if s > f32(f32(up + val) * 0.5) else pivot
    return lo_p if s < f32(f32(lo + val) * 0.5) else pivot


def quantize_nf4(w):
    """w: flat list of float32 values. Returns packed bytes, codes, absmax (float32)."""
    thr = [f32((NF4[i] + NF4[i + 1]) / 2.0) for i in range(15)]
    n = len(w)
    nb = (n + 63) // 64
    absmax, codes = [], []
    for b in range(nb):
        blk = w[64 * b:64 * b + 64]
        am = max(abs(v) for v in blk)
        absmax.append(am)
        inv = f32(1.0 / am) if am != 0 else float("inf")
        for v in blk:
            s = v * inv if not (v == 0 and inv == float("inf")) else float("nan")
            codes.append(nf4_code(f32(s), thr))
    padded = codes + ([7] if n % 2 else [])
    packed = bytes((padded[2 * i] << 4) | padded[2 * i + 1] for i in range(len(padded) // 2))
    return packed, codes, absmax


def double_quant(absmax, code):
    t = torch.tensor(absmax, dtype=torch.float32)
    offset = t.mean().item()
    a = (t - torch.tensor(offset, dtype=torch.float32)).tolist()
    nb2 = (len(a) + 255) // 256
    q, absmax2 = [], []
    for b in range(nb2):
        blk = a[256 * b:256 * b + 256]
        am = max(abs(v) for v in blk)
        absmax2.append(am)
        inv = f32(1.0 / am) if am != 0 else float("inf")
        for v in blk:
            s = float("nan") if (v == 0 and inv == float("inf")) else f32(v * inv)
            q.append(dq8_code(s, code))
    return offset, q, absmax2


def dequant(codes, q, absmax2, offset, code):
    out = []
    for e, c in enumerate(codes):
        b = e // 64
        am = f32(f32(code[q[b]] * absmax2[b // 256]) + offset)
        out.append(f32(f32(NF4[c]) * am))
    return out


def inputs(kind, n):
    """Exactly representable float32 inputs, reproduced by the C test (see test_quant.c)."""
    w = []
    for i in range(n):
        h = (i * 2654435761) % 4294967296
        v = ((h >> 7) % 4001 - 2000) / 256.0  # k/256, |k| <= 2000: exact in float32
        blk = i // 64
        w.append(v * 2.0 ** (blk % 5 - 2))
        if kind == "small" and blk == 3:
            w[-1] = 0.0  # one all-zero block
    return w


def emit(name, vals, fmt):
    print(name, len(vals), " ".join(fmt(v) for v in vals))


def main():
    code = dynamic_map_signed()
    emit("nf4_levels", [f32(v) for v in NF4], float.hex)
    emit("dynamic_map", code, float.hex)
    for kind, rows, cols in (("small", 7, 99), ("large", 260, 131)):
        w = inputs(kind, rows * cols)
        packed, codes, absmax = quantize_nf4(w)
        offset, q, absmax2 = double_quant(absmax, code)
        deq = dequant(codes, q, absmax2, offset, code)
        print("tensor", kind, rows, cols)
        print(kind + "_packed", len(packed), packed.hex())
        emit(kind + "_absmax", absmax, float.hex)
        emit(kind + "_offset", [offset], float.hex)
        emit(kind + "_qabsmax", q, str)
        emit(kind + "_absmax2", absmax2, float.hex)
        if kind == "small":
            emit(kind + "_dequant", deq, float.hex)


if __name__ == "__main__":
    sys.exit(main())
