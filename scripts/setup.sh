#!/usr/bin/env bash
# One-command, idempotent set-up for reticle on a fresh Debian machine.
#
#   scripts/setup.sh runtime   # what running models needs: ONNX Runtime, the OCR graphs, X11/xcap packages
#   scripts/setup.sh all       # runtime + libtorch 2.11 (for the trainer) + test tools
#
# Downloads land in a cache outside the checkout ($RETICLE_CACHE, default ~/.cache/reticle),
# so a fresh clone reuses them and a second run does nothing. Each step leaves a stamp file.
set -euo pipefail

tier=${1:-all}
case "$tier" in runtime|all) ;; *) echo "usage: scripts/setup.sh [runtime|all]" >&2; exit 2 ;; esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=scripts/env.sh
source "$here/env.sh"
mkdir -p "$RETICLE_CACHE"

log() { printf '[setup] %s\n' "$*" >&2; }

# --- Debian packages: xcap builds its Wayland/PipeWire backends; Xvfb runs desktop tests. ---
# xfonts-base: X core fonts for xmessage (the real-dialog test). Without it Xvfb has only
# `fixed` and `6x13`, xmessage falls back to them, and PP-OCRv6 misses the OK button.
# nodejs: the web page generator's test (scripts/recipes/pointer/web).
apt_pkgs=(pkg-config libclang-dev libpipewire-0.3-dev libwayland-dev libgbm-dev libegl-dev
          libxcb1-dev libxcb-randr0-dev libxcb-shm0-dev xvfb x11-utils xfonts-base xdotool unzip nodejs)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- ONNX Runtime shared library, from the onnxruntime PyPI wheel (ort uses load-dynamic). ---
if [ ! -e "$RETICLE_ORT_DYLIB" ]; then
  log "fetching onnxruntime==$RETICLE_ORT_VERSION shared library"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: \
    --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
    --python-version 3.11 -d "$tmp" "onnxruntime==$RETICLE_ORT_VERSION"
  mkdir -p "$(dirname "$RETICLE_ORT_DYLIB")"
  (cd "$tmp" && unzip -q -o ./*.whl 'onnxruntime/capi/libonnxruntime.so*')
  lib=$(ls "$tmp"/onnxruntime/capi/libonnxruntime.so.* | head -n1)
  cp "$lib" "$RETICLE_ORT_DYLIB.tmp" && mv "$RETICLE_ORT_DYLIB.tmp" "$RETICLE_ORT_DYLIB"
  rm -rf "$tmp"
fi

# --- OCR graphs (PP-OCRv6 small detection + recognition, Apache-2.0) from the rapidocr wheel. ---
# Only the two graphs and the licence files are extracted; the wheel is not installed. The
# SHA-256s are the ones the wheel's MODEL_LICENSES.md records; the runtime checks them again.
ocr_ok=1
for f in "${!RETICLE_OCR_SHA256[@]}"; do
  [ -e "$RETICLE_OCR_DIR/$f" ] || ocr_ok=0
done
if [ "$ocr_ok" = 0 ]; then
  log "fetching rapidocr==$RETICLE_RAPIDOCR_VERSION (PP-OCRv6 small OCR graphs)"
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "rapidocr==$RETICLE_RAPIDOCR_VERSION"
  (cd "$tmp" && unzip -q -o ./*.whl 'rapidocr/models/PP-OCRv6_*' 'rapidocr-*.dist-info/licenses/*')
  mkdir -p "$RETICLE_OCR_DIR"
  for f in "${!RETICLE_OCR_SHA256[@]}"; do
    got=$(sha256sum "$tmp/rapidocr/models/$f" | cut -d' ' -f1)
    if [ "$got" != "${RETICLE_OCR_SHA256[$f]}" ]; then
      echo "setup: $f from rapidocr==$RETICLE_RAPIDOCR_VERSION has SHA-256 $got, expected ${RETICLE_OCR_SHA256[$f]}" >&2
      rm -rf "$tmp"; exit 1
    fi
  done
  cp "$tmp"/rapidocr-*.dist-info/licenses/* "$RETICLE_OCR_DIR/"
  for f in "${!RETICLE_OCR_SHA256[@]}"; do
    cp "$tmp/rapidocr/models/$f" "$RETICLE_OCR_DIR/$f.tmp" && mv "$RETICLE_OCR_DIR/$f.tmp" "$RETICLE_OCR_DIR/$f"
  done
  rm -rf "$tmp"
fi

[ "$tier" = runtime ] && { log "runtime set-up complete ($RETICLE_CACHE)"; exit 0; }

# --- libtorch 2.11 for tch 0.24, from the torch PyPI wheel, in a venv inside the cache. ---
if [ ! -e "$RETICLE_TORCH_VENV/.reticle-ok" ]; then
  log "installing torch==$RETICLE_TORCH_VERSION into $RETICLE_TORCH_VENV (about 2.7 GB, a few minutes)"
  rm -rf "$RETICLE_TORCH_VENV"
  python3 -m venv "$RETICLE_TORCH_VENV"
  "$RETICLE_TORCH_VENV/bin/pip" install -q --disable-pip-version-check "torch==$RETICLE_TORCH_VERSION"
  touch "$RETICLE_TORCH_VENV/.reticle-ok"
fi
# transformers beside torch: the peer of the tch Qwen model's parity tests (trainer/tests/qwen).
if [ ! -e "$RETICLE_TORCH_VENV/.reticle-transformers-5.24.0" ]; then
  log "installing transformers==5.24.0 into $RETICLE_TORCH_VENV"
  "$RETICLE_TORCH_VENV/bin/pip" install -q --disable-pip-version-check \
    "transformers==5.24.0" "numpy<3" "pillow>=10"
  touch "$RETICLE_TORCH_VENV/.reticle-transformers-5.24.0"
fi

# --- Test tools: Python onnx/onnxruntime for checker and peer benchmarks, cargo-fuzz. ---
# transformers (no torch: the image processor's PIL backend, tokenizers, chat templates) is the
# peer of the Qwen checkpoint parity tests in models/tests/qwen.
if [ ! -e "$RETICLE_TOOLS_VENV/.reticle-ok" ] || ! [ -d "$(ls -d "$RETICLE_TOOLS_VENV"/lib/python3*/site-packages/rapidocr 2>/dev/null | head -n1)" ] \
  || ! [ -d "$(ls -d "$RETICLE_TOOLS_VENV"/lib/python3*/site-packages/transformers 2>/dev/null | head -n1)" ]; then
  log "installing Python test tools into $RETICLE_TOOLS_VENV"
  rm -rf "$RETICLE_TOOLS_VENV"
  python3 -m venv "$RETICLE_TOOLS_VENV"
  "$RETICLE_TOOLS_VENV/bin/pip" install -q --disable-pip-version-check \
    "onnx==1.20.0" "onnxruntime==$RETICLE_ORT_VERSION" "numpy<3" "pillow>=10" \
    "rapidocr==$RETICLE_RAPIDOCR_VERSION" "transformers==5.24.0" "jinja2>=3.1"
  touch "$RETICLE_TOOLS_VENV/.reticle-ok"
fi
if ! [ -x "$RETICLE_CACHE/cargo-tools/bin/cargo-fuzz" ]; then
  log "installing cargo-fuzz into $RETICLE_CACHE/cargo-tools"
  cargo install -q --locked --root "$RETICLE_CACHE/cargo-tools" cargo-fuzz@0.13.1
fi
log "set-up complete ($RETICLE_CACHE)"
