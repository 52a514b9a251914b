"""Checks an exported pointer package (pointer.onnx) against tch reference outputs.

Usage: check_pointer_onnx.py PACKAGE FIXTURE.npz [--tolerance 1e-4]

1. `onnx.checker.check_model(path, full_check=True)`, the opset and the I/O names of the
   contract (`reticle_models::pointer`).
2. Runs the graph with ONNX Runtime (CPU) on the fixture's inputs.
3. Compares `logits` (real candidates only: padding sits at -1e4 on both sides), the pointer
   distribution (softmax), `offsets` and `anchor_logits` with the tch outputs; prints one JSON
   line; exits 1 above the tolerance.
"""

import argparse
import json
import os

import numpy as np
import onnx
import onnxruntime as ort

INPUTS = ["pixel_values", "instr_ids", "instr_mask", "span_ids", "span_mask",
          "span_boxes", "span_feats", "span_valid"]
OUTPUTS = ["logits", "offsets", "anchor_logits"]


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("package")
    ap.add_argument("fixture")
    ap.add_argument("--tolerance", type=float, default=1e-4)
    args = ap.parse_args()
    with open(os.path.join(args.package, "model.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    path = os.path.join(args.package, manifest["pointer"]["graph"])
    onnx.checker.check_model(path, full_check=True)
    model = onnx.load(path)
    opset = {o.domain: o.version for o in model.opset_import}.get("", 0)
    if opset != manifest["opset"]:
        raise SystemExit(f"{path}: opset {opset}, model.json says {manifest['opset']}")
    got_in = [i.name for i in model.graph.input]
    got_out = [o.name for o in model.graph.output]
    if got_in != INPUTS or got_out != OUTPUTS:
        raise SystemExit(f"{path}: I/O {got_in} -> {got_out} differ from the contract")
    fx = np.load(args.fixture)
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    outs = sess.run(OUTPUTS, {k: fx[k] for k in INPUTS})
    diffs = {}
    for name, got in zip(OUTPUTS, outs):
        want = fx["expected_" + name]
        if got.shape != want.shape:
            raise SystemExit(f"{name}: shape {got.shape}, tch {want.shape}")
        diffs[name] = float(np.abs(got - want).max())
    diffs["pointer_distribution"] = float(np.abs(softmax(outs[0]) - softmax(fx["expected_logits"])).max())
    worst = max(diffs.values())
    print(json.dumps({"checked": [manifest["pointer"]["graph"]], "max_abs_diff": worst, "tolerance": args.tolerance,
                      "onnxruntime": ort.__version__, "diffs": diffs}))
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    raise SystemExit(main())
