#!/usr/bin/env bash
# Independent clients (swaks, msmtp, openssl s_client, curl, dig) cross-check the stand-in server: what the other
# targets rely on (Microsoft's replies, TLS, the token endpoint, the DNS responder, auth.jsonl, the mail dir, restart
# on the same ports, lifetime) is proven here without any code of this collection on the client side.
set -euo pipefail

# shellcheck source=tests/integration/targets/setup_standin/standin.sh
. ../setup_standin/standin.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# An awkward password (spaces, quotes, a backslash, Jinja, non-ASCII) and a second, non-ASCII account.
password='Pa ss"'"'"'\{{ x }}%ü€;'
utf8_user='jörg@outlook.com'
python3 -c 'import json, sys; json.dump([{"user": "standin@outlook.com", "password": sys.argv[1]},
                                         {"user": sys.argv[2], "password": "Jörg"}], open(sys.argv[3], "w"))' \
  "$password" "$utf8_user" "$work/accounts.json"
standin_start "$work/standin" --lifetime 600 --slow-banner 3 --accounts "$work/accounts.json"
echo "stand-in from $STANDIN_ROOT on $STANDIN_PYTHON, pid $STANDIN_PID"
user=$(standin_get accounts.user)
passed=0

fail() {
  echo "FAIL: $*" >&2
  standin_dump
  exit 1
}

ok() {
  passed=$((passed + 1))
  echo "ok $passed - $1"
}

