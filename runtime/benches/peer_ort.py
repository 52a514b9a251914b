#!/usr/bin/env python3
"""The speed peer of `cargo bench -p reticle-runtime --bench ground`.

A reticle model package run the way people prototype: Python `onnxruntime`, Pillow
preprocessing and a numpy greedy loop over the KV cache. The Rust bench starts this script
in the same run, with the same package, image, prompt token ids and number of tokens, and
compares the figures; it is a reference, not a second runtime.

    peer_ort.py '{"package": "PKG", "image": "shot.png", "prompt_ids": [1, ...],
                  "n_tokens": 48, "iters": 30, "warmup": 3, "threads": null,
                  "provider": "cpu"}'

`threads` null keeps ONNX Runtime's default intra-op threads (as the Rust bench does when
RETICLE_BENCH_THREADS is unset); a number pins both. The image is decoded once, outside the
timings (the Rust side is handed decoded pixels too); preprocessing is what Pillow and numpy
do from there. The decoding stage covers the prompt's embedding, the prefill and every step,
like `reticle_runtime::Timings::decode`. Exactly `n_tokens` tokens are generated (stop
tokens are ignored), so both sides do the same work. Prints one JSON object on stdout.
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
                "peer_ort.py: this onnxruntime has no CUDAExecutionProvider "
                f"(available: {ort.get_available_providers()}); install onnxruntime-gpu"
            )
        device = int(provider.split(":")[1]) if ":" in provider else 0
        providers = [("CUDAExecutionProvider", {"device_id": device})]
    return ort.InferenceSession(path, sess_options=opts, providers=providers)


def percentile(xs, q):
    """Nearest-rank percentile, the rule the Rust bench uses."""
    s = sorted(xs)
    rank = max(1, int(np.ceil(q / 100.0 * len(s))))
    return s[rank - 1]


def main():
    args = json.loads(sys.argv[1])
    pkg = args["package"]
    with open(os.path.join(pkg, "model.json")) as f:
        manifest = json.load(f)
    graphs = manifest["graphs"]
    provider = args.get("provider", "cpu")
    vision, embed, decoder = (
        session(os.path.join(pkg, graphs[g]["file"]), args.get("threads"), provider)
        for g in ["vision_encoder", "embed_tokens", "decoder"]
    )

    p = manifest["preprocess"]
    d = manifest["decoder"]
    if p["channels"] != "rgb":
        sys.exit("peer_ort.py: only RGB packages are supported")
    size = (p["width"], p["height"])
    mean = np.asarray(p["mean"], dtype=np.float32).reshape(3, 1, 1)
    std = np.asarray(p["std"], dtype=np.float32).reshape(3, 1, 1)
    past_names = [n for n in graphs["decoder"]["inputs"] if n.startswith("past_key_values.")]
    present_names = [n.replace("past_key_values.", "present.") for n in past_names]
    out_names = ["logits"] + present_names
    empty = np.zeros((1, d["num_kv_heads"], 0, d["head_dim"]), dtype=np.float32)

    image = Image.open(args["image"])
    image.load()
    prompt = np.asarray([args["prompt_ids"]], dtype=np.int64)
    n_tokens = int(args["n_tokens"])

    def preprocess():
        rgb = image.convert("RGB").resize(size, Image.BILINEAR)
        x = np.asarray(rgb, dtype=np.float32) / 255.0
        x = (x.transpose(2, 0, 1) - mean) / std
        return np.ascontiguousarray(x[None], dtype=np.float32)

    def decode(features):
        prompt_embeds = embed.run(None, {"input_ids": prompt})[0]
        embeds = np.concatenate([features, prompt_embeds], axis=1)
        seq = embeds.shape[1]
        feed = {
            "inputs_embeds": embeds,
            "attention_mask": np.ones((1, seq), dtype=np.int64),
            "position_ids": np.arange(seq, dtype=np.int64)[None],
        }
        for name in past_names:
            feed[name] = empty
        ids = []
        total = seq
        while True:
            outs = decoder.run(out_names, feed)
            token = int(np.argmax(outs[0][0, -1]))
            ids.append(token)
            if len(ids) == n_tokens:
                return ids
            feed = {
                "inputs_embeds": embed.run(None, {"input_ids": np.asarray([[token]], dtype=np.int64)})[0],
                "attention_mask": np.ones((1, total + 1), dtype=np.int64),
                "position_ids": np.asarray([[total]], dtype=np.int64),
            }
            for name, value in zip(past_names, outs[1:]):
                feed[name] = value
            total += 1

    times = {"preprocess": [], "encode": [], "decode": [], "end_to_end": []}
    ids = None
    for i in range(args["warmup"] + args["iters"]):
        t0 = time.perf_counter()
        pixels = preprocess()
        t1 = time.perf_counter()
        features = vision.run(None, {"pixel_values": pixels})[0]
        t2 = time.perf_counter()
        ids = decode(features)
        t3 = time.perf_counter()
        if i >= args["warmup"]:
            for key, dt in [
                ("preprocess", t1 - t0),
                ("encode", t2 - t1),
                ("decode", t3 - t2),
                ("end_to_end", t3 - t0),
            ]:
                times[key].append(dt * 1e3)

    result = {
        "stages": {
            k: {"p50_ms": percentile(v, 50), "p95_ms": percentile(v, 95)} for k, v in times.items()
        },
        "token_ids": ids,
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
