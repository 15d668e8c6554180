#!/usr/bin/env bash
# Starts a throw-away 3-master Redis Cluster on 127.0.0.1:7001-7003 (data under a temp folder),
# unless one already answers there. The tests use it when TICKETCLUB_TEST_REDIS_CLUSTER is set.
# Usage: scripts/redis-cluster.sh [start|stop]
set -euo pipefail

ports=(7001 7002 7003)
dir="${TMPDIR:-/tmp}/ticketclub-redis-cluster"

cluster_ok() {
  redis-cli -p "${ports[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok'
}

stop() {
  for p in "${ports[@]}"; do redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true; done
  rm -rf "$dir"
}

start() {
  if cluster_ok; then
    echo "redis-cluster: already up on ${ports[*]}"
    return 0
  fi
  stop
  for p in "${ports[@]}"; do
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "nodes-$p.conf" --dir "$dir/$p" --daemonize yes \
      --save "" --appendonly no --logfile "$dir/$p/redis.log"
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 1 100); do cluster_ok && break; sleep 0.1; done
  cluster_ok || { echo "redis-cluster: did not come up" >&2; return 1; }
  echo "redis-cluster: up on ${ports[*]}"
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 [start|stop]" >&2; exit 2 ;;
esac
