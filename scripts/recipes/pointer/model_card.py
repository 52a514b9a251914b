"""Writes the shipped package's model card: the exporter's card plus the recipe, the held-out
and real-screen tables measured through the runtime, and where it fails.

Usage: python3 scripts/recipes/pointer/model_card.py RUN_FOLDER > models/default/README.md
"""
import json
import os
import subprocess
import sys

run = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
card = open(os.path.join(run, "package", "README.md")).read()
table = subprocess.run([sys.executable, os.path.join(here, "summary.py"), run],
                       check=True, capture_output=True, text=True).stdout


def acc(name):
    path = os.path.join(run, f"eval-{name}.json")
    if not os.path.exists(path):
        return None
    tasks = json.load(open(path))["summary"]["tasks"]
    vals = [t["accuracy"] for t in tasks if t.get("accuracy") is not None]
    return vals[0] if vals else None


ui, spatial, real = acc("ui"), acc("spatial"), acc("real")
fmt = lambda v: "–" if v is None else f"{100 * v:.1f} %"
print("# reticle default package: the pointer policy (ui clicks + spatial referring)\n")
print("The model `reticle` uses when no `--model` is given. Reproduce it with one command:\n")
print("```sh\nscripts/recipes/default_model.sh\n```\n")
print("An action head over image patches and the text PP-OCRv6 reads (docs/pointer.md), trained "
      "with SFT (GUI-Actor's loss), SFT continued on more data, then GRPO on point rewards, on the "
      "2-core CPU: 4,000 + 3,000 + 3,000 `ui` records (seeds 1000, 1003, 1004; ui3 has radio "
      "buttons and switches) whose text is the drawn labels, 300 `ui` records (seed 1001) read by "
      "the runtime's reader, 4,000 + 3,000 `spatial` records (seeds 2000, 2001). Configs: "
      "`scripts/recipes/pointer/{sft,sft2,grpo}.toml`. The PP-OCRv6 graphs are not in this folder: "
      "`scripts/setup.sh runtime` fetches them from the `rapidocr` wheel and the manifest pins "
      "their SHA-256.\n")
print(f"**Held-out accuracy** (exported package through the runtime: real OCR, ONNX Runtime, "
      f"greedy): `ui` {fmt(ui)}, `spatial` {fmt(spatial)}, real screens {fmt(real)}. "
      "Targets: 97 %, 92 %, 90 %.\n")
print("## Evaluation\n")
print("Suite seeds 999999 (`ui`) and 999998 (`spatial`) and the real-screen set "
      "(`evalsets/real-screens`, Chromium pages) were never seen in training.\n")
print(table)
print("""
## Limits — read this before relying on a click

- **Text it can read, it clicks well; what has no text is weaker.** Buttons, menus, tabs and
  desktop icons are found through their labels. Checkboxes, radio buttons, text fields
  beside their label, the window controls (close / minimise) and unlabeled icons depend on
  the visual pathway, which had far fewer updates than it needs on two CPU cores. See the
  per-kind tables above.
- **Spatial expressions** (relations, distance, free space) are the weakest part: the
  package is RGB only (depth is used by `reticle robot` to place the target, not to choose it).
- **Confidence.** `--json` and the API return the chosen candidate's probability and the
  top five; `reticle desktop` does not act below `--min-confidence` (default 0.2).
- **Bare X displays.** On a black root window with one small undecorated dialog (`xmessage`
  under Xvfb) it points at the screen's corners, sometimes with confidence above 0.2 (0.38
  for "click OK"): the confidence does not protect you on screens unlike the `ui` suite's.
- Annotated failure cases: `docs/results.md` ("The pointer policy").
""")
print("---\n")
print(card)
