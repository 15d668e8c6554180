#!/usr/bin/env bash
# ValidateService: poll GET /readyz (database and Redis reachable, migrations current) until it
# answers 200. While the server has no /readyz (404), GET /healthz stands in. Bounded: fails the
# deployment, which CodeDeploy can then roll back, after ATTEMPTS tries.
set -euo pipefail
# shellcheck source=codedeploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

readonly ATTEMPTS=45 DELAY=2 REQUEST_TIMEOUT=3 # at most about 45 * (3 + 2) s = 225 s < the hook's 300 s
require docker curl

body=$(mktemp)
trap 'rm -f "$body"' EXIT

path=/readyz
for ((attempt = 1; attempt <= ATTEMPTS; attempt++)); do
  state=$(docker container inspect --format '{{.State.Status}}' "$CONTAINER_NAME" 2>/dev/null || echo missing)
  if [[ $state != running ]]; then
    log "container $CONTAINER_NAME is $state"
    docker logs --tail 50 "$CONTAINER_NAME" 2>&1 || true
    die "the server is not running"
  fi

  :>"$body"
  code=$(curl --silent --output "$body" --max-time "$REQUEST_TIMEOUT" --write-out '%{http_code}' \
    "http://127.0.0.1:${HOST_PORT}${path}" || true)
  if [[ $code == 200 ]]; then
    log "GET $path: 200 after $attempt attempt(s)"
    exit 0
  fi
  if [[ $code == 404 && $path == /readyz ]]; then
    log "GET /readyz: 404, this version has no readiness route; using /healthz"
    path=/healthz
    continue
  fi
  log "attempt $attempt/$ATTEMPTS: GET $path: ${code:-000} $(head -c 300 "$body" | tr -d '\r\n')"
  sleep "$DELAY"
done

docker logs --tail 50 "$CONTAINER_NAME" 2>&1 || true
die "GET $path did not answer 200 in $ATTEMPTS attempts"
