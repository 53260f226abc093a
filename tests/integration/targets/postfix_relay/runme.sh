#!/usr/bin/env bash
# Integration test of mailops.live_smtp.postfix_relay against this host's real Postfix, msmtp and the stand-in.
# Check mode first, apply, check-mode and real idempotence, then mail through sendmail: password (vaulted) over
# verified TLS, OAuth2 through the msmtp pipe, implicit TLS, bad certificates (no credential sent, mail kept),
# every generated password byte-exact, a stand-in outage (deferred, then delivered), a configuration that fails
# postfix check (never goes live), a password Postfix cannot carry (refused before anything is written), and no
# secret in any output, backup or file left behind; then the verified switch (files/verified_switch.sh): bad new
# credentials are refused and change nothing, a good one switches. The previous Postfix configuration is restored
# on exit.
# shellcheck disable=SC2016  # single-quoted $ and backticks are literal on purpose (main.cf, messages)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export TARGET=postfix_relay   # read by target.sh
# shellcheck source=../setup_standin/target.sh
. "$here/../setup_standin/target.sh"
# One host Postfix: two runs of this target at once (two checkouts on one machine) would reconfigure it under each
# other. Wait for the other one.
target_lock /run/lock/mailops-live-smtp-postfix-relay.lock 1500 || exit 1
PY=${ANSIBLE_TEST_PYTHON_INTERPRETER:-python}
COUNT=${POSTFIX_RELAY_PASSWORDS:-200}
start_time=$SECONDS

work=$(mktemp -d /tmp/postfix_relay.XXXXXX)
# Traversable, not listable: the pipe user (live-smtp) must read the stand-in's CA from $work/pub; every file with
# a secret in $work is created 0600 (umask 077 where they are written).
chmod 0711 "$work"
mkdir -m 0755 "$work/pub"
conf=/etc/postfix
maps=$conf/live-smtp
pipe_dir=/var/lib/mailops-live-smtp/postfix
store_dir=/var/lib/mailops-live-smtp/oauth2/live-smtp
keepalive_cron=/etc/cron.d/mailops-live-smtp-token-live-smtp   # the oauth2_token role's keepalive job of the pipe user
verify_state=/var/lib/mailops-live-smtp/verified/postfix_relay.json   # what the verified switch remembers

# The role's pipe user and group (only when the role created them, by its comment): removed before, so check mode
# meets a host without them as on a fresh machine, and after, so the test leaves no account behind.
remove_pipe_user() {
  if getent passwd live-smtp | grep -q ':mailops.live_smtp Postfix to msmtp pipe:'; then userdel live-smtp; fi
  if getent group live-smtp >/dev/null && [ -z "$(getent group live-smtp | cut -d: -f4)" ] \
      && ! getent passwd live-smtp >/dev/null; then groupdel live-smtp; fi
}
step() { echo "=== postfix_relay: $* ($((SECONDS - start_time)) s)"; }

# Keep what the host had, restore it on exit; Postfix is stopped at the end.
mkdir -p "$work/orig"
for f in main.cf master.cf; do [ ! -f "$conf/$f" ] || cp -p "$conf/$f" "$work/orig/$f"; done
restore() {
  local rc=$1
  set +e  # run every step of the restore even if one fails
  [ "$rc" -eq 0 ] || { tail -n 40 /var/log/postfix.log 2>/dev/null || true; standin_dump 2>/dev/null || true; }
  postfix stop >/dev/null 2>&1 || true
  postsuper -d ALL >/dev/null 2>&1 || true
  rm -f "$conf/main.cf"
  for f in main.cf master.cf; do [ ! -f "$work/orig/$f" ] || cp -p "$work/orig/$f" "$conf/$f"; done
  rm -rf "$maps" "$pipe_dir" "$store_dir" "$work" "$keepalive_cron" "$verify_state"
  remove_pipe_user
  exit "$rc"
}
trap 'restore $?' EXIT
postfix stop >/dev/null 2>&1 || true
postsuper -d ALL >/dev/null 2>&1 || true
rm -rf "$maps" "$pipe_dir" "$store_dir" "$keepalive_cron" "$verify_state"
remove_pipe_user
getent passwd live-smtp >/dev/null && fail "a user live-smtp not made by the role exists; the test would change it"
: > /var/log/postfix.log 2>/dev/null || true
# A main.cf with a setting of the admin's own: the role must leave it alone.
printf '%s\n' 'compatibility_level = 3.6' 'smtpd_banner = $myhostname ESMTP kept-by-postfix-relay-test' > "$conf/main.cf"

