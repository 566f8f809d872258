#!/usr/bin/env bash
# Checks the OpenAPI document the binary serves with third-party tools
# (npm packages pinned in tools/api/package-lock.json; make ci-deps
# installs them):
#   lint  Spectral (spectral:oas + OWASP ruleset, tools/api/.spectral.yaml):
#         fails on any error or warning.
#   ts    openapi-typescript types from the document, the README's API tour
#         in openapi-fetch (tools/api/tour.ts) type-checked by tsc --strict,
#         then run by node against a real server on 127.0.0.1.
#   scripts/check-api.sh [lint|ts|all]   (default all)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
cd "$root"
work=$(mktemp -d)
server=""
cleanup() {
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
[ -d tools/api/node_modules ] || { echo "tools/api/node_modules is missing: run make ci-deps"; exit 1; }
npx() { (cd tools/api && command npx --no-install "$@"); }

go build -o "$work/fireflow" ./cmd/fireflow
"$work/fireflow" openapi > "$work/openapi.json"

if [ "$what" = lint ] || [ "$what" = all ]; then
  echo "==> spectral lint"
  npx spectral lint -r .spectral.yaml -F hint "$work/openapi.json"
fi

if [ "$what" = ts ] || [ "$what" = all ]; then
  echo "==> openapi-typescript, tsc --strict"
  # Defaults do not make a request field required.
  npx openapi-typescript "$work/openapi.json" --default-non-nullable=false -o schema.d.ts
  npx tsc -p tsconfig.json
  echo "==> the API tour in node against a real server"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  FIREFLOW_JWT_SECRET=$secret FIREFLOW_DATABASE_URL="sqlite:$work/fireflow.db" FIREFLOW_ENV=development \
    "$work/fireflow" serve --addr "127.0.0.1:$port" > "$work/server.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    "$work/fireflow" healthcheck --addr "127.0.0.1:$port" --timeout 1s >/dev/null 2>&1 && break
    sleep 0.1
  done
  token=$(FIREFLOW_JWT_SECRET=$secret "$work/fireflow" token --sub ts-tour --role editor --ttl 10m)
  if ! (cd tools/api && FIREFLOW_URL="http://127.0.0.1:$port" FIREFLOW_TOKEN=$token node build/tour.js); then
    echo "server log:"; tail -20 "$work/server.log"; exit 1
  fi
fi
