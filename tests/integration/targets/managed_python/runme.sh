#!/usr/bin/env bash
# The managed-node side of the compatibility matrix: smtp_check and the token helper live-smtp-token run under each
# managed-node Python that tests/matrix/cells.txt lists for this controller's cell (ansible-core X.Y on Python X.Y),
# set as ansible_python_interpreter, against the stand-in. The interpreters come from pyenv; a missing one fails.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. ../setup_standin/standin.sh
root=$(_standin_find_root)
# shellcheck source=tests/lib/toolvenv.sh
. "$root/tests/lib/toolvenv.sh"

fail() { echo "managed_python: FAIL: $*" >&2; standin_dump || true; exit 1; }

core=$(python -c 'from ansible.release import __version__ as v; print(".".join(v.split(".")[:2]))')
controller=$(python -c 'import sys; print("%d.%d" % sys.version_info[:2])')
cell="core$core-py$controller"
managed=$(awk -v cell="$cell" '$1 == cell { print $4 }' "$root/tests/matrix/cells.txt")
[ -n "$managed" ] || fail "no row for the cell $cell (ansible-core $core on Python $controller) in tests/matrix/cells.txt"
echo "managed_python: cell $cell: managed-node Pythons $managed"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/managed_python.XXXXXX")
chmod 700 "$tmp"
trap 'rm -rf "$tmp"' EXIT   # standin_start adds the stand-in's stop to this trap
standin_start "$tmp/standin" --keep-refresh-tokens --lifetime 900 --scenarios outlook,consumer

# One managed host per interpreter, all on this machine.
{
  echo "all:"
  echo "  hosts:"
  for version in ${managed//,/ }; do
    interpreter=$(pyenv_python "$version") || fail "Python $version is not installed (pyenv install $version)"
    echo "    py$version: {ansible_connection: local, ansible_python_interpreter: $interpreter, expected_python: '$version'}"
  done
} > "$tmp/inventory.yml"

log="$tmp/smtp_check.log"
if ! ansible-playbook -i "$tmp/inventory.yml" -e "standin_ready=$STANDIN_READY" playbooks/smtp_check.yml >"$log" 2>&1; then
  cat "$log"
  fail "smtp_check under the managed-node Pythons"
fi
! grep -n Traceback "$log" || fail "a traceback in the output"
grep -E '^py[0-9.]+ +:' "$log"
hosts=$(grep -cE '^py[0-9.]+ +: ok=[1-9][0-9]* .*failed=0' "$log")
[ "$hosts" = "$(grep -c ansible_python_interpreter "$tmp/inventory.yml")" ] || fail "not every host passed"

# The token helper: the role installs it with its wrapper pointing at the interpreter under test, seeds a store
# (live-smtp-token --seed, run by the role through the wrapper) and the wrapper then gets a token from the stand-in.
token_url=$(standin_get token_url)
for version in ${managed//,/ }; do
  interpreter=$(pyenv_python "$version")
  dir="$tmp/token-$version"
  mkdir -m 700 "$dir"
  cat > "$dir/vars.yml" <<YAML
oauth2_token_owner: root
oauth2_token_helper: $dir/lib/live-smtp-token
oauth2_token_state_dir: $dir/state
oauth2_token_keepalive: false   # this target is about the helper's Python; no cron job left behind
live_smtp_accounts:
  - name: oauth
    host: localhost
    port: $(standin_port outlook)
    username: $(standin_get accounts.user)
    ca_file: $STANDIN_CA
    oauth2:
      client_id: $(standin_get accounts.client_id)
      refresh_token: $(standin_get accounts.refresh_token)
      token_url: $token_url
YAML
  if ! ansible-playbook -i localhost, -c local -e "@$dir/vars.yml" -e "__oauth2_token_python=$interpreter" \
      -e "ansible_python_interpreter=$interpreter" playbooks/token_helper.yml >"$dir/role.log" 2>&1; then
    cat "$dir/role.log"
    fail "the role oauth2_token with the helper on Python $version"
  fi
  grep -qF "exec '$interpreter' -I" "$dir/lib/live-smtp-token" || grep -qF "exec $interpreter -I" "$dir/lib/live-smtp-token" \
    || fail "the wrapper does not run $interpreter: $(grep exec "$dir/lib/live-smtp-token")"
  store="$dir/state/root/oauth.json"
  [ "$(stat -c '%U %a' "$store")" = "root 600" ] || fail "store of Python $version: $(stat -c '%U %a' "$store")"
  token=$("$dir/lib/live-smtp-token" "$store" 2>"$dir/token.err") || fail "live-smtp-token on Python $version: $(cat "$dir/token.err")"
  [ ! -s "$dir/token.err" ] || fail "live-smtp-token on Python $version wrote to stderr: $(cat "$dir/token.err")"
  python - "$STANDIN_DIR/state.json" "$token" <<'PY' || fail "the stand-in did not issue the token printed on Python $version"
import json, sys
sys.exit(0 if sys.argv[2] in json.load(open(sys.argv[1]))["access_tokens"] else 1)
PY
  [ "$("$dir/lib/live-smtp-token" "$store")" = "$token" ] || fail "the second call on Python $version did not reuse the cached token"
  echo "managed_python: token helper on Python $version ($interpreter): seeded, token issued by the stand-in, cache reused"
done
echo "managed_python: all passed ($managed)"
