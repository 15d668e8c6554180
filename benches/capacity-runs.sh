#!/bin/sh
# The measurements behind benches/capacity.json (issue 14, item 4). Run from the repository root,
# with the release binaries built and REDIS_PID / MARIADB_PID set to the shared engines' pids.
# Every run takes /tmp/bench.lock. Usage: benches/capacity-runs.sh OUT [costs|fleet|all]
set -eu
OUT=${1:?out dir}; WHAT=${2:-all}
L=target/release/loadgen; S=target/release/ticketclub
E="redis=${REDIS_PID:?},mariadb=${MARIADB_PID:?}"
mkdir -p "$OUT"
run() { name=$1; shift; echo "== $name: $(uptime)"; flock /tmp/bench.lock "$@" --out "$OUT/$name" >"$OUT/$name.log" 2>&1 || echo "   $name failed (see $OUT/$name.log)"; }
if [ "$WHAT" = costs ] || [ "$WHAT" = all ]; then
  run join-app    $L join-storm --mode burst --clients 5000 --protocol app --production --engine-pids "$E" --server-bin $S
  run join-legacy $L join-storm --mode burst --clients 5000 --production --engine-pids "$E" --server-bin $S
  run rush-app    $L seat-rush --clients 1000 --protocol app --production --engine-pids "$E" --server-bin $S
fi
if [ "$WHAT" = fleet ] || [ "$WHAT" = all ]; then
  # 6 x 20 pooled MariaDB connections beside other users passed max_connections (151): 12 each.
  for k in 1 2 4 6; do
    run fleet-$k $L fleet --no-kill --instances $k --clients 10000 --per-process 5000 --join-rate 50000 \
      --admit-seconds 10 --stand-seconds 5 --engine-pids "$E" --server-bin $S --server-env TICKETCLUB_DB_POOL_MAX=12
  done
  # The waiting model at 40,000 (joins offered below the box's rate).
  run fleet-6-big $L fleet --no-kill --instances 6 --clients 40000 --per-process 10000 --join-rate 8000 \
    --admit-seconds 10 --stand-seconds 5 --engine-pids "$E" --server-bin $S --server-env TICKETCLUB_DB_POOL_MAX=12
  run fleet-1-small $L fleet --no-kill --instances 1 --clients 1000 --per-process 5000 --join-rate 50000 \
    --admit-seconds 10 --stand-seconds 5 --engine-pids "$E" --server-bin $S
fi
echo "== done: $(uptime)"
