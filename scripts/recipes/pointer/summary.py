"""Prints the held-out tables of a default_model.sh run folder as Markdown.

Usage: python3 scripts/recipes/pointer/summary.py RUN_FOLDER

Rows: the seven SFT checkpoints (trainer, libtorch, on the spans the runtime's reader wrote to
spans.jsonl) and the exported SFT→GRPO package (the runtime's pipeline: PP-OCRv6 + ONNX
Runtime), on the held-out suite seeds; the exported package on the real-screen set. Then
accuracy by element / expression kind, recomputed from the runtime's answers.
"""
import json
import os
import re
import struct
import sys

ANSWER = re.compile(r"<answer>\s*\(\s*(-?[\d.]+)\s*,\s*(-?[\d.]+)\s*\)\s*</answer>")
NOTHING = re.compile(r"<answer>\s*\[\s*\]\s*</answer>")


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24])


def mask_hit(path, x, y):
    """Whether pixel (x, y) of a mask PNG is inside (needs Pillow; None without it)."""
    try:
        from PIL import Image
    except ImportError:
        return None
    m = Image.open(path).convert("L")
    xi, yi = int(x), int(y)
    if not (0 <= xi < m.width and 0 <= yi < m.height):
        return False
    return m.getpixel((xi, yi)) > 127


def by_kind(report, data_file):
    """Accuracy per meta.element / meta.expression from the runtime's answers (norm1000)."""
    base = os.path.dirname(data_file)
    records = {}
    with open(data_file) as f:
        for line in f:
            r = json.loads(line)
            records[r["id"]] = r
    out = {}
    for s in report["samples"]:
        r = records.get(s["id"])
        if r is None:
            continue
        meta = r.get("meta") or {}
        kind = next(
            (v for v in (meta.get("kind"), meta.get("element"), meta.get("expression")) if isinstance(v, str)),
            r["task"],
        )
        m = ANSWER.search(s["completion"])
        hit = False
        if r["target"].get("boxes") == []:
            # The instruction names nothing: right when the answer is the empty list.
            hit = NOTHING.search(s["completion"]) is not None
        elif m:
            w, h = png_size(os.path.join(base, r["image"]))
            x, y = float(m.group(1)) * w / 1000.0, float(m.group(2)) * h / 1000.0
            t = r["target"]
            if "box" in t:
                x1, y1, x2, y2 = t["box"]
                hit = x1 <= x <= x2 and y1 <= y <= y2
            elif "mask" in t:
                hit = bool(mask_hit(os.path.join(base, t["mask"]), x, y))
            elif "point" in t:
                hit = ((x - t["point"][0]) ** 2 + (y - t["point"][1]) ** 2) ** 0.5 <= 14
        h, n = out.get(kind, (0, 0))
        out[kind] = (h + int(hit), n + 1)
    return out


def runtime_acc(report):
    if report is None:
        return "–", 0
    s = report["summary"]
    acc = [t.get("accuracy") for t in s["tasks"] if t.get("accuracy") is not None]
    return (f"{100 * acc[0]:.1f} %" if acc else "–"), s["n"]


# The stage the shipped package was exported from (the recipe exports SHIP_STAGE).
SHIP = os.environ.get("SHIP_STAGE", "sft21")


