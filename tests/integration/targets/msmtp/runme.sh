#!/usr/bin/env bash
# `[ A ] && grep B || fail` is meant throughout: fail when either check fails.
# shellcheck disable=SC2015
# Integration test of the role mailops.live_smtp.msmtp with the real msmtp, real ansible-vault and the stand-in:
# mail sent as root, as a listed user and with a per-user config arrives authenticated with exactly the vaulted
# secret over verified TLS with From rewritten to the login; XOAUTH2 through live-smtp-token; an unlisted user cannot
# read the secret nor send; untrusted and wrong-name certificates get no credential; msmtp-mta refused beside Postfix;
# check mode, idempotence, no secret in -vvvv/--diff output or any file left behind; generated passwords byte-exact.
# The verified switch (on by default): a wrong new password or app secret fails the run and leaves everything
# byte-identical with mail still going out on the old password; the good app secret switches; reruns do not probe.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export TARGET=msmtp   # read by target.sh
# shellcheck source=../setup_standin/target.sh
. "$here/../setup_standin/target.sh"

# One run at a time on a host: the test writes /etc/msmtprc (and restores it), so two runs would save each other's.
target_lock /tmp/.mailops-live-smtp-msmtp-test.lock 900 || exit 1

HYPOTHESIS_COUNT=${MSMTP_TEST_PASSWORDS:-200}
T=$(mktemp -d /tmp/msmtp-test.XXXXXX)
chmod 0755 "$T"   # test users traverse it (secrets, token stores and homes below have their own modes)
mkdir -p "$T/out" "$T/home"
sfx=$$
stores="$T/token stores"   # a space: the role must quote the token paths it hands to msmtp's shell
listed=lstml$sfx
unlisted=lstmx$sfx
peruser=lstmp$sfx
group=lstmg$sfx
created_users=()
system_rc=/etc/msmtprc

cleanup() {
  local rc=$? u
  standin_stop
  for u in "${created_users[@]}"; do userdel "$u" 2>/dev/null || true; groupdel "$u" 2>/dev/null || true; done
  groupdel "$group" 2>/dev/null || true
  # The keepalive jobs the oauth2_token role installed for this run's token stores.
  grep -lF "$T/" /etc/cron.d/mailops-live-smtp-token-* 2>/dev/null | while read -r f; do rm -f "$f"; done
  if [ -e "$T/msmtprc.orig" ]; then mv -f "$T/msmtprc.orig" "$system_rc"; elif [ -n "${wrote_system_rc:-}" ]; then rm -f "$system_rc"; fi
  if [ "$rc" -ne 0 ]; then
    echo "---- msmtp: FAILED (rc $rc); logs in $T/out (kept)" >&2
    standin_dump || true
  else
    rm -rf "$T"
  fi
}

standin_start "$T/standin" --lifetime 900 --accept-any-password --scenarios outlook,untrusted_cert,wrong_host_cert
trap cleanup EXIT   # replaces standin.sh's trap: cleanup stops the stand-in itself, after reading the exit status
[ ! -e "$system_rc" ] || cp -p "$system_rc" "$T/msmtprc.orig"

for u in "$listed" "$unlisted" "$peruser"; do
  useradd --user-group --home-dir "$T/home/$u" --create-home --shell /bin/sh "$u"
  created_users+=("$u")
done

PY=python3
for candidate in "${ANSIBLE_TEST_PYTHON_INTERPRETER:-}" python python3; do
  if [ -n "$candidate" ] && "$candidate" -c 'import hypothesis' 2>/dev/null; then PY=$candidate; break; fi
done

rand() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }
login=$(standin_get accounts.user)
refresh_token=$(standin_get accounts.refresh_token)
client_id=$(standin_get accounts.client_id)
# Passwords with the characters that break naive configs; the per-user one ends in spaces.
system_password="sys $(rand) #%\\:\$ {{ x }} 'q\" é"
user_password=" usr-$(rand) "
untrusted_password="never-sent-$(rand)"
app_secret=$(standin_get app.client_secret)

printf '%s\n' "test-vault-$(rand)" > "$T/vault-pass"
chmod 0600 "$T/vault-pass"
# secrets.yml: JSON strings are YAML double-quoted scalars; !unsafe on the one that holds {{ }}.
"$PY" - "$T/secrets.yml" "$system_password" "$user_password" "$untrusted_password" "$refresh_token" "$app_secret" <<'EOF'
import json, os, sys
names = ["vault_system_password", "vault_user_password", "vault_untrusted_password", "vault_refresh_token",
         "vault_app_client_secret"]
os.umask(0o077)
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    for name, value in zip(names, sys.argv[2:]):
        # !unsafe only where needed: ansible-core 2.19 re-types an !unsafe scalar that looks like a number or bool.
        quoted = json.dumps(value, ensure_ascii=False)
        handle.write("%s: %s%s\n" % (name, "!unsafe " if "{" in value else "", quoted))
