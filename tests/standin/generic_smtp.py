# -*- coding: utf-8 -*-
"""A submission server that is NOT Microsoft's, for the checks that must hold on any server (tests only).

Built on aiosmtpd + trustme, so it answers as a generic open-source server does, not as the stand-in does:
- `tls`: STARTTLS with a certificate for mail.example.test and 127.0.0.1 only (so `localhost` is a wrong name),
  AUTH LOGIN PLAIN XOAUTH2 only inside TLS; a wrong password gets aiosmtpd's `535 5.7.8`; a refused XOAUTH2 token
  gets the error challenge Gmail and Dovecot send (`334 ` + base64 of {"status":"401","schemes":"Bearer",
  "scope":...}) and, after the client's empty line, `535 5.7.8 Username and Password not accepted`.
- `plain`: no STARTTLS and no AUTH at all (a server a client must not send a credential to).

    python generic_smtp.py --state-dir DIR [--lifetime SECONDS] [--user U --password P --token T]

writes DIR/ca.pem and DIR/ready.json ({"tls": port, "plain": port, "ca_file", "user", "log"}), appends one JSON
line per AUTH attempt to DIR/auth.jsonl (mechanism, tls, success, challenge_answer: what the client sent after
the error challenge, never the secret), listens on 127.0.0.1 only and stops on SIGTERM/SIGINT or after --lifetime.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import logging
import os
import signal
import socket
import ssl
import threading

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
CERT_NAMES = ("mail.example.test", "127.0.0.1")
SCOPE = "https://mail.example.test/smtp"
CHALLENGE = {"status": "401", "schemes": "Bearer", "scope": SCOPE}
R_BAD_TOKEN = "535 5.7.8 Username and Password not accepted"


def _free_port():
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Handler:
    """Accounts, XOAUTH2 and the AUTH log."""

    def __init__(self, user, password, token, log_path):
        self.user, self.password, self.token = user, password, token
        self.log_path = log_path
        self.lock = threading.Lock()

    def log(self, server, **entry):
        entry["tls"] = server._tls_protocol is not None  # pylint: disable=protected-access
        with self.lock, open(self.log_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")

    def authenticator(self, server, _session, _envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login.decode("utf-8", "replace"),
                                                       auth_data.password.decode("utf-8", "replace")) == \
            (self.user, self.password)
        self.log(server, mechanism=mechanism, success=ok)
        return AuthResult(success=ok, handled=False)

    async def auth_XOAUTH2(self, server, args):
        blob = args[1].encode("ascii") if len(args) > 1 else await server.challenge_auth("", encode_to_b64=False)
        try:
            fields = dict(part.split("=", 1) for part in base64.b64decode(blob, validate=True).decode("utf-8").split(
                "\x01") if "=" in part)
        except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
            self.log(server, mechanism="XOAUTH2", success=False, challenge_answer=None)
            return AuthResult(success=False, handled=False, message="501 5.5.2 Cannot decode XOAUTH2")
        if fields.get("user") == self.user and fields.get("auth") == "Bearer " + self.token:
            self.log(server, mechanism="XOAUTH2", success=True)
            return AuthResult(success=True, auth_data=self.user)
        answer = await server.challenge_auth(json.dumps(CHALLENGE))
        self.log(server, mechanism="XOAUTH2", success=False,
                 challenge_answer=answer.decode("utf-8", "replace") if isinstance(answer, bytes) else None)
        return AuthResult(success=False, handled=False, message=R_BAD_TOKEN)

    async def handle_DATA(self, _server, _session, _envelope):
        return "250 2.0.0 Ok: queued"


class GenericServer:
    """Both listeners, started and stopped together (also usable from a test, in-process)."""

    def __init__(self, state_dir, user="user@example.test", password="generic password", token="generic-token"):
        os.makedirs(state_dir, exist_ok=True)
        ca = trustme.CA()
        self.ca_file = os.path.join(state_dir, "ca.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert(*CERT_NAMES).configure_cert(context)
        self.log_path = os.path.join(state_dir, "auth.jsonl")
        self.user = user
        self.handler = Handler(user, password, token, self.log_path)
        common = dict(hostname=HOST, server_hostname="mail.example.test", auth_require_tls=True,
                      authenticator=self.handler.authenticator)
        self.controllers = {
            "tls": Controller(self.handler, port=_free_port(), tls_context=context, **common),
            "plain": Controller(self.handler, port=_free_port(), **common),
        }

    def start(self):
        for controller in self.controllers.values():
            controller.start()
        return self

    def stop(self):
        for controller in self.controllers.values():
            controller.stop()

    def port(self, name):
        return self.controllers[name].port

    def auth_log(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle]

    def ready(self):
        return {"tls": self.port("tls"), "plain": self.port("plain"), "host": HOST, "ca_file": self.ca_file,
                "user": self.user, "log": self.log_path, "cert_names": list(CERT_NAMES), "scope": SCOPE,
                "pid": os.getpid()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--lifetime", type=float, default=600)
    parser.add_argument("--user", default="user@example.test")
    parser.add_argument("--password", default="generic password")
    parser.add_argument("--token", default="generic-token")
    args = parser.parse_args(argv)
    # aiosmtpd logs a refused handshake (a test's wrong name, on purpose) with a traceback: not news here.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    server = GenericServer(args.state_dir, args.user, args.password, args.token).start()
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_args: done.set())
    ready = os.path.join(args.state_dir, "ready.json")
    with open(ready + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(server.ready(), handle)
    os.replace(ready + ".tmp", ready)
    try:
        done.wait(args.lifetime)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
