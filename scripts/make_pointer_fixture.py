"""Writes a tiny pointer-policy package (`pointer.onnx` + `model.json`) that honours the contract
of `models/src/pointer.rs` exactly, for the runtime's and the agents' tests.

Usage (the tools venv has onnx and numpy):

    $RETICLE_CACHE/tools-venv/bin/python scripts/make_pointer_fixture.py OUT [options]

The graph is not a trained policy; it is built so that the answers are known:
- patch logits: a 1×1 convolution of `pixel_values` (weights `--patch-weights`, one per
  channel), averaged over each `cell × cell` patch, so the reddest patch wins among patches;
- text logits: `5 · span_feats[..., 1]` (1 when the candidate's words appear as a run of the
  instruction's), `PAD_LOGIT` (−1e4) where `span_valid` is 0, so a label named by the
  instruction wins with probability ≈ 0.7 and no candidate is confident otherwise; plus
  `--element-logit` for an element proposal (first piece `e:element`; `--max-elements` sets
  how many the manifest keeps);
- offsets: a 1×1 convolution with small weights, averaged per patch, `[B, P, 2]`;
- anchor_logits: the patch logits;
- with `--nothing-logit X`: one more logit, last in `logits`, the constant X (the nothing
  head; the manifest says `"nothing": true`, and `--nothing-bias B` sets its `nothing_bias`).
The other text inputs are declared (the runtime must feed them) and summed into the text logits
times 0, so that no optimiser can drop them.

Options that break the contract on purpose (for the runtime's load-error tests):
`--rename OLD=NEW` renames a graph input or output, `--int32 NAME` declares an integer input
as int32, `--graph-candidates N` builds the graph for N text candidates while the manifest
says `--max-candidates`.

`--ocr` adds the PP-OCRv6 perception stage to the manifest, with the SHA-256 of the files in
`$RETICLE_OCR_DIR` (scripts/setup.sh runtime puts them there).
"""

import argparse
import hashlib
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
PAD_LOGIT = -1e4
LEX_FEATURES = 4
# models/src/pointer.rs `TextConfig::default()` except `max_candidates`.
BUCKETS, MAX_WORDS, PIECES_PER_WORD, PIECES_PER_SPAN = 8192, 24, 12, 32
OCR_FILES = ("PP-OCRv6_det_small.onnx", "PP-OCRv6_rec_small.onnx")