def main():
    run = sys.argv[1]
    data = os.path.join(run, "data")
    print("| set | stage | point accuracy | n |")
    print("|---|---|---|---|")
    names = {
        "ui": "ui held-out (seed 999999; click: point in box)",
        "spatial": "spatial held-out (seed 999998; refer: point in mask)",
    }
    for suite in ("ui", "spatial"):
        for stage, label in (("sft", "SFT (trainer, libtorch)"), ("sft2", "SFT continued (sft2; trainer)"),
                             ("sft3", "SFT with element proposals (sft3; trainer)"),
                             ("sft4", "SFT with bare X dialogs added (sft4; trainer)"),
                             ("sft5", "SFT with the relative head (sft5; trainer)"),
                             ("sft6", "SFT with icon screens added (sft6; trainer)"),
                             ("sft7", "SFT with read bare dialogs added (sft7; trainer)"),
                             ("sft8", "SFT continued (sft8; trainer)"),
                             ("sft9", "SFT with scenes and settings lists added (sft9; trainer)"),
                             ("sft10", "SFT with more scenes (sft10; trainer; not shipped)"),
                             ("sft11", "SFT with the nothing head (sft11; trainer)"),
                             ("sft12", "SFT with web pages rendered by chromium added (sft12; trainer)"),
                             ("sft13", "SFT with the nothing head on web pages (sft13; trainer)"),
                             ("sft14", "SFT with bare dialogs naming nothing weighted up (sft14; trainer)"),
                             ("sft15", "SFT on every naming-nothing set with each kind's positives (sft15; trainer)"),
                             ("sft16", "SFT with web pages of fields, icons and toggles added (sft16; trainer)"),
                             ("sft17", "SFT with the icon reader's spans (sft17; trainer, spans of eval sets without icons)"),
                             ("sft18", "600 more steps of it (sft18; trainer, spans of eval sets without icons)"),
                             ("sft19", "SFT from sft17 with bare dialogs naming nothing weighted up (sft19; trainer, spans of eval sets without icons)"),
                             ("sft20", "SFT from sft19 with suite desktops read with text and icons (sft20; trainer, spans of eval sets without icons)"),
                             ("sft21", "600 more steps of it (sft21; trainer, spans of eval sets without icons)")):
            sft = load(f"{run}/{stage}-eval-{suite}.json")
            if sft:
                print(f"| {names[suite]} | {label} | {100 * sft['accuracy']:.1f} % | {sft['n']} |")
        for tag, label in (("eval", f"shipped package ({SHIP}; runtime: PP-OCRv6 + ONNX Runtime)"),
                           ("eval-grpo", "SFT→GRPO package (runtime)")):
            rep = load(f"{run}/{tag}-{suite}.json")
            if rep is None:
                continue
            a, n = runtime_acc(rep)
            print(f"| {names[suite]} | {label} | {a} | {n} |")
    held_out = (
        ("bare", "bare X dialogs held-out (ui seed 999997, bare.toml)"),
        ("icons", "icon screens held-out (ui seed 999996, icons.toml)"),
        ("settings", "settings-list screens held-out (ui seed 999995, settings.toml)"),
        ("web", "web pages held-out (chromium, seed 999993, scripts/web_screens.sh)"),
        ("web-nothing", "web pages held-out, 28 % of instructions naming nothing (seed 999992, "
                        "--nothing-rate 0.4; right = `[]` for those)"),
        ("real", "real screens (evalsets/real-screens, never trained on)"),
        ("nothing", "ui held-out, 45 % of instructions naming nothing (ui seed 999994, nothing.toml; "
                    "right = `[]` for those, point in box for the rest)"),
    )
    for suffix, name in held_out:
        for tag, label in (("eval", f"shipped package ({SHIP})"), ("eval-grpo", "SFT→GRPO package")):
            rep = load(f"{run}/{tag}-{suffix}.json")
            if rep is None:
                continue
            a, n = runtime_acc(rep)
            print(f"| {name} | {label} | {a} | {n} |")
    robot = load(f"{run}/robot.json")
    if robot:
        r = robot["summary"]
        print(
            f"| robot 3-D target within 2 cm of the object's surface point (spatial held-out object queries; "
            f"`reticle robot`) | shipped package ({SHIP}) | {100 * r['within_2cm']:.1f} % "
            f"(median error {100 * r['median_error_m']:.1f} cm) | {r['n']} |"
        )
    refusal = load(f"{run}/refusal.json")
    if refusal:
        r = refusal["summary"]
        print(
            f"| instructions naming nothing on held-out `ui` screens (seed 999999; names never trained on): "
            f"share the desktop agent would act on (a point with confidence ≥ {r['threshold']}; target 0 %) "
            f"| shipped package ({SHIP}) | "
            f"{100 * r['nonsense_acted']:.0f} % (mean confidence {r['nonsense_mean_confidence']:.2f}; "
            f"the screens' own instructions: {r['own_mean_confidence']:.2f}) | "
            f"{sum(len(row['nonsense']) for row in refusal['rows'])} |"
        )
    for suite, data_file in (
        ("nothing", f"{data}/ui-nothing-eval/data.jsonl"),
        ("bare", f"{data}/ui-bare-eval/data.jsonl"),
        ("icons", f"{data}/ui-icons-eval/data.jsonl"),
        ("settings", f"{data}/ui-settings-eval/data.jsonl"),
        ("web", f"{data}/web-eval/data.jsonl"),
        ("web-nothing", f"{data}/web-nothing-eval/data.jsonl"),
        ("ui", f"{data}/ui-eval/data.jsonl"),
        ("spatial", f"{data}/spatial-eval/data.jsonl"),
        ("real", "evalsets/real-screens/data.jsonl"),
    ):
        rep = load(f"{run}/eval-{suite}.json")
        if rep is None or not os.path.exists(data_file):
            continue
        kinds = by_kind(rep, data_file)
        print(f"\n{suite}: accuracy by kind (shipped package)\n")
        print("| kind | accuracy | n |")
        print("|---|---|---|")
        for k, (h, n) in sorted(kinds.items()):
            print(f"| {k} | {100 * h / max(n, 1):.1f} % | {n} |")


if __name__ == "__main__":
    main()
