#!/usr/bin/env bash
# Runs the round-trip benchmark (figures only, never a pass/fail): bash tests/bench/run.sh [roundtrips.py options]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Installs what is missing (a second run only checks).
bash "$ROOT/tests/setup.sh" >&2
# shellcheck source=tests/lib/env.sh
. "$ROOT/tests/lib/env.sh"
# The library imports itself as ansible_collections.mailops.live_smtp...: run it from a staged copy.
COLL=$(stage_collection)
PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}" exec python "$COLL/tests/bench/roundtrips.py" "$@"
