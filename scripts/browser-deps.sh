#!/usr/bin/env bash
# What the browser test (client-demo/e2e) needs: Debian's chromium (installed when missing, with
# a small CJK font so the area names in the screenshots are readable) and playwright-core from
# client-demo/e2e/package-lock.json. Called from scripts/test; safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

# CHROMIUM_PATH names another Chromium build (e.g. a CI runner's Chrome); by default Debian's.
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
    if [[ "$(id -u)" -ne 0 ]]; then
        echo "chromium is missing: run as root, or: sudo apt-get install chromium fonts-wqy-microhei" >&2
        exit 1
    fi
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-wqy-microhei
fi
"$chromium" --version

npm ci --prefix client-demo/e2e --no-audit --no-fund --loglevel=error
