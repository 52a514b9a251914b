#!/usr/bin/env bash
# Regenerates evalsets/real-screens: real screens that no generator of ours drew, for OCR recall
# and click accuracy. EVALUATION ONLY — never train on it.
#
#   scripts/make_real_screens.sh            # everything (about a minute on 2 cores)
#
# What it does, idempotently:
#   1. Debian packages (only the missing ones): chromium, fonts, Xvfb and X11 tools, zenity and
#      AT-SPI, ImageMagick, optipng.
#   2. playwright-core (npm, pinned) into $RETICLE_CACHE/node/chromium (scripts/chromium.sh) — not into the repo.
#   3. A Python with Pillow and numpy: the tools venv if it has them, else a small venv in the cache.
#   4. Renders evalsets/real-screens/pages/*.html with /usr/bin/chromium (tools/render.mjs, ground
#      truth from the DOM), runs xmessage and zenity under Xvfb (tools/x11.py), optimises the PNGs
#      (optipng, lossless, kept 8-bit RGB, metadata stripped so reruns give identical bytes) and writes the set
#      (tools/build.py). Everything is staged in $RETICLE_CACHE/real-screens-stage first; each
#      output file is written to a temporary name and renamed.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

log() { echo "[real-screens] $*" >&2; }

SET=evalsets/real-screens

# --- 1, 2. Debian packages (chromium, fonts, X11 tools) and playwright-core, in the cache ---
CHROMIUM_EXTRA_PKGS="xvfb x11-apps x11-utils x11-xserver-utils xdotool xfonts-base xfonts-75dpi
  xfonts-100dpi zenity dbus at-spi2-core python3-gi gir1.2-atspi-2.0 imagemagick optipng"
source scripts/chromium.sh
pw=$PLAYWRIGHT_CORE

# --- 3. Python with Pillow and numpy ---
py=$RETICLE_TOOLS_VENV/bin/python
if ! { [ -x "$py" ] && "$py" -c "import PIL, numpy" 2>/dev/null; }; then
  venv=$RETICLE_CACHE/real-screens-venv
  py=$venv/bin/python
  if ! { [ -x "$py" ] && "$py" -c "import PIL, numpy" 2>/dev/null; }; then
    log "creating $venv (Pillow, numpy)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "pillow>=10" "numpy<3"
  fi
fi

# --- 4. render, run, optimise, build ---
stage=$RETICLE_CACHE/real-screens-stage
rm -rf "$stage"
mkdir -p "$stage/images" "$stage/raw"
log "rendering $(ls "$SET"/pages/*.html | wc -l) pages with $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
PLAYWRIGHT_CORE=$pw node "$SET/tools/render.mjs" "$SET/pages" "$stage"
log "X11 programs under Xvfb"
"$py" "$SET/tools/x11.py" "$stage"
log "optimising PNGs"
printf '%s\0' "$stage"/images/*.png | xargs -0 -n 4 -P 2 optipng -quiet -o2 -strip all -nb -nc -np
"$py" "$SET/tools/build.py" "$stage" "$SET"
log "done: $SET ($(du -sh "$SET/images" | cut -f1) of images)"
