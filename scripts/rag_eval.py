#!/usr/bin/env python3
"""The held-out half of scripts/rag_demo.sh: asks `vktrain chat` every question of data/rag_facts/heldout.jsonl
greedily, once with retrieval (--index, the top K passages in the system message, as in training) and once
without, and prints the exact-match accuracy of each (the reply equals the reference answer), by attribute.
One chat process per mode answers all the questions (/reset clears the history between them).
Usage: scripts/rag_eval.py VKTRAIN MODEL TOKENIZER INDEX K [--quiet]   (--quiet: no example replies)"""
import json
import subprocess
import sys
from collections import Counter

HELDOUT = "data/rag_facts/heldout.jsonl"


def answers(bin, model, tok, records, extra):
    cmd = [bin, "chat", model, "--tokenizer", tok, "--template", "configs/templates/simple.jinja",
           "--temperature", "0", "--tokens", "32"] + extra
    script = "".join(r["messages"][0]["content"] + "\n/reset\n" for r in records)
    out = subprocess.run(cmd, input=script, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"rag_eval: {' '.join(cmd)} failed ({out.returncode}):\n{out.stderr}")
    replies = [a.strip() for a in out.stdout.split("(history cleared)\n")[:len(records)]]
    if len(replies) != len(records):
        sys.exit(f"rag_eval: expected {len(records)} replies from vktrain chat, got {len(replies)}")
    return replies


def main():
    bin, model, tok, index, k = sys.argv[1:6]
    records = [json.loads(line) for line in open(HELDOUT)]
    modes = {"with retrieval": ["--index", index, "--k", k, "--context-in", "system"], "without": []}
    results = {mode: answers(bin, model, tok, records, extra) for mode, extra in modes.items()}
    shown = [] if "--quiet" in sys.argv[6:] else records[:4]
    for r, a, b in zip(shown, results["with retrieval"], results["without"]):
        print(f"  {r['messages'][0]['content']}  want {r['messages'][1]['content']!r}, "
              f"with retrieval {a!r}, without {b!r}")
    total = Counter(r["attribute"] for r in records)
    for mode, replies in results.items():
        right = Counter()
        for r, a in zip(records, replies):
            right[r["attribute"]] += a == r["messages"][1]["content"]
        by = ", ".join(f"{key} {right[key]}/{total[key]}" for key in total)
        print(f"held-out exact match {mode:14s} {sum(right.values()):3d}/{len(records)} ({by})")


if __name__ == "__main__":
    main()
