#!/bin/sh
# The migration playbook's test message (playbooks/migrate.yml), run on the host by ansible.builtin.script.
#   postfix-send FROM RCPT SUBJECT          sends through sendmail; prints the Message-ID
#   postfix-wait LOG MESSAGE_ID SECONDS [flush]
#                                           waits until Postfix logs the message as delivered; "flush" first asks
#                                           Postfix to retry it now (after a rollback). Prints one line:
#                                           sent|deferred|bounced|timeout QUEUE_ID DETAIL; exit 0 only for sent
#   msmtp-send ACCOUNT FROM RCPT SUBJECT    sends through msmtp (it returns once the server accepted or refused)
# A deferred message stays in Postfix's queue: nothing here deletes mail.
set -u

message() {  # FROM RCPT SUBJECT MESSAGE_ID
  printf 'From: %s\nTo: %s\nSubject: %s\nMessage-ID: %s\nDate: %s\n\n%s\n' "$1" "$2" "$3" "$4" \
    "$(LC_ALL=C date -R)" "A test message of mailops.live_smtp's migration playbook. It can be deleted."
}

new_id() {
  printf '<live-smtp-migrate.%s.%s@%s>' "$(date +%s)" "$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" "$(hostname)"
}

case "${1:-}" in
  postfix-send)
    id=$(new_id)
    message "$2" "$3" "$4" "$id" | /usr/sbin/sendmail -i -f "$2" -- "$3" || exit 1
    echo "$id"
    ;;
  postfix-wait)
    log=$2 id=$3 deadline=$(( $(date +%s) + $4 )) flush=${5:-}
    queue_id='' seen=0
    while :; do
      if [ -z "$queue_id" ]; then
        # cleanup logs "QUEUE_ID: message-id=<...>" once the message is queued.
        queue_id=$(grep -F "message-id=$id" "$log" 2>/dev/null | tail -n 1 | sed -n 's/.*: \([0-9A-Za-z]*\): message-id=.*/\1/p')
        if [ -n "$queue_id" ]; then
          seen=$(grep -c " $queue_id: .*status=" "$log")
          if [ -n "$flush" ]; then postqueue -i "$queue_id" >/dev/null 2>&1 || true; fi
          # Without a flush the first delivery attempt counts, so look at every status line.
          [ -n "$flush" ] || seen=0
        fi
      fi
      if [ -n "$queue_id" ]; then
        line=$(grep " $queue_id: .*status=" "$log" | sed -n "$((seen + 1))p")
        case "$line" in
          *status=sent*) echo "sent $queue_id ${line#*status=sent }"; exit 0 ;;
          *status=deferred*) echo "deferred $queue_id ${line#*status=deferred }"; exit 1 ;;
          *status=bounced*) echo "bounced $queue_id ${line#*status=bounced }"; exit 1 ;;
        esac
      fi
      if [ "$(date +%s)" -ge "$deadline" ]; then
        echo "timeout ${queue_id:--} no delivery logged in $log within $4 s"
        exit 1
      fi
      sleep 1
    done
    ;;
  msmtp-send)
    id=$(new_id)
    if output=$(message "$3" "$4" "$5" "$id" | msmtp -a "$2" -- "$4" 2>&1); then
      echo "sent - msmtp account $2 delivered $id"
      exit 0
    fi
    echo "refused - $(printf '%s' "$output" | tr '\n' ' ' | cut -c1-400)"
    exit 1
    ;;
  *)
    echo "usage: $0 postfix-send|postfix-wait|msmtp-send ..." >&2
    exit 2
    ;;
esac
