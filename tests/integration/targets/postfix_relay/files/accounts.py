"""The stand-in's accounts file (--accounts): the app-only mailboxes and the OAuth2 user first, then every password
account of write_vars.py; and the granted app-only app.

usage: accounts.py GENERATED_JSON MAIN_PASSWORD APP_CERTIFICATE_FILE
"""

import json
import secrets
import sys

generated = json.load(open(sys.argv[1], encoding="utf-8"))
# The first two accounts are mailboxes the stand-in's app-only app may send as: one for the certificate account, one
# for the client-secret account (postfix_relay tells accounts apart by their From, so each needs its own mailbox).
accounts = [{"user": "appbox@outlook.com", "password": "app mailbox has no password in this test"},
            {"user": "appsecret@outlook.com", "password": "app mailbox has no password in this test"},
            {"user": "oauth@outlook.com", "password": "oauth user has no password in this test"},
            {"user": "standin@outlook.com", "password": sys.argv[2]},
            {"user": "implicit@outlook.com", "password": "implicit pw 465"}]
accounts += [{"user": "g%d@outlook.com" % i, "password": p} for i, p in enumerate(generated["valid"])]
# The granted app: a client secret made for this run and the stand-in's app certificate (it lands in
# STATE_DIR/pki/app.crt, read when an assertion is checked). The verified switch also tries an app whose token is
# good but which Exchange does not know (no service principal): 535 5.7.3.
apps = [{"name": "granted", "secrets": [{"value": secrets.token_urlsafe(30)}], "certificates": [sys.argv[3]],
         "mailboxes": ["appbox@outlook.com", "appsecret@outlook.com"]},
        {"name": "no_service_principal", "secrets": [{"value": secrets.token_urlsafe(30)}],
         "service_principal": False}]
json.dump({"accounts": accounts, "apps": apps}, sys.stdout, ensure_ascii=False)
