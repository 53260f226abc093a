#!/usr/bin/env bash
# The compatibility matrix (run_all.sh stage "matrix"): runs every extra controller cell of tests/matrix/cells.txt
# for real and prints a table cell -> what ran -> result. On each extra cell: ansible-test sanity (--venv, the cell's
# Python), the unit tests (pytest with the cell's ansible-core), and the integration targets whose name starts with
# smtp_check, check_playbook or managed_python (--local, the cell's Python). Each cell's venv is cached under
# ~/.cache/mailops-live-smtp/tools, keyed by its requirements and Python (tests/lib/toolvenv.sh).
# Usage: tests/matrix/run.sh [ansible-test sanity options, e.g. --skip-test pslint]
# Environment: LIVE_SMTP_WORK (staging dir), LIVE_SMTP_MATRIX_CELLS (run only these cells, space separated).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/env.sh
. "$ROOT/tests/lib/env.sh"
# shellcheck source=tests/lib/toolvenv.sh
. "$ROOT/tests/lib/toolvenv.sh"
sanity_args=("$@")
MAIN_PATH=$PATH
MAIN_WORK=$WORK
TARGET_TIMEOUT=${LIVE_SMTP_TARGET_TIMEOUT:-900}
target_pattern='^(smtp_check|check_playbook|managed_python)'

rows=()
failed=0
row() { rows+=("$1|$2|$3"); echo "matrix: $1: $2: $3"; }

# The cell's requirements: its ansible-core pin plus the test dependencies of tests/requirements.txt, without the
# main venv's ansible-core pin and the tools that run only in the main venv (lint, changelog, vermin).
cell_requirements() {
  echo "$1"
  grep -vE '^[[:space:]]*(#|$|ansible-core|ansible-lint|antsibull-changelog|vermin)' "$ROOT/tests/requirements.txt"
}

# step CELL WHAT COMMAND...: runs one step of a cell, records its row.
step() {
  local cell=$1 what=$2 start=$SECONDS rc=0
  shift 2
  echo "##### matrix: $cell: $what"
  timeout --kill-after=30 "$TARGET_TIMEOUT" "$@" || rc=$?
  if [ "$rc" -eq 0 ]; then
    row "$cell" "$what" "passed in $((SECONDS - start)) s"
  else
    row "$cell" "$what" "FAILED (exit $rc) in $((SECONDS - start)) s"
    failed=1
  fi
}

run_cell() {
  local cell=$1 requirement=$2 pyver=$3 managed=$4 python venv coll targets t start what
  start=$SECONDS
  if ! python=$(pyenv_python "$pyver"); then
    row "$cell" "controller Python $pyver" "FAILED: not installed"; failed=1; return
  fi
  mkdir -p "$MAIN_WORK/matrix"
  cell_requirements "$requirement" > "$MAIN_WORK/matrix/$cell.requirements.txt"
  if ! venv=$(tool_venv "matrix-$cell" "$MAIN_WORK/matrix/$cell.requirements.txt" "$python"); then
    row "$cell" "venv ($requirement)" "FAILED"; failed=1; return
  fi
  export PATH="$venv/bin:$MAIN_PATH"
  WORK="$MAIN_WORK/matrix/$cell"
  export ANSIBLE_COLLECTIONS_PATH=$WORK
  coll=$(stage_collection)
  row "$cell" "venv: $("$venv/bin/ansible" --version | head -n 1), Python $("$venv/bin/python" -c 'import platform; print(platform.python_version())')" "ready in $((SECONDS - start)) s"
  cd "$coll"
  step "$cell" "ansible-test sanity --venv --python $pyver" \
    ansible-test sanity --venv --python "$pyver" --color no "${sanity_args[@]}"
  step "$cell" "units (pytest tests/unit)" \
    env PYTHONPATH="$WORK" python -m pytest -q -p no:cacheprovider tests/unit
  if ! targets=$(ansible-test integration --list-targets --local --python "$pyver" --color no | grep -E "$target_pattern"); then
    row "$cell" "integration targets matching $target_pattern" "FAILED: none found"; failed=1
  fi
  for t in $targets; do
    what="integration $t (--local --python $pyver)"
    [[ "$t" != managed_python* ]] || what="integration $t (--local --python $pyver; managed nodes: Python $managed)"
    step "$cell" "$what" \
      ansible-test integration --local --python "$pyver" --allow-destructive --allow-root --color no "$t"
  done
  cd "$ROOT"
  export PATH=$MAIN_PATH ANSIBLE_COLLECTIONS_PATH=$MAIN_WORK
  WORK=$MAIN_WORK
}

while read -r cell requirement pyver managed; do
  case "$cell" in ''|'#'*) continue ;; esac
  if [ -n "${LIVE_SMTP_MATRIX_CELLS:-}" ] && [[ " $LIVE_SMTP_MATRIX_CELLS " != *" $cell "* ]]; then
    row "$cell" "(not selected by LIVE_SMTP_MATRIX_CELLS)" "not run"; continue
  fi
  if [ "$requirement" = main ]; then
    row "$cell" "sanity, units, integration (all targets; managed_python with Python $managed)" \
      "not run here: the run_all.sh stages sanity, units and integration run this cell"
    continue
  fi
  run_cell "$cell" "$requirement" "$pyver" "$managed" < /dev/null
done < "$ROOT/tests/matrix/cells.txt"

echo "##### matrix: cell -> what ran -> result"
printf '%s\n' "${rows[@]}" | awk -F'|' '{ printf "%-16s %-90s %s\n", $1, $2, $3 }'
exit "$failed"
