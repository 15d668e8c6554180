#!/bin/sh
# A --server-bin wrapper for the recorder's A/B (benches/record-ab-leads.sh): runs the server
# (SERVER, default target/release/ticketclub) and, once its `har-writer` thread exists, moves
# that thread to SCHED_IDLE with chrt, so the same binary is measured at nice 19 and at
# SCHED_IDLE. The server keeps this script's pid (exec), so loadgen reads the right threads.
(
  i=0
  while [ "$i" -lt 400 ]; do
    for t in "/proc/$$/task"/*; do
      if [ "$(cat "$t/comm" 2>/dev/null)" = har-writer ]; then
        chrt -i -p 0 "${t##*/}"
        exit 0
      fi
    done
    sleep 0.05
    i=$((i + 1))
  done
) >/dev/null 2>&1 &
exec "${SERVER:-target/release/ticketclub}" "$@"
