#!/bin/sh
# Issue 11's speed figures: the join storm over `/queue` vs the legacy `check limit` path (with
# and without the frontend's POST /session/validation) at the same size, alternating so all see
# the same machine load; then the app seat rush and the app position fan-out. Usage:
#   benches/app-ab.sh OUT_DIR [RUNS] [JOIN_CLIENTS] [RUSH_CLIENTS] [QUEUED]
set -eu
OUT=${1:?out dir}; RUNS=${2:-3}; JOIN=${3:-2000}; RUSH=${4:-1000}; QUEUED=${5:-2000}
L=${L:-target/release/loadgen}; S=${S:-target/release/ticketclub}
for n in $(seq 1 "$RUNS"); do
  for side in app legacy legacy-novalidate; do
    case $side in
      app) extra="--protocol app";;
      legacy) extra="";;
      legacy-novalidate) extra="--no-validate";;
    esac
    d="$OUT/$side-$n"; mkdir -p "$d"
    echo "== run $n $side: $(cat /proc/loadavg)"
    # shellcheck disable=SC2086
    $L join-storm --server-bin "$S" $extra --clients "$JOIN" --mode burst --out "$d" 2>"$d/join-burst.log" || echo "join burst failed ($?)"
    # shellcheck disable=SC2086
    $L join-storm --server-bin "$S" $extra --clients "$JOIN" --mode storm --out "$d/storm" 2>"$d/join-storm.log" || echo "join storm failed ($?)"
  done
  d="$OUT/rush-$n"; mkdir -p "$d"
  echo "== run $n seat rush app: $(cat /proc/loadavg)"
  $L seat-rush --server-bin "$S" --protocol app --clients "$RUSH" --out "$d" 2>"$d/seat-rush.log" || echo "app seat rush failed ($?)"
done
d="$OUT/fanout"; mkdir -p "$d"
echo "== fanout-app: $(cat /proc/loadavg)"
$L fanout-app --server-bin "$S" --queued "$QUEUED" --out "$d" 2>"$d/fanout-app.log" || echo "fanout-app failed ($?)"
