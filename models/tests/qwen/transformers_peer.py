"""The `transformers` side of the Qwen parity tests (models/tests/qwen).

Reads a job JSON written by the Rust test and writes a result JSON (plus raw float32
`pixel_values` files) next to it. Nothing is downloaded: the image processor is built from
config dicts, the tokenizer is a one-word stand-in carrying the chat template.

    python transformers_peer.py JOB.json RESULT.json

Job fields:
- `images`: [{"path": PNG, "config": {processor kwargs}, "out": raw f32 path}]
- `smart_resize`: {"sizes": [[h, w], ...], "bounds": [[min_pixels, max_pixels], ...], "factor": 28}
- `templates`: [{"template": str, "messages": [...], "add_generation_prompt": bool}]
- `safetensors`: {"path": file to write with the `safetensors` library}
"""

import json
import sys

import numpy as np
from PIL import Image

# The PIL backend: what `Qwen2VLImageProcessor` falls back to without torchvision, and the
# only backend of transformers 4.x.
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
    Qwen2VLImageProcessorPil,
    smart_resize,
)


def run_images(jobs):
    out = []
    for job in jobs:
        image = Image.open(job["path"]).convert("RGB")
        processor = Qwen2VLImageProcessorPil(**job["config"])
        result = processor(images=[image], return_tensors="np")
        pixel_values = np.ascontiguousarray(result["pixel_values"], dtype=np.float32)
        pixel_values.astype("<f4").tofile(job["out"])
        out.append(
            {
                "shape": list(pixel_values.shape),
                "image_grid_thw": result["image_grid_thw"].tolist(),
                "n_image_tokens": int(result["image_grid_thw"].prod()) // processor.merge_size**2,
            }
        )
    return out


def run_smart_resize(job):
    out = []
    for min_pixels, max_pixels in job["bounds"]:
        for h, w in job["sizes"]:
            try:
                out.append(list(smart_resize(h, w, job["factor"], min_pixels, max_pixels)))
            except ValueError:
                out.append(None)
    return out


def run_templates(jobs):
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(WordLevel({"[UNK]": 0}, unk_token="[UNK]"))
    )
    return [
        tokenizer.apply_chat_template(
            job["messages"],
            chat_template=job["template"],
            add_generation_prompt=job["add_generation_prompt"],
            tokenize=False,
        )
        for job in jobs
    ]


def write_safetensors(job):
    from safetensors.numpy import save_file

    tensors = {
        "model.embed_tokens.weight": np.zeros((7, 4), dtype=np.float16),
        "lm_head.weight": np.ones((7, 4), dtype=np.float32),
        "model.norm.weight": np.arange(4, dtype=np.float32),
    }
    save_file(tensors, job["path"], metadata={"format": "pt"})
    return {name: {"shape": list(t.shape), "dtype": str(t.dtype)} for name, t in tensors.items()}


def main():
    job_path, result_path = sys.argv[1], sys.argv[2]
    with open(job_path) as f:
        job = json.load(f)
    result = {
        "images": run_images(job.get("images", [])),
        "smart_resize": run_smart_resize(job["smart_resize"]) if "smart_resize" in job else [],
        "templates": run_templates(job.get("templates", [])),
        "safetensors": write_safetensors(job["safetensors"]) if "safetensors" in job else None,
    }
    with open(result_path, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