EOF
ansible-vault encrypt --vault-password-file "$T/vault-pass" "$T/secrets.yml" >/dev/null
grep -q '^[$]ANSIBLE_VAULT;' "$T/secrets.yml" || fail "secrets.yml is not vault-encrypted"

alias_target="ops-$(rand | tr '[:upper:]' '[:lower:]' | cut -c1-8)@example.net"
cat > "$T/vars.yml" <<EOF
# Off: untrusted and wronghost deliberately cannot log in (bad certificates); the gate section below runs it on.
msmtp_verify_credentials: false
live_smtp_verify_state_dir: $T/verified
msmtp_users: [$listed]
msmtp_group: $group
msmtp_user_configs:
  - user: $peruser
    accounts: [personal]
msmtp_secret_dir: $T/secrets
msmtp_token_helper: $T/lib/live-smtp-token
msmtp_token_state_dir: "$stores"
msmtp_logfile: $T/msmtp.log
msmtp_aliases_file: $T/aliases
msmtp_aliases:
  root: $alias_target
  default: $alias_target
msmtp_accounts: [outlook, oauth, untrusted, wronghost, apponly, appcert]
live_smtp_accounts:
  - name: outlook
    host: localhost
    port: $(standin_port outlook)
    username: $login
    auth: password
    password: "{{ vault_system_password }}"
    ca_file: $STANDIN_CA
  - name: oauth
    host: localhost
    port: $(standin_port outlook)
    username: $login
    ca_file: $STANDIN_CA
    oauth2:
      client_id: $client_id
      refresh_token: "{{ vault_refresh_token }}"
      token_url: $(standin_get token_url)
  - name: apponly
    host: localhost
    port: $(standin_port outlook)
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
    port: $(standin_port outlook)
    username: $(standin_get app.mailboxes.0)
    ca_file: $STANDIN_CA
    oauth2:
      grant: client_credentials
      client_id: $(standin_get app.client_id)
      tenant: $(standin_get tenant_id)
      token_url: $(standin_get app_token_url)
      certificate: $(standin_get app_certificate.certificate_file)
      private_key: $(standin_get app_certificate.private_key_file)
  - name: personal
    host: localhost
    port: $(standin_port outlook)
    username: $login
    password: "{{ vault_user_password }}"
    ca_file: $STANDIN_CA
  - name: untrusted
    host: localhost
    port: $(standin_port untrusted_cert)
    username: $login
    password: "{{ vault_untrusted_password }}"
    ca_file: $STANDIN_CA
  - name: wronghost
    host: localhost
    port: $(standin_port wrong_host_cert)
    username: $login
    password: "{{ vault_untrusted_password }}"
    ca_file: $STANDIN_CA
EOF

# run_play NAME [args]: output in $T/out/NAME.log; prints the changed count. EXPECT_FAIL=1: must fail.
run_play() {
  local name=$1 started=$SECONDS rc=0
  shift
  ansible-playbook "${PLAYBOOK:-$here/playbooks/role.yml}" -i localhost, -e "test_dir=$T" \
    -e "ansible_python_interpreter=$(command -v python3)" --vault-password-file "$T/vault-pass" "$@" \
    > "$T/out/$name.log" 2>&1 || rc=$?
  echo "msmtp: ansible-playbook $name: $((SECONDS - started)) s, rc $rc" >&2
  if [ -n "${EXPECT_FAIL:-}" ]; then
    [ "$rc" != 0 ] || fail "ansible-playbook ($name) should have failed"
    return 0
  fi
  [ "$rc" = 0 ] || { tail -n 40 "$T/out/$name.log" >&2; fail "ansible-playbook ($name) failed"; }
  sed -n 's/^localhost *:.* changed=\([0-9]*\).*/\1/p' "$T/out/$name.log" | tail -n 1
}
auth_lines() { standin_auth_count; }
# last_auth FIELD: a field of the newest auth.jsonl entry
last_auth() { "$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$STANDIN_DIR/auth.jsonl" "$1"; }
# send NAME AS [msmtp args...]: a mail whose From header is NOT the login; output in $T/out/NAME.{out,err}; sets rc
send() {
  local name=$1 as=$2
  shift 2
  local msg="From: Someone Else <someone.else@example.org>\nTo: rcpt@example.net\nSubject: msmtp test $name\n\nbody $name\n"
  rc=0
  if [ "$as" = root ]; then
    printf '%b' "$msg" | msmtp "$@" > "$T/out/$name.out" 2> "$T/out/$name.err" || rc=$?
  else
    printf '%b' "$msg" | su -s /bin/sh "$as" -c "msmtp $*" > "$T/out/$name.out" 2> "$T/out/$name.err" || rc=$?
  fi
}
# check_delivery NAME MECHANISM SECRET: newest mail is NAME's, authenticated as the login with SECRET over TLS,
# envelope and From header rewritten to the login.
check_delivery() {
  "$PY" - "$STANDIN_DIR" "$1" "$2" "$3" "$login" <<'EOF' || fail "delivery check of $1"
import email, json, os, sys
state, name, mechanism, secret, login = sys.argv[1:]
auth = json.loads(open(os.path.join(state, "auth.jsonl"), encoding="utf-8").read().splitlines()[-1])
assert auth["mechanism"] == mechanism and auth["user"] == login and auth["code"] == 235, auth["mechanism"]
assert auth["tls"] in ("TLSv1.2", "TLSv1.3"), auth["tls"]
if secret:
    assert auth["secret"] == secret, "the secret that arrived differs from the vaulted one"
maildir = os.path.join(state, "mail")
newest = max(int(n.split(".")[0]) for n in os.listdir(maildir) if n.endswith(".json"))
meta = json.load(open(os.path.join(maildir, "%d.json" % newest)))
message = email.message_from_binary_file(open(os.path.join(maildir, "%d.eml" % newest), "rb"))
assert message["Subject"] == "msmtp test " + name, message["Subject"]
assert meta["mail_from"] == login, meta["mail_from"]
assert email.utils.parseaddr(message["From"])[1] == login, message["From"]
EOF
}

