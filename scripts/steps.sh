#!/usr/bin/env bash
# Sourced by scripts/test: run long steps so that Ctrl-C or a SIGTERM (a CI timeout) stops the
# run at once, takes the running step down with it, and leaves through the caller's EXIT trap.
#
# Bash runs a signal trap only when the foreground command ends, so a trapped SIGTERM would wait
# for a whole `cargo test`; and without a trap the script dies at once but the step runs on,
# orphaned. `step CMD...` runs CMD in the background and waits for it: `wait` returns as soon as
# a trapped signal arrives, and the trap stops the step (and what it started) before exiting.

step_pid=""

# step CMD...: run CMD as one step; its exit status is the step's.
step() {
  "$@" &
  step_pid=$!
  wait "$step_pid"
}

# Ends the running step and its children, then exits with `code` (128 + the signal number).
step_interrupted() {
  local code=$1
  if [[ -n $step_pid ]]; then
    pkill -TERM -P "$step_pid" 2>/dev/null || true
    kill -TERM "$step_pid" 2>/dev/null || true
  fi
  exit "$code"
}

trap 'step_interrupted 130' INT
trap 'step_interrupted 143' TERM
