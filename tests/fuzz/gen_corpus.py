#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<parser>/: a few small valid inputs per parser (and a
few near misses), generated here so they are reproducible and tiny. Run from anywhere:
    python3 tests/fuzz/gen_corpus.py
It also copies the repository's configs/*.json as run-config seeds; nothing comes from ../shared/data."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(HERE, "corpus")


def put(parser, name, data):
    d = os.path.join(OUT, parser)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- safetensors -------------------------------------------------------------------------------
def safetensors(tensors, meta=None):
    """tensors: list of (name, dtype, shape, raw bytes)."""
    header, blob = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob


put("safetensors", "empty", safetensors([]))
put("safetensors", "f32_2x3", safetensors([("w", "F32", [2, 3], struct.pack("<6f", 1, 2, 3, 4, 5, 6))]))
put("safetensors", "mixed", safetensors([
    ("a.bias", "F16", [2], struct.pack("<2H", 0x3C00, 0xC000)),
    ("a.weight", "BF16", [1, 2], struct.pack("<2H", 0x3F80, 0x4000)),
    ("s", "F64", [], struct.pack("<d", 0.5)),
    ("ids", "I64", [0, 4], b""),
    ("mask", "BOOL", [3], b"\x01\x00\x01"),
    ("q", "F8_E4M3", [2], b"\x38\x40"),
], {"format": "pt", "note": "seed"}))
put("safetensors", "ints", safetensors([
    ("u8", "U8", [2], b"\x01\x02"), ("i16", "I16", [1], b"\x01\x00"), ("u32", "U32", [1], b"\x01\x00\x00\x00"),
    ("i32", "I32", [2, 1], struct.pack("<2i", -1, 1)), ("u64", "U64", [1], struct.pack("<Q", 7)),
]))
put("safetensors", "truncated", safetensors([("w", "F32", [4], struct.pack("<4f", 1, 2, 3, 4))])[:-3])

# ---- run config and model config -----------------------------------------------------------------
for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
    if name.endswith(".json"):
        with open(os.path.join(ROOT, "configs", name), "rb") as f:
            put("run_config", name, f.read())
put("run_config", "all_sections.json", json.dumps({
    "model": {"preset": "llama-tiny", "num_hidden_layers": 2, "head_dim": 8},
    "tokenizer": {"type": "byte", "path": ""},
    "data": {"train": "t.txt", "val": "", "val_fraction": 0.1, "shuffle": False, "objective": "fim",
             "mask_prob": 0.15, "fim_rate": 0.5},
    "optim": {"batch_size": 2, "seq_len": 16, "grad_accum": 2, "steps": 10, "lr": 1e-3, "lr_min": 1e-4,
              "warmup_steps": 2, "weight_decay": 0.1, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "grad_clip": 1,
              "seed": 7, "recompute": True},
    "eval": {"interval": 5, "steps": 2}, "log": {"interval": 1},
    "output": {"dir": "runs/x", "checkpoint_interval": 5, "keep": 2},
    "sample": {"tokens": 8, "temperature": 0.7, "top_k": 5, "top_p": 0.9, "prompt": "Once"},
}, indent=1))
put("run_config", "gpt2_keys.json", json.dumps({"model": {"preset": "gpt2-tiny", "n_embd": 64, "n_head": 2,
                                                           "n_positions": 32}, "optim": {"seq_len": 32}}))
put("run_config", "from.json", json.dumps({"model": {"from": "models/x.bin"}, "data": {"objective": "mlm"}}))
put("run_config", "override.txt", "optim.lr=3e-4")

gpt2 = {"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": 50257, "n_positions": 1024,
        "n_ctx": 1024, "n_embd": 768, "n_layer": 12, "n_head": 12, "n_inner": None,
        "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "initializer_range": 0.02,
        "bos_token_id": 50256, "eos_token_id": 50256, "resid_pdrop": 0.1, "task_specific_params": {"x": {}}}
put("model_config", "gpt2.json", json.dumps(gpt2, indent=2))
llama = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 512,
         "max_position_embeddings": 512, "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 5,
         "num_attention_heads": 8, "num_key_value_heads": 4, "hidden_act": "silu", "rms_norm_eps": 1e-5,
         "rope_theta": 10000.0, "rope_scaling": None, "tie_word_embeddings": True, "attention_bias": False,
         "mlp_bias": False, "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
