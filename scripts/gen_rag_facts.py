#!/usr/bin/env python3
"""Generates data/rag_facts/: the knowledge base and questions of the retrieval demonstration (scripts/rag_demo.sh).

Made-up people, each with one short document of four random attributes (home town, trade, pet, locker code):
    docs/p0042.txt   "Tamsin Vell lives in Brackwater, works as a potter, keeps a heron and has locker code 4821."
and one question per attribute, answered in the document's words ("Where does Tamsin Vell live?" -> "Tamsin Vell
lives in Brackwater."), each record naming its gold document as data.retrieve's RAFT contexts want it:
    train.jsonl      one conversation per person among the first N_TRAIN: the four questions in a random order
                     (four answers to learn from one retrieved context)
    heldout.jsonl    one record per question about the last N_HELDOUT people, whose facts no training record holds:
                     only a retrieved passage can answer them (chance without one: 1/30 towns, 1/24 trades,
                     1/20 pets, 1/9000 codes).
Every person's full name is unique, but first names and surnames repeat, so the best passages for a question
besides the gold one (data.retrieve_hard, or --k above 1) are people who share a first name or a surname.
Deterministic (seeded): rerunning rewrites the same bytes.
Usage: scripts/gen_rag_facts.py [OUT_DIR]   (default data/rag_facts)
"""
import json
import os
import random
import sys

SEED = 8
N_TRAIN, N_HELDOUT = 1000, 50

FIRST = ("Tamsin Bram Odile Corwin Maren Idris Elspeth Fenn Isolde Jory Kestrel Linnea Madoc Nerys Osric Perrin "
         "Quill Rowan Sable Tobin Ulla Wren Yara Alder Briar Cato Dagny Emrys Ffion Gideon Hale Ines Juno Kit "
         "Lark Milo Nell Orla Piet Rhea").split()
LAST = ("Vell Ashby Brack Cobb Dunmore Eld Farrow Gale Holt Ingle Jessop Kell Lorne Marsh Nye Orme Pell Quarry "
        "Roke Sallow Thorne Umber Vance Wick Yardley Ames Birch Crane Dyer Ellery Fisk Gorse Hatch Ives Kemp Lusk "
        "Mott Nash Oakes Penn").split()
TOWNS = ("Brackwater Fernhollow Glimmerton Ashcombe Millbrook Thornby Harrowgate Eastmere Dunholt Kestwick "
         "Larkfield Mosswell Northope Oxley Pennock Quarrington Redbank Saltmarsh Tidewell Underby Vexley Wolding "
         "Yarrowby Ambervale Coldharbour Duskwater Elmstead Foxcombe Greywell Hollin").split()
TRADES = ("baker potter weaver miller glazier tanner cooper ferryman smith mason carpenter thatcher chandler "
          "fletcher cobbler tailor brewer butcher roper dyer saddler wheelwright tinker vintner").split()
PETS = ("heron ferret tortoise parrot hedgehog goat owl hare newt pony lizard magpie rabbit toad cat dog goose "
        "mole otter crow").split()

# (question, the document's clause, the answer's pool; None: a 4-digit code) for each attribute
# (key, question, the document's clause, the answer, the values; None: a 4-digit code). The answer repeats the
# document's words before the value, so reading it is copying what follows them in the context.
ATTRIBUTES = (
    ("town", "Where does {n} live?", "{n} lives in {v},", "{n} lives in {v}.", TOWNS),
    ("trade", "What does {n} work as?", "works as a {v},", "{n} works as a {v}.", TRADES),
    ("pet", "What pet does {n} keep?", "keeps a {v}", "{n} keeps a {v}.", PETS),
    ("code", "What is the locker code of {n}?", "and has locker code {v}.", "{n} has locker code {v}.", None),
)


def people(rng):
    names = [f"{f} {l}" for f in FIRST for l in LAST]
    rng.shuffle(names)
    out = []
    for i, name in enumerate(names[:N_TRAIN + N_HELDOUT]):
        values = {key: (rng.choice(pool) if pool else str(rng.randint(1000, 9999)))
                  for key, _, _, _, pool in ATTRIBUTES}
        out.append({"doc": f"p{i:04d}.txt", "name": name, "values": values})
    return out


def document(p):
    return " ".join(clause.format(n=p["name"], v=p["values"][key]) for key, _, clause, _, _ in ATTRIBUTES) + "\n"


def qa(p, key, question, answer):
    return [{"role": "user", "content": question.format(n=p["name"])},
            {"role": "assistant", "content": answer.format(n=p["name"], v=p["values"][key])}]


def conversation(p, rng):
    """A training record: the four questions about p in a random order, one conversation (the retrieved
    context goes into the system message, data.retrieve_into "system", so every turn can read it)."""
    order = list(ATTRIBUTES)
    rng.shuffle(order)
    return {"messages": [m for key, question, _, answer, _ in order for m in qa(p, key, question, answer)],
            "gold": p["doc"]}


def questions(p):
    """The held-out records: one question each, as `vktrain chat` will be asked them."""
    for key, question, _, answer, _ in ATTRIBUTES:
        yield {"messages": qa(p, key, question, answer), "gold": p["doc"], "attribute": key}


def write_jsonl(path, records):
    with open(path, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "data/rag_facts"
    rng = random.Random(SEED)
    ps = people(rng)
    os.makedirs(os.path.join(out, "docs"), exist_ok=True)
    for p in ps:
        with open(os.path.join(out, "docs", p["doc"]), "w") as f:
            f.write(document(p))
    train = [conversation(p, rng) for p in ps[:N_TRAIN]]
    write_jsonl(os.path.join(out, "train.jsonl"), train)
    write_jsonl(os.path.join(out, "heldout.jsonl"), [q for p in ps[N_TRAIN:] for q in questions(p)])
    print(f"{out}: {len(ps)} documents, {len(train)} training conversations and {4 * N_HELDOUT} held-out questions")


if __name__ == "__main__":
    main()
