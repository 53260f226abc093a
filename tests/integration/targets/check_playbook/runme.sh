#!/usr/bin/env bash
# The check playbook (mailops.live_smtp.check) against the stand-in: every report (JSON, Markdown, JUnit XML read by
# junitparser and checked against the JUnit structure CI systems read, self-contained HTML, Prometheus textfile read
# by prometheus_client), hosts that pass, fail, cannot run the module, cannot be reached or have invalid accounts,
# exit codes, and no secret in any output, report or in hostvars after the play.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$here"
# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. ../setup_standin/standin.sh

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_playbook.XXXXXX")
chmod 700 "$tmp"
# CHECK_PLAYBOOK_KEEP=1 keeps the outputs (reports, logs) for a look; secrets.txt holds this run's secrets.
if [ -n "${CHECK_PLAYBOOK_KEEP:-}" ]; then
  echo "check_playbook: keeping $tmp"
else
  trap 'rm -rf "$tmp"' EXIT   # standin_start adds the stand-in's stop to this trap
fi

fail() {
  echo "FAIL: $*" >&2
  standin_dump || true
  exit 1
}

secret() { python -c 'import secrets, sys; print(sys.argv[1] + secrets.token_urlsafe(48))' "$1"; }
user=standin@outlook.com
password=$(secret "pw-")
refresh_token=$(secret "M.C5-")
client_secret=$(secret "cs-")
umask 077
printf '%s\n%s\n%s\n' "$password" "$refresh_token" "$client_secret" > "$tmp/secrets.txt"
python - "$tmp/accounts.json" "$user" "$password" "$refresh_token" <<'PY'
import json, sys
json.dump([{"user": sys.argv[2], "password": sys.argv[3], "refresh_token": sys.argv[4]}], open(sys.argv[1], "w"))
PY
umask 022
standin_start "$tmp/standin" --accounts "$tmp/accounts.json" --keep-refresh-tokens --lifetime 600

# Vaulted secrets, with a vault password made for this run.
vault_pass="$tmp/vault-pass"
secret "vault-" > "$vault_pass"
chmod 600 "$vault_pass"
mkdir -p "$tmp/run/group_vars/all" "$tmp/run/host_vars"
{
  echo "---"
  printf '%s' "$password" | ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_password
  printf '%s' "$refresh_token" | ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_refresh_token
  printf '%s' "$client_secret" | ansible-vault encrypt_string --vault-password-file "$vault_pass" --stdin-name vault_client_secret
} > "$tmp/run/group_vars/all/vault.yml" 2>/dev/null

# A Python without anything for the host "nopython" is not needed: its interpreter does not exist at all.
# "ghost" has an SSH port on loopback where nothing listens: unreachable. "badvars" has an invalid account list.
closed_port=$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
cat > "$tmp/run/inventory.yml" <<YAML
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: "{{ ansible_playbook_python }}"
  hosts:
    mail1:
    mail2:
    nopython:
      ansible_python_interpreter: /nonexistent/bin/python3
    ghost:
      ansible_connection: ssh
      ansible_host: 127.0.0.1
      ansible_port: $closed_port
      ansible_ssh_common_args: -o BatchMode=yes -o ConnectTimeout=3 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
    badvars:
YAML
cat > "$tmp/run/host_vars/badvars.yml" <<'YAML'
live_smtp_accounts:
  - name: Bad Name
    username: someone@example.net
    password: "{{ vault_password }}"
YAML
# The stores of the oauth2_token role, for the token store age: one written an hour ago.
mkdir -p "$tmp/oauth2/root"
echo '{}' > "$tmp/oauth2/root/oauth.json"
touch -d '1 hour ago' "$tmp/oauth2/root/oauth.json"
cat > "$tmp/run/group_vars/all/mail.yml" <<YAML
---
live_smtp_check_prometheus_file: "$tmp/prom/{{ inventory_hostname }}.prom"
live_smtp_check_token_state_dir: "$tmp/oauth2"
live_smtp_accounts:
  - name: tenant
    host: localhost
    port: $(standin_port outlook)
    username: $user
    auth: password
    password: "{{ vault_password }}"
    ca_file: $STANDIN_CA
  - name: personal
    host: localhost
    port: $(standin_port consumer)
    username: $user
    password: "{{ vault_password }}"
    ca_file: $STANDIN_CA
  - name: oauth
    host: localhost
    port: $(standin_port outlook)
    username: $user
    auth: oauth2
    oauth2:
      client_id: $(standin_get accounts.client_id)
      refresh_token: "{{ vault_refresh_token }}"
      client_secret: "{{ vault_client_secret }}"
      token_url: $(standin_get token_url)
    ca_file: $STANDIN_CA
YAML
mkdir -p "$tmp/prom"

