#!/bin/sh
# The seat rush over both protocols, alternating (app, legacy, app, …) so both see the same
# machine load. Usage: benches/rush-ab.sh OUT_DIR [RUNS] [CLIENTS]
set -eu
OUT=${1:?out dir}; RUNS=${2:-3}; RUSH=${3:-1000}
L=${L:-target/release/loadgen}; S=${S:-target/release/ticketclub}
for n in $(seq 1 "$RUNS"); do
  for side in app legacy; do
    d="$OUT/rush-$side-$n"; mkdir -p "$d"
    echo "== run $n $side: $(cat /proc/loadavg)"
    $L seat-rush --server-bin "$S" --protocol "$side" --clients "$RUSH" --out "$d" 2>"$d/seat-rush.log" || echo "seat rush $side failed ($?)"
  done
done
