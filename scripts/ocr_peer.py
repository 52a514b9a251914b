#!/usr/bin/env python3
"""The reference reader of screen text: rapidocr 3.10 on onnxruntime with reticle's OCR graphs.

Run it with the tools venv's python (scripts/setup.sh all installs rapidocr==3.10.0 there):

    source scripts/env.sh
    $RETICLE_TOOLS_VENV/bin/python scripts/ocr_peer.py read IMAGE...          # one JSON line per image
    $RETICLE_TOOLS_VENV/bin/python scripts/ocr_peer.py bench --iters 20 IMAGE...

It uses exactly the graphs in $RETICLE_OCR_DIR (or --ocr-dir): PP-OCRv6_det_small.onnx and
PP-OCRv6_rec_small.onnx, passed to rapidocr by path; no angle classifier; rapidocr's other
defaults (text_score 0.5, Global.max_side_len 2000, det thresh 0.3 / box_thresh 0.5 /
unclip 1.6). Downloading is disabled: if rapidocr ever tries, the run fails.

`read` prints {"image", "spans": [{"text", "box": [x1,y1,x2,y2], "score"}], "elapsed_ms"} per
image; box is the axis-aligned bounds of rapidocr's quadrilateral in original pixels. With
--word-boxes each span also has "words": [{"text", "box", "score"}] (rapidocr's
return_word_box). `bench` runs each image once to warm up, then --iters times, and prints
{"image", "p50_ms", "p95_ms", "n"}. Times run from decoding the file (Pillow; palette and
grey PNGs are converted to RGB, which rapidocr's own loader gets wrong) to rapidocr's result;
in `read`, the first image also pays ONNX Runtime's first-run cost, so time with `bench`.
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

DET = "PP-OCRv6_det_small.onnx"
REC = "PP-OCRv6_rec_small.onnx"


def no_download(*_args, **_kwargs):
    raise RuntimeError("ocr_peer: rapidocr tried to download a file; every model must come from --ocr-dir")


def build_engine(args):
    ocr_dir = Path(args.ocr_dir or os.environ.get("RETICLE_OCR_DIR", ""))
    for name in (DET, REC):
        if not (ocr_dir / name).is_file():
            raise SystemExit(f"ocr_peer: {ocr_dir / name} not found (run scripts/setup.sh runtime, "
                             "then source scripts/env.sh, or pass --ocr-dir)")
    # Forbid downloads before anything of rapidocr's runs (the class is shared by every importer).
    from rapidocr.utils import download_file
    download_file.DownloadFile.run = staticmethod(no_download)
    from rapidocr import RapidOCR

    cpus = os.cpu_count() or 1
    if not 1 <= args.threads <= cpus:
        # rapidocr silently ignores a thread count outside 1..cpu_count
        print(f"ocr_peer: --threads {args.threads} is outside 1..{cpus}; rapidocr would ignore it", file=sys.stderr)
        raise SystemExit(2)
    params = {
        "Global.use_cls": False,
        "Global.log_level": "error",
        "Global.return_word_box": bool(args.word_boxes),
        "Global.max_side_len": args.max_side_len,
        "Global.model_root_dir": str(ocr_dir),
        "Det.model_path": str(ocr_dir / DET),
        "Det.limit_side_len": args.det_limit_side,
        "Det.limit_type": args.det_limit_type,
        "Rec.model_path": str(ocr_dir / REC),
        "EngineConfig.onnxruntime.intra_op_num_threads": args.threads,
        "EngineConfig.onnxruntime.inter_op_num_threads": 1,
    }
    engine = RapidOCR(params=params)
    # Load both sessions now, so the first timed call does not include loading.
    engine._load_det_model()
    engine._load_rec_model()
    return engine


def quad_box(quad):
    xs = [float(p[0]) for p in quad]
    ys = [float(p[1]) for p in quad]
    return [round(min(xs), 1), round(min(ys), 1), round(max(xs), 1), round(max(ys), 1)]


def load_image(path):
    """Decode with Pillow. rapidocr's own loader turns palette ("P") PNGs into their index
    plane, read as grey, so anything that is not RGB/RGBA is converted first."""
    from PIL import Image, ImageOps

    im = Image.open(path)
    im = ImageOps.exif_transpose(im) or im
    if im.mode not in ("RGB", "RGBA"):
        has_alpha = im.mode in ("LA", "PA") or (im.mode == "P" and "transparency" in im.info)
        im = im.convert("RGBA" if has_alpha else "RGB")
    return im


def run_once(engine, path):
    """One read, timed from decoding the file to rapidocr's result."""
    t0 = time.perf_counter()
    out = engine(load_image(path))
    ms = (time.perf_counter() - t0) * 1000.0
    return out, ms


def spans_of(out, word_boxes):
    spans = []
    if out is None or getattr(out, "txts", None) is None or getattr(out, "boxes", None) is None:
        return spans
    words = list(out.word_results) if word_boxes and out.word_results else []
    for i, (quad, text, score) in enumerate(zip(out.boxes, out.txts, out.scores)):
        span = {"text": text, "box": quad_box(quad), "score": round(float(score), 4)}
        if word_boxes:
            line = words[i] if i < len(words) and words[i] else ()
            span["words"] = [{"text": w[0], "box": quad_box(w[2]), "score": round(float(w[1]), 4)}
                             for w in line if w and len(w) == 3 and w[2] is not None]
        spans.append(span)
    return spans


def cmd_read(engine, args):
    for path in args.images:
        out, ms = run_once(engine, path)
        rec = {"image": str(path), "spans": spans_of(out, args.word_boxes), "elapsed_ms": round(ms, 2)}
        print(json.dumps(rec, ensure_ascii=False), flush=True)


def percentile(xs, q):
    xs = sorted(xs)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def cmd_bench(engine, args):
    for path in args.images:
        run_once(engine, path)  # warm-up
        times = [run_once(engine, path)[1] for _ in range(args.iters)]
        print(json.dumps({"image": str(path), "p50_ms": round(percentile(times, 0.5), 2),
                          "p95_ms": round(percentile(times, 0.95), 2), "n": len(times)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--ocr-dir", help="folder with the two graphs (default: $RETICLE_OCR_DIR)")
    common.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads (inter-op is 1)")
    common.add_argument("--det-limit-side", type=int, default=736, help="detector Det.limit_side_len (rapidocr default 736)")
    common.add_argument("--det-limit-type", choices=["max", "min"], default="min",
                        help="detector Det.limit_type: min scales the short side up to the limit, max the long side down")
    common.add_argument("--max-side-len", type=int, default=2000,
                        help="Global.max_side_len: images with a longer side are shrunk first (rapidocr default 2000)")
    common.add_argument("--word-boxes", action="store_true", help="turn on return_word_box (adds 'words' to spans)")
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("read", parents=[common], help="print the spans of each image as a JSON line")
    r.add_argument("images", nargs="+", type=Path)
    b = sub.add_parser("bench", parents=[common], help="time each image: p50/p95 over --iters runs")
    b.add_argument("--iters", type=int, default=10)
    b.add_argument("images", nargs="+", type=Path)
    args = ap.parse_args()
    for p in args.images:
        if not p.is_file():
            raise SystemExit(f"ocr_peer: {p} not found")
    engine = build_engine(args)
    (cmd_read if args.cmd == "read" else cmd_bench)(engine, args)


if __name__ == "__main__":
    main()
