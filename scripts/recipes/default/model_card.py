"""Writes the shipped package's model card: the exporter's card plus the recipe and the
held-out table measured through ONNX Runtime.

Usage: python3 scripts/recipes/default/model_card.py RUN_FOLDER > models/default/README.md
"""
import os
import subprocess
import sys

run = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
card = open(os.path.join(run, "package", "README.md")).read()
# Weights are not shipped (size budget): the card must not promise them.
card = card.replace("the tokenizer and the trained weights", "the tokenizer (weights.safetensors is left out of the shipped copy to fit the repository's size budget; `scripts/recipes/default_model.sh` rebuilds it)")
table = subprocess.run([sys.executable, os.path.join(here, "summary.py"), run],
                       check=True, capture_output=True, text=True).stdout
print("# reticle default package (ui clicks + spatial referring)\n")
print("The model `reticle` uses when no `--model` is given. Reproduce it with one command:\n")
print("```sh\nscripts/recipes/default_model.sh\n```\n")
print("Training: SFT on 5,000 `ui` records (suite seed 1000) and 5,000 `spatial` records (seed 2000), "
      "then GRPO with verifiable rewards (point in box, point in mask, answer format) from the SFT "
      "checkpoint, on the 2-core CPU. Configs: `scripts/recipes/default/{sft,grpo}.toml`.\n")
print("## Held-out evaluation\n")
print("Suite seeds 999999 (`ui`) and 999998 (`spatial`), never seen in training; greedy decoding.\n")
print(table)
print("\n---\n")
print(card.split("\n", 1)[1] if card.startswith("# ") else card)
