#!/usr/bin/env bash
# Reordering under contention on PostgreSQL: two `fireflow serve`
# processes on one throwaway, durable cluster (scripts/bench/pgcluster),
# and scripts/bench/reorder's clients spread over both, inserting rules at
# random positions of one policy and moving its rules, every request
# bounded. Prints the latency percentiles and checks that both servers then
# list the same rules at positions 1..n.
#
# Everything listens on 127.0.0.1 only; the servers and the cluster stop on
# exit.
#
# Settings (environment): REORDER_CLIENTS=20, REORDER_REQUESTS=50 (per
# client), REORDER_RULES=100 (in the policy at the start), REORDER_KEEP=0.
set -euo pipefail
cd "$(dirname "$0")/.."

CLIENTS=${REORDER_CLIENTS:-20}
REQUESTS=${REORDER_REQUESTS:-50}
RULES=${REORDER_RULES:-100}
KEEP=${REORDER_KEEP:-0}
GO=${GO:-go}
SECRET=bench-reorder-secret-0123456789abcdef

BENCH=bench-reorder
# shellcheck source=scripts/benchlib.sh
source scripts/benchlib.sh

command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

bench_workdir

log "building fireflow, the cluster runner and the client into $WORK"
CGO_ENABLED=0 $GO build -trimpath -o "$WORK/fireflow" ./cmd/fireflow
$GO build -o "$WORK/reorder" ./scripts/bench/reorder

start_pgcluster
export FIREFLOW_ENV=production FIREFLOW_JWT_SECRET=$SECRET FIREFLOW_DATABASE_URL=$PG_URL FIREFLOW_LOG_LEVEL=warn
timeout 120 "$WORK/fireflow" migrate up >&2

BASES=()
for i in 1 2; do
  port=$(free_port); metrics=$(free_port)
  "$WORK/fireflow" serve --addr "127.0.0.1:$port" --metrics-addr "127.0.0.1:$metrics" >"$WORK/serve$i.log" 2>&1 &
  PIDS+=("$!")
  BASES+=("http://127.0.0.1:$port")
  ready=0
  for _ in $(seq 600); do
    if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/readyz" 2>/dev/null; then ready=1; break; fi
    kill -0 "${PIDS[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  [ "$ready" = 1 ] || die "server $i not ready: $(tail -n 20 "$WORK/serve$i.log")"
done
TOKEN=$("$WORK/fireflow" token --sub bench --role editor --ttl 1h)

log "$CLIENTS clients over two processes, $REQUESTS requests each, on a policy of $RULES rules"
timeout 600 "$WORK/reorder" -bases "$(IFS=,; echo "${BASES[*]}")" -token "$TOKEN" \
  -clients "$CLIENTS" -requests "$REQUESTS" -rules "$RULES"
