"""Checks an exported reticle model package against tch reference outputs.

Usage: check_onnx.py PACKAGE FIXTURE.npz [--tolerance 1e-4]

1. `onnx.checker.check_model(path, full_check=True)` on every graph of the package, and the
   graph I/O names against model.json.
2. Runs the package with ONNX Runtime (CPU) the way the runtime decodes: vision encoder,
   token embeddings, a prefill with an empty KV cache (past = 0) over
   [image features][left-padded prompt] (reticle-vlm) or the prompt with the image features
   in place of its <|image_pad|> tokens (qwen2-vl, when the fixture has `image_grid_thw`),
   then cached single-token steps that feed the `present.*` outputs back as
   `past_key_values.*`.
3. Compares every output with the fixture written by `reticle_trainer::export::parity`
   (max absolute difference) and prints one JSON line; exits 1 above the tolerance.

Written by reticle-trainer's export tests; the trainer itself never links ONNX Runtime.
"""

import argparse
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("package")
    ap.add_argument("fixture")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()

    with open(os.path.join(args.package, "model.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    graphs = manifest["graphs"]
    checked = []
    sessions = {}
    for key in ("vision_encoder", "embed_tokens", "decoder"):
        spec = graphs[key]
        path = os.path.join(args.package, spec["file"])
        onnx.checker.check_model(path, full_check=True)
        model = onnx.load(path)
        opset = {o.domain: o.version for o in model.opset_import}.get("", 0)
        if opset != manifest["opset"]:
            raise SystemExit(f"{spec['file']}: opset {opset}, model.json says {manifest['opset']}")
        got_in = [i.name for i in model.graph.input]
        got_out = [o.name for o in model.graph.output]
        if got_in != spec["inputs"] or got_out != spec["outputs"]:
            raise SystemExit(f"{spec['file']}: I/O {got_in} -> {got_out} differ from model.json")
        checked.append(spec["file"])
        sessions[key] = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    fx = np.load(args.fixture)
    dec = manifest["decoder"]
    diffs = {}

    def compare(name, got, want):
        if got.shape != want.shape:
            raise SystemExit(f"{name}: shape {got.shape}, expected {want.shape}")
        diffs[name] = float(np.max(np.abs(got.astype(np.float64) - want.astype(np.float64))))

    qwen = "image_grid_thw" in fx
    vision_feeds = {"pixel_values": fx["pixel_values"]}
    if qwen:
        vision_feeds["image_grid_thw"] = fx["image_grid_thw"]
    (feats,) = sessions["vision_encoder"].run(None, vision_feeds)
    compare("image_features", feats, fx["image_features"])
    (embeds,) = sessions["embed_tokens"].run(None, {"input_ids": fx["prompt_ids"]})
    compare("prompt_embeds", embeds, fx["prompt_embeds"])

    if qwen:
        # qwen2-vl: one image; its features replace the <|image_pad|> rows, in order.
        batch = 1
        seq = embeds.copy()
        pads = fx["prompt_ids"][0] == fx["image_token_id"][0]
        if int(pads.sum()) != feats.shape[0]:
            raise SystemExit(f"{int(pads.sum())} image tokens but {feats.shape[0]} features")
        seq[0, pads] = feats
    else:
        batch = feats.shape[0]
        seq = np.concatenate([feats, embeds], axis=1)
    past = {}
    for i in range(dec["num_layers"]):
        for kind in ("key", "value"):
            past[f"past_key_values.{i}.{kind}"] = np.zeros(
                (batch, dec["num_kv_heads"], 0, dec["head_dim"]), dtype=np.float32
            )
    out_names = graphs["decoder"]["outputs"]

    def decode(inputs_embeds, mask, pos):
        feeds = {
            "inputs_embeds": inputs_embeds,
            "attention_mask": mask,
            "position_ids": pos,
            **past,
        }
        outs = dict(zip(out_names, sessions["decoder"].run(out_names, feeds)))
        for i in range(dec["num_layers"]):
            for kind in ("key", "value"):
                past[f"past_key_values.{i}.{kind}"] = outs[f"present.{i}.{kind}"]
        return outs["logits"]

    logits = decode(seq, fx["prefill_attention_mask"], fx["prefill_position_ids"])
    compare("prefill_logits", logits, fx["prefill_logits"])
    step = 0
    while f"step{step}_ids" in fx:
        (e,) = sessions["embed_tokens"].run(None, {"input_ids": fx[f"step{step}_ids"]})
        logits = decode(e, fx[f"step{step}_attention_mask"], fx[f"step{step}_position_ids"])
        compare(f"step{step}_logits", logits, fx[f"step{step}_logits"])
        step += 1
    for i in range(dec["num_layers"]):
        for kind in ("key", "value"):
            compare(
                f"present{i}_{kind}",
                past[f"past_key_values.{i}.{kind}"],
                fx[f"present{i}_{kind}"],
            )

    worst = max(diffs.values())
    report = {
        "checked": checked,
        "diffs": diffs,
        "max_abs_diff": worst,
        "tolerance": args.tolerance,
        "onnxruntime": ort.__version__,
    }
    print(json.dumps(report))
    if not worst <= args.tolerance:
        print(f"max abs diff {worst} exceeds {args.tolerance}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