step "generating $COUNT passwords (hypothesis, derandomized)"
main_password="Vaulted pass: #1 % \"q\" 'a' {{ not_templated }} \\ é"
(
  umask 077
  # hypothesis keeps a cache in ./.hypothesis: run it in $work.
  (cd "$work" && "$PY" "$here/files/gen_passwords.py" "$COUNT") > "$work/generated.json"
  "$PY" "$here/files/accounts.py" "$work/generated.json" "$main_password" "$work/standin/pki/app.crt" \
    > "$work/standin-accounts.json"
)
standin_start "$work/standin" --lifetime 1800 --scenarios outlook,implicit_tls,untrusted_cert,wrong_host_cert \
  --accounts "$work/standin-accounts.json"
# standin_start's own EXIT trap would hide our exit status from restore: replace it.
trap 'rc=$?; standin_stop; restore $rc' EXIT

# Secrets only ever sit in a vaulted file (real ansible-vault, password file in the private temp dir).
cp "$STANDIN_CA" "$work/pub/ca.pem"
chmod 0600 "$work/pub/ca.pem"   # root only: Postfix reads it as root; the pipe user must get a copy
export POSTFIX_RELAY_CA="$work/pub/ca.pem"
umask 077
head -c 32 /dev/urandom | base64 > "$work/vault-pass"
for mode in main generated trailing; do
  "$PY" "$here/files/write_vars.py" "$STANDIN_READY" "$work/generated.json" "$main_password" "$work/$mode.yml" "$mode"
  ansible-vault encrypt --vault-password-file "$work/vault-pass" "$work/$mode.yml" >/dev/null
  head -n1 "$work/$mode.yml" | grep -q '^\$ANSIBLE_VAULT;' || fail "$mode.yml is not vault-encrypted"
done
umask 022

playbook() {  # playbook OUTPUT VARS(main|generated|trailing) [ansible-playbook args...]
  local out=$1 vars=$2
  shift 2
  ansible-playbook "$here/playbooks/relay.yml" --vault-password-file "$work/vault-pass" -e "@$work/$vars.yml" "$@" \
    > "$work/$out" 2>&1
}
recap_changed() { sed -n 's/.*changed=\([0-9]*\).*/\1/p' "$work/$1" | tail -n1; }
sum_main() { sha256sum "$conf/main.cf" | cut -d' ' -f1; }

touch "$work/marker"
sleep 1

step "check mode on the unconfigured host changes nothing"
before=$(sum_main)
playbook check1.out main --check --diff || { cat "$work/check1.out"; fail "check mode run failed"; }
[ "$(sum_main)" = "$before" ] || fail "check mode changed main.cf"
[ ! -e "$maps" ] || fail "check mode created $maps"
! getent passwd live-smtp >/dev/null || fail "check mode created the pipe user"
[ "$(recap_changed check1.out)" -gt 0 ] || fail "check mode reported no change on an unconfigured host"
grep -q '^+relayhost = \[localhost\]' "$work/check1.out" || fail "check mode --diff does not show the new relayhost"

step "apply (-vvvv --diff)"
playbook apply1.out main --diff -vvvv || { tail -n 60 "$work/apply1.out"; fail "apply failed"; }
grep -q 'kept-by-postfix-relay-test' "$conf/main.cf" || fail "the admin's own main.cf setting was not kept"
postfix status >/dev/null 2>&1 || fail "Postfix is not running after the role"
# The pipe's msmtp asks the helper at the default paths (the role account's live_smtp_token_*), for the store the
# oauth2_token role seeded.
grep -qxF "passwordeval /usr/local/lib/mailops-live-smtp/live-smtp-token $store_dir/oauth.json" "$pipe_dir/msmtprc" \
  || fail "pipe msmtprc: $(grep passwordeval "$pipe_dir/msmtprc")"