put("model_config", "llama.json", json.dumps(llama, indent=2))
put("model_config", "qwen2.json", json.dumps(dict(llama, model_type="qwen2", head_dim=16, num_key_value_heads=None,
                                                   use_sliding_window=False)))
put("model_config", "mistral.json", json.dumps(dict(llama, model_type="mistral", sliding_window=4096)))
put("model_config", "unsupported.json", json.dumps(dict(llama, rope_scaling={"type": "linear", "factor": 2.0})))

# ---- tokenizers --------------------------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()


def bl(s):
    return "".join(B2U[b] for b in s.encode())


MERGES = [("h", "e"), ("l", "l"), ("he", "ll"), (" ", "w"), ("o", "r"), ("hell", "o")]
vocab = {B2U[b]: b for b in range(256)}
for a, b in MERGES:
    vocab[bl(a + b)] = len(vocab)
encoder = dict(vocab)
encoder["<|endoftext|>"] = len(encoder)
bpe = "#version: 0.2\n" + "".join(f"{bl(a)} {bl(b)}\n" for a, b in MERGES)
put("tok_gpt2", "small", json.dumps(encoder).encode() + b"\0" + bpe.encode())
put("tok_gpt2", "no_merges", json.dumps({B2U[b]: b for b in range(256)}).encode() + b"\0#version: 0.2\n")
put("tok_gpt2", "crlf", json.dumps(encoder).encode() + b"\0" + bpe.replace("\n", "\r\n").encode())

hf_byte = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": len(vocab), "content": "<|endoftext|>", "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
    "post_processor": None, "decoder": {"type": "ByteLevel"},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "vocab": vocab,
              "merges": [f"{bl(a)} {bl(b)}" for a, b in MERGES]},
}
put("tok_hf", "byte_level.json", json.dumps(hf_byte))
hf_byte2 = json.loads(json.dumps(hf_byte))
hf_byte2["model"]["merges"] = [[bl(a), bl(b)] for a, b in MERGES]
hf_byte2["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
    {"type": "Split", "pattern": {"Regex": "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"},
     "behavior": "Isolated", "invert": False},
    {"type": "ByteLevel", "add_prefix_space": True, "use_regex": False}]}
put("tok_hf", "byte_level_pairs.json", json.dumps(hf_byte2))

SP = "\u2581"
sp_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for b in range(256):
    sp_vocab[f"<0x{b:02X}>"] = len(sp_vocab)
sp_merges = [(SP, "t"), ("h", "e"), (SP + "t", "he"), ("a", "b"), (SP, "a")]
for ch in [SP, "t", "h", "e", "a", "b"]:
    sp_vocab[ch] = len(sp_vocab)
for a, b in sp_merges:
    sp_vocab[a + b] = len(sp_vocab)
hf_sp = {
    "version": "1.0",
    "added_tokens": [{"id": i, "content": c, "special": True} for i, c in enumerate(["<unk>", "<s>", "</s>"])],
    "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": SP},
                                                        {"type": "Replace", "pattern": {"String": " "},
                                                         "content": SP}]},
    "pre_tokenizer": None,
    "decoder": {"type": "Sequence", "decoders": []},
    "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": True, "byte_fallback": True, "vocab": sp_vocab,
              "merges": [f"{a} {b}" for a, b in sp_merges]},
}
put("tok_hf", "sentencepiece.json", json.dumps(hf_sp))
hf_meta = json.loads(json.dumps(hf_sp))
hf_meta["normalizer"] = {"type": "NFKC"}
hf_meta["pre_tokenizer"] = {"type": "Metaspace", "replacement": SP, "prepend_scheme": "first", "split": False}
hf_meta["decoder"] = {"type": "Metaspace"}
put("tok_hf", "metaspace.json", json.dumps(hf_meta))
tiny_vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, SP: 3, "a": 4, SP + "a": 5, "<0x0A>": 6}
put("tok_hf", "tiny_sp.json", json.dumps({
    "added_tokens": [{"id": 0, "content": "<unk>", "special": True}],
    "normalizer": {"type": "Prepend", "prepend": SP},
    "model": {"type": "BPE", "byte_fallback": True, "unk_token": "<unk>", "vocab": tiny_vocab, "merges": [[SP, "a"]]},
}))


