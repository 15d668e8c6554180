#!/bin/sh
# Issue 12's recorder A/B with more than two sides, interleaved run by run (each side once per
# round, in the order given), for the leads of the fourth session (RESULTS.md): SIDES names
# the sides; a side whose name begins with `on` records every visit (sample 1), one that
# contains `idle` runs through benches/sched-idle-server.sh (the writer at SCHED_IDLE), one
# that contains `mi` preloads mimalloc (LD_PRELOAD=$MIMALLOC), one that contains `base` runs
# the server binary BASE instead of S (a build to compare with), one that contains `shm` records
# into /dev/shm (memory) instead of $TMPDIR (disk), one that contains `split` gives each of its
# runs (burst, storm, rush) a folder of its own instead of one for the three. Usage:
#   SIDES="off on on-idle" [STORM=1] [STORM_RATE=10000] [BURST=1] [RUSH=1000] \
#     benches/record-ab-leads.sh OUT_DIR [RUNS] [JOIN_CLIENTS]
# then benches/limits-summary.py OUT_DIR. STORM_RATE paces the storm below what the box keeps up
# with (its loss is then latency, not throughput); BURST=0 leaves the closed burst out.
set -eu
OUT=${1:?out dir}; RUNS=${2:-3}; JOIN=${3:-5000}; RUSH=${RUSH:-1000}
L=${L:-target/release/loadgen}; S=${S:-target/release/ticketclub}
SIDES=${SIDES:-off on}
MIMALLOC=${MIMALLOC:-/usr/lib/x86_64-linux-gnu/libmimalloc.so.2}
for n in $(seq 1 "$RUNS"); do
  for side in $SIDES; do
    d="$OUT/$side-$n"; mkdir -p "$d"
    extra=""; bin="$S"; rec=""
    case "$side" in on*)
      dir="${TMPDIR:-/tmp}"
      case "$side" in *shm*) dir=/dev/shm;; esac
      rec=$(mktemp -d "$dir/record-ab.XXXXXX")
      extra="--server-env TICKETCLUB_RECORD_SAMPLE=1";;
    esac
    # The recording folder of the next run: $rec, or a new one under it for a `split` side.
    folder() {
      case "$side" in
        on*split*) echo "--server-env TICKETCLUB_RECORD_DIR=$(mktemp -d "$rec/run.XXXXXX")";;
        on*) echo "--server-env TICKETCLUB_RECORD_DIR=$rec";;
      esac
    }
    case "$side" in *base*) bin="${BASE:?BASE names the binary to compare with}";; esac
    case "$side" in *idle*) export SERVER="$bin"; bin="benches/sched-idle-server.sh";; esac
    case "$side" in *mi*) extra="$extra --server-env LD_PRELOAD=$MIMALLOC";; esac
    echo "== run $n $side: $(cat /proc/loadavg)"
    if [ "${BURST:-1}" = 1 ]; then
      # shellcheck disable=SC2086,SC2046
      $L join-storm --server-bin "$bin" $extra $(folder) --clients "$JOIN" --mode burst --out "$d" 2>"$d/join-burst.log" || echo "join burst failed ($?)"
    fi
    if [ "${STORM:-0}" = 1 ]; then
      # shellcheck disable=SC2086,SC2046
      $L join-storm --server-bin "$bin" $extra $(folder) --clients "$JOIN" --mode storm --storm-rate "${STORM_RATE:-10000}" --out "$d/storm" 2>"$d/join-storm.log" || echo "join storm failed ($?)"
    fi
    if [ "$RUSH" -gt 0 ]; then
      # shellcheck disable=SC2086,SC2046
      $L seat-rush --server-bin "$bin" $extra $(folder) --clients "$RUSH" --out "$d" 2>"$d/seat-rush.log" || echo "seat rush failed ($?)"
    fi
    if [ -n "$rec" ]; then
      echo "   recorded: $(find "$rec" -type f | wc -l) files, $(du -sh "$rec" | cut -f1)"
      rm -rf "$rec"
    fi
  done
done
