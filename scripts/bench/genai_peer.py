"""CPU decoding-speed peer: onnxruntime-genai running its own export of a Qwen checkpoint.

    python scripts/bench/genai_peer.py --checkpoint DIR --work DIR --prompt-tokens 64 --new-tokens 32

--checkpoint is either a Hugging Face checkpoint folder (config.json + safetensors + tokenizer)
or a folder already built by the genai model builder (it has genai_config.json). A checkpoint is
built once, with `python -m onnxruntime_genai.models.builder -p PRECISION -e cpu`, into
WORK/genai-PRECISION and reused on later runs. With --make-random {qwen2_5_vl,qwen2,qwen2_vl} a
random-weight checkpoint is first written to --checkpoint (if it has no config.json yet); nothing
is downloaded.

What is measured. The builder (onnxruntime-genai 0.18) exports only the *text decoder* of
Qwen2.5-VL (architecture Qwen2_5_VLForConditionalGeneration -> genai model type
"qwen2_5_vl_text": embeddings + decoder + LM head in one model.onnx with 3-row M-RoPE
position_ids and com.microsoft MRotaryEmbedding). It has no Qwen2VLForConditionalGeneration
entry; as the Qwen2-VL text decoder is the same network, such a checkpoint is relabelled as
Qwen2.5-VL (text weights only) before building, see relabel_qwen2_vl. No vision encoder is
exported, so the prompt here is text-only: --prompt-tokens fixed token ids.

Timing (one JSON line on stdout):
  ttft_ms       append_tokens(prompt) (the prefill) + the first generate_next_token (greedy pick),
  tokens_per_s  the remaining new_tokens - 1 generate_next_token calls (one decode step each),
best of --repeats runs after --warmup untimed runs. EOS is suppressed (min_length = max_length) so
every run produces exactly --new-tokens tokens.

Needs a Python with onnxruntime-genai, onnxruntime, onnx, onnx_ir, numpy, and (to build or to make a
random checkpoint) torch + transformers: e.g. $HOME/.cache/reticle/genai-venv (see its
zz_reticle_torch_venv.pth, which borrows torch/transformers from the reticle torch venv).
"""

import argparse
import json
import os
import subprocess
import sys
import time


def make_random_checkpoint(out, family, seed=0):
    """A random-weight checkpoint with small-but-real text shapes (hidden 512, 4 layers, 8 heads,
    2 KV heads, MLP 1536, the real Qwen vocab 151936) and a tiny WordLevel tokenizer (the builder
    copies a tokenizer into its output; token ids above the tokenizer's size are still fine)."""
    import torch
    import transformers as tf
    from tokenizers import Tokenizer, pre_tokenizers
    from tokenizers.models import WordLevel

    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
               "<|image_pad|>", "<|video_pad|>"]
    words = ["[UNK]", "system", "user", "assistant", "click", "the", "blue", "button"]
    tk = Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.add_special_tokens(special)
    ids = {t: tk.token_to_id(t) for t in special}

    text = dict(hidden_size=512, intermediate_size=1536, num_hidden_layers=4, num_attention_heads=8,
                num_key_value_heads=2, rms_norm_eps=1e-6, vocab_size=151936,
                max_position_embeddings=4096, tie_word_embeddings=True)
    rope = {"rope_type": "default", "rope_theta": 1000000.0}
    special_ids = dict(eos_token_id=ids["<|im_end|>"], bos_token_id=ids["<|endoftext|>"],
                       pad_token_id=ids["<|endoftext|>"])
    if family == "qwen2":
        config = tf.Qwen2Config(**text, rope_parameters=rope, **special_ids)
        cls = tf.Qwen2ForCausalLM
    else:
        # head_dim 64 -> mrope_section sums to 32 (the real checkpoints, head_dim 128: [16, 24, 24]).
        text["rope_parameters"] = dict(rope, mrope_section=[8, 12, 12])
        vl_ids = dict(image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
                      vision_start_token_id=ids["<|vision_start|>"],
                      vision_end_token_id=ids["<|vision_end|>"], **special_ids)
        common = dict(patch_size=14, spatial_merge_size=2, temporal_patch_size=2, in_channels=3)
        if family == "qwen2_vl":
            vision = dict(depth=2, embed_dim=128, hidden_size=512, num_heads=2, mlp_ratio=2,
                          hidden_act="quick_gelu", **common)
            config, cls = tf.Qwen2VLConfig, tf.Qwen2VLForConditionalGeneration
        else:
            vision = dict(depth=2, hidden_size=128, intermediate_size=256, num_heads=2,
                          out_hidden_size=512, window_size=112, fullatt_block_indexes=[1],
                          hidden_act="silu", **common)
            config, cls = tf.Qwen2_5_VLConfig, tf.Qwen2_5_VLForConditionalGeneration
        config = config(text_config=text, vision_config=vision, tie_word_embeddings=True, **vl_ids)
    torch.manual_seed(seed)
    model = cls(config).eval()
    # Non-zero biases: the builder drops all-zero q/k/v biases (torch.count_nonzero check), and real
    # Qwen checkpoints have them, so leaving transformers' zero init would flatter the peer.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("bias"):
                p.normal_(0.0, 0.05)
    model.save_pretrained(out)
    tokenizer = tf.PreTrainedTokenizerFast(tokenizer_object=tk, eos_token="<|im_end|>",
                                           pad_token="<|endoftext|>", unk_token="[UNK]")
    # The published chat template and an image processor config, so that reticle can export
    # and run the same folder (`reticle-train export --checkpoint`); genai ignores them.
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "trainer", "tests", "qwen"))
    from transformers_peer import CHAT_TEMPLATE
    from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
        Qwen2VLImageProcessorPil,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)
    if family != "qwen2":
        Qwen2VLImageProcessorPil().save_pretrained(out)


