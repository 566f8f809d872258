#!/usr/bin/env bash
# Store benchmark (part of make bench): FireFlow on SQLite next to FireFlow
# on PostgreSQL.
#
# Starts a throwaway, durable PostgreSQL cluster on 127.0.0.1
# (scripts/bench/pgcluster: initdb into a temp dir, as the postgres user when
# run as root, fsync on), and two `fireflow serve` instances on loopback, one
# on a fresh SQLite file and one on the cluster. Seeds both alike
# (scripts/bench/seed) and measures with vegeta (tools/go.mod), rounds
# alternating between the stores so that load from elsewhere on the machine
# hits both alike:
#   GET /api/v1/firewalls/{id} over random ids;
#   GET .../rules?page_size=50;
#   POST .../rules, spread over BENCH_CREATE_POLICIES policies in as many
#   firewalls (rule creation takes the firewall's lock).
# scripts/bench/stores prints the comparison and checks the targets:
# PostgreSQL GET-by-id >= 60 % of SQLite's, rule creation >= 1,000/s.
#
# Everything listens on and targets 127.0.0.1 only; every wait and attack is
# bounded; every server and the cluster are stopped on exit.
#
# Settings (environment): BENCH_DURATION=5s, BENCH_WARMUP=2s, BENCH_ROUNDS=3,
# BENCH_WORKERS=16, BENCH_FIREWALLS=1000, BENCH_RULES=50,
# BENCH_CREATE_POLICIES=100, BENCH_STRICT=0 (1: exit 1 on a missed target),
# BENCH_KEEP=0 (1: keep the work dir).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${BENCH_DURATION:-5s}
WARMUP=${BENCH_WARMUP:-2s}
ROUNDS=${BENCH_ROUNDS:-3}
WORKERS=${BENCH_WORKERS:-16}
FIREWALLS=${BENCH_FIREWALLS:-1000}
RULES=${BENCH_RULES:-50}
POLICIES=${BENCH_CREATE_POLICIES:-100}
STRICT=${BENCH_STRICT:-0}
KEEP=${BENCH_KEEP:-0}
GO=${GO:-go}

BENCH=bench-stores
# shellcheck source=scripts/benchlib.sh
source scripts/benchlib.sh

command -v curl >/dev/null || die "curl is needed (apt-get install curl)"

bench_workdir

