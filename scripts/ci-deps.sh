#!/usr/bin/env bash
# Installs, with apt-get, the system packages that `make ci` needs and the
# machine lacks. apt-get update runs once, and only if something is missing.
# Used by .ci/run (before make exists for sure) and by `make ci-deps`.
# Add a "commands:package" pair when a step needs another binary; any one of
# the comma-separated commands on PATH counts as present.
set -euo pipefail

needed=(
  "make:make"
  "gcc:gcc"   # go test -race needs cgo
  "git:git"
  # Browser test of Swagger UI (internal/httpapi/browser_test.go fails
  # without one when CI=true); hosted runners ship google-chrome.
  "chromium,chromium-browser,google-chrome:chromium"
  # Real Prometheus and promtool (cmd/fireflow/prometheus_test.go).
  "promtool:prometheus"
  # The kernel as the judge of exports (internal/export/kernel_test.go).
  "nft:nftables"
  "iptables-restore:iptables"
  "ipset:ipset"   # iptables exports with address groups as ipsets
  "ip:iproute2"
  "sysctl:procps"
  # Spectral and the TypeScript API check (scripts/check-api.sh).
  "node,nodejs:nodejs"
  "npm:npm"
)
missing=()
for pair in "${needed[@]}"; do
  cmds=${pair%%:*} pkg=${pair#*:} found=""
  for cmd in ${cmds//,/ }; do
    command -v "$cmd" >/dev/null 2>&1 && found=$cmd && break
  done
  if [ -n "$found" ]; then
    echo "have $found"
  else
    echo "missing $cmds (package $pkg)"
    missing+=("$pkg")
  fi
done
# The PostgreSQL tests start throwaway clusters with initdb and pg_ctl
# (internal/pgtest); under CI=true they fail without them. Debian keeps them
# in /usr/lib/postgresql/*/bin, off PATH.
if command -v initdb >/dev/null 2>&1 || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
  echo "have initdb"
else
  echo "missing initdb (package postgresql)"
  missing+=("postgresql")
fi
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "+ apt-get install ${missing[*]}"
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi
# The npm packages of scripts/check-api.sh, exactly as tools/api's lockfile
# pins them; skipped when they are already installed from this lockfile.
api=$(cd "$(dirname "$0")/../tools/api" && pwd)
if ! cmp -s "$api/package-lock.json" "$api/node_modules/.installed-lock.json" 2>/dev/null; then
  echo "+ npm ci (tools/api)"
  (cd "$api" && npm ci --no-audit --no-fund && cp package-lock.json node_modules/.installed-lock.json)
else
  echo "have tools/api/node_modules"
fi
