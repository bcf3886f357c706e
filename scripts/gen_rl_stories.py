#!/usr/bin/env python3
"""Writes the easier verifiable task of the GRPO demonstration: data/rl/happy_train.jsonl and happy_val.jsonl
(run once; nothing runs Python at training or test time).

    python3 scripts/gen_rl_stories.py            # the shipped files (seed 1234, 20 held out)

stories260K (a 260K-parameter TinyStories model) cannot learn digit sums from 80 problems in a few minutes
(data/rl/arithmetic_*.jsonl: even after a supervised warm-up it answers about 1 in 7 held-out problems and RL
has little to work with), so the demonstration asks for something it already does now and then: a story
opening ends on "<Name> felt", and the reward is 1 when the continuation names a happy feeling (happy, glad,
proud, excited, ...; a regular expression, src/rl/reward.h type "regex", no reference answer). Sampled at
temperature 1, the base model says "sad", "scared" or "busy" more often than not. Every combination of a name
and a thing gives one opening:
    {"prompt": "Once upon a time, there was a little girl named Lily. She had a red ball. Lily felt"}
A seeded shuffle holds out `--val` openings for validation.
"""
import argparse
import json
import os
import random

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "rl")
NAMES = [("Lily", "girl", "She"), ("Tom", "boy", "He"), ("Sue", "girl", "She"), ("Ben", "boy", "He"),
         ("Mia", "girl", "She"), ("Max", "boy", "He"), ("Anna", "girl", "She"), ("Tim", "boy", "He"),
         ("Lucy", "girl", "She"), ("Sam", "boy", "He")]
THINGS = ["a red ball", "a big box", "a little dog", "a blue kite", "a toy car", "a pretty doll", "a small cat",
          "a new hat", "a shiny rock", "a yellow boat"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--val", type=int, default=20, help="openings held out for validation")
    ap.add_argument("--out", default=HERE)
    args = ap.parse_args()
    prompts = [f"Once upon a time, there was a little {kind} named {name}. {pron} had {thing}. {name} felt"
               for name, kind, pron in NAMES for thing in THINGS]
    random.Random(args.seed).shuffle(prompts)
    splits = {"val": prompts[: args.val], "train": prompts[args.val :]}
    os.makedirs(args.out, exist_ok=True)
    for name, items in splits.items():
        path = os.path.join(args.out, f"happy_{name}.jsonl")
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            for p in items:
                f.write(json.dumps({"prompt": p}) + "\n")


if __name__ == "__main__":
    main()