# --- msmtp-mta beside Postfix: refused before anything changes
if [ -x /usr/sbin/postfix ]; then
  EXPECT_FAIL=1 run_play mta -e msmtp_install_mta=true
  grep -q "msmtp-mta conflicts with postfix; use mailops.live_smtp.postfix_relay or remove postfix" "$T/out/mta.log" \
    || fail "no clear msmtp-mta refusal"
  [ ! -e "$T/secrets" ] && [ ! -e "$T/lib" ] || fail "the refused run changed something"
  cmp -s "$system_rc" "$T/msmtprc.orig" 2>/dev/null || [ ! -e "$system_rc" ] || fail "the refused run wrote $system_rc"
  dpkg-query -W -f='${Status}' msmtp-mta 2>/dev/null | grep -q "install ok installed" && fail "msmtp-mta got installed"
  pass "msmtp_install_mta with Postfix present: refused before any change"
else
  echo "msmtp: SKIPPED msmtp-mta refusal (no Postfix on this host)"
fi

# --- a password YAML turned into a number (unquoted 0x1F) is refused with a clear message, before any change
printf 'live_smtp_accounts:\n  - {name: num, host: localhost, username: %s, password: 0x1F}\nmsmtp_accounts: [num]\n' "$login" \
  > "$T/numeric.yml"
EXPECT_FAIL=1 run_play numeric -e "@$T/numeric.yml"
grep -q "password is not a string (YAML read it as a number, boolean or null: quote it) in account num" \
  "$T/out/numeric.log" || fail "a numeric password was not refused clearly"
[ ! -e "$T/secrets" ] || fail "the refused run changed something"
pass "a password YAML read as a number is refused before any change"

# --- a CA file only root can read: msmtp would read it as the listed user and fail every message, so it is refused
install -m 0600 "$STANDIN_CA" "$T/root-only-ca.pem"
printf 'live_smtp_accounts:\n  - {name: outlook, host: localhost, username: %s, password: "x", ca_file: %s}\n' \
  "$login" "$T/root-only-ca.pem" > "$T/rootca.yml"
printf 'msmtp_accounts: [outlook]\nmsmtp_user_configs: [{user: %s, accounts: [outlook]}]\n' "$peruser" >> "$T/rootca.yml"
EXPECT_FAIL=1 run_play rootca -e "@$T/rootca.yml"
for u in "$listed" "$peruser"; do
  grep -q "user $u cannot read the CA file $T/root-only-ca.pem of account outlook" "$T/out/rootca.log" \
    || fail "a CA file $u cannot read was not refused clearly"
done
[ ! -e "$T/secrets" ] && [ ! -e "$T/home/$peruser/.msmtprc" ] || fail "the refused run changed something"
pass "a CA file a sending user cannot read is refused before any change"

# --- check mode first, apply, check mode again, apply again
wrote_system_rc=1
[ "$(run_play check1 --check --diff -vvvv)" -gt 0 ] || fail "check mode on a fresh host reported no change"
[ ! -e "$T/secrets" ] && [ ! -e "$T/home/$peruser/.msmtprc" ] && ! getent group "$group" >/dev/null \
  || fail "check mode changed something"
if [ -e "$T/msmtprc.orig" ]; then cmp -s "$system_rc" "$T/msmtprc.orig" || fail "check mode wrote $system_rc"; else [ ! -e "$system_rc" ] || fail "check mode wrote $system_rc"; fi
changed=$(run_play apply1 --diff -vvvv)
[ "$changed" -gt 0 ] || fail "first run changed nothing"
[ "$(run_play check2 --check --diff)" = 0 ] || fail "check mode after apply reports changes"
[ "$(run_play apply2 --diff)" = 0 ] || fail "second run is not idempotent"
pass "check mode first changed nothing; apply changed=$changed; check mode and second run changed=0"

