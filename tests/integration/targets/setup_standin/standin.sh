# shellcheck shell=bash
# Shell API of the stand-in server (tests/standin/standin.py), sourced by integration targets' runme.sh and by
# tests/demo.sh. A target that sources it needs `needs/target/setup_standin` in its aliases, then:
#   . ../setup_standin/standin.sh
#   standin_start "$dir" [standin.py options...]   # background start, waits for ready.json, EXIT trap stops it
#
#   standin_start DIR [ARGS...]    start with --state-dir DIR (and --pidfile DIR/standin.pid); waits at most
#                                  STANDIN_START_TIMEOUT seconds (default 60) for DIR/ready.json; installs an EXIT
#                                  trap (keeping any earlier EXIT trap) that stops it. Sets and exports STANDIN_DIR,
#                                  STANDIN_PID, STANDIN_READY, STANDIN_CA, STANDIN_LOG, STANDIN_MAILDIR.
#   standin_stop                   SIGTERM, waits (at most 10 s, then SIGKILL). Safe to call twice.
#   standin_restart [ARGS...]      stop if running, start again on the same state dir and the same ports (pins every
#                                  port of the last ready.json), with the last arguments plus ARGS.
#   standin_get KEY[.KEY...]       a value of ready.json: strings raw, the rest as JSON (standin_get accounts.user)
#   standin_port SCENARIO          the port of a scenario (also: token, dns, dns_silent)
#   standin_mail_count             messages accepted so far;  standin_auth_count: AUTH attempts so far
#   standin_wait_mail COUNT [SECS] wait until COUNT messages were accepted (default 30 s); 1 on timeout
#   standin_access_token           redeems the newest refresh token of the first account at the token endpoint and
#                                  prints the access token. This rotates that refresh token.
#   standin_redeem REFRESH_TOKEN   the same with a given refresh token ("" = the newest); exit 1 and Microsoft's
#                                  error JSON on stderr when the endpoint refuses it (invalid_grant ...)
#   standin_dump                   prints standin.log and the end of transcript.log (for a failing test)
# Variables read: STANDIN_ROOT (collection root, found by itself), STANDIN_PYTHON (a python with cryptography and
# dnspython, found by itself), STANDIN_START_TIMEOUT.

_standin_self_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

# The collection root holds tests/standin/standin.py. ansible-test runs runme.sh from a copy of the targets, so look
# above this file, above the working directory, and in ANSIBLE_COLLECTIONS_PATH (which ansible-test sets).
_standin_find_root() {
  local dir entry
  local -a paths
  if [ -n "${STANDIN_ROOT:-}" ] && [ -f "$STANDIN_ROOT/tests/standin/standin.py" ]; then
    echo "$STANDIN_ROOT"
    return 0
  fi
  for dir in "$_standin_self_dir" "$PWD"; do
    while [ -n "$dir" ] && [ "$dir" != / ]; do
      if [ -f "$dir/tests/standin/standin.py" ]; then
        echo "$dir"
        return 0
      fi
      dir=$(dirname "$dir")
    done
  done
  IFS=: read -r -a paths <<< "${ANSIBLE_COLLECTIONS_PATH:-}:${ANSIBLE_COLLECTIONS_PATHS:-}"
  for entry in "${paths[@]}"; do
    [ -n "$entry" ] || continue
    for dir in "$entry/ansible_collections/mailops/live_smtp" "$entry/mailops/live_smtp"; do
      if [ -f "$dir/tests/standin/standin.py" ]; then
        echo "$dir"
        return 0
      fi
    done
  done
  echo "standin: cannot find tests/standin/standin.py (set STANDIN_ROOT to the collection root)" >&2
  return 1
}

_standin_find_python() {
  local candidate
  for candidate in "${STANDIN_PYTHON:-}" "${ANSIBLE_TEST_PYTHON_INTERPRETER:-}" \
      "${LIVE_SMTP_VENV:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/mailops-live-smtp/venv}/bin/python" python3 python; do
    [ -n "$candidate" ] || continue
    candidate=$(command -v "$candidate" 2>/dev/null) || continue
    if "$candidate" -c 'import cryptography, dns.message' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  echo "standin: no python with cryptography and dnspython (run tests/setup.sh, or set STANDIN_PYTHON)" >&2
  return 1
}

