#!/usr/bin/env bash
# A throw-away 3-master Redis Cluster on free ports of 127.0.0.1, with its data and a `ports` file
# under DIR, so two runs on one machine never share (or stop) each other's cluster.
#   scripts/redis-cluster.sh start DIR   prints the URL (redis-cluster://127.0.0.1:PORT) on stdout
#   scripts/redis-cluster.sh stop DIR    stops the nodes listed in DIR/ports and removes DIR
# The tests use the cluster when TICKETCLUB_TEST_REDIS_CLUSTER holds that URL (scripts/test does it).
set -euo pipefail

# A port is taken if something accepts on it. A cluster node also listens on port + 10000 (its bus).
taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The first port the kernel hands out to outgoing connections: a node's port or bus port at or
# above it can be in use as the local end of a client connection (the test suite opens
# thousands), which no listening check sees, and the node then fails to bind.
ephemeral_low() {
  local low _
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || low=32768
  echo "$low"
}

# Three free ports (and their bus ports) from a random base below the outgoing connections'
# range, so concurrent runs rarely race.
pick_ports() {
  local tries p q ok span
  span=$(($(ephemeral_low) - 10003 - 10000))
  ((span > 0)) || span=1
  for tries in $(seq 1 50); do
    p=$((10000 + RANDOM % span))
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

# Starts the three nodes on free ports; fails (saying why, and stopping what started) if one
# does not answer within 5 s.
start_nodes() {
  local dir=$1 p picked up
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
      --save "" --appendonly no --logfile "$dir/$p/redis.log" >&2 || true
  done
  for p in "${ports[@]}"; do
    up=0
    for _ in $(seq 1 50); do
      if redis-cli -p "$p" ping >/dev/null 2>&1; then up=1; break; fi
      sleep 0.1
    done
    if ((!up)); then
      echo "redis-cluster: the node on port $p did not start; its log:" >&2
      tail -n 5 "$dir/$p/redis.log" >&2 2>/dev/null || true
      return 1
    fi
  done
}

start() {
  local dir=$1 attempt
  local -a ports
  for attempt in 1 2 3; do
    if start_nodes "$dir"; then break; fi
    stop "$dir"
    if ((attempt == 3)); then
      echo "redis-cluster: no node set started in 3 attempts" >&2
      return 1
    fi
    echo "redis-cluster: trying other ports" >&2
  done
  read -r -a ports <"$dir/ports"
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
