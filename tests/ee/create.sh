#!/usr/bin/env bash
# run_all.sh stage "ee": ansible-builder create (there is no container engine here, so no build) for the example
# execution environment docs/examples/execution-environment.yml, with the collection taken from the tarball built
# from this tree, then tests/ee/check_context.py checks the build context: the tarball and the requirements in it,
# and that ansible-builder's own introspection (the script the image build runs) picks up the collection's Python
# and system requirements (meta/execution-environment.yml).
# Usage: tests/ee/create.sh COLLECTION_DIR OUT_DIR
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/toolvenv.sh
. "$ROOT/tests/lib/toolvenv.sh"
coll=$1 out=$2

builder=$(tool_venv ansible-builder "$ROOT/tests/tools/ansible-builder.txt")
# The example as shipped (collection from Galaxy): ansible-builder accepts it and puts the collection in the context.
"$builder/bin/ansible-builder" create --file "$ROOT/docs/examples/execution-environment.yml" \
  --context "$out/context-example" --output-filename Containerfile >/dev/null
python - "$out/context-example/_build/requirements.yml" <<'PY'
import sys, yaml
names = [entry["name"] for entry in yaml.safe_load(open(sys.argv[1]))["collections"]]
assert names == ["mailops.live_smtp"], "the example's requirements.yml lists %s" % names
print("ee: the example docs/examples/execution-environment.yml makes a context installing %s" % names)
PY
ansible-galaxy collection build --output-path "$out" "$coll" >/dev/null
tarball=$(ls "$out"/mailops-live_smtp-*.tar.gz)
# The example, with the collection from this tarball instead of Galaxy (the way docs/awx.md describes for a
# collection that is not on Galaxy).
python "$ROOT/tests/ee/check_context.py" definition "$ROOT/docs/examples/execution-environment.yml" "$tarball" \
  > "$out/execution-environment.yml"
"$builder/bin/ansible-builder" create --file "$out/execution-environment.yml" --context "$out/context" \
  --output-filename Containerfile -v 2
ANSIBLE_COLLECTIONS_PATH="$out/installed" ansible-galaxy collection install --offline --force -p "$out/installed" "$tarball" >/dev/null
python "$ROOT/tests/ee/check_context.py" check "$out/context" "$tarball" "$out/installed" "$coll"
