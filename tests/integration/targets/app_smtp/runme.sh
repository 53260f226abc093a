#!/usr/bin/env bash
# app_smtp end to end: every preset and generic format written into pre-existing files (with comments and unrelated
# settings) or new ones; check mode -> apply -> check-mode idempotence -> idempotence; each value read back by the
# application's own parser (go-ini, PHP, PyYAML, python-dotenv, sh, configparser, json, Python) and, where the
# application installs here, by the application: amtool check-config (Alertmanager) and Django's SMTP backend
# sending a real message to the stand-in, and Alertmanager itself mailing an alert: the stand-in must receive the
# exact password. No secret in any output. The verified switch (on by default, gate.yml): a wrong new password or a
# local relay with nothing listening fails the run and leaves the files byte-identical; a good change switches and
# sends; check mode and reruns probe nothing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
export TARGET=app_smtp   # read by target.sh
# shellcheck source=tests/integration/targets/setup_standin/target.sh
. ../setup_standin/target.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/app_smtp.XXXXXX")
chmod 700 "$tmp"
trap '[ -n "${APP_SMTP_KEEP:-}" ] || rm -rf "$tmp"' EXIT   # standin_start adds the stand-in's stop to this trap; APP_SMTP_KEEP=1 keeps the logs
start=$SECONDS

fail() {
  echo "FAIL: $*" >&2
  standin_dump || true
  exit 1
}

for tool in amtool php go; do
  command -v "$tool" >/dev/null || fail "$tool is missing (tests/setup.sh installs it)"
done

# A password with every ASCII character that some format treats specially, a Jinja2 start ({{, so the vars file marks
# it !unsafe), and a unique token: any appearance of the token in output is a leak, never a coincidence. ASCII only:
# Python's smtplib (under Django) sends AUTH LOGIN passwords as ASCII. Non-ASCII passwords are proven per format by
# the unit tests (tests/unit/plugins/module_utils/test_app_formats.py).
token=$(python -c 'import secrets; print("tok" + secrets.token_hex(16))')
password="p'a\"s\\s #w;o%r\$d\`{x}[y]=z:&*!?~^<>|,. {{ x }}	$token\\"
refresh_token="M.C5-$(python -c 'import secrets; print(secrets.token_urlsafe(48))')"
# The verified switch section: a second valid account (the good change) and a wrong password, each with its own token.
password2="second 'p\"w #;$(python -c 'import secrets; print("tok" + secrets.token_hex(16))')"
wrong_password="wrong-$(python -c 'import secrets; print("tok" + secrets.token_hex(16))')"
umask 077
printf '%s\n' "$password" > "$tmp/password.txt"
python - "$tmp" "$password" "$refresh_token" "$password2" <<'PY'
import json, sys
tmp, password, refresh_token, password2 = sys.argv[1:5]
json.dump([{"user": "standin@outlook.com", "password": password, "refresh_token": refresh_token},
           {"user": "second@outlook.com", "password": password2}],
          open(tmp + "/accounts.json", "w"))
# JSON strings are YAML double-quoted scalars; !unsafe keeps Ansible from templating the {{ in the password.
with open(tmp + "/secret_vars.yml", "w") as out:
    out.write("vault_app_password: !unsafe %s\n" % json.dumps(password, ensure_ascii=False))
    out.write("vault_app_refresh_token: !unsafe %s\n" % json.dumps(refresh_token))
PY
umask 022

standin_start "$tmp/standin" --accounts "$tmp/accounts.json" --keep-refresh-tokens --lifetime 900
[ "$(standin_get accounts.password)" = "$password" ] || fail "the stand-in did not take the accounts file"
port=$(standin_port outlook)

# go-ini as Grafana and Gitea use it, from Debian's golang-gopkg-ini.v1-dev.
mkdir "$tmp/go"
GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE="$tmp/go/cache" go build -o "$tmp/go/goini" files/goini_read.go