# Runs ansible-playbook in $tmp/run, keeps the output in $tmp/NAME.log, checks the exit code and for tracebacks.
run() {
  local name=$1 want_rc=$2 rc=0 started=$SECONDS
  shift 2
  echo "=== $name: ansible-playbook $*"
  (cd "$tmp/run" && ansible-playbook -i inventory.yml --vault-password-file "$vault_pass" "$@") >"$tmp/$name.log" 2>&1 || rc=$?
  if [ "$rc" != "$want_rc" ]; then
    cat "$tmp/$name.log"
    fail "$name: exit code $rc, expected $want_rc"
  fi
  if grep -n 'Traceback' "$tmp/$name.log"; then
    fail "$name: a traceback in the output"
  fi
  echo "=== $name: exit code $rc as expected, $((SECONDS - started)) s"
}

# 1. Every kind of host, every report, -vvvv: exit 4 (ansible-playbook says 4 when a host was unreachable, before 2).
run mixed 4 mailops.live_smtp.check -vvvv -e "live_smtp_check_report_dir=$tmp/report"
sed -n '/^TASK \[Print the summary/,/^PLAY RECAP/p' "$tmp/mixed.log" | head -n 40
sed -n '/^PLAY RECAP/,$p' "$tmp/mixed.log"
for host in mail1 mail2 nopython badvars; do
  grep -qE "^$host +: .* failed=1 " "$tmp/mixed.log" || fail "mixed: $host is not failed in the recap"
done
grep -qE "^ghost +: .* unreachable=1 " "$tmp/mixed.log" || fail "mixed: ghost is not unreachable in the recap"
for line in "OK   tenant localhost:$(standin_port outlook)" \
            "FAIL personal localhost:$(standin_port consumer) reason=basic_auth_disabled stage=auth reply=535 5.7.139" \
            "OK   oauth localhost:$(standin_port outlook)"; do
  [ "$(grep -cF "\"$line" "$tmp/mixed.log")" = 2 ] || fail "mixed: not one summary line per host: $line"
done
grep -qF "account name 'Bad Name' must match" "$tmp/mixed.log" || fail "mixed: the invalid account is not explained"
python "$here/files/check_reports.py" --report-dir "$tmp/report" --prom-dir "$tmp/prom" --standin-port "$(standin_port outlook)" \
  || fail "mixed: wrong reports"
