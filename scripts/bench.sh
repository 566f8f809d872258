#!/usr/bin/env bash
# API load benchmark (make bench).
#
# Builds fireflow, starts `fireflow serve` on 127.0.0.1 with a fresh SQLite
# database in a temp dir, seeds it (scripts/bench/seed), and measures with
# vegeta (pinned in tools/go.mod) at maximum throughput:
#   (a) GET /api/v1/firewalls/{id} over random firewall ids;
#   (b) GET .../filtering-policies/{pid}/rules?page_size=50.
# (a) runs in alternating rounds against fireflow, the same API without
# metrics and access logs (scripts/bench/plainapi), that with token checks
# stubbed out, and a bare net/http server holding the same JSON in memory
# (scripts/bench/bare); each round starts with the next of them, and the
# median rounds are compared, so that load from elsewhere on the machine
# hits every side alike. fireflow serves with its full middleware stack:
# metrics, access log at info level (to a file), tracing off. It reports
# fireflow's idle RSS (after seeding) and peak RSS under load, and prints a
# summary against the targets: idle RSS <= 30 MB, peak RSS under load
# <= 100 MB, (a) >= 50 % of bare, metrics and logging cost <= 10 % and
# token checks <= 5 % of (a)'s throughput.
#
# Everything listens on and targets 127.0.0.1 only. Every wait and attack is
# bounded; all servers are stopped on exit.
#
# Settings (environment):
#   BENCH_DURATION=5s     length of each attack
#   BENCH_ROUNDS=5        alternating GET-by-id rounds of fireflow, plain API and auth-stubbed
#   BENCH_EVAL_WORKERS=4  concurrent 10,000-flow evaluate requests
#   BENCH_WORKERS=16      vegeta -max-workers (with -rate=0)
#   BENCH_WARMUP=2s       unmeasured warm-up before each measured attack
#   BENCH_FIREWALLS=1000  firewalls to seed
#   BENCH_RULES=50        rules in the listed policy
#   BENCH_SETTLE=3        seconds to settle before reading idle RSS
#   BENCH_STRICT=0        1: exit 1 when a target is missed
#   BENCH_KEEP=0          1: keep the work dir (reports, logs) and print it
#   FIREFLOW_BENCH_TOKEN  bearer token for the attacks; by default a viewer token
#                         is minted with `fireflow token` from the run's dev secret
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

DURATION=${BENCH_DURATION:-5s}
ROUNDS=${BENCH_ROUNDS:-5}
EVAL_WORKERS=${BENCH_EVAL_WORKERS:-4}
WORKERS=${BENCH_WORKERS:-16}
WARMUP=${BENCH_WARMUP:-2s}
FIREWALLS=${BENCH_FIREWALLS:-1000}
RULES=${BENCH_RULES:-50}
SETTLE=${BENCH_SETTLE:-3}
STRICT=${BENCH_STRICT:-0}
KEEP=${BENCH_KEEP:-0}
TOKEN=${FIREFLOW_BENCH_TOKEN:-}
GO=${GO:-go}

BENCH=bench
# shellcheck source=scripts/benchlib.sh
source scripts/benchlib.sh

command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
[ -r /proc/self/status ] || die "/proc is needed to read RSS"

bench_workdir