mkdir "$tmp/apps"
cp files/before/* "$tmp/apps/"
# Alertmanager refuses a file without a route (amtool runs as the role's validate), so the relay one exists too.
cp files/before/alertmanager.yml "$tmp/apps/alertmanager-relay.yml"
chmod 600 "$tmp"/apps/*
(cd "$tmp/apps" && sha256sum ./* > "$tmp/before.sha256")

cat > "$tmp/inventory.yml" <<YAML
all:
  hosts:
    testhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
YAML

play() {
  local name=$1 playbook=$2
  shift 2
  echo "=== $name: ansible-playbook $playbook $*"
  if ! ansible-playbook -i "$tmp/inventory.yml" -e "work=$tmp" -e "standin_ready=$STANDIN_READY" \
      -e "test_group=$(id -gn)" "$playbook" "$@" >"$tmp/$name.log" 2>&1; then
    grep -v -F "$token" "$tmp/$name.log" | tail -n 60
    fail "$name: ansible-playbook failed"
  fi
  grep -A3 '^PLAY RECAP' "$tmp/$name.log" | tail -n 2
  if grep -n 'Traceback' "$tmp/$name.log"; then
    fail "$name: a traceback in the output"
  fi
}
recap_changed() { sed -n 's/.*testhost.*changed=\([0-9]*\).*/\1/p' "$tmp/$1.log"; }

# app_smtp_secure_logging false: the module's own masking is all that stands between the secret and the output.
shown='{"app_smtp_secure_logging": false}'
masked_line='password = \*\*\*\*\*\*\*\*'

# 1. check mode with diff: reports changes, touches nothing. First by default (the task's output is hidden), then
# with the diff shown.
play check_hidden playbooks/apply.yml --check --diff -vvvv
[ "$(recap_changed check_hidden)" -gt 0 ] || fail "check mode reported no change"
grep -q "censored due to no_log" "$tmp/check_hidden.log" || fail "the writing task's output is not hidden by default"
if grep -n -B3 "$masked_line" "$tmp/check_hidden.log"; then fail "the diff is shown although app_smtp_secure_logging is true"; fi
play check playbooks/apply.yml --check --diff -e "$shown"
[ "$(recap_changed check)" -gt 0 ] || fail "check mode reported no change"
(cd "$tmp/apps" && sha256sum -c --quiet "$tmp/before.sha256") || fail "check mode changed a file"
[ "$(find "$tmp/apps" -type f | wc -l)" -eq "$(wc -l < "$tmp/before.sha256")" ] || fail "check mode created a file"
[ ! -e "$tmp/reloads.log" ] || fail "check mode ran a reload command"
grep -q "$masked_line" "$tmp/check.log" || fail "the check-mode diff does not show the masked password"

# 2. apply, with diff and -vvvv, output shown.
play apply playbooks/apply.yml --diff -vvvv -e "$shown"
grep -q "$masked_line" "$tmp/apply.log" || fail "the diff does not show the masked password"
[ "$(recap_changed apply)" -gt 0 ] || fail "apply reported no change"
sort "$tmp/reloads.log" > "$tmp/reloads.sorted"
printf '%s\n' alertmanager gitea grafana grafana-relay template > "$tmp/reloads.want"
diff "$tmp/reloads.want" "$tmp/reloads.sorted" || fail "each changed application must be reloaded once"

# 3. check mode again, then 4. apply again: nothing to change, nothing reloaded.
play check_again playbooks/apply.yml --check --diff
[ "$(recap_changed check_again)" -eq 0 ] || fail "check mode after apply reports changes"
play idempotence playbooks/apply.yml --diff
[ "$(recap_changed idempotence)" -eq 0 ] || fail "the second run changed something"
[ "$(wc -l < "$tmp/reloads.log")" -eq 5 ] || fail "the second run reloaded an application"

# The applications' parsers read back every value; every comment survived.
python files/readback.py "$tmp/apps" files/before "$tmp/password.txt" "$tmp/go/goini" "$port" || fail "read-back"

# Alertmanager's own validator (the role also ran it through validate: before each write).
for f in alertmanager.yml alertmanager-relay.yml; do
  amtool check-config "$tmp/apps/$f" > "$tmp/amtool.log" 2>&1 || { cat "$tmp/amtool.log"; fail "amtool rejects $f"; }
