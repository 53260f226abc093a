#!/usr/bin/env bash
# Runs every test of the collection: sanity, unit, integration (real Postfix, msmtp, ansible-vault, swaks against
# the bundled stand-in server), lint. Usage: tests/run_all.sh [stage ...]   (stages: sanity units integration lint)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/tests/setup.sh"
# shellcheck source=tests/lib/env.sh
. "$ROOT/tests/lib/env.sh"

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity units integration lint)

COLL=$(stage_collection)
cd "$COLL"
echo "run_all: collection staged at $COLL"

failed=()
run_stage() {
  local name=$1; shift
  echo "=== $name"
  local start=$SECONDS
  if "$@"; then
    echo "=== $name: passed in $((SECONDS - start)) s"
  else
    echo "=== $name: FAILED in $((SECONDS - start)) s"
    failed+=("$name")
  fi
}

for stage in "${stages[@]}"; do
  case "$stage" in
    sanity)
      run_stage sanity ansible-test sanity --venv --python "$PYVER" --color no ;;
    units)
      # pytest exits 5 when it collects nothing: that is a failure here, the suite must have tests.
      run_stage units python -m pytest -q -p no:cacheprovider tests/unit ;;
    integration)
      run_stage integration ansible-test integration --local --python "$PYVER" --allow-destructive --allow-root --color no ;;
    lint)
      run_stage lint ansible-lint --offline --profile production ;;
    *) echo "run_all: unknown stage $stage" >&2; exit 2 ;;
  esac
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "run_all: FAILED stages: ${failed[*]}"
  exit 1
fi
echo "run_all: all stages passed (${stages[*]})"
