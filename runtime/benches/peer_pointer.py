#!/usr/bin/env python3
"""The speed peer of `cargo bench -p reticle-runtime --bench pointer`.

A pointer package's `pointer.onnx` run the way people prototype: Python `onnxruntime`, a
Pillow resize (stretch) and numpy normalisation with the manifest's mean and std,
`session.run`, then softmax and the greedy region rule in numpy. The Rust bench starts this script in the
same run with a JSON file naming the package, the cases (an image and the text inputs the
runtime built for it, so both sides feed the graph the same text) and the iteration counts,
and compares the figures; it is a reference, not a second runtime.

    peer_pointer.py ARGS.json
    # {"package": "PKG", "iters": 30, "warmup": 3, "threads": null, "provider": "cpu",
    #  "cases": [{"name": "ui policy", "image": "ui.png",
    #             "text": {"instr_ids": [...], "instr_mask": [...], "span_ids": [...],
    #                      "span_mask": [...], "span_boxes": [...], "span_feats": [...],
    #                      "span_valid": [...]}}]}

`threads` null keeps ONNX Runtime's default intra-op threads (as the Rust bench does when
RETICLE_BENCH_THREADS is unset); a number pins both. Each image is decoded once, outside the
timings (the Rust side is handed decoded pixels too), and the text arrays are made once (the
Rust side builds them per call and times that on its own). Stages per call: `preprocess`
(resize + normalisation), `run` (`session.run`, every output fetched, as the runtime does),
`postprocess` (softmax over the logits, the greedy region rule, the chosen patch's offset) and `total`.
Prints one JSON object on stdout: per case the stages' p50/p90 in ms, the chosen index, its
probability and offset.
"""

import json
import os
import platform
import sys
import time

import numpy as np
import onnxruntime as ort
from PIL import Image


def session(path, threads, provider):
    opts = ort.SessionOptions()
    if threads is not None:
        opts.intra_op_num_threads = threads
    if provider == "cpu":
        providers = ["CPUExecutionProvider"]
    else:
        # "cuda" or "cuda:N", as the Rust bench writes them; never a silent CPU fallback.
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            sys.exit(
                "peer_pointer.py: this onnxruntime has no CUDAExecutionProvider "
                f"(available: {ort.get_available_providers()}); install onnxruntime-gpu"
            )
        device = int(provider.split(":")[1]) if ":" in provider else 0
        providers = [("CUDAExecutionProvider", {"device_id": device})]
    return ort.InferenceSession(path, sess_options=opts, providers=providers)


def percentile(xs, q):
    """Nearest-rank percentile, the rule the Rust bench uses."""
    s = sorted(xs)
    rank = max(1, int(np.ceil(q / 100.0 * len(s))))
    return s[min(rank, len(s)) - 1]


def text_arrays(text, t):
    """The text inputs as the graph's batch-of-one arrays (shapes from the manifest)."""
    s = t["max_candidates"]
    shapes = {
        "instr_ids": (np.int64, (1, t["max_words"], t["pieces_per_word"])),
        "instr_mask": (np.float32, (1, t["max_words"], t["pieces_per_word"])),
        "span_ids": (np.int64, (1, s, t["pieces_per_span"])),
        "span_mask": (np.float32, (1, s, t["pieces_per_span"])),
        "span_boxes": (np.float32, (1, s, 4)),
        "span_feats": (np.float32, (1, s, 4)),
        "span_valid": (np.float32, (1, s)),
    }
    return {k: np.asarray(text[k], dtype=dt).reshape(shape) for k, (dt, shape) in shapes.items()}


def covered(box, cols, rows):
    """The patches (row-major) a candidate box, in fractions of the image, overlaps."""
    x1, y1, x2, y2 = (float(v) for v in box)
    c0 = int(min(max(np.floor(x1 * cols), 0), cols - 1))
    c1 = int(min(max(np.ceil(x2 * cols), c0 + 1), cols))
    r0 = int(min(max(np.floor(y1 * rows), 0), rows - 1))
    r1 = int(min(max(np.ceil(y2 * rows), r0 + 1), rows))
    return [r * cols + c for r in range(r0, r1) for c in range(c0, c1)]


