#!/bin/sh
# Issue 15's benchmark: join storm and seat rush with the abuse limits at their defaults ("on")
# and off, alternating on/off so both see the same machine load. Usage:
#   benches/limits-ab.sh OUT_DIR [RUNS] [JOIN_CLIENTS] [RUSH_CLIENTS]
# Both sides: per-address socket cap 0 (every client is on loopback) and sign-in limits raised
# (the sign-ups before the measured phase come from one address); the measured phases are
# then affected only by the per-socket event budget and the per-account socket cap.
set -eu
OUT=${1:?out dir}; RUNS=${2:-3}; JOIN=${3:-2000}; RUSH=${4:-1000}
L=${L:-target/release/loadgen}; S=${S:-target/release/ticketclub}
OFF="--server-env TICKETCLUB_SOCKET_EVENT_RATE=0 --server-env TICKETCLUB_SOCKETS_PER_ACCOUNT=0"
for n in $(seq 1 "$RUNS"); do
  for side in on off; do
    extra=""; [ "$side" = off ] && extra=$OFF
    d="$OUT/$side-$n"; mkdir -p "$d"
    echo "== run $n $side: $(cat /proc/loadavg)"
    # shellcheck disable=SC2086
    $L join-storm --server-bin "$S" $extra --clients "$JOIN" --mode burst --out "$d" 2>"$d/join-burst.log" || echo "join burst failed ($?)"
    # shellcheck disable=SC2086
    $L join-storm --server-bin "$S" $extra --clients "$JOIN" --mode storm --out "$d/storm" 2>"$d/join-storm.log" || echo "join storm failed ($?)"
    # shellcheck disable=SC2086
    $L seat-rush --server-bin "$S" $extra --clients "$RUSH" --out "$d" 2>"$d/seat-rush.log" || echo "seat rush failed ($?)"
  done
done
