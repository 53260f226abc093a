# shellcheck shell=bash
# shellcheck disable=SC2154  # conf, maps, pipe_dir, store_dir, verify_state, here, work, main_password: set by runme.sh
# The verified switch (postfix_relay_verify_credentials, on by default), sourced by runme.sh after its other steps:
# it uses runme.sh's work dir, functions and stand-in. One account "outlook": its password goes live; three bad
# app-only credentials for it each fail (reason word and hint named), change nothing that is live and the old
# password still delivers; check mode with the good one probes nothing and says what it would check; the good one
# switches (mail over XOAUTH2 with the granted app's token); a second run probes nothing. No secret in any output.

granted_id=$(standin_get apps.0.client_id)
# Everything a run could change: main.cf, master.cf, the maps (sasl_passwd(.db), sender maps), the pipe dir, the
# token stores and the gate's own state (a file appearing changes the list too).
live_sums() {
  { find "$conf/main.cf" "$conf/master.cf" "$maps" "$pipe_dir" "$store_dir" "$verify_state" -type f 2>/dev/null \
      || true; } | sort | xargs -r sha256sum
}
standin_connects() { grep -c 'connect from' "$STANDIN_DIR/transcript.log" || true; }
standin_token_requests() { grep -c ' token #' "$STANDIN_DIR/transcript.log" || true; }
queue_empty() {
  for _ in $(seq 1 300); do
    [ -z "$(postqueue -j)" ] && return 0
    sleep 0.2
  done
  postqueue -p; fail "the queue did not empty"
}
# send_and_check SUBJECT KIND ARGS...: one message through sendmail, then switch_checks.py delivered KIND ARGS...
send_and_check() {
  local subject=$1 arrived logins
  shift
  arrived=$(standin_mail_count) logins=$(standin_auth_count)
  printf 'From: root@example.test\nTo: rcpt@example.test\nSubject: %s\n\nx\n' "$subject" \
    | /usr/sbin/sendmail -t -f root@example.test
  standin_wait_mail $((arrived + 1)) 60 || fail "the message '$subject' did not arrive"
  "$PY" "$here/files/switch_checks.py" delivered "$STANDIN_DIR" $((arrived + 1)) "$logins" "$@" \
    || fail "the message '$subject' did not go out as expected"
}

closed_port=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
wrong_secret=$("$PY" -c 'import secrets; print("wrong-" + secrets.token_urlsafe(24))')
(
  umask 077
  for mode in old badsecret nosp unreachable good; do
    POSTFIX_RELAY_WRONG_SECRET=$wrong_secret POSTFIX_RELAY_CLOSED_PORT=$closed_port \
      "$PY" "$here/files/write_vars.py" "$STANDIN_READY" "$work/generated.json" "$main_password" \
      "$work/switch-$mode.yml" "switch-$mode"
    ansible-vault encrypt --vault-password-file "$work/vault-pass" "$work/switch-$mode.yml" >/dev/null
  done
)

step "verified switch: the password account goes live after the gate logged in with it"
queue_empty
rm -f "$verify_state"   # forget what the earlier runs (switch off) recorded: the gate must log in once here
logins=$(standin_auth_count)
playbook switch-old.out switch-old || { tail -n 40 "$work/switch-old.out"; fail "the password account did not go live"; }
"$PY" - "$STANDIN_DIR/auth.jsonl" "$logins" "$main_password" <<'PY' || fail "the gate did not log in with the password"
import json, sys
logins = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")][int(sys.argv[2]):]
assert [a for a in logins if a["user"] == "standin@outlook.com" and a["mechanism"] == "LOGIN"
        and a["secret"] == sys.argv[3] and a["code"] == 235], logins
PY
[ "$(stat -c %a "$verify_state")" = 600 ] || fail "the gate's state file is not 0600"
send_and_check "switch: password" password "$main_password"

