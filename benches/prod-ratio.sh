#!/bin/sh
# Issue 14 item 1: the production engines' join burst against the embedded default's, same
# binary, same round (burst on MySQL + Redis, burst embedded, then 5,000/s paced on MySQL +
# Redis), RUNS rounds, each run's load average kept beside its report. Usage:
#   [L=loadgen] [S=ticketclub] benches/prod-ratio.sh OUT_DIR [RUNS] [CLIENTS]
# then benches/prod-ratio.py OUT_DIR for the table (production ÷ embedded per round).
set -eu
OUT=${1:?out dir}; RUNS=${2:-5}; N=${3:-5000}
L=${L:-target/release/loadgen}; S=${S:-target/release/ticketclub}
PIDS="redis=$(pgrep -x redis-server | head -1),mariadb=$(pgrep -x mariadbd | head -1)"
for n in $(seq 1 "$RUNS"); do
  for side in prod emb paced; do
    d="$OUT/$side-$n"; mkdir -p "$d"
    case "$side" in
      prod) args="--mode burst --production";;
      emb) args="--mode burst";;
      paced) args="--mode storm --storm-rate 5000 --production";;
    esac
    cat /proc/loadavg > "$d/loadavg"
    echo "== round $n $side: $(cat "$d/loadavg")"
    # shellcheck disable=SC2086
    $L --out "$d" --server-bin "$S" join-storm --clients "$N" $args --engine-pids "$PIDS" \
      2>"$d/join-storm.log" >/dev/null || echo "   failed ($?)"
  done
done
