# shellcheck shell=bash
# What the role targets' runme.sh scripts share, besides the stand-in (standin.sh, sourced here too). Use:
#   here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
#   export TARGET=msmtp
#   # shellcheck source=../setup_standin/target.sh
#   . "$here/../setup_standin/target.sh"
#
#   fail MESSAGE...              "$TARGET: FAIL: MESSAGE" on stderr, exit 1 (a target may define its own after this)
#   pass MESSAGE...              "$TARGET: ok: MESSAGE"
#   target_lock FILE SECONDS     one run of the target at a time on this host: waits at most SECONDS for an flock on
#                                FILE (held on fd 9 until the script exits). Keep a target's lock file name as it is:
#                                a run from an older checkout on the same host must wait for the same lock.
#   secret_leaks SECRETS FILE... the FILEs (file:line) that hold any line of the file SECRETS, as fixed strings;
#                                prints locations only, never the secret; exit 0 when there is no leak

# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. "$(dirname "${BASH_SOURCE[0]}")/standin.sh"

: "${TARGET:=$(basename "$(dirname "$(readlink -f "$0")")")}"

fail() {
  echo "$TARGET: FAIL: $*" >&2
  exit 1
}

pass() {
  echo "$TARGET: ok: $*"
}

target_lock() {
  exec 9> "$1"
  flock -w "$2" 9 || { echo "$TARGET: another run of this test held $1 for $2 s" >&2; return 1; }
}

secret_leaks() {
  local secrets=$1 file found=0
  shift
  [ -s "$secrets" ] || { echo "secret_leaks: no secrets in $secrets: nothing could be found" >&2; return 2; }
  for file in "$@"; do
    [ -f "$file" ] || continue
    if grep -qF -f "$secrets" -- "$file"; then
      grep -nF -f "$secrets" -- "$file" | cut -d: -f1 | sed "s|^|$file:|" | head -n 3
      found=1
    fi
  done
  return "$found"
}