# Each bad credential: the run fails naming account, reason and hint; nothing live changes; the old password delivers.
for bad in badsecret:client_secret_invalid nosp:app_mailbox_denied unreachable:endpoint_unreachable; do
  mode=${bad%%:*} reason=${bad#*:}
  step "verified switch: $reason is refused, nothing changes, mail still goes out with the old password"
  before=$(live_sums)
  verbosity=()
  [ "$mode" != badsecret ] || verbosity=(-vvvv --diff)
  if playbook "switch-$mode.out" "switch-$mode" "${verbosity[@]}"; then
    tail -n 30 "$work/switch-$mode.out"; fail "a run with $reason succeeded"
  fi
  "$PY" "$here/files/switch_checks.py" failure "$work/switch-$mode.out" "$reason" "$STANDIN_ROOT" \
    || { grep -A3 'FAILED' "$work/switch-$mode.out" | cut -c1-600; fail "the $reason failure is unclear"; }
  [ "$(live_sums)" = "$before" ] || { diff <(echo "$before") <(live_sums); fail "a run refused with $reason changed files"; }
  send_and_check "switch: after $reason" password "$main_password"
done

step "verified switch: check mode with the good credential probes nothing and says what it would check"
queue_empty
before=$(live_sums) connects=$(standin_connects) tokens=$(standin_token_requests)
playbook switch-check.out switch-good --check --diff || { tail -n 30 "$work/switch-check.out"; fail "check mode failed"; }
grep -q 'would check from this host before writing: account outlook' "$work/switch-check.out" \
  || fail "check mode does not say what it would check"
[ "$(live_sums)" = "$before" ] || fail "check mode changed files"
[ "$(standin_connects)" = "$connects" ] || fail "check mode connected to the stand-in"
[ "$(standin_token_requests)" = "$tokens" ] || fail "check mode asked the token endpoint"

step "verified switch: the good app-only credential is checked, goes live and delivers (-vvvv --diff)"
before=$(live_sums) seen=$(wc -l < "$STANDIN_DIR/transcript.log")
playbook switch-good.out switch-good -vvvv --diff || { tail -n 40 "$work/switch-good.out"; fail "the good credential was refused"; }
[ "$(live_sums)" != "$before" ] || fail "the good credential did not change the configuration"
# No mail was sent yet: this token request is the gate's check of the new credential.
tail -n +$((seen + 1)) "$STANDIN_DIR/transcript.log" \
  | grep -q " token #.* grant_type=client_credentials client_id=$granted_id -> 200 ok" \
  || fail "the gate did not get a token for the new credential before it went live"
send_and_check "switch: app-only" app "$granted_id" appsecret@outlook.com

step "verified switch: a second run changes nothing and probes nothing"
queue_empty
before=$(live_sums) connects=$(standin_connects) tokens=$(standin_token_requests)
playbook switch-again.out switch-good --diff || { tail -n 30 "$work/switch-again.out"; fail "the second run failed"; }
[ "$(recap_changed switch-again.out)" = 0 ] || { grep -B3 '^changed' "$work/switch-again.out"; fail "the second run changed something"; }
[ "$(live_sums)" = "$before" ] || fail "the second run changed files"
[ "$(standin_connects)" = "$connects" ] || fail "the second run connected to the stand-in"
[ "$(standin_token_requests)" = "$tokens" ] || fail "the second run asked the token endpoint"

step "verified switch: no secret in its outputs"
{
  "$PY" "$here/files/switch_checks.py" secrets "$STANDIN_DIR"
  echo "$main_password"
  echo "$wrong_secret"
  standin_get apps.0.client_secret
  standin_get apps.1.client_secret
} > "$work/switch-secrets"
secret_leaks "$work/switch-secrets" "$work"/switch-{old,badsecret,nosp,unreachable,check,good,again}.out \
  /var/log/postfix.log || fail "a secret appears in the verified switch's outputs"
for f in "$work"/switch-{old,badsecret,nosp,unreachable,check,good,again}.out; do
  [ -s "$f" ] || fail "$f is empty: the leak scan would prove nothing"
done