_standin_alive() {
  local state
  [ -n "${1:-}" ] && [ -r "/proc/$1/stat" ] || return 1
  state=$(sed -e 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

_standin_install_trap() {
  local previous
  [ -z "${_STANDIN_TRAP_SET:-}" ] || return 0
  # `trap -p EXIT` prints: trap -- 'command' EXIT; re-parse it to get the command back and keep it.
  local -a parsed
  previous=$(trap -p EXIT)
  eval "parsed=($previous)"
  previous=${parsed[2]:-}
  # The earlier command runs after the stop and still sees the script's exit status in $? (set +e: under set -e the
  # `(exit N)` of a failing script would otherwise end the trap before the earlier command, e.g. a temp dir cleanup).
  # shellcheck disable=SC2064,SC2154  # expanding now is the point: the earlier trap's command is kept.
  trap "_standin_exit_status=\$?; set +e; standin_stop; (exit \$_standin_exit_status); ${previous}" EXIT
  _STANDIN_TRAP_SET=1
}

standin_start() {
  local dir=${1:-} waited=0 limit
  if [ -z "$dir" ]; then
    echo "usage: standin_start STATE_DIR [standin.py options...]" >&2
    return 2
  fi
  shift
  if _standin_alive "${STANDIN_PID:-}"; then
    echo "standin: already running (pid $STANDIN_PID); standin_stop first" >&2
    return 1
  fi
  STANDIN_ROOT=$(_standin_find_root) || return 1
  STANDIN_PYTHON=$(_standin_find_python) || return 1
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd -P)
  STANDIN_DIR=$dir
  STANDIN_READY=$dir/ready.json
  STANDIN_LOG=$dir/standin.log
  STANDIN_MAILDIR=$dir/mail
  STANDIN_ARGS=("$@")
  rm -f "$STANDIN_READY"
  _standin_install_trap
  "$STANDIN_PYTHON" "$STANDIN_ROOT/tests/standin/standin.py" --state-dir "$dir" --pidfile "$dir/standin.pid" "$@" \
    </dev/null >>"$STANDIN_LOG" 2>&1 &
  STANDIN_PID=$!
  limit=$(( ${STANDIN_START_TIMEOUT:-60} * 10 ))
  while [ ! -s "$STANDIN_READY" ]; do
    if ! _standin_alive "$STANDIN_PID"; then
      echo "standin: exited before it was ready; its log:" >&2
      cat "$STANDIN_LOG" >&2
      wait "$STANDIN_PID" 2>/dev/null || true
      STANDIN_PID=
      return 1
    fi
    if [ "$waited" -ge "$limit" ]; then
      echo "standin: not ready after ${STANDIN_START_TIMEOUT:-60} s; its log:" >&2
      cat "$STANDIN_LOG" >&2
      standin_stop
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  STANDIN_CA=$(standin_get ca_file)
  # Ports are asked for often: read them once.
  declare -gA _STANDIN_PORTS=()
  local name port
  while read -r name port; do
    _STANDIN_PORTS[$name]=$port
  done < <("$STANDIN_PYTHON" -c '
import json, sys
ready = json.load(open(sys.argv[1]))
ports = dict(ready["smtp"], token=ready["token_port"], dns=ready["dns"]["port"], dns_silent=ready["dns"]["silent_port"])
for name, port in ports.items():
    print(name, port)
' "$STANDIN_READY")
  export STANDIN_ROOT STANDIN_PYTHON STANDIN_DIR STANDIN_PID STANDIN_READY STANDIN_CA STANDIN_LOG STANDIN_MAILDIR
}

standin_stop() {
  local pid=${STANDIN_PID:-} waited=0
  [ -n "$pid" ] || return 0
  if _standin_alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    while _standin_alive "$pid" && [ "$waited" -lt 100 ]; do
      sleep 0.1
      waited=$((waited + 1))
    done
    if _standin_alive "$pid"; then
      echo "standin: pid $pid ignored SIGTERM for 10 s, killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  STANDIN_PID=
  return 0
}

standin_restart() {
  local -a pins
  if [ -z "${STANDIN_DIR:-}" ] || [ ! -s "${STANDIN_READY:-}" ]; then
    echo "standin: standin_restart needs an earlier standin_start" >&2
    return 1
  fi
  mapfile -t pins < <("$STANDIN_PYTHON" -c '
import json, sys
ready = json.load(open(sys.argv[1]))
ports = dict(ready["smtp"], token=ready["token_port"], dns=ready["dns"]["port"], dns_silent=ready["dns"]["silent_port"])
for name, port in ports.items():
    print("--port")
    print("%s=%d" % (name, port))
' "$STANDIN_READY") || return 1
  standin_stop
  standin_start "$STANDIN_DIR" "${STANDIN_ARGS[@]}" "${pins[@]}" "$@"
}

standin_get() {
  "$STANDIN_PYTHON" -c '
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value if isinstance(value, str) else json.dumps(value))
' "$STANDIN_READY" "$1"
}

standin_port() {
  if [ -n "${_STANDIN_PORTS[$1]:-}" ]; then
    echo "${_STANDIN_PORTS[$1]}"
    return 0
  fi
  case "$1" in
    token) standin_get token_port ;;
    dns) standin_get dns.port ;;
    dns_silent) standin_get dns.silent_port ;;
    *) standin_get "smtp.$1" ;;
  esac
}

