#!/usr/bin/env bash
# Runs the whole test suite with the race detector and prints a summary.
#
#   scripts/test.sh [extra go test flags...]      (make test)
#   PKGS=./internal/engine/... scripts/test.sh     (make test PKGS=...)
#
# The full verbose log is kept in $TEST_LOG (default: a temp file); on failure
# the failing tests' output is printed. The last line has the form
# "tests: N passed, N failed, N skipped" (subtests included); before it, the
# skipped tests are named by package.
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
read -r -a pkgs <<<"${PKGS:-./...}"
log=${TEST_LOG:-$(mktemp -t fireflow-test.XXXXXX.log)}
export CGO_ENABLED=${CGO_ENABLED:-1} # -race needs cgo (and gcc)

echo "+ $GO test -race -count=1 -v${*:+ $*} ${pkgs[*]}   (log: $log)"
start=$(date +%s)
set +e
$GO test -race -count=1 -v "$@" "${pkgs[@]}" >"$log" 2>&1
status=$?
set -e
elapsed=$(( $(date +%s) - start ))

# Package lines as plain `go test` prints them.
grep -E '^(ok|FAIL|\?|---|panic:|# )' "$log" | grep -v -- '^--- PASS' | grep -v -- '^--- SKIP' || true

if [ "$status" -ne 0 ]; then
  echo
  echo "---- failures (verbose output, passing tests left out) ----"
  grep -v -E '^\s*(=== (RUN|PAUSE|CONT|NAME)|--- PASS|--- SKIP)' "$log" |
    grep -v -E '^(ok|\?) |^(PASS|FAIL)$|^coverage: ' || true
  echo "---- end of failures ----"
fi

passed=$(grep -c -E '^\s*--- PASS' "$log" || true)
failed=$(grep -c -E '^\s*--- FAIL' "$log" || true)
skipped=$(grep -c -E '^\s*--- SKIP' "$log" || true)
pkgs_ok=$(grep -c -E '^ok ' "$log" || true)
pkgs_fail=$(grep -c -E '^FAIL\s' "$log" || true)
pkgs_none=$(grep -c -E '^\? ' "$log" || true)

echo
echo "packages: $pkgs_ok ok, $pkgs_fail failed, $pkgs_none without tests; ${elapsed}s"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # Build failure, panic or vet failure: no --- FAIL line, count it anyway.
  failed=$(( pkgs_fail > 0 ? pkgs_fail : 1 ))
fi
if [ "$skipped" -gt 0 ]; then
  # Name what did not run, by package: a missing tool (PostgreSQL,
  # Chromium, promtool, root for the kernel tests) skips its tests, and
  # "all passed" must not hide it. `make ci-deps` installs the tools.
  echo
  echo "skipped (see the log for why; make ci-deps installs what they need):"
  awk '
    /^[ \t]*--- SKIP: / { names[++n] = $3; next }
    /^(ok|FAIL)[ \t]+[^ \t]+/ {
      for (i = 1; i <= n; i++) print $2 "\t" names[i]
      n = 0
    }' "$log" | head -n 50 | sed 's/^/  /' || true
  if [ "$skipped" -gt 50 ]; then echo "  ... and $(( skipped - 50 )) more"; fi
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$status" -eq 0 ] && [ -z "${TEST_LOG:-}" ]; then rm -f "$log"; fi
exit "$status"
