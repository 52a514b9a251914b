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
ship = os.environ.get("SHIP_STAGE", "sft21")
grpo_figures = (" (figures below)" if os.path.exists(os.path.join(run, "eval-grpo-real.json"))
                else " (its figures: docs/results.md)")
print("An action head over image patches, the text PP-OCRv6 reads, the icons the icon reader "
      "names and the controls and icons found in the pixels (element proposals; docs/pointer.md), "
      "with a relative head that "
      "scores each candidate's offset from the anchor step's point (\"left of\", \"between\") "
      "and a nothing head (the instruction names nothing on the screen), trained with SFT in "
      "sixteen stages (GUI-Actor's loss; `sft1`–`sft5`, `sft7`–`sft9`, `sft12`–`sft15`, "
      "`sft17`, `sft19`–`sft21`; `sft6`, `sft10`, `sft11`, `sft16` and `sft18` were experiments and are "
      "not in this package's line) on the 2-core "
      "CPU: 4,000 + 3,000 + 3,000 `ui` records (seeds 1000, 1003, 1004; ui3 has radio buttons "
      "and switches) whose text is the drawn labels, 300 `ui` records (seed 1001) read by the "
      "runtime's reader, 2,000 bare X dialogs (seed 1005) and 2,000 more read by the reader "
      "(seed 1007), 2,000 settings-list screens (seed 1008: the checkbox or switch at the far "
      "end of its row), 4,000 + 3,000 + 3,000 `spatial` records (seeds 2000–2002); then 1,500 "
      "web pages rendered by chromium (seed 3001, `scripts/web_screens.sh`) and, for the nothing "
      "head, 800 web pages where 40 % of the text-named instructions name a label the page "
      "lacks (seed 3002), 1,400 + 600 `ui` screens with 40 % naming nothing (seeds 1009, 1011) "
      "and 600 + 800 bare dialogs with half naming a missing button (seeds 1010, 1012); last, "
      "1,000 web pages of fields, icons, checkboxes, switches and radio buttons (seed 3003) "
      "beside those sets, with the icon reader's spans added to every read set "
      "(`sft17`), the bare dialogs naming a missing button weighted up again (`sft19`), and "
      "2,000 + 600 more `ui` desktops (seeds 1013, 1014: icon toolbars) read with text and "
      "icons beside the web pages naming something (`sft20`, 600 more steps in `sft21`). "
      "Configs: `scripts/recipes/pointer/{sft,sft2,…,sft21,grpo}.toml`. "
      f"This package is the `{ship}` stage; the recipe's GRPO stage (30 steps) is evaluated "
      f"beside it{grpo_figures} and not shipped: on a real `xmessage` dialog GRPO has made "
      "the policy click the screen corner confidently. The PP-OCRv6 graphs are not in this "
      "folder: `scripts/setup.sh runtime` fetches them from the `rapidocr` wheel and the "
      "manifest pins their SHA-256.\n")
icons = os.path.join(run, "icons", "eval.json")
if os.path.exists(icons):
    e = json.load(open(icons))
    print("**Icon reader** (`icons.onnx`, manifest `perception.icons`; docs/perception.md): a "
          "257 k-parameter classifier of 85 icon classes trained by `reticle-train icons` on "
          "sheets of icons from 12 npm icon sets rendered by chromium (`scripts/icon_sheets.sh`). "
          "A crop it names (probability ≥ the threshold) becomes a span such as \"settings gear "
          "cog icon\" that the pointer reads like text. On the two icon sets held out "
          f"(octicons, eva-icons; {e['n_class']} icons, {e['n_other']} others): top-1 "
          f"{100 * e['top1']:.1f} %, named right {100 * e['named_right']:.1f} %, named wrongly "
          f"{100 * e['named_wrong']:.1f} %, others named {100 * e['other_named']:.1f} %.\n")
cal = os.path.join(run, "calibration.json")
if os.path.exists(cal):
    c = json.load(open(cal))
    ch, cu = c["chosen"], c["current"]
    print(f"**Calibration.** `pointer.nothing_bias` = {ch['bias']:.2f} (`reticle calibrate` on "
          f"{c['records']} validation records, ui seeds 999990 / 999989 and web pages 999991, "
          "neither trained on nor reported below): right answers "
          f"{100 * cu['accuracy']:.1f} % uncalibrated → {100 * ch['accuracy']:.1f} %; "
          f"instructions naming something hit {ch['positives_hit']}/{ch['positives']} "
          f"(refused {ch['positives_refused']}), instructions naming nothing refused "
          f"{ch['nothing_refused']}/{ch['nothing']}.\n")
print(f"**Held-out accuracy** (exported package through the runtime: real OCR, ONNX Runtime, "
      f"greedy): `ui` {fmt(ui)}, `spatial` {fmt(spatial)}, real screens {fmt(real)}. "
      "Targets: 97 %, 92 %, 90 %.\n")
print("## Evaluation\n")
print("Suite seeds 999999 (`ui`), 999998 (`spatial`), 999997 (bare X dialogs), 999996 (icon "
      "screens), 999995 (settings lists) and 999994 (naming nothing), web pages 999993 and "
      "999992 (naming nothing) and the real-screen set (`evalsets/real-screens`, Chromium "
      "pages) were never seen in training nor used to choose the calibration.\n")
print(table)
print("""
## Limits — read this before relying on a click

- **Text it can read, it clicks well; controls next to it mostly too; icons about two in
  five.** Buttons, menus, tabs and links are found through their labels; checkboxes, radio
  buttons and fields through the element proposals next to their label; icons through the
  icon reader's names (a span "settings gear cog icon" over a gear). On the real screens the
  reader puts a span of some class inside 138 of the 171 icon targets, but the policy
  clicks about 69 of them: an instruction that describes an icon in other words ("the Explorer
  icon (two sheets of paper)"), a look-alike (a chat bubble for a magnifier) or a text with
  the same word nearby still draws it away. The minimise button stays weak (4 of 13
  held-out); a switch at the
  far end of a settings row is often missed for the switch one row away, clicked with a
  confidence above the desktop agent's 0.2 (see the per-kind tables above).
- **Spatial expressions**: relations (60 %) and free space (33 %) are the weakest kinds;
  the package is RGB only (depth is used by `reticle robot` to place the target, not to
  choose it).
- **Instructions naming nothing.** The nothing head answers `[]` (no point) when the
  instruction names nothing it sees, and `reticle desktop` then says so and does not act;
  it also does not act below `--min-confidence` (default 0.2). The rows "naming nothing"
  above give how often it refuses such instructions and how often it wrongly refuses one
  that names something. It judges by the text it reads: a label the reader misreads, or an
  unlabelled icon, can be refused although it is there. Use `--dry-run` when unsure.
- **Bare X displays.** On the test's `xmessage -center -buttons Cancel:2,OK:3` dialog under
  Xvfb the policy presses OK and refuses "click the Teleport to Mars button" (the desktop
  test checks both). Where the reader runs the button labels together — on a black root
  window xmessage's adjacent `Cancel` `OK` read as one word, `Cance10K`; the runtime then
  cuts the run-together word where the case changes (`Cance1|0K`) and clicks the part that
  names the button.
- Annotated failure cases: `docs/results.md` ("The pointer policy").
""")
print("---\n")
print(card)
