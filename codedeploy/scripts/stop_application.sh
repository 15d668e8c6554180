#!/usr/bin/env bash
# ApplicationStop: stop the running server gracefully (SIGTERM, then up to 30 s).
# CodeDeploy runs the PREVIOUS revision's copy of this script, and none on a first deployment.
set -euo pipefail
# shellcheck source=codedeploy/scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require docker
stop_container
