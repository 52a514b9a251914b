#!/usr/bin/env bash
# Qwen decoding speed on CPU: a random-weight Qwen2.5-VL checkpoint with small-but-real text
# shapes (hidden 512, 4 layers, 8 heads, 2 KV heads, the real 151,936-token vocabulary) made
# with transformers, exported by reticle (`reticle-train export --checkpoint`, f32 and
# `--quantize int4`), and decoded by
#   - reticle's runtime (Rust, ONNX Runtime 1.24), both packages,
#   - Python onnxruntime on reticle's graphs (runtime/benches/peer_qwen.py),
#   - onnxruntime-genai 0.18 on its own export of the same checkpoint (scripts/bench/genai_peer.py),
# in the same run: time to first token and tokens/s for a 64-token text prompt, and one
# 1280×800 screenshot end to end (reticle only: genai exports no vision encoder for this family).
#
#   scripts/bench_qwen.sh                      # 2 threads; the genai peer in fp32 and int4
#   PRECISIONS=fp32 scripts/bench_qwen.sh      # the genai peer in fp32 only (reticle is fp32)
#   THREADS=0 scripts/bench_qwen.sh            # ONNX Runtime's default threads
#
# The genai venv ($RETICLE_CACHE/genai-venv: onnxruntime-genai 0.18.0 with its own
# onnxruntime 1.32, torch/transformers borrowed from the torch venv) is made on first use.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh all >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh

work=${WORK:-$RETICLE_CACHE/bench-qwen}
threads=${THREADS:-2}
precisions=${PRECISIONS:-fp32 int4}
mkdir -p "$work"

genai=$RETICLE_CACHE/genai-venv
if [ ! -e "$genai/.reticle-genai-0.18.0" ]; then
  echo "[bench] making $genai (onnxruntime-genai 0.18.0)" >&2
  rm -rf "$genai"
  "$RETICLE_TORCH_VENV/bin/python" -m venv "$genai"
  "$genai/bin/pip" install -q --disable-pip-version-check \
    "onnxruntime-genai==0.18.0" onnx onnx_ir "numpy<3"
  site=$(ls -d "$genai"/lib/python3*/site-packages | head -n1)
  torch_site=$(ls -d "$RETICLE_TORCH_VENV"/lib/python3*/site-packages | head -n1)
  # The builder needs torch and transformers: borrow the torch venv's, appended after the
  # venv's own packages (so genai's onnxruntime 1.32 wins over nothing else).
  echo "$torch_site" > "$site/zz_reticle_torch_venv.pth"
  touch "$genai/.reticle-genai-0.18.0"
fi

peers=()
for precision in $precisions; do
  echo "[bench] onnxruntime-genai peer ($precision, $threads threads)" >&2
  "$genai/bin/python" scripts/bench/genai_peer.py --make-random qwen2_5_vl \
    --checkpoint "$work/ckpt" --work "$work" --prompt-tokens 64 --new-tokens 32 \
    --precision "$precision" --threads "$threads" --repeats 5 > "$work/genai-$precision.json"
  peers+=("$work/genai-$precision.json")
done

echo "[bench] exporting the checkpoint with reticle: f32, and int4 decoder weights" >&2
cargo run -q --release --locked -p reticle-trainer --bin reticle-train -- \
  export --checkpoint "$work/ckpt" --out "$work/f32" --force >&2
cargo run -q --release --locked -p reticle-trainer --bin reticle-train -- \
  export --checkpoint "$work/ckpt" --out "$work/int4" --force --quantize int4 >&2

export RETICLE_BENCH_PACKAGE=$work/f32:$work/int4
RETICLE_BENCH_PEERS=$(IFS=:; echo "${peers[*]}")
export RETICLE_BENCH_PEERS
export RETICLE_BENCH_THREADS=$threads RETICLE_BENCH_PROMPT_TOKENS=64 RETICLE_BENCH_NEW_TOKENS=32
cargo bench --locked -p reticle-runtime --bench qwen
