#!/usr/bin/env bash
# Desktop agent latency: capture (xcap), ground (ONNX Runtime) and act (enigo move + click) on
# 1280×800 and 1920×1080 Xvfb screens showing `ui` suite screens, p50/p95 (agents/benches/desktop.rs).
#
#   scripts/bench_desktop.sh                                 # the committed fixture package
#   MODEL=models/default ITERS=50 scripts/bench_desktop.sh   # a real package, more iterations
#
# Needs Xvfb (scripts/setup.sh installs it). See docs/desktop.md ("Latency").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck source=scripts/env.sh
source scripts/env.sh
unset WAYLAND_DISPLAY XDG_SESSION_TYPE
if [ -n "${MODEL:-}" ]; then
  RETICLE_BENCH_MODEL=$(realpath "$MODEL")
  export RETICLE_BENCH_MODEL
fi
export RETICLE_BENCH_ITERS=${ITERS:-30}
cargo bench --locked -p reticle-agents --bench desktop
