#!/usr/bin/env python3
"""GPU memory arithmetic for Qwen2.5-VL-3B, GRPO with LoRA, G = 8 (issue 14, docs/qwen.md).

Pure Python, no dependencies: `python3 scripts/qwen_memory.py` prints the tables of the
section "Memory: Qwen2.5-VL-3B, GRPO with LoRA, G = 8" of docs/qwen.md in Markdown.
Nothing here is measured; every term is an estimate from the published shapes and from
what reticle's code keeps alive (trainer/src/model/qwen/, trainer/src/qwen/,
trainer/src/grpo/trainer.rs). Sizes are GiB (2**30 bytes).
"""

import math

# Qwen2.5-VL-3B-Instruct, config.json as published.
H, LAYERS, HEADS, KV_HEADS, HEAD_DIM = 2048, 36, 16, 2, 128
INTER, VOCAB, TIED = 11008, 151936, True
V_DEPTH, V_HIDDEN, V_HEADS, V_INTER = 32, 1280, 16, 3420
PATCH, MERGE, T_PATCH, IN_CH, V_OUT, WINDOW = 14, 2, 2, 3, 2048, 112
FULLATT = (7, 15, 23, 31)
# The task: one 1280x800 image, ~60 text tokens, G = 8, 256 new tokens.
IMG_W, IMG_H, TEXT_TOKENS, G, NEW = 1280, 800, 60, 8, 256
MIN_PIXELS, MAX_PIXELS = 3136, 12845056  # the published preprocessor_config.json
LOGIT_CHUNK = 256  # rows of the head per chunk in (b)
CUDA_CONTEXT = 1.0 * 2**30  # assumed: CUDA context + libtorch kernels, no fragmentation
GPU = 24 * 2**30

GIB = 2**30


def gib(x):
    return f"{x / GIB:.2f}"


def smart_resize(height, width, factor=PATCH * MERGE, lo=MIN_PIXELS, hi=MAX_PIXELS):
    """Qwen2VLImageProcessor's smart_resize (Python's round, half to even)."""
    h, w = round(height / factor) * factor, round(width / factor) * factor
    if h * w > hi:
        beta = math.sqrt(height * width / hi)
        h = max(factor, math.floor(height / beta / factor) * factor)
        w = max(factor, math.floor(width / beta / factor) * factor)
    elif h * w < lo:
        beta = math.sqrt(lo / (height * width))
        h, w = math.ceil(height * beta / factor) * factor, math.ceil(width * beta / factor) * factor
    return h, w


def linear(i, o, bias):
    return i * o + (o if bias else 0)


def text_params():
    q, kv = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    attn = linear(H, q, True) + 2 * linear(H, kv, True) + linear(q, H, False)
    mlp = 3 * linear(H, INTER, False)
    layer = attn + mlp + 2 * H
    return VOCAB * H + LAYERS * layer + H + (0 if TIED else VOCAB * H)


def vision_params():
    patch = IN_CH * T_PATCH * PATCH * PATCH * V_HIDDEN
    block = (
        2 * V_HIDDEN
        + linear(V_HIDDEN, 3 * V_HIDDEN, True)
        + linear(V_HIDDEN, V_HIDDEN, True)
        + 2 * linear(V_HIDDEN, V_INTER, True)
        + linear(V_INTER, V_HIDDEN, True)
    )
    merged = V_HIDDEN * MERGE * MERGE
    merger = V_HIDDEN + linear(merged, merged, True) + linear(merged, V_OUT, True)
    return patch + V_DEPTH * block + merger


def lora_params(rank):
    q, kv = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    shapes = [(H, q), (H, kv), (H, kv), (q, H), (H, INTER), (H, INTER), (INTER, H)]
    return LAYERS * sum(rank * (i + o) for i, o in shapes)


