#!/usr/bin/env bash
# `[ A ] && grep B || fail` is meant throughout: fail when either check fails.
# shellcheck disable=SC2015
# Integration test of the role mailops.live_smtp.oauth2_token and its helper live-smtp-token against the stand-in's
# token endpoint: seeding (check mode, apply, idempotence, no clobbering of a rotated refresh token, re-seed on a new
# vault value), caching, expiry, rotation, invalid_grant, unreachable and untrusted endpoints, file modes, no secret
# in any output. The helper runs as an unprivileged test user, as msmtp or Postfix's pipe would.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export TARGET=oauth2_token   # read by target.sh
# shellcheck source=../setup_standin/target.sh
. "$here/../setup_standin/target.sh"

# A user of our own per run (a parallel run of the suite must not delete it under us).
user=lsttok$$
user=${user:0:31}
T=$(mktemp -d /tmp/oauth2-token-test.XXXXXX)
chmod 0755 "$T"   # the test user must traverse it to reach its store directory
mkdir -p "$T/out"
cleanup() {
  local rc=$?
  standin_stop
  if [ "$rc" -ne 0 ]; then
    echo "---- oauth2_token: FAILED (rc $rc); logs in $T/out (kept)" >&2
    standin_dump || true
  else
    rm -rf "$T"
  fi
  rm -f "/etc/cron.d/mailops-live-smtp-token-$user"
  if [ -n "${created_user:-}" ]; then
    userdel "$user" 2>/dev/null || true
    groupdel "$user" 2>/dev/null || true
  fi
}

standin_start "$T/standin" --lifetime 600 --scenarios outlook,refused
trap cleanup EXIT   # replaces standin.sh's trap: cleanup stops the stand-in itself, after reading the exit status
if ! getent passwd "$user" >/dev/null; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
  created_user=1
fi

helper="$T/lib/live-smtp-token"
state="$T/state"
store="$state/$user/oauth.json"
client_id=$(standin_get accounts.client_id)
refresh_token=$(standin_get accounts.refresh_token)
expired_token=$(standin_get accounts.expired_refresh_token)
token_url=$(standin_get token_url)
refused_port=$(standin_port refused)
# A CA the test user can read, which did not sign the stand-in's certificate.
untrusted_ca="$T/untrusted-ca.pem"
install -m 0644 "$(standin_get untrusted_ca_file)" "$untrusted_ca"
bogus_untrusted="M.C5-never-sent-untrusted-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
bogus_unreachable="M.C5-never-sent-unreachable-$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"

