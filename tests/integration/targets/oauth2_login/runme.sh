#!/usr/bin/env bash
# `[ A ] && grep B || fail` is meant throughout: fail when either check fails.
# shellcheck disable=SC2015
# Integration test of the onboarding playbook mailops.live_smtp.oauth2_login against the stand-in: the device
# authorization grant from start to end (the vault file decrypts, with the real ansible-vault, to exactly the refresh
# token the stand-in issued; no token or device code in any output at -vvvv or in the log), a denied and an expired
# code and a sign-in without a vault secret leave the file byte-identical, a rerun replaces only that variable, and
# the authorization code grant with PKCE and a loopback redirect works the same way.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../setup_standin/standin.sh
. "$here/../setup_standin/standin.sh"

T=$(mktemp -d /tmp/oauth2-login-test.XXXXXX)
mkdir -p "$T/out"
cleanup() {
  local rc=$?
  [ -z "${bg_pid:-}" ] || kill "$bg_pid" 2>/dev/null || true
  standin_stop
  if [ "$rc" -ne 0 ]; then
    echo "---- oauth2_login: FAILED (rc $rc); logs in $T/out (kept)" >&2
    standin_dump || true
  else
    rm -rf "$T"
  fi
}
fail() { echo "oauth2_login: FAIL: $*" >&2; exit 1; }
pass() { echo "oauth2_login: ok: $*"; }

standin_start "$T/standin" --lifetime 600 --scenarios outlook --device-interval 1
trap cleanup EXIT

client_id=$(standin_get accounts.client_id)
token_url=$(standin_get token_url)
control=$(standin_get control_url)
state_json="$T/standin/state.json"
printf '%s\n' "login-vault-$(head -c 24 /dev/urandom | base64)" > "$T/vault-pass"
chmod 0600 "$T/vault-pass"
export ANSIBLE_LOG_PATH="$T/out/ansible.log" ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0

vars="$T/vault.yml"
other=$(ansible-vault encrypt_string --vault-password-file "$T/vault-pass" --name vault_other_secret 'keep-me-42' 2>/dev/null)
cat > "$vars" <<YAML
---
# Secrets of the mail hosts (this comment stays).
live_smtp_relay_user: alerts@outlook.com   # trailing comment stays
vault_outlook_refresh_token: "placeholder, replaced by the login"
${other}
# a comment after the vaulted block
live_smtp_list:
  - one
  - two
YAML
chmod 0644 "$vars"

login() {  # login NAME [ansible-playbook args...]: runs the playbook in the background, output in out/NAME.log
  local name=$1
  shift
  ansible-playbook mailops.live_smtp.oauth2_login -i localhost, -c local -vvvv \
    -e "oauth2_login_client_id=$client_id" -e "oauth2_login_token_url=$token_url" \
    -e "oauth2_login_ca_path=$STANDIN_CA" -e "oauth2_login_vars_file=$vars" \
    -e "oauth2_login_variable=vault_outlook_refresh_token" -e oauth2_login_timeout=60 "$@" \
    > "$T/out/$name.log" 2>&1 &
  bg_pid=$!
}
finish() {  # finish: sets rc to the exit status of the background playbook
  rc=0
  wait "$bg_pid" || rc=$?
  bg_pid=
}
decide() {  # decide ACTION: approve/deny/expire the pending device code once the playbook has asked for one
  local answer
  for _ in $(seq 1 120); do
    if answer=$(curl -sS -f --cacert "$STANDIN_CA" -d "action=$1" "$control/device" 2>/dev/null); then
      python3 -c 'import json, sys; print(json.loads(sys.argv[1])["user_code"])' "$answer"
      return 0
    fi
    kill -0 "$bg_pid" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}