# --- files: owners, modes, no secret in any config
[ "$(stat -c '%U %G %a' "$system_rc")" = "root root 644" ] || fail "$system_rc: $(stat -c '%U %G %a' "$system_rc")"
[ "$(stat -c '%U %G %a' "$T/secrets/system")" = "root $group 750" ] || fail "system secret dir"
[ "$(stat -c '%U %G %a' "$T/secrets/system/outlook")" = "root $group 640" ] || fail "system secret file"
[ "$(stat -c '%U %a' "$T/secrets/users/$peruser")" = "$peruser 700" ] || fail "user secret dir"
[ "$(stat -c '%U %a' "$T/secrets/users/$peruser/personal")" = "$peruser 600" ] || fail "user secret file"
[ "$(stat -c '%U %a' "$T/home/$peruser/.msmtprc")" = "$peruser 600" ] || fail "per-user .msmtprc"
[ "$(stat -c '%U %G %a' "$stores/@$group/oauth.json")" = "root $group 660" ] || fail "shared token store"
[ "$(stat -c '%a' "$stores/@$group")" = 770 ] || fail "shared token dir"
# The token paths reach msmtp's shell through passwordeval: a state directory with a space works only when quoted.
grep -qxF "passwordeval $T/lib/live-smtp-token '$stores/@$group/oauth.json'" "$system_rc" \
  || fail "passwordeval of the shared token store is not shell-quoted: $(grep passwordeval "$system_rc" | tail -n 1)"
id -nG "$listed" | tr ' ' '\n' | grep -qx "$group" || fail "$listed is not in $group"
id -nG "$unlisted" | tr ' ' '\n' | grep -qx "$group" && fail "$unlisted is in $group"
head -n 3 "$system_rc" | grep -q "Ansible managed" || fail "no ansible_managed header"
grep -q '^auth xoauth2$' "$system_rc" && grep -q '^tls_starttls on$' "$system_rc" \
  && grep -q "^tls_trust_file $STANDIN_CA\$" "$system_rc" && ! grep -q 'tls_certcheck' "$system_rc" \
  || fail "msmtprc TLS/auth lines"
world=$(find "$T/secrets" "$stores" "$T/home" -type f -perm -o=r 2>/dev/null | grep -v '/\.\(profile\|bashrc\|bash_logout\)$' || true)
[ -z "$world" ] || fail "world-readable files: $world"
pass "modes: msmtprc 0644 root (no secret), secrets 0640 root:$group / 0600 user, token store 0660 shared, nothing world-readable"

# --- send as root, as the listed user, with the per-user config; XOAUTH2 as root and as the listed user
mails=$(standin_mail_count)
send root_pw root rcpt@example.net
[ "$rc" = 0 ] || fail "root: $(cat "$T/out/root_pw.err")"
check_delivery root_pw LOGIN "$system_password"
send listed_pw "$listed" rcpt@example.net
[ "$rc" = 0 ] || fail "$listed: $(cat "$T/out/listed_pw.err")"
check_delivery listed_pw LOGIN "$system_password"
send listed_pw_f "$listed" -f someone.else@example.org rcpt@example.net
[ "$rc" = 0 ] || fail "$listed -f: $(cat "$T/out/listed_pw_f.err")"
check_delivery listed_pw_f LOGIN "$system_password"
send peruser_pw "$peruser" rcpt@example.net
[ "$rc" = 0 ] || fail "$peruser: $(cat "$T/out/peruser_pw.err")"
check_delivery peruser_pw LOGIN "$user_password"
pass "password (AUTH LOGIN): root, $listed (also with -f other) and $peruser (~/.msmtprc, password with spaces at both ends) delivered byte-exact, From rewritten"

send root_oauth root -a oauth rcpt@example.net
[ "$rc" = 0 ] || fail "root xoauth2: $(cat "$T/out/root_oauth.err")"
check_delivery root_oauth XOAUTH2 ""
token1=$(last_auth secret)
# App-only (client credentials): the token that arrived is one the stand-in issued to the app, not to a user.
send root_apponly root -a apponly rcpt@example.net
[ "$rc" = 0 ] || fail "root app-only xoauth2: $(cat "$T/out/root_apponly.err")"
check_delivery root_apponly XOAUTH2 ""
"$PY" - "$STANDIN_DIR/state.json" "$(last_auth secret)" "$(standin_get app.client_id)" <<'EOF' || fail "app-only: not an app token"
import json, sys
assert (json.load(open(sys.argv[1]))["access_tokens"].get(sys.argv[2]) or {}).get("app") == sys.argv[3]
EOF
pass "app-only account (client secret): root's mail arrived authenticated with XOAUTH2 and an app token"
# The same app with its certificate credential (a signed client assertion instead of the secret).
send root_appcert root -a appcert rcpt@example.net
[ "$rc" = 0 ] || fail "root app-only certificate xoauth2: $(cat "$T/out/root_appcert.err")"
check_delivery root_appcert XOAUTH2 ""
"$PY" - "$STANDIN_DIR/state.json" "$(last_auth secret)" "$(standin_get app.client_id)" <<'EOF' || fail "app-only certificate: not an app token"
import json, sys
assert (json.load(open(sys.argv[1]))["access_tokens"].get(sys.argv[2]) or {}).get("app") == sys.argv[3]
EOF
pass "app-only account (certificate): root's mail arrived authenticated with XOAUTH2 and an app token"
send listed_oauth "$listed" -a oauth rcpt@example.net
[ "$rc" = 0 ] || fail "$listed xoauth2: $(cat "$T/out/listed_oauth.err")"
check_delivery listed_oauth XOAUTH2 ""
[ "$(last_auth secret)" = "$token1" ] || fail "the listed user did not share the cached token"
# The cache expires; the listed user refreshes with the rotated refresh token root's refresh stored.
token_store_expire "$stores/@$group/oauth.json"
send listed_oauth2 "$listed" -a oauth rcpt@example.net
[ "$rc" = 0 ] || fail "$listed xoauth2 after expiry: $(cat "$T/out/listed_oauth2.err")"
check_delivery listed_oauth2 XOAUTH2 ""
[ "$(last_auth secret)" != "$token1" ] || fail "no new token after expiry"
[ "$(stat -c '%G %a' "$stores/@$group/oauth.json")" = "$group 660" ] || fail "shared store after a user's refresh"
[ "$(run_play apply3 -v)" = 0 ] || fail "a run after a user's refresh is not idempotent"
send root_oauth2 root -a oauth rcpt@example.net
[ "$rc" = 0 ] || fail "root after the user's refresh: $(cat "$T/out/root_oauth2.err")"
pass "XOAUTH2 through live-smtp-token: root and $listed share one store and one rotating refresh token"

