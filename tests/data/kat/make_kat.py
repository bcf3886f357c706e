#!/usr/bin/env python3
"""Generates the known-answer fixtures of tests/test_kat.c with an implementation other than vktrain.

Run once, from the repository root, with PyTorch (Debian: apt-get install python3-torch; this was made with
torch 1.13.1 from Debian bookworm):

    python3 tests/data/kat/make_kat.py

Every forward below is written from the models' published definitions (llama2.c's model.py format and
Meta's complex-pair RoPE for stories260K, Hugging Face's GPT2LMHeadModel and LlamaForCausalLM for the
folders), in float64, and none of it calls or reads vktrain code. Outputs, all little-endian safetensors:

  stories260K_logits.safetensors   input_ids (S, T) i32 and logits (S, T, V) f32 of data/models/stories260K
  gpt2-tiny/{config.json, model.safetensors, logits.safetensors}
  llama-gqa/{config.json, model.safetensors, logits.safetensors}

The two folders hold random weights drawn here (torch.Generator seeds below). Their scales are chosen so
that every definition detail moves the logits by far more than fp32 rounding does: embeddings are small
(std 0.01), so the first norm sees a mean square near 1e-4 and its epsilon (1e-5) changes its output by
several percent; the MLP inputs are large enough (std ~1) that tanh-GELU and erf-GELU differ visibly.
The sensitivity table this script prints is the evidence (max |logit change| / rms(logits) per change).
"""
import json
import math
import os
import struct

import torch

torch.set_default_dtype(torch.float64)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


