"""Draws a package's click on a record of a dataset, for the docs' annotated failure cases.

Usage (the tools venv has Pillow):

    $RETICLE_TOOLS_VENV/bin/python scripts/recipes/pointer/annotate.py RETICLE PACKAGE DATASET ID OUT.png

Runs `RETICLE ground --model PACKAGE --json` on the record's image and instruction, then
writes a crop around the target and the click: the target box in green, the click as a red
cross, and a caption with the instruction, hit or miss, the confidence and the most probable
candidate's kind and text.
"""
import json
import os
import subprocess
import sys

from PIL import Image, ImageDraw


def main():
    reticle, package, dataset, rid, out = sys.argv[1:6]
    rec = None
    with open(os.path.join(dataset, "data.jsonl")) as f:
        for line in f:
            r = json.loads(line)
            if r["id"] == rid:
                rec = r
                break
    if rec is None:
        sys.exit(f"{dataset}: no record {rid}")
    image = os.path.join(dataset, rec["image"])
    res = subprocess.run(
        [reticle, "ground", "--model", package, "--image", image, "--instruction", rec["instruction"], "--json"],
        capture_output=True, text=True, check=True,
    )
    g = json.loads(res.stdout)
    conf = g["result"].get("confidence")
    top = (g["result"].get("candidates") or [{}])[0]
    tb = rec["target"]["box"]
    over = g["result"].get("overruled")
    if g["point"] is not None:
        (x, y), colour = g["point"], (255, 0, 0)
        hit = tb[0] <= x <= tb[2] and tb[1] <= y <= tb[3]
        verdict = "hit" if hit else "miss"
    else:
        # "Names nothing": the click the nothing head outweighed in orange, if any.
        (x, y), colour = (over["point"] if over else [(tb[0] + tb[2]) / 2, (tb[1] + tb[3]) / 2]), (255, 140, 0)
        hit = False
        verdict = "answered []" + (f" over a click of {over['confidence']:.2f} (orange)" if over else "")
    im = Image.open(image).convert("RGB")
    d = ImageDraw.Draw(im)
    d.rectangle(tb, outline=(0, 200, 0), width=3)
    if g["point"] is not None or over:
        d.line([x - 10, y, x + 10, y], fill=colour, width=3)
        d.line([x, y - 10, x, y + 10], fill=colour, width=3)
    x1, y1 = min(tb[0], x) - 160, min(tb[1], y) - 90
    x2, y2 = max(tb[2], x) + 160, max(tb[3], y) + 90
    crop = im.crop((max(0, int(x1)), max(0, int(y1)), min(im.width, int(x2)), min(im.height, int(y2))))
    canvas = Image.new("RGB", (crop.width, crop.height + 34), (255, 255, 255))
    canvas.paste(crop, (0, 34))
    cd = ImageDraw.Draw(canvas)
    kind = top.get("kind", "?")
    cd.text(
        (6, 4),
        f'"{rec["instruction"]}" - {verdict}, confidence {conf:.2f}, top candidate: {kind}'
        + (f' "{top["text"]}"' if top.get("text") else ""),
        fill=(0, 0, 0),
    )
    canvas.save(out)
    print(json.dumps({"id": rid, "hit": hit, "point": g["point"], "confidence": conf, "top": top}))


if __name__ == "__main__":
    main()
