"""The `transformers` side of the Qwen tch parity tests (trainer/tests/qwen).

Builds tiny random-weight Qwen2-VL / Qwen2.5-VL checkpoints from config dicts (nothing is
downloaded), saves them as users have them (`save_pretrained`: config, safetensors, sharded on
request, tokenizer with the chat template, processor config), runs the processor steps and the
model (eager attention, fp32) on one image and one chat prompt, and writes the logits and the
greedy continuation for the Rust side to compare.

    python transformers_peer.py JOB.json RESULT.json

Job: {"max_new_tokens": N, "checkpoints": [{"model_type", "dir", "image" (PNG), "instruction",
"tie_word_embeddings", "max_shard_size" (or null), "seed", and raw f32 output paths
"logits_out", "features_out" (the vision tower's merged features), "pixel_values_out"}]}
"""

import json
import sys

import numpy as np
import torch
from PIL import Image
from tokenizers import Tokenizer, pre_tokenizers
from tokenizers.models import WordLevel
from transformers import (
    PreTrainedTokenizerFast,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2VLConfig,
    Qwen2VLForConditionalGeneration,
)
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import Qwen2VLImageProcessorPil

# The Qwen2-VL / Qwen2.5-VL Instruct chat template, as published.
CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}"
    "<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}"
    "{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture "
    "{{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video "
    "{{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
           "<|image_pad|>", "<|video_pad|>"]
WORDS = ["[UNK]", "system", "user", "assistant", "You", "are", "a", "helpful", ".", "click",
         "the", "blue", "button", "(", ")", ",", "ok", "cancel", "save", "file"]
VOCAB_SIZE = 96


def tokenizer_object():
    vocab = {w: i for i, w in enumerate(WORDS)}
    tk = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tk.add_special_tokens(SPECIAL)  # ids from len(WORDS) on
    return tk


def tiny_config(model_type, tie, ids):
    text = {
        "hidden_size": 64, "intermediate_size": 112, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-6,
        "vocab_size": VOCAB_SIZE, "max_position_embeddings": 1024,
        "rope_parameters": {"rope_type": "default", "mrope_section": [2, 3, 3], "rope_theta": 10000.0},
    }
    common = dict(
        text_config=text, tie_word_embeddings=tie, attn_implementation="eager",
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        eos_token_id=ids["<|im_end|>"],
    )
    if model_type == "qwen2_vl":
        vision = {"depth": 2, "embed_dim": 32, "hidden_size": 64, "num_heads": 2, "mlp_ratio": 2,
                  "hidden_act": "quick_gelu", "patch_size": 14, "spatial_merge_size": 2,
                  "temporal_patch_size": 2, "in_channels": 3}
        return Qwen2VLConfig(vision_config=vision, **common), Qwen2VLForConditionalGeneration
    vision = {"depth": 3, "hidden_size": 32, "intermediate_size": 48, "num_heads": 2,
              "out_hidden_size": 64, "window_size": 56, "fullatt_block_indexes": [1],
              "hidden_act": "silu", "patch_size": 14, "spatial_merge_size": 2,
              "temporal_patch_size": 2, "in_channels": 3}
    return Qwen2_5_VLConfig(vision_config=vision, **common), Qwen2_5_VLForConditionalGeneration


def randomise(model, seed):
    """Every weight random, norms around 1 and biases non-zero, so every term is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "norm" in name or "ln_q" in name:
                p.copy_(1.0 + 0.1 * noise if name.endswith("weight") else 0.1 * noise)
            elif name.endswith("bias"):
                p.copy_(0.05 * noise)
            else:
                p.copy_(0.08 * noise)


def run_checkpoint(job, max_new_tokens):
    tk = tokenizer_object()
    ids = {t: tk.token_to_id(t) for t in SPECIAL}
    config, cls = tiny_config(job["model_type"], job["tie_word_embeddings"], ids)
    torch.manual_seed(job["seed"])
    model = cls(config).eval()
    randomise(model, job["seed"])
    model.generation_config.eos_token_id = None  # always max_new_tokens new tokens
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    kwargs = {"max_shard_size": job["max_shard_size"]} if job["max_shard_size"] else {}
    model.save_pretrained(job["dir"], **kwargs)

    # Qwen2VLProcessor wants a video processor (torchvision); for one image its steps are
    # these: the chat template, the image processor, `<|image_pad|>` repeated once per merged
    # patch, the tokenizer, and `mm_token_type_ids` marking the image tokens.
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tk, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="[UNK]",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(job["dir"])
    image_processor = Qwen2VLImageProcessorPil(min_pixels=3136, max_pixels=200704)
    image_processor.save_pretrained(job["dir"])

    image = Image.open(job["image"]).convert("RGB")
    messages = [{"role": "user", "content": [{"type": "image"},
                                             {"type": "text", "text": job["instruction"]}]}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    vision = image_processor(images=[image], return_tensors="pt")
    n_image_tokens = int(vision["image_grid_thw"][0].prod()) // image_processor.merge_size**2
    text = prompt.replace("<|image_pad|>", "<|image_pad|>" * n_image_tokens)
    input_ids = torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])
    inputs = {
        "input_ids": input_ids,
        "attention_mask": torch.ones_like(input_ids),
        "mm_token_type_ids": (input_ids == ids["<|image_pad|>"]).int(),
        "pixel_values": vision["pixel_values"],
        "image_grid_thw": vision["image_grid_thw"],
    }
    with torch.no_grad():
        logits = model(**inputs).logits[0]
        features = model.model.get_image_features(
            inputs["pixel_values"], inputs["image_grid_thw"]
        ).pooler_output
        features = torch.cat(list(features), dim=0)
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             output_logits=True, return_dict_in_generate=True)
    new_tokens = out.sequences[0, input_ids.shape[1]:].tolist()
    margins = []
    for step in out.logits:
        top = torch.topk(step[0].float(), 2).values
        margins.append(float(top[0] - top[1]))
    np.ascontiguousarray(logits.numpy(), dtype="<f4").tofile(job["logits_out"])
    np.ascontiguousarray(features.numpy(), dtype="<f4").tofile(job["features_out"])
    np.ascontiguousarray(inputs["pixel_values"].numpy(), dtype="<f4").tofile(job["pixel_values_out"])
    return {
        "prompt": prompt,
        "input_ids": input_ids[0].tolist(),
        "image_grid_thw": inputs["image_grid_thw"].tolist(),
        "pixel_values_shape": list(inputs["pixel_values"].shape),
        "logits_shape": list(logits.shape),
        "features_shape": list(features.shape),
        "generated": new_tokens,
        "top2_margins": margins,
        "tensors": sorted(model.state_dict().keys()),
    }


def main():
    job_path, result_path = sys.argv[1], sys.argv[2]
    with open(job_path) as f:
        job = json.load(f)
    torch.set_num_threads(1)
    result = {"checkpoints": [run_checkpoint(c, job["max_new_tokens"]) for c in job["checkpoints"]]}
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