# run CMD...: runs a client, keeps its output (without CRs) in $out and its exit code in $rc.
run() {
  out=$("$@" 2>&1) && rc=0 || rc=$?
  out=${out//$'\r'/}
}

# expect DESCRIPTION RC REGEX...: the last run exited RC and printed a line matching each (extended) REGEX.
expect() {
  local description=$1 want=$2 regex
  shift 2
  [ "$rc" = "$want" ] || { printf '%s\n' "$out"; fail "$description: exit code $rc, expected $want"; }
  for regex in "$@"; do
    grep -qE -- "$regex" <<<"$out" || { printf '%s\n' "$out"; fail "$description: no line matches /$regex/"; }
  done
  ok "$description"
}

# refute DESCRIPTION REGEX: no line of the last run's output matches REGEX.
refute() {
  if grep -qE -- "$2" <<<"$out"; then
    printf '%s\n' "$out"
    fail "$1: a line matches /$2/"
  fi
  ok "$1"
}

# same DESCRIPTION ACTUAL WANTED
same() {
  [ "$2" = "$3" ] || fail "$1: got [$2], expected [$3]"
  ok "$1"
}

# json FILE EXPRESSION: a value from a JSON file (EXPRESSION is Python over `d`).
json() {
  "$STANDIN_PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# last_auth EXPRESSION: a value from the last line of auth.jsonl (EXPRESSION is Python over `e`).
last_auth() {
  tail -n1 "$STANDIN_DIR/auth.jsonl" | "$STANDIN_PYTHON" -c 'import json, sys; e = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# swaks_to SCENARIO [swaks options...]: swaks against a scenario, STARTTLS verified against the stand-in's CA.
swaks_to() {
  local scenario=$1
  shift
  run swaks --server localhost --port "$(standin_port "$scenario")" --timeout 20 --tls --tls-verify \
    --tls-ca-path "$STANDIN_CA" --from "$user" --to rcpt@example.test "$@"
}

# smtp_script SCENARIO LINES...: openssl s_client (STARTTLS, CA and host name verified) writes LINES in one go
# (so they are pipelined); the server's answers land in $out.
smtp_script() {
  local port
  port=$(standin_port "$1")
  shift
  run bash -c 'printf "%s\r\n" "${@:2}" | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$1" \
    -CAfile "$STANDIN_CA" -verify_hostname localhost -verify_return_error -quiet -ign_eof' _ "$port" "$@"
}

# plain_script SCENARIO LINES...: the same without TLS (a raw socket: waits for the banner, writes LINES at once).
plain_script() {
  run python3 -c '
import socket, sys
conn = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
reader = conn.makefile("rb")
print(reader.readline().decode().rstrip())
conn.sendall("".join(line + "\r\n" for line in sys.argv[2:]).encode())
for line in reader:
    print(line.decode().rstrip())
' "$(standin_port "$1")" "${@:2}"
}

b64() {
  printf '%s' "$1" | base64 -w0
}

xoauth2() {
  b64 "user=$1"$'\x01'"auth=Bearer $2"$'\x01\x01'
}

# ---------------------------------------------------------------------------------------------------- ready.json
run json "$STANDIN_READY" '{"ca_file", "smtp", "token_url", "dns", "accounts", "log", "maildir"} <= set(d) and \
  {"client_id", "password", "refresh_token", "user"} <= set(d["accounts"]) and set(d["dns"]) == {"host", "port", "silent_port"}'
expect "ready.json has the fields of the contract" 0 '^True$'
same "ready.json carries the password of --accounts" "$(standin_get accounts.password)" "$password"

run ss -Hlntup
listening=$(grep -F "pid=$STANDIN_PID," <<<"$out" | awk '{print $5}' | sort -u)
[ "$(wc -l <<<"$listening")" -ge 20 ] || fail "the stand-in listens on too few sockets: $listening"
same "listens on 127.0.0.1 only" "$(grep -vc '^127\.0\.0\.1:[0-9]*$' <<<"$listening" || true)" 0
run stat -c '%a %n' "$STANDIN_READY" "$STANDIN_DIR/state.json" "$STANDIN_DIR/pki/server.key"
refute "files with secrets are not world-readable" '^6[0-7][4-7] '

# ---------------------------------------------------------------------------------------------------- outlook
swaks_to outlook -a LOGIN -au "$user" -ap "$password" --header "Subject: standin_swaks login"
expect "outlook: STARTTLS + AUTH LOGIN delivers" 0 '^<~  250-AUTH LOGIN XOAUTH2$' '^<~  235 2\.7\.0 ' '^<~  250 2\.0\.0 OK '
standin_wait_mail 1 10 || fail "outlook: no message in the mail dir"
meta=$STANDIN_MAILDIR/1.json
same "outlook: message stored with user, mechanism, envelope" \
  "$(json "$meta" 'd["user"], d["mechanism"], d["scenario"], d["mail_from"], d["rcpt_to"]')" \
  "('$user', 'LOGIN', 'outlook', '$user', ['rcpt@example.test'])"
run json "$meta" 'd["tls"]'
expect "outlook: message arrived over TLS 1.2+" 0 '^TLSv1\.[23]$'
grep -q '^Subject: standin_swaks login' "$STANDIN_MAILDIR/1.eml" || fail "outlook: message not stored"
ok "outlook: message body stored"
same "auth.jsonl holds the awkward password byte-exact" "$(last_auth 'e["secret"], e["code"], e["tls"] is not None')" \
  "$("$STANDIN_PYTHON" -c 'import sys; print((sys.argv[1], 235, True))' "$password")"

run swaks --server localhost --port "$(standin_port outlook)" --timeout 20 --quit-after EHLO
expect "outlook: banner and EHLO before TLS as Microsoft's" 0 '^<-  220 [^ ]+ Microsoft ESMTP MAIL Service ready at ' \
  '^<-  250-SIZE 157286400$' '^<-  250-STARTTLS$' '^<-  250-PIPELINING$' '^<-  250-DSN$' '^<-  250-ENHANCEDSTATUSCODES$' \
  '^<-  250-8BITMIME$' '^<-  250-BINARYMIME$' '^<-  250-CHUNKING$' '^<-  250 SMTPUTF8$'
refute "outlook: no AUTH before TLS" 'AUTH'
run swaks --server localhost --port "$(standin_port outlook)" --timeout 20 --from "$user" --to rcpt@example.test
expect "outlook: MAIL without AUTH" 23 '^<\*\* 530 5\.7\.57 Client not authenticated to send mail'
auth_lines=$(standin_auth_count)
plain_script outlook "EHLO client.test" "AUTH LOGIN $(b64 "$user")" QUIT
expect "outlook: AUTH before TLS" 0 '^504 5\.7\.4 Unrecognized authentication type' '^221 '
same "outlook: AUTH before TLS recorded with tls null" "$(standin_auth_count) $(last_auth 'e["tls"], e["code"]')" \
  "$((auth_lines + 1)) (None, 504)"
smtp_script outlook "AUTH LOGIN" QUIT
expect "outlook: AUTH right after STARTTLS without a new EHLO" 0 '^503 5\.5\.2 Send hello first'
smtp_script outlook "EHLO client.test" QUIT
expect "outlook: EHLO after TLS offers AUTH LOGIN XOAUTH2, no STARTTLS" 0 '^250-AUTH LOGIN XOAUTH2$'
refute "outlook: no PLAIN, no STARTTLS after TLS" 'PLAIN|STARTTLS'

swaks_to outlook -a LOGIN -au "$user" -ap "not the password"
expect "outlook: wrong password" 28 '^<~\* 535 5\.7\.3 Authentication unsuccessful'
swaks_to outlook -a PLAIN -au "$user" -ap "$password"
expect "outlook: PLAIN not offered, swaks does not try it" 28 'Auth not attempted, requested type not available'
smtp_script outlook "EHLO client.test" "AUTH PLAIN $(printf '\0%s\0%s' "$user" "$password" | base64 -w0)" QUIT
expect "outlook: AUTH PLAIN" 0 '^504 5\.7\.4 Unrecognized authentication type'

swaks_to outlook -a LOGIN -au "$user" -ap "$password" --header "From: other@outlook.com"
expect "outlook: From header not the login" 26 \
  "^<~\* 554 5\.2\.252 SendAsDenied; $user not allowed to send as other@outlook\.com"
swaks_to outlook -a LOGIN -au "$user" -ap "$password" --from other@outlook.com --header "From: $user"
expect "outlook: MAIL FROM not the login" 26 "^<~\* 554 5\.2\.252 SendAsDenied; $user not allowed to send as other@outlook\.com"
swaks_to outlook -a LOGIN -au "$user" -ap "$password" --pipeline
expect "outlook: swaks --pipeline delivers" 0 '^<~  250 2\.0\.0 OK '

# ----------------------------------------------------------------------------------------- authentication faults
swaks_to consumer -a LOGIN -au "$user" -ap "$password"
expect "consumer: basic authentication is disabled" 28 '^<~\* 535 5\.7\.139 Authentication unsuccessful, basic authentication is disabled'
swaks_to tenant_disabled -a LOGIN -au "$user" -ap "$password"
expect "tenant_disabled" 28 '^<~\* 535 5\.7\.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant'
swaks_to security_defaults -a LOGIN -au "$user" -ap "$password"
expect "security_defaults" 28 "^<~\* 535 5\.7\.139 Authentication unsuccessful, user is locked by your organization's security defaults"
swaks_to basic_retired -a LOGIN -au "$user" -ap "$password"
expect "basic_retired" 28 '^<~\* 550 5\.7\.30 Basic authentication is not supported for Client Submission'
swaks_to drop_during_auth -a LOGIN -au "$user" -ap "$password"
expect "drop_during_auth: connection closed after AUTH" 6 '^ ~> AUTH LOGIN$' 'Remote host closed connection unexpectedly'
same "drop_during_auth: recorded" "$(last_auth 'e["scenario"], e["reply"]')" "('drop_during_auth', 'dropped')"

# --------------------------------------------------------------------------------------------- sending faults
swaks_to account_locked -a LOGIN -au "$user" -ap "$password"
expect "account_locked" 23 '^<~\* 550 5\.3\.4 Requested action not taken; To continue sending messages, please sign in to your account\.'
swaks_to spam_quota -a LOGIN -au "$user" -ap "$password"
expect "spam_quota" 23 '^<~\* 554 5\.2\.0 .*OutboundSpamException'
swaks_to submission_quota -a LOGIN -au "$user" -ap "$password"
expect "submission_quota" 23 '^<~\* 554 5\.2\.0 .*SubmissionQuotaExceededException'
swaks_to temp_error -a LOGIN -au "$user" -ap "$password"
expect "temp_error" 23 '^<~\* 451 4\.7\.0 Temporary server error'
swaks_to send_as_denied -a LOGIN -au "$user" -ap "$password"
expect "send_as_denied: after DATA" 26 '^<~  354 ' "^<~\* 554 5\.2\.252 SendAsDenied; $user not allowed to send as "

# ------------------------------------------------------------------------------------------------------- TLS
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
swaks_to tls10_only --quit-after TLS
expect "tls10_only: a default client fails the handshake" 29 'TLS startup failed'
run bash -c 'printf "QUIT\r\n" | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$1" -tls1_2 -quiet' _ \
  "$(standin_port tls10_only)"
expect "tls10_only: TLS 1.2 refused" 1 'unsupported protocol'
run bash -c 'printf "QUIT\r\n" | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$1" -tls1_1 \
  -cipher "DEFAULT:@SECLEVEL=0" -quiet' _ "$(standin_port tls10_only)"
expect "tls10_only: TLS 1.1 refused" 1 'unsupported protocol'
run bash -c 'printf "EHLO client.test\r\n" | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$1" -tls1 \
  -cipher "DEFAULT:@SECLEVEL=0" -CAfile "$2" -quiet -ign_eof' _ "$(standin_port tls10_only)" "$STANDIN_CA"
expect "tls10_only: TLS 1.0 handshake, then 421 4.7.66" 0 '^421 4\.7\.66 TLS 1\.0 and 1\.1 are not supported'
run bash -c 'printf "EHLO client.test\r\n" | timeout 20 openssl s_client -starttls smtp -connect "127.0.0.1:$1" -tls1 \
  -cipher "DEFAULT:@SECLEVEL=0" -quiet -ign_eof' _ "$(standin_port outlook)"
expect "outlook: the same TLS 1.0 client gets a protocol_version alert" 1 'alert protocol version'

run swaks --server localhost --port "$(standin_port implicit_tls)" --timeout 20 --tlsc --tls-verify \
  --tls-ca-path "$STANDIN_CA" -a LOGIN -au "$user" -ap "$password" --from "$user" --to rcpt@example.test
expect "implicit_tls: TLS from the first byte, delivers" 0 '^=== TLS started with cipher TLSv1\.[23]' \
  '^<~  220 [^ ]+ Microsoft ESMTP' '^<~  250 2\.0\.0 OK '
swaks_to no_starttls --quit-after TLS
expect "no_starttls: no STARTTLS" 29 'Host did not advertise STARTTLS'

# -------------------------------------------------------------------------------------------- connection faults
run swaks --server localhost --port "$(standin_port banner_421)" --timeout 20 --quit-after BANNER
expect "banner_421" 21 '^<\*\* 421 4\.3\.2 Service not available'
run swaks --server localhost --port "$(standin_port silent)" --timeout 2 --quit-after BANNER
expect "silent: connects, never answers" 21 '^=== Connected to ' 'Timeout \(2 secs\) waiting for server response'
run swaks --server localhost --port "$(standin_port slow_banner)" --timeout 1 --quit-after BANNER
expect "slow_banner: later than 1 s" 21 'Timeout \(1 secs\) waiting for server response'
run swaks --server localhost --port "$(standin_port slow_banner)" --timeout 20 --quit-after BANNER
expect "slow_banner: but it comes" 0 '^<-  220 '
run swaks --server localhost --port "$(standin_port blackhole)" --timeout 2 --quit-after CONNECT
expect "blackhole: connect times out" 2 'connect: timeout'
run swaks --server localhost --port "$(standin_port refused)" --timeout 2 --quit-after CONNECT
expect "refused: connection refused" 2 'Connection refused'

# ----------------------------------------------------------------------------- token endpoint, XOAUTH2 (msmtp)
token_url=$(standin_get token_url)
client_id=$(standin_get accounts.client_id)
refresh_token=$(standin_get accounts.refresh_token)
grant() {
  run curl -sS --cacert "$STANDIN_CA" -w '\nHTTP %{http_code}\n' -d grant_type=refresh_token -d "client_id=$1" \
    --data-urlencode "refresh_token=$2" --data-urlencode "scope=${3:-https://outlook.office.com/SMTP.Send offline_access}" \
    "$token_url"
}
grant "$client_id" "$refresh_token"
expect "token endpoint: refresh-token grant" 0 '^HTTP 200$' '"token_type": "Bearer"' '"expires_in": 3600' \
  '"scope": "https://outlook\.office\.com/SMTP\.Send"' '"refresh_token": "' '"access_token": "'
token=$(sed -n 's/.*"access_token": "\([^"]*\)".*/\1/p' <<<"$out")
rotated=$(sed -n 's/.*"refresh_token": "\([^"]*\)".*/\1/p' <<<"$out")
if [ -z "$token" ] || [ -z "$rotated" ] || [ "$rotated" = "$refresh_token" ]; then
  fail "token endpoint: no new refresh token"
fi
grant "$client_id" "$refresh_token"
expect "token endpoint: the rotated refresh token is dead" 0 '^HTTP 400$' '"error": "invalid_grant"' 'AADSTS70000'
grant "$client_id" "$(standin_get accounts.expired_refresh_token)"
expect "token endpoint: expired refresh token" 0 '^HTTP 400$' '"error": "invalid_grant"' 'AADSTS700082'
grant "00000000-0000-0000-0000-000000000000" "$rotated"
expect "token endpoint: unknown client" 0 '^HTTP 400$' '"error": "unauthorized_client"' 'AADSTS700016'
grant "$client_id" "$rotated" "openid offline_access"
expect "token endpoint: the new refresh token works" 0 '^HTTP 200$'
wrong_scope_token=$(sed -n 's/.*"access_token": "\([^"]*\)".*/\1/p' <<<"$out")

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
before=$(standin_mail_count)
run bash -c 'printf "From: %s\nTo: rcpt@example.test\nSubject: standin_swaks xoauth2\n\nbody\n" "$1" |
  msmtp -C "$2" -v rcpt@example.test' _ "$user" "$work/msmtprc"
expect "outlook: XOAUTH2 after the 334 challenge (msmtp)" 0 '^--> AUTH XOAUTH2$' '^<-- 334 $' \
  '^<-- 235 2\.7\.0 Authentication successful' '^<-- 250 2\.0\.0 OK'
standin_wait_mail $((before + 1)) 10 || fail "xoauth2: no message"
same "outlook: XOAUTH2 message recorded" "$(json "$STANDIN_MAILDIR/$((before + 1)).json" 'd["mechanism"], d["user"]')" \
  "('XOAUTH2', '$user')"
same "auth.jsonl holds the bearer token byte-exact" "$(last_auth 'e["secret"]')" "$token"
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(xoauth2 "$user" "$token")" \
  "MAIL FROM:<$user>" "RCPT TO:<rcpt@example.test>" DATA "From: <$user>" "Subject: pipelined" "" "body" "." QUIT
expect "outlook: XOAUTH2 initial response with MAIL, RCPT, DATA pipelined" 0 '^235 2\.7\.0 ' '^250 2\.1\.0 Sender OK' \
  '^250 2\.1\.5 Recipient OK' '^354 ' '^250 2\.0\.0 OK ' '^221 '
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(xoauth2 other@outlook.com "$token")" QUIT
expect "outlook: XOAUTH2 with the token of another user" 0 '^535 5\.7\.3 Authentication unsuccessful'
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(xoauth2 "$user" EwAnotissued)" QUIT
expect "outlook: XOAUTH2 with a token never issued" 0 '^535 5\.7\.3 Authentication unsuccessful'
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(xoauth2 "$user" "$wrong_scope_token")" QUIT
expect "outlook: XOAUTH2 with a token without SMTP.Send" 0 '^535 5\.7\.3 Authentication unsuccessful'
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(b64 "user=$user auth=Bearer $token")" QUIT
expect "outlook: malformed XOAUTH2" 0 '^501 5\.5\.124 Invalid XOAUTH2 auth data'
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 not*base64" QUIT
expect "outlook: XOAUTH2 that is not base64" 0 '^501 5\.5\.124 Invalid XOAUTH2 auth data'
smtp_script bad_xoauth2 "EHLO client.test" "AUTH XOAUTH2 $(xoauth2 "$user" "$token")" QUIT
expect "bad_xoauth2: even a good token" 0 '^501 5\.5\.124 Invalid XOAUTH2 auth data'

# -------------------------------------------------------------------------------------- BDAT, SMTPUTF8, LOGIN IR
chunk="From: <$utf8_user>"$'\r\n'"Subject: chunked"$'\r\n\r\n'"grüße"$'\r\n'
bytes=$(printf '%s' "$chunk" | wc -c)
before=$(standin_mail_count)
smtp_script outlook "EHLO client.test" "AUTH LOGIN $(b64 "$utf8_user")" "$(b64 Jörg)" \
  "MAIL FROM:<$utf8_user> SMTPUTF8" "RCPT TO:<grüße@example.test>" "BDAT $bytes LAST" "${chunk%$'\r\n'}" QUIT
expect "outlook: LOGIN with initial response, SMTPUTF8 addresses, BDAT" 0 '^334 UGFzc3dvcmQ6$' '^235 2\.7\.0 ' \
  '^250 2\.1\.0 ' '^250 2\.1\.5 ' '^250 2\.0\.0 OK '
standin_wait_mail $((before + 1)) 10 || fail "bdat: no message"
same "outlook: UTF-8 envelope and chunk stored as sent" \
  "$(json "$STANDIN_MAILDIR/$((before + 1)).json" 'd["mail_from"], d["rcpt_to"][0], d["params"]')" \
  "('$utf8_user', 'grüße@example.test', {'SMTPUTF8': ''})"
cmp -s <(printf '%s' "$chunk") "$STANDIN_MAILDIR/$((before + 1)).eml" || fail "bdat: chunk not stored byte-exact"
ok "outlook: BDAT chunk stored byte-exact"

# ------------------------------------------------------------------------------------------------ DNS (dig)
dns_port=$(standin_port dns)
run dig +short +time=5 +tries=1 @127.0.0.1 -p "$dns_port" smtp-mail.outlook.com A
expect "dns: A over UDP" 0 '^127\.0\.0\.1$'
run dig +short +tcp +time=5 +tries=1 @127.0.0.1 -p "$dns_port" smtp.office365.com AAAA
expect "dns: AAAA over TCP" 0 '^::1$'
run dig +time=5 +tries=1 @127.0.0.1 -p "$dns_port" nxhost.outlook.com A
expect "dns: NXDOMAIN for nx*" 0 'status: NXDOMAIN'
run dig +time=5 +tries=1 @127.0.0.1 -p "$dns_port" example.org A
expect "dns: REFUSED outside its zones" 0 'status: REFUSED'
run dig +time=1 +tries=1 @127.0.0.1 -p "$(standin_port dns_silent)" smtp-mail.outlook.com A
expect "dns: silent_port never answers" 9 'no servers could be reached'

# ------------------------------------------------------------------------------- restart on the same ports
port=$(standin_port outlook)
before=$(standin_mail_count)
standin_stop
run swaks --server localhost --port "$port" --timeout 5 --quit-after CONNECT
expect "stopped: nothing listens" 2 'Connection refused'
standin_restart --accept-any-password --token-expires-in 2
same "restart: same port" "$(standin_port outlook)" "$port"
swaks_to outlook -a LOGIN -au "anyone@outlook.com" -ap "any password" --from anyone@outlook.com
expect "restart: --accept-any-password" 0 '^<~  235 2\.7\.0 ' '^<~  250 2\.0\.0 OK '
same "restart: the mail dir goes on" "$(standin_mail_count)" "$((before + 1))"
token=$(standin_access_token)
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(xoauth2 "$user" "$token")" QUIT
expect "restart: tokens from the rotated chain still work" 0 '^235 2\.7\.0 '
sleep 3
smtp_script outlook "EHLO client.test" "AUTH XOAUTH2 $(xoauth2 "$user" "$token")" QUIT
expect "--token-expires-in: an expired access token" 0 '^535 5\.7\.3 Authentication unsuccessful'
standin_stop

# -------------------------------------------------------------------------------------------- lifetime
(
  standin_start "$work/short" --lifetime 1 --scenarios outlook
  pid=$STANDIN_PID
  for _ in $(seq 100); do
    _standin_alive "$pid" || break
    sleep 0.1
  done
  ! _standin_alive "$pid" || { kill "$pid"; exit 1; }
  grep -q 'stopping (lifetime of 1 s over)' "$work/short/standin.log"
) || fail "lifetime: the stand-in did not stop by itself"
ok "--lifetime: stops by itself"

echo "standin_swaks: all $passed checks passed"