def select(probs, text, cols, rows):
    """GUI-Actor's greedy rule as `reticle_models::pointer::select` applies it: text mass
    spread over the patches it covers, the 4-connected region of patches above 0.3 × the
    highest (and 4× uniform) with the most mass, its most probable candidate. Returns
    (index, the region's mass, the click as image fractions when the region's weighted
    centre is the click, else None: the caller's click of `index`)."""
    p = cols * rows
    mass = probs[:p].astype(np.float32).copy()
    boxes = np.asarray(text["span_boxes"]).reshape(-1, 4)
    valid = np.asarray(text["span_valid"]).reshape(-1)
    cover = []
    for k in range(len(valid)):
        cells = covered(boxes[k], cols, rows) if valid[k] > 0 else []
        if cells:
            mass[cells] += probs[p + k] / len(cells)
        cover.append(cells)
    top = float(mass.max())
    floor = 4.0 / len(probs)
    thr = max(top * 0.3, floor)
    if top < floor:
        best = int(np.argmax(probs))
        return best, float(probs[best]), None
    label = np.full(p, -1)
    best_region = None
    for start in range(p):
        if label[start] >= 0 or mass[start] < thr:
            continue
        region, label[start], i = [start], start, 0
        while i < len(region):
            cur = region[i]
            i += 1
            r, c = divmod(cur, cols)
            for n, ok in ((cur - 1, c > 0), (cur + 1, c + 1 < cols), (cur - cols, r > 0), (cur + cols, r + 1 < rows)):
                if ok and label[n] < 0 and mass[n] >= thr:
                    label[n] = start
                    region.append(n)
        total = float(mass[region].sum())
        if best_region is None or total > best_region[0]:
            best_region = (total, sorted(region))
    confidence, region = best_region
    best = max(region, key=lambda i: (probs[i], -i))
    in_region = set(region)
    for k, cells in enumerate(cover):
        if probs[p + k] > probs[best] and any(i in in_region for i in cells):
            best = p + k
    point = None
    if len(region) > 1 and best < p:
        w = mass[region].astype(np.float64)
        cx = np.array([(i % cols + 0.5) / cols for i in region])
        cy = np.array([(i // cols + 0.5) / rows for i in region])
        point = [float((cx * w).sum() / w.sum()), float((cy * w).sum() / w.sum())]
    return best, min(confidence, 1.0), point


def main():
    with open(sys.argv[1]) as f:
        args = json.load(f)
    pkg = args["package"]
    with open(os.path.join(pkg, "model.json")) as f:
        manifest = json.load(f)
    if manifest.get("architecture") != "pointer":
        sys.exit("peer_pointer.py: not a pointer package")
    p = manifest["preprocess"]
    if p["channels"] != "rgb":
        sys.exit("peer_pointer.py: only RGB packages are supported")
    if p["resize"] != "stretch":
        sys.exit(f"peer_pointer.py: only `stretch` resizing is supported, not {p['resize']!r}")
    spec = manifest["pointer"]
    provider = args.get("provider", "cpu")
    sess = session(os.path.join(pkg, spec["graph"]), args.get("threads"), provider)
    size = (p["width"], p["height"])
    cell = spec["cell"]
    cols, rows = p["width"] // cell, p["height"] // cell
    n_patches = cols * rows
    mean = np.asarray(p["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(p["std"], dtype=np.float32).reshape(3, 1, 1)

    cases = {}
    for case in args["cases"]:
        image = Image.open(case["image"])
        image.load()
        text = text_arrays(case["text"], spec["text"])

        def preprocess():
            rgb = image.convert("RGB").resize(size, Image.BILINEAR)
            x = np.asarray(rgb, dtype=np.float32) / 255.0
            x = (x.transpose(2, 0, 1) - mean) / std
            return np.ascontiguousarray(x[None], dtype=np.float32)

        def postprocess(logits, offsets):
            z = logits[0] - logits[0].max()
            probs = np.exp(z)
            probs /= probs.sum()
            index, confidence, point = select(probs, text, cols, rows)
            offset = offsets[0, index].tolist() if index < n_patches else None
            return index, confidence, offset, point

        times = {"preprocess": [], "run": [], "postprocess": [], "total": []}
        choice = None
        for i in range(args["warmup"] + args["iters"]):
            t0 = time.perf_counter()
            feed = {"pixel_values": preprocess(), **text}
            t1 = time.perf_counter()
            logits, offsets, _anchor = sess.run(None, feed)
            t2 = time.perf_counter()
            choice = postprocess(logits, offsets)
            t3 = time.perf_counter()
            if i >= args["warmup"]:
                for key, dt in [
                    ("preprocess", t1 - t0),
                    ("run", t2 - t1),
                    ("postprocess", t3 - t2),
                    ("total", t3 - t0),
                ]:
                    times[key].append(dt * 1e3)
        index, probability, offset, point = choice
        cases[case["name"]] = {
            "stages": {
                k: {"p50_ms": percentile(v, 50), "p90_ms": percentile(v, 90)}
                for k, v in times.items()
            },
            "index": index,
            "probability": probability,
            "offset": offset,
            "point": point,
        }

    result = {
        "cases": cases,
        "intra_op_threads": args.get("threads"),
        "provider": provider,
        "versions": {
            "python": platform.python_version(),
            "onnxruntime": ort.__version__,
            "numpy": np.__version__,
            "pillow": Image.__version__,
        },
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