def relabel_qwen2_vl(checkpoint, work):
    """The builder has no Qwen2VLForConditionalGeneration entry, but the Qwen2-VL text decoder is
    the Qwen2.5-VL one (Qwen2 + sectioned M-RoPE, same weight names). Write a copy labelled
    Qwen2_5_VLForConditionalGeneration with the text weights only (the vision tower is never
    exported; dropping it avoids shape clashes with the 2.5 vision config) and build that."""
    from safetensors.torch import load_file, save_file

    out = os.path.join(work, "qwen2_vl-as-qwen2_5_vl")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(checkpoint, "config.json")) as f:
        config = json.load(f)
    config["architectures"] = ["Qwen2_5_VLForConditionalGeneration"]
    config["model_type"] = "qwen2_5_vl"
    config["vision_config"] = {"model_type": "qwen2_5_vl", "depth": 1, "hidden_size": 32,
                               "intermediate_size": 48, "num_heads": 2,
                               "out_hidden_size": config["text_config"]["hidden_size"],
                               "fullatt_block_indexes": [0]}
    config["text_config"]["model_type"] = "qwen2_5_vl_text"
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=1)
    text = {}
    for name in sorted(os.listdir(checkpoint)):
        if name.endswith(".safetensors"):
            weights = load_file(os.path.join(checkpoint, name))
            text.update({k: v for k, v in weights.items() if "visual." not in k})
        elif name.startswith(("tokenizer", "generation_config", "special_tokens", "vocab", "merges")):
            with open(os.path.join(checkpoint, name), "rb") as src, open(os.path.join(out, name), "wb") as dst:
                dst.write(src.read())
    save_file(text, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    return out


def build(checkpoint, work, precision):
    """Run the genai model builder once; return the folder holding genai_config.json."""
    if os.path.exists(os.path.join(checkpoint, "genai_config.json")):
        return checkpoint  # already a genai folder
    out = os.path.join(work, f"genai-{precision}")
    with open(os.path.join(checkpoint, "config.json")) as f:
        arch = json.load(f)["architectures"][0]
    if arch == "Qwen2VLForConditionalGeneration" and not os.path.exists(os.path.join(out, "genai_config.json")):
        checkpoint = relabel_qwen2_vl(checkpoint, work)
    if not os.path.exists(os.path.join(out, "genai_config.json")):
        cmd = [sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", checkpoint,
               "-o", out, "-p", precision, "-e", "cpu", "-c", os.path.join(work, "builder-cache")]
        print("building:", " ".join(cmd), file=sys.stderr)
        # Builder progress goes to stderr so stdout keeps only the JSON line.
        subprocess.run(cmd, check=True, stdout=sys.stderr)
    return out


def one_run(og, model, prompt, new_tokens):
    params = og.GeneratorParams(model)
    total = len(prompt) + new_tokens
    # Greedy; min_length = max_length keeps EOS from ending the run early.
    params.set_search_options(do_sample=False, max_length=total, min_length=total)
    generator = og.Generator(model, params)
    t0 = time.perf_counter()
    generator.append_tokens(prompt)   # prefill: runs the decoder over the whole prompt
    generator.generate_next_token()   # greedy pick from the prefill logits = first new token
    t1 = time.perf_counter()
    for _ in range(new_tokens - 1):   # each call: one decoder step over the last token
        generator.generate_next_token()
    t2 = time.perf_counter()
    produced = generator.get_sequence(0)[len(prompt):]
    return t1 - t0, t2 - t1, [int(t) for t in produced]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", required=True, help="HF checkpoint folder or built genai folder")
    ap.add_argument("--work", required=True, help="where the genai build (and its cache) goes")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "int8", "int4"])
    ap.add_argument("--threads", type=int, default=0, help="intra-op threads (0: ORT default)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--make-random", choices=["qwen2_5_vl", "qwen2", "qwen2_vl"],
                    help="first write a random checkpoint to --checkpoint if it has no config.json")
    args = ap.parse_args()

    if args.make_random and not os.path.exists(os.path.join(args.checkpoint, "config.json")):
        make_random_checkpoint(args.checkpoint, args.make_random)
    folder = build(args.checkpoint, args.work, args.precision)

    import onnxruntime_genai as og

    config = og.Config(folder)
    config.clear_providers()  # CPU execution provider only
    if args.threads:
        config.overlay(json.dumps({"model": {"decoder": {"session_options": {
            "intra_op_num_threads": args.threads, "inter_op_num_threads": 1}}}}))
    model = og.Model(config)
    with open(os.path.join(folder, "genai_config.json")) as f:
        gcfg = json.load(f)["model"]

    # Fixed, tokenizer-independent prompt: spread-out ids well inside the vocabulary.
    # (The same ids as runtime/benches/qwen.rs and peer_qwen.py; above the special tokens.)
    prompt = [(100 + 7919 * i) % min(gcfg["vocab_size"], 151643) for i in range(args.prompt_tokens)]

    runs = [one_run(og, model, prompt, args.new_tokens) for _ in range(args.warmup + args.repeats)]
    runs = runs[args.warmup:]
    ttft = min(r[0] for r in runs)
    decode = min(r[1] for r in runs)
    print(json.dumps({
        "peer": "onnxruntime-genai",
        "version": og.__version__,
        "model_type": gcfg["type"],
        "precision": args.precision,
        "ttft_ms": round(ttft * 1e3, 2),
        "tokens_per_s": round((args.new_tokens - 1) / decode, 2) if args.new_tokens > 1 else None,
        "new_tokens": len(runs[0][2]),
        "prompt_tokens": len(prompt),
        "threads": args.threads or "default",
        "first_tokens": runs[0][2][:8],
    }))


if __name__ == "__main__":
    main()
