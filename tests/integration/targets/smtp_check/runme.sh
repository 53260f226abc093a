#!/usr/bin/env bash
# smtp_check end to end against the stand-in server: success paths, every failure reason, DNS with and without
# dnspython, secrets (vaulted, searched for in -vvvv/--diff/--check output and in what the stand-in received), and
# the check playbook (mailops.live_smtp.check) across a two-host inventory with its report.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. ../setup_standin/standin.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/smtp_check.XXXXXX")
chmod 700 "$tmp"
# SMTP_CHECK_KEEP=1 keeps the outputs for a post-mortem (they hold no secret in clear, except auth.jsonl and secrets.txt).
generic_pid=
stop_generic() { if [ -n "$generic_pid" ]; then kill "$generic_pid" 2>/dev/null || true; wait "$generic_pid" 2>/dev/null || true; fi; generic_pid=; }
if [ -n "${SMTP_CHECK_KEEP:-}" ]; then
  echo "smtp_check: keeping $tmp"
  trap 'stop_generic' EXIT
else
  trap 'stop_generic; rm -rf "$tmp"' EXIT   # standin_start adds the stand-in's stop to this trap
fi

fail() {
  echo "FAIL: $*" >&2
  standin_dump || true
  exit 1
}

# Long unique secrets for this run only: any appearance in output is a leak, never a coincidence.
secret() { python -c 'import secrets, sys; print(sys.argv[1] + secrets.token_urlsafe(48))' "$1"; }
user=standin@outlook.com
password=$(secret "pw-")
refresh_token=$(secret "M.C5-")
# A password full of template syntax and quotes: it must arrive byte-exact, never templated by Ansible.
brace_user=braces@example.test
brace_password=$(secret "pw {{ not_a_var }} {% if x %} \"q\" 's' ")
umask 077
printf '%s\n%s\n%s\n' "$password" "$refresh_token" "$brace_password" > "$tmp/secrets.txt"
python - "$tmp/accounts.json" "$user" "$password" "$refresh_token" "$brace_user" "$brace_password" <<'PY'
import json, sys
json.dump([{"user": sys.argv[2], "password": sys.argv[3], "refresh_token": sys.argv[4]},
           {"user": sys.argv[5], "password": sys.argv[6]}], open(sys.argv[1], "w"))
PY
umask 022

# Refresh tokens stay valid after use here (Microsoft keeps them valid too), so one vaulted token serves every run.
standin_start "$tmp/standin" --accounts "$tmp/accounts.json" --keep-refresh-tokens --lifetime 900 --slow-banner 3
[ "$(standin_get accounts.password)" = "$password" ] || fail "the stand-in did not take the accounts file"

# A Python without dnspython for the managed host "nodns" (no pip needed: modules use only the standard library).
python3 -m venv --without-pip "$tmp/nodns"
if "$tmp/nodns/bin/python" -c 'import dns.resolver' 2>/dev/null; then
  fail "the venv $tmp/nodns should not have dnspython"
fi

cat > "$tmp/inventory.yml" <<YAML
all:
  hosts:
    testhost:
      ansible_connection: local
      ansible_python_interpreter: "{{ ansible_playbook_python }}"
    nodns:
      ansible_connection: local
      ansible_python_interpreter: $tmp/nodns/bin/python
YAML

# Runs a playbook, keeps its output in $tmp/NAME.log, fails on a non-zero exit or on a traceback in the output.
play() {
  local name=$1 playbook=$2 started=$SECONDS
  shift 2
  echo "=== $name: ansible-playbook $playbook $*"
  if ! ansible-playbook -i "$tmp/inventory.yml" -e "standin_ready=$STANDIN_READY" "$playbook" "$@" >"$tmp/$name.log" 2>&1; then
    cat "$tmp/$name.log"
    fail "$name: ansible-playbook failed"
  fi
  tail -n 4 "$tmp/$name.log"
  if grep -n 'Traceback' "$tmp/$name.log"; then
    fail "$name: a traceback in the output"
  fi
  echo "=== $name: passed in $((SECONDS - started)) s"
}

play success playbooks/success.yml

# --- a server that is not Microsoft's (aiosmtpd): hints, auth_mechanism, timings, challenge and warnings true there
generic_dir="$tmp/generic"
(umask 077 && python -c 'import json, sys; print(json.dumps({"generic_password": sys.argv[1]}))' "$password" >"$tmp/generic_vars.json")
"$STANDIN_PYTHON" "$STANDIN_ROOT/tests/standin/generic_smtp.py" --state-dir "$generic_dir" --lifetime 300 \
  --password "$password" --token "$(secret "generic-token-")" >"$tmp/generic.log" 2>&1 &