# The account's CA file is root-only (0600): Postfix reads it as root; the pipe's msmtp and token helper use the
# role's public copy (a CA file is no secret), so OAuth2 mail is delivered below instead of deferring.
[ "$(stat -c '%U %a' "$pipe_dir/ca.pem")" = "root 644" ] || fail "the pipe's CA copy: $(stat -c '%U %a' "$pipe_dir/ca.pem" 2>&1)"
cmp -s "$pipe_dir/ca.pem" "$work/pub/ca.pem" || fail "the pipe's CA copy differs from the account's ca_file"
grep -qxF "tls_trust_file $pipe_dir/ca.pem" "$pipe_dir/msmtprc" || fail "pipe msmtprc does not use the CA copy"
grep -q '"ca_file": "'"$pipe_dir"'/ca.pem"' "$store_dir/oauth.json" || fail "the token store does not use the CA copy"
[ "$(postconf -h smtp_tls_CAfile)" = "$work/pub/ca.pem" ] || fail "Postfix does not use the account's CA file"
grep -qF " live-smtp /usr/local/lib/mailops-live-smtp/live-smtp-token --keepalive --idle-days 7 $store_dir" \
  "$keepalive_cron" || fail "no keepalive job for the pipe user's token stores"
main_sum=$(sum_main)

step "check mode and a second run change nothing"
playbook check2.out main --check --diff || { cat "$work/check2.out"; fail "check mode after apply failed"; }
[ "$(recap_changed check2.out)" = 0 ] || { grep -B3 '^changed' "$work/check2.out"; fail "check mode after apply reports changes"; }
playbook apply2.out main --diff || { tail -n 40 "$work/apply2.out"; fail "second apply failed"; }
[ "$(recap_changed apply2.out)" = 0 ] || { grep -B3 '^changed' "$work/apply2.out"; fail "second run is not idempotent"; }
[ "$(sum_main)" = "$main_sum" ] || fail "second run changed main.cf"
# These vars turn the verified switch off (write_vars.py): no run logged in, and none redeemed the delegated
# account's refresh token, which the stand-in (no --keep-refresh-tokens) would then refuse to the pipe.
[ "$(standin_auth_count)" = 0 ] || fail "a run logged in at the stand-in although the switch is off"
! grep -q 'grant_type=refresh_token' "$STANDIN_DIR/transcript.log" || fail "a run redeemed the refresh token"

step "password account: sent by another user, From rewritten, Reply-To kept, vaulted secret, verified TLS"
id nobody >/dev/null
printf 'From: Some One <someone@example.test>\nTo: rcpt@example.test\nSubject: password relay\n\nhello\n' \
  | runuser -u nobody -- /usr/sbin/sendmail -t -f someone@example.test
printf 'From: app@example.test\nTo: rcpt@example.test\nSubject: oauth2 relay\n\nhello\n' | /usr/sbin/sendmail -t -f app@example.test
printf 'From: appcert@example.test\nTo: rcpt@example.test\nSubject: app-only relay\n\nhello\n' | /usr/sbin/sendmail -t -f appcert@example.test
printf 'From: appsecret@example.test\nTo: rcpt@example.test\nSubject: app-only secret relay\n\nhello\n' | /usr/sbin/sendmail -t -f appsecret@example.test
printf 'From: x@implicit.test\nTo: rcpt@example.test\nSubject: implicit tls relay\n\nhello\n' | /usr/sbin/sendmail -t -f x@implicit.test
printf 'From: u@example.test\nTo: rcpt@example.test\nSubject: untrusted\n\nhello\n' | /usr/sbin/sendmail -t -f u@example.test
printf 'From: w@example.test\nTo: rcpt@example.test\nSubject: wrong host\n\nhello\n' | /usr/sbin/sendmail -t -f w@example.test
standin_wait_mail 5 60 || fail "password, OAuth2, app-only (certificate, secret) and implicit-TLS mail did not all arrive"
"$PY" - "$STANDIN_DIR" "$main_password" "$store_dir/oauth.json" "$store_dir/apponly.json" "$(standin_get app.client_id)" \
  "$store_dir/appsecret.json" <<'PY'
import glob, json, sys
state, password, store_path, app_store_path, app_id, secret_store_path = sys.argv[1:7]
auth = [json.loads(line) for line in open(state + "/auth.jsonl", encoding="utf-8")]
mails = {}
app_mails = []
secret_mails = []
for meta in glob.glob(state + "/mail/*.json"):
    info = json.load(open(meta, encoding="utf-8"))
    eml = open(meta[:-5] + ".eml", encoding="utf-8", errors="replace").read()
    if "\nSubject: app-only relay" in eml:
        app_mails.append(info)
    elif "\nSubject: app-only secret relay" in eml:
        secret_mails.append(info)
    else:
        mails[info["user"]] = (info, eml)