# ---------------------------------------------------------------- safetensors (format from its README)
def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, torch tensor); stored as F32 (floats) or I32 (ints), row-major, LE."""
    header, blobs, off = {}, [], 0
    for name, t in tensors:
        if t.dtype in (torch.int32, torch.int64):
            dtype, raw = "I32", t.to(torch.int32).contiguous().numpy().astype("<i4").tobytes()
        else:
            dtype, raw = "F32", t.to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------- shared pieces
def rmsnorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def layernorm(x, w, b, eps):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)  # biased variance, as torch.nn.LayerNorm
    return (x - mu) / torch.sqrt(var + eps) * w + b


def gelu_tanh(x):  # GPT-2's "gelu_new"
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def causal_attention(q, k, v):
    """q (NH, T, HS), k/v (NH, T, HS) already expanded to NH heads. Softmax(q k^T / sqrt(HS)) v, causal."""
    T, HS = q.shape[1], q.shape[2]
    att = q @ k.transpose(1, 2) / math.sqrt(HS)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    att = att.masked_fill(mask, float("-inf"))
    return torch.softmax(att, dim=-1) @ v


# ---------------------------------------------------------------- stories260K (llama2.c format)
def read_llama2c(path):
    raw = open(path, "rb").read()
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", raw[:28])
    shared = vocab > 0
    vocab = abs(vocab)
    hs = dim // n_heads
    floats = torch.frombuffer(bytearray(raw[28:]), dtype=torch.float32).to(torch.float64)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = math.prod(shape)
        t = floats[pos:pos + n].reshape(shape)
        pos += n
        return t

    w = {"cfg": dict(dim=dim, hidden=hidden, n_layers=n_layers, n_heads=n_heads, n_kv=n_kv, vocab=vocab,
                     seq_len=seq_len, hs=hs)}
    w["tok"] = take(vocab, dim)
    w["rms_att"] = take(n_layers, dim)
    w["wq"] = take(n_layers, n_heads * hs, dim)
    w["wk"] = take(n_layers, n_kv * hs, dim)
    w["wv"] = take(n_layers, n_kv * hs, dim)
    w["wo"] = take(n_layers, dim, n_heads * hs)
    w["rms_ffn"] = take(n_layers, dim)
    w["w1"] = take(n_layers, hidden, dim)
    w["w2"] = take(n_layers, dim, hidden)
    w["w3"] = take(n_layers, hidden, dim)
    w["rms_final"] = take(dim)
    take(seq_len, hs // 2)  # freq_cis_real (legacy, unused: recomputed below as llama2.c's run.c does)
    take(seq_len, hs // 2)  # freq_cis_imag
    w["cls"] = w["tok"] if shared else take(vocab, dim)
    assert pos == floats.numel(), (pos, floats.numel())
    return w


def rope_pairs(x, theta):
    """Meta / llama2.c RoPE: consecutive pairs (2i, 2i+1) are complex numbers rotated by pos * theta^(-2i/HS).
    x (NH, T, HS)."""
    HS, T = x.shape[-1], x.shape[-2]
    inv = theta ** (-torch.arange(0, HS, 2) / HS)
    ang = torch.arange(T)[:, None] * inv[None, :]
    xc = torch.view_as_complex(x.reshape(*x.shape[:-1], HS // 2, 2).contiguous())
    return torch.view_as_real(xc * torch.polar(torch.ones_like(ang), ang)).reshape(x.shape)


def llama2c_forward(w, ids, eps=1e-5, theta=10000.0, gelu=None, rope=rope_pairs):
    c = w["cfg"]
    NH, KV, HS = c["n_heads"], c["n_kv"], c["hs"]
    x = w["tok"][ids]
    T = len(ids)
    for l in range(c["n_layers"]):
        h = rmsnorm(x, w["rms_att"][l], eps)
        q = (h @ w["wq"][l].T).reshape(T, NH, HS).transpose(0, 1)
        k = (h @ w["wk"][l].T).reshape(T, KV, HS).transpose(0, 1)
        v = (h @ w["wv"][l].T).reshape(T, KV, HS).transpose(0, 1)
        q, k = rope(q, theta), rope(k, theta)
        rep = NH // KV  # query head h reads kv head h // rep (llama2.c: h / kv_mul)
        k, v = k.repeat_interleave(rep, 0), v.repeat_interleave(rep, 0)
        y = causal_attention(q, k, v).transpose(0, 1).reshape(T, NH * HS)
        x = x + y @ w["wo"][l].T
        h = rmsnorm(x, w["rms_ffn"][l], eps)
        x = x + (torch.nn.functional.silu(h @ w["w1"][l].T) * (h @ w["w3"][l].T)) @ w["w2"][l].T
    return rmsnorm(x, w["rms_final"], eps) @ w["cls"].T


# ---------------------------------------------------------------- Hugging Face GPT-2
def gpt2_forward(cfg, p, ids, eps=None, gelu=gelu_tanh):
    eps = cfg["layer_norm_epsilon"] if eps is None else eps
    C, NH, T = cfg["n_embd"], cfg["n_head"], len(ids)
    HS = C // NH
    x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][:T]
    for l in range(cfg["n_layer"]):
        g = lambda n: p[f"transformer.h.{l}.{n}"]
        h = layernorm(x, g("ln_1.weight"), g("ln_1.bias"), eps)
        qkv = h @ g("attn.c_attn.weight") + g("attn.c_attn.bias")  # Conv1D: weight (in, out), x @ W + b
        q, k, v = (t.reshape(T, NH, HS).transpose(0, 1) for t in qkv.split(C, dim=-1))
        y = causal_attention(q, k, v).transpose(0, 1).reshape(T, C)
        x = x + y @ g("attn.c_proj.weight") + g("attn.c_proj.bias")
        h = layernorm(x, g("ln_2.weight"), g("ln_2.bias"), eps)
        h = gelu(h @ g("mlp.c_fc.weight") + g("mlp.c_fc.bias"))
        x = x + h @ g("mlp.c_proj.weight") + g("mlp.c_proj.bias")
    x = layernorm(x, p["transformer.ln_f.weight"], p["transformer.ln_f.bias"], eps)
    return x @ p["transformer.wte.weight"].T  # tied lm_head


def make_gpt2(gen):
    cfg = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 96, "n_positions": 32,
           "n_embd": 64, "n_layer": 2, "n_head": 4, "n_inner": 128, "activation_function": "gelu_new",
           "layer_norm_epsilon": 1e-5, "initializer_range": 0.02, "tie_word_embeddings": True,
           "bos_token_id": 0, "eos_token_id": 0}
    C, F, V, P = cfg["n_embd"], cfg["n_inner"], cfg["vocab_size"], cfg["n_positions"]
    rn = lambda *s, std: torch.randn(*s, generator=gen) * std
    p = {"transformer.wte.weight": rn(V, C, std=0.01), "transformer.wpe.weight": rn(P, C, std=0.01)}
    for l in range(cfg["n_layer"]):
        pre = f"transformer.h.{l}."
        p[pre + "ln_1.weight"] = 1 + rn(C, std=0.2)
        p[pre + "ln_1.bias"] = rn(C, std=0.1)
        p[pre + "attn.c_attn.weight"] = rn(C, 3 * C, std=0.25)  # Conv1D (in, out)
        p[pre + "attn.c_attn.bias"] = rn(3 * C, std=0.1)
        p[pre + "attn.c_proj.weight"] = rn(C, C, std=0.1)
        p[pre + "attn.c_proj.bias"] = rn(C, std=0.02)
        p[pre + "ln_2.weight"] = 1 + rn(C, std=0.2)
        p[pre + "ln_2.bias"] = rn(C, std=0.1)
        p[pre + "mlp.c_fc.weight"] = rn(C, F, std=0.15)
        p[pre + "mlp.c_fc.bias"] = rn(F, std=0.2)
        p[pre + "mlp.c_proj.weight"] = rn(F, C, std=0.1)
        p[pre + "mlp.c_proj.bias"] = rn(C, std=0.02)
    p["transformer.ln_f.weight"] = 1 + rn(C, std=0.2)
    p["transformer.ln_f.bias"] = rn(C, std=0.1)
    # Round to f32 first: the file holds f32 and the reference must start from exactly those values.
    return cfg, {k: v.to(torch.float32).to(torch.float64) for k, v in p.items()}


# ---------------------------------------------------------------- Hugging Face Llama (GQA, rope_theta)
def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope_half(x, theta):
    """Hugging Face Llama: q * cos + rotate_half(q) * sin, cos/sin of cat(freqs, freqs). x (NH, T, HS)."""
    HS, T = x.shape[-1], x.shape[-2]
    inv = theta ** (-torch.arange(0, HS, 2) / HS)
    ang = torch.arange(T)[:, None] * inv[None, :]
    emb = torch.cat((ang, ang), dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def llama_hf_forward(cfg, p, ids, eps=None, theta=None, rope=rope_half):
    eps = cfg["rms_norm_eps"] if eps is None else eps
    theta = cfg["rope_theta"] if theta is None else theta
    C, NH, KV, T = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], len(ids)
    HS = C // NH
    x = p["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        g = lambda n: p[f"model.layers.{l}.{n}"]
        h = rmsnorm(x, g("input_layernorm.weight"), eps)
        q = (h @ g("self_attn.q_proj.weight").T).reshape(T, NH, HS).transpose(0, 1)  # nn.Linear: (out, in)
        k = (h @ g("self_attn.k_proj.weight").T).reshape(T, KV, HS).transpose(0, 1)
        v = (h @ g("self_attn.v_proj.weight").T).reshape(T, KV, HS).transpose(0, 1)
        q, k = rope(q, theta), rope(k, theta)
        k, v = k.repeat_interleave(NH // KV, 0), v.repeat_interleave(NH // KV, 0)  # HF repeat_kv
        y = causal_attention(q, k, v).transpose(0, 1).reshape(T, C)
        x = x + y @ g("self_attn.o_proj.weight").T
        h = rmsnorm(x, g("post_attention_layernorm.weight"), eps)
        gate, up = h @ g("mlp.gate_proj.weight").T, h @ g("mlp.up_proj.weight").T
        x = x + (torch.nn.functional.silu(gate) * up) @ g("mlp.down_proj.weight").T
    x = rmsnorm(x, p["model.norm.weight"], eps)
    return x @ p["lm_head.weight"].T


def make_llama(gen):
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 96,
           "max_position_embeddings": 32, "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
           "num_key_value_heads": 2, "intermediate_size": 128, "hidden_act": "silu", "rms_norm_eps": 1e-5,
           "rope_theta": 500000.0, "rope_scaling": None, "attention_bias": False, "mlp_bias": False,
           "initializer_range": 0.02, "tie_word_embeddings": False, "bos_token_id": 1, "eos_token_id": 2}
    C, F, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    NH, KV = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    HS = C // NH
    rn = lambda *s, std: torch.randn(*s, generator=gen) * std
    p = {"model.embed_tokens.weight": rn(V, C, std=0.01)}
    for l in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{l}."
        p[pre + "input_layernorm.weight"] = 1 + rn(C, std=0.2)
        p[pre + "self_attn.q_proj.weight"] = rn(NH * HS, C, std=0.3)
        p[pre + "self_attn.k_proj.weight"] = rn(KV * HS, C, std=0.3)
        p[pre + "self_attn.v_proj.weight"] = rn(KV * HS, C, std=0.2)
        p[pre + "self_attn.o_proj.weight"] = rn(C, NH * HS, std=0.1)
        p[pre + "post_attention_layernorm.weight"] = 1 + rn(C, std=0.2)
        p[pre + "mlp.gate_proj.weight"] = rn(F, C, std=0.2)
        p[pre + "mlp.up_proj.weight"] = rn(F, C, std=0.2)
        p[pre + "mlp.down_proj.weight"] = rn(C, F, std=0.1)
    p["model.norm.weight"] = 1 + rn(C, std=0.2)
    p["lm_head.weight"] = rn(V, C, std=0.3)
    return cfg, {k: v.to(torch.float32).to(torch.float64) for k, v in p.items()}


# ---------------------------------------------------------------- main
def sens(name, base, other):
    d = (other - base).abs().max().item() / base.pow(2).mean().sqrt().item()
    print(f"   sensitivity {name:<40s} max|dlogit|/rms = {d:.3e}")


def main():
    # stories260K: sequence 0 is BOS plus the first 31 tokens of its greedy continuation (natural text),
    # sequence 1 is 32 ids drawn uniformly (every part of the vocabulary, attention over unusual contexts).
    ref = json.load(open(os.path.join(ROOT, "data/models/stories260K/greedy_reference.json")))["token_ids"]
    gen = torch.Generator().manual_seed(260)
    seqs = [[1] + ref[:31], torch.randint(0, 512, (32,), generator=gen).tolist()]
    w = read_llama2c(os.path.join(ROOT, "data/models/stories260K/stories260K.bin"))
    logits = torch.stack([llama2c_forward(w, s) for s in seqs])
    print(f"stories260K: logits {tuple(logits.shape)}, rms {logits.pow(2).mean().sqrt():.4f}")
    sens("rmsnorm eps 1e-5 -> 1e-6", logits[0], llama2c_forward(w, seqs[0], eps=1e-6))
    sens("rope theta 1e4 -> 1e4 + 1", logits[0], llama2c_forward(w, seqs[0], theta=10001.0))
    sens("rope pairs -> halves (no permutation)", logits[0], llama2c_forward(w, seqs[0], rope=rope_half))
    write_safetensors(os.path.join(HERE, "stories260K_logits.safetensors"),
                      [("input_ids", torch.tensor(seqs, dtype=torch.int32)), ("logits", logits)],
                      {"source": "tests/data/kat/make_kat.py", "model": "data/models/stories260K/stories260K.bin"})

    for name, make, fwd in (("gpt2-tiny", make_gpt2, gpt2_forward), ("llama-gqa", make_llama, llama_hf_forward)):
        gen = torch.Generator().manual_seed(2 if name == "gpt2-tiny" else 3)
        cfg, p = make(gen)
        V, P = cfg["vocab_size"], cfg.get("n_positions", cfg.get("max_position_embeddings"))
        seqs = torch.randint(0, V, (2, P), generator=gen).tolist()
        logits = torch.stack([fwd(cfg, p, s) for s in seqs])
        print(f"{name}: logits {tuple(logits.shape)}, rms {logits.pow(2).mean().sqrt():.4f}")
        if name == "gpt2-tiny":
            sens("layernorm eps 1e-5 -> 1e-6", logits[0], fwd(cfg, p, seqs[0], eps=1e-6))
            sens("gelu tanh -> erf", logits[0], fwd(cfg, p, seqs[0], gelu=gelu_erf))
        else:
            sens("rmsnorm eps 1e-5 -> 1e-6", logits[0], fwd(cfg, p, seqs[0], eps=1e-6))
            sens("rope theta 5e5 -> 1e4", logits[0], fwd(cfg, p, seqs[0], theta=1e4))
            sens("rope halves -> pairs", logits[0], fwd(cfg, p, seqs[0], rope=rope_pairs))
        d = os.path.join(HERE, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        write_safetensors(os.path.join(d, "model.safetensors"), list(p.items()), {"format": "pt"})
        write_safetensors(os.path.join(d, "logits.safetensors"),
                          [("input_ids", torch.tensor(seqs, dtype=torch.int32)), ("logits", logits)],
                          {"source": "tests/data/kat/make_kat.py"})


if __name__ == "__main__":
    main()