standin_mail_count() {
  find "$STANDIN_MAILDIR" -maxdepth 1 -name '*.json' | wc -l
}

standin_auth_count() {
  if [ -f "$STANDIN_DIR/auth.jsonl" ]; then
    wc -l < "$STANDIN_DIR/auth.jsonl"
  else
    echo 0
  fi
}

standin_wait_mail() {
  local want=$1 limit=$(( ${2:-30} * 10 )) waited=0
  while [ "$(standin_mail_count)" -lt "$want" ]; do
    if [ "$waited" -ge "$limit" ]; then
      echo "standin: $(standin_mail_count) message(s) arrived, $want expected" >&2
      return 1
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
}

standin_access_token() {
  standin_redeem ""
}

standin_redeem() {
  "$STANDIN_PYTHON" - "$STANDIN_READY" "$STANDIN_DIR/state.json" "$1" <<'EOF'
import json, ssl, sys, urllib.error, urllib.parse, urllib.request
ready = json.load(open(sys.argv[1]))
account = json.load(open(sys.argv[2]))["accounts"][0]
refresh_token = sys.argv[3] or account.get("latest_refresh_token") or account["refresh_token"]
form = urllib.parse.urlencode({"grant_type": "refresh_token", "client_id": account["client_id"],
                               "refresh_token": refresh_token,
                               "scope": "https://outlook.office.com/SMTP.Send offline_access"}).encode()
context = ssl.create_default_context(cafile=ready["ca_file"])
try:
    with urllib.request.urlopen(ready["token_url"], form, context=context, timeout=30) as answer:
        print(json.load(answer)["access_token"])
except urllib.error.HTTPError as exc:
    sys.exit("standin: token endpoint said %d: %s" % (exc.code, exc.read().decode()))
EOF
}

# As root: make the access token cached in a live-smtp-token store look expired a minute ago (owner and mode kept),
# so the helper's next call must refresh at the stand-in's token endpoint.
token_store_expire() {
  "$STANDIN_PYTHON" - "$1" <<'EOF'
import json, sys, time
with open(sys.argv[1]) as handle:
    data = json.load(handle)
data["issued_at"], data["expires_at"] = time.time() - 3700, time.time() - 60
with open(sys.argv[1], "w") as handle:
    json.dump(data, handle)
EOF
}

standin_dump() {
  echo "---- standin.log" >&2
  cat "$STANDIN_LOG" >&2 2>/dev/null || true
  echo "---- transcript.log (last 80 lines)" >&2
  tail -n 80 "$STANDIN_DIR/transcript.log" >&2 2>/dev/null || true
}
