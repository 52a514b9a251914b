"""Python peer of the qwen decoding benchmark (runtime/benches/qwen.rs): onnxruntime on the same
`embed_tokens.onnx` and `decoder_model_merged.onnx` of a reticle `qwen2-vl` package, driven the
way people prototype a KV-cache loop in numpy.

    python peer_qwen.py PACKAGE --prompt-tokens 64 --new-tokens 32 [--threads N] [--repeats 5]

The prompt is text only (token ids `(100 + 7919 i) % min(vocab, 151643)`, as the Rust side and
scripts/bench/genai_peer.py use), with M-RoPE `position_ids [3, 1, T]` whose rows are equal;
greedy argmax over the last row of `logits`; the vision tokens are never chosen (as reticle
decodes). Prints one JSON line: ttft_ms (embedding + prefill + the first pick), tokens_per_s
(the remaining steps), the generated ids (checked against the Rust side's), best of --repeats
after --warmup.
"""

import argparse
import json
import os
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("package")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()

    with open(os.path.join(args.package, "model.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    with open(os.path.join(args.package, manifest["qwen"]["config"]), encoding="utf-8") as f:
        config = json.load(f)
    dec = manifest["decoder"]
    graphs = manifest["graphs"]
    opts = ort.SessionOptions()
    if args.threads:
        opts.intra_op_num_threads = args.threads
    open_graph = lambda key: ort.InferenceSession(  # noqa: E731
        os.path.join(args.package, graphs[key]["file"]), opts, providers=["CPUExecutionProvider"]
    )
    embed, decoder = open_graph("embed_tokens"), open_graph("decoder")
    out_names = graphs["decoder"]["outputs"]
    banned = [config.get(k) for k in
              ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id")]
    banned = [b for b in banned if b is not None]
    eos = config.get("eos_token_id")
    vocab = dec["vocab_size"]
    prompt = np.array([[(100 + 7919 * i) % min(vocab, 151643)
                        for i in range(args.prompt_tokens)]], dtype=np.int64)

    def run_once():
        t0 = time.perf_counter()
        past = {}
        for i in range(dec["num_layers"]):
            for kind in ("key", "value"):
                past[f"past_key_values.{i}.{kind}"] = np.zeros(
                    (1, dec["num_kv_heads"], 0, dec["head_dim"]), dtype=np.float32)
        (x,) = embed.run(None, {"input_ids": prompt})
        t = prompt.shape[1]
        pos = np.broadcast_to(np.arange(t, dtype=np.int64), (3, 1, t)).copy()
        total = 0
        ids = []
        first = None
        for _ in range(args.new_tokens):
            total += x.shape[1]
            feeds = {"inputs_embeds": x, "attention_mask": np.ones((1, total), dtype=np.int64),
                     "position_ids": pos, **past}
            outs = dict(zip(out_names, decoder.run(out_names, feeds)))
            logits = outs["logits"][0, -1].copy()
            logits[banned] = -np.inf
            tok = int(np.argmax(logits))
            ids.append(tok)
            if first is None:
                first = time.perf_counter()
            if tok == eos:
                break
            for i in range(dec["num_layers"]):
                for kind in ("key", "value"):
                    past[f"past_key_values.{i}.{kind}"] = outs[f"present.{i}.{kind}"]
            (x,) = embed.run(None, {"input_ids": np.array([[tok]], dtype=np.int64)})
            pos = np.full((3, 1, 1), total, dtype=np.int64)
        end = time.perf_counter()
        steps = len(ids) - 1
        return first - t0, (steps / (end - first)) if steps > 0 else float("nan"), ids

    runs = [run_once() for _ in range(args.warmup + args.repeats)][args.warmup:]
    print(json.dumps({
        "peer": "python onnxruntime (reticle's graphs)",
        "version": ort.__version__,
        "ttft_ms": min(r[0] for r in runs) * 1e3,
        "tokens_per_s": max(r[1] for r in runs),
        "new_tokens": len(runs[0][2]),
        "prompt_tokens": args.prompt_tokens,
        "ids": runs[0][2],
    }))


if __name__ == "__main__":
    main()
