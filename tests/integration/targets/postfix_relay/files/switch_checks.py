"""Assertions of the verified-switch section (verified_switch.sh); exit 1 with the reason when one does not hold.

usage: switch_checks.py failure OUTPUT REASON COLLECTION_ROOT
         a failed run's output names account outlook, the reason word, the reason's hint and the switch
       switch_checks.py delivered STANDIN_DIR MAIL_INDEX AUTH_BEFORE password PASSWORD
       switch_checks.py delivered STANDIN_DIR MAIL_INDEX AUTH_BEFORE app CLIENT_ID MAILBOX
         message MAIL_INDEX went out with that credential, and so did every login after AUTH_BEFORE
       switch_checks.py secrets STANDIN_DIR
         prints every access token the stand-in issued and every secret it was sent (for the leak scan)
"""

import importlib.util
import json
import re
import sys


def failure(output_path, reason, collection_root):
    spec = importlib.util.spec_from_file_location("_oauth2", collection_root + "/plugins/module_utils/_oauth2.py")
    oauth2 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(oauth2)
    hint = oauth2.hint_for(reason)
    output = open(output_path, encoding="utf-8").read()
    assert re.search(r"account outlook: %s at stage \w+" % re.escape(reason), output), \
        "the output does not name account outlook and %s" % reason
    # Ansible prints the message as JSON: the hint may come escaped.
    assert hint in output or json.dumps(hint)[1:-1] in output, "the hint of %s is missing" % reason
    assert "nothing was written and the live configuration stays as it was" in output, "no word on what was kept"
    assert "set postfix_relay_verify_credentials: false" in output, "the switch is not named"
    if reason == "app_mailbox_denied":
        assert "(the server said: 535 5.7.3" in output, "the 535 5.7.3 reply is not shown"
    print("refused with %s, hint and switch named" % reason)


def delivered(state_dir, index, auth_before, kind, *expect):
    info = json.load(open("%s/mail/%s.json" % (state_dir, index), encoding="utf-8"))
    logins = [json.loads(line) for line in open(state_dir + "/auth.jsonl", encoding="utf-8")][int(auth_before):]
    assert logins, "no login reached the stand-in for the message"
    if kind == "password":
        user, mechanism = "standin@outlook.com", "LOGIN"
        assert all(a["secret"] == expect[0] for a in logins), "a login did not use the old password"
    else:
        (client_id, user), mechanism = expect, "XOAUTH2"
        tokens = json.load(open(state_dir + "/state.json", encoding="utf-8"))["access_tokens"]
        assert all((tokens.get(a["secret"]) or {}).get("app") == client_id for a in logins), \
            "a login did not use a token the stand-in issued to the granted app"
    assert info["user"] == user and info["mechanism"] == mechanism, info
    assert all(a["user"] == user and a["mechanism"] == mechanism and a["code"] == 235 for a in logins), \
        [(a["user"], a["mechanism"], a["code"]) for a in logins]
    print("delivered as %s with %s (%d login(s))" % (user, mechanism, len(logins)))


def secrets(state_dir):
    found = set(json.load(open(state_dir + "/state.json", encoding="utf-8"))["access_tokens"])
    for line in open(state_dir + "/auth.jsonl", encoding="utf-8"):
        found.add(json.loads(line)["secret"] or "")
    for value in sorted(found):
        if len(value.strip()) >= 6:
            print(value)


def main():
    command, args = sys.argv[1], sys.argv[2:]
    {"failure": failure, "delivered": delivered, "secrets": secrets}[command](*args)


if __name__ == "__main__":
    main()
