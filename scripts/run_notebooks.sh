#!/usr/bin/env bash
# Executes every notebook headless (nbconvert) with the tiny model substituted, then checks that the
# quickstart's HTML export shows a drawn chart in headless Chromium. Needs scripts/setup_notebooks.sh
# and Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
export GOMLXGRPO_NOTEBOOK_MODEL=tiny PATH="$(go env GOPATH)/bin:$PATH"
status=0
for nb in notebooks/*.ipynb; do
  name=$(basename "$nb" .ipynb)
  start=$(date +%s)
  if (cd notebooks && jupyter nbconvert --to notebook --execute --ExecutePreprocessor.timeout=900 "$name.ipynb" --output "$out/$name.ipynb" >"$out/$name.log" 2>&1); then
    echo "notebook $name: ok ($(( $(date +%s) - start )) s)"
  else
    echo "notebook $name: FAILED"; grep -A5 -E "CellExecutionError|Error" "$out/$name.log" | tail -20; status=1
  fi
done
rm -rf notebooks/grpo-* # the runs' output folders
jupyter nbconvert --to html "$out/01_quickstart_tiny_cpu.ipynb" --output "$out/quickstart.html" >/dev/null 2>&1
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
  --disable-sync --no-first-run --user-data-dir="$(mktemp -d)" --virtual-time-budget=8000 \
  --screenshot="$out/quickstart.png" --window-size=1200,4000 "file://$out/quickstart.html" >/dev/null 2>&1 || true
go run ./scripts/chartcheck -min 300 "$out/quickstart.png" || status=1
exit $status