# --- aliases and the log file
send alias root root
[ "$rc" = 0 ] || fail "alias: $(cat "$T/out/alias.err")"
"$PY" - "$STANDIN_DIR" "$alias_target" <<'EOF' || fail "root was not aliased"
import json, os, sys
maildir = os.path.join(sys.argv[1], "mail")
newest = max(int(n.split(".")[0]) for n in os.listdir(maildir) if n.endswith(".json"))
assert json.load(open(os.path.join(maildir, "%d.json" % newest)))["rcpt_to"] == [sys.argv[2]]
EOF
grep -q "smtpstatus=250" "$T/msmtp.log" || fail "no delivery logged in $T/msmtp.log"
[ "$(standin_mail_count)" = $((mails + 11)) ] || fail "expected 11 new mails, got $(( $(standin_mail_count) - mails ))"
pass "aliases (root -> $alias_target) and logfile work; 11 mails arrived"

# --- an unlisted user can read neither secret and cannot send
before=$(auth_lines)
su -s /bin/sh "$unlisted" -c "cat $T/secrets/system/outlook" > /dev/null 2>&1 && fail "$unlisted read the system secret"
su -s /bin/sh "$unlisted" -c "cat $(printf %q "$stores/@$group/oauth.json")" > /dev/null 2>&1 && fail "$unlisted read the token store"
send unlisted_pw "$unlisted" rcpt@example.net
[ "$rc" != 0 ] || fail "$unlisted sent with the system password"
send unlisted_oauth "$unlisted" -a oauth rcpt@example.net
[ "$rc" != 0 ] || fail "$unlisted sent with OAuth2"
[ "$(auth_lines)" = "$before" ] || fail "$unlisted got a credential to the server"
pass "unlisted user: cannot read the secrets, msmtp fails, no AUTH reached the server"

# --- untrusted and wrong-name certificates: msmtp fails, no credential arrives
for account in untrusted wronghost; do
  send "$account" root -a "$account" rcpt@example.net
  [ "$rc" != 0 ] || fail "$account: msmtp succeeded"
  grep -qi "certificate\|TLS" "$T/out/$account.err" || fail "$account: $(cat "$T/out/$account.err")"
done
[ "$(auth_lines)" = "$before" ] || fail "a credential reached an untrusted server"
grep -q "$untrusted_password" "$STANDIN_DIR/auth.jsonl" && fail "the untrusted password arrived"
pass "untrusted_cert and wrong_host_cert: msmtp fails ($(head -n 1 "$T/out/untrusted.err")), no credential sent"

# --- generated passwords, byte-exact through the vault, the role, the secret files and passwordeval
hstart=$SECONDS
"$PY" "$here/playbooks/gen_passwords.py" "$HYPOTHESIS_COUNT" "$T/hsecrets.yml" "$T/hpasswords.json" > /dev/null
ansible-vault encrypt --vault-password-file "$T/vault-pass" "$T/hsecrets.yml" > /dev/null
"$PY" - "$T" "$HYPOTHESIS_COUNT" "$(standin_port outlook)" "$STANDIN_CA" <<'EOF'
import sys
test_dir, count, port, ca = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(test_dir + "/hvars.yml", "w") as handle:
    handle.write("msmtp_system_config_path: %s/hmsmtprc\nmsmtp_secret_dir: %s/hsecrets\nmsmtp_users: []\n"
                 "msmtp_user_configs: []\nmsmtp_aliases: {}\nmsmtp_logfile: ''\nmsmtp_group: root\n"
                 # Off: generated accounts the stand-in takes with --accept-any-password; a probe each proves nothing.
                 "msmtp_verify_credentials: false\nlive_smtp_verify_state_dir: %s/hverified\n"
                 "live_smtp_accounts:\n" % (test_dir, test_dir, test_dir))
    for n in range(count):
        handle.write("  - {name: h%03d, host: localhost, port: %s, username: h%03d@outlook.com, ca_file: %s, "
                     "password: \"{{ vault_h%03d }}\"}\n" % (n, port, n, ca, n))