# App-only: the mail went out as the mailbox with a token the stand-in issued to the app (via the apponly store).
app_tokens = json.load(open(state + "/state.json", encoding="utf-8"))["access_tokens"]
app_store = json.load(open(app_store_path, encoding="utf-8"))
assert len(app_mails) == 1 and app_mails[0]["mechanism"] == "XOAUTH2", app_mails
assert app_store["grant"] == "client_credentials" and (app_tokens.get(app_store["access_token"]) or {}).get("app") == app_id
assert any(a["secret"] == app_store["access_token"] and a["code"] == 235 for a in auth), "the app token was not used"
# App-only with the client secret: its own store (the appsecret account), its own app token, the app's second mailbox.
secret_store = json.load(open(secret_store_path, encoding="utf-8"))
assert len(secret_mails) == 1 and secret_mails[0]["mechanism"] == "XOAUTH2", secret_mails
assert secret_mails[0]["user"] == "appsecret@outlook.com" == secret_mails[0]["mail_from"], secret_mails
assert app_mails[0]["user"] == "appbox@outlook.com" == app_mails[0]["mail_from"], app_mails
assert secret_store["grant"] == "client_credentials" and secret_store["access_token"] != app_store["access_token"]
assert (app_tokens.get(secret_store["access_token"]) or {}).get("app") == app_id, "not an app token"
assert any(a["secret"] == secret_store["access_token"] and a["code"] == 235 and a["user"] == secret_mails[0]["user"]
           for a in auth), "the client-secret app token was not used"

def header(eml, name):
    for line in eml.split("\n\n")[0].splitlines():
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None

info, eml = mails["standin@outlook.com"]
assert info["mail_from"] == "standin@outlook.com", info
assert header(eml, "From") == "Some One <standin@outlook.com>", header(eml, "From")
assert header(eml, "Reply-To") == "Some One <someone@example.test>", header(eml, "Reply-To")
logins = [a for a in auth if a["user"] == "standin@outlook.com"]
assert logins and all(a["secret"] == password and a["code"] == 235 and a["tls"] for a in logins), "vaulted secret differs"

info, eml = mails["oauth@outlook.com"]
assert info["mechanism"] == "XOAUTH2" and info["mail_from"] == "oauth@outlook.com", info
assert header(eml, "Reply-To") == "app@example.test"
store = json.dumps(json.load(open(store_path, encoding="utf-8")))
tokens = [a["secret"] for a in auth if a["user"] == "oauth@outlook.com" and a["code"] == 235
          and a["secret"] not in (app_store["access_token"], secret_store["access_token"])]
assert tokens and all(t in store for t in tokens), "the XOAUTH2 token is not the one the helper got from the endpoint"

info, eml = mails["implicit@outlook.com"]
assert info["scenario"] == "implicit_tls" and info["mechanism"] == "LOGIN", info
assert not [a for a in auth if a["scenario"] in ("untrusted_cert", "wrong_host_cert")], "a bad certificate got AUTH"
print("mail checks: password, OAuth2 (XOAUTH2 token from the store), app-only (certificate and client secret, app tokens), implicit TLS: ok")
PY
grep -q 'Verified TLS connection established to localhost\[127.0.0.1\]' /var/log/postfix.log \
  || fail "Postfix did not log a verified TLS connection"

step "SMTP submission on loopback (swaks, an independent client) is relayed the same way"
arrived=$(standin_mail_count)
swaks --silent 2 --server 127.0.0.1 --port 25 --from swaks@example.test --to rcpt@example.test \
  --header 'Subject: via swaks' >/dev/null || fail "Postfix refused swaks on 127.0.0.1:25"
standin_wait_mail $((arrived + 1)) 60 || fail "the mail submitted by swaks did not arrive"
"$PY" - "$STANDIN_MAILDIR/$((arrived + 1))" <<'PY'
import json, sys
info = json.load(open(sys.argv[1] + ".json", encoding="utf-8"))
eml = open(sys.argv[1] + ".eml", encoding="utf-8").read()
assert info["user"] == "standin@outlook.com" and info["mail_from"] == "standin@outlook.com", info
assert "\nFrom: swaks@example.test" not in eml and "Reply-To: swaks@example.test" in eml, eml
print("swaks submission: relayed as standin@outlook.com, Reply-To kept")
PY

