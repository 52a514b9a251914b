# Sourced by the project's scripts: where the set-up cache lives and how builds find it.
# Safe to source from a user's shell too: `source scripts/env.sh`.
export RETICLE_CACHE=${RETICLE_CACHE:-$HOME/.cache/reticle}
export RETICLE_ORT_VERSION=1.24.4
export RETICLE_ORT_DYLIB=${RETICLE_ORT_DYLIB:-$RETICLE_CACHE/onnxruntime-$RETICLE_ORT_VERSION/libonnxruntime.so}
export RETICLE_TORCH_VERSION=2.11.0
export RETICLE_TORCH_VENV=$RETICLE_CACHE/torch-$RETICLE_TORCH_VERSION
export RETICLE_TOOLS_VENV=$RETICLE_CACHE/tools-venv
# torch-sys reads LIBTORCH at build time; the trainer's build script bakes an rpath to it,
# so built binaries find libtorch without LD_LIBRARY_PATH.
if [ -d "$RETICLE_TORCH_VENV" ]; then
  _site=$(ls -d "$RETICLE_TORCH_VENV"/lib/python3*/site-packages 2>/dev/null | head -n1)
  export LIBTORCH=$_site/torch
  export LIBTORCH_BYPASS_VERSION_CHECK=${LIBTORCH_BYPASS_VERSION_CHECK:-0}
  unset _site
fi
export PATH=$RETICLE_CACHE/cargo-tools/bin:$PATH
# The OCR graphs of the perception stage (scripts/setup.sh runtime extracts them from the
# rapidocr wheel); the runtime finds them here by file name and checks their SHA-256.
export RETICLE_RAPIDOCR_VERSION=3.10.0
export RETICLE_OCR_DIR=${RETICLE_OCR_DIR:-$RETICLE_CACHE/ocr/rapidocr-$RETICLE_RAPIDOCR_VERSION}
declare -A RETICLE_OCR_SHA256=(
  [PP-OCRv6_det_small.onnx]=090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f
  [PP-OCRv6_rec_small.onnx]=6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884
)
