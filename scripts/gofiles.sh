#!/usr/bin/env bash
# Lists the Go source files of the repository (tracked or not, ignored ones
# excluded), for gofmt. Prints nothing when there are none.
set -euo pipefail
cd "$(dirname "$0")/.."
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files --cached --others --exclude-standard -- '*.go' | while read -r f; do
    [ -f "$f" ] && printf '%s\n' "$f"
  done
else
  find . -name '*.go' -not -path './.git/*' -not -path './vendor/*' | sed 's|^\./||'
fi