step "bad certificates: no credential sent, mail kept in the queue"
for _ in $(seq 1 100); do
  [ "$(grep -c 'status=deferred (Server certificate not verified)' /var/log/postfix.log)" -ge 2 ] && break
  sleep 0.2
done
grep -q 'certificate verification failed for localhost.*untrusted issuer' /var/log/postfix.log || fail "untrusted cert not refused"
grep -q 'verification failed for localhost.*hostname mismatch' /var/log/postfix.log || fail "wrong host name not refused"
[ "$(postqueue -j | grep -c '"recipients"')" -eq 2 ] || { postqueue -p; fail "the two bad-certificate mails are not queued"; }
grep -q '"scenario": "\(untrusted_cert\|wrong_host_cert\)"' "$STANDIN_DIR/auth.jsonl" && fail "a credential reached a bad certificate"
postsuper -d ALL >/dev/null

step "stand-in down: the mail is deferred, then delivered after it is back"
standin_stop
arrived=$(standin_mail_count)
printf 'From: root@example.test\nTo: rcpt@example.test\nSubject: while down\n\nx\n' | /usr/sbin/sendmail -t -f root@example.test
for _ in $(seq 1 100); do
  postqueue -j | grep -q '"delay_reason"' && break
  sleep 0.2
done
postqueue -j | grep -q '"delay_reason"' || { postqueue -p; fail "the mail is not deferred while the stand-in is down"; }
standin_restart
postqueue -f
standin_wait_mail $((arrived + 1)) 60 || fail "the deferred mail was not delivered after the stand-in came back"

step "a configuration that fails postfix check never goes live"
main_sum=$(sum_main)
if playbook bad.out main -e '{"postfix_relay_extra_settings": {"default_process_limit": "not-a-number"}}'; then
  fail "a run with an invalid setting succeeded"
fi
grep -q 'fails `postfix check`, so it was not installed' "$work/bad.out" || { tail -n 20 "$work/bad.out"; fail "unclear failure"; }
grep -q 'default_process_limit' "$work/bad.out" || fail "the failure does not name the bad setting"
[ "$(sum_main)" = "$main_sum" ] || fail "main.cf changed although postfix check failed"
if playbook unknown.out main -e '{"postfix_relay_extra_settings": {"smtp_tls_securty_level": "secure"}}'; then
  fail "a run with an unknown setting succeeded"
fi
grep -q 'unused parameter: smtp_tls_securty_level' "$work/unknown.out" || { tail -n 20 "$work/unknown.out"; fail "unknown setting not named"; }
[ "$(sum_main)" = "$main_sum" ] || fail "main.cf changed although a setting was unknown"
arrived=$(standin_mail_count)
printf 'From: root@example.test\nTo: rcpt@example.test\nSubject: still relaying\n\nx\n' | /usr/sbin/sendmail -t -f root@example.test
standin_wait_mail $((arrived + 1)) 60 || fail "Postfix no longer relays after a refused configuration"

step "a password ending in whitespace is refused before anything is written"
sasl_sum=$(sha256sum "$maps/sasl_passwd" | cut -d' ' -f1)
if playbook trailing.out trailing; then
  fail "a password ending in whitespace was accepted"
fi
grep -q 'Password ends in whitespace: trailing\.' "$work/trailing.out" || { tail -n 20 "$work/trailing.out"; fail "unclear refusal"; }
[ "$(sum_main)" = "$main_sum" ] || fail "main.cf changed for a refused password"
[ "$(sha256sum "$maps/sasl_passwd" | cut -d' ' -f1)" = "$sasl_sum" ] || fail "sasl_passwd changed for a refused password"

step "$COUNT generated passwords through Postfix's map, byte-exact (one run with $COUNT accounts)"
playbook generated.out generated || { tail -n 40 "$work/generated.out"; fail "the run with the generated accounts failed"; }
arrived=$(standin_mail_count)
for i in $(seq 0 $((COUNT - 1))); do
  printf 'From: s%d@gen.test\nTo: rcpt@example.test\nSubject: generated %d\n\nx\n' "$i" "$i" | /usr/sbin/sendmail -t -f "s$i@gen.test"