EOF
cat > "$T/hrole.yml" <<EOF
---
- name: Many accounts with generated passwords
  hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [$T/hvars.yml, $T/hsecrets.yml]
  tasks:
    - name: Run the role
      ansible.builtin.include_role:
        name: mailops.live_smtp.msmtp
EOF
PLAYBOOK="$T/hrole.yml" run_play hypothesis > /dev/null
seq -f 'h%03g' 0 $((HYPOTHESIS_COUNT - 1)) | xargs -P 4 -I{} sh -c \
  "printf 'Subject: {}\n\nx\n' | msmtp -C '$T/hmsmtprc' -a {} rcpt@example.net > '$T/out/{}.out' 2>&1 || echo 'msmtp -a {} failed' >> '$T/out/hypothesis.failed'"
[ ! -e "$T/out/hypothesis.failed" ] || fail "$(head -n 5 "$T/out/hypothesis.failed")"
"$PY" - "$STANDIN_DIR/auth.jsonl" "$T/hpasswords.json" <<'EOF' || fail "generated passwords did not arrive byte-exact"
import json, sys
passwords = json.load(open(sys.argv[2], encoding="utf-8"))
arrived = {}
for line in open(sys.argv[1], encoding="utf-8"):
    entry = json.loads(line)
    if entry["user"].startswith("h") and entry["user"].endswith("@outlook.com"):
        arrived[entry["user"]] = entry["secret"]
bad = [n for n, p in enumerate(passwords) if arrived.get("h%03d@outlook.com" % n) != p]
print("%d of %d generated passwords arrived byte-exact" % (len(passwords) - len(bad), len(passwords)))
if bad:
    print("first mismatches: %s" % [(passwords[n], arrived.get("h%03d@outlook.com" % n)) for n in bad[:3]])
sys.exit(1 if bad else 0)
EOF
pass "$HYPOTHESIS_COUNT generated passwords byte-exact through vault, role, secret files and passwordeval ($((SECONDS - hstart)) s)"

# --- no secret in any output (-vvvv, --diff, --check --diff), backup or file left behind (except the secret files)
"$PY" - "$T" "$STANDIN_DIR/state.json" "$system_password" "$user_password" "$untrusted_password" "$refresh_token" \
  "$app_secret" <<'EOF' || fail "a secret leaked"
import json, os, sys
test_dir, state = sys.argv[1], json.load(open(sys.argv[2]))
secrets = set(sys.argv[3:]) | set(state["refresh_tokens"])
secrets |= set(json.load(open(os.path.join(test_dir, "hpasswords.json"), encoding="utf-8")))
secrets = {s for s in secrets if len(s.strip()) >= 6}   # short generated ones match by chance anywhere
allowed = (os.path.join(test_dir, "secrets") + "/", os.path.join(test_dir, "hsecrets") + "/",
           os.path.join(test_dir, "token stores") + "/", os.path.join(test_dir, "standin") + "/",
           os.path.join(test_dir, "hpasswords.json"))
leaks, checked = [], 0
for root in (test_dir, "/etc/msmtprc"):
    paths = [root] if os.path.isfile(root) else [os.path.join(d, f) for d, _s, fs in os.walk(root) for f in fs]
    for path in paths:
        if path.startswith(allowed):
            continue
        checked += 1
        text = open(path, "rb").read().decode("utf-8", "replace")
        leaks += ["%s: %r..." % (path, s[:4]) for s in secrets if s in text]
backups = [os.path.join(d, f) for d, _s, fs in os.walk(test_dir) for f in fs if "~" in f or ".bak" in f]
print("checked %d files for %d secrets; leaks: %s; backups: %s" % (checked, len(secrets), leaks[:5], backups))
sys.exit(1 if leaks or backups else 0)
EOF
pass "no secret in $(find "$T/out" -type f | wc -l) outputs (-vvvv, --diff, --check --diff), configs or other files"

