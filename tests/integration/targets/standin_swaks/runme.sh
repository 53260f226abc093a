#!/usr/bin/env bash
# Independent clients (swaks, msmtp, openssl s_client) cross-check the stand-in server: what other targets rely on
# (Microsoft's replies, TLS, the token endpoint, auth.jsonl, the mail dir) is proven here without our own code.
set -euo pipefail

# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. ../setup_standin/standin.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
standin_start "$work/standin" --lifetime 600
echo "stand-in from $STANDIN_ROOT on $STANDIN_PYTHON, pid $STANDIN_PID"

user=$(standin_get accounts.user)
password=$(standin_get accounts.password)
passed=0

fail() {
  echo "FAIL: $*" >&2
  standin_dump
  exit 1
}

# run CMD...: runs a client, keeps its output in $out and its exit code in $rc.
run() {
  out=$("$@" 2>&1) && rc=0 || rc=$?
}

# expect DESCRIPTION RC REGEX...: the last run exited RC and printed a line matching each (extended) REGEX.
expect() {
  local description=$1 want=$2 regex
  shift 2
  [ "$rc" = "$want" ] || { printf '%s\n' "$out"; fail "$description: exit code $rc, expected $want"; }
  for regex in "$@"; do
    grep -qE -- "$regex" <<<"$out" || { printf '%s\n' "$out"; fail "$description: no line matches /$regex/"; }
  done
  passed=$((passed + 1))
  echo "ok $passed - $description"
}

# refute DESCRIPTION REGEX: no line of the last run's output matches REGEX.
refute() {
  if grep -qE -- "$2" <<<"$out"; then
    printf '%s\n' "$out"
    fail "$1: a line matches /$2/"
  fi
  passed=$((passed + 1))
  echo "ok $passed - $1"
}

