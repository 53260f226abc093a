#!/usr/bin/env bash
# The demo: on a fresh Debian 12 machine, `bash tests/demo.sh` installs what is needed, starts the bundled stand-in
# for smtp-mail.outlook.com (and its token endpoint and DNS), and runs `ansible-playbook mailops.live_smtp.check`
# three times against it, with the secrets in Ansible Vault:
#   1. a password login that works (a Microsoft 365 tenant that still allows SMTP AUTH),
#   2. a password on a personal Outlook.com account: 535 5.7.139, reason basic_auth_disabled, and the hint,
#   3. that personal account with OAuth2 (XOAUTH2, refresh token -> access token), which works.
# Exits 0 when all three behaved as expected. Everything it starts stops with it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/tests/setup.sh"
export LIVE_SMTP_WORK=${LIVE_SMTP_WORK:-${TMPDIR:-/tmp}/mailops-live-smtp-demo}
# shellcheck source=tests/lib/env.sh
. "$ROOT/tests/lib/env.sh"
stage_collection >/dev/null
# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. "$ROOT/tests/integration/targets/setup_standin/standin.sh"

demo=$(mktemp -d "${TMPDIR:-/tmp}/live-smtp-demo.XXXXXX")
chmod 700 "$demo"
trap 'rm -rf "$demo"' EXIT        # standin_start adds stopping the stand-in to this trap
cd "$demo"
export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1} ANSIBLE_RETRY_FILES_ENABLED=0

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
bad() { echo "demo: UNEXPECTED: $*" >&2; exit 1; }

step "Starting the stand-in for smtp-mail.outlook.com (127.0.0.1 only, stops with this script)"
# Two mailboxes: a Microsoft 365 one (alerts@contoso.test) and a personal Outlook.com one; the stand-in makes up
# their passwords and refresh tokens.
echo '[{"user": "alerts@contoso.test"}, {"user": "someone@outlook.com"}]' > "$demo/accounts.json"
standin_start "$demo/standin" --scenarios outlook,consumer --accounts "$demo/accounts.json" --keep-refresh-tokens --lifetime 300
echo "SMTP outlook-like on port $(standin_port outlook), personal-account-like on port $(standin_port consumer);"
echo "token endpoint $(standin_get token_url); DNS on 127.0.0.1:$(standin_port dns)"

step "Writing an inventory and group_vars, with the secrets encrypted by ansible-vault"
mkdir -p group_vars/all vault
chmod 700 vault
python -c 'import secrets; print(secrets.token_urlsafe(32))' > vault/pass
chmod 600 vault/pass
{
  echo "---"
  standin_get account_list.0.password | tr -d '\n' |
    ansible-vault encrypt_string --vault-password-file vault/pass --stdin-name vault_alerts_password 2>/dev/null
  standin_get account_list.1.password | tr -d '\n' |
    ansible-vault encrypt_string --vault-password-file vault/pass --stdin-name vault_someone_password 2>/dev/null
  standin_get account_list.1.refresh_token | tr -d '\n' |
    ansible-vault encrypt_string --vault-password-file vault/pass --stdin-name vault_someone_refresh_token 2>/dev/null
} > group_vars/all/vault.yml
cat > inventory.ini <<INI
[mailers]
demo-host ansible_connection=local ansible_python_interpreter=$VENV/bin/python
INI
# The stand-in's DNS answers for smtp-mail.outlook.com, so the check uses the real name (and the certificate is
# verified against it); only the port and the CA are the stand-in's.
account() {  # name port user secret-variable-prefix auth
  cat <<YAML
  - name: $1
    host: smtp-mail.outlook.com
    port: $2
    username: $3
YAML
  if [ "$5" = password ]; then
    printf '    auth: password\n    password: "{{ %s_password }}"\n' "$4"
  else
    printf '    auth: oauth2\n    oauth2:\n      client_id: %s\n      refresh_token: "{{ %s_refresh_token }}"\n      token_url: %s\n' \
      "$(standin_get account_list.1.client_id)" "$4" "$(standin_get token_url)"
  fi
  echo "    ca_file: $STANDIN_CA"
}
{
  echo "---"
  echo "live_smtp_check_nameservers: ['127.0.0.1:$(standin_port dns)']"
  echo "live_smtp_accounts:"
  account alerts "$(standin_port outlook)" alerts@contoso.test vault_alerts password
} > group_vars/all/mail.yml
# The personal account: Microsoft answers its password with 535 5.7.139 (scenario consumer), and takes OAuth2.
{ echo "---"; echo "live_smtp_accounts:"; account someone "$(standin_port consumer)" someone@outlook.com vault_someone password; } > personal.yml
{ echo "---"; echo "live_smtp_accounts:"; account someone "$(standin_port outlook)" someone@outlook.com vault_someone oauth2; } > oauth2.yml
echo "$demo/group_vars/all/mail.yml:"
sed 's/^/    /' group_vars/all/mail.yml
echo "$demo/group_vars/all/vault.yml (first lines):"
head -n 4 group_vars/all/vault.yml | sed 's/^/    /'

# Runs the check playbook, prints its summary and recap, and checks the exit code and the summary.
check() {
  local title=$1 want_rc=$2 want=$3 rc=0
  shift 3
  step "$title"
  echo "\$ ansible-playbook -i inventory.ini mailops.live_smtp.check --vault-password-file vault/pass $*"
  ansible-playbook -i inventory.ini mailops.live_smtp.check --vault-password-file vault/pass "$@" > run.log 2>&1 || rc=$?
  # The summary task's message and the recap are what a user reads.
  awk '/^TASK \[Print the summary/{p=1; next} /^TASK /{p=0} /^PLAY RECAP/{r=1} p||r' run.log | sed '/^$/d'
  if [ "$rc" != "$want_rc" ] || ! grep -qE -- "$want" run.log; then
    cat run.log
    bad "exit code $rc (expected $want_rc), or no line matching: $want"
  fi
}

started=$SECONDS
check "1. Password (app password) login of a Microsoft 365 mailbox whose tenant still allows SMTP AUTH: works" 0 \
  '"OK   alerts smtp-mail.outlook.com:[0-9]+ tls=TLSv1\.[23] auth=LOGIN'
check "2. A password on a personal Outlook.com account: refused since Sept 2024, and the check says what to do" 2 \
  '"FAIL someone smtp-mail.outlook.com:[0-9]+ reason=basic_auth_disabled stage=auth reply=535 5\.7\.139 .*hint: .*OAuth2' \
  -e @personal.yml
check "3. The same personal account with OAuth2 (refresh token -> access token -> AUTH XOAUTH2): works" 0 \
  '"OK   someone smtp-mail.outlook.com:[0-9]+ tls=TLSv1\.[23] auth=XOAUTH2' \
  -e @oauth2.yml
step "Demo passed: the three checks behaved as expected ($((SECONDS - started)) s)"