generic_pid=$!
for _ in $(seq 100); do [ -s "$generic_dir/ready.json" ] && break; sleep 0.2; done
[ -s "$generic_dir/ready.json" ] || { cat "$tmp/generic.log"; fail "the generic server did not start"; }
# A JWT-shaped token the generic server does not know.
generic_jwt="eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.$(printf '{"sub":"user@example.test","exp":4102444800}' | base64 -w0 | tr -d '=').c2lnbmF0dXJl"
play any-server playbooks/any_server.yml -e "generic_ready=$generic_dir/ready.json" -e "generic_jwt=$generic_jwt" \
  -e "@$tmp/generic_vars.json"
stop_generic
# -vvv shows an `exception` of a failed module: a traceback there is a bug too.
play reasons playbooks/reasons.yml -vvv
auth_lines_before_apponly=$(standin_auth_count)
play apponly playbooks/apponly.yml -vvv
# Three test messages went out authenticated with app tokens: XOAUTH2 as the mailbox, accepted.
python - "$STANDIN_DIR/auth.jsonl" "$auth_lines_before_apponly" "$(standin_get app.mailboxes.0)" <<'PY' || fail "apponly: no app-token logins in auth.jsonl"
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])][int(sys.argv[2]):]
ok = [e for e in lines if e["mechanism"] == "XOAUTH2" and e["user"] == sys.argv[3] and e["code"] == 235]
denied = [e for e in lines if e["mechanism"] == "XOAUTH2" and e["code"] == 535]
print("auth.jsonl: %d app-token XOAUTH2 logins accepted as %s, %d refused with 535" % (len(ok), sys.argv[3], len(denied)))
sys.exit(0 if len(ok) == 3 and len(denied) == 1 else 1)
PY
play dns playbooks/dns.yml -vvv