# json FILE EXPRESSION: a value from a JSON file (EXPRESSION is Python over `d`).
json() {
  "$STANDIN_PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# swaks_to SCENARIO [swaks options...]: swaks against a scenario, STARTTLS verified against the stand-in's CA.
swaks_to() {
  local scenario=$1
  shift
  run swaks --server localhost --port "$(standin_port "$scenario")" --timeout 20 --tls --tls-verify \
    --tls-ca-path "$STANDIN_CA" --from "$user" --to rcpt@example.test "$@"
}

# smtp_script SCENARIO LINES...: openssl s_client (STARTTLS, verified) sends LINES; the server's answers in $out.
smtp_script() {
  local port
  port=$(standin_port "$1")
  shift
  run bash -c 'printf "%s\r\n" "${@:2}" | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$1" \
    -CAfile "$STANDIN_CA" -verify_hostname localhost -verify_return_error -quiet -ign_eof' _ "$port" "$@"
}

b64() {
  printf '%s' "$1" | base64 -w0
}

# --- outlook: STARTTLS + AUTH LOGIN, the mail lands with the right user
swaks_to outlook -a LOGIN -au "$user" -ap "$password" --header "Subject: standin_swaks login"
expect "outlook: STARTTLS + AUTH LOGIN delivers" 0 '^<~  250-AUTH LOGIN XOAUTH2$' '^<~  235 2\.7\.0 ' '^<~  250 2\.0\.0 OK '
standin_wait_mail 1 10 || fail "outlook: no message in the mail dir"
meta=$STANDIN_MAILDIR/1.json
[ "$(json "$meta" 'd["user"], d["mechanism"], d["scenario"], d["mail_from"], d["rcpt_to"]')" = \
  "('$user', 'LOGIN', 'outlook', '$user', ['rcpt@example.test'])" ] || { cat "$meta"; fail "outlook: wrong metadata"; }
json "$meta" 'd["tls"]' | grep -qE '^TLSv1\.[23]$' || { cat "$meta"; fail "outlook: message not over TLS 1.2+"; }
grep -q '^Subject: standin_swaks login' "$STANDIN_MAILDIR/1.eml" || fail "outlook: message body not stored"
passed=$((passed + 1))
echo "ok $passed - outlook: message stored with user, LOGIN, TLS version"
[ "$(tail -n1 "$STANDIN_DIR/auth.jsonl" | "$STANDIN_PYTHON" -c 'import json, sys; e = json.load(sys.stdin); print(e["secret"])')" = "$password" ] \
  || fail "auth.jsonl does not hold the password as sent"
passed=$((passed + 1))
echo "ok $passed - auth.jsonl records the password byte-exact"

# --- before TLS: STARTTLS offered, no AUTH; MAIL refused
run swaks --server localhost --port "$(standin_port outlook)" --timeout 20 --quit-after EHLO
expect "outlook: EHLO before TLS offers STARTTLS and Microsoft's extensions" 0 '^<-  250-SIZE 157286400$' '^<-  250-STARTTLS$' \
  '^<-  250-PIPELINING$' '^<-  250-DSN$' '^<-  250-ENHANCEDSTATUSCODES$' '^<-  250-8BITMIME$' '^<-  250-BINARYMIME$' \
  '^<-  250-CHUNKING$' '^<-  250 SMTPUTF8$' '^<-  220 [^ ]+ Microsoft ESMTP MAIL Service ready at '
refute "outlook: no AUTH before TLS" 'AUTH'
run swaks --server localhost --port "$(standin_port outlook)" --timeout 20 --from "$user" --to rcpt@example.test
expect "outlook: MAIL without AUTH is refused" 23 '^<\*\* 530 5\.7\.57 Client not authenticated to send mail'

# --- wrong password, consumer, PLAIN
swaks_to outlook -a LOGIN -au "$user" -ap "not the password"
expect "outlook: wrong password" 28 '^<~\* 535 5\.7\.3 Authentication unsuccessful'
swaks_to consumer -a LOGIN -au "$user" -ap "$password"
expect "consumer: basic authentication is disabled" 28 '^<~\* 535 5\.7\.139 Authentication unsuccessful, basic authentication is disabled'
swaks_to outlook -a PLAIN -au "$user" -ap "$password"
expect "outlook: PLAIN not offered, swaks does not try it" 28 'Auth not attempted, requested type not available'
smtp_script outlook "EHLO client.test" "AUTH PLAIN $(b64 $'\0'"$user"$'\0'"$password")" QUIT
expect "outlook: AUTH PLAIN refused" 0 '^504 5\.7\.4 Unrecognized authentication type'

# --- certificates
swaks_to outlook --quit-after TLS
expect "outlook: certificate verifies against ca.pem" 0 '^=== TLS started with cipher TLSv1\.[23]'
swaks_to untrusted_cert --quit-after TLS
expect "untrusted_cert: verification fails" 29 'certificate verify failed'
swaks_to expired_cert --quit-after TLS
expect "expired_cert: verification fails" 29 'certificate verify failed'
# swaks 20201014 (Debian 12) checks the chain but not the host name: openssl s_client checks the name.
smtp_script outlook QUIT
expect "outlook: certificate names localhost" 0 '^221 2\.0\.0 '
smtp_script wrong_host_cert QUIT
expect "wrong_host_cert: name check fails" 1 'verify error:num=62:hostname mismatch'

# --- XOAUTH2 with a token from the token endpoint (msmtp: swaks has no XOAUTH2)
token=$(standin_access_token)
printf '%s' "$token" >"$work/token"
cat >"$work/msmtprc" <<EOF
account default
host 127.0.0.1
port $(standin_port outlook)
tls on
tls_starttls on
tls_trust_file $STANDIN_CA
tls_host_override localhost
auth xoauth2
user $user
from $user
passwordeval cat $work/token
EOF
chmod 600 "$work/msmtprc"
run bash -c 'printf "From: %s\nTo: rcpt@example.test\nSubject: standin_swaks xoauth2\n\nbody\n" "$1" |
  msmtp -C "$2" -v rcpt@example.test' _ "$user" "$work/msmtprc"
expect "outlook: XOAUTH2 with an issued token delivers (msmtp)" 0 '^<-- 235 2\.7\.0 Authentication successful' '^<-- 250 2\.0\.0 OK'
standin_wait_mail 2 10 || fail "xoauth2: no message"
[ "$(json "$STANDIN_MAILDIR/2.json" 'd["mechanism"], d["user"]')" = "('XOAUTH2', '$user')" ] || fail "xoauth2: wrong metadata"
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(b64 "user=$user"$'\x01'"auth=Bearer $token"$'\x01\x01')" QUIT
expect "outlook: XOAUTH2 initial response accepted" 0 '^235 2\.7\.0 Authentication successful'
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(b64 "user=other@outlook.com"$'\x01'"auth=Bearer $token"$'\x01\x01')" QUIT
expect "outlook: XOAUTH2 token of another user refused" 0 '^535 5\.7\.3 Authentication unsuccessful'
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(b64 "user=$user"$'\x01'"auth=Bearer EwAnotissued"$'\x01\x01')" QUIT
expect "outlook: XOAUTH2 token never issued refused" 0 '^535 5\.7\.3 Authentication unsuccessful'

echo "standin_swaks: all $passed checks passed"
