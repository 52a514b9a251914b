"""The no-learning baseline of docs/perception.md and DESIGN.md: click the centre of the read
text that the instruction names. Scores any reader's spans on the set's click records.

    python matcher_baseline.py DATA.jsonl SPANS.jsonl [--by kind]

SPANS.jsonl: `reticle data perceive evalsets/real-screens --out SPANS.jsonl` (or any file of
{"image", "spans": [{"text", "box", "words": [{"text", "box"}]}]} lines).

The matcher: among every line and every contiguous run of a line's words, the longest text
(after case-folding, whitespace collapsing and dropping punctuation at word ends) that
appears in the instruction as whole words; ties go to the earliest in reading order. It
clicks that run's box centre; no match = no click (a miss). It knows nothing about
checkboxes, icons or "next to": it is the floor a learned policy has to beat.
"""
import argparse
import json
import re
import sys
from collections import defaultdict
from pathlib import Path


def words(s):
    toks = [t.strip(".,:;!?\"'()[]{}…“”‘’·|") for t in s.casefold().split()]
    return [t for t in toks if t]


def runs(span):
    ws = span.get("words") or []
    out = [(words(span["text"]), span["box"])]
    for i in range(len(ws)):
        for j in range(i + 1, len(ws) + 1):
            b = [min(w["box"][0] for w in ws[i:j]), min(w["box"][1] for w in ws[i:j]),
                 max(w["box"][2] for w in ws[i:j]), max(w["box"][3] for w in ws[i:j])]
            out.append((words(" ".join(w["text"] for w in ws[i:j])), b))
    return out


def contains(hay, needle):
    n = len(needle)
    return n > 0 and any(hay[k:k + n] == needle for k in range(len(hay) - n + 1))


def click(instruction, spans):
    inst = words(instruction)
    best = None
    for s in spans:
        for toks, box in runs(s):
            if toks and contains(inst, toks):
                key = sum(len(t) for t in toks)
                if best is None or key > best[0]:
                    best = (key, box)
    if best is None:
        return None
    b = best[1]
    return ((b[0] + b[2]) / 2, (b[1] + b[3]) / 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("spans")
    ap.add_argument("--by", default="kind")
    a = ap.parse_args()
    spans = {}
    for line in open(a.spans):
        r = json.loads(line)
        spans[Path(r["image"]).name] = r["spans"]
    tot = defaultdict(lambda: [0, 0])
    for line in open(a.data):
        r = json.loads(line)
        sp = spans.get(Path(r["image"]).name)
        if sp is None:
            sys.exit(f"no spans for {r['image']}")
        p = click(r["instruction"], sp)
        x1, y1, x2, y2 = r["target"]["box"]
        hit = p is not None and x1 <= p[0] <= x2 and y1 <= p[1] <= y2
        for key in ("all", f"{a.by}={r['meta'].get(a.by)}"):
            tot[key][0] += hit
            tot[key][1] += 1
    for k in sorted(tot, key=lambda k: (k != "all", k)):
        h, n = tot[k]
        print(f"{k:<28} {h:>4}/{n:<4} {100 * h / n:5.1f} %")


if __name__ == "__main__":
    main()
