# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe: pure helpers, and the wire against a scripted SMTP peer and DNS responder on 127.0.0.1.

The peer counts client flights: a flight is data from the client that arrives after the peer last spoke, so a
command the client pipelines behind another does not count, and a command it sent only after waiting for a reply
does. The full behaviour against the Microsoft stand-in is the smtp_check integration target's job.
"""

from __future__ import annotations

import base64
import datetime
import select
import socket
import ssl
import sys
import threading

import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest
import trustme

from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import errors, network, sasl, tls, wire, x509
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import probe as probe_py
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.errors import ConfigError, ProbeError


def probe(**options):
    return probe_py.Probe(probe_py.Options(**options)).run()


USER = "alerts@outlook.com"
PASSWORD = "app pass: w0rd with spaces"
TOKEN = "EwB4A8l6BAAURSN-access-token"


# --- pure helpers --------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("entry, expected", [
    ("192.0.2.53", ("192.0.2.53", 53)),
    ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("[::1]:5353", ("::1", 5353)),
    ("[2001:db8::1]", ("2001:db8::1", 53)),
    ("2001:db8::1", ("2001:db8::1", 53)),
    (" 10.0.0.1 ", ("10.0.0.1", 53)),
])
def test_parse_nameserver(entry, expected):
    assert network.parse_nameserver(entry) == expected


@pytest.mark.parametrize("entry", ["dns.example.com", "127.0.0.1:0", "127.0.0.1:70000", "[::1]:x", "1.2.3.4:53:1", ""])
def test_parse_nameserver_refuses(entry):
    with pytest.raises(ConfigError):
        network.parse_nameserver(entry)


@pytest.mark.parametrize("port, security, expected", [
    (587, None, "starttls"), (465, None, "tls"), (25, None, "starttls"), (465, "starttls", "starttls"),
    (587, "none", "none"), ("465", None, "tls"),
])
def test_default_security(port, security, expected):
    assert probe_py.default_security(port, security) == expected


@pytest.mark.parametrize("code, lines, enhanced", [
    (535, ["5.7.139 Authentication unsuccessful"], "5.7.139"),
    (250, ["2.0.0 OK"], "2.0.0"),
    (250, ["smtp.example.com Hello"], None),
    (421, ["5.7.66 mismatched class"], None),
    (220, [""], None),
])
def test_reply_enhanced_code(code, lines, enhanced):
    assert wire.Reply(code, lines).enhanced == enhanced


def test_parse_ehlo():
    reply = wire.Reply(250, ["host Hello [127.0.0.1]", "SIZE 157286400", "PIPELINING", "auth=LOGIN PLAIN",
                             "AUTH LOGIN XOAUTH2", "starttls"])
    extensions = wire.parse_ehlo(reply)
    assert extensions == {"SIZE": "157286400", "PIPELINING": "", "AUTH": "LOGIN XOAUTH2", "STARTTLS": ""}
    assert wire.auth_mechanisms(extensions) == ["LOGIN", "XOAUTH2"]
    assert wire.auth_mechanisms({"AUTH": "LOGIN PLAIN"}) == ["LOGIN", "PLAIN"]


@pytest.mark.parametrize("auth, offered, password, token, expected", [
    ("auto", ["LOGIN", "XOAUTH2"], False, True, "XOAUTH2"),
    ("auto", ["LOGIN", "XOAUTH2"], True, False, "LOGIN"),
    ("auto", ["PLAIN"], True, False, "PLAIN"),
    ("auto", ["LOGIN", "XOAUTH2"], False, False, None),
    ("none", ["LOGIN"], True, True, None),
    ("plain", ["PLAIN", "LOGIN"], True, False, "PLAIN"),
    ("auto", ["LOGIN", "XOAUTH2", "PLAIN"], True, True, "XOAUTH2"),
])
def test_choose_mechanism(auth, offered, password, token, expected):
    assert sasl.choose_mechanism(auth, offered, password, token) == expected


@pytest.mark.parametrize("auth, offered, password, token", [
    ("plain", ["LOGIN", "XOAUTH2"], True, False),      # Microsoft never offers PLAIN
    ("auto", ["XOAUTH2"], True, False),
    ("auto", [], False, True),
    ("xoauth2", ["LOGIN"], False, True),
])
def test_choose_mechanism_never_tries_what_is_not_offered(auth, offered, password, token):
    with pytest.raises(ProbeError) as info:
        sasl.choose_mechanism(auth, offered, password, token)
    assert (info.value.stage, info.value.reason) == ("auth", "auth_mechanism_unavailable")


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.mark.parametrize("stage, reason", [
    ("dns", "dns_timeout"), ("connect", "connect_timeout"), ("banner", "banner_timeout"), ("auth", "response_timeout"),
    ("tls", "response_timeout"),
])
def test_deadline_gives_each_step_only_what_is_left(stage, reason):
    clock = FakeClock()
    deadline = wire.Deadline(3, clock=clock)
    assert deadline.left(stage) == 3
    clock.now += 2.25
    assert deadline.left(stage) == pytest.approx(0.75)
    clock.now += 0.75
    with pytest.raises(ProbeError) as info:
        deadline.left(stage)
    assert (info.value.stage, info.value.reason) == (stage, reason)


def _verify_error(code, message):
    error = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    error.verify_code = code
    error.verify_message = message
    return error


def _ssl_error(reason):
    error = ssl.SSLError(1, "[SSL: %s] x" % reason)
    error.reason = reason
    return error


@pytest.mark.parametrize("error, reason", [
    (_verify_error(10, "certificate has expired"), "cert_expired"),
    (_verify_error(9, "certificate is not yet valid"), "cert_expired"),
    (_verify_error(62, "Hostname mismatch, certificate is not valid for 'x'"), "cert_hostname_mismatch"),
    (_verify_error(64, "IP address mismatch"), "cert_hostname_mismatch"),
    (_verify_error(20, "unable to get local issuer certificate"), "cert_untrusted"),
    (_verify_error(18, "self-signed certificate"), "cert_untrusted"),
    (_verify_error(19, "self-signed certificate in certificate chain"), "cert_untrusted"),
    (_ssl_error("UNSUPPORTED_PROTOCOL"), "tls_version_rejected"),
    (_ssl_error("TLSV1_ALERT_PROTOCOL_VERSION"), "tls_version_rejected"),
    (_ssl_error("NO_PROTOCOLS_AVAILABLE"), "tls_version_rejected"),
    (_ssl_error("WRONG_VERSION_NUMBER"), "tls_handshake_failed"),
    (_ssl_error("SSLV3_ALERT_HANDSHAKE_FAILURE"), "tls_handshake_failed"),
])
def test_classify_tls_error(error, reason):
    assert tls.classify_tls_error(error)[0] == reason


def test_the_test_message_is_dot_terminated_crlf():
    message = probe_py.build_test_message(USER, ["a@example.com", "b@example.com"], "host.example")
    assert message.endswith(b"\r\n.\r\n")
    assert b"\r\n.\r\n" not in message[:-5]
    assert b"\nFrom: <alerts@outlook.com>\r\n" in b"\n" + message
    assert b"To: <a@example.com>, <b@example.com>\r\n" in message
    assert b"@outlook.com>\r\n" in message.split(b"Message-ID: ")[1]
    assert all(line.endswith(b"\r") or line == b"" for line in message.split(b"\n"))


@pytest.mark.parametrize("host, expected", [
    ("127.0.0.1", "127.0.0.1"), ("[::1]", "::1"), ("::1", "::1"), ("smtp-mail.outlook.com", None), ("1.2.3", None),
])
def test_ip_literal(host, expected):
    assert network.ip_literal(host) == expected


def test_ip_literal_skips_dns_and_honours_ip_version():
    assert network.resolve("127.0.0.1", 587, "any", ["192.0.2.1"]) == ["127.0.0.1"]
    with pytest.raises(ProbeError) as info:
        network.resolve("::1", 587, "4")
    assert info.value.reason == "dns_no_address"


@pytest.mark.parametrize("kwargs", [
    {"mail_from": "a@b.c>\r\nRCPT TO:<x@y.z"},
    {"rcpt_to": ["x@y.z\r\nDATA"]},
    {"username": "u\n@x"},
    {"ehlo_name": "h\r\nAUTH"},
    {"auth": "xoauth2", "username": USER},
    {"auth": "login", "username": USER},
    {"password": "x"},
    {"nameservers": ["not-an-ip"], "host": "smtp.example.com"},
    {"min_tls_version": "SSLv3"},
    {"send_message": True},
])
def test_config_errors_before_any_traffic(kwargs):
    args = dict(host="127.0.0.1", port=9, timeout=1)
    args.update(kwargs)
    with pytest.raises(ConfigError):
        probe(**args)


def test_missing_dnspython_is_a_clear_error(monkeypatch):
    # dnspython is imported only when nameservers are used: an import that fails then is what a host without it sees
    monkeypatch.setitem(sys.modules, "dns.resolver", None)
    with pytest.raises(errors.MissingLibraryError) as info:
        probe(host="smtp.example.com", port=9, timeout=1, nameservers=["127.0.0.1"])
    assert info.value.library == "dnspython"
    # an IP literal needs no DNS, so no dnspython either
    assert probe(host="127.0.0.1", port=_closed_port(), timeout=1, nameservers=["127.0.0.1"])["reason"] == \
        "connection_refused"


# --- certificates --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = trustme.CA()
    directory = tmp_path_factory.mktemp("pki")
    ca_file = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    return ca, str(ca_file)


def _context(leaf):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    leaf.configure_cert(context)
    return context


def test_certificate_info(pki):
    ca, _ca_file = pki
    not_after = datetime.datetime(2031, 5, 4, 3, 2, 1, tzinfo=datetime.timezone.utc)
    leaf = ca.issue_cert("smtp-mail.outlook.com", "localhost", "127.0.0.1", "::1", common_name="smtp-mail.outlook.com",
                         organization_name="Example Org", not_after=not_after)
    der = ssl.PEM_cert_to_DER_cert(leaf.cert_chain_pems[0].bytes().decode("ascii"))
    info = x509.certificate_info(der, now=datetime.datetime(2031, 4, 4, 3, 2, 1, tzinfo=datetime.timezone.utc))
    assert info["san"] == ["smtp-mail.outlook.com", "localhost", "127.0.0.1", "::1"]
    assert info["not_after"] == "2031-05-04T03:02:01Z"
    assert info["days_left"] == 30
    assert "CN=smtp-mail.outlook.com" in info["subject"] and "O=Example Org" in info["subject"]
    assert info["issuer"].startswith("O=trustme")


def test_certificate_info_of_garbage_is_empty():
    assert x509.certificate_info(b"\x30\x03\x02\x01") == {}
    assert x509.certificate_info(b"") == {}


# --- a scripted SMTP peer ------------------------------------------------------------------------------------------

class PeerConnection:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.flights = 0
        self.spoke = True  # the banner is the first thing said
        self.lines = []

    def send(self, *lines):
        self.sock.sendall("".join(line + "\r\n" for line in lines).encode("utf-8"))
        self.spoke = True

    def line(self, timeout=10.0):
        while b"\n" not in self.buffer:
            self.sock.settimeout(timeout)
            try:
                chunk = self.sock.recv(65536)
            except (socket.timeout, OSError, ssl.SSLError):
                return None
            if not chunk:
                return None
            if self.spoke:
                self.flights += 1
                self.spoke = False
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        text = line.rstrip(b"\r").decode("utf-8")
        self.lines.append(text)
        return text

    def waiting(self, timeout):
        """True if the client sent more (buffered or arriving within timeout) without a reply from us."""
        if b"\n" in self.buffer:
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        readable, _w, _x = select.select([self.sock], [], [], timeout)
        return bool(readable)

    def starttls(self, context):
        self.sock = context.wrap_socket(self.sock, server_side=True)
        self.spoke = True

    def closed_by_client(self, timeout):
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except (socket.timeout, OSError, ssl.SSLError):
            return False


class Peer:
    """Accepts one connection on 127.0.0.1 and runs script(connection) in a thread (10 s lifetime)."""

    def __init__(self, script):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.port = self.listener.getsockname()[1]
        self.connection = None
        self.error = None
        self.notes = {}
        self.thread = threading.Thread(target=self._run, args=(script,), daemon=True)
        self.thread.start()

    def _run(self, script):
        try:
            sock, _address = self.listener.accept()
        except OSError:
            return
        self.connection = PeerConnection(sock)
        try:
            script(self.connection, self.notes)
        except Exception as exc:  # pylint: disable=broad-except  # reported by stop()
            self.error = exc
        finally:
            self.connection.sock.close()

    def stop(self):
        self.listener.close()
        self.thread.join(15)
        assert self.error is None, self.error

    @property
    def lines(self):
        return self.connection.lines if self.connection else []


def outlook_like(context, auth_replies=None, offer_starttls=True, rcpt_reply="250 2.1.5 Recipient OK",
                 wait_for_pipeline=True, implicit_tls=False, auth_in_clear=False):
    """A server that behaves like smtp-mail.outlook.com for the commands the probe sends."""
    auth_replies = auth_replies or {}

    def script(conn, notes):
        if implicit_tls:
            conn.starttls(context)
        conn.send("220 peer.test Microsoft ESMTP MAIL Service ready")
        tls = implicit_tls
        while True:
            line = conn.line()
            if line is None:
                notes["eof"] = True
                return
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                extensions = ["SIZE 157286400", "PIPELINING", "ENHANCEDSTATUSCODES"]
                if not tls and offer_starttls:
                    extensions.append("STARTTLS")
                if tls or auth_in_clear:
                    extensions.append("AUTH LOGIN XOAUTH2")
                conn.send(*(["250-peer.test Hello"] + ["250-" + ext for ext in extensions[:-1]] +
                            ["250 " + extensions[-1]]))
            elif verb == "STARTTLS":
                conn.send("220 2.0.0 SMTP server ready")
                try:
                    conn.starttls(context)
                except (ssl.SSLError, OSError) as exc:
                    notes["tls_failed"] = str(exc)
                    return
                tls = True
            elif verb == "AUTH":
                notes.setdefault("auth", []).append((line, tls))
                mechanism = line.split()[1].upper()
                if mechanism == "LOGIN":
                    conn.send("334 UGFzc3dvcmQ6")
                    notes["password"] = base64.b64decode(conn.line()).decode("utf-8")
                conn.send(auth_replies.get(mechanism, "235 2.7.0 Authentication successful"))
            elif verb == "MAIL":
                notes["pipelined"] = not wait_for_pipeline or conn.waiting(3)
                conn.send("250 2.1.0 Sender OK")
            elif verb == "RCPT":
                conn.send(rcpt_reply)
            elif verb == "RSET":
                conn.send("250 2.0.0 Resetting")
            elif verb == "DATA":
                conn.send("354 Start mail input; end with <CRLF>.<CRLF>")
                body = []
                while True:
                    data_line = conn.line()
                    if data_line is None:
                        notes["data_aborted"] = True
                        return
                    if data_line == ".":
                        break
                    body.append(data_line)
                notes["message"] = body
                conn.send("250 2.6.0 <id@peer.test> Queued mail for delivery")
            elif verb == "QUIT":
                # No 221: a client that waits for it would hang until its timeout instead of closing first.
                notes["closed_without_waiting"] = conn.closed_by_client(5)
                return
            else:
                conn.send("500 5.3.3 Unrecognized command")
    return script


@pytest.fixture()
def tls_server(pki):
    return _context(pki[0].issue_cert("localhost", "127.0.0.1"))


@pytest.fixture()
def peers():
    started = []

    def start(script):
        peer = Peer(script)
        started.append(peer)
        return peer
    yield start
    for peer in started:
        peer.stop()


def run(peer, pki, **kwargs):
    args = dict(host="127.0.0.1", port=peer.port, ca_path=pki[1], timeout=10, ehlo_name="client.test")
    args.update(kwargs)
    result = probe(**args)
    peer.thread.join(10)
    return result


def test_starttls_auth_login_in_five_waits(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server))
    result = run(peer, pki, username=USER, password=PASSWORD)
    assert result["ok"] is True, result
    assert result["authenticated"] is True and result["auth_mechanism"] == "LOGIN"
    assert peer.lines[:3] == ["EHLO client.test", "STARTTLS", "EHLO client.test"]
    (auth_line, under_tls), = peer.notes["auth"]
    assert under_tls and auth_line == "AUTH LOGIN " + base64.b64encode(USER.encode()).decode()  # user in the AUTH line
    assert peer.notes["password"] == PASSWORD
    assert peer.notes["closed_without_waiting"] is True
    # EHLO, STARTTLS, EHLO, AUTH LOGIN <user>, <password>, then QUIT (not waited for) = 6 flights, 5 waits.
    assert peer.connection.flights == 6
    assert result["tls"]["verified"] is True and result["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert result["tls"]["san"] == ["localhost", "127.0.0.1"]
    assert "STARTTLS" in result["esmtp"]["before_tls"] and result["esmtp"]["after_tls"]["AUTH"] == "LOGIN XOAUTH2"
    assert result["auth_mechanisms"] == ["LOGIN", "XOAUTH2"]
    assert set(result["timings_ms"]) >= {"connect", "banner", "ehlo", "starttls", "tls", "ehlo_tls", "auth", "total"}
    assert "dns" not in result["timings_ms"]


def test_xoauth2_is_one_line_one_wait(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server))
    result = run(peer, pki, username=USER, oauth2_access_token=TOKEN)
    assert result["ok"] is True and result["auth_mechanism"] == "XOAUTH2"
    (auth_line, _tls), = peer.notes["auth"]
    assert auth_line == "AUTH XOAUTH2 " + base64.b64encode(
        ("user=%s\x01auth=Bearer %s\x01\x01" % (USER, TOKEN)).encode()).decode()
    assert peer.connection.flights == 5  # EHLO, STARTTLS, EHLO, AUTH XOAUTH2 <ir>, QUIT


def test_envelope_is_pipelined_and_reset(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server))
    result = run(peer, pki, username=USER, oauth2_access_token=TOKEN, rcpt_to=["a@example.com", "b@example.com"])
    assert result["ok"] is True and result["message_sent"] is False
    assert peer.lines[-5:-1] == ["MAIL FROM:<%s>" % USER, "RCPT TO:<a@example.com>", "RCPT TO:<b@example.com>", "RSET"]
    assert peer.notes["pipelined"] is True
    assert peer.connection.flights == 6  # ... AUTH, MAIL+RCPT+RCPT+RSET in one flight, QUIT


def test_send_test_message(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server))
    result = run(peer, pki, username=USER, password=PASSWORD, send_message=True)
    assert result["ok"] is True and result["message_sent"] is True
    assert "RCPT TO:<%s>" % USER in peer.lines  # default recipient: the sender itself
    assert "Subject: mailops.live_smtp smtp_check test message" in peer.notes["message"]


def test_rejected_recipient_aborts_data_without_sending_the_message(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server, rcpt_reply="550 5.7.520 Access denied, Your organization does not allow "
                                                     "external forwarding."))
    result = run(peer, pki, username=USER, password=PASSWORD, send_message=True, rcpt_to=["x@example.com"])
    assert (result["failed_stage"], result["reason"]) == ("rcpt", "forwarding_blocked")
    assert result["reply"] == {"code": 550, "enhanced": "5.7.520",
                               "text": "5.7.520 Access denied, Your organization does not allow external forwarding."}
    assert peer.notes.get("data_aborted") is True and "message" not in peer.notes
    assert result["message_sent"] is False


def test_auth_failure_is_classified(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server, auth_replies={
        "LOGIN": "535 5.7.139 Authentication unsuccessful, basic authentication is disabled."}))
    result = run(peer, pki, username=USER, password=PASSWORD)
    assert (result["ok"], result["failed_stage"], result["reason"]) == (False, "auth", "basic_auth_disabled")
    assert result["reply"]["code"] == 535 and "OAuth2" in result["hint"]
    assert any("September 2024" in warning for warning in result["warnings"])


def test_no_starttls_means_no_credentials(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server, offer_starttls=False))
    result = run(peer, pki, username=USER, password=PASSWORD)
    assert (result["failed_stage"], result["reason"]) == ("starttls", "starttls_unavailable")
    assert not any(line.startswith(("AUTH", "STARTTLS")) for line in peer.lines)
    assert result["tls"] is None


def test_untrusted_certificate_means_no_credentials(peers, pki, tls_server):
    other_ca = trustme.CA()
    peer = peers(outlook_like(_context(other_ca.issue_cert("localhost", "127.0.0.1"))))
    result = run(peer, pki, username=USER, password=PASSWORD)
    assert (result["failed_stage"], result["reason"]) == ("tls", "cert_untrusted")
    assert "auth" not in peer.notes and PASSWORD not in repr(result)


def test_wrong_name_is_a_hostname_mismatch(peers, pki):
    peer = peers(outlook_like(_context(pki[0].issue_cert("wrong.example.net"))))
    result = run(peer, pki, host="localhost", username=USER, password=PASSWORD)
    assert (result["failed_stage"], result["reason"]) == ("tls", "cert_hostname_mismatch")
    assert "auth" not in peer.notes


def test_validate_certs_false_proceeds_but_never_claims_verified(peers, pki):
    other_ca = trustme.CA()
    peer = peers(outlook_like(_context(other_ca.issue_cert("wrong.example.net"))))
    result = run(peer, pki, username=USER, password=PASSWORD, validate_certs=False)
    assert result["ok"] is True and result["authenticated"] is True
    assert result["tls"]["verified"] is False
    assert result["tls"]["san"] == ["wrong.example.net"]  # details are there even without verification


def test_certificate_expiring_soon_warns(peers, pki):
    soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=5, hours=1)
    peer = peers(outlook_like(_context(pki[0].issue_cert("localhost", "127.0.0.1", not_after=soon))))
    result = run(peer, pki, cert_min_days=14)
    assert result["ok"] is True and result["tls"]["days_left"] == 5
    assert any("expires in 5 days" in warning for warning in result["warnings"])


def test_implicit_tls(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server, implicit_tls=True))
    result = run(peer, pki, security="tls", username=USER, password=PASSWORD)
    assert result["ok"] is True and result["esmtp"]["before_tls"] is None
    assert result["tls"]["verified"] is True


def test_silent_listener_is_a_banner_timeout(peers, pki):
    peer = peers(lambda conn, notes: notes.update(eof=conn.closed_by_client(8)))
    result = run(peer, pki, timeout=1)
    assert (result["failed_stage"], result["reason"]) == ("banner", "banner_timeout")
    assert peer.notes["eof"] is True  # the client gave up by itself (after its 1 s, long before the peer's 8 s)


def test_banner_421_is_service_unavailable(peers, pki):
    peer = peers(lambda conn, notes: conn.send("421 4.3.2 Service not available"))
    result = run(peer, pki)
    assert (result["failed_stage"], result["reason"], result["reply"]["code"]) == ("banner", "service_unavailable", 421)


def test_connection_lost_during_auth(peers, pki, tls_server):
    def script(conn, notes):
        conn.send("220 peer.test ready")
        tls = False
        while True:
            line = conn.line()
            if line.startswith("EHLO"):
                conn.send("250-peer.test", "250-PIPELINING", "250 STARTTLS" if not tls else "250 AUTH LOGIN XOAUTH2")
            elif line == "STARTTLS":
                conn.send("220 go ahead")
                conn.starttls(tls_server)
                tls = True
            else:
                notes["last"] = line.split()[0:2]
                return  # hang up after the AUTH command
    peer = peers(script)
    result = run(peer, pki, username=USER, oauth2_access_token=TOKEN)
    assert peer.notes["last"] == ["AUTH", "XOAUTH2"]
    assert (result["failed_stage"], result["reason"]) == ("auth", "connection_lost")


def test_refused_port(pki):
    result = probe(host="127.0.0.1", port=_closed_port(), timeout=2)
    assert (result["failed_stage"], result["reason"], result["address"]) == ("connect", "connection_refused", None)
    assert result["addresses"] == ["127.0.0.1"]


def _closed_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- DNS through given nameservers (dnspython) ---------------------------------------------------------------------

class DnsResponder:
    """UDP DNS on 127.0.0.1: names starting with nx -> NXDOMAIN, silent.test -> no answer, else 127.0.0.1 / ::1."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.queries = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                wire, client = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            query = dns.message.from_wire(wire)
            question = query.question[0]
            name = question.name.to_text()
            self.queries.append((name, dns.rdatatype.to_text(question.rdtype)))
            if name.startswith("silent."):
                continue
            response = dns.message.make_response(query)
            if name.startswith("nx"):
                response.set_rcode(dns.rcode.NXDOMAIN)
            elif question.rdtype == dns.rdatatype.A:
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "A", "127.0.0.1"))
            elif question.rdtype == dns.rdatatype.AAAA and not name.startswith("v4only."):
                response.answer.append(dns.rrset.from_text(question.name, 60, "IN", "AAAA", "::1"))
            self.sock.sendto(response.to_wire(), client)

    def stop(self):
        self.running = False
        self.thread.join(2)
        self.sock.close()


