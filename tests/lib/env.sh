# Sourced by the test scripts: the venv on PATH and a staged copy of the collection where ansible-test wants it.
# shellcheck shell=bash
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
VENV=${LIVE_SMTP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mailops-live-smtp/venv}
export PATH="$VENV/bin:$PATH"
PYVER=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
export PYVER
WORK=${LIVE_SMTP_WORK:-/tmp/mailops-live-smtp-work}
export ANSIBLE_COLLECTIONS_PATH="$WORK"

# Copies the files git knows (tracked, or untracked and not ignored) into
# $WORK/ansible_collections/mailops/live_smtp and prints that path.
stage_collection() {
  local dest="$WORK/ansible_collections/mailops/live_smtp"
  mkdir -p "$dest/tests"
  # Start clean each time but keep ansible-test's cache of venvs in tests/output.
  find "$dest" -mindepth 1 -maxdepth 1 ! -name tests -exec rm -rf {} +
  find "$dest/tests" -mindepth 1 -maxdepth 1 ! -name output -exec rm -rf {} +
  (cd "$ROOT" && git ls-files -co --exclude-standard -z | rsync -a --from0 --ignore-missing-args --files-from=- ./ "$dest/")
  echo "$dest"
}
