#!/usr/bin/env bash
# Training (and held-out) crops for the perception stage's icon reader: sheets of icons from 14
# npm icon sets rendered by a real browser (scripts/recipes/pointer/icons). Installs chromium,
# playwright-core and the icon sets first.
#
#   scripts/icon_sheets.sh --n SHEETS --seed SEED --out DIR [--sets held-out|train|all]
#
# 300 cells per sheet, about 1 s per sheet on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
source scripts/chromium.sh
source scripts/icon_sets.sh
exec node scripts/recipes/pointer/icons/gen.mjs "$@"
