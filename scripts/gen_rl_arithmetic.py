#!/usr/bin/env python3
"""Writes the verifiable task of the GRPO demonstration: data/rl/arithmetic_train.jsonl and
arithmetic_val.jsonl (run once; nothing runs Python at training or test time).

    python3 scripts/gen_rl_arithmetic.py            # the shipped files (seed 1234, 20 held out)

Every ordered pair (a, b) of single digits gives one problem, 100 in all:
    {"prompt": "What is 3 + 4?", "completion": "7", "answer": "7"}
TRL's standard prompt form plus "answer", the reference a verifiable reward (src/rl/reward.h,
exact_match) compares with; "completion" makes the same files usable for a supervised warm-up
(src/sft/sft_dataset.h reads prompt + completion) before GRPO, which a model trained from scratch needs
to emit digits at all. The completion has no leading space: the stories260K tokenizer (SentencePiece,
512 ids) encodes "7" on its own as "\u25817", the same ids as in "What is 3 + 4? 7".
A seeded shuffle holds out `--val` problems (whole problems: a + b and b + a may fall on different
sides, as a test of commutativity). Sizes fit stories260K: a prompt is 13 ids (+ BOS), an answer 2 or 3 (+ EOS).
"""
import argparse
import json
import os
import random

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "rl")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--val", type=int, default=20, help="problems held out for validation")
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    problems = [(a, b) for a in range(10) for b in range(10)]
    random.Random(args.seed).shuffle(problems)
    splits = {"val": problems[: args.val], "train": problems[args.val :]}
    os.makedirs(args.out, exist_ok=True)
    for name, items in splits.items():
        path = os.path.join(args.out, f"arithmetic_{name}.jsonl")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for a, b in items:
                rec = {"prompt": f"What is {a} + {b}?", "completion": str(a + b), "answer": str(a + b)}
                f.write(json.dumps(rec) + "\n")
        print(f"{path}: {len(items)} problems")


if __name__ == "__main__":
    main()
