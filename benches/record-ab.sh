#!/bin/sh
# Issue 12's benchmark: the join storm (burst) and the seat rush with the server's HAR recorder
# on (every visit recorded, TICKETCLUB_RECORD_SAMPLE=1, or the share SAMPLE=0.1 in the
# environment) and off, alternating on/off so both see the same machine load; STORM=1 also
# runs the paced join storm (10,000 arrivals/s) into OUT_DIR/SIDE-N/storm. Usage:
#   [SAMPLE=0.1] [STORM=1] benches/record-ab.sh OUT_DIR [RUNS] [JOIN_CLIENTS] [RUSH_CLIENTS]
# then benches/limits-summary.py OUT_DIR for the medians (its `on vs off` column).
set -eu
OUT=${1:?out dir}; RUNS=${2:-3}; JOIN=${3:-5000}; RUSH=${4:-1000}
L=${L:-target/release/loadgen}; S=${S:-target/release/ticketclub}; SAMPLE=${SAMPLE:-1}
for n in $(seq 1 "$RUNS"); do
  for side in on off; do
    d="$OUT/$side-$n"; mkdir -p "$d"
    extra=""
    if [ "$side" = on ]; then
      rec=$(mktemp -d "${TMPDIR:-/tmp}/record-ab.XXXXXX")
      extra="--server-env TICKETCLUB_RECORD_DIR=$rec --server-env TICKETCLUB_RECORD_SAMPLE=$SAMPLE"
    fi
    echo "== run $n $side: $(cat /proc/loadavg)"
    # shellcheck disable=SC2086
    $L join-storm --server-bin "$S" $extra --clients "$JOIN" --mode burst --out "$d" 2>"$d/join-burst.log" || echo "join burst failed ($?)"
    if [ "${STORM:-0}" = 1 ]; then
      # shellcheck disable=SC2086
      $L join-storm --server-bin "$S" $extra --clients "$JOIN" --mode storm --out "$d/storm" 2>"$d/join-storm.log" || echo "join storm failed ($?)"
    fi
    # shellcheck disable=SC2086
    $L seat-rush --server-bin "$S" $extra --clients "$RUSH" --out "$d" 2>"$d/seat-rush.log" || echo "seat rush failed ($?)"
    if [ "$side" = on ]; then
      echo "   recorded: $(find "$rec" -type f | wc -l) files, $(du -sh "$rec" | cut -f1)"
      rm -rf "$rec"
    fi
  done
done
