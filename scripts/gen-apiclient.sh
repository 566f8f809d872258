#!/usr/bin/env bash
# Regenerates internal/apiclient from the OpenAPI 3.0 document that the
# binary serves, with oapi-codegen pinned in tools/go.mod.
#   scripts/gen-apiclient.sh [OUTPUT_DIR]   (default: internal/apiclient)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/internal/apiclient}
doc=$(mktemp --suffix=.json)
trap 'rm -f "$doc"' EXIT
cd "$root"
go run ./cmd/fireflow openapi --version 3.0 > "$doc"
go tool -modfile=tools/go.mod oapi-codegen -config internal/apiclient/oapi-codegen.yaml -o "$out/client.gen.go" "$doc"
