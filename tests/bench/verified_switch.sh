#!/usr/bin/env bash
# Benchmark (figures only, never a pass/fail): what the verified switch (postfix_relay_verify_credentials) costs a
# postfix_relay run on this host's real Postfix, with one password account on the stand-in. Times
#   change    an apply that changes the account's credential (it alternates between two mailboxes, each with its
#             own password): with the switch on, the role logs in with the new one first
#   nochange  the same apply again, nothing changed: the switch compares fingerprints and probes nothing
# each with the switch on and off, RUNS times (interleaved), and prints the medians and the on/off differences.
# Like the postfix_relay integration target it takes that target's host lock, keeps the host's main.cf and master.cf
# and puts them back on exit (Postfix stopped, queue emptied, the role's files removed).
# Usage: bash tests/bench/verified_switch.sh [--runs N]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
runs=3
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
  esac
done
bash "$ROOT/tests/setup.sh" >&2
# shellcheck source=tests/lib/env.sh
. "$ROOT/tests/lib/env.sh"
COLL=$(stage_collection)
export TARGET=verified_switch_bench
# shellcheck source=tests/integration/targets/setup_standin/target.sh
. "$COLL/tests/integration/targets/setup_standin/target.sh"
# The same lock as the postfix_relay target: one user of the host's Postfix at a time.
target_lock /run/lock/mailops-live-smtp-postfix-relay.lock 1500 || exit 1

conf=/etc/postfix
maps=$conf/live-smtp
verify_state=/var/lib/mailops-live-smtp/verified/postfix_relay.json
tmp=$(mktemp -d "${TMPDIR:-/tmp}/verified-switch-bench.XXXXXX")
mkdir -p "$tmp/orig"
for f in main.cf master.cf; do [ ! -f "$conf/$f" ] || cp -p "$conf/$f" "$tmp/orig/$f"; done
restore() {
  local rc=$1
  set +e
  standin_stop
  postfix stop >/dev/null 2>&1
  postsuper -d ALL >/dev/null 2>&1
  rm -f "$conf/main.cf"
  for f in main.cf master.cf; do [ ! -f "$tmp/orig/$f" ] || cp -p "$tmp/orig/$f" "$conf/$f"; done
  rm -rf "$maps" "$verify_state" "$tmp"
  exit "$rc"
}
trap 'restore $?' EXIT
postfix stop >/dev/null 2>&1 || true
postsuper -d ALL >/dev/null 2>&1 || true
rm -rf "$maps" "$verify_state"
printf '%s\n' 'compatibility_level = 3.6' > "$conf/main.cf"

umask 077
python - "$tmp/accounts.json" <<'PY'
import json, secrets, sys
json.dump([{"user": "bench-%s@example.com" % side, "password": "pw-" + secrets.token_urlsafe(24)} for side in "ab"],
          open(sys.argv[1], "w"))
PY
standin_start "$tmp/standin" --accounts "$tmp/accounts.json" --lifetime 1800 --scenarios outlook >&2
trap 'restore $?' EXIT   # standin_start added its own stop to the EXIT trap; restore stops it too
for side in a b; do
  python - "$tmp/accounts.json" "$side" "$(standin_port outlook)" "$STANDIN_CA" > "$tmp/$side.yml" <<'PY'
import json, sys
accounts, side, port, ca = json.load(open(sys.argv[1])), sys.argv[2], sys.argv[3], sys.argv[4]
account = accounts["ab".index(side)]
print("live_smtp_accounts:\n  - name: bench\n    host: localhost\n    port: %s\n    username: %s\n    password: %s\n"
      "    ca_file: %s" % (port, account["user"], json.dumps(account["password"]), ca))
PY
done
umask 022
cat > "$tmp/relay.yml" <<'YAML'
- name: Configure the Postfix relay
  hosts: localhost
  connection: local
  gather_facts: false
  roles:
    - role: mailops.live_smtp.postfix_relay
YAML

apply() {  # apply NAME VARS(a|b) GATE(true|false) EXPECT(change|nochange): one timed run, recorded in times.txt
  local name=$1 side=$2 gate=$3 expect=$4 start end changed
  start=$(date +%s.%N)
  ansible-playbook "$tmp/relay.yml" -e "@$tmp/$side.yml" -e "postfix_relay_verify_credentials=$gate" \
    > "$tmp/run.log" 2>&1 || { tail -n 30 "$tmp/run.log" >&2; echo "bench: $name failed" >&2; exit 1; }
  end=$(date +%s.%N)
  changed=$(sed -n 's/.*changed=\([0-9]*\).*/\1/p' "$tmp/run.log" | tail -n1)
  if { [ "$expect" = change ] && [ "$changed" = 0 ]; } || { [ "$expect" = nochange ] && [ "$changed" != 0 ]; }; then
    echo "bench: $name reported changed=$changed, not a $expect run" >&2; exit 1
  fi
  [ "$name" = warmup ] || echo "$name $start $end" >> "$tmp/times.txt"
  echo "bench: $name: $(python -c "print(round($end - $start, 2))") s" >&2
}

: > "$tmp/times.txt"
apply warmup a false change   # installs and starts everything once; not timed
side=a
for run in $(seq "$runs"); do
  for gate in on off; do
    side=$([ "$side" = a ] && echo b || echo a)
    flag=$([ "$gate" = on ] && echo true || echo false)
    apply "change/$gate" "$side" "$flag" change
    apply "nochange/$gate" "$side" "$flag" nochange
  done
  echo "bench: run $run of $runs done" >&2
done
logins=$(standin_auth_count)

python - "$tmp/times.txt" "$runs" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$logins" <<'PY'
import statistics, sys
path, runs, cpus, load, logins = sys.argv[1:6]
times = {}
for line in open(path):
    name, start, end = line.split()
    times.setdefault(name, []).append(float(end) - float(start))
median = {name: statistics.median(values) for name, values in times.items()}
print("verified_switch: postfix_relay apply on this host's Postfix, one password account, median of %s runs, "
      "%s CPUs, load %s at the end" % (runs, cpus, load))
print("%-14s %10s   %s" % ("apply/switch", "median s", "runs s"))
for name, values in times.items():
    print("%-14s %10.2f   %s" % (name, median[name], " ".join("%.2f" % t for t in values)))
for kind in ("change", "nochange"):
    on, off = median[kind + "/on"], median[kind + "/off"]
    print("%-8s switch on - off: %+.2f s (%+.0f%%)" % (kind, on - off, 100 * (on - off) / off))
print("logins at the stand-in: %s (no mail is sent: each is a check by the switch, expected %s)" % (logins, runs))
PY
