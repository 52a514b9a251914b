"""Turns the staged renders (render.mjs, x11.py) into the evaluation set.

    python build.py STAGE_DIR OUT_DIR

Reads STAGE_DIR/raw/*.json and STAGE_DIR/images/*.png and writes, each file atomically:
  OUT_DIR/images/<name>.png   (copied; stale PNGs in OUT_DIR/images are removed)
  OUT_DIR/data.jsonl          click records in reticle's dataset format (docs/data.md)
  OUT_DIR/labels.jsonl        visible text per image, for OCR recall
  OUT_DIR/screenspot.json     the click records in ScreenSpot format
  OUT_DIR/README.md           tools/README.template.md with the counts filled in
Label colours are measured from the pixels: the background is the most common colour in the
text box, the foreground the mean of the pixels farthest from it in luminance.
"""
import json
import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
ICON_KINDS = {"icon", "checkbox", "radio", "toggle"}


def write_atomic(path, text):
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def copy_atomic(src, dst):
    tmp = dst.with_name(f".{dst.name}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def srgb_lum(rgb):
    c = rgb.astype(np.float64) / 255.0
    c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return 0.2126 * c[..., 0] + 0.7152 * c[..., 1] + 0.0722 * c[..., 2]


def mode_colour(pixels):
    keys = (pixels[:, 0].astype(np.int64) << 16) | (pixels[:, 1].astype(np.int64) << 8) | pixels[:, 2]
    vals, counts = np.unique(keys, return_counts=True)
    k = vals[np.argmax(counts)]
    return np.array([(k >> 16) & 255, (k >> 8) & 255, k & 255])


def colours(arr, box):
    """(foreground, background) relative luminance of the text in box. The background is the
    most common colour of the box and a 2-pixel ring around it (the ring alone decides when the
    box is tight around the glyphs, as X11 ink boxes are)."""
    h, w = arr.shape[:2]
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    reg = arr[y1:y2, x1:x2].reshape(-1, 3)
    if len(reg) == 0:
        return None
    ex1, ey1, ex2, ey2 = max(0, x1 - 2), max(0, y1 - 2), min(w, x2 + 2), min(h, y2 + 2)
    mask = np.ones((ey2 - ey1, ex2 - ex1), bool)
    mask[y1 - ey1:y2 - ey1, x1 - ex1:x2 - ex1] = False
    ring = arr[ey1:ey2, ex1:ex2][mask]
    bg = mode_colour(np.concatenate([reg, ring, ring]) if len(ring) else reg)
    lum = srgb_lum(reg)
    bg_lum = float(srgb_lum(bg[None, :])[0])
    diff = np.abs(lum - bg_lum)
    if diff.max() < 1e-6:
        return bg_lum, bg_lum
    fg_lum = float(lum[diff >= 0.7 * diff.max()].mean())
    return fg_lum, bg_lum


def r2(v):
    return round(float(v), 2)


def clamp_box(b, w, h):
    return [r2(min(max(b[0], 0), w)), r2(min(max(b[1], 0), h)), r2(min(max(b[2], 0), w)), r2(min(max(b[3], 0), h))]


def main():
    stage, out = Path(sys.argv[1]), Path(sys.argv[2])
    raws = [json.loads(p.read_text(encoding="utf-8")) for p in sorted((stage / "raw").glob("*.json"))]
    if not raws:
        raise SystemExit("build.py: nothing staged")
    (out / "images").mkdir(parents=True, exist_ok=True)
    names = {r["name"] for r in raws}
    for p in (out / "images").glob("*.png"):
        if p.stem not in names:
            p.unlink()

    records, label_lines, spot = [], [], []
    stats = {"images": Counter(), "targets": Counter(), "labels": Counter()}
    for r in raws:
        name = r["name"]
        src = stage / "images" / f"{name}.png"
        with Image.open(src) as im:
            if im.mode != "RGB":
                raise SystemExit(f"build.py: {name}.png is {im.mode}, expected 8-bit RGB")
            arr = np.asarray(im)
            w, h = im.size
        if (w, h) != (r["width"], r["height"]):
            raise SystemExit(f"build.py: {name}.png is {w}x{h}, expected {r['width']}x{r['height']}")
        copy_atomic(src, out / "images" / f"{name}.png")
        image = f"images/{name}.png"
        viewport = f"{r['viewport'][0]}x{r['viewport'][1]}"
        base_meta = {"page": r["page"], "viewport": viewport, "scale": r["scale"], "theme": r["theme"],
                     "source": r["source"], "width": w, "height": h}
        k = 0
        for ei, t in enumerate(r["targets"]):
            box = clamp_box(t["box"], w, h)
            for instr in t["instructions"]:
                k += 1
                records.append({"id": f"{name}-{k:02d}", "image": image, "instruction": instr, "task": "click",
                                "target": {"box": box}, "meta": {"kind": t["kind"], **base_meta, "element": ei}})
                spot.append({"img_filename": f"{name}.png", "bbox": [box[0], box[1], r2(box[2] - box[0]), r2(box[3] - box[1])],
                             "instruction": instr, "data_type": "icon" if t["kind"] in ICON_KINDS else "text",
                             "data_source": r["source"]})
                stats["targets"][("kind", t["kind"])] += 1
                stats["targets"][("source", r["source"])] += 1
        labels = []
        for lab in r["labels"]:
            box = clamp_box(lab["box"], w, h)
            if box[2] - box[0] < 1 or box[3] - box[1] < 1:
                continue
            fg, bg = colours(arr, box) or (0.0, 1.0)
            labels.append({"text": lab["text"], "box": box, "font_px": r2(lab["font_px"]),
                           "light_on_dark": fg > bg, "icon": bool(lab.get("icon", False)),
                           "fg_lum": round(fg, 4), "bg_lum": round(bg, 4),
                           "contrast": r2((max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)),
                           "from": lab.get("from", "text")})
            stats["labels"][("source", r["source"])] += 1
            stats["labels"][("icon", labels[-1]["icon"])] += 1
            stats["labels"][("light_on_dark", labels[-1]["light_on_dark"])] += 1
        label_lines.append({"image": image, "width": w, "height": h, "source": r["source"], "page": r["page"],
                            "viewport": viewport, "scale": r["scale"], "theme": r["theme"], "labels": labels})
        for key in (("source", r["source"]), ("size", f"{w}x{h}"), ("viewport@scale", f"{viewport}@{r['scale']}"),
                    ("theme", r["theme"]), ("page", r["page"])):
            stats["images"][key] += 1

    dump = lambda o: json.dumps(o, ensure_ascii=False)  # noqa: E731
    write_atomic(out / "data.jsonl", "".join(dump(x) + "\n" for x in records))
    write_atomic(out / "labels.jsonl", "".join(dump(x) + "\n" for x in label_lines))
    write_atomic(out / "screenspot.json", "[\n" + ",\n".join(dump(x) for x in spot) + "\n]\n")

    def table(counter, group, head):
        rows = sorted((k[1], v) for k, v in counter.items() if k[0] == group)
        return "\n".join([f"| {head} | n |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows])

    png_bytes = sum((out / "images" / f"{n}.png").stat().st_size for n in names)
    n_labels = sum(len(x["labels"]) for x in label_lines)
    counts = "\n\n".join([
        f"{len(raws)} images ({png_bytes / 1e6:.1f} MB of PNG), {len(records)} click records on "
        f"{sum(len(r['targets']) for r in raws)} distinct elements, {n_labels} text labels "
        f"({stats['labels'][('icon', True)]} of them icon glyphs or punctuation only, "
        f"{stats['labels'][('light_on_dark', True)]} light-on-dark).",
        "Images by source:\n\n" + table(stats["images"], "source", "source"),
        "Images by viewport and scale (CSS viewport @ device scale factor):\n\n" + table(stats["images"], "viewport@scale", "viewport@scale"),
        "Images by screenshot size:\n\n" + table(stats["images"], "size", "pixels"),
        "Images by theme:\n\n" + table(stats["images"], "theme", "theme"),
        "Images by page:\n\n" + table(stats["images"], "page", "page"),
        "Click records by kind:\n\n" + table(stats["targets"], "kind", "kind"),
        "Click records by source:\n\n" + table(stats["targets"], "source", "source"),
        "Text labels by source:\n\n" + table(stats["labels"], "source", "source"),
    ])
    template = (HERE / "README.template.md").read_text(encoding="utf-8")
    write_atomic(out / "README.md", template.replace("{{COUNTS}}", counts))
    print(f"build.py: {len(raws)} images, {len(records)} click records, {n_labels} labels, {png_bytes / 1e6:.1f} MB PNG")


if __name__ == "__main__":
    main()