done
grep -q 'SUCCESS' "$tmp/amtool.log" || fail "amtool did not say SUCCESS"

# Alertmanager itself, started on the file app_smtp wrote, sends an alert by mail to the stand-in: the exact password
# must arrive. Its TLS trust comes from SSL_CERT_FILE (Go reads it); it listens on 127.0.0.1, lives at most 60 s.
am_port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mails_before=$(standin_mail_count)
auth_before=$(standin_auth_count)
SSL_CERT_FILE="$STANDIN_CA" timeout 60 prometheus-alertmanager --config.file="$tmp/apps/alertmanager.yml" \
  --storage.path="$tmp/am-data" --web.listen-address="127.0.0.1:$am_port" --cluster.listen-address= \
  > "$tmp/alertmanager.log" 2>&1 &
am_pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$am_port/-/ready" >/dev/null && break
  sleep 0.1
done
amtool alert add --alertmanager.url="http://127.0.0.1:$am_port" alertname=AppSmtpProof severity=test \
  || fail "amtool could not post an alert"
if ! standin_wait_mail $((mails_before + 1)) 30; then
  grep -v -F "$token" "$tmp/alertmanager.log" | tail -n 20
  fail "Alertmanager's mail did not arrive"
fi
kill "$am_pid" 2>/dev/null || true
wait "$am_pid" 2>/dev/null || true
python - "$STANDIN_DIR" "$tmp/password.txt" "$auth_before" <<'PY' || fail "the stand-in did not receive the exact password from Alertmanager"
import json, sys
state, password_file, before = sys.argv[1], sys.argv[2], int(sys.argv[3])
password = open(password_file, encoding="utf-8").read().rstrip("\n")
auth = [json.loads(line) for line in open(state + "/auth.jsonl", encoding="utf-8")][before:]
assert auth and all(a["secret"] == password and a["code"] == 235 for a in auth), "secret differs"
print("alertmanager: %d login(s) as %s over %s with the exact password; alert mail accepted" % (len(auth), auth[0]["user"], auth[0]["tls"]))
PY

# PHP parses both Nextcloud files.
for f in config.php mail.config.php; do
  php -l "$tmp/apps/$f" >/dev/null || fail "php -l rejects $f"
done

# Django's own SMTP backend, configured only by the settings module written above, logs in to the stand-in.
before_auth=$(standin_auth_count)
if python -B files/django_send.py "$tmp/apps/settings_local.py" rcpt@example.com > "$tmp/django_untrusted.log" 2>&1; then
  fail "Django sent through a certificate it cannot verify"
fi
grep -q 'CERTIFICATE_VERIFY_FAILED' "$tmp/django_untrusted.log" || { cat "$tmp/django_untrusted.log"; fail "Django failed for another reason"; }
[ "$(standin_auth_count)" -eq "$before_auth" ] || fail "Django sent the password before verifying the certificate"
SSL_CERT_FILE="$STANDIN_CA" python -B files/django_send.py "$tmp/apps/settings_local.py" rcpt@example.com \
  > "$tmp/django.log" 2>&1 || { grep -v -F "$token" "$tmp/django.log"; fail "Django could not send"; }
standin_wait_mail 1 30 || fail "Django's message did not arrive"
python - "$STANDIN_DIR" "$tmp/password.txt" <<'PY' || fail "the stand-in did not receive the exact password from Django"
import glob, json, sys
state, password_file = sys.argv[1:3]
password = open(password_file, encoding="utf-8").read().rstrip("\n")
auth = [json.loads(line) for line in open(state + "/auth.jsonl", encoding="utf-8")][-1]
assert auth["secret"] == password, "secret differs"
assert auth["user"] == "standin@outlook.com" and auth["mechanism"] == "LOGIN" and auth["tls"], auth["mechanism"]
meta = json.load(open(sorted(glob.glob(state + "/mail/*.json"))[-1]))
assert meta["mail_from"] == "standin@outlook.com", meta["mail_from"]
assert meta["rcpt_to"] == ["rcpt@example.com"], meta["rcpt_to"]
print("django: authenticated as %s over %s with the exact password; message from %s accepted" % (
    auth["user"], auth["tls"], meta["mail_from"]))
