#!/usr/bin/env bash
# Sourced by the scripts that render HTML with a real browser (make_real_screens.sh, web_screens.sh):
# installs, idempotently, Debian's chromium with the fonts the pages use and playwright-core
# (npm, pinned) into $RETICLE_CACHE/node/chromium — never into the repo — and sets
#   PLAYWRIGHT_CORE   the playwright-core package folder the node scripts import.
# Needs scripts/env.sh sourced first. Extra Debian packages: CHROMIUM_EXTRA_PKGS="a b c".
PLAYWRIGHT_CORE_VERSION=1.65.1

chromium_sudo=""
[ "$(id -u)" = 0 ] || chromium_sudo="sudo"
chromium_pkgs=(chromium fonts-dejavu-core fonts-liberation2 fonts-noto-core ${CHROMIUM_EXTRA_PKGS:-})
chromium_missing=()
for p in "${chromium_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || chromium_missing+=("$p")
done
if [ ${#chromium_missing[@]} -gt 0 ]; then
  echo "[chromium] installing Debian packages: ${chromium_missing[*]}" >&2
  $chromium_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $chromium_sudo apt-get install -y -qq --no-install-recommends "${chromium_missing[@]}" >/dev/null
fi

chromium_node_dir=$RETICLE_CACHE/node/chromium
PLAYWRIGHT_CORE=$chromium_node_dir/node_modules/playwright-core
if [ "$(node -p "try{require('$PLAYWRIGHT_CORE/package.json').version}catch(e){''}" 2>/dev/null)" != "$PLAYWRIGHT_CORE_VERSION" ]; then
  echo "[chromium] installing playwright-core@$PLAYWRIGHT_CORE_VERSION into $chromium_node_dir" >&2
  mkdir -p "$chromium_node_dir"
  npm install --prefix "$chromium_node_dir" --no-audit --no-fund --silent "playwright-core@$PLAYWRIGHT_CORE_VERSION"
fi
export PLAYWRIGHT_CORE