decrypt_var() {  # decrypt_var FILE NAME: the plaintext of an inline-vaulted variable, with the real ansible-vault CLI
  python3 - "$1" "$2" > "$T/cipher" <<'PY'
import re, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
start = [i for i, line in enumerate(lines) if re.match(r"%s:\s*!vault\s*\|" % re.escape(sys.argv[2]), line)]
assert len(start) == 1, "variable %s: %d vaulted blocks" % (sys.argv[2], len(start))
for line in lines[start[0] + 1:]:
    if not line.startswith((" ", "\t")):
        break
    print(line.strip())
PY
  ansible-vault decrypt --vault-password-file "$T/vault-pass" --output - "$T/cipher" 2>/dev/null
}
latest_refresh() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["accounts"][0]["latest_refresh_token"])' "$state_json"
}
without_var() {  # the file's lines outside the block of vault_outlook_refresh_token
  python3 - "$1" <<'PY'
import re, sys
out, skip = [], False
for line in open(sys.argv[1], encoding="utf-8").read().splitlines():
    if re.match(r"vault_outlook_refresh_token\s*:", line):
        skip = True
        continue
    if skip and line.startswith((" ", "\t")):
        continue
    skip = False
    out.append(line)
print("\n".join(out))
PY
}
leak_check() {  # leak_check: no refresh/access token or device/authorization code of the stand-in in any output
  python3 - "$state_json" "$T/out" <<'PY'
import json, os, sys
state = json.load(open(sys.argv[1]))
secrets = list(state["refresh_tokens"]) + list(state["access_tokens"]) + list(state.get("device_codes", {}))
leaks = []
for name in sorted(os.listdir(sys.argv[2])):
    text = open(os.path.join(sys.argv[2], name), encoding="utf-8", errors="replace").read()
    leaks += ["%s holds a secret of the stand-in (%s...)" % (name, s[:6]) for s in secrets if s in text]
print("\n".join(leaks))
sys.exit(1 if leaks else 0)
PY
}

# ---------------------------------------------------------------------------------------- device code: start to end
without_var "$vars" > "$T/rest.before"
login device1 --vault-password-file "$T/vault-pass"
code=$(decide approve) || fail "device1: no device code was asked for: $(tail -20 "$T/out/device1.log")"
finish
[ "$rc" = 0 ] || fail "device1: rc $rc: $(tail -30 "$T/out/device1.log")"
grep -q "URL:  https://microsoft.com/devicelogin" "$T/out/device1.log" && grep -q "code: $code" "$T/out/device1.log" \
  || fail "device1: the URL and the user code $code were not printed"
token=$(latest_refresh)
[ "$(decrypt_var "$vars" vault_outlook_refresh_token)" = "$token" ] \
  || fail "device1: the vault file does not decrypt to the refresh token the stand-in issued"
[ "$(decrypt_var "$vars" vault_other_secret)" = "keep-me-42" ] || fail "device1: the other vaulted variable changed"
without_var "$vars" > "$T/rest.after"
diff "$T/rest.before" "$T/rest.after" > "$T/out/rest.diff" || fail "device1: lines outside the variable changed"
[ "$(stat -c %a "$vars")" = 600 ] || fail "device1: mode $(stat -c %a "$vars"), not 600"
grep -q "# a comment after the vaulted block" "$vars" && grep -q "# trailing comment stays" "$vars" \
  || fail "device1: comments were lost"
leftovers=$(find "$T" -maxdepth 1 -name '.vault.yml.*' | wc -l)
[ "$leftovers" = 0 ] || fail "device1: a temporary file was left behind"
pass "device code: approved as $code, vault file decrypts (ansible-vault) to the issued token, rest unchanged, 0600"

# The refresh token works: redeem it at the token endpoint.
standin_redeem "$token" > /dev/null || fail "device1: the vaulted refresh token is not accepted by the stand-in"
pass "device code: the vaulted refresh token redeems at the token endpoint"

# ----------------------------------------------------------------------- failures leave the file byte-identical
sum_before=$(sha256sum < "$vars")
for action in deny expire; do
  login "device_$action" --vault-password-file "$T/vault-pass"
  decide "$action" > /dev/null || fail "$action: no device code was asked for"
  finish
  [ "$rc" != 0 ] || fail "$action: the playbook succeeded"
  word=$([ "$action" = deny ] && echo authorization_declined || echo expired_token)
  grep -q "sign-in failed ($word)" "$T/out/device_$action.log" || fail "$action: no '$word' in the output"
  grep -q "was not changed" "$T/out/device_$action.log" || fail "$action: the output does not say the file is unchanged"
  ! grep -q Traceback "$T/out/device_$action.log" || fail "$action: a traceback"
  [ "$(sha256sum < "$vars")" = "$sum_before" ] || fail "$action: the vars file changed"
  pass "device code $action: reason $word, file byte-identical"
done

# No vault secret: refused before anyone is asked to sign in.
codes_before=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["device_codes"]))' "$state_json")
login novault
finish
[ "$rc" != 0 ] && grep -q "no vault secret" "$T/out/novault.log" || fail "novault: rc $rc: $(tail -5 "$T/out/novault.log")"
codes_after=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["device_codes"]))' "$state_json")
[ "$codes_before" = "$codes_after" ] || fail "novault: a device code was requested anyway"
[ "$(sha256sum < "$vars")" = "$sum_before" ] || fail "novault: the vars file changed"
pass "no vault secret: refused before the sign-in, file byte-identical"

