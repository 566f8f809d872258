#!/usr/bin/env bash
# make test-deploy: checks the delivery artefacts with the strongest test
# that runs without a Docker engine or a cluster. The tests live in their
# own module, deploy/test, so that compose-go and buildkit stay out of the
# service's go.mod:
#   - the Helm chart: helm lint, helm template with four value sets, strict
#     offline kubeconform against schemas generated from k8s.io/kubernetes'
#     OpenAPI spec and prometheus-operator's ServiceMonitor CRD (both pinned,
#     fetched through the Go module proxy), and assertions on the manifests;
#   - the Compose stack, loaded and validated by compose-go;
#   - deploy/Dockerfile and .dockerignore, parsed by buildkit;
#   - the binary the Dockerfile builds, run as UID 10001 (needs root);
#   - make release-* on a temporary repository.
# helm, kubeconform and golangci-lint come from tools/go.mod (go tool).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
TOOLS=("$GO" tool -modfile="$PWD/tools/go.mod")
log=${TEST_LOG:-$(mktemp -t fireflow-test-deploy.XXXXXX.log)}
start=$(date +%s)

echo "+ build the pinned tools (first run on a machine: a few minutes)"
"${TOOLS[@]}" -n helm >/dev/null
"${TOOLS[@]}" -n kubeconform >/dev/null
echo "  tools ready in $(( $(date +%s) - start ))s"

cd deploy/test
echo "+ go vet and golangci-lint (deploy/test)"
"$GO" vet ./...
"${TOOLS[@]}" golangci-lint run ./...

echo "+ go test -count=1 -v ./...   (in deploy/test; log: $log)"
set +e
"$GO" test -count=1 -v ./... >"$log" 2>&1
status=$?
set -e

grep -E '^(ok|FAIL|---|panic:|# )' "$log" | grep -v -- '^--- PASS' || true
if [ "$status" -ne 0 ]; then
  echo
  echo "---- failures (verbose output, passing tests left out) ----"
  grep -v -E '^\s*(=== (RUN|PAUSE|CONT|NAME)|--- PASS)' "$log" | grep -v -E '^(ok|\?) |^(PASS|FAIL)$' || true
  echo "---- end of failures ----"
fi
passed=$(grep -c -E '^\s*--- PASS' "$log" || true)
failed=$(grep -c -E '^\s*--- FAIL' "$log" || true)
skipped=$(grep -c -E '^\s*--- SKIP' "$log" || true)
echo
echo "test-deploy: $passed passed, $failed failed, $skipped skipped; $(( $(date +%s) - start ))s"
exit "$status"