def main():
    p_text, p_vis = text_params(), vision_params()
    p_all = p_text + p_vis
    rh, rw = smart_resize(IMG_H, IMG_W)
    gh, gw = rh // PATCH, rw // PATCH
    patches = gh * gw
    img_tokens = patches // (MERGE * MERGE)
    win = WINDOW // PATCH // MERGE  # window side in merged units
    windows = math.ceil(gh // MERGE / win) * math.ceil(gw // MERGE / win)
    P = img_tokens + TEXT_TOKENS
    T = P + NEW
    N = G * T  # tokens through the decoder in one log-prob forward
    NC = G * NEW  # completion rows that need the head
    kv_tok = 2 * LAYERS * KV_HEADS * HEAD_DIM  # elements per cached token

    print("Shapes and sizes used")
    print()
    print("| Quantity | Value |")
    print("|---|---|")
    print(f"| Text parameters (tied embeddings counted once) | {p_text / 1e9:.3f} B |")
    print(f"| Vision parameters (tower + merger) | {p_vis / 1e9:.3f} B |")
    print(f"| Total parameters | {p_all / 1e9:.3f} B |")
    print(f"| Weights in bf16 / f32 | {gib(2 * p_all)} / {gib(4 * p_all)} GiB |")
    for r in (16, 64):
        n = lora_params(r)
        print(
            f"| LoRA rank {r}, q/k/v/o/gate/up/down, 36 layers | {n / 1e6:.1f} M parameters; "
            f"f32 weights + grads + AdamW m, v = {gib(16 * n)} GiB |"
        )
    print(
        f"| Image {IMG_W}x{IMG_H}, smart_resize (min {MIN_PIXELS}, max {MAX_PIXELS}) | "
        f"{rw}x{rh}, grid 1x{gh}x{gw} = {patches} patches, {img_tokens} merged tokens |"
    )
    print(
        f"| Vision windows ({WINDOW} px = {win}x{win} merged = {win * MERGE}x{win * MERGE} patches) | "
        f"{windows} windows of <= {(win * MERGE) ** 2} patches; blocks {'/'.join(map(str, FULLATT))} "
        f"attend over all {patches} |"
    )
    print(f"| Prompt P = image tokens + ~{TEXT_TOKENS} text tokens | {P} |")
    print(f"| Sequence T = P + {NEW}; G x T tokens per log-prob forward | {T}; {N} |")
    print(f"| KV cache per token, 2 x {LAYERS} x {KV_HEADS} x {HEAD_DIM} | "
          f"{kv_tok * 4 // 1024} KiB f32, {kv_tok * 2 // 1024} KiB bf16 |")
    print()

    # The three configurations: (a) reticle today; (b) the one that fits; (b) + SDPA.
    configs = [
        ("(a) reticle today", dict(w=4, act=4, ckpt=False, eager=True, chunk=False, shared=False)),
        ("(b) eager attention", dict(w=2, act=2, ckpt=True, eager=True, chunk=True, shared=True)),
        ("(b) with SDPA", dict(w=2, act=2, ckpt=True, eager=False, chunk=True, shared=True)),
    ]

    def peak(t):
        base = t["weights"] + t["lora"] + t["context"]
        phases = (
            t["vision"] + t["kv"] + t["prefill_logits"],  # sampling
            t["nograd"],  # old-policy / reference log-probs
            t["acts"] + t["work"] + t["logits"],  # training forward / backward
        )
        return base, phases

    def terms(c):
        t = {}
        w, a = c["w"], c["act"]
        # f32 softmax output (reticle: softmax(.., Float)), plus its cast when activations are 16-bit.
        probs_b = 4 + (a if a != 4 else 0)
        t["weights"] = p_all * w
        t["lora"] = 16 * lora_params(16)
        t["context"] = CUDA_CONTEXT
        # Sampling: vision tower (no grad), prompt prefill, KV cache, prefill logits.
        vis_work = patches * (6 * V_HIDDEN + 4 * V_INTER) * a
        # Eager full attention: two [heads, n, n] score tensors alive at a time, the
        # softmax's in f32 (reticle: softmax(.., Float)).
        vis_attn = V_HEADS * patches**2 * (4 + a) if c["eager"] else 0
        t["vision"] = vis_work + vis_attn
        cache_rows = (P + G * NEW) if c["shared"] else G * T
        t["kv"] = cache_rows * kv_tok * a
        t["prefill_logits"] = (P if not c["chunk"] else 1) * VOCAB * 4
        # Decoder activations saved for backward, per token and layer: 8h + 4I elements
        # (layer input, normed input, roped q, repeated k and v, attention output; MLP input,
        # normed input, gate, silu(gate), up, product), plus the eager softmax heads x T.
        per_tok = (8 * H + 4 * INTER) * a + (HEADS * T * probs_b if c["eager"] else 0)
        layer = N * per_tok
        if c["ckpt"]:
            t["acts"] = LAYERS * N * H * a + layer  # layer inputs + one layer recomputed
        else:
            t["acts"] = LAYERS * layer
        t["work"] = layer  # backward working set ~ one layer's activations again
        # Log-probs: logits, log_softmax output and its gradient in f32 (3 copies at peak).
        rows = LOGIT_CHUNK if c["chunk"] else NC
        t["logits"] = 3 * rows * VOCAB * 4
        # No-grad forward (old policy, reference): one layer's tensors + two score tensors
        # (one f32) + logits and log-softmax.
        t["nograd"] = N * (8 * H + 4 * INTER) * a + (
            G * HEADS * T * T * (4 + a) if c["eager"] else 0
        ) + 2 * rows * VOCAB * 4
        return t

    rows = [
        ("Weights (text + vision)", "params x bytes", "weights"),
        ("LoRA r16: weights, grads, AdamW m, v (f32)", "16 B x LoRA params", "lora"),
        ("CUDA context (assumed)", "fixed", "context"),
        ("Sampling: vision tower, transient", "patches x (6d + 4I) + eager full-attn scores",
         "vision"),
        ("Sampling: KV cache at the end", "copied: G x T; shared: P + G x 256 rows", "kv"),
        ("Sampling: prefill logits", "P x vocab x 4 (all prompt rows) or last row", "prefill_logits"),
        ("Training: decoder activations kept", "no ckpt: L x N x per-token; ckpt: L x N x h + 1 layer",
         "acts"),
        ("Training: backward working set", "~ one layer's activations", "work"),
        ("Training: logits, log-softmax, grad (f32)", "3 x rows x vocab x 4", "logits"),
        ("Old-policy / reference log-probs (no grad)", "one layer + eager scores + logits", "nograd"),
    ]
    ts = [terms(c) for _, c in configs]
    print("Terms (GiB)")
    print()
    print("| Term | Estimate | " + " | ".join(n for n, _ in configs) + " |")
    print("|---|---|" + "---|" * len(configs))
    for label, formula, key in rows:
        print(f"| {label} | {formula} | " + " | ".join(gib(t[key]) for t in ts) + " |")
    print()

    print("Peaks (GiB): persistent (weights, LoRA state, context) + the largest phase")
    print()
    print("| Phase | " + " | ".join(n for n, _ in configs) + " |")
    print("|---|" + "---|" * len(configs))
    peaks = [(b, *ph) for b, ph in map(peak, ts)]
    for i, name in enumerate(["Persistent", "+ sampling", "+ log-probs without grad",
                              "+ training forward / backward"]):
        vals = [p[0] if i == 0 else p[0] + p[i] for p in peaks]
        print(f"| {name} | " + " | ".join(gib(v) for v in vals) + " |")
    totals = [max(p[0] + x for x in p[1:]) for p in peaks]
    print("| **Peak** | " + " | ".join(f"**{gib(v)}**" for v in totals) + " |")
    print("| Fits 24 GiB? | " + " | ".join("yes" if v < GPU else "no" for v in totals) + " |")
    print()
    b = configs[1][1]
    print("(b) with one of its changes left out (GiB)")
    print()
    print("| Left out | Peak | Fits 24 GiB? |")
    print("|---|---|---|")
    for label, change in [
        ("bf16 weights (f32 weights and activations, as today)", dict(w=4, act=4)),
        ("gradient checkpointing", dict(ckpt=False)),
        ("chunked logits (unchunked f32 completion rows, as today)", dict(chunk=False)),
        ("shared prompt cache (copied G times)", dict(shared=False)),
    ]:
        base, phases = peak(terms({**b, **change}))
        v = base + max(phases)
        print(f"| {label} | {gib(v)} | {'yes' if v < GPU else 'no'} |")
    print()
    full = G * T * VOCAB * 4
    print(f"For reference: logits over all G x T positions in f32 would be {gib(full)} GiB per copy; "
          f"LoRA rank 64 adds {gib(16 * (lora_params(64) - lora_params(16)))} GiB to every column.")


if __name__ == "__main__":
    main()
