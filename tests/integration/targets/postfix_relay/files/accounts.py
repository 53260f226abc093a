"""The stand-in's accounts file (--accounts): the app-only mailbox and the OAuth2 user first, then every password account of write_vars.py."""

import json
import sys

generated = json.load(open(sys.argv[1], encoding="utf-8"))
# The first account is the mailbox the stand-in's app-only app may send as (its own From, as postfix_relay needs).
accounts = [{"user": "appbox@outlook.com", "password": "app mailbox has no password in this test"},
            {"user": "oauth@outlook.com", "password": "oauth user has no password in this test"},
            {"user": "standin@outlook.com", "password": sys.argv[2]},
            {"user": "implicit@outlook.com", "password": "implicit pw 465"}]
accounts += [{"user": "g%d@outlook.com" % i, "password": p} for i, p in enumerate(generated["valid"])]
json.dump(accounts, sys.stdout, ensure_ascii=False)
