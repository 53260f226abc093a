#!/usr/bin/env bash
# Runs every test of the collection (what .ci/run calls): sanity, unit, integration (real Postfix, msmtp,
# ansible-vault, swaks against the bundled stand-in server), lint, changelog, build; Python 3.8 compatibility.
# Usage: tests/run_all.sh [stage ...]
#   stages: sanity compat units integration fleet lint changelog build matrix ee galaxy docs bench (default: all). bench
#   prints figures (about 3 min) and is never counted as passed or failed. matrix: the extra ansible-core x Python cells
#   of tests/matrix/cells.txt; ee: ansible-builder create; galaxy: galaxy-importer; docs: the antsibull-docs site.
# Environment: LIVE_SMTP_WORK (staging dir, default /tmp/mailops-live-smtp-work), LIVE_SMTP_VENV (tools venv).
# Every stage runs even when an earlier one failed; the last line is "N passed, N failed" (stages).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
suite_start=$SECONDS
bash "$ROOT/tests/setup.sh"
# shellcheck source=tests/lib/env.sh
. "$ROOT/tests/lib/env.sh"

stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(sanity compat units integration fleet lint changelog build matrix ee galaxy docs bench)

COLL=$(stage_collection)
cd "$COLL"
echo "run_all: collection staged at $COLL ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo no-git))"

# Sanity tests that cannot run here, each with the reason. Everything else runs; ignore files stay empty.
#   pslint: needs PowerShell (pwsh), which neither Debian 12 nor PyPI provides; the collection has no PowerShell.
sanity_skips=(--skip-test pslint)

stage_sanity() {
  # Findings are fixed, never ignored: ignore files must stay absent or empty.
  local ignores
  ignores=$(find tests/sanity -name 'ignore-*.txt' -size +0 2>/dev/null)
  [ -z "$ignores" ] || { echo "sanity: ignore files must stay empty: $ignores"; return 1; }
  ansible-test sanity --venv --python "$PYVER" --color no "${sanity_skips[@]}"
}

stage_compat() {
  # Module-side code runs on the managed host's Python (3.8+ with ansible-core 2.19), but only 3.11 is installed
  # here, so ansible-test's compile test cannot check 3.8. vermin reports syntax, annotations and standard-library
  # use newer than 3.8. Controller-side plugins (filters, doc fragments) need only the controller's Python.
  local paths=() p
  for p in plugins/modules plugins/module_utils roles/*/files; do [ -e "$p" ] && paths+=("$p"); done
  [ ${#paths[@]} -gt 0 ] || { echo "compat: no module-side Python yet"; return 0; }
  vermin -t=3.8- --violations --no-tips --eval-annotations "${paths[@]}"
}

stage_units() {
  # The staged tree sits at $WORK/ansible_collections/mailops/live_smtp, so with $WORK on sys.path the tests import
  # ansible_collections.mailops.live_smtp.plugins.module_utils... exactly as Ansible does.
  # pytest exits 5 when it collected no test: a non-zero exit, so the stage fails (the suite must have tests).
  local rc=0
  PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}" python -m pytest -q -p no:cacheprovider tests/unit || rc=$?
  [ "$rc" -ne 5 ] || echo "units: pytest collected no tests (exit 5): failing"
  return "$rc"
}

# One target may run at most this long (a hung one must not eat CI's 90 minutes; they all have a few minutes).
TARGET_TIMEOUT=${LIVE_SMTP_TARGET_TIMEOUT:-900}

stage_integration() {
  # Target by target: every target runs even when one fails, and each gets its own time and time limit.
  local args=(--local --python "$PYVER" --allow-destructive --allow-root --color no) targets t start rc failed=()
  targets=$(ansible-test integration --list-targets "${args[@]}") || return 1
  [ -n "$targets" ] || { echo "integration: no targets"; return 1; }
  for t in $targets; do
    start=$SECONDS rc=0
    timeout --kill-after=30 "$TARGET_TIMEOUT" ansible-test integration "${args[@]}" "$t" || rc=$?
    if [ "$rc" -eq 0 ]; then
      report+=("#####   integration target $t: passed in $((SECONDS - start)) s")
    else
      [ "$rc" -ne 124 ] || echo "integration: $t did not finish within $TARGET_TIMEOUT s"
      report+=("#####   integration target $t: FAILED (exit $rc) in $((SECONDS - start)) s")
      failed+=("$t")
    fi
    echo "${report[-1]}"
  done
  [ ${#failed[@]} -eq 0 ] || { echo "integration: failed targets: ${failed[*]}"; return 1; }
}

stage_fleet() {
  # Debian 12 and 13 hosts in network namespaces, over SSH with become (tests/fleet/README.md); ends with SSH figures.
  timeout --kill-after=30 "${LIVE_SMTP_FLEET_TIMEOUT:-1800}" bash tests/fleet/run.sh
}

stage_lint() {
  # Settings (production profile, offline, excluded paths) are in .ansible-lint; ANSIBLE_COLLECTIONS_PATH from env.sh
  # lets it resolve mailops.live_smtp.* names to this staged copy.
  ansible-lint --offline --profile production --nocolor
}

stage_changelog() {
  antsibull-changelog lint
}

stage_build() {
  local out
  out=$(mktemp -d /tmp/live-smtp-build.XXXXXX)
  # Clean up on every path (a trap would outlive the stage).
  if ! stage_build_in "$out"; then rm -rf "$out"; return 1; fi
  rm -rf "$out"
}

stage_build_in() {
  local out=$1 tarball m role bad=0
  ansible-galaxy collection build --output-path "$out" . || return 1
  tarball=$(ls "$out"/mailops-live_smtp-*.tar.gz) || return 1
  echo "build: $(basename "$tarball"): $(tar -tzf "$tarball" | wc -l) entries, $(du -k "$tarball" | cut -f1) KiB"
  python "$ROOT/tests/lib/check_tarball.py" "$tarball" || return 1
  ansible-galaxy collection install --force -p "$out/installed" "$tarball" || return 1
  # ansible-doc sees only the installed tarball, not the staged tree.
  for m in plugins/modules/*.py; do
    [ -f "$m" ] || continue
    m=$(basename "$m" .py)
    if ANSIBLE_COLLECTIONS_PATH="$out/installed" ansible-doc -t module "mailops.live_smtp.$m" >/dev/null; then
      echo "build: ansible-doc -t module mailops.live_smtp.$m: ok"
    else
      echo "build: ansible-doc -t module mailops.live_smtp.$m: FAILED"; bad=1
    fi
  done
  for role in roles/*/meta/argument_specs.yml; do
    [ -f "$role" ] || continue
    role=$(basename "$(dirname "$(dirname "$role")")")
    if ANSIBLE_COLLECTIONS_PATH="$out/installed" ansible-doc -t role "mailops.live_smtp.$role" >/dev/null; then
      echo "build: ansible-doc -t role mailops.live_smtp.$role: ok"
    else
      echo "build: ansible-doc -t role mailops.live_smtp.$role: FAILED"; bad=1
    fi
  done
  return "$bad"
}

