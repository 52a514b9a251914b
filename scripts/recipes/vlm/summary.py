"""Prints the held-out table of a default_model.sh run folder as Markdown.

Usage: python3 scripts/recipes/default/summary.py RUN_FOLDER
"""
import json
import os
import sys


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)["summary"]


def row(name, suite, s):
    if s is None:
        return f"| {suite} | {name} | – | – | – | – |"
    acc = [t.get("accuracy") for t in s["tasks"] if t.get("accuracy") is not None]
    a = f"{100 * acc[0]:.1f} %" if acc else "–"
    return f"| {suite} | {name} | {a} | {100 * s['format_rate']:.0f} % | {s['mean_length']:.1f} | {s['n']} |"


def main():
    run = sys.argv[1]
    label = {"ui": "ui (click: point in box)", "spatial": "spatial (refer: point in mask)"}
    print("| suite | stage | held-out accuracy | format rate | mean length (tokens) | n |")
    print("|---|---|---|---|---|---|")
    for suite in ("ui", "spatial"):
        print(row("SFT (trainer, libtorch)", label[suite], load(f"{run}/sft-eval-{suite}.json")))
        print(row("SFT→GRPO, exported package (ONNX Runtime)", label[suite], load(f"{run}/eval-{suite}.json")))


if __name__ == "__main__":
    main()