# --- secrets: vaulted with real ansible-vault, a vault password made for this run only
# The stand-in's app secrets and the app's private key are secrets too (the key by every base64 line of its PEM).
app_secret=$(standin_get app.client_secret)
app_denied_secret=$(python -c 'import json, sys; print([a for a in json.load(open(sys.argv[1]))["apps"] if a["name"] == "no_service_principal"][0]["client_secret"])' "$STANDIN_READY")
app_key_file=$(standin_get app_certificate.private_key_file)
(umask 077 && { printf '%s\n%s\n' "$app_secret" "$app_denied_secret"; grep -v -- '-----' "$app_key_file" | grep -E '.{40}'; } >> "$tmp/secrets.txt")
vault_pass="$tmp/vault/pass"
mkdir -m 700 "$tmp/vault"
secret "vault-" > "$vault_pass"
chmod 600 "$vault_pass"
{
  echo "---"
  printf '%s' "$password" | ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_secret_password
  printf '%s' "$refresh_token" | ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_secret_refresh_token
  # ansible-core 2.19 never templates a !vault value; the !unsafe file below is the way that works on every version.
  printf '%s' "$brace_password" | ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_brace_password
  printf '%s' "$app_secret" | ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_app_client_secret
  printf '%s' "$app_denied_secret" | ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_app_denied_client_secret
  ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_app_private_key <"$app_key_file"
} > "$tmp/vault/secrets.yml" 2>/dev/null
python - "$tmp/vault/unsafe.yml" "$brace_password" <<'PY'
import json, os, sys
# A JSON string is a valid YAML double-quoted scalar.
with open(os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
    handle.write("---\nunsafe_brace_password: !unsafe %s\n" % json.dumps(sys.argv[2]))
PY
ansible-vault encrypt --vault-password-file "$vault_pass" "$tmp/vault/unsafe.yml" >/dev/null 2>&1
grep -qF 'ANSIBLE_VAULT;1.1;AES256' "$tmp/vault/secrets.yml" || fail "ansible-vault encrypt_string made no vault"
python "$here/files/leakcheck.py" "$tmp/secrets.txt" /dev/null "$tmp/vault/secrets.yml" "$tmp/vault/unsafe.yml" >/dev/null \
  || fail "a vaulted vars file holds a secret in clear"

auth_lines_before=$(standin_auth_count)
vault=(-e "@$tmp/vault/secrets.yml" -e "@$tmp/vault/unsafe.yml" -e "brace_user=$brace_user" --vault-password-file "$vault_pass")
play secrets-diff playbooks/secrets.yml "${vault[@]}" -vvvv --diff
play secrets-check playbooks/secrets.yml "${vault[@]}" -vvvv --check --diff

# What arrived: the password byte-exact on the good server; nothing at all on the bad certificates nor without TLS.
python - "$STANDIN_DIR/auth.jsonl" "$auth_lines_before" "$password" "$brace_password" <<'PY' || fail "credentials arrived where they must not"
import json, sys
lines = [json.loads(line) for line in open(sys.argv[1])][int(sys.argv[2]):]
braces = [entry for entry in lines if entry["user"] == "braces@example.test" and entry["secret"] == sys.argv[4] and entry["code"] == 235]
bad = [entry for entry in lines if entry["scenario"] in ("untrusted_cert", "wrong_host_cert", "expired_cert", "no_starttls")]
exact = [entry for entry in lines if entry["scenario"] == "outlook" and entry["mechanism"] == "LOGIN" and entry["secret"] == sys.argv[3]]
tokens = [entry for entry in lines if entry["scenario"] == "outlook" and entry["mechanism"] == "XOAUTH2"]
print("auth.jsonl: %d new AUTH lines, %d on bad certificates, %d exact password logins, %d XOAUTH2 logins, "
      "%d exact logins with the template-syntax password" % (len(lines), len(bad), len(exact), len(tokens), len(braces)))
# XOAUTH2 per run: the refresh token login and three app-only logins (secret, certificate, refused app).
sys.exit(1 if bad or len(exact) != 2 or len(tokens) != 8 or len(braces) != 4 else 0)
PY

# --- the check playbook across an inventory of two hosts, with its report
check_dir="$tmp/check"
mkdir -p "$check_dir/group_vars/all"
# nopython: a host where the module cannot run at all; it must be reported, not stop the others.
cat > "$check_dir/inventory.yml" <<'YAML'
all:
  hosts:
    mail1:
    mail2:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  children:
    broken:
      hosts:
        nopython:
          ansible_python_interpreter: /nonexistent/bin/python3
YAML
cp "$tmp/vault/secrets.yml" "$check_dir/group_vars/all/vault.yml"
cat > "$check_dir/group_vars/all/mail.yml" <<YAML
---
live_smtp_accounts:
  - name: tenant
    host: localhost
    port: $(standin_port outlook)
    username: $user
    auth: password
    password: "{{ vault_secret_password }}"
    ca_file: $STANDIN_CA
  - name: personal
    host: localhost
    port: $(standin_port consumer)
    username: $user
    password: "{{ vault_secret_password }}"
    ca_file: $STANDIN_CA
  - name: oauth
    host: localhost
    port: $(standin_port outlook)
    username: $user
    auth: oauth2
    oauth2:
      client_id: $(standin_get accounts.client_id)
      refresh_token: "{{ vault_secret_refresh_token }}"
      token_url: $(standin_get token_url)
    ca_file: $STANDIN_CA
YAML
# The same accounts without the personal one, for a run that must pass.
python - "$check_dir/group_vars/all/mail.yml" "$check_dir/good.yml" <<'PY'
import sys
text = open(sys.argv[1]).read()
start = text.index("  - name: personal")
end = text.index("  - name: oauth")
open(sys.argv[2], "w").write(text[:start] + text[end:])
PY
# ... plus two app-only accounts (client credentials: the vaulted client secret, the certificate) that must pass too.
cat >> "$check_dir/good.yml" <<YAML
  - name: apponly
    host: localhost
    port: $(standin_port outlook)
    username: $(standin_get app.mailboxes.0)
    oauth2:
      grant: client_credentials
      client_id: $(standin_get app.client_id)
      tenant: $(standin_get tenant_id)
      token_url: $(standin_get app_token_url)
      client_secret: "{{ vault_app_client_secret }}"
      client_secret_expires: "2099-12-31"
    ca_file: $STANDIN_CA
  - name: appcert
    host: localhost
    port: $(standin_port outlook)
    username: $(standin_get app.mailboxes.0)
    oauth2:
      grant: client_credentials
      client_id: $(standin_get app.client_id)
      tenant: $(standin_get tenant_id)
      token_url: $(standin_get app_token_url)
      certificate: $(standin_get app_certificate.certificate_file)
      private_key: $(standin_get app_certificate.private_key_file)
    ca_file: $STANDIN_CA
YAML

check() {
  local name=$1 want_rc=$2 rc=0 started=$SECONDS
  shift 2
  echo "=== $name: ansible-playbook mailops.live_smtp.check $*"
  ansible-playbook -i "$check_dir/inventory.yml" --vault-password-file "$vault_pass" mailops.live_smtp.check "$@" \
    >"$tmp/$name.log" 2>&1 || rc=$?
  if [ "$rc" != "$want_rc" ]; then
    cat "$tmp/$name.log"
    fail "$name: exit code $rc, expected $want_rc"
  fi
  if grep -n 'Traceback' "$tmp/$name.log"; then
    fail "$name: a traceback in the output"
  fi
  echo "=== $name: exit code $rc as expected, $((SECONDS - started)) s"
}

check check-mixed 2 -vvvv -e "live_smtp_check_report_dir=$tmp/report"
grep -E '^\s*"(OK|FAIL|WARN) ' "$tmp/check-mixed.log" || fail "check-mixed: no summary lines"
[ "$(grep -cE '^\s*"WARN .*personal Microsoft account' "$tmp/check-mixed.log")" = 2 ] || fail "check-mixed: no warning line per host"
# One summary line per host and account (two hosts).
for line in "OK   tenant localhost:$(standin_port outlook)" \
            "FAIL personal localhost:$(standin_port consumer) reason=basic_auth_disabled stage=auth reply=535 5.7.139" \
            "OK   oauth localhost:$(standin_port outlook)"; do
  [ "$(grep -cF "$line" "$tmp/check-mixed.log")" = 2 ] || fail "check-mixed: not one summary line per host: $line"
done
[ "$(grep -cE '^(mail1|mail2|nopython) .* failed=1 ' "$tmp/check-mixed.log")" = 3 ] || fail "check-mixed: the hosts did not all fail at the end"
python - "$tmp/report/live_smtp_check.json" "$tmp/report/live_smtp_check.md" <<'PY' || fail "check-mixed: wrong report"
import json, os, stat, sys
report = json.load(open(sys.argv[1]))
markdown = open(sys.argv[2]).read()
rows = {(c["host"], c["account"]): c for c in report["checks"]}
assert report["ok"] is False, report["ok"]
assert sorted(rows) == sorted((h, a) for h in ("mail1", "mail2", "nopython") for a in ("tenant", "personal", "oauth")), sorted(rows)
for account in ("tenant", "personal", "oauth"):
    broken = rows["nopython", account]
    assert not broken["ok"] and broken["reason"] == "module_error" and "interpreter" in broken["hint"], broken
for host in ("mail1", "mail2"):
    assert rows[host, "tenant"]["ok"] and rows[host, "tenant"]["tls_version"] in ("TLSv1.2", "TLSv1.3"), rows[host, "tenant"]
    assert rows[host, "oauth"]["ok"] and rows[host, "oauth"]["auth_mechanism"] in ("XOAUTH2", None), rows[host, "oauth"]
    personal = rows[host, "personal"]
    assert not personal["ok"] and personal["reason"] == "basic_auth_disabled", personal
    assert personal["failed_stage"] == "auth" and personal["reply"]["code"] == 535, personal
    assert "OAuth2" in personal["hint"], personal
    # The module's warnings, per host (standin@outlook.com looks like a personal account).
    assert any("personal Microsoft account" in w for w in report["warnings"][host]), report["warnings"]
assert "nopython" not in report["warnings"], report["warnings"]
assert "| mail1 | personal |" in markdown and "`basic_auth_disabled`" in markdown, markdown
assert "4 of 9 checks passed" in markdown, markdown
assert "## Warnings" in markdown and "- mail1: outlook.com looks like a personal Microsoft account" in markdown, markdown
for path in sys.argv[1:]:
    assert not os.stat(path).st_mode & stat.S_IROTH, "%s is world-readable" % path
print("report: 9 checks, 5 failed as expected")
PY

# A malformed account list stops the play with a message that names the problem, not the secret (-vvvv).
cat > "$check_dir/bad.yml" <<'YAML'
live_smtp_accounts:
  - name: Bad Name
    username: someone@example.net
    password: "{{ vault_secret_password }}"
YAML
check check-bad-accounts 2 -e live_smtp_check_hosts=mail1 -e "@$check_dir/bad.yml" -vvvv
grep -q "account name 'Bad Name' must match" "$tmp/check-bad-accounts.log" || fail "check-bad-accounts: no clear message"

mails_before=$(standin_mail_count)
check check-good-check 0 -e live_smtp_check_hosts=mail1:mail2 -e "@$check_dir/good.yml" -e live_smtp_check_send_test_message=true --check --diff -vvvv
[ "$(standin_mail_count)" = "$mails_before" ] || fail "check mode sent a message"
auth_before_send=$(standin_auth_count)
check check-good-send 0 -e live_smtp_check_hosts=mail1:mail2 -e "@$check_dir/good.yml" -e live_smtp_check_send_test_message=true
standin_wait_mail $((mails_before + 8)) 10 || fail "check-good-send: 8 test messages (2 hosts x 4 accounts) expected"
[ "$(standin_mail_count)" = $((mails_before + 8)) ] || fail "check-good-send: more than 8 messages arrived"
for account in apponly appcert; do
  [ "$(grep -cF "OK   $account localhost:$(standin_port outlook)" "$tmp/check-good-send.log")" = 2 ] \
    || fail "check-good-send: the app-only account $account is not OK on both hosts"
done
# The app-only accounts' four messages went out as the mailbox with XOAUTH2 and tokens the stand-in issued to the app.
python - "$STANDIN_DIR" "$mails_before" "$auth_before_send" "$(standin_get app.mailboxes.0)" "$(standin_get app.client_id)" <<'PY' \
  || fail "check-good-send: the app-only messages did not arrive with app tokens"
import json, sys
state, mails_before, auth_before, mailbox, app_id = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
tokens = json.load(open(state + "/state.json"))["access_tokens"]
auth = [json.loads(line) for line in open(state + "/auth.jsonl")][auth_before:]
app_logins = [a for a in auth if (tokens.get(a["secret"]) or {}).get("app") == app_id and a["user"] == mailbox
              and a["mechanism"] == "XOAUTH2" and a["code"] == 235]
mails = [json.load(open("%s/mail/%d.json" % (state, n))) for n in range(mails_before + 1, mails_before + 9)]
xoauth2 = [m for m in mails if m["mechanism"] == "XOAUTH2" and m["user"] == mailbox]
print("check-good-send: %d app-token logins as %s, %d of 8 messages sent with XOAUTH2" % (len(app_logins), mailbox, len(xoauth2)))
# XOAUTH2 messages: oauth, apponly and appcert on two hosts.
sys.exit(0 if len(app_logins) >= 4 and len(xoauth2) == 6 else 1)
PY

# --- a revoked grant (AADSTS50173) through the real module: the stand-in's test-only control revokes the user's
# refresh tokens (last, as the runs above use that refresh token).
revoked=$(curl -sS --cacert "$STANDIN_CA" -d "user=$user" "$(standin_get control_url)/revoke") || fail "revoke: control_url refused"
python -c 'import json, sys; sys.exit(0 if json.loads(sys.argv[1])["revoked"] >= 1 else 1)' "$revoked" \
  || fail "revoke: nothing revoked ($revoked)"
play revoked playbooks/revoked.yml -vvv

# Nothing secret in any output of this target, in any encoding, nor in the reports.
python "$here/files/leakcheck.py" --user "$user" "$tmp/secrets.txt" "$STANDIN_DIR/auth.jsonl" \
  "$tmp"/*.log "$tmp/report/live_smtp_check.json" "$tmp/report/live_smtp_check.md" || fail "a secret leaked"
# A client assertion is made fresh for each request, so search for what every one begins with: its RS256 JWT header
# with x5t#S256 (checked against an assertion made by _oauth2 here).
assertion_head=$(printf '{"alg":"RS256","typ":"JWT","x5t#S256":"' | base64 -w0 | tr '+/' '-_' | tr -d '=' | cut -c1-48)
python - "$STANDIN_ROOT/plugins/module_utils/_oauth2.py" "$(standin_get app_certificate.certificate_file)" "$app_key_file" \
  "$assertion_head" <<'PY' || fail "the client assertion pattern does not match a real assertion"
import importlib.util, sys
spec = importlib.util.spec_from_file_location("oauth2_for_leakcheck", sys.argv[1])
oauth2 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(oauth2)
assert oauth2.client_assertion("cid", "https://localhost/t", sys.argv[2], sys.argv[3]).startswith(sys.argv[4])
PY
if grep -lF "$assertion_head" "$tmp"/*.log; then fail "a client assertion leaked"; fi
echo "smtp_check: all passed"