# --- the verified switch, on by default: new login settings are checked from this host before anything is written.
# A password account goes live; a wrong new password and a wrong app secret each fail the run and leave the live
# config, secret files, token stores and gate state byte-identical while mail still goes out with the old password;
# check mode probes nothing; the granted app's secret switches (XOAUTH2); a second run neither changes nor probes.
# Its own stand-in: the one above takes any password. No delegated (refresh token) account here, so it needs no
# --keep-refresh-tokens: this is the move from a password to app-only (client credentials).
standin_stop
G=$T/gate
mkdir -p "$G"
standin_start "$G/standin" --lifetime 600 --scenarios outlook
login=$(standin_get accounts.user)
gate_password=$(standin_get accounts.password)
gate_wrong_password="wrong-$(rand)"
gate_wrong_secret="wrong~$(rand)"
gate_app_secret=$(standin_get app.client_secret)
"$PY" - "$G/secrets.yml" "$gate_password" "$gate_wrong_password" "$gate_wrong_secret" "$gate_app_secret" <<'EOF'
import json, os, sys
names = ["vault_gate_password", "vault_gate_wrong_password", "vault_gate_wrong_secret", "vault_gate_app_secret"]
os.umask(0o077)
with open(sys.argv[1], "w", encoding="utf-8") as handle:
    for name, value in zip(names, sys.argv[2:]):
        handle.write("%s: %s%s\n" % (name, "!unsafe " if "{" in value else "", json.dumps(value, ensure_ascii=False)))
EOF
ansible-vault encrypt --vault-password-file "$T/vault-pass" "$G/secrets.yml" >/dev/null
cat > "$G/vars.yml" <<EOF
msmtp_users: []
msmtp_group: $group
msmtp_user_configs: []
msmtp_secret_dir: $G/secrets
msmtp_token_helper: $T/lib/live-smtp-token
msmtp_token_state_dir: $G/stores
msmtp_logfile: $G/msmtp.log
msmtp_aliases: {}
live_smtp_verify_state_dir: $G/verified
msmtp_accounts: [live]
EOF
for case in password wrong_password; do
  secret=vault_gate_password
  [ "$case" = password ] || secret=vault_gate_wrong_password
  printf 'live_smtp_accounts:\n  - {name: live, host: localhost, port: %s, username: %s, password: "{{ %s }}", ca_file: %s}\n' \
    "$(standin_port outlook)" "$login" "$secret" "$STANDIN_CA" > "$G/$case.yml"
done
for case in app wrong_secret; do
  secret=vault_gate_app_secret
  [ "$case" = app ] || secret=vault_gate_wrong_secret
  cat > "$G/$case.yml" <<EOF
live_smtp_accounts:
  - name: live
    host: localhost
    port: $(standin_port outlook)
    username: $(standin_get app.mailboxes.0)
    ca_file: $STANDIN_CA
    oauth2:
      grant: client_credentials
      client_id: $(standin_get app.client_id)
      tenant: $(standin_get tenant_id)
      token_url: $(standin_get app_token_url)
      client_secret: "{{ $secret }}"
EOF
done

# SMTP connections and token requests the stand-in saw: a probe shows as at least one of them.
gate_connects() { grep -c -e ' ! connect from ' -e ' token #' "$STANDIN_DIR/transcript.log" || true; }
# What a refused run must leave alone: the live config, secret files, token stores, the gate's state (names too).
gate_snapshot() {
  {
    sha256sum "$system_rc"
    find "$G/secrets" "$G/stores" "$G/verified" 2>/dev/null | sort || true
    find "$G/secrets" "$G/stores" "$G/verified" -type f 2>/dev/null | sort | xargs -r -d '\n' sha256sum || true
  } > "$1"
}
gate_play() { PLAYBOOK="$here/playbooks/gate.yml" run_play "$@"; }
# gate_refused NAME CASE REASON HINT [args]: the run fails naming the account, reason word and hint; it probed;
# nothing changed; msmtp -a live still delivers with the old password.
gate_refused() {
  local name=$1 case=$2 reason=$3 hint=$4 connects
  shift 4
  gate_snapshot "$G/$name.before"
  connects=$(gate_connects)
  EXPECT_FAIL=1 gate_play "$name" -e gate_case="$case" "$@"
  grep -qF "account live: $reason at stage" "$T/out/$name.log" || fail "$name: no 'account live: $reason' in the failure"
  grep -qF "$hint" "$T/out/$name.log" || fail "$name: the hint is missing"
  grep -qF "nothing was written and the live configuration stays as it was" "$T/out/$name.log" \
    && grep -qF "set msmtp_verify_credentials: false" "$T/out/$name.log" || fail "$name: not the gate's failure"
  [ "$(gate_connects)" -gt "$connects" ] || fail "$name: the new settings were not tried at the stand-in"
  gate_snapshot "$G/$name.after"
  diff "$G/$name.before" "$G/$name.after" >&2 || fail "$name: the refused run changed the config, a secret or a store"
  send "${name}_old" root -a live rcpt@example.net
  [ "$rc" = 0 ] || fail "after $name: $(cat "$T/out/${name}_old.err")"
  check_delivery "${name}_old" LOGIN "$gate_password"
}

