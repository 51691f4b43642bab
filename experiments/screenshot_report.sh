#!/usr/bin/env bash
# Screenshots of a ganzoo report.html as a browser shows it at 1280 px (headless Chromium).
#
#   experiments/screenshot_report.sh REPORT.html OUT_PREFIX [HEIGHT]
#
# writes OUT_PREFIX-top.png (the first HEIGHT px, default 2000: answer, leaderboard, caption
# accuracy) and OUT_PREFIX-full.png (FULL_HEIGHT px, default 9000: the curves further down).
# Needs Debian's chromium:  apt-get install -y chromium
set -euo pipefail
report=$(realpath "$1")
prefix=$2
height=${3:-2000}
browser=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$browser" ]; then
  echo "no chromium found: apt-get install -y chromium" >&2
  exit 2
fi
mkdir -p "$(dirname "$prefix")"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --disable-dev-shm-usage)
"$browser" "${flags[@]}" --window-size=1280,"$height" --screenshot="$prefix-top.png" "file://$report" 2>/dev/null
# the whole page: a report is mostly embedded images; a generous fixed height covers every section
"$browser" "${flags[@]}" --window-size=1280,"${FULL_HEIGHT:-9000}" --screenshot="$prefix-full.png" "file://$report" 2>/dev/null
echo "$prefix-top.png"
echo "$prefix-full.png"
