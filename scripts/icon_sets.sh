#!/usr/bin/env bash
# Sourced by scripts that draw icons from the npm icon sets (icon_sheets.sh): installs them,
# idempotently and pinned, into $RETICLE_CACHE/node/icons — never into the repo — and sets
#   ICON_SETS   the node_modules folder holding them.
# Needs scripts/env.sh sourced first. All are MIT, ISC, Apache-2.0 or CC BY 4.0 / OFL licensed.
ICON_SET_PKGS=(lucide-static@1.62.0 @tabler/icons@3.52.0 bootstrap-icons@1.13.2 heroicons@2.2.0
  feather-icons@4.29.2 @mdi/svg@7.4.47 @primer/octicons@19.42.0 remixicon@4.9.1
  @phosphor-icons/core@2.1.1 @fortawesome/fontawesome-free@7.3.1 iconoir@7.12.1
  @material-design-icons/svg@0.14.15 boxicons@2.1.4 eva-icons@1.1.3)
icon_sets_dir=$RETICLE_CACHE/node/icons
ICON_SETS=$icon_sets_dir/node_modules
icon_sets_stamp=$icon_sets_dir/.installed
if [ "$(cat "$icon_sets_stamp" 2>/dev/null)" != "${ICON_SET_PKGS[*]}" ]; then
  echo "[icons] installing the icon sets into $icon_sets_dir: ${ICON_SET_PKGS[*]}" >&2
  mkdir -p "$icon_sets_dir"
  [ -f "$icon_sets_dir/package.json" ] || echo '{"private":true}' > "$icon_sets_dir/package.json"
  npm install --prefix "$icon_sets_dir" --no-audit --no-fund --silent --ignore-scripts "${ICON_SET_PKGS[@]}"
  echo "${ICON_SET_PKGS[*]}" > "$icon_sets_stamp"
fi
export ICON_SETS