def llama2c_tok(pieces):
    """pieces: list of (score, bytes)."""
    out = struct.pack("<i", max(len(p) for _, p in pieces))
    for score, p in pieces:
        out += struct.pack("<fi", score, len(p)) + p
    return out


pieces = [(0.0, b"<unk>"), (0.0, b"\n<s>\n"), (0.0, b"\n</s>\n")]
pieces += [(0.0, f"<0x{b:02X}>".encode()) for b in range(256)]
for i, p in enumerate([b" ", b"t", b"h", b"e", b"a", b" t", b"he", b" the", b"ab", b" a"]):
    pieces.append((-float(i), p))
put("tok_llama2c", "small.bin", llama2c_tok(pieces))
put("tok_llama2c", "no_bytes.bin", llama2c_tok([(0.0, b"<unk>"), (0.0, b"<s>"), (0.0, b"</s>"), (-1.0, b"a"),
                                                (-2.0, b" "), (-0.5, b" a")]))

# ---- model checkpoints -----------------------------------------------------------------------------
def floats(n, start=0.0):
    return struct.pack(f"<{n}f", *[start + 0.01 * i for i in range(n)])


def llama2c_model(C, H, L, NH, KVH, V, T, shared):
    HS = C // NH
    n = V * C + L * C + L * NH * HS * C + 2 * L * KVH * HS * C + L * C * NH * HS + L * C + 3 * L * H * C + C
    n += T * HS + (0 if shared else V * C)
    return struct.pack("<7i", C, H, L, NH, KVH, V if shared else -V, T) + floats(n)


put("llama2c", "shared.bin", llama2c_model(4, 6, 1, 2, 1, 5, 2, True))
put("llama2c", "unshared.bin", llama2c_model(4, 3, 2, 2, 2, 3, 1, False))
put("llama2c", "ak42.bin", struct.pack("<I", 0x616B3432) + b"\0" * 60)


def llmc_gpt2(maxT, V, L, NH, C, Vp, version):
    n = Vp * C + maxT * C + L * (2 * C + 3 * C * C + 3 * C + C * C + C + 2 * C + 4 * C * C + 4 * C + 4 * C * C + C)
    n += 2 * C
    header = struct.pack("<8i", 20240326, version, maxT, V, L, NH, C, Vp) + b"\0" * (1024 - 32)
    body = floats(n) if version == 3 else struct.pack(f"<{n}H", *[(0x3F80 + i) & 0xFFFF for i in range(n)])
    return header + body


put("llmc_gpt2", "f32.bin", llmc_gpt2(2, 3, 1, 1, 2, 4, 3))
put("llmc_gpt2", "bf16.bin", llmc_gpt2(3, 5, 2, 2, 2, 5, 5))

# ---- token shards ----------------------------------------------------------------------------------
def shard(magic, version, ids, fmt):
    return struct.pack("<3i", magic, version, len(ids)) + b"\0" * (1024 - 12) + struct.pack(f"<{len(ids)}{fmt}", *ids)


put("token_shard", "u16.bin", shard(20240520, 1, [50256, 1, 2, 3, 65535], "H"))
put("token_shard", "u32.bin", shard(20240801, 7, [128000, 5, 0x7FFFFFFF], "I"))
put("token_shard", "empty.bin", shard(20240520, 1, [], "H"))

# ---- retrieval text: byte 0 = chunk words * 2 + markdown, byte 1 = overlap, then the text ---------
put("rag_text", "markdown.bin", bytes([2 * 11 + 1, 3]) + (
    "# Title\n\nIntro text. Two sentences!\n\n## Part ##\n\n- item one\n* item two\n\n```\n# code\n```\n"
    "---\n1. numbered \"quoted.\" (bracket?)\n\n### Deep\n\nword " * 3).encode())