PY

# The shell-dialect file, sourced by sh, hands its values to swaks, an independent SMTP client (CA and name verified).
auth_before=$(standin_auth_count)
sh -c '. "$1"; exec swaks --server "$MAIL_HOST" --port "$MAIL_PORT" --timeout 20 --tls --tls-verify --tls-ca-path "$2" \
  -a LOGIN -au "$MAIL_USER" -ap "$MAIL_PASSWORD" --from "$MAIL_FROM" --to rcpt@example.com' \
  sh "$tmp/apps/shell.env" "$STANDIN_CA" > "$tmp/swaks.log" 2>&1 || { tail -n 5 "$tmp/swaks.log"; fail "swaks could not send with shell.env"; }
python - "$STANDIN_DIR" "$tmp/password.txt" "$auth_before" <<'PY' || fail "the stand-in did not receive the exact password from swaks"
import json, sys
state, password_file, before = sys.argv[1], sys.argv[2], int(sys.argv[3])
password = open(password_file, encoding="utf-8").read().rstrip("\n")
auth = [json.loads(line) for line in open(state + "/auth.jsonl", encoding="utf-8")][before:]
assert len(auth) == 1 and auth[0]["secret"] == password and auth[0]["code"] == 235, "secret differs"
print("swaks: the password sourced from shell.env arrived exact")
PY

# Owner, group and mode: what was asked, else kept (0600 from the copy), else 0600 for new files.
mode_of() { stat -c '%a' "$tmp/apps/$1"; }
[ "$(mode_of grafana.ini)" = 640 ] || fail "grafana.ini mode $(mode_of grafana.ini)"
[ "$(stat -c '%G' "$tmp/apps/grafana.ini")" = "$(id -gn)" ] || fail "grafana.ini group"
[ "$(mode_of app.ini)" = 600 ] || fail "app.ini mode"
[ "$(mode_of smtp.env)" = 600 ] || fail "a new file must be 0600, smtp.env is $(mode_of smtp.env)"
[ "$(mode_of generic.ini)" = 600 ] || fail "an existing file's mode must be kept"
# No backups or temporary files left beside the configs.
[ "$(find "$tmp/apps" -type f | wc -l)" -eq 15 ] || { ls -la "$tmp/apps"; fail "unexpected files beside the configs"; }

