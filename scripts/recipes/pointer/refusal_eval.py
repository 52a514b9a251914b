"""Would the desktop agent act on an instruction that names nothing? Confidence on held-out
`ui` screens for instructions naming nothing there, beside the confidence of the records' own
instructions on the same screens.

Usage: python3 scripts/recipes/pointer/refusal_eval.py RETICLE_BIN PACKAGE UI_EVAL_DIR OUT.json [N]

For the first N records (default 20) of a held-out `ui` set, runs `reticle ground --json`
(the shipped pipeline: PP-OCRv6 and the pointer through ONNX Runtime) with the record's own
instruction and with each instruction in NONSENSE, and writes per-screen rows and a summary:
the share of nonsense instructions the desktop agent would click — a point (not the empty
list `[]` a package with the nothing head answers for "names nothing here") at or above its
default --min-confidence (0.2) — and the same share and the hit rate for the real ones. The
issue asks that an instruction naming nothing is not acted on, so the first share should be
0. The nonsense names are not among the names the `nothing_rate` records are drawn from
(suites/src/ui/nothing.rs), so this is held out in wording as well as in screens.
"""
import json
import os
import statistics
import subprocess
import sys

NONSENSE = ["click the Teleport to Mars button", "the checkbox next to Quantum flux"]
THRESHOLD = 0.2  # reticle desktop's default --min-confidence


def ground(reticle, package, image, instruction):
    out = subprocess.run(
        [reticle, "ground", "--model", package, "--image", image, "--instruction", instruction, "--json"],
        check=True, capture_output=True, text=True, env={**os.environ, "RUST_LOG": "error"},
    ).stdout
    r = json.loads(out)
    return r["point"], r["result"]["confidence"]


def acts(point, conf):
    """Whether `reticle desktop` would click: a point with confidence >= THRESHOLD."""
    return point is not None and conf >= THRESHOLD


def main():
    reticle, package, data, out = sys.argv[1:5]
    n = int(sys.argv[5]) if len(sys.argv) > 5 else 20
    with open(os.path.join(data, "data.jsonl")) as f:
        records = [json.loads(line) for line in f][:n]
    rows = []
    for i, r in enumerate(records):
        image = os.path.join(data, r["image"])
        point, conf = ground(reticle, package, image, r["instruction"])
        x1, y1, x2, y2 = r["target"]["box"]
        hit = point is not None and x1 <= point[0] <= x2 and y1 <= point[1] <= y2
        row = {"id": r["id"], "instruction": r["instruction"], "confidence": conf,
               "acted": acts(point, conf), "hit": hit, "nonsense": {}}
        for s in NONSENSE:
            p, c = ground(reticle, package, image, s)
            row["nonsense"][s] = {"point": p, "confidence": c, "acted": acts(p, c)}
        rows.append(row)
        print(f"[{i + 1}/{len(records)}] {r['id']}: own {conf:.2f}{'' if row['acted'] else ' (refused)'}, nonsense "
              + ", ".join(f"{v['confidence']:.2f}{' acted' if v['acted'] else ' refused'}"
                          for v in row["nonsense"].values()), file=sys.stderr)
    nonsense = [v for row in rows for v in row["nonsense"].values()]
    own = [row["confidence"] for row in rows]
    summary = {
        "n_screens": len(rows),
        "threshold": THRESHOLD,
        "nonsense_acted": sum(v["acted"] for v in nonsense) / max(len(nonsense), 1),
        "nonsense_mean_confidence": statistics.mean(v["confidence"] for v in nonsense) if nonsense else None,
        "own_acted": sum(row["acted"] for row in rows) / max(len(rows), 1),
        "own_mean_confidence": statistics.mean(own) if own else None,
        "own_hit": sum(row["hit"] for row in rows) / max(len(rows), 1),
    }
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"summary": summary, "rows": rows}, f, indent=1)
    os.replace(tmp, out)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
