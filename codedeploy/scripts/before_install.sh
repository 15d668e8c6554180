#!/usr/bin/env bash
# BeforeInstall: check the host, then pull the new image (so ApplicationStart only starts it).
set -euo pipefail
# shellcheck source=codedeploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require docker
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer"

# The operator-managed settings and secrets (never in the repository or the bundle).
[[ -f $ENV_FILE ]] || die "$ENV_FILE is missing: create it first (README, Deploying)"
if [[ $(stat -c '%a' "$ENV_FILE") =~ [1-7]$ ]]; then
  log "warning: $ENV_FILE is readable by other users; it holds secrets (chmod 600)"
fi

load_image
ecr_login
log "pulling $TICKETCLUB_IMAGE"
docker pull --quiet "$TICKETCLUB_IMAGE" >/dev/null
log "pulled"