python ../smtp_check/files/leakcheck.py --user "$user" "$tmp/secrets.txt" "$STANDIN_DIR/auth.jsonl" "$tmp"/prom/* \
  || fail "mixed: a secret in a Prometheus file"
# The HTML report as a browser shows it, kept for a person to look at (chromium comes with the docs stage's packages).
if command -v chromium >/dev/null; then
  shots="${ANSIBLE_COLLECTIONS_PATH%%:*}/ansible_collections/mailops/live_smtp/tests/output/check_playbook"
  mkdir -p "$shots" && cp "$tmp/report/live_smtp_check.html" "$shots/report.html"
  profile=$(mktemp -d)
  timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$profile" \
    --screenshot="$shots/report.png" --window-size=1400,1700 "file://$shots/report.html" >/dev/null 2>&1 || true
  rm -rf "$profile"
  python "$here/files/check_reports.py" --screenshot "$shots/report.png" || fail "mixed: the HTML report did not render"
fi

# 2. Reports off, no Prometheus file, only the good hosts and accounts: exit 0, nothing written.
python - "$tmp/run/group_vars/all/mail.yml" "$tmp/run/good.yml" <<'PY'
import sys
text = open(sys.argv[1]).read()
start, end = text.index("  - name: personal"), text.index("  - name: oauth")
open(sys.argv[2], "w").write(text[text.index("live_smtp_accounts:"):start] + text[end:])
PY
rm -rf "$tmp/prom"/*
run good 0 mailops.live_smtp.check -e live_smtp_check_hosts=mail1:mail2 -e @good.yml -e live_smtp_check_prometheus_file=
[ -z "$(ls -A "$tmp/prom")" ] || fail "good: a Prometheus file was written although it was off"
grep -qE '^mail1 +: ok=2 .*failed=0 ' "$tmp/good.log" || fail "good: mail1 did not pass"

# 2b. A token store not refreshed for 61 days: a WARN line (threshold live_smtp_check_token_store_warn_days, 60) in the
# summary and the reports; the check itself still passes.
touch -d '61 days ago' "$tmp/oauth2/root/oauth.json"
run old-store 0 mailops.live_smtp.check -e live_smtp_check_hosts=mail1 -e @good.yml -e live_smtp_check_prometheus_file= \
  -e "live_smtp_check_report_dir=$tmp/report-old" -e '{"live_smtp_check_report_formats": ["json", "markdown"]}'
grep -qF "WARN account oauth: the token store was not refreshed for 61 days (warning after 60)" "$tmp/old-store.log" \
  || fail "old-store: no WARN line for the 61-day-old token store"
grep -qE "OK   oauth localhost:[0-9]+ .*token_store_days=61\.0" "$tmp/old-store.log" || fail "old-store: no age in the summary"
python - "$tmp/report-old/live_smtp_check.json" <<'PY' || fail "old-store: wrong JSON report"
import json, sys
report = json.load(open(sys.argv[1]))
rows = {row["account"]: row for row in report["checks"]}
assert rows["oauth"]["ok"] and 60.9 < rows["oauth"]["token_store_age_days"] < 61.1, rows["oauth"]
assert rows["tenant"]["token_store_age_days"] is None, rows["tenant"]
assert [w for w in report["warnings"]["mail1"] if w.startswith("account oauth: the token store was not refreshed")]
PY
grep -qF "not refreshed for 61 days" "$tmp/report-old/live_smtp_check.md" || fail "old-store: no warning in the Markdown"
touch -d '1 hour ago' "$tmp/oauth2/root/oauth.json"

# 3. Nothing secret stays in hostvars after the check task, with secure logging on and off (-vvvv).
for logging in true false; do
  run "hostvars-$logging" 0 "$here/playbooks/dump_hostvars.yml" -vvvv -e live_smtp_check_hosts=mail1:mail2 -e @good.yml \
    -e "live_smtp_check_secure_logging=$logging" -e "dump_file=$tmp/hostvars-$logging.json" -e "live_smtp_check_report_dir=$tmp/report-$logging"
  python - "$tmp/hostvars-$logging.json" "$tmp/secrets.txt" "$tmp/hostvars-$logging-rest.json" <<'PY' || fail "hostvars ($logging): wrong dump"
import json, sys
hostvars = json.load(open(sys.argv[1]))
password, refresh_token, _ = open(sys.argv[2]).read().split("\n", 2)
inputs = ("live_smtp_accounts", "vault_password", "vault_refresh_token", "vault_client_secret")
for host in ("mail1", "mail2"):
    variables = hostvars[host]
    # Positive control: the dump is decrypted, so the inputs do show the secrets; the search below can find them.
    assert password in json.dumps([variables[k] for k in inputs]) and refresh_token in json.dumps(variables["live_smtp_accounts"])
    result = variables["__live_smtp_check_result"]
    assert [row["account"] for row in result["checks"]] == ["tenant", "oauth"], result
# Every host of the inventory keeps its inputs (group_vars, host_vars); everything else is searched.
for variables in hostvars.values():
    for key in inputs:
        variables.pop(key, None)
json.dump(hostvars, open(sys.argv[3], "w"))
print("hostvars: dump decrypted (control found the secrets in the inputs); rest written for the leak search")
PY
done
python ../smtp_check/files/leakcheck.py --user "$user" "$tmp/secrets.txt" "$STANDIN_DIR/auth.jsonl" \
  "$tmp/hostvars-true-rest.json" "$tmp/hostvars-false-rest.json" || fail "a secret stayed in hostvars after the check"

# 4. Check mode writes the reports (they are the output) but not the Prometheus file on the hosts.
rm -rf "$tmp/report-check" "$tmp/prom"/*
run check-mode 0 mailops.live_smtp.check --check -e live_smtp_check_hosts=mail1 -e @good.yml \
  -e "live_smtp_check_report_dir=$tmp/report-check" -e '{"live_smtp_check_report_formats": ["junit"]}'
[ "$(ls "$tmp/report-check")" = "live_smtp_check.junit.xml" ] || fail "check-mode: not exactly the JUnit report: $(ls "$tmp/report-check")"
[ -z "$(ls -A "$tmp/prom")" ] || fail "check-mode: the Prometheus file was written in check mode"

# 5. A bad report format is refused with a clear message.
run bad-format 2 mailops.live_smtp.check -e live_smtp_check_hosts=mail1 -e @good.yml \
  -e "live_smtp_check_report_dir=$tmp/report-bad" -e '{"live_smtp_check_report_formats": ["pdf"]}'
grep -q "value of formats must be one or more of" "$tmp/bad-format.log" || fail "bad-format: no clear message"

# 6. Every host unreachable: exit 4, and no host is left to write the reports (documented).
run all-unreachable 4 mailops.live_smtp.check -e live_smtp_check_hosts=ghost -e "live_smtp_check_report_dir=$tmp/report-ghost"
grep -qE '^ghost +: .* unreachable=1 ' "$tmp/all-unreachable.log" || fail "all-unreachable: ghost is not unreachable"
[ ! -e "$tmp/report-ghost" ] || fail "all-unreachable: a report was written although no host was left to write it"

# No secret in any output, report or Prometheus file of this target, in any encoding.
python ../smtp_check/files/leakcheck.py --user "$user" "$tmp/secrets.txt" "$STANDIN_DIR/auth.jsonl" \
  "$tmp"/*.log "$tmp"/report*/* || fail "a secret leaked"
echo "check_playbook: all passed"
