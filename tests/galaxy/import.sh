#!/usr/bin/env bash
# run_all.sh stage "galaxy": galaxy-importer (what Galaxy runs on every upload) on the tarball built from this tree,
# with ansible-doc, ansible-lint and the required-tags check on. It exits 0 on some failures, so
# tests/galaxy/check_result.py reads its log and its JSON result: no ERROR or WARNING line, and what Galaxy shows users
# (tags, links, README, role READMEs, module and filter docs, guides) present.
# Usage: tests/galaxy/import.sh COLLECTION_DIR OUT_DIR
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/lib/toolvenv.sh
. "$ROOT/tests/lib/toolvenv.sh"
coll=$1 out=$2

importer=$(tool_venv galaxy-importer "$ROOT/tests/tools/galaxy-importer.txt")
ansible-galaxy collection build --output-path "$out" "$coll" >/dev/null
tarball=$(ls "$out"/mailops-live_smtp-*.tar.gz)
cat > "$out/galaxy-importer.cfg" <<'CFG'
[galaxy-importer]
check_required_tags = True
run_ansible_doc = True
run_ansible_lint = True
offline_ansible_lint = True
run_ansible_test = False
CFG
rc=0
# The importer finds ansible-doc and ansible-lint on PATH: its own venv's, not the main venv's.
(cd "$out" && PATH="$importer/bin:$PATH" GALAXY_IMPORTER_CONFIG="$out/galaxy-importer.cfg" \
  "$importer/bin/python" -m galaxy_importer.main "$tarball" > importer.log 2>&1) || rc=$?
cat "$out/importer.log"
echo "galaxy: galaxy-importer exited $rc"
python "$ROOT/tests/galaxy/check_result.py" "$out/importer.log" "$out/importer_result.json" "$coll"
