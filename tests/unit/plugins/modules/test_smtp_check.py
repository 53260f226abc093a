# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""main() of smtp_check: argument rules, changed only when a message went out, one-line msg, no secret in output."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import probe, reasons
from ansible_collections.mailops.live_smtp.plugins.modules import smtp_check

PASSWORD = "s3cret pass phrase"


def run_module(args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as info:
            smtp_check.main()
    out = capsys.readouterr().out
    return info.value.code, json.loads(out), out


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PlainPeer:
    """A plaintext SMTP server on 127.0.0.1 for one session (security none); records the commands."""

    def __init__(self, auth_reply="235 2.7.0 Authentication successful"):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.commands = []
        self.messages = []
        self.auth_reply = auth_reply
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _address = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            lines = conn.makefile("rb")
            conn.sendall(b"220 peer ready\r\n")
            for raw in lines:
                line = raw.decode().rstrip("\r\n")
                self.commands.append(line)
                verb = line.split(" ", 1)[0].upper()
                if verb == "EHLO":
                    conn.sendall(b"250-peer\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n")
                elif verb == "AUTH":
                    conn.sendall(b"334 UGFzc3dvcmQ6\r\n")
                    self.commands.append(lines.readline().decode().rstrip())
                    conn.sendall(self.auth_reply.encode() + b"\r\n")
                elif verb == "DATA":
                    conn.sendall(b"354 go\r\n")
                    body = []
                    for data in lines:
                        if data == b".\r\n":
                            break
                        body.append(data)
                    self.messages.append(b"".join(body))
                    conn.sendall(b"250 2.6.0 queued\r\n")
                elif verb == "QUIT":
                    return
                else:
                    conn.sendall(b"250 2.0.0 OK\r\n")

    def stop(self):
        self.listener.close()
        self.thread.join(15)


@pytest.fixture()
def peer():
    server = PlainPeer()
    yield server
    server.stop()


def test_module_defaults_are_the_probe_defaults():
    spec = smtp_check.argument_spec()
    defaults = dict(probe.Options.DEFAULTS)
    for name in ("host", "port", "timeout", "ip_version", "validate_certs", "min_tls_version", "cert_min_days", "auth"):
        assert spec[name].get("default") == defaults[name], name
    # every option of the module is an option of the probe (send_test_message becomes send_message)
    assert sorted(set(spec) - {"send_test_message"}) == sorted(set(defaults) - {"send_message"})
    assert spec["security"].get("default") is None  # derived from the port
    # scope and tenant depend on the grant: the token thread fills them in
    assert spec["oauth2"]["options"]["scope"].get("default") is None
    assert spec["oauth2"]["options"]["tenant"].get("default") is None
    assert spec["oauth2"]["options"]["grant"]["default"] == "refresh_token"


def test_oauth2_takes_the_keys_of_the_account_vocabulary():
    from ansible_collections.mailops.live_smtp.plugins.filter.account_defaults import OAUTH2_KEYS
    assert set(smtp_check.argument_spec()["oauth2"]["options"]) == OAUTH2_KEYS


def test_secrets_are_no_log():
    spec = smtp_check.argument_spec()
    assert spec["password"]["no_log"] and spec["oauth2_access_token"]["no_log"]
    assert spec["oauth2"]["options"]["refresh_token"]["no_log"] and spec["oauth2"]["options"]["client_secret"]["no_log"]
    assert spec["oauth2"]["options"]["token_url"]["no_log"] is False
    assert spec["oauth2"]["options"]["private_key"]["no_log"]
    assert spec["oauth2"]["options"]["certificate"]["no_log"] is False


@pytest.mark.parametrize("args, needle", [
    ({"password": "x"}, "username"),
    ({"username": "u@x", "oauth2_access_token": "access-token-value", "oauth2": {"client_id": "c", "refresh_token": "refresh-value"}},
     "mutually exclusive"),
    ({"username": "u@x", "auth": "xoauth2"}, "oauth2"),
    ({"username": "u@x", "auth": "login"}, "password"),
    ({"username": "u@x", "oauth2": {"client_id": "c"}}, "refresh_token"),
    ({"username": "u@x", "oauth2": {"client_id": "c", "grant": "client_credentials", "client_secret": "app-secret-value"}}, "tenant"),
    ({"username": "u@x", "oauth2": {"client_id": "c", "grant": "client_credentials", "tenant": "t"}},
     "client_secret, certificate"),
    ({"username": "u@x", "oauth2": {"client_id": "c", "grant": "client_credentials", "tenant": "t",
                                    "client_secret": "app-secret-value", "certificate": "/c.pem"}}, "mutually exclusive"),
    ({"username": "u@x", "oauth2": {"client_id": "c", "grant": "client_credentials", "tenant": "t",
                                    "client_secret": "app-secret-value", "private_key": "/k.pem"}}, "certificate"),
    ({"timeout": 0}, "timeout"),
    ({"nameservers": ["resolver.example"]}, "nameserver"),
])
def test_argument_rules(args, needle, capsys):
    code, result, _out = run_module(args, capsys)
    assert code == 1 and result["failed"] is True
    assert needle in result["msg"]


def test_failure_is_one_line_with_every_field(capsys):
    port = _closed_port()
    code, result, out = run_module({"host": "127.0.0.1", "port": port, "username": "me@example.com",
                                    "password": PASSWORD, "timeout": 3}, capsys)
    assert code == 1 and result["failed"] is True and result["changed"] is False
    assert result["msg"].startswith("connection_refused: ") and "\n" not in result["msg"]
    assert result["reason"] == "connection_refused" and result["failed_stage"] == "connect"
    for field in ("ok", "hint", "reply", "addresses", "address", "banner", "esmtp", "auth_mechanisms", "tls",
                  "timings_ms", "oauth2_refresh_token_rotated", "message_sent", "authenticated", "detail"):
        assert field in result
    assert PASSWORD not in out


def test_check_mode_sends_nothing_and_changes_nothing(peer, capsys):
    args = {"host": "127.0.0.1", "port": peer.port, "security": "none", "username": "me@example.com",
            "password": PASSWORD, "send_test_message": True, "rcpt_to": ["you@example.com"], "_ansible_check_mode": True}
    code, result, out = run_module(args, capsys)
    assert code == 0 and result["changed"] is False and result["message_sent"] is False
    assert peer.messages == []
    assert "RSET" in peer.commands and "DATA" not in peer.commands
    assert PASSWORD not in out


def test_a_sent_message_is_a_change(peer, capsys):
    args = {"host": "127.0.0.1", "port": peer.port, "security": "none", "username": "me@example.com",
            "password": PASSWORD, "send_test_message": True}
    code, result, _out = run_module(args, capsys)
    assert code == 0 and result["changed"] is True and result["message_sent"] is True
    assert len(peer.messages) == 1 and b"To: <me@example.com>" in peer.messages[0]
    assert result["auth_mechanism"] == "LOGIN"


def test_failure_message_format():
    result = {"reason": "basic_auth_disabled", "hint": "Use OAuth2.", "detail": None,
              "reply": {"code": 535, "enhanced": "5.7.139", "text": "5.7.139 Authentication\nunsuccessful"}}
    assert smtp_check.failure_message(result) == "basic_auth_disabled: Use OAuth2. (535 5.7.139 Authentication unsuccessful)"
    result.update(reply=None, detail="certificate verify failed: x")
    assert smtp_check.failure_message(result) == "basic_auth_disabled: Use OAuth2. (certificate verify failed: x)"


def test_the_module_documents_every_reason():
    words = set(reasons.words()) | {"unexpected_reply"}
    assert sorted(word for word in words if "V(%s)" % word not in smtp_check.DOCUMENTATION) == []
