#!/usr/bin/env bash
# Regenerates evalsets/real-screens: real screens that no generator of ours drew, for OCR recall
# and click accuracy. EVALUATION ONLY — never train on it.
#
#   scripts/make_real_screens.sh            # everything (about a minute on 2 cores)
#
# What it does, idempotently:
#   1. Debian packages (only the missing ones): chromium, fonts, Xvfb and X11 tools, zenity and
#      AT-SPI, ImageMagick, optipng.
#   2. playwright-core (npm, pinned) into $RETICLE_CACHE/node/real-screens — not into the repo.
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
sudo_cmd=""
[ "$(id -u)" = 0 ] || sudo_cmd="sudo"

PLAYWRIGHT_CORE_VERSION=1.65.1
SET=evalsets/real-screens

# --- 1. Debian packages ---
apt_pkgs=(chromium fonts-dejavu-core fonts-liberation2 fonts-noto-core
  xvfb x11-apps x11-utils x11-xserver-utils xdotool xfonts-base xfonts-75dpi xfonts-100dpi
  zenity dbus at-spi2-core python3-gi gir1.2-atspi-2.0 imagemagick optipng)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. playwright-core, in the cache ---
node_dir=$RETICLE_CACHE/node/real-screens
pw=$node_dir/node_modules/playwright-core
if [ "$(node -p "try{require('$pw/package.json').version}catch(e){''}" 2>/dev/null)" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  log "installing playwright-core@$PLAYWRIGHT_CORE_VERSION into $node_dir"
  mkdir -p "$node_dir"
  npm install --prefix "$node_dir" --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_CORE_VERSION"
fi

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