@pytest.fixture()
def responder():
    server = DnsResponder()
    yield server
    server.stop()


@pytest.mark.parametrize("ip_version, expected", [("any", ["127.0.0.1", "::1"]), ("4", ["127.0.0.1"]), ("6", ["::1"])])
def test_resolve_through_nameservers(responder, ip_version, expected):
    deadline = wire.Deadline(5)
    assert network.resolve("smtp-mail.outlook.com", 587, ip_version, ["127.0.0.1:%d" % responder.port],
                           deadline) == expected
    assert all(name == "smtp-mail.outlook.com." for name, _type in responder.queries)


@pytest.mark.parametrize("host, ip_version, reason", [
    ("nx.outlook.com", "any", "dns_nxdomain"),
    ("silent.test", "any", "dns_timeout"),
    ("v4only.test", "6", "dns_no_address"),
])
def test_resolve_failures(responder, host, ip_version, reason):
    with pytest.raises(ProbeError) as info:
        network.resolve(host, 587, ip_version, ["127.0.0.1:%d" % responder.port], wire.Deadline(1))
    assert (info.value.stage, info.value.reason) == ("dns", reason)


def test_probe_tries_addresses_in_order(responder, peers, pki, tls_server):
    peer = peers(outlook_like(tls_server))
    result = run(peer, pki, host="localhost", ip_version="any", nameservers=["127.0.0.1:%d" % responder.port])
    assert result["ok"] is True
    assert result["addresses"] == ["127.0.0.1", "::1"] and result["address"] == "127.0.0.1"
    assert "dns" in result["timings_ms"]


def test_credentials_without_tls_are_allowed_only_with_a_warning(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server, offer_starttls=False, auth_in_clear=True))
    result = run(peer, pki, security="none", username="me@example.com", password=PASSWORD)
    assert result["ok"] is True and result["auth_mechanism"] == "LOGIN"
    assert peer.notes["auth"][0][1] is False and peer.notes["password"] == PASSWORD  # sent in the clear, as asked
    assert [warning for warning in result["warnings"] if "unencrypted" in warning] == [
        "security is none: the credentials went over the network unencrypted"]


def test_no_warning_when_no_credential_was_sent_without_tls(peers, pki, tls_server):
    peer = peers(outlook_like(tls_server, offer_starttls=False))
    result = run(peer, pki, security="none", username="me@example.com", password=PASSWORD)
    assert not any("unencrypted" in warning for warning in result["warnings"])
    assert result["failed_stage"] == "auth" and result["reason"] == "auth_mechanism_unavailable"  # no AUTH offered
    assert "security" in result["hint"] and "auth" not in peer.notes