stage_matrix() {
  # The same sanity skips as stage_sanity, on every extra cell.
  bash "$ROOT/tests/matrix/run.sh" "${sanity_skips[@]}"
}

# The tool stages below work in a fresh directory each time; their tools live in cached venvs (tests/lib/toolvenv.sh).
stage_tool() {
  local script=$1 out rc=0
  out=$(mktemp -d /tmp/live-smtp-tool.XXXXXX)
  bash "$ROOT/tests/$script" "$COLL" "$out" || rc=$?
  rm -rf "$out"
  return "$rc"
}
stage_ee() { stage_tool ee/create.sh; }
stage_galaxy() { stage_tool galaxy/import.sh; }
stage_docs() { stage_tool docs_site/build.sh; }

stage_bench() {
  # Figures only (tests/bench/README.md); it never decides pass/fail and is bounded in time.
  PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}" timeout 300 python tests/bench/roundtrips.py ||
    echo "bench: did not complete (informational only)"
  # The check playbook against wait_for and smtp_check on 100 local hosts (one run each, about 2 minutes;
  # tests/bench/playbook_overhead.md).
  timeout 600 bash "$ROOT/tests/bench/playbook_overhead.sh" --runs 1 ||
    echo "bench: playbook_overhead did not complete (informational only)"
  # What the verified switch costs a postfix_relay run (host Postfix, its target's lock; tests/bench/verified_switch.sh).
  # One run of each kind keeps the suite within its time goal; medians of 3 by hand (tests/bench/README.md).
  timeout 900 bash "$ROOT/tests/bench/verified_switch.sh" --runs 1 ||
    echo "bench: verified_switch did not complete (informational only)"
}

passed=()
failed=()
report=()
run_stage() {
  local name=$1 start=$SECONDS rc=0
  echo "##### run_all: $name"
  if [ "$name" = bench ]; then
    stage_bench
    report+=("##### run_all: bench: informational (not counted) in $((SECONDS - start)) s"); echo "${report[-1]}"
    return 0
  fi
  # errexit is off inside a function called in a condition, so each stage checks its own commands (|| return 1).
  "stage_$name" || rc=$?
  if [ "$rc" -eq 0 ]; then
    passed+=("$name"); report+=("##### run_all: $name: passed in $((SECONDS - start)) s")
  else
    failed+=("$name"); report+=("##### run_all: $name: FAILED (exit $rc) in $((SECONDS - start)) s")
  fi
  echo "${report[-1]}"
}

for stage in "${stages[@]}"; do
  case "$stage" in
    sanity|compat|units|integration|fleet|lint|changelog|build|matrix|ee|galaxy|docs|bench) run_stage "$stage" ;;
    *) echo "run_all: unknown stage $stage" >&2; exit 2 ;;
  esac
done

echo "##### run_all: summary"
printf '%s\n' "${report[@]}"
echo "run_all: total $((SECONDS - suite_start)) s (setup, staging and ${#stages[@]} stage(s))"
[ ${#failed[@]} -eq 0 ] || echo "run_all: FAILED stages: ${failed[*]}"
echo "${#passed[@]} passed, ${#failed[@]} failed"
[ ${#failed[@]} -eq 0 ]
