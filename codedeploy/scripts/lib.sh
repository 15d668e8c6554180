#!/usr/bin/env bash
# shellcheck disable=SC2034 # the constants are used by the hooks that source this file
# Shared by the CodeDeploy hook scripts, which source it; not a hook itself.
# Every hook runs from the unpacked revision (the CodeDeploy agent's deployment-archive folder), so
# image.env is found relative to this file; TICKETCLUB_IMAGE in the environment (a manual run)
# takes precedence over the file.

readonly CONTAINER_NAME=ticketclub
readonly HOST_PORT=3000          # published as HOST_PORT -> the container's 3000
readonly ENV_FILE=${TICKETCLUB_ENV_FILE:-/etc/ticketclub/env} # the override is for manual tests
readonly STOP_TIMEOUT=30         # seconds between SIGTERM and SIGKILL
readonly DATA_VOLUME=ticketclub-data
BUNDLE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly BUNDLE_DIR

log() { printf '%s ticketclub-deploy[%s]: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${0##*/}" "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

require() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed on this instance"
  done
}

# Sets TICKETCLUB_IMAGE from the environment or the bundle's image.env (KEY=VALUE lines, parsed,
# never executed).
load_image() {
  local file="$BUNDLE_DIR/image.env" key value from_file=""
  if [[ -f $file ]]; then
    while IFS='=' read -r key value || [[ -n $key ]]; do
      case $key in
        TICKETCLUB_IMAGE) from_file=$value ;;
        '' | '#'*) ;;
        *) die "unexpected key in $file: $key" ;;
      esac
    done <"$file"
  fi
  TICKETCLUB_IMAGE=${TICKETCLUB_IMAGE:-$from_file}
  [[ -n $TICKETCLUB_IMAGE ]] || die "no image: $file is missing or empty and TICKETCLUB_IMAGE is unset"
  [[ $TICKETCLUB_IMAGE =~ ^[A-Za-z0-9._:/@-]+$ ]] || die "malformed image reference: $TICKETCLUB_IMAGE"
  log "image: $TICKETCLUB_IMAGE"
}

# Logs Docker in to the image's registry when it is Amazon ECR (credentials from the instance
# profile, valid 12 hours). Other registries: log in once by hand, or use a credential helper.
ecr_login() {
  local registry=${TICKETCLUB_IMAGE%%/*}
  if [[ $registry =~ ^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$ ]]; then
    require aws
    log "logging in to $registry"
    aws ecr get-login-password --region "${BASH_REMATCH[1]}" |
      docker login --username AWS --password-stdin "$registry" >/dev/null
  fi
}

container_exists() { docker container inspect "$CONTAINER_NAME" >/dev/null 2>&1; }

# Graceful stop: `docker stop` sends the image's STOPSIGNAL (SIGTERM); the server disconnects its
# sockets, so their clients reconnect through the load balancer to other instances, and drains
# requests. SIGKILL only after STOP_TIMEOUT seconds.
stop_container() {
  if container_exists; then
    log "stopping $CONTAINER_NAME (SIGTERM, up to ${STOP_TIMEOUT}s)"
    docker stop --time "$STOP_TIMEOUT" "$CONTAINER_NAME" >/dev/null
    docker rm "$CONTAINER_NAME" >/dev/null
    log "stopped and removed $CONTAINER_NAME"
  else
    log "no $CONTAINER_NAME container here: nothing to stop"
  fi
}