wait_ready() {
  local url=$1 pid=$2
  for _ in $(seq 600); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# attack NAME TARGETS DURATION TOKEN: max-throughput attack, report in $WORK/NAME.json.
attack() {
  local name=$1 targets=$2 duration=$3 token=$4
  "$WORK/vegeta" attack -targets="$targets" -rate=0 -max-workers="$WORKERS" -duration="$duration" \
    -timeout=5s -keepalive=true -header "Authorization: Bearer $token" >"$WORK/$name.bin"
  "$WORK/vegeta" report -type=json "$WORK/$name.bin" >"$WORK/$name.json"
  "$WORK/vegeta" report -type=text "$WORK/$name.bin" | awk -v n="$name" '
    /^Requests/ { split($0, a, "]"); printf "  %-18s requests, rate, throughput:%s\n", n, a[2] }
    /^Status Codes/ { split($0, a, "]"); printf "  %-18s status codes:%s\n", n, a[2] }' >&2
  rm -f "$WORK/$name.bin"
}

log "building fireflow, vegeta, the cluster runner, the seeder and the summary into $WORK"
CGO_ENABLED=0 $GO build -trimpath -o "$WORK/fireflow" ./cmd/fireflow
$GO build -o "$WORK/seed" ./scripts/bench/seed
$GO build -o "$WORK/stores" ./scripts/bench/stores
$GO build -modfile=tools/go.mod -o "$WORK/vegeta" github.com/tsenart/vegeta/v12

start_pgcluster

declare -A BASE
# start_fireflow STORE URL: development mode, which migrates on start.
start_fireflow() {
  local store=$1 db=$2 port metrics
  port=$(free_port); metrics=$(free_port)
  mkdir -p "$WORK/$store"
  (
    cd "$WORK/$store" # development mode writes ./data/dev-secret here
    exec env FIREFLOW_ENV=development FIREFLOW_ADDR="127.0.0.1:$port" FIREFLOW_METRICS_ADDR="127.0.0.1:$metrics" \
      FIREFLOW_DATABASE_URL="$db" FIREFLOW_LOG_LEVEL=warn FIREFLOW_RATE_LIMIT=0 "$WORK/fireflow" serve
  ) >"$WORK/$store.log" 2>&1 &
  PIDS+=("$!")
  BASE[$store]="http://127.0.0.1:$port"
  wait_ready "${BASE[$store]}/readyz" "$!" || die "fireflow on $store not ready: $(tail -n 20 "$WORK/$store.log")"
}
mint() { (cd "$WORK/$1" && "$WORK/fireflow" token --sub bench --role "$2" --ttl 1h); }

declare -A VIEWER EDITOR
for store in sqlite postgres; do
  db="sqlite:$WORK/sqlite/fireflow.db"
  [ "$store" = postgres ] && db=$PG_URL
  log "starting fireflow on $store and seeding $FIREWALLS firewalls, $RULES rules, $POLICIES policies for creation"
  start_fireflow "$store" "$db"
  VIEWER[$store]=$(mint "$store" viewer)
  EDITOR[$store]=$(mint "$store" editor)
  FIREFLOW_BENCH_TOKEN=${EDITOR[$store]} timeout 300 "$WORK/seed" -base "${BASE[$store]}" -firewalls "$FIREWALLS" \
    -rules "$RULES" -policies "$POLICIES" -concurrency 8 -timeout 280s -out "$WORK/$store/seed" >&2
  b=${BASE[$store]}
  awk -v b="$b" '{ print "GET " b $0 }' "$WORK/$store/seed/get_paths.txt" >"$WORK/${store}_get.targets"
  awk -v b="$b" '{ print "GET " b $0 }' "$WORK/$store/seed/rules_path.txt" >"$WORK/${store}_rules.targets"
  printf '{"action":"allow","protocol":"tcp","destinations":["10.0.0.0/8"],"destination_ports":["443"]}' >"$WORK/rule.json"
  awk -v b="$b" -v body="$WORK/rule.json" '{ printf "POST %s%s\nContent-Type: application/json\n@%s\n\n", b, $0, body }' \
    "$WORK/$store/seed/create_paths.txt" >"$WORK/${store}_create.targets"
done

declare -A REPORTS
for kind in get rules create; do
  log "$kind: warm-up $WARMUP each, then $ROUNDS rounds of $DURATION alternating SQLite and PostgreSQL"
  for store in sqlite postgres; do
    token=${VIEWER[$store]}
    [ "$kind" = create ] && token=${EDITOR[$store]}
    attack "${store}_${kind}_warmup" "$WORK/${store}_${kind}.targets" "$WARMUP" "$token"
  done
  for round in $(seq "$ROUNDS"); do
    for store in sqlite postgres; do
      token=${VIEWER[$store]}
      [ "$kind" = create ] && token=${EDITOR[$store]}
      attack "${store}_${kind}_$round" "$WORK/${store}_${kind}.targets" "$DURATION" "$token"
      REPORTS[${store}_$kind]+="${REPORTS[${store}_$kind]:+,}$WORK/${store}_${kind}_$round.json"
    done
  done
done

args=(-workers "$WORKERS" -duration "$DURATION")
for store in sqlite postgres; do
  flag=$store; [ "$store" = postgres ] && flag=pg
  for kind in get rules create; do args+=("-$flag-$kind" "${REPORTS[${store}_$kind]}"); done
done
[ "$STRICT" = 1 ] && args+=(-strict)
"$WORK/stores" "${args[@]}"