# wait_ready URL PID: polls URL for up to 30 s while PID lives.
wait_ready() {
  local url=$1 pid=$2
  for _ in $(seq 300); do
    if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# kb FIELD PID: a field of /proc/PID/status (VmRSS, VmHWM, RssFile, RssAnon) in kB.
kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$2/status"; }

# attack NAME TARGETS DURATION: max-throughput attack, JSON report in $WORK/NAME.json.
attack() {
  local name=$1 targets=$2 duration=$3
  local args=(-targets="$targets" -rate=0 -max-workers="$WORKERS" -duration="$duration"
              -timeout=5s -keepalive=true)
  [ -n "$TOKEN" ] && args+=(-header "Authorization: Bearer $TOKEN")
  "$WORK/vegeta" attack "${args[@]}" >"$WORK/$name.bin"
  "$WORK/vegeta" report -type=json "$WORK/$name.bin" >"$WORK/$name.json"
  "$WORK/vegeta" report -type=text "$WORK/$name.bin" >"$WORK/$name.txt"
  rm -f "$WORK/$name.bin"
}

# one_line NAME: req/s, p50, p99 of a report, for progress output.
one_line() {
  awk -v n="$1" '/^Requests/ { split($0, a, "]"); print "  " n ": requests, rate, throughput: " a[2] }
       /^Latencies/ { split($0, a, "]"); print "  latencies min, mean, 50, 90, 95, 99, max: " a[2] }
       /^Success/ { split($0, a, "]"); print "  success: " a[2] }
       /^Status Codes/ { split($0, a, "]"); print "  status codes: " a[2] }' "$WORK/$1.txt" >&2
}

# start_helper NAME ARGS...: starts the helper server $WORK/NAME on a free
# loopback port, waits until it is ready, sets HELPER_PID, and writes the
# GET-by-id targets for it to $WORK/NAME_get.targets.
start_helper() {
  local name=$1; shift
  "$WORK/$name" "$@" -addr 127.0.0.1:0 -addr-file "$WORK/$name.addr" >"$WORK/$name.log" 2>&1 &
  HELPER_PID=$!
  PIDS+=("$HELPER_PID")
  for _ in $(seq 100); do [ -s "$WORK/$name.addr" ] && break; sleep 0.1; done
  [ -s "$WORK/$name.addr" ] || die "$name server did not start: $(cat "$WORK/$name.log")"
  local url="http://$(cat "$WORK/$name.addr")"
  wait_ready "$url/readyz" "$HELPER_PID" || die "$name server not ready"
  awk -v b="$url" '{ print "GET " b $0 }' "$WORK/seed-out/get_paths.txt" >"$WORK/${name}_get.targets"
}

log "building fireflow, vegeta and the bench helpers into $WORK"
CGO_ENABLED=0 $GO build -trimpath -o "$WORK/fireflow" ./cmd/fireflow
$GO build -o "$WORK/seed" ./scripts/bench/seed
$GO build -o "$WORK/bare" ./scripts/bench/bare
$GO build -o "$WORK/summary" ./scripts/bench/summary
$GO build -o "$WORK/plain" ./scripts/bench/plainapi
$GO build -modfile=tools/go.mod -o "$WORK/vegeta" github.com/tsenart/vegeta/v12

# --- fireflow ---------------------------------------------------------------
PORT=$(free_port)
METRICS_PORT=$(free_port)
[ "$METRICS_PORT" != "$PORT" ] || METRICS_PORT=$(free_port)
BASE="http://127.0.0.1:$PORT"
mkdir -p "$WORK/run"
log "starting fireflow serve on $BASE (metrics 127.0.0.1:$METRICS_PORT, db $WORK/run/fireflow.db)"
(
  cd "$WORK/run" # development mode writes ./data/dev-secret here, not in the repo
  exec env FIREFLOW_ENV=development \
    FIREFLOW_ADDR="127.0.0.1:$PORT" \
    FIREFLOW_METRICS_ADDR="127.0.0.1:$METRICS_PORT" \
    FIREFLOW_DATABASE_URL="sqlite:$WORK/run/fireflow.db" \
    FIREFLOW_LOG_LEVEL="${FIREFLOW_LOG_LEVEL:-info}" \
    FIREFLOW_RATE_LIMIT=0 \
    "$WORK/fireflow" serve
) >"$WORK/fireflow.log" 2>&1 &
FF_PID=$!
PIDS+=("$FF_PID")
if ! wait_ready "$BASE/readyz" "$FF_PID"; then
  tail -n 30 "$WORK/fireflow.log" >&2 || true
  die "fireflow did not become ready on $BASE/readyz within 30 s"
fi
STARTUP_KB=$(kb VmRSS "$FF_PID")
log "ready; startup RSS $STARTUP_KB kB"

# Tokens come from the server's own development secret in $WORK/run/data.
mint() { (cd "$WORK/run" && "$WORK/fireflow" token --sub bench --role "$1" --ttl 1h); }
[ -n "$TOKEN" ] || TOKEN=$(mint viewer)

log "seeding $FIREWALLS firewalls and 1 policy with $RULES rules"
mkdir -p "$WORK/seed-out"
FIREFLOW_BENCH_TOKEN=$(mint editor) timeout 120 "$WORK/seed" -base "$BASE" -firewalls "$FIREWALLS" -rules "$RULES" \
  -concurrency 8 -timeout 90s -out "$WORK/seed-out" >&2

awk -v b="$BASE" '{ print "GET " b $0 }' "$WORK/seed-out/get_paths.txt" >"$WORK/ff_get.targets"
awk -v b="$BASE" '{ print "GET " b $0 }' "$WORK/seed-out/rules_path.txt" >"$WORK/ff_rules.targets"

sleep "$SETTLE"
IDLE_KB=$(kb VmRSS "$FF_PID")
IDLE_FILE_KB=$(kb RssFile "$FF_PID")
IDLE_ANON_KB=$(kb RssAnon "$FF_PID")
log "idle RSS after seeding and ${SETTLE}s settle: $IDLE_KB kB ($IDLE_FILE_KB kB mapped from files, $IDLE_ANON_KB kB private)"

# Reset the peak RSS counter so VmHWM covers the load only (Linux >= 4.0).
PEAK_LIFETIME=false
if ! { echo 5 >"/proc/$FF_PID/clear_refs"; } 2>/dev/null; then
  PEAK_LIFETIME=true
  log "could not reset VmHWM: peak RSS is over the whole process life"
fi

# The same API over the same database without metrics and access logs
# ("plain"), to measure what observability costs, and that with token checks
# stubbed out ("noauth"), to measure what authentication costs, and the bare
# baseline. Their rounds alternate with fireflow's, and the median round of
# each is compared, so that load from elsewhere on the machine hits all alike.
log "starting the API without metrics and logs, and that with auth stubbed out, over the same database"
cp "$WORK/plain" "$WORK/noauth" # the same binary, started without -secret-file
start_helper plain -db "$WORK/run/fireflow.db" -secret-file "$WORK/run/data/dev-secret"
PLAIN_PID=$HELPER_PID
start_helper noauth -db "$WORK/run/fireflow.db"
NOAUTH_PID=$HELPER_PID
log "starting the bare net/http baseline"
start_helper bare -data "$WORK/seed-out/firewalls.jsonl"
BARE_PID=$HELPER_PID

log "GET by id, fireflow, plain, auth stubbed and bare, alternating: warm-up $WARMUP each, then $ROUNDS rounds of $DURATION with $WORKERS workers"
NAMES=(ff plain noauth bare)
for name in "${NAMES[@]}"; do
  attack "${name}_get_warmup" "$WORK/${name}_get.targets" "$WARMUP"
done
FF_GET=() PLAIN_GET=() NOAUTH_GET=() BARE_GET=()
for round in $(seq "$ROUNDS"); do
  # Each round starts with the next server, so that none always runs
  # right after the same one (the bare server loads the machine most).
  for i in "${!NAMES[@]}"; do
    name=${NAMES[$(( (i + round - 1) % ${#NAMES[@]} ))]}
    attack "${name}_get_$round" "$WORK/${name}_get.targets" "$DURATION"
    one_line "${name}_get_$round"
  done
  FF_GET+=("$WORK/ff_get_$round.json") PLAIN_GET+=("$WORK/plain_get_$round.json")
  NOAUTH_GET+=("$WORK/noauth_get_$round.json") BARE_GET+=("$WORK/bare_get_$round.json")
done
kill "$PLAIN_PID" "$NOAUTH_PID" "$BARE_PID" 2>/dev/null || true

log "fireflow rules listing: warm-up $WARMUP, then $DURATION with $WORKERS workers"
attack ff_rules_warmup "$WORK/ff_rules.targets" "$WARMUP"
attack ff_rules "$WORK/ff_rules.targets" "$DURATION"
one_line ff_rules

# A batch of 10,000 flows against the seeded firewall with rules.
FW_PATH=$(sed -E 's#(/api/v1/firewalls/[^/]+)/.*#\1#' "$WORK/seed-out/rules_path.txt")
awk 'BEGIN {
  srand(7); printf "{\"flows\":["
  for (i = 0; i < 10000; i++) {
    if (i > 0) printf ","
    printf "{\"protocol\":\"tcp\",\"source_ip\":\"10.%d.%d.%d\",\"destination_ip\":\"192.0.%d.%d\",\"source_port\":%d,\"destination_port\":%d}",
      int(rand()*256), int(rand()*256), int(rand()*256), int(rand()*4), int(rand()*256), 1024 + int(rand()*60000), 1 + int(rand()*1024)
  }
  printf "]}"
}' >"$WORK/flows.json"
printf 'POST %s%s/evaluate\nContent-Type: application/json\n@%s\n' "$BASE" "$FW_PATH" "$WORK/flows.json" >"$WORK/ff_eval.targets"
log "evaluate 10,000-flow batches: warm-up $WARMUP, then $DURATION with $EVAL_WORKERS workers"
WORKERS_SAVED=$WORKERS WORKERS=$EVAL_WORKERS
attack ff_eval_warmup "$WORK/ff_eval.targets" "$WARMUP"
attack ff_eval "$WORK/ff_eval.targets" "$DURATION"
WORKERS=$WORKERS_SAVED
one_line ff_eval

PEAK_KB=$(kb VmHWM "$FF_PID")
kill -0 "$FF_PID" 2>/dev/null || die "fireflow died during the load (see $WORK/fireflow.log)"
log "peak RSS under load: $PEAK_KB kB; stopping fireflow"
kill "$FF_PID" 2>/dev/null || true
for _ in $(seq 100); do kill -0 "$FF_PID" 2>/dev/null || break; sleep 0.1; done

join() { local IFS=,; echo "$*"; }
summary_args=(-get "$(join "${FF_GET[@]}")" -rules "$WORK/ff_rules.json" -bare "$(join "${BARE_GET[@]}")" -plain "$(join "${PLAIN_GET[@]}")" -noauth "$(join "${NOAUTH_GET[@]}")" -eval "$WORK/ff_eval.json"
  -startup-rss-kb "${STARTUP_KB:--1}" -idle-rss-kb "${IDLE_KB:--1}"
  -idle-file-kb "${IDLE_FILE_KB:--1}" -idle-anon-kb "${IDLE_ANON_KB:--1}" -peak-rss-kb "${PEAK_KB:--1}"
  -workers "$WORKERS" -duration "$DURATION" -firewalls "$FIREWALLS" -rules-count "$RULES")
[ "$PEAK_LIFETIME" = true ] && summary_args+=(-peak-is-lifetime)
[ "$STRICT" = 1 ] && summary_args+=(-strict)
"$WORK/summary" "${summary_args[@]}"