# A vars file that is not YAML: refused with the line, unchanged, no sign-in.
printf 'a: [1\nb: 2\n' > "$T/broken.yml"
cp -p "$T/broken.yml" "$T/broken.orig"
login broken --vault-password-file "$T/vault-pass" -e "oauth2_login_vars_file=$T/broken.yml"
finish
[ "$rc" != 0 ] && grep -q "is not valid YAML at line" "$T/out/broken.log" || fail "broken: $(tail -5 "$T/out/broken.log")"
cmp -s "$T/broken.yml" "$T/broken.orig" || fail "broken: the file changed"
pass "a broken vars file is refused (line named), unchanged"

# Check mode: nothing asked, nothing written.
login check --vault-password-file "$T/vault-pass" --check
finish
[ "$rc" = 0 ] && grep -q "would sign in" "$T/out/check.log" || fail "check: rc $rc"
[ "$(sha256sum < "$vars")" = "$sum_before" ] || fail "check: the vars file changed"
pass "check mode: reports what it would do, file byte-identical"

# ------------------------------------------------------------------- rerun: replaces only that one variable
login device2 --vault-password-file "$T/vault-pass"
decide approve > /dev/null || fail "device2: no device code was asked for"
finish
[ "$rc" = 0 ] || fail "device2: rc $rc"
token2=$(latest_refresh)
[ "$token2" != "$token" ] && [ "$(decrypt_var "$vars" vault_outlook_refresh_token)" = "$token2" ] \
  || fail "device2: the variable does not hold the new token"
[ "$(grep -c '^vault_outlook_refresh_token:' "$vars")" = 1 ] || fail "device2: the variable is in the file twice"
without_var "$vars" > "$T/rest.after2"
diff "$T/rest.before" "$T/rest.after2" > /dev/null || fail "device2: lines outside the variable changed"
[ "$(decrypt_var "$vars" vault_other_secret)" = "keep-me-42" ] || fail "device2: the other vaulted variable changed"
pass "rerun: only vault_outlook_refresh_token changed, it decrypts to the new token"

# -------------------------------------------------------- authorization code with PKCE and a loopback redirect
# The "browser" is curl: it follows the stand-in's redirect to the playbook's loopback listener.
# shellcheck disable=SC2016  # $1 is for the generated script, not for this shell
printf '#!/bin/sh\nexec curl -sS -L --max-time 30 --cacert %s -o /dev/null "$1"\n' "$STANDIN_CA" > "$T/browser"
chmod 0755 "$T/browser"
BROWSER="$T/browser %s" login pkce --vault-password-file "$T/vault-pass" -e oauth2_login_flow=auth_code
finish
[ "$rc" = 0 ] || fail "pkce: rc $rc: $(tail -30 "$T/out/pkce.log")"
token3=$(latest_refresh)
[ "$token3" != "$token2" ] && [ "$(decrypt_var "$vars" vault_outlook_refresh_token)" = "$token3" ] \
  || fail "pkce: the variable does not hold the token of the PKCE sign-in"
grep -q "oauth2/v2.0/authorize?" "$T/out/pkce.log" && grep -q "code_challenge_method=S256" "$T/out/pkce.log" \
  || fail "pkce: the sign-in URL was not printed"
pass "authorization code + PKCE: loopback redirect, vault file decrypts to the issued token"

curl -sS -f --cacert "$STANDIN_CA" -d mode=deny "$control/authorize" > /dev/null
sum_before=$(sha256sum < "$vars")
BROWSER="$T/browser %s" login pkce_deny --vault-password-file "$T/vault-pass" -e oauth2_login_flow=auth_code
finish
[ "$rc" != 0 ] && grep -q "sign-in failed (authorization_declined)" "$T/out/pkce_deny.log" \
  || fail "pkce_deny: rc $rc: $(tail -5 "$T/out/pkce_deny.log")"
[ "$(sha256sum < "$vars")" = "$sum_before" ] || fail "pkce_deny: the vars file changed"
pass "authorization code declined: reason authorization_declined, file byte-identical"

# ---------------------------------------------------------------------------------------------------- no leaks
cp "$ANSIBLE_LOG_PATH" "$T/out/ansible.log.copy" 2>/dev/null || true
leak_check > "$T/out/leaks.txt" || fail "a secret leaked: $(cat "$T/out/leaks.txt")"
grep -q "^PLAYBOOK: oauth2_login.yml" "$T/out/device1.log" && grep -q '"changed": true' "$T/out/device1.log" \
  || fail "device1.log is not the -vvvv output it should be"
[ -s "$ANSIBLE_LOG_PATH" ] || fail "no Ansible log was written"
pass "no refresh token, access token or device code in any output (-vvvv) or in the Ansible log"
