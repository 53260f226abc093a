#!/usr/bin/env bash
# The fleet test (tests/fleet/README.md): Debian 12 and 13 hosts in network namespaces, reached over real SSH as an
# unprivileged login with sudo; the stand-in answers for Microsoft's names through the hosts' DNS. Runs the check
# playbook on every host and the roles on their groups (check mode first, apply, second run changed=0), sends mail
# from every configured host and proves it arrived with the exact secret; prints SSH figures (never asserted); then
# migrates four hosts from a password to app-only OAuth2 with one of them broken (rolled back, the rollout stops).
# Needs root. Stops everything it started on every exit path.
# Environment: LIVE_SMTP_VENV (tools venv, via tests/lib/env.sh), LIVE_SMTP_WORK (staging dir), FLEET_KEEP=1 keeps
# the run dir and the bed up after a failure for a look (then run it again: it cleans up first).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/env.sh
. "$ROOT/tests/lib/env.sh"
# Ansible finds mailops.live_smtp in a staged copy: run_all.sh runs this from one; from a checkout, stage it.
case "$ROOT" in
  */ansible_collections/mailops/live_smtp) export ANSIBLE_COLLECTIONS_PATH=${ROOT%/ansible_collections/mailops/live_smtp} ;;
  *) ROOT=$(stage_collection) ;;
esac
# shellcheck source=tests/fleet/bed.sh
. "$here/bed.sh"
# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. "$ROOT/tests/integration/targets/setup_standin/standin.sh"

