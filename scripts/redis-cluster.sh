#!/usr/bin/env bash
# A throw-away 3-master Redis Cluster on free ports of 127.0.0.1, with its data and a `ports` file
# under DIR, so two runs on one machine never share (or stop) each other's cluster.
#   scripts/redis-cluster.sh start DIR   prints the URL (redis-cluster://127.0.0.1:PORT) on stdout
#   scripts/redis-cluster.sh stop DIR    stops the nodes listed in DIR/ports and removes DIR
# The tests use the cluster when TICKETCLUB_TEST_REDIS_CLUSTER holds that URL (scripts/test does it).
set -euo pipefail

# A port is taken if something accepts on it. A cluster node also listens on port + 10000 (its bus).
taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Three free ports (and their bus ports) from a random base, so concurrent runs rarely race.
pick_ports() {
  local tries p q ok
  for tries in $(seq 1 50); do
    p=$((20000 + RANDOM % 20000))
    ok=1
    for q in "$p" $((p + 1)) $((p + 2)); do
      if taken "$q" || taken $((q + 10000)); then ok=0; break; fi
    done
    if ((ok)); then echo "$p $((p + 1)) $((p + 2))"; return 0; fi
  done
  echo "redis-cluster: no free ports after $tries tries" >&2
  return 1
}

cluster_ok() {
  redis-cli -p "$1" cluster info 2>/dev/null | grep -q 'cluster_state:ok'
}

stop() {
  local dir=$1 p
  local -a ports=()
  if [[ -f "$dir/ports" ]]; then read -r -a ports <"$dir/ports"; fi
  for p in "${ports[@]}"; do
    redis-cli -p "$p" shutdown nosave >/dev/null 2>&1 || true
  done
  rm -rf "$dir"
}

start() {
  local dir=$1 p picked
  local -a ports
  picked=$(pick_ports)
  read -r -a ports <<<"$picked"
  mkdir -p "$dir"
  # Written first, so `stop` finds whatever started even if the rest fails.
  echo "${ports[*]}" >"$dir/ports"
  for p in "${ports[@]}"; do
    mkdir -p "$dir/$p"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes \
      --cluster-config-file "nodes-$p.conf" --dir "$dir/$p" --daemonize yes \
      --save "" --appendonly no --logfile "$dir/$p/redis.log" >&2
  done
  for p in "${ports[@]}"; do
    for _ in $(seq 1 50); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  done
  redis-cli --cluster create "${ports[@]/#/127.0.0.1:}" --cluster-replicas 0 --cluster-yes >/dev/null
  for _ in $(seq 1 100); do cluster_ok "${ports[0]}" && break; sleep 0.1; done
  cluster_ok "${ports[0]}" || { echo "redis-cluster: did not come up (logs in $dir)" >&2; return 1; }
  echo "redis-cluster: up on ${ports[*]} (data in $dir)" >&2
  echo "redis-cluster://127.0.0.1:${ports[0]}"
}

usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[[ $# -eq 2 ]] || usage
case "$1" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