printf '%s\n' "test-vault-$(head -c 24 /dev/urandom | base64)" > "$T/vault-pass"
chmod 0600 "$T/vault-pass"
write_secrets() {  # $1 = refresh token of the account "oauth": an ansible-vault encrypted vars file
  ( umask 077
    printf 'vault_oauth_refresh_token: "%s"\nvault_expired_refresh_token: "%s"\nvault_untrusted_refresh_token: "%s"\nvault_unreachable_refresh_token: "%s"\nvault_app_client_secret: "%s"\n' \
      "$1" "$expired_token" "$bogus_untrusted" "$bogus_unreachable" "$app_secret" > "$T/secrets.yml" )
  ansible-vault encrypt --vault-password-file "$T/vault-pass" "$T/secrets.yml" >/dev/null
  grep -q '^[$]ANSIBLE_VAULT;' "$T/secrets.yml" || fail "secrets.yml is not vault-encrypted"
}
app_secret=$(standin_get app.client_secret)
app_key=$(standin_get app_certificate.private_key_file)
write_secrets "$refresh_token"
cat > "$T/accounts.yml" <<EOF
oauth2_token_owner: $user
oauth2_token_helper: $helper
oauth2_token_state_dir: $state
live_smtp_accounts:
  - name: oauth
    host: localhost
    port: $(standin_port outlook)
    username: $(standin_get accounts.user)
    ca_file: $STANDIN_CA
    oauth2:
      client_id: $client_id
      refresh_token: "{{ vault_oauth_refresh_token }}"
      token_url: $token_url
  - name: revoked
    host: localhost
    username: $(standin_get accounts.user)
    ca_file: $STANDIN_CA
    oauth2:
      client_id: $client_id
      refresh_token: "{{ vault_expired_refresh_token }}"
      token_url: $token_url
  - name: untrusted
    host: localhost
    username: $(standin_get accounts.user)
    ca_file: $untrusted_ca
    oauth2:
      client_id: $client_id
      refresh_token: "{{ vault_untrusted_refresh_token }}"
      token_url: $token_url
  - name: unreachable
    host: localhost
    username: $(standin_get accounts.user)
    ca_file: $STANDIN_CA
    oauth2:
      client_id: $client_id
      refresh_token: "{{ vault_unreachable_refresh_token }}"
      token_url: https://localhost:$refused_port/consumers/oauth2/v2.0/token
  - name: app
    host: localhost
    username: $(standin_get app.mailboxes.0)
    ca_file: $STANDIN_CA
    oauth2:
      grant: client_credentials
      client_id: $(standin_get app.client_id)
      tenant: $(standin_get tenant_id)
      token_url: $(standin_get app_token_url)
      client_secret: "{{ vault_app_client_secret }}"
  - name: appcert
    host: localhost
    username: $(standin_get app.mailboxes.0)
    ca_file: $STANDIN_CA
    oauth2:
      grant: client_credentials
      client_id: $(standin_get app.client_id)
      tenant: $(standin_get tenant_id)
      token_url: $(standin_get app_token_url)
      certificate: $(standin_get app_certificate.certificate_file)
      private_key: $app_key
EOF

# run_play NAME [ansible-playbook args]: output in $T/out/NAME.log; prints the changed count of the recap.
run_play() {
  local name=$1 started=$SECONDS
  shift
  if ! ansible-playbook "${PLAYBOOK:-$here/playbooks/role.yml}" -i localhost, -e "test_dir=$T" \
      -e "ansible_python_interpreter=$(command -v python3)" --vault-password-file "$T/vault-pass" "$@" \
      > "$T/out/$name.log" 2>&1; then
    cat "$T/out/$name.log" >&2
    fail "ansible-playbook ($name) failed"
  fi
  echo "oauth2_token: ansible-playbook $name: $((SECONDS - started)) s" >&2
  sed -n 's/^localhost *:.* changed=\([0-9]*\).*/\1/p' "$T/out/$name.log" | tail -n 1
}
token_requests() { grep -c ' token #.* -> ' "$T/standin/transcript.log" || true; }
# call NAME STORE [user]: runs the helper like passwordeval does; stdout/stderr in $T/out/NAME.{out,err}; sets rc.
call() {
  local name=$1 path=$2 as=${3:-$user}
  rc=0
  if [ "$as" = root ]; then
    "$helper" "$path" > "$T/out/$name.out" 2> "$T/out/$name.err" < /dev/null || rc=$?
  else
    runuser -u "$as" -- "$helper" "$path" > "$T/out/$name.out" 2> "$T/out/$name.err" < /dev/null || rc=$?
  fi
}
store_get() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2]))' "$store" "$1"; }

# --- check mode first: reports changes, changes nothing
changed=$(run_play check1 --check --diff -v)
[ "$changed" -gt 0 ] || fail "check mode on a fresh host reported no change"
[ ! -e "$helper" ] && [ ! -e "$state" ] || fail "check mode created files"
pass "check mode on a fresh host: changed=$changed, nothing written"

# --- apply, then idempotence in check mode and for real
changed=$(run_play apply1 --diff -v)
[ "$changed" -gt 0 ] || fail "first run changed nothing"
[ "$(run_play check2 --check --diff -v)" = 0 ] || fail "check mode after apply reports changes"
[ "$(run_play apply2 --diff -v)" = 0 ] || fail "second run is not idempotent"
pass "apply changed=$changed; check mode and second run changed=0"