# A password account goes live with the gate on: it was tried first (LOGIN with it before any mail), then written.
connects=$(gate_connects)
[ "$(gate_play gate_password -e gate_case=password)" -gt 0 ] || fail "gate_password changed nothing"
[ "$(gate_connects)" -gt "$connects" ] || fail "the new password account was not checked before it was written"
"$PY" - "$STANDIN_DIR/auth.jsonl" "$gate_password" <<'EOF' || fail "the gate's check did not log in with the new password"
import json, sys
auth = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
assert auth and auth[-1]["secret"] == sys.argv[2] and auth[-1]["code"] == 235 and auth[-1]["mechanism"] == "LOGIN"
EOF
[ "$(stat -c '%U %G %a' "$G/verified/msmtp.json")" = "root root 600" ] || fail "gate state: $(stat -c '%U %G %a' "$G/verified/msmtp.json")"
send gate_password root -a live rcpt@example.net
[ "$rc" = 0 ] || fail "gate_password: $(cat "$T/out/gate_password.err")"
check_delivery gate_password LOGIN "$gate_password"
pass "gate on: the password account was checked from the host (LOGIN 235), then written; msmtp -a live delivered with it"

gate_refused gate_wrong_password wrong_password auth_failed "Wrong credentials: check username and password"
grep -qF "\"secret\": \"$gate_wrong_password\"" "$STANDIN_DIR/auth.jsonl" || fail "the wrong password was not the one tried"
pass "gate on: a wrong new password failed the run (account live, auth_failed, hint), nothing changed, old password still delivers"
gate_refused gate_wrong_secret wrong_secret client_secret_invalid "The client secret is wrong" --diff -vvvv
[ ! -e "$G/stores" ] || fail "the refused app-only run created a token store"
pass "gate on: app-only with a wrong client secret failed the run (account live, client_secret_invalid, hint), nothing changed, old password still delivers"

# Check mode with the good app-only secret: reports what it would check, changes nothing, probes nothing.
gate_snapshot "$G/check.before"
connects=$(gate_connects)
auths=$(auth_lines)
[ "$(gate_play gate_check -e gate_case=app --check --diff)" -gt 0 ] || fail "check mode reported no change for the switch"
grep -qF "would check from this host before writing: account live" "$T/out/gate_check.log" || fail "check mode did not say what it would check"
[ "$(gate_connects)" = "$connects" ] && [ "$(auth_lines)" = "$auths" ] || fail "check mode probed the stand-in"
gate_snapshot "$G/check.after"
diff "$G/check.before" "$G/check.after" >&2 || fail "check mode changed the config, a secret or a store"
pass "gate on, check mode with a good new credential: would check account live, probed nothing ($connects connections before and after), changed nothing"

# The granted app's secret: checked, then switched; msmtp's mail arrives with XOAUTH2 and an app token.
connects=$(gate_connects)
[ "$(gate_play gate_app -e gate_case=app --diff -vvvv)" -gt 0 ] || fail "the switch to app-only changed nothing"
[ "$(gate_connects)" -gt "$connects" ] || fail "the app-only account was not checked before it was written"
awk '/^account live$/,/^$/' "$system_rc" | grep -qx 'auth xoauth2' || fail "$system_rc: account live is not XOAUTH2"
# The old password stays nowhere once no account reads it.
[ ! -e "$G/secrets/system/live" ] || fail "the old password file of account live was left behind after the switch to OAuth2"
send gate_app root -a live rcpt@example.net
[ "$rc" = 0 ] || fail "gate_app: $(cat "$T/out/gate_app.err")"
check_delivery gate_app XOAUTH2 ""
"$PY" - "$STANDIN_DIR/state.json" "$(last_auth secret)" "$(standin_get app.client_id)" <<'EOF' || fail "gate_app: not an app token"
import json, sys
assert (json.load(open(sys.argv[1]))["access_tokens"].get(sys.argv[2]) or {}).get("app") == sys.argv[3]
EOF
pass "gate on: the good app-only secret was checked, then switched; msmtp -a live delivered with XOAUTH2 and an app token"

# A second run: nothing new, so nothing probed and nothing changed.
connects=$(gate_connects)
[ "$(gate_play gate_again -e gate_case=app)" = 0 ] || fail "the second run changed something"
[ "$(gate_connects)" = "$connects" ] || fail "the second run probed the stand-in ($connects -> $(gate_connects))"
pass "gate on, second run: changed=0, no new connection at the stand-in ($connects)"

# No secret of this section in its outputs (one refused run and the switch ran with -vvvv --diff) nor in msmtprc.
"$PY" - "$STANDIN_DIR/state.json" "$G/leak-secrets" "$gate_password" "$gate_wrong_password" "$gate_wrong_secret" \
  "$gate_app_secret" <<'EOF'
import json, os, sys
state = json.load(open(sys.argv[1]))
os.umask(0o077)
with open(sys.argv[2], "w", encoding="utf-8") as handle:
    handle.writelines(s + "\n" for s in set(sys.argv[3:]) | set(state["access_tokens"]) | set(state["refresh_tokens"]))
EOF
gate_outputs=("$T"/out/gate_* "$system_rc")
leaks=$(secret_leaks "$G/leak-secrets" "${gate_outputs[@]}") || fail "a secret leaked: $leaks"
pass "gate section: no secret or token in ${#gate_outputs[@]} outputs (two of them -vvvv --diff) or $system_rc"

echo "msmtp: all checks passed"