start_time=$SECONDS
step() { echo "=== fleet: $* ($((SECONDS - start_time)) s)"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || fail "the fleet bed needs root (namespaces, mounts, chroot)"
for tool in debootstrap ip unshare nsenter ssh ssh-keygen flock; do
  command -v "$tool" >/dev/null || fail "$tool is missing (tests/setup.sh installs it)"
done

# One bed at a time on this machine (the names of its namespaces and bridge are fixed). What the bed starts in the
# background gets 8>&-: a process left over must not hold the lock.
exec 8> /run/lock/mailops-live-smtp-fleet.lock
flock -w 900 8 || fail "another fleet run holds /run/lock/mailops-live-smtp-fleet.lock"
fleet_clean_leftovers || fail "could not clean up an earlier run"

FLEET_RUN=$(mktemp -d /tmp/mailops-live-smtp-fleet.XXXXXX)
chmod 0700 "$FLEET_RUN"
export FLEET_RUN
teardown() {
  local rc=$1
  set +e
  if [ "$rc" -ne 0 ]; then
    standin_dump 2>/dev/null
    for log in "$FLEET_RUN"/hosts/*/host.log; do
      [ -s "$log" ] && { echo "---- $log"; tail -n 20 "$log"; }
    done
    if [ "${FLEET_KEEP:-}" = 1 ]; then
      echo "fleet: FLEET_KEEP=1: the bed stays up, run dir $FLEET_RUN" >&2
      exit "$rc"
    fi
  fi
  standin_stop
  fleet_down
  rm -rf --one-file-system "$FLEET_RUN"
  exit "$rc"
}
trap 'teardown $?' EXIT
trap 'exit 130' INT TERM

step "root file systems (cached under ~/.cache/mailops-live-smtp/rootfs; built once, both at a time)"
rootfs_rc=0
bash "$here/rootfs.sh" bookworm > "$FLEET_RUN/rootfs-bookworm" & bookworm_pid=$!
bash "$here/rootfs.sh" trixie > "$FLEET_RUN/rootfs-trixie" || rootfs_rc=$?
wait "$bookworm_pid" || rootfs_rc=$?
[ "$rootfs_rc" -eq 0 ] || fail "could not build the root file systems"
FLEET_ROOTFS_bookworm=$(cat "$FLEET_RUN/rootfs-bookworm")
FLEET_ROOTFS_trixie=$(cat "$FLEET_RUN/rootfs-trixie")
export FLEET_ROOTFS_bookworm FLEET_ROOTFS_trixie

# name release address groups (blocked: drops outbound 587; missing: in the inventory, no host at that address).
# The group migrate is in rollout order: two healthy hosts, deb13-a (broken before the migration), two after it.
hosts=(
  "deb12-a bookworm 198.18.0.11 postfix_relay,migrate"
  "deb12-b bookworm 198.18.0.12 msmtp,migrate"
  "deb12-c bookworm 198.18.0.13 app_smtp"
  "deb13-a trixie 198.18.0.21 postfix_relay,migrate"
  "deb13-b trixie 198.18.0.22 msmtp,migrate"
  "deb13-c trixie 198.18.0.23 app_smtp"
  "blocked trixie 198.18.0.30 unconfigured"
  "missing none 198.18.0.99 unconfigured,migrate"
)
standin_address=198.18.0.2

step "bridge, the stand-in's namespace and the stand-in (smtp-mail.outlook.com:587, login.microsoftonline.com:443, DNS :53)"
fleet_bridge_up
fleet_netns_up ms "$standin_address"
python "$here/make_inventory.py" accounts "$FLEET_RUN/standin-accounts.json"
# The stand-in runs with the venv's python inside its namespace: standin.sh starts it through this wrapper.
printf '#!/bin/sh\nexec ip netns exec %s %q "$@"\n' "${FLEET_PREFIX}ms" "$(command -v python)" > "$FLEET_RUN/standin-python"
chmod 0755 "$FLEET_RUN/standin-python"
export STANDIN_PYTHON=$FLEET_RUN/standin-python
standin_start "$FLEET_RUN/standin" --host "$standin_address" \
  --scenarios outlook --port outlook=587 --port token=443 --port dns=53 --keep-refresh-tokens --lifetime 1800 \
  --accounts "$FLEET_RUN/standin-accounts.json" 8>&-
# standin_start put its own EXIT trap around ours; the teardown stops it too, so keep ours alone.
trap 'teardown $?' EXIT
export FLEET_DNS=$standin_address FLEET_CA=$STANDIN_CA

step "hosts: ${#hosts[@]} in the inventory"
ssh-keygen -q -t ed25519 -N '' -C fleet-controller -f "$FLEET_RUN/id_ed25519"
: > "$FLEET_RUN/known_hosts"
addresses=()
hosts_json=()
for entry in "${hosts[@]}"; do
  read -r name release address groups <<< "$entry"
  case "$name" in
    missing) ;;
    blocked) fleet_host_up "$name" "$release" "$address" blocked 8>&-; addresses+=("$address") ;;
    *) fleet_host_up "$name" "$release" "$address" 8>&-; addresses+=("$address") ;;
  esac
  hosts_json+=("{\"name\": \"$name\", \"address\": \"$address\", \"groups\": [\"${groups//,/\", \"}\"]}")
done
fleet_wait_ssh "${addresses[@]}"
(IFS=,; echo "[${hosts_json[*]}]") > "$FLEET_RUN/hosts.json"

step "inventory, vaulted secrets (ansible-vault), ansible.cfg"
python "$here/make_inventory.py" inventory "$STANDIN_READY" "$FLEET_RUN" "$FLEET_RUN/hosts.json" > "$FLEET_RUN/expect.json"
head -c 32 /dev/urandom | base64 > "$FLEET_RUN/vault-pass"
ansible-vault encrypt --vault-password-file "$FLEET_RUN/vault-pass" --output "$FLEET_RUN/inventory/group_vars/all/vault.yml" \
  "$FLEET_RUN/secrets.yml" >/dev/null
rm -f "$FLEET_RUN/secrets.yml"
head -n1 "$FLEET_RUN/inventory/group_vars/all/vault.yml" | grep -qF "\$ANSIBLE_VAULT;" || fail "vault.yml is not encrypted"
cat > "$FLEET_RUN/ansible.cfg" <<EOF
[defaults]
inventory = $FLEET_RUN/inventory
vault_password_file = $FLEET_RUN/vault-pass
forks = 20
timeout = 10
retry_files_enabled = false
[ssh_connection]
pipelining = true
control_path_dir = $FLEET_RUN/cp
EOF
export ANSIBLE_CONFIG=$FLEET_RUN/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH ANSIBLE_LOCAL_TEMP=$FLEET_RUN/tmp
fleet_oauth_sender=$(python -c 'import json,sys; print(json.load(open(sys.argv[1]))["oauth_sender"])' "$FLEET_RUN/expect.json")
configured=(deb12-a deb12-b deb12-c deb13-a deb13-b deb13-c)

recap_changed() {  # FILE HOST -> changed= of HOST in the play recap
  sed -n "s/^$2 *: .*changed=\([0-9]*\).*/\1/p" "$1" | tail -n1
}
upper_state() {  # what the configured hosts changed against their cached tree (verify.py upper)
  local name args=()
  for name in "${configured[@]}"; do
    args+=("$name=$FLEET_RUN/hosts/$name/upper=$(host_rootfs "$name")")
  done
  python "$here/verify.py" upper "${args[@]}"
}
host_rootfs() {
  local entry name release rest var
  for entry in "${hosts[@]}"; do
    read -r name release rest <<< "$entry"
    [ "$name" = "$1" ] || continue
    var=FLEET_ROOTFS_$release
    echo "${!var}"
  done
}

step "Ansible reaches every host over SSH as deploy with become; interpreter discovery on"
ansible all --limit '!missing' -o -m ansible.builtin.command -a 'id -un' > "$FLEET_RUN/ping.out" 2>&1 ||
  { cat "$FLEET_RUN/ping.out"; fail "ad-hoc command over SSH failed"; }
[ "$(grep -c '| CHANGED | rc=0 | (stdout) root' "$FLEET_RUN/ping.out")" -eq 7 ] || { cat "$FLEET_RUN/ping.out"; fail "become to root did not work on every host"; }
ansible all --limit '!missing' -m ansible.builtin.setup -a 'gather_subset=min filter=ansible_distribution*,ansible_python' \
  > "$FLEET_RUN/facts.out" 2>&1 || { cat "$FLEET_RUN/facts.out"; fail "fact gathering failed"; }
python - "$FLEET_RUN/facts.out" <<'PY'
import json, re, sys
text = open(sys.argv[1]).read()
for host, body in re.findall(r'^(\S+) \| SUCCESS => (\{.*?^\})', text, re.S | re.M):
    facts = json.loads(body)['ansible_facts']
    version = facts['ansible_python']['version']
    print('fleet: %-8s %s %s, Python %d.%d.%d at %s (discovered)' % (
        host, facts['ansible_distribution'], facts['ansible_distribution_version'], version['major'],
        version['minor'], version['micro'], facts['discovered_interpreter_python']))
PY
ssh -o BatchMode=yes -o UserKnownHostsFile="$FLEET_RUN/known_hosts" -o StrictHostKeyChecking=yes \
  -i "$FLEET_RUN/id_ed25519" deploy@198.18.0.21 'sudo -n true && getent hosts smtp-mail.outlook.com login.microsoftonline.com' ||
  fail "name resolution through the stand-in's DNS does not work on deb13-a"

step "the roles in check mode first: nothing changes on any host"
upper_state > "$FLEET_RUN/upper.before"
ansible-playbook "$here/playbooks/configure.yml" --check --diff > "$FLEET_RUN/check-mode.out" 2>&1 ||
  { tail -n 80 "$FLEET_RUN/check-mode.out"; fail "the roles failed in check mode"; }
upper_state > "$FLEET_RUN/upper.after"
diff "$FLEET_RUN/upper.before" "$FLEET_RUN/upper.after" || fail "check mode changed files on the hosts (diff above)"
for name in "${configured[@]}"; do
  [ "$(recap_changed "$FLEET_RUN/check-mode.out" "$name")" -gt 0 ] || fail "check mode reports no change on unconfigured $name"
done

step "apply the roles"
ansible-playbook "$here/playbooks/configure.yml" > "$FLEET_RUN/apply.out" 2>&1 ||
  { tail -n 80 "$FLEET_RUN/apply.out"; fail "the roles failed"; }
step "a second run changes nothing"
ansible-playbook "$here/playbooks/configure.yml" > "$FLEET_RUN/apply2.out" 2>&1 ||
  { tail -n 80 "$FLEET_RUN/apply2.out"; fail "the second run failed"; }
for name in "${configured[@]}"; do
  [ "$(recap_changed "$FLEET_RUN/apply2.out" "$name")" = 0 ] ||
    { grep -B4 '^changed' "$FLEET_RUN/apply2.out"; fail "second run on $name reports changed=$(recap_changed "$FLEET_RUN/apply2.out" "$name")"; }
done
for out in check-mode apply apply2; do
  ! grep -qF 'Fleet pass' "$FLEET_RUN/$out.out" || fail "the vaulted password shows in the output of $out"
done

step "mail from every configured host"
ansible-playbook "$here/playbooks/send.yml" -e "fleet_oauth_sender=$fleet_oauth_sender" > "$FLEET_RUN/send.out" 2>&1 ||
  { tail -n 60 "$FLEET_RUN/send.out"; fail "sending failed"; }
pairs=()
for name in "${configured[@]}"; do pairs+=("$name:tenant" "$name:personal"); done
if ! standin_wait_mail "${#pairs[@]}" 120; then
  for name in deb12-a deb13-a deb12-c deb13-c; do
    echo "---- $name: postfix.log"; fleet_exec "$name" tail -n 20 /var/log/postfix.log || true
  done
  fail "not every message arrived"
fi
python "$here/verify.py" mail "$STANDIN_DIR" "$FLEET_RUN/expect.json" "${pairs[@]}" || fail "mail check failed"

step "the check playbook on every host (reports in the run dir)"
rc=0
ansible-playbook "$ROOT/playbooks/check.yml" -e "live_smtp_check_report_dir=$FLEET_RUN/report" > "$FLEET_RUN/check.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { tail -n 40 "$FLEET_RUN/check.out"; fail "the check playbook succeeded although a host is blocked and one is missing"; }
grep -E '^(deb|blocked|missing)' "$FLEET_RUN/check.out" | grep -E 'ok=|unreachable=' || true
python "$here/verify.py" report "$FLEET_RUN/report/live_smtp_check.json" "${configured[@]}" -- \
  blocked=connect_timeout missing=host_unreachable || { tail -n 60 "$FLEET_RUN/check.out"; fail "the check report is wrong"; }
! grep -qF 'Fleet pass' "$FLEET_RUN/check.out" "$FLEET_RUN/report/live_smtp_check.json" "$FLEET_RUN/report/live_smtp_check.md" ||
  fail "the vaulted password shows in the check's output or report"

step "SSH figures (informational, never asserted)"
# The 7 hosts that exist; each playbook twice, the faster run counts (the first of each warms SSH connections).
best() {  # PLAYBOOK: prints the faster of two runs in seconds
  local t b=
  for _ in 1 2; do
    t=$(python - "$@" <<'PY'
import subprocess, sys, time
start = time.monotonic()
subprocess.run(['ansible-playbook', '--limit', '!missing:!blocked'] + sys.argv[1:], stdout=subprocess.DEVNULL,
               stderr=subprocess.DEVNULL, check=False)
print('%.2f' % (time.monotonic() - start))
PY
)
    if [ -z "$b" ] || python -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$t" "$b"; then b=$t; fi
  done
  echo "$b"
}
t_wait=$(best "$here/playbooks/wait_for.yml")
t_check=$(best "$ROOT/playbooks/check.yml")
ratio=$(python -c "import sys; print('%.2f' % (float(sys.argv[1]) / float(sys.argv[2])))" "$t_check" "$t_wait")
printf 'fleet figures: SSH fleet of 7 hosts (Debian 12 and 13), 2 accounts each, forks 20, pipelining on\n'
printf 'fleet figures:   one-task wait_for play: %s s\n' "$t_wait"
printf 'fleet figures:   check playbook:         %s s\n' "$t_check"
printf 'fleet figures:   check / wait_for:       %s\n' "$ratio"

step "migration: the tenant mailbox from its password to app-only OAuth2 on deb12-a, deb12-b (msmtp), deb13-a (broken), deb13-b, missing; serial 1, threshold 1"
broken=deb13-a
after=deb13-b
# A firewall change nobody told the mail admin about: deb13-a drops outbound HTTPS of the Postfix pipe user only.
# The new login passes the check (it runs as root), but the pipe's msmtp cannot get a token: delivery is deferred.
printf '%s\n' 'table inet fleet_pipe_egress {' '  chain output {' '    type filter hook output priority 0; policy accept;' \
  '    meta skuid live-smtp tcp dport 443 drop' '  }' '}' | fleet_exec "$broken" nft -f /dev/fd/0 ||
  fail "could not load the pipe user's firewall rule on $broken"
config_state() {  # NAME: sha256 of the relay's configuration files (not the binary maps postmap rebuilds)
  fleet_exec "$1" sh -c 'find /etc/postfix /etc/msmtprc /etc/mailops-live-smtp /var/lib/mailops-live-smtp/postfix \
    /var/lib/mailops-live-smtp/verified -type f ! -name "*.db" ! -name "*.lmdb" 2>/dev/null | sort | xargs -r sha256sum'
}
config_state "$broken" > "$FLEET_RUN/migrate-broken.before"
grep -q '/etc/postfix/live-smtp/sasl_passwd$' "$FLEET_RUN/migrate-broken.before" ||
  fail "$broken has no sasl_passwd before the migration: nothing to roll back to"
python "$here/verify.py" upper "$after=$FLEET_RUN/hosts/$after/upper=$(host_rootfs "$after")" > "$FLEET_RUN/migrate-after.before"
config_state "$after" > "$FLEET_RUN/migrate-after.config.before"
auth_skip=$(wc -l < "$STANDIN_DIR/auth.jsonl")
rc=0
migrate_start=$(date +%s.%N)
ansible-playbook mailops.live_smtp.migrate -v -e live_smtp_migrate_hosts=migrate -e live_smtp_migrate_serial=1 \
  -e live_smtp_migrate_max_failures=1 -e "live_smtp_migrate_report_dir=$FLEET_RUN/migrate-report" \
  > "$FLEET_RUN/migrate.out" 2>&1 || rc=$?
t_migrate=$(python -c "import sys, time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$migrate_start")
[ "$rc" -ne 0 ] || { tail -n 60 "$FLEET_RUN/migrate.out"; fail "the migration succeeded although $broken cannot deliver"; }
grep -E '^(deb|blocked|missing)' "$FLEET_RUN/migrate.out" | grep -E 'ok=' || true

# The broken host: the same configuration as before, its test message delivered after the rollback, nothing queued.
config_state "$broken" > "$FLEET_RUN/migrate-broken.after"
diff "$FLEET_RUN/migrate-broken.before" "$FLEET_RUN/migrate-broken.after" ||
  { tail -n 80 "$FLEET_RUN/migrate.out"; fail "$broken's relay configuration differs after the rollback (diff above)"; }
fleet_exec "$broken" postqueue -p > "$FLEET_RUN/migrate-broken.queue" 2>&1 || true
grep -q 'Mail queue is empty' "$FLEET_RUN/migrate-broken.queue" ||
  { cat "$FLEET_RUN/migrate-broken.queue"; fail "$broken's queue is not empty after the rollback"; }
fleet_exec "$broken" cat /var/log/postfix.log > "$FLEET_RUN/migrate-broken.maillog"
message_ids=$(grep -o 'message-id=<live-smtp-migrate\.[^>]*>' "$FLEET_RUN/migrate-broken.maillog" | sort -u)
[ "$(printf '%s\n' "$message_ids" | grep -c .)" -eq 1 ] || fail "$broken queued $(printf '%s\n' "$message_ids" | grep -c .) test messages, 1 expected"
queue_id=$(grep -F "$message_ids" "$FLEET_RUN/migrate-broken.maillog" | sed -n 's/.*: \([0-9A-Za-z]*\): message-id=.*/\1/p' | head -n1)
# First deferred through the OAuth2 pipe (no token), then sent through the relayhost with the password.
grep " $queue_id: " "$FLEET_RUN/migrate-broken.maillog" | grep -o 'relay=[^,]*, .*status=[a-z]*' | sed 's/^/fleet: '"$broken"' /' || true
grep -q " $queue_id: .*relay=live-smtp-tenant.*status=deferred" "$FLEET_RUN/migrate-broken.maillog" ||
  fail "$broken's test message $queue_id was not deferred by the OAuth2 pipe"
grep -q " $queue_id: .*relay=smtp-mail.outlook.com.*status=sent" "$FLEET_RUN/migrate-broken.maillog" ||
  fail "$broken's test message $queue_id was not sent through the relayhost after the rollback"

# The healthy hosts relay with the OAuth2 account now: Postfix through the pipe, msmtp with XOAUTH2.
[ "$(fleet_exec deb12-a postconf -h default_transport)" = live-smtp-tenant ] ||
  fail "deb12-a does not relay through the tenant's OAuth2 pipe after the migration"
fleet_exec deb12-a grep -q -- '-a tenant' /etc/postfix/master.cf || fail "deb12-a's master.cf has no pipe for tenant"
# shellcheck disable=SC2016  # an awk program
fleet_exec deb12-b awk '$1 == "account" {a = $2} a == "tenant" && $1 == "auth" {print $2}' /etc/msmtprc > "$FLEET_RUN/migrate-msmtp.auth"
[ "$(cat "$FLEET_RUN/migrate-msmtp.auth")" = xoauth2 ] || fail "deb12-b's msmtp account tenant does not use XOAUTH2"

# The host after the threshold: its overlay and configuration as before (no verified state, no file touched).
python "$here/verify.py" upper "$after=$FLEET_RUN/hosts/$after/upper=$(host_rootfs "$after")" > "$FLEET_RUN/migrate-after.after"
diff "$FLEET_RUN/migrate-after.before" "$FLEET_RUN/migrate-after.after" || fail "the migration touched $after (diff above)"
config_state "$after" > "$FLEET_RUN/migrate-after.config.after"
diff "$FLEET_RUN/migrate-after.config.before" "$FLEET_RUN/migrate-after.config.after" || fail "$after's configuration changed"

# The stand-in's records and the report, then no secret in any output or report.
python "$here/verify.py" migrate "$STANDIN_DIR" "$FLEET_RUN/expect.json" "$FLEET_RUN/migrate-report/live_smtp_migrate.json" \
  "$auth_skip" deb12-a=migrated=198.18.0.11 deb12-b=migrated=198.18.0.12 \
  "$broken=rolled_back=198.18.0.21=${message_ids#message-id=}" "$after=not_reached=198.18.0.22" \
  missing=not_reached=198.18.0.99 ||
  { tail -n 80 "$FLEET_RUN/migrate.out"; fail "the migration's effect or report is wrong"; }
for format in json md junit.xml html; do
  [ -s "$FLEET_RUN/migrate-report/live_smtp_migrate.$format" ] || fail "live_smtp_migrate.$format is missing"
done
# A host that cannot be reached does not end the run before the report: it is kept (host_unreachable).
rc=0
auth_skip=$(wc -l < "$STANDIN_DIR/auth.jsonl")
ansible-playbook mailops.live_smtp.migrate -e live_smtp_migrate_hosts=missing \
  -e "live_smtp_migrate_report_dir=$FLEET_RUN/migrate-missing" > "$FLEET_RUN/migrate-missing.out" 2>&1 || rc=$?
[ "$rc" -ne 0 ] || { tail -n 40 "$FLEET_RUN/migrate-missing.out"; fail "the migration of the missing host succeeded"; }
python "$here/verify.py" migrate "$STANDIN_DIR" "$FLEET_RUN/expect.json" "$FLEET_RUN/migrate-missing/live_smtp_migrate.json" \
  "$auth_skip" missing=kept:host_unreachable=198.18.0.99 ||
  { tail -n 40 "$FLEET_RUN/migrate-missing.out"; fail "the migration's report of an unreachable host is wrong"; }
# The leak check finds what it looks for: the stand-in's own AUTH log holds the password and the tokens.
! python "$here/verify.py" leaks "$FLEET_RUN/expect.json" "$STANDIN_DIR" "$STANDIN_DIR/auth.jsonl" >/dev/null ||
  fail "the leak check finds no secret in the stand-in's auth.jsonl, which holds them"
python "$here/verify.py" leaks "$FLEET_RUN/expect.json" "$STANDIN_DIR" "$FLEET_RUN/migrate.out" \
  "$FLEET_RUN"/migrate-report/live_smtp_migrate.* "$FLEET_RUN/migrate-missing.out" "$FLEET_RUN"/migrate-missing/live_smtp_migrate.* \
  "$FLEET_RUN"/check-mode.out "$FLEET_RUN"/apply.out "$FLEET_RUN"/apply2.out "$FLEET_RUN"/send.out "$FLEET_RUN"/check.out ||
  fail "a secret shows in the migration's output or reports"

printf 'fleet figures: migration of 5 hosts (serial 1, threshold 1: 2 migrated, 1 rolled back, 2 not reached), -v: %s s\n' "$t_migrate"
step "passed"