# --- files: 0600 stores in a 0700 directory of the owner
[ "$(stat -c '%U %a' "$state/$user")" = "$user 700" ] || fail "store dir: $(stat -c '%U %a' "$state/$user")"
for f in "$state/$user"/*; do
  [ "$(stat -c '%U %G %a' "$f")" = "$user $user 600" ] || fail "$f: $(stat -c '%U %G %a' "$f")"
done
[ "$(stat -c '%U %a' "$helper")" = "root 755" ] || fail "helper mode"
[ "$(stat -c '%a' "$T/lib/_oauth2.py")" = 644 ] || fail "_oauth2.py mode"
[ "$(stat -c '%a' "$T/lib/live_smtp_token.py")" = 644 ] || fail "live_smtp_token.py mode"
[ "$(store_get seed_sha256)" = "$(printf '%s' "$refresh_token" | sha256sum | cut -d' ' -f1)" ] || fail "seed hash"
pass "stores 0600 $user:$user in a 0700 directory; helper 0755 root"

# --- first call refreshes, second call uses the cache (no request)
before=$(token_requests)
call first "$store"
[ "$rc" = 0 ] || fail "first call: rc $rc: $(cat "$T/out/first.err")"
[ "$(token_requests)" = $((before + 1)) ] || fail "first call did not make exactly one token request"
[ ! -s "$T/out/first.err" ] || fail "first call wrote to stderr"
[ "$(wc -l < "$T/out/first.out")" = 1 ] || fail "stdout is not one line"
first_token=$(cat "$T/out/first.out")
[ "$first_token" = "$(store_get access_token)" ] || fail "printed token is not the cached one"
python3 - "$T/standin/state.json" "$first_token" <<'EOF' || fail "the stand-in did not issue the printed token"
import json, sys
sys.exit(0 if sys.argv[2] in json.load(open(sys.argv[1]))["access_tokens"] else 1)
EOF
call second "$store"
[ "$rc" = 0 ] && [ "$(cat "$T/out/second.out")" = "$first_token" ] || fail "second call did not return the cached token"
[ "$(token_requests)" = $((before + 1)) ] || fail "second call made a token request"
pass "first call refreshed (1 request), second call returned the cached token (0 requests)"

# --- app-only stores (client secret; certificate and key read from a root-only file into the 0600 store): the user
# gets app tokens the stand-in issued to the app, cached like any other
chmod 0600 "$app_key"
for account in app appcert; do
  app_store="$state/$user/$account.json"
  [ "$(stat -c '%U %a' "$app_store")" = "$user 600" ] || fail "$account store: $(stat -c '%U %a' "$app_store")"
  requests=$(token_requests)
  call "$account" "$app_store"
  [ "$rc" = 0 ] || fail "$account: rc $rc: $(cat "$T/out/$account.err")"
  call "$account-again" "$app_store"
  [ "$rc" = 0 ] && [ "$(cat "$T/out/$account-again.out")" = "$(cat "$T/out/$account.out")" ] || fail "$account: no cached app token"
  [ "$(token_requests)" = $((requests + 1)) ] || fail "$account: not exactly one token request for two calls"
  python3 - "$T/standin/state.json" "$(cat "$T/out/$account.out")" "$(standin_get app.client_id)" "$app_store" <<'PY' || fail "$account: not an app token of the app"
import json, sys
info = json.load(open(sys.argv[1]))["access_tokens"].get(sys.argv[2]) or {}
store = json.load(open(sys.argv[4]))
assert info.get("app") == sys.argv[3], info
assert store["grant"] == "client_credentials" and not store.get("refresh_token"), sorted(store)
assert sys.argv[4].endswith("/app.json") or "-----BEGIN" in (store.get("private_key") or ""), "key not kept as PEM"
PY
done
grep -q "grant_type=client_credentials" "$T/standin/transcript.log" || fail "no client_credentials request seen"
pass "app-only stores (secret, certificate): app tokens for the app, one request for two calls, 0600 $user"
before=$((before + 2))   # the two app-only token requests

# --- rotation: the stand-in rotated the refresh token and invalidated the vaulted one; the store keeps the new one
rotated1=$(store_get refresh_token)
[ "$rotated1" != "$refresh_token" ] || fail "the rotated refresh token was not stored"
[ "$(stat -c '%U %a' "$store")" = "$user 600" ] || fail "store after rotation: $(stat -c '%U %a' "$store")"
# An expired cache refreshes with the rotated token (the vaulted one is now refused by the endpoint).
token_store_expire "$store"
call expired "$store"
[ "$rc" = 0 ] || fail "refresh after expiry: rc $rc: $(cat "$T/out/expired.err")"
second_token=$(cat "$T/out/expired.out")
[ "$second_token" != "$first_token" ] || fail "an expired cache returned the old token"
[ "$(token_requests)" = $((before + 2)) ] || fail "expiry did not make exactly one new request"
rotated2=$(store_get refresh_token)
[ "$rotated2" != "$rotated1" ] || fail "second rotation not stored"
grep -q "grant_type=refresh_token .* -> 400 invalid_grant" "$T/standin/transcript.log" \
  && fail "a refresh used an invalidated refresh token" || true
pass "expired cache refreshed with the rotated refresh token; rotations stored"

# --- a re-run with the same vault value changes nothing and keeps the rotated token
[ "$(run_play apply3 --diff -v)" = 0 ] || fail "re-run after rotation changed something"
[ "$(store_get refresh_token)" = "$rotated2" ] || fail "re-run clobbered the rotated refresh token"
token_store_expire "$store"
call after_rerun "$store"
[ "$rc" = 0 ] || fail "refresh after re-run failed: $(cat "$T/out/after_rerun.err")"
pass "re-run with the same vault value: changed=0, rotated refresh token kept and still works"

# --- a new vault value re-seeds (the user signed in again): get a fresh refresh token from the stand-in
current=$(store_get refresh_token)
fresh=$(python3 - "$T/lib" "$client_id" "$current" "$token_url" "$STANDIN_CA" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from _oauth2 import refresh_access_token
print(refresh_access_token(sys.argv[2], sys.argv[3], token_url=sys.argv[4], ca_file=sys.argv[5])["refresh_token"])
EOF
)
write_secrets "$fresh"
[ "$(run_play check_reseed --check --diff -v)" -gt 0 ] || fail "check mode does not report the re-seed"
[ "$(store_get refresh_token)" = "$current" ] || fail "check mode re-seeded"
[ "$(run_play reseed --diff -v)" -gt 0 ] || fail "a new vault value did not re-seed"
[ "$(store_get refresh_token)" = "$fresh" ] || fail "re-seed did not store the new refresh token"
[ "$(store_get access_token)" = None ] || fail "re-seed kept the old access token"
[ "$(stat -c '%U %a' "$store")" = "$user 600" ] || fail "store after re-seed"
call reseeded "$store"
[ "$rc" = 0 ] || fail "refresh after re-seed failed: $(cat "$T/out/reseeded.err")"
pass "new vault value re-seeded the store (check mode first), refresh works"

# --- failures: exit 75 and one clear line on stderr
call revoked "$state/$user/revoked.json"
[ "$rc" = 75 ] || fail "invalid_grant: rc $rc"
[ "$(wc -l < "$T/out/revoked.err")" = 1 ] && grep -q "invalid_grant" "$T/out/revoked.err" \
  && grep -q "sign in again" "$T/out/revoked.err" || fail "invalid_grant message: $(cat "$T/out/revoked.err")"
[ ! -s "$T/out/revoked.out" ] || fail "invalid_grant printed something on stdout"
pass "invalid_grant: exit 75: $(cat "$T/out/revoked.err")"

before=$(token_requests)
call untrusted "$state/$user/untrusted.json"
[ "$rc" = 75 ] && grep -q "refused to send the refresh token: token endpoint certificate" "$T/out/untrusted.err" \
  || fail "untrusted endpoint: rc $rc: $(cat "$T/out/untrusted.err")"
[ "$(token_requests)" = "$before" ] || fail "a request reached the endpoint through an untrusted certificate"
pass "untrusted certificate: exit 75, no request: $(cat "$T/out/untrusted.err")"

call unreachable "$state/$user/unreachable.json"
[ "$rc" = 75 ] && [ "$(wc -l < "$T/out/unreachable.err")" = 1 ] && grep -q "unreachable" "$T/out/unreachable.err" \
  || fail "unreachable endpoint: rc $rc: $(cat "$T/out/unreachable.err")"
pass "unreachable endpoint: exit 75: $(cat "$T/out/unreachable.err")"

# Another user (here root) must not use the owner's store, and a store readable by others is refused.
call as_root "$store" root
[ "$rc" = 75 ] && grep -q "not to the caller" "$T/out/as_root.err" || fail "root used another user's store"
chmod 0640 "$store"
call loose "$store"
chmod 0600 "$store"
[ "$rc" = 75 ] && grep -q "must be 0600" "$T/out/loose.err" || fail "a group-readable store was used"
call missing "$state/$user/nosuch.json"
[ "$rc" = 75 ] && grep -q "no token store" "$T/out/missing.err" || fail "missing store: $(cat "$T/out/missing.err")"
pass "foreign, loose and missing stores refused with exit 75"

# --- parallel callers with an expired cache: one refresh, one token for all (the lock)
token_store_expire "$store"
before=$(token_requests)
pids=()
for i in 1 2 3 4 5 6; do
  call "par$i" "$store" &
  pids+=($!)
done
wait "${pids[@]}"
for i in 1 2 3 4 5 6; do
  [ -s "$T/out/par$i.out" ] || fail "parallel caller $i got no token: $(cat "$T/out/par$i.err")"
done
[ "$(sort -u "$T"/out/par*.out | wc -l)" = 1 ] || fail "parallel callers got different tokens"
[ "$(token_requests)" = $((before + 1)) ] || fail "parallel callers made $(( $(token_requests) - before )) requests"
pass "6 parallel callers with an expired cache: 1 request, 1 token"

# --- status: per store account, owner, grant, times; never a secret (the leak check below reads its output too)
"$helper" --status --json "$state/$user" > "$T/out/status.json" 2> "$T/out/status.err" || true
python3 - "$T/out/status.json" "$user" <<'EOF' || fail "status: $(cat "$T/out/status.json" "$T/out/status.err")"
import json, sys
rows = {row["account"]: row for row in json.load(open(sys.argv[1]))["stores"]}
assert set(rows) == {"oauth", "revoked", "untrusted", "unreachable", "app", "appcert"}, sorted(rows)
for name in ("app", "appcert"):  # app-only: no refresh token, so no refresh-token age
    assert rows[name]["grant"] == "client_credentials" and rows[name]["refresh_token_age_days"] is None, rows[name]
row = rows["oauth"]
assert row["owner"] == sys.argv[2] and row["grant"] == "refresh_token" and row["error"] is None, row
assert row["access_token_valid"] and row["last_refresh"] and row["refresh_token_age_days"] < 1, row
assert rows["revoked"]["last_refresh"] is None and rows["revoked"]["access_token_valid"] is False
EOF
runuser -u "$user" -- "$helper" --status > "$T/out/status.txt" 2>&1 || true   # the wrapper's state dir, as the owner
grep -q "^oauth (owner $user, grant refresh_token): last refresh " "$T/out/status.txt" \
  || fail "status (text, default state dir): $(cat "$T/out/status.txt")"
pass "status: $(grep '^oauth ' "$T/out/status.txt")"

# --- keepalive: the role's cron job keeps an idle store alive past the endpoint's inactivity limit; a store without
# it dies with refresh_token_expired. Real time, a short limit: the stand-in refuses a refresh token unused for $limit s.
cron_file=/etc/cron.d/mailops-live-smtp-token-$user
[ "$(stat -c '%U %a' "$cron_file")" = "root 644" ] || fail "cron file: $(stat -c '%U %a' "$cron_file" 2>&1)"
head -n 3 "$cron_file" | grep -q '^# Ansible managed' || fail "cron file without the ansible_managed header"
job_of() {  # sets cron_user and cron_cmd from the one job line of the cron file
  local line c_min c_hour c_dom c_mon c_dow
  line=$(grep -Ev '^(#|[A-Z]+=|$)' "$cron_file")
  [ "$(printf '%s\n' "$line" | wc -l)" = 1 ] || fail "cron file: not one job line: $line"
  read -r c_min c_hour c_dom c_mon c_dow cron_user cron_cmd <<< "$line"
  [[ "$c_min" =~ ^[0-9]+$ ]] && [ "$c_hour $c_dom $c_mon $c_dow" = "4 * * *" ] || fail "schedule: $line"
}
job_of
[ "$cron_cmd" = "$helper --keepalive --idle-days 7 $state/$user" ] || fail "default job command: $cron_cmd"
[ "$(run_play keepalive0 -e oauth2_token_keepalive_idle_days=0)" = 1 ] || fail "changing the idle days did not change the job"
job_of
[ "$cron_user" = "$user" ] || fail "the job runs as $cron_user, not as the owner $user"
[ "$cron_cmd" = "$helper --keepalive --idle-days 0 $state/$user" ] || fail "job command: $cron_cmd"
run_cron() {  # the job's command as cron runs it: as the user, through SHELL=/bin/sh, cron's minimal environment
  env -i SHELL=/bin/sh PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/nonexistent LOGNAME="$cron_user" \
    runuser -u "$cron_user" -- /bin/sh -c "$cron_cmd" > "$T/out/cron$1.out" 2> "$T/out/cron$1.err"
}
limit=12
standin_restart --refresh-inactivity "$limit"
[ -n "$state" ] && [ -n "$user" ] || fail "state or user unset"
rm -f "$state/$user"/*.json "$state/$user"/*.lock   # the failing stores of above would make the job report them
install -d -o "$user" -g "$user" -m 0700 "$state/idle-$user"
mint() {  # a refresh token of a chain of its own (device flow, approved through the stand-in's test control)
  python3 - "$T/lib" "$client_id" "$token_url" "$STANDIN_CA" "$(standin_get control_url)" <<'EOF'
import ssl, sys, urllib.parse, urllib.request
sys.path.insert(0, sys.argv[1])
from _oauth2 import device_code_poll, device_code_start
client_id, token_url, ca = sys.argv[2:5]
start = device_code_start(client_id, token_url=token_url, ca_file=ca)
urllib.request.urlopen(sys.argv[5] + "/device", urllib.parse.urlencode({"action": "approve"}).encode(),
                       context=ssl.create_default_context(cafile=ca), timeout=30).read()
print(device_code_poll(client_id, start["device_code"], token_url=token_url, ca_file=ca)["refresh_token"])
EOF
}
seed_direct() {  # seed_direct STORE: as the role does (JSON on stdin, as root)
  local minted
  minted=$(mint) || fail "minting a refresh token for $1"
  printf '{"client_id": "%s", "refresh_token": "%s", "token_url": "%s", "ca_file": "%s"}' \
    "$client_id" "$minted" "$token_url" "$STANDIN_CA" | "$helper" "$1" --seed --owner "$user" > /dev/null \
    || fail "seeding $1"
}
seed_direct "$state/$user/alive.json"
seed_direct "$state/idle-$user/idle.json"
seeded=$(date +%s.%N)
before=$(token_requests)
for i in 1 2 3; do
  sleep 5   # 3 runs, 5 s apart: each well inside the 12 s limit
  run_cron "$i" || fail "keepalive run $i: rc $?: $(cat "$T/out/cron$i.err")"
  [ ! -s "$T/out/cron$i.out" ] && [ ! -s "$T/out/cron$i.err" ] || fail "keepalive run $i was not quiet"
done
[ "$(token_requests)" = $((before + 3)) ] || fail "3 keepalive runs made $(( $(token_requests) - before )) requests"
elapsed=$(python3 -c "import sys, time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$seeded")
python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > float(sys.argv[2]) else 1)" "$elapsed" "$limit" \
  || fail "only $elapsed s passed, not more than the $limit s limit"
store="$state/$user/alive.json"
token_store_expire "$store"
call alive "$store"
[ "$rc" = 0 ] && [ -s "$T/out/alive.out" ] || fail "the kept-alive store failed after $elapsed s: $(cat "$T/out/alive.err")"
call idle "$state/idle-$user/idle.json"
[ "$rc" = 75 ] && [ "$(wc -l < "$T/out/idle.err")" = 1 ] || fail "the idle store: rc $rc: $(cat "$T/out/idle.err")"
grep -q "refresh_token_expired (invalid_grant: AADSTS700082: The refresh token has expired due to inactivity" \
  "$T/out/idle.err" && grep -q "sign in again" "$T/out/idle.err" || fail "idle store message: $(cat "$T/out/idle.err")"
pass "keepalive: store seeded $elapsed s ago (limit $limit s), refreshed by the cron job 3 times, still yields a token"
pass "no keepalive: $(cat "$T/out/idle.err")"
run_play keepalive_off -e oauth2_token_keepalive=false > /dev/null   # also re-seeds the stores removed above
[ ! -e "$cron_file" ] || fail "oauth2_token_keepalive=false did not remove $cron_file"
grep "TASK \[mailops.live_smtp.oauth2_token : Remove the keepalive job of the token stores\]" -A1 "$T/out/keepalive_off.log" \
  | grep -q '^changed:' || fail "the removal did not report a change"
pass "keepalive job: oauth2_token_keepalive=false removes it"

# --- no refresh token or client secret anywhere in the output (ansible -v logs, helper stdout/stderr)
# The app's client secret and every base64 line of its private key are secrets too.
mapfile -t app_key_lines < <(grep -v -- '-----' "$app_key" | grep -E '.{40}')
python3 - "$T/standin/state.json" "$T/out" "$bogus_untrusted" "$bogus_unreachable" "$refresh_token" "$expired_token" \
  "$app_secret" "${app_key_lines[@]}" <<'EOF' || fail "a refresh token or app secret leaked"
import json, os, sys
state = json.load(open(sys.argv[1]))
secrets = set(state["refresh_tokens"]) | set(sys.argv[3:])
leaks = []
for name in sorted(os.listdir(sys.argv[2])):
    text = open(os.path.join(sys.argv[2], name), encoding="utf-8", errors="replace").read()
    leaks += ["%s holds a refresh token" % name for secret in secrets if secret in text]
    if name.endswith(".log"):
        leaks += ["%s holds an access token" % name for token in state["access_tokens"] if token in text]
print("\n".join(leaks))
sys.exit(1 if leaks else 0)
EOF
pass "no refresh token in $(find "$T/out" -type f | wc -l) output files ($(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["refresh_tokens"]))' "$T/standin/state.json") tokens checked)"

# --- the role finds _oauth2.py also when the collection is installed from a built tarball
root=$STANDIN_ROOT
ansible-galaxy collection build --output-path "$T/build" "$root" > "$T/out/build.txt" 2>&1 || fail "collection build"
ANSIBLE_COLLECTIONS_PATH="$T/installed" ansible-galaxy collection install --force -p "$T/installed" "$T"/build/*.tar.gz > "$T/out/install.txt" 2>&1 || fail "install"
# Run from outside the source tree so that only the installed copy can provide the role.
cp "$here/playbooks/role.yml" "$T/role.yml"
PLAYBOOK="$T/role.yml" ANSIBLE_COLLECTIONS_PATH="$T/installed" \
  run_play tarball -e "oauth2_token_helper=$T/lib2/live-smtp-token" --check -vvv >/dev/null
grep -q "task path: $T/installed/ansible_collections/mailops/live_smtp/roles/oauth2_token/tasks/main.yml" \
  "$T/out/tarball.log" || fail "the tarball run did not use the installed role"
grep -q "Install the refresh-token grant beside the helper" "$T/out/tarball.log" || fail "tarball run"
pass "role from the built tarball finds plugins/module_utils/_oauth2.py"

echo "oauth2_token: all checks passed"