put("rag_text", "plain.bin", bytes([2 * 7, 2]) + ("one two three four five six seven eight nine ten " * 4).encode())
put("rag_text", "query.bin", bytes([1, 0]) + "Who's the \"mayor\" (NEAR* OR -x:y^) Caf\u00e9 \u00bfD\u00f3nde? \u6771\u4eac \xa0".encode()
    + b"\xff\xfe\xc3")
# ---- SFT data records ------------------------------------------------------------------------------
# The hand-written fixtures of tests/data/sft (every format, and the malformed ones), plus near misses.
SFT = os.path.join(ROOT, "tests", "data", "sft")
for sub in ("good", "bad"):
    for name in sorted(os.listdir(os.path.join(SFT, sub))):
        with open(os.path.join(SFT, sub, name), "rb") as f:
            put("sft_dataset", f"{sub}_{name}", f.read())
put("sft_dataset", "mixed.jsonl", "\n".join(json.dumps(r) for r in [
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "loss_weight": 1}]},
    {"conversations": [{"from": "human", "value": "q"}, {"from": "function_call", "value": "[{\"name\": \"f\"}]"},
                       {"from": "observation", "value": "r"}, {"from": "gpt", "value": "a"}], "tools": "[]"},
    {"prompt": [{"role": "user", "content": "q"}], "completion": [{"role": "assistant", "content": "a"}]},
    {"instruction": "i", "input": "x", "output": "o", "history": [["q", "a"]], "system": "s"},
    {"prompt": "p", "completion": "c"},
    {"text": "t"},
]) + "\n")
put("sft_dataset", "empty_array.json", "[]")
put("sft_dataset", "nested_parts.jsonl", json.dumps({"messages": [
    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "value": "b"}]},
    {"role": "assistant", "content": None, "tool_calls": {"name": "f", "parameters": "{\"x\": [1, {\"y\": null}]}"}},
]}) + "\n")
# ---- preference data records -----------------------------------------------------------------------
# The hand-written fixtures of tests/data/preference (every form, and the malformed ones), the first
# records of the shipped ShareGPT set (the HH form comes from the fixture: the shipped HH records are
# red-team transcripts), and near misses (HH splits, implicit prefixes, empty answers).
PREF = os.path.join(ROOT, "tests", "data", "preference")
for sub in ("good", "bad"):
    for name in sorted(os.listdir(os.path.join(PREF, sub))):
        with open(os.path.join(PREF, sub, name), "rb") as f:
            put("pref_dataset", f"{sub}_{name}", f.read())
with open(os.path.join(ROOT, "data", "preference", "dpo_en_demo.json"), encoding="utf-8") as f:
    put("pref_dataset", "dpo_en_demo_head.json", json.dumps(json.load(f)[:2], ensure_ascii=False))
U, A = ({"role": "user", "content": "q"}, {"role": "assistant", "content": "a"})
put("pref_dataset", "near_misses.jsonl", "\n".join(json.dumps(r) for r in [
    {"chosen": "\n\nHuman: a\n\nAssistant: b\n\nHuman: c\n\nAssistant: d", "rejected": "\n\nHuman: a\n\nAssistant: e"},
    {"chosen": "Human: a\n\nAssistant:", "rejected": "Human: a\n\nAssistant: x"},
    {"chosen": "\n\nHuman: a\n\nHuman: b\n\nAssistant: c", "rejected": "\n\nHuman: a\n\nHuman: b\n\nAssistant: d"},
    {"chosen": [U, A, U, {"role": "assistant", "content": "b"}], "rejected": [U, A, U, A]},
    {"chosen": [U, {"role": "tool", "content": "t"}], "rejected": [U, A]},
    {"prompt": "ignored", "chosen": [U, A], "rejected": [U, {"role": "assistant", "content": ""}]},
    {"prompt": [U], "chosen": [A], "rejected": [{"role": "assistant", "content": None,
                                                  "tool_calls": [{"name": "f", "arguments": {}}]}], "tools": "[]"},
    {"prompt": "p", "chosen": "", "rejected": "r", "score_chosen": 1},
    {"conversations": [{"from": "human", "value": "q"}], "system": "s", "chosen": "a", "rejected": {"from": "gpt"}},
]) + "\n")
