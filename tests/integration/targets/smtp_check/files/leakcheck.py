# -*- coding: utf-8 -*-
"""Search output files for secrets, plain and in the encodings SMTP and OAuth2 put them in.

Usage: leakcheck.py SECRETS_FILE AUTH_LOG [--user USER] OUTPUT_FILE...
SECRETS_FILE holds one secret per line. Every XOAUTH2 bearer token in AUTH_LOG (the stand-in's auth.jsonl) is a
secret too. Exit 1 and name the file and the form (never the secret) when one is found.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import urllib.parse


def forms(secret, user):
    """The secret as it could appear in output: plain, base64 (AUTH LOGIN), PLAIN and XOAUTH2 strings, URL-encoded."""
    def b64(text):
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    found = {
        "plain": secret,
        "base64": b64(secret),
        "url-encoded": urllib.parse.quote_plus(secret),
        "json-escaped": json.dumps(secret)[1:-1],
    }
    if user:
        found["AUTH PLAIN base64"] = b64("\0%s\0%s" % (user, secret))
        found["XOAUTH2 base64"] = b64("user=%s\x01auth=Bearer %s\x01\x01" % (user, secret))
    return found


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("secrets_file")
    parser.add_argument("auth_log")
    parser.add_argument("--user", default="")
    parser.add_argument("outputs", nargs="+")
    args = parser.parse_args(argv)

    with open(args.secrets_file, encoding="utf-8") as handle:
        secrets = [line.rstrip("\n") for line in handle if line.strip()]
    tokens = 0
    with open(args.auth_log, encoding="utf-8") as handle:
        for line in handle:
            entry = json.loads(line)
            # Short bearer strings are the deliberately bad tokens of the failure tests, not secrets.
            if entry.get("mechanism") == "XOAUTH2" and len(entry.get("secret") or "") >= 20:
                secrets.append(entry["secret"])
                tokens += 1
    if not secrets or any(len(s) < 20 for s in secrets):
        print("leakcheck: secrets must be long enough to be unique", file=sys.stderr)
        return 2

    leaks = []
    for path in args.outputs:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        for number, secret in enumerate(secrets):
            for form, needle in forms(secret, args.user).items():
                if needle in text:
                    leaks.append("%s: secret #%d (%s)" % (path, number, form))
    for leak in leaks:
        print("leakcheck: LEAK in " + leak, file=sys.stderr)
    print("leakcheck: %d secrets (%d bearer tokens from the auth log) x %d forms searched in %d files: %d leaks"
          % (len(secrets), tokens, len(forms("x", args.user)), len(args.outputs), len(leaks)))
    return 1 if leaks else 0


if __name__ == "__main__":
    sys.exit(main())
