# Shared by the benchmark scripts (bench.sh, bench-stores.sh,
# bench-reorder.sh): logging, a work dir whose processes stop on exit, free
# loopback ports and a throwaway PostgreSQL cluster. Source it after setting
# BENCH (the script's name, for errors), KEEP (1 keeps the work dir) and GO.

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: %s\n' "$BENCH" "$*" >&2; exit 1; }

# bench_workdir makes $WORK and stops every pid in PIDS on exit: SIGTERM,
# a bounded wait of 30 s (a cluster stops cleanly), then SIGKILL.
bench_workdir() {
  WORK=$(mktemp -d -t "fireflow-$BENCH.XXXXXX")
  chmod 755 "$WORK" # the cluster, run as postgres, lives in its own temp dir; this is for logs
  PIDS=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  if [ "$KEEP" = 1 ]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
}

# free_port prints a TCP port on 127.0.0.1 that nothing listens on.
free_port() {
  local port
  for _ in $(seq 100); do
    port=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return 0; fi
  done
  die "no free port found"
}

# start_pgcluster builds and starts scripts/bench/pgcluster in $WORK and
# sets PG_URL once the cluster answers.
start_pgcluster() {
  $GO build -o "$WORK/pgcluster" ./scripts/bench/pgcluster
  log "starting a throwaway PostgreSQL cluster on 127.0.0.1"
  "$WORK/pgcluster" -url-file "$WORK/pg.url" >"$WORK/pgcluster.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 1200); do [ -s "$WORK/pg.url" ] && break; kill -0 "${PIDS[-1]}" 2>/dev/null || break; sleep 0.1; done
  [ -s "$WORK/pg.url" ] || die "PostgreSQL did not start: $(cat "$WORK/pgcluster.log")"
  PG_URL=$(cat "$WORK/pg.url")
}