# Refusals fail before writing anything.
(cd "$tmp/apps" && sha256sum ./* > "$tmp/after.sha256")
play refusals playbooks/refusals.yml
grep -q 'Set delivery: local_relay' "$tmp/refusals.log" || fail "the role did not suggest delivery: local_relay"
(cd "$tmp/apps" && sha256sum -c --quiet "$tmp/after.sha256") || fail "a refused run changed a file"
[ ! -e "$tmp/apps/world.env" ] || fail "the world-readable file was written"
[ "$(find "$tmp/apps" -type f | wc -l)" -eq 15 ] || { ls -la "$tmp/apps"; fail "a refused run left a file behind"; }

# Full-size configs (files/full) damaged the two ways the application refuses: go-ini itself refuses each, the
# module refuses each with its line (refusals_broken, -vvvv), and each stays byte-identical with nothing beside it.
mkdir "$tmp/broken"
python - files/full "$tmp/broken" <<'PY'
import sys
src, out = sys.argv[1:3]
for app, header, section, bad in (("grafana", "[smtp]", "[server]\n", "enable_gzip\n"), ("gitea", "[mailer]", "[server]\n", "DISABLE_SSH\n")):
    text = open("%s/%s.ini" % (src, app), encoding="utf-8").read()
    for kind, broken, marker in (("unclosed", text.replace(header + "\n", header[:-1] + "\n"), header[:-1]),
                                 ("noequals", text.replace(section, section + bad, 1), bad.strip())):
        open("%s/%s-%s.ini" % (out, app, kind), "w", encoding="utf-8").write(broken)
        open("%s/%s-%s.line" % (out, app, kind), "w").write(str(broken.splitlines().index(marker) + 1))
PY
chmod 600 "$tmp"/broken/*.ini
for f in "$tmp"/broken/*.ini; do
  app=$(basename "$f" | cut -d- -f1)
  if "$tmp/go/goini" "$app" "$f" >/dev/null 2>&1; then fail "go-ini loads $(basename "$f"), which should be broken"; fi
done
(cd "$tmp/broken" && sha256sum ./* > "$tmp/broken.sha256")
play refusals_broken playbooks/broken.yml -vvvv
(cd "$tmp/broken" && sha256sum -c --quiet "$tmp/broken.sha256") || fail "a refused run changed a broken config"
[ "$(find "$tmp/broken" -type f | wc -l)" -eq 8 ] || { ls -la "$tmp/broken"; fail "a refused run left a file beside the broken configs"; }

# No secret in any output: check, apply (-vvvv, --diff), idempotence, refusals, Django.
for log in check_hidden check apply check_again idempotence refusals refusals_broken django alertmanager; do
  if grep -n -F -e "$token" -e "$refresh_token" "$tmp/$log.log" >/dev/null; then
    fail "a secret appears in the $log output"
  fi
done
# The password's own prefix is not in any output either (it would show an encoding that hid only the token).
if grep -l -F "p'a" "$tmp"/{check_hidden,check,apply,check_again,idempotence,refusals,refusals_broken}.log; then
  fail "part of the password appears in the output"
fi

# The verified switch, on by default (gate.yml): a direct-delivery app (preset env) goes live with a password account
# that was tried first; a wrong new password and a local relay with nothing listening each fail the run, naming what
# failed, and leave the files byte-identical (the old password still sends); check mode probes nothing; a second valid
# account switches and sends; a second run neither changes nor probes. Secrets vaulted with the real ansible-vault.
gate=$tmp/gate
mkdir -p "$gate/apps"
cp files/before/grafana.ini "$gate/apps/relay.ini"   # the local_relay app's existing file
chmod 600 "$gate/apps/relay.ini"
printf '%s\n' "$password2" > "$tmp/password2.txt"
python - "$tmp/gate_secrets.yml" "$password" "$password2" "$wrong_password" <<'PY'
import json, os, sys
os.umask(0o077)
with open(sys.argv[1], "w", encoding="utf-8") as out:
    for name, value in zip(("vault_gate_password", "vault_gate_password2", "vault_gate_wrong_password"), sys.argv[2:]):
        out.write("%s: !unsafe %s\n" % (name, json.dumps(value, ensure_ascii=False)))
PY
python -c 'import secrets; print(secrets.token_hex(16))' > "$tmp/vault-pass"
ansible-vault encrypt --vault-password-file "$tmp/vault-pass" "$tmp/gate_secrets.yml" >/dev/null
grep -q '^[$]ANSIBLE_VAULT;' "$tmp/gate_secrets.yml" || fail "gate_secrets.yml is not vault-encrypted"
closed_port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# gate_case NAME ACCOUNT(live|second) LIVE_PASSWORD_VAR [relay]: the accounts and applications of one run.
gate_case() {
  {
    printf 'live_smtp_accounts:\n'
    printf '  - {name: live, host: localhost, port: %s, username: standin@outlook.com, password: "{{ %s }}", ca_file: %s}\n' \
      "$port" "$3" "$STANDIN_CA"
    printf '  - {name: second, host: localhost, port: %s, username: second@outlook.com, password: "{{ vault_gate_password2 }}", ca_file: %s}\n' \
      "$port" "$STANDIN_CA"
    printf 'app_smtp_apps:\n  - {name: gate-env, preset: env, account: %s, path: %s}\n' "$2" "$gate/apps/app.env"
    [ -z "${4:-}" ] || printf '  - {name: gate-relay, preset: grafana, delivery: local_relay, relay_host: 127.0.0.1, relay_port: %s, path: %s}\n' \
      "$closed_port" "$gate/apps/relay.ini"
  } > "$gate/$1.yml"
}
gate_case password live vault_gate_password
gate_case wrong_password live vault_gate_wrong_password
gate_case relay_closed live vault_gate_password relay
gate_case changed second vault_gate_password

# gate_play NAME CASE [args]: EXPECT_FAIL=1: the run must fail. Prints the changed count of a run that passed.
gate_play() {
  local name=$1 case=$2 rc=0
  shift 2
  echo "=== $name: ansible-playbook playbooks/gate.yml gate_case=$case $*" >&2
  ansible-playbook -i "$tmp/inventory.yml" -e "work=$tmp" -e "gate_case=$case" --vault-password-file "$tmp/vault-pass" \
    playbooks/gate.yml "$@" >"$tmp/$name.log" 2>&1 || rc=$?
  if grep -n 'Traceback' "$tmp/$name.log" >&2; then fail "$name: a traceback in the output"; fi
  if [ -n "${EXPECT_FAIL:-}" ]; then
    [ "$rc" != 0 ] || fail "$name: the run should have failed"
    return 0
  fi
  [ "$rc" = 0 ] || { grep -v -F -e "$token" -e "$wrong_password" -e "$password2" "$tmp/$name.log" | tail -n 40 >&2; fail "$name: ansible-playbook failed"; }
  recap_changed "$name"
}
# SMTP connections and token requests the stand-in saw: any probe shows here.
gate_connects() { grep -c -e ' ! connect from ' -e ' token #' "$STANDIN_DIR/transcript.log" || true; }
# The applications' files and the gate's state (names and contents): what a refused run must leave alone.
gate_snapshot() {
  { find "$gate/apps" "$gate/verified" 2>/dev/null | sort; find "$gate/apps" "$gate/verified" -type f -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum; } > "$1" || true
}
# gate_sent NAME USER PASSWORD_FILE: the application (env_send.py on app.env) sends; the stand-in got a LOGIN as USER
# with exactly that password over TLS, and the message from USER.
gate_sent() {
  local before
  before=$(standin_mail_count)
  python files/env_send.py "$gate/apps/app.env" "$STANDIN_CA" rcpt@example.com "app_smtp gate $1" > "$tmp/$1_send.log" 2>&1 \
    || { grep -v -F -e "$token" -e "$password2" "$tmp/$1_send.log" | tail -n 5; fail "$1: the application could not send"; }
  standin_wait_mail $((before + 1)) 30 || fail "$1: the message did not arrive"
  python - "$STANDIN_DIR" "$2" "$3" "app_smtp gate $1" <<'PY' || fail "$1: not delivered with the expected login"
import email, glob, json, os, sys
state, user, password_file, subject = sys.argv[1:5]
password = open(password_file, encoding="utf-8").read().rstrip("\n")
auth = [json.loads(line) for line in open(state + "/auth.jsonl", encoding="utf-8")][-1]
assert auth["user"] == user and auth["mechanism"] == "LOGIN" and auth["code"] == 235 and auth["tls"], auth["user"]
assert auth["secret"] == password, "the password that arrived differs"
newest = max(glob.glob(state + "/mail/*.json"), key=lambda p: int(os.path.basename(p).split(".")[0]))
meta = json.load(open(newest))
assert meta["mail_from"] == user and meta["user"] == user, meta["mail_from"]
assert email.message_from_binary_file(open(newest[:-5] + ".eml", "rb"))["Subject"] == subject
PY
}
# gate_refused NAME CASE WHAT HINT PROBES(yes|no) [args]: the run fails with the gate's message naming WHAT (entry: reason)
# and the hint; the files and state are byte-identical; the old password still sends.
gate_refused() {
  local name=$1 case=$2 what=$3 hint=$4 probes=$5 connects
  shift 5
  gate_snapshot "$tmp/$name.before"
  connects=$(gate_connects)
  EXPECT_FAIL=1 gate_play "$name" "$case" "$@"
  grep -qF "$what at stage" "$tmp/$name.log" || fail "$name: '$what' is not in the failure"
  grep -qF "$hint" "$tmp/$name.log" || fail "$name: the hint is missing"
  grep -qF "nothing was written and the live configuration stays as it was" "$tmp/$name.log" || fail "$name: not the gate's failure"
  grep -qF "set app_smtp_verify_credentials: false" "$tmp/$name.log" || fail "$name: the failure does not name the switch"
  if [ "$probes" = yes ]; then
    [ "$(gate_connects)" -gt "$connects" ] || fail "$name: the new settings were not tried at the stand-in"
  else
    [ "$(gate_connects)" = "$connects" ] || fail "$name: an unchanged account was probed again"
  fi
  gate_snapshot "$tmp/$name.after"
  diff "$tmp/$name.before" "$tmp/$name.after" || fail "$name: the refused run changed a file or the gate's state"
  gate_sent "${name}_old" standin@outlook.com "$tmp/password.txt"
}

connects=$(gate_connects)
[ "$(gate_play gate_password password)" -gt 0 ] || fail "gate_password changed nothing"
[ "$(gate_connects)" -gt "$connects" ] || fail "the account was not checked before it was written"
python - "$STANDIN_DIR/auth.jsonl" "$tmp/password.txt" <<'PY' || fail "the gate's check did not log in with the account's password"
import json, sys
auth = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")][-1]
assert auth["secret"] == open(sys.argv[2], encoding="utf-8").read().rstrip("\n") and auth["code"] == 235
PY
[ "$(stat -c '%a' "$gate/verified/app_smtp.json")" = 600 ] || fail "the gate's state file is not 0600"
gate_sent gate_password standin@outlook.com "$tmp/password.txt"
echo "app_smtp: gate on: the env app's account was checked from the host (LOGIN 235), then written; the app sent with it"

gate_refused gate_wrong_password wrong_password "account live: auth_failed" "Wrong credentials: check username and password" \
  yes --diff -vvvv
grep -qF "$wrong_password" "$STANDIN_DIR/auth.jsonl" || fail "the wrong password was not the one tried"
echo "app_smtp: gate on: a wrong new password failed the run (account live, auth_failed, hint), app.env byte-identical, the old password still sends"

gate_refused gate_relay_closed relay_closed "local relay 127.0.0.1:$closed_port: connection_refused" "Nothing listens on" no
echo "app_smtp: gate on: a local relay with nothing on port $closed_port failed the run (connection_refused, hint), relay.ini and app.env byte-identical"

# Check mode with the good change: says what it would check, probes nothing, changes nothing.
gate_snapshot "$tmp/gate_check.before"
connects=$(gate_connects)
[ "$(gate_play gate_check changed --check --diff)" -gt 0 ] || fail "check mode reported no change for the switch"
grep -qF "would check from this host before writing: account second" "$tmp/gate_check.log" || fail "check mode did not say what it would check"
[ "$(gate_connects)" = "$connects" ] || fail "check mode probed the stand-in"
gate_snapshot "$tmp/gate_check.after"
diff "$tmp/gate_check.before" "$tmp/gate_check.after" || fail "check mode changed a file or the gate's state"
echo "app_smtp: gate on, check mode with a good change: would check account second, probed nothing, changed nothing"

connects=$(gate_connects)
[ "$(gate_play gate_changed changed --diff -vvvv)" -gt 0 ] || fail "the good change changed nothing"
[ "$(gate_connects)" -gt "$connects" ] || fail "the new account was not checked before it was written"
gate_sent gate_changed second@outlook.com "$tmp/password2.txt"
echo "app_smtp: gate on: a good new account was checked, then switched; the app sent authenticated with it"

connects=$(gate_connects)
[ "$(gate_play gate_again changed)" = 0 ] || fail "the second run changed something"
[ "$(gate_connects)" = "$connects" ] || fail "the second run probed the stand-in"
echo "app_smtp: gate on, second run: changed=0, no new connection at the stand-in ($connects)"

printf '%s\n' "$token" "$refresh_token" "$password2" "$wrong_password" "p'a" > "$tmp/gate_leak_secrets"
gate_logs=("$tmp"/gate_*.log)
leaks=$(secret_leaks "$tmp/gate_leak_secrets" "${gate_logs[@]}") || fail "a secret appears in the gate section's output: $leaks"
echo "app_smtp: no secret in the gate section's ${#gate_logs[@]} outputs (two -vvvv --diff)"

echo "app_smtp: passed in $((SECONDS - start)) s"
