#!/usr/bin/env bash
# Makes sure MariaDB (127.0.0.1:3306, root, empty password) and Redis (127.0.0.1:6379) answer,
# starting them when they do not. Safe to run again: a service that answers is left alone.
set -euo pipefail

wait_for() { # wait_for NAME COMMAND...: retry for up to 30 s
  local name=$1; shift
  for _ in $(seq 1 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "services: $name did not come up" >&2
  return 1
}

mariadb_up() { mariadb-admin -h127.0.0.1 -P3306 -uroot ping; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG; }

if ! mariadb_up >/dev/null 2>&1; then
  echo "services: starting MariaDB"
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
  wait_for MariaDB mariadb_up
fi

if ! redis_up >/dev/null 2>&1; then
  echo "services: starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
  wait_for Redis redis_up
fi
# The suite runs two tests at a time, some with several server instances each holding a pool;
# MariaDB's default of 151 connections left no room once other work shared the server (CI saw
# "Too many connections"). Raise the limit for the running server only (not persisted).
want_connections=500
have_connections=$(mariadb -h127.0.0.1 -P3306 -uroot -N -e "SELECT @@GLOBAL.max_connections")
if (( have_connections < want_connections )); then
  echo "services: MariaDB max_connections $have_connections -> $want_connections"
  mariadb -h127.0.0.1 -P3306 -uroot -e "SET GLOBAL max_connections = $want_connections"
fi
# HAProxy runs the balancer tests with deploy/haproxy/ticketclub.cfg (the tests start it).
if ! command -v haproxy >/dev/null 2>&1; then
  echo "services: installing haproxy"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null
  # The package starts a system instance we do not use.
  service haproxy stop >/dev/null 2>&1 || true
fi
echo "services: MariaDB and Redis answer; haproxy is installed"