done
standin_wait_mail $((arrived + COUNT)) 240 || { postqueue -p | tail; fail "not every generated-password mail arrived"; }
"$PY" - "$STANDIN_DIR/auth.jsonl" "$work/generated.json" <<'PY'
import json, sys
generated = json.load(open(sys.argv[2], encoding="utf-8"))["valid"]
seen = {}
for line in open(sys.argv[1], encoding="utf-8"):
    entry = json.loads(line)
    if entry["user"].startswith("g") and entry["code"] == 235:
        seen.setdefault(entry["user"], set()).add(entry["secret"])
bad = [i for i, p in enumerate(generated) if seen.get("g%d@outlook.com" % i) != {p}]
assert not bad, "passwords not byte-exact: %s" % bad[:10]
print("byte-exact: %d of %d generated passwords" % (len(generated) - len(bad), len(generated)))
PY

step "no secret in any output, backup or file left behind; no secret file readable by others"
"$PY" - "$work/generated.json" "$main_password" "$STANDIN_DIR/auth.jsonl" <<'PY' > "$work/secrets"
import json, sys
generated = json.load(open(sys.argv[1], encoding="utf-8"))
secrets = set(generated["valid"]) | {sys.argv[2], "implicit pw 465", "untrusted-cert-secret-4711", "wrong-host-secret-0815"}
for line in open(sys.argv[3], encoding="utf-8"):
    secrets.add(json.loads(line)["secret"])
# Short or blank-heavy strings would match by chance; every real secret here is long enough.
for s in sorted(secrets):
    if len(s.strip()) >= 6:
        print(s)
PY
ready_refresh=$(standin_get accounts.refresh_token)
{
  echo "$ready_refresh"
  standin_get app.client_secret
  # The app certificate's private key, line by line: the role copies it only into the 0600 token store.
  awk 'length >= 16 && !/-----/' "$(standin_get app_certificate.private_key_file)"
} >> "$work/secrets"
echo "secrets to look for: $(wc -l < "$work/secrets")"
secret_leaks "$work/secrets" "$work"/{check1,apply1,check2,apply2,bad,unknown,trailing,generated}.out \
  || fail "a secret appears in these outputs"
secret_leaks "$work/secrets" /var/log/postfix.log || fail "a secret appears in the Postfix log"
allowed="^($maps/sasl_passwd|$maps/sasl_passwd\\.(db|lmdb)|$store_dir/(oauth|apponly|appsecret)\\.json)\$"
# Not searched: this test's own directory and stand-in, the source tree (/work: the fixed test passwords are in
# these scripts) and other tests' directories in /tmp; searched in /tmp: what Ansible and this role leave there.
find / -xdev \( -path /proc -o -path /sys -o -path /work -o -path "$work" -o -path "$STANDIN_DIR" \
    -o \( -path '/tmp/*' -a ! -path '/tmp/ansible*' \) \) -prune \
    -o -type f -newer "$work/marker" -size -5M -print 2>/dev/null \
  | while read -r file; do
      if grep -qF -f "$work/secrets" "$file" 2>/dev/null && ! [[ $file =~ $allowed ]]; then echo "$file"; fi
    done > "$work/leaks"
[ ! -s "$work/leaks" ] || { cat "$work/leaks"; fail "secrets in files left behind"; }
for f in "$maps/sasl_passwd" "$maps/sasl_passwd.db" "$pipe_dir/msmtprc" "$store_dir/oauth.json" "$store_dir/apponly.json" \
    "$store_dir/appsecret.json"; do
  [ "$(stat -c %a "$f")" = 600 ] || fail "$f is not 0600 ($(stat -c %a "$f"))"
done
[ "$(stat -c %U "$store_dir/oauth.json")" = live-smtp ] || fail "the pipe user does not own its token store"
find "$maps" "$pipe_dir" /var/lib/mailops-live-smtp -type f -perm /o+r -print0 | xargs -0r grep -lF -f "$work/secrets" \
  > "$work/readable" || true
[ ! -s "$work/readable" ] || { cat "$work/readable"; fail "a secret file is readable by others"; }

# shellcheck source=files/verified_switch.sh
. "$here/files/verified_switch.sh"

step "all checks passed in $((SECONDS - start_time)) s"
