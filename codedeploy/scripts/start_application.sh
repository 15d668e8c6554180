#!/usr/bin/env bash
# ApplicationStart: run the new image with the operator's env file.
set -euo pipefail
# shellcheck source=codedeploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require docker
load_image
# Normally gone already (ApplicationStop); not after a first deployment onto a host that had one
# started by hand, or after a failed deployment.
stop_container

# --ulimit: one descriptor per socket; the original ran with 1048576.
# --restart unless-stopped: back after a crash or a reboot, but not after `docker stop`.
log "starting $CONTAINER_NAME"
docker run --detach \
  --name "$CONTAINER_NAME" \
  --env-file "$ENV_FILE" \
  --publish "${HOST_PORT}:3000" \
  --ulimit nofile=1048576:1048576 \
  --restart unless-stopped \
  --stop-timeout "$STOP_TIMEOUT" \
  --volume "${DATA_VOLUME}:/data" \
  "$TICKETCLUB_IMAGE" >/dev/null

# Images no container uses any more (earlier releases; pulled by digest, so untagged).
docker image prune --force >/dev/null || log "warning: docker image prune failed"
log "started"
