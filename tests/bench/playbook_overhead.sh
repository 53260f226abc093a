#!/usr/bin/env bash
# Benchmark (figures only, never a pass/fail): what the check playbook costs on top of a bare port check.
# 100 inventory hosts over the local connection, forks 20, one password account on the stand-in; times
#   wait_for    a one-task play: ansible.builtin.wait_for on the stand-in's port (TCP connect only)
#   smtp_check  a one-task play: mailops.live_smtp.smtp_check for the account
#   check       ansible-playbook mailops.live_smtp.check with the account, reports off
#   set_fact    a one-task play that runs no module: Ansible's own cost of one task on every host
# and prints the median wall time of RUNS runs of each (interleaved) and the ratios to wait_for.
# Usage: bash tests/bench/playbook_overhead.sh [--hosts N] [--forks N] [--runs N] [--pipelining] [--playbook PATH]...
#   --pipelining     run every play with ANSIBLE_PIPELINING=1 (fewer commands per module run)
#   --playbook PATH  also time another playbook with the same inventory and variables (for example an older
#                    check.yml taken with `git show REV:playbooks/check.yml`); run from the collection it belongs to.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
hosts=100 forks=20 runs=3 extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --hosts) hosts=$2; shift 2 ;;
    --forks) forks=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --pipelining) export ANSIBLE_PIPELINING=1; shift ;;
    --playbook) extra+=("$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"); shift 2 ;;
    *) echo "usage: $0 [--hosts N] [--forks N] [--runs N] [--pipelining] [--playbook PATH]..." >&2; exit 2 ;;
  esac
done
bash "$ROOT/tests/setup.sh" >&2
# shellcheck source=tests/lib/env.sh
. "$ROOT/tests/lib/env.sh"
COLL=$(stage_collection)
# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. "$COLL/tests/integration/targets/setup_standin/standin.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/playbook-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT   # standin_start adds the stand-in's stop
password=$(python -c 'import secrets; print("pw-" + secrets.token_urlsafe(24))')
python - "$tmp/accounts.json" "$password" <<'PY'
import json, sys
json.dump([{"user": "bench@example.com", "password": sys.argv[2]}], open(sys.argv[1], "w"))
PY
standin_start "$tmp/standin" --accounts "$tmp/accounts.json" --lifetime 1800 >&2
port=$(standin_port outlook)

python - "$tmp/inventory.ini" "$hosts" <<'PY'
import sys
with open(sys.argv[1], "w") as out:
    out.write("[bench]\n")
    out.writelines("h%03d\n" % i for i in range(int(sys.argv[2])))
    out.write("[bench:vars]\nansible_connection=local\nansible_python_interpreter={{ ansible_playbook_python }}\n")
PY
umask 077
cat > "$tmp/vars.yml" <<YAML
live_smtp_accounts:
  - name: bench
    host: localhost
    port: $port
    username: bench@example.com
    auth: password
    password: "$password"
    ca_file: $STANDIN_CA
YAML
umask 022
cat > "$tmp/wait_for.yml" <<YAML
- name: Bench wait_for
  hosts: bench
  gather_facts: false
  tasks:
    - name: Wait for the port
      ansible.builtin.wait_for:
        host: localhost
        port: $port
        timeout: 10
YAML
cat > "$tmp/smtp_check.yml" <<YAML
- name: Bench smtp_check
  hosts: bench
  gather_facts: false
  tasks:
    - name: Check the account
      mailops.live_smtp.smtp_check:
        host: localhost
        port: $port
        username: bench@example.com
        password: "{{ live_smtp_accounts[0].password }}"
        ca_path: $STANDIN_CA
      no_log: true
YAML

# set_fact runs no module on the host: its time is Ansible's own cost of one task on every host.
cat > "$tmp/set_fact.yml" <<YAML
- name: Bench set_fact
  hosts: bench
  gather_facts: false
  tasks:
    - name: Set a fact
      ansible.builtin.set_fact:
        bench_fact: 1
YAML

names=(wait_for smtp_check check set_fact)
playbooks=("$tmp/wait_for.yml" "$tmp/smtp_check.yml" mailops.live_smtp.check "$tmp/set_fact.yml")
i=0
for p in "${extra[@]}"; do
  i=$((i + 1)); names+=("extra$i"); playbooks+=("$p")
done
: > "$tmp/times.txt"
for run in $(seq "$runs"); do
  for k in "${!names[@]}"; do
    start=$(date +%s.%N)
    rc=0
    ANSIBLE_FORKS=$forks ansible-playbook -i "$tmp/inventory.ini" -e "@$tmp/vars.yml" "${playbooks[$k]}" \
      >"$tmp/${names[$k]}.log" 2>&1 || rc=$?
    end=$(date +%s.%N)
    if [ "$rc" -ne 0 ] || ! grep -qE "^h000 +: ok=[1-9].* failed=0 " "$tmp/${names[$k]}.log"; then
      echo "bench: ${names[$k]} failed (exit $rc):" >&2; tail -n 30 "$tmp/${names[$k]}.log" >&2; exit 1
    fi
    echo "${names[$k]} $start $end" >> "$tmp/times.txt"
    echo "bench: run $run ${names[$k]}: $(python -c "print(round($end - $start, 2))") s" >&2
  done
done

python - "$tmp/times.txt" "$hosts" "$forks" "$runs" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "${extra[@]}" <<'PY'
import os, statistics, sys
path, hosts, forks, runs, cpus, load = sys.argv[1:7]
extra = sys.argv[7:]
times = {}
for line in open(path):
    name, start, end = line.split()
    times.setdefault(name, []).append(float(end) - float(start))
base = statistics.median(times["wait_for"])
print("playbook_overhead: %s hosts, local connection, forks %s, median of %s runs, %s CPUs, load %s at the end, "
      "pipelining %s" % (hosts, forks, runs, cpus, load, "on" if os.environ.get("ANSIBLE_PIPELINING") else "off"))
print("%-12s %10s %8s   %s" % ("play", "median s", "ratio", "runs s"))
for name, values in times.items():
    median = statistics.median(values)
    print("%-12s %10.2f %7.2fx   %s" % (name, median, median / base, " ".join("%.2f" % t for t in values)))
for i, playbook in enumerate(extra, 1):
    print("extra%d = %s" % (i, playbook))
print("goals: check <= 1.30x wait_for, smtp_check <= 1.20x wait_for")
PY