def const(name, value, dtype=np.float32):
    return numpy_helper.from_array(np.asarray(value, dtype=dtype), name)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fnv1a(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def piece_id(piece):
    """models/src/pointer.rs `piece_id`: FNV-1a into BUCKETS - 1 buckets, 0 kept for padding."""
    return fnv1a(piece.encode()) % (BUCKETS - 1) + 1


def build(args):
    c, h, w, cell = args.channels, args.height, args.width, args.cell
    cols, rows = w // cell, h // cell
    p = cols * rows
    s = args.graph_candidates or args.max_candidates
    f32, i64 = TensorProto.FLOAT, TensorProto.INT64
    renames = dict(r.split("=", 1) for r in args.rename)

    def io(name, ty, shape):
        if name in args.int32:
            ty = TensorProto.INT32
        return helper.make_tensor_value_info(renames.get(name, name), ty, shape)

    inputs = [
        io("pixel_values", f32, ["B", c, h, w]),
        io("instr_ids", i64, ["B", MAX_WORDS, PIECES_PER_WORD]),
        io("instr_mask", f32, ["B", MAX_WORDS, PIECES_PER_WORD]),
        io("span_ids", i64, ["B", s, PIECES_PER_SPAN]),
        io("span_mask", f32, ["B", s, PIECES_PER_SPAN]),
        io("span_boxes", f32, ["B", s, 4]),
        io("span_feats", f32, ["B", s, LEX_FEATURES]),
        io("span_valid", f32, ["B", s]),
    ]
    outputs = [
        io("logits", f32, ["B", p + s + int(args.nothing_logit is not None)]),
        io("offsets", f32, ["B", p, 2]),
        io("anchor_logits", f32, ["B", p]),
    ]
    name = lambda x: renames.get(x, x)  # noqa: E731

    patch_w = np.zeros((1, c, 1, 1), np.float32)
    patch_w[0, : len(args.patch_weights), 0, 0] = args.patch_weights[:c]
    rng = np.random.default_rng(0)
    offset_w = (rng.standard_normal((2, c, 1, 1)) * 0.05).astype(np.float32)
    inits = [
        const("patch_w", patch_w),
        const("offset_w", offset_w),
        const("feat_idx", [1], np.int64),
        const("five", 5.0),
        const("one", 1.0),
        const("zero", 0.0),
        const("pad", PAD_LOGIT),
        const("flat_p", [-1, p], np.int64),
        const("flat_off", [-1, 2, p], np.int64),
        const("axes12", [1, 2], np.int64),
        const("axes1", [1], np.int64),
    ]
    pix = name("pixel_values")
    nodes = [
        # Patch logits [B, P].
        helper.make_node("Conv", [pix, "patch_w"], ["patch_map"]),
        helper.make_node("AveragePool", ["patch_map"], ["patch_pool"],
                         kernel_shape=[cell, cell], strides=[cell, cell]),
        helper.make_node("Reshape", ["patch_pool", "flat_p"], ["patch_logits"]),
        # Offsets [B, P, 2].
        helper.make_node("Conv", [pix, "offset_w"], ["off_map"]),
        helper.make_node("AveragePool", ["off_map"], ["off_pool"],
                         kernel_shape=[cell, cell], strides=[cell, cell]),
        helper.make_node("Reshape", ["off_pool", "flat_off"], ["off_cp"]),
        helper.make_node("Transpose", ["off_cp"], [name("offsets")], perm=[0, 2, 1]),
        helper.make_node("Identity", ["patch_logits"], [name("anchor_logits")]),
        # Text logits [B, S]: 5 · feats[..., 1] + 0 · (the other text inputs), padding at PAD.
        helper.make_node("Gather", [name("span_feats"), "feat_idx"], ["feat1_k"], axis=2),
        helper.make_node("Squeeze", ["feat1_k", "ones_axis"], ["feat1"]),
        helper.make_node("Mul", ["feat1", "five"], ["text_lex"]),
    ]
    # + element_logit where a candidate's first piece is `e:element` (an element proposal).
    inits += [
        const("first_idx", [0], np.int64),
        const("element_piece", [piece_id("w:e:element")], np.int64),
        const("element_logit", args.element_logit),
    ]
    nodes += [
        helper.make_node("Gather", [name("span_ids"), "first_idx"], ["first_k"], axis=2),
        helper.make_node("Squeeze", ["first_k", "ones_axis"], ["first_piece"]),
        helper.make_node("Equal", ["first_piece", "element_piece"], ["is_element_b"]),
        helper.make_node("Cast", ["is_element_b"], ["is_element"], to=f32),
        helper.make_node("Mul", ["is_element", "element_logit"], ["element_bonus"]),
        helper.make_node("Add", ["text_lex", "element_bonus"], ["text_raw"]),
    ]
    inits.append(const("ones_axis", [2], np.int64))
    # 0 · sum of every other text input, broadcast to [B, 1].
    unused = []
    for src in ["instr_ids", "instr_mask", "span_ids", "span_mask", "span_boxes"]:
        x = name(src)
        if src.endswith("_ids"):
            nodes.append(helper.make_node("Cast", [x], [f"{src}_f"], to=f32))
            x = f"{src}_f"
        nodes.append(helper.make_node("ReduceSum", [x, "axes12"], [f"{src}_sum"], keepdims=0))
        unused.append(f"{src}_sum")
    nodes.append(helper.make_node("Sum", unused, ["unused_sum"]))
    nodes.append(helper.make_node("Mul", ["unused_sum", "zero"], ["unused_zero"]))
    nodes.append(helper.make_node("Unsqueeze", ["unused_zero", "axes1"], ["unused_b1"]))
    nodes.append(helper.make_node("Add", ["text_raw", "unused_b1"], ["text_plus"]))
    valid = name("span_valid")
    nodes += [
        helper.make_node("Mul", ["text_plus", valid], ["text_valid"]),
        helper.make_node("Sub", ["one", valid], ["invalid"]),
        helper.make_node("Mul", ["invalid", "pad"], ["text_pad"]),
        helper.make_node("Add", ["text_valid", "text_pad"], ["text_logits"]),
    ]
    heads = ["patch_logits", "text_logits"]
    if args.nothing_logit is not None:
        inits.append(const("nothing_logit", args.nothing_logit))
        nodes.append(helper.make_node("Add", ["unused_b1", "nothing_logit"], ["nothing_b1"]))
        heads.append("nothing_b1")
    nodes.append(helper.make_node("Concat", heads, [name("logits")], axis=1))
    graph = helper.make_graph(nodes, "pointer_fixture", inputs, outputs, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    if not (args.int32 or args.rename):
        onnx.checker.check_model(model, full_check=True)
    return model


def manifest(args):
    m = {
        "format": "reticle-model",
        "version": 1,
        "name": args.name,
        "description": "pointer-policy test fixture (scripts/make_pointer_fixture.py)",
        "architecture": "pointer",
        "pointer": {
            "graph": "pointer.onnx",
            "cell": args.cell,
            "text": {
                "buckets": BUCKETS,
                "max_words": MAX_WORDS,
                "pieces_per_word": PIECES_PER_WORD,
                "max_candidates": args.max_candidates,
                "pieces_per_span": PIECES_PER_SPAN,
                "max_elements": args.max_elements,
            },
        },
        "preprocess": {
            "width": args.width,
            "height": args.height,
            "resize": "stretch",
            "channels": "rgb" if args.channels == 3 else "rgbd",
            "mean": [0.5] * args.channels,
            "std": [0.25] * args.channels,
        },
        "coord_frame": args.coord_frame,
        "opset": OPSET,
        "tasks": ["click"],
    }
    if args.nothing_logit is not None:
        m["pointer"]["nothing"] = True
    if args.nothing_bias:
        m["pointer"]["nothing_bias"] = args.nothing_bias
    if args.channels == 4:
        m["preprocess"]["depth_max_m"] = 4.0
    if args.ocr:
        ocr_dir = os.environ.get("RETICLE_OCR_DIR")
        if not ocr_dir:
            sys.exit("--ocr needs RETICLE_OCR_DIR (source scripts/env.sh)")
        det, rec = (os.path.join(ocr_dir, f) for f in OCR_FILES)
        m["perception"] = {
            "ocr": {
                "detector": {"file": OCR_FILES[0], "sha256": sha256(det)},
                "recognizer": {"file": OCR_FILES[1], "sha256": sha256(rec)},
            }
        }
    return m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--name", default="pointer-fixture")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--height", type=int, default=48)
    ap.add_argument("--cell", type=int, default=8)
    ap.add_argument("--channels", type=int, default=3, choices=[3, 4])
    ap.add_argument("--max-candidates", type=int, default=4)
    ap.add_argument("--graph-candidates", type=int, default=0)
    ap.add_argument("--max-elements", type=int, default=0,
                    help="element proposals among the candidates (manifest text.max_elements)")
    ap.add_argument("--element-logit", type=float, default=0.0,
                    help="logit added to an element proposal's candidate")
    ap.add_argument("--nothing-logit", type=float, default=None,
                    help="add the nothing head: one more, constant logit")
    ap.add_argument("--nothing-bias", type=float, default=0.0,
                    help="the manifest's pointer.nothing_bias (written even without the head)")
    ap.add_argument("--patch-weights", type=float, nargs="+", default=[0.5, -0.25, -0.25])
    ap.add_argument("--coord-frame", default="norm1000", choices=["pixels", "norm1000"])
    ap.add_argument("--rename", action="append", default=[], metavar="OLD=NEW")
    ap.add_argument("--int32", action="append", default=[], metavar="NAME")
    ap.add_argument("--ocr", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    onnx.save(build(args), os.path.join(args.out, "pointer.onnx"))
    with open(os.path.join(args.out, "model.json"), "w") as f:
        json.dump(manifest(args), f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
