# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""An SMTP submission probe on plain socket + ssl: DNS, TCP, banner, EHLO, STARTTLS/TLS, AUTH, envelope, DATA.

Written for few round trips (the check often runs over slow links): AUTH carries its initial response, MAIL/RCPT/RSET
go in one write when the server offers PIPELINING, QUIT is sent without waiting for its reply, and one deadline
bounds the whole probe. probe() takes plain values and returns a plain dict; it never raises for what the network or
the server did (that is the result), only ConfigError for option values it cannot use.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import errno
import ipaddress
import os
import re
import socket
import ssl
import threading
import time
import traceback
import warnings
from email.utils import formatdate

from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2, _outlook

try:
    import dns.exception
    import dns.resolver
    HAS_DNSPYTHON = True
    DNSPYTHON_IMPORT_ERROR = None
except ImportError:
    HAS_DNSPYTHON = False
    DNSPYTHON_IMPORT_ERROR = traceback.format_exc()

TLS_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
SECURITY_CHOICES = ("starttls", "tls", "none")
AUTH_CHOICES = ("auto", "login", "plain", "xoauth2", "none")
IP_VERSIONS = ("any", "4", "6")
_MAX_REPLY = 64 * 1024
_TIMEOUT_REASON = {"dns": "dns_timeout", "connect": "connect_timeout", "banner": "banner_timeout"}
# OpenSSL verify codes (X509_V_ERR_*) -> reason
_VERIFY_REASON = {9: "cert_expired", 10: "cert_expired", 62: "cert_hostname_mismatch", 64: "cert_hostname_mismatch"}
_VERSION_ERRORS = ("UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE", "VERSION_TOO_LOW",
                   "TLSV1_ALERT_INSUFFICIENT_SECURITY")
_UNSAFE = re.compile(r"[\r\n\x00<>]")


class ConfigError(Exception):
    """An option value the probe cannot use (bad nameserver syntax, CR/LF in an address, ...)."""


class MissingLibraryError(ConfigError):
    """nameservers needs dnspython."""

    def __init__(self, library, import_error):
        super(MissingLibraryError, self).__init__("%s is required for nameservers" % library)
        self.library = library
        self.import_error = import_error


class ProbeError(Exception):
    """A failure of the probe at a stage; becomes the result's failed_stage/reason/hint/reply/detail."""

    def __init__(self, stage, reason, detail=None, reply=None, hint=None):
        super(ProbeError, self).__init__("%s at %s: %s" % (reason, stage, detail))
        self.stage = stage
        self.reason = reason
        self.detail = detail
        self.reply = reply
        self.hint = hint if hint is not None else _outlook.hint_for(reason)


class Reply:
    """One SMTP reply: code, enhanced status code (or None) and the text lines."""

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines
        match = re.match(r"^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)", lines[0] if lines else "")
        self.enhanced = match.group(1) if match and match.group(1)[0] == str(code)[0] else None

    @property
    def text(self):
        return "\n".join(self.lines)

    def as_dict(self):
        return {"code": self.code, "enhanced": self.enhanced, "text": self.text}

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


class Deadline:
    """One deadline for the whole probe; every blocking call gets the time that is left."""

    def __init__(self, seconds, clock=time.monotonic):
        self.clock = clock
        self.end = clock() + float(seconds)

    def remaining(self):
        return self.end - self.clock()

    def left(self, stage):
        remaining = self.remaining()
        if remaining <= 0:
            raise ProbeError(stage, _TIMEOUT_REASON.get(stage, "response_timeout"), "the timeout ran out")
        return remaining


def default_security(port, security=None):
    """tls (implicit TLS) for port 465, else starttls, unless given."""
    if security:
        return security
    return "tls" if int(port) == 465 else "starttls"


def parse_nameserver(entry):
    """'IP', 'IP:port', '[IPv6]:port' or a bare IPv6 address -> (ip, port)."""
    text = str(entry).strip()
    port = 53
    match = re.match(r"^\[([^\]]+)\](?::(\d+))?$", text)
    if match:
        host, port_text = match.group(1), match.group(2)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None
    if port_text is not None:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ConfigError("nameserver %r: port out of range" % entry)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError("nameserver %r is not an IP address, IP:port or [IPv6]:port" % entry)
    return str(address), port


def ip_literal(host):
    """The address if host is an IP literal (optionally in brackets), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def parse_ehlo(reply):
    """EHLO reply -> {KEYWORD: parameters} (the greeting line is skipped)."""
    extensions = {}
    for line in reply.lines[1:]:
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        keyword = parts[0].upper()
        params = parts[1].strip() if len(parts) > 1 else ""
        if keyword.startswith("AUTH="):  # old-style "AUTH=LOGIN PLAIN"
            keyword, params = "AUTH", (keyword[5:] + " " + params).strip()
            if "AUTH" in extensions:
                continue
        extensions[keyword] = params
    return extensions


def auth_mechanisms(extensions):
    return [mech.upper() for mech in extensions.get("AUTH", "").split()]


def choose_mechanism(auth, offered, has_password, has_token):
    """The SASL mechanism to use, or None for no AUTH. Raises ProbeError when the server lacks it."""
    if auth == "none":
        return None
    if auth == "auto":
        if has_token:
            wanted = ["XOAUTH2"]
        elif has_password:
            wanted = ["LOGIN", "PLAIN"]
        else:
            return None
    else:
        wanted = [auth.upper()]
    for mechanism in wanted:
        if mechanism in offered:
            return mechanism
    raise ProbeError("auth", "auth_mechanism_unavailable",
                     "wanted %s; the server offers %s" % (" or ".join(wanted), " ".join(offered) or "no AUTH"))


def classify_tls_error(exc):
    """ssl exception from a handshake -> (reason, detail)."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return _VERIFY_REASON.get(exc.verify_code, "cert_untrusted"), "certificate verify failed: %s" % exc.verify_message
    name = getattr(exc, "reason", None) or ""
    if name in _VERSION_ERRORS:
        return "tls_version_rejected", "no shared TLS version (%s)" % name
    if name == "WRONG_VERSION_NUMBER":
        return "tls_handshake_failed", "the peer does not speak TLS here (WRONG_VERSION_NUMBER)"
    return "tls_handshake_failed", str(exc)


def tls_context(validate_certs=True, ca_path=None, min_tls_version="TLSv1.2"):
    context = _oauth2.ssl_context(ca_path, validate_certs)
    if TLS_VERSIONS[min_tls_version] < ssl.TLSVersion.TLSv1_2:
        # Asked for explicitly: OpenSSL 3 allows TLS 1.0/1.1 only at security level 0.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = TLS_VERSIONS[min_tls_version]
    return context


# --- a few lines of DER, so certificate details are there even when validate_certs is false (getpeercert() is
# --- empty then) -------------------------------------------------------------------------------------------------

_NAME_OIDS = {"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU"}


def _der_items(data):
    pos = 0
    while pos < len(data):
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        yield tag, data[pos:pos + length]
        pos += length


def _der_oid(value):
    first = value[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    number = 0
    for byte in value[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(str(part) for part in parts)


def _der_string(tag, value):
    if tag == 0x1E:
        return value.decode("utf-16-be", "replace")
    if tag == 0x14:
        return value.decode("latin-1")
    return value.decode("utf-8", "replace")


def _der_name(value):
    parts = []
    for _tag, rdn in _der_items(value):
        for _tag2, attribute in _der_items(rdn):
            (_t, oid), (stag, svalue) = list(_der_items(attribute))[:2]
            oid = _der_oid(oid)
            parts.append("%s=%s" % (_NAME_OIDS.get(oid, oid), _der_string(stag, svalue)))
    return ", ".join(parts)


def _der_time(tag, value):
    text = value.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSS
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    return datetime.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)


def certificate_info(der, now=None):
    """subject, issuer, san, not_after (ISO 8601 UTC) and days_left of a DER certificate; {} if unparsable."""
    try:
        (_tag, certificate), = list(_der_items(der))[:1]
        tbs = list(_der_items(list(_der_items(certificate))[0][1]))
        if tbs[0][0] == 0xA0:  # explicit version
            tbs = tbs[1:]
        issuer, validity, subject = tbs[2][1], tbs[3][1], tbs[4][1]
        not_after = _der_time(*list(_der_items(validity))[1])
        san = []
        for tag, value in tbs[6:]:
            if tag != 0xA3:
                continue
            for _t, extension in _der_items(list(_der_items(value))[0][1]):
                fields = list(_der_items(extension))
                if _der_oid(fields[0][1]) != "2.5.29.17":
                    continue
                for gtag, gvalue in _der_items(list(_der_items(fields[-1][1]))[0][1]):
                    if gtag == 0x82:
                        san.append(gvalue.decode("ascii", "replace"))
                    elif gtag == 0x87:
                        san.append(str(ipaddress.ip_address(gvalue)))
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return {
            "subject": _der_name(subject),
            "issuer": _der_name(issuer),
            "san": san,
            "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_left": int((not_after - now).total_seconds() // 86400),
        }
    except (ValueError, IndexError, TypeError, UnicodeDecodeError):
        return {}


# --- the wire ------------------------------------------------------------------------------------------------------

class _ConnectionClosed(Exception):
    pass


class Session:
    """A socket with a read buffer; every call bounded by the probe's deadline."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buffer = bytearray()
        self.stage = "banner"

    def send(self, data):
        self.sock.settimeout(self.deadline.left(self.stage))
        self.sock.sendall(data)

    def send_lines(self, lines):
        self.send("".join(line + "\r\n" for line in lines).encode("utf-8"))

    def _read_line(self):
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line.rstrip(b"\r\n").decode("utf-8", "replace")
            if len(self.buffer) > _MAX_REPLY:
                raise ProbeError(self.stage, "protocol_error", "reply line longer than %d bytes" % _MAX_REPLY)
            self.sock.settimeout(self.deadline.left(self.stage))
            chunk = self.sock.recv(16384)
            if not chunk:
                raise _ConnectionClosed()
            self.buffer += chunk

    def read_reply(self):
        lines = []
        code = None
        while True:
            line = self._read_line()
            match = re.match(r"^(\d{3})([ -]?)(.*)$", line)
            if not match or (code is not None and int(match.group(1)) != code):
                raise ProbeError(self.stage, "protocol_error", "not an SMTP reply: %r" % line[:200])
            code = int(match.group(1))
            lines.append(match.group(3))
            if match.group(2) != "-":
                return Reply(code, lines)
            if len(lines) > 1000:
                raise ProbeError(self.stage, "protocol_error", "endless multi-line reply")

    def command(self, line):
        self.send_lines([line])
        return self.read_reply()

    def wrap(self, context, server_hostname):
        self.sock.settimeout(self.deadline.left(self.stage))
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.buffer = bytearray()

    def close(self, quit_first=True):
        if self.sock is None:
            return
        try:
            if quit_first:
                self.sock.settimeout(0.5)
                self.sock.sendall(b"QUIT\r\n")  # no wait for the 221: it would cost one round trip
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def _fail_reply(stage, reply):
    reason, hint, failed_stage = _outlook.classify_reply(stage, reply.code, reply.enhanced, reply.text)
    raise ProbeError(failed_stage, reason, reply=reply, hint=hint)


def _expect(stage, reply, codes):
    if reply.code not in codes:
        _fail_reply(stage, reply)
    return reply


# --- DNS -----------------------------------------------------------------------------------------------------------

def _resolve_dnspython(host, port, ip_version, nameservers, deadline):
    servers = [parse_nameserver(entry) for entry in nameservers]
    rdtypes = {"4": ["A"], "6": ["AAAA"], "any": ["A", "AAAA"]}[ip_version]
    answers = {}
    errors = {}

    def query(rdtype):
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameserver_ports = dict((ip, ns_port) for ip, ns_port in servers)
        resolver.port = servers[0][1]
        resolver.nameservers = [ip for ip, _port in servers]
        lifetime = max(deadline.remaining(), 0.01)
        resolver.timeout = resolver.lifetime = lifetime
        try:
            answer = resolver.resolve(host.rstrip(".") + ".", rdtype, lifetime=lifetime, search=False)
            answers[rdtype] = [record.address for record in answer]
        except Exception as exc:  # pylint: disable=broad-except  # sorted out below, by class
            errors[rdtype] = exc

    threads = [threading.Thread(target=query, args=(rdtype,)) for rdtype in rdtypes]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join(max(deadline.remaining(), 0) + 0.05)
    addresses = []
    for rdtype in rdtypes:
        addresses.extend(answers.get(rdtype, []))
    if addresses:
        return addresses
    found = list(errors.values())
    if any(isinstance(exc, dns.resolver.NXDOMAIN) for exc in found):
        raise ProbeError("dns", "dns_nxdomain", "%s does not exist" % host)
    if len(found) < len(rdtypes) or any(isinstance(exc, dns.exception.Timeout) for exc in found):
        raise ProbeError("dns", "dns_timeout", "no answer from %s" % ", ".join(nameservers))
    if all(isinstance(exc, dns.resolver.NoAnswer) for exc in found):
        raise ProbeError("dns", "dns_no_address", "%s has no %s record" % (host, " or ".join(rdtypes)))
    raise ProbeError("dns", "dns_failed", "; ".join(sorted(set(str(exc) for exc in found))))


def _resolve_system(host, port, ip_version, deadline):
    family = {"4": socket.AF_INET, "6": socket.AF_INET6, "any": socket.AF_UNSPEC}[ip_version]
    outcome = {}

    def lookup():
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except socket.gaierror as exc:
            outcome["error"] = exc
        except (OSError, UnicodeError) as exc:
            outcome["error"] = exc

    # getaddrinfo has no timeout of its own: run it aside and stop waiting at the deadline.
    thread = threading.Thread(target=lookup)
    thread.daemon = True
    thread.start()
    thread.join(max(deadline.remaining(), 0))
    if thread.is_alive():
        raise ProbeError("dns", "dns_timeout", "the system resolver did not answer in time")
    error = outcome.get("error")
    if error is not None:
        code = getattr(error, "errno", None)
        if code == socket.EAI_NONAME:
            raise ProbeError("dns", "dns_nxdomain", "%s: %s" % (host, error))
        if code == socket.EAI_AGAIN:
            raise ProbeError("dns", "dns_timeout", "%s: %s" % (host, error))
        if code in (getattr(socket, "EAI_NODATA", None), getattr(socket, "EAI_ADDRFAMILY", None)):
            raise ProbeError("dns", "dns_no_address", "%s: %s" % (host, error))
        raise ProbeError("dns", "dns_failed", "%s: %s" % (host, error))
    addresses = []
    for info in outcome["infos"]:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    if not addresses:
        raise ProbeError("dns", "dns_no_address", "%s has no address" % host)
    return addresses


def resolve(host, port, ip_version="any", nameservers=None, deadline=None):
    """Addresses to try, in order. An IP literal is used as it is."""
    deadline = deadline or Deadline(30)
    literal = ip_literal(host)
    if literal is not None:
        version = str(ipaddress.ip_address(literal).version)
        if ip_version not in ("any", version):
            raise ProbeError("dns", "dns_no_address", "%s is an IPv%s address but ip_version is %s"
                             % (literal, version, ip_version))
        return [literal]
    if nameservers:
        if not HAS_DNSPYTHON:
            raise MissingLibraryError("dnspython", DNSPYTHON_IMPORT_ERROR)
        return _resolve_dnspython(host, port, ip_version, nameservers, deadline)
    return _resolve_system(host, port, ip_version, deadline)


# --- connect -------------------------------------------------------------------------------------------------------

# When every address fails, the reason reported: a drop (firewall) explains more than a refusal elsewhere.
_CONNECT_PRIORITY = ("connect_timeout", "connection_refused", "network_unreachable", "connection_failed")


def _connect(addresses, port, deadline):
    """Try the addresses in order; each gets an equal share of the time left. Returns (socket, address)."""
    failures = []
    for index, address in enumerate(addresses):
        share = deadline.left("connect") / (len(addresses) - index)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(share)
            sock.connect((address, port))
            return sock, address
        except socket.timeout:
            failures.append(("connect_timeout", "%s port %d: no answer in %.1f s" % (address, port, share)))
        except ConnectionRefusedError:
            failures.append(("connection_refused", "%s port %d: connection refused" % (address, port)))
        except OSError as exc:
            reason = "network_unreachable" if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH,
                                                            errno.EADDRNOTAVAIL) else "connection_failed"
            failures.append((reason, "%s port %d: %s" % (address, port, exc.strerror or exc)))
        sock.close()
    best = min(failures, key=lambda failure: _CONNECT_PRIORITY.index(failure[0]))
    raise ProbeError("connect", best[0], "; ".join(detail for _reason, detail in failures))


# --- the probe -----------------------------------------------------------------------------------------------------

class _Token(threading.Thread):
    """Fetches the OAuth2 access token while DNS, TCP and TLS are under way."""

    def __init__(self, oauth2, validate_certs, ca_path, timeout):
        super(_Token, self).__init__()
        self.daemon = True
        self.oauth2 = oauth2
        self.kwargs = {"validate_certs": validate_certs, "ca_file": ca_path, "timeout": timeout}
        self.result = None
        self.error = None
        self.elapsed = None

    def run(self):
        started = time.monotonic()
        try:
            self.result = _oauth2.refresh_access_token(
                self.oauth2["client_id"], self.oauth2["refresh_token"], token_url=self.oauth2.get("token_url"),
                tenant=self.oauth2.get("tenant") or "consumers", scope=self.oauth2.get("scope") or _oauth2.DEFAULT_SCOPE,
                client_secret=self.oauth2.get("client_secret"), **self.kwargs)
        except _oauth2.OAuth2Error as exc:
            self.error = exc
        except Exception as exc:  # pylint: disable=broad-except  # a thread must report, never die silently
            self.error = _oauth2.OAuth2Error("bad_response", "%s: %s" % (type(exc).__name__, exc))
        self.elapsed = time.monotonic() - started


def _check_text(name, value):
    if value is not None and _UNSAFE.search(str(value)):
        raise ConfigError("%s must not contain CR, LF, NUL, < or >" % name)


def default_ehlo_name():
    name = socket.gethostname()
    if re.match(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", name or ""):
        return name
    return "localhost"


def build_test_message(mail_from, rcpt_to, ehlo_name):
    """A short, plain message (CRLF, dot-stuffed, ending with the terminating dot)."""
    domain = mail_from.rsplit("@", 1)[-1] if "@" in mail_from else ehlo_name
    lines = [
        "From: <%s>" % mail_from,
        "To: %s" % ", ".join("<%s>" % rcpt for rcpt in rcpt_to),
        "Subject: mailops.live_smtp smtp_check test message",
        "Date: %s" % formatdate(localtime=True),
        "Message-ID: <%s.%s@%s>" % (int(time.time() * 1000), base64.b32encode(os.urandom(5)).decode("ascii").lower(),
                                    domain),
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "This is a test message from the mailops.live_smtp.smtp_check Ansible module on %s." % ehlo_name,
        "It checks that this host can submit mail through the account. You can delete it.",
    ]
    body = "".join(("." + line if line.startswith(".") else line) + "\r\n" for line in lines)
    return (body + ".\r\n").encode("utf-8")


def new_result():
    return {
        "ok": False, "failed_stage": None, "reason": None, "hint": None, "detail": None, "reply": None,
        "addresses": [], "address": None, "banner": None, "esmtp": {"before_tls": None, "after_tls": None},
        "auth_mechanisms": [], "auth_mechanism": None, "authenticated": False, "tls": None, "message_sent": False,
        "oauth2_refresh_token_rotated": False, "timings_ms": {}, "warnings": [],
    }


class _Timer:
    def __init__(self, result, clock=time.monotonic):
        self.timings = result["timings_ms"]
        self.clock = clock

    def add(self, phase, started):
        self.timings[phase] = round((self.clock() - started) * 1000, 1)


def _wire_error(stage, exc):
    """An OS/SSL exception during a stage -> ProbeError."""
    if isinstance(exc, socket.timeout):
        return ProbeError(stage, _TIMEOUT_REASON.get(stage, "response_timeout"), "no answer before the timeout")
    if stage == "tls" and isinstance(exc, ssl.SSLError):
        reason, detail = classify_tls_error(exc)
        return ProbeError("tls", reason, detail)
    if stage == "tls":
        return ProbeError("tls", "tls_handshake_failed", "the server closed the connection during the handshake: %s"
                          % (exc or "EOF"))
    if isinstance(exc, _ConnectionClosed):
        return ProbeError(stage, "connection_lost", "the server closed the connection")
    return ProbeError(stage, "connection_lost", str(exc))


def probe(host="smtp-mail.outlook.com", port=587, security=None, timeout=30.0, ehlo_name=None, ip_version="any",
          nameservers=None, validate_certs=True, ca_path=None, min_tls_version="TLSv1.2", cert_min_days=14,
          username=None, password=None, auth="auto", oauth2_access_token=None, oauth2=None, mail_from=None,
          rcpt_to=None, send_message=False):
    """Probe one endpoint. Returns the result dict (see new_result()); raises only ConfigError."""
    security = default_security(port, security)
    if security not in SECURITY_CHOICES or auth not in AUTH_CHOICES or ip_version not in IP_VERSIONS:
        raise ConfigError("security, auth or ip_version has a value outside its choices")
    if min_tls_version not in TLS_VERSIONS:
        raise ConfigError("min_tls_version must be one of %s" % ", ".join(TLS_VERSIONS))
    for name, value in (("username", username), ("mail_from", mail_from), ("ehlo_name", ehlo_name),
                        ("host", host)):
        _check_text(name, value)
    rcpt_to = list(rcpt_to or [])
    for rcpt in rcpt_to:
        _check_text("rcpt_to", rcpt)
    if nameservers and ip_literal(host) is None:
        for entry in nameservers:
            parse_nameserver(entry)
        if not HAS_DNSPYTHON:
            raise MissingLibraryError("dnspython", DNSPYTHON_IMPORT_ERROR)
    has_token = bool(oauth2_access_token or oauth2)
    if auth == "xoauth2" and not has_token:
        raise ConfigError("auth xoauth2 needs oauth2_access_token or oauth2")
    if auth in ("login", "plain") and password is None:
        raise ConfigError("auth %s needs password" % auth)
    if auth != "none" and (has_token or password is not None) and not username:
        raise ConfigError("authentication needs username")
    if send_message or rcpt_to:
        mail_from = mail_from or username
        if not mail_from:
            raise ConfigError("mail_from (or username) is needed for rcpt_to and send_test_message")
    if send_message and not rcpt_to:
        rcpt_to = [mail_from]
    ehlo_name = ehlo_name or default_ehlo_name()

    result = new_result()
    password_auth = auth in ("login", "plain") or (auth == "auto" and not has_token and password is not None)
    result["warnings"].extend(_outlook.endpoint_warnings(host, port, username, password_auth))
    if security == "none" and auth != "none" and (has_token or password is not None):
        result["warnings"].append("security is none: credentials go over the network unencrypted")

    context = None
    if security != "none":
        try:
            context = tls_context(validate_certs, ca_path, min_tls_version)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError("cannot load ca_path %s: %s" % (ca_path, exc))
    server_hostname = host.strip("[]")

    started = time.monotonic()
    deadline = Deadline(timeout)
    timer = _Timer(result)
    token = None
    if oauth2 and not oauth2_access_token and auth in ("auto", "xoauth2"):
        token = _Token(oauth2, validate_certs, ca_path, max(timeout, 0.1))
        token.start()
    session = None
    quit_first = True
    try:
        t0 = time.monotonic()
        result["addresses"] = resolve(host, port, ip_version, nameservers, deadline)
        if ip_literal(host) is None:
            timer.add("dns", t0)

        t0 = time.monotonic()
        try:
            sock, result["address"] = _connect(result["addresses"], port, deadline)
        finally:
            timer.add("connect", t0)
        session = Session(sock, deadline)

        def tls_handshake():
            t_tls = time.monotonic()
            session.stage = "tls"
            session.wrap(context, server_hostname)
            timer.add("tls", t_tls)
            result["tls"] = _tls_details(session.sock, validate_certs)
            days_left = result["tls"].get("days_left")
            if days_left is not None and days_left < cert_min_days:
                result["warnings"].append("the certificate of %s expires in %d days (%s), less than cert_min_days %d"
                                          % (host, days_left, result["tls"].get("not_after"), cert_min_days))

        try:
            if security == "tls":
                tls_handshake()

            session.stage = "banner"
            t0 = time.monotonic()
            banner = session.read_reply()
            timer.add("banner", t0)
            result["banner"] = banner.text
            _expect("banner", banner, (220,))

            session.stage = "ehlo"
            t0 = time.monotonic()
            extensions = parse_ehlo(_expect("ehlo", session.command("EHLO " + ehlo_name), (250,)))
            timer.add("ehlo", t0)
            result["esmtp"]["after_tls" if security == "tls" else "before_tls"] = extensions

            if security == "starttls":
                session.stage = "starttls"
                if "STARTTLS" not in extensions:
                    raise ProbeError("starttls", "starttls_unavailable",
                                     "the EHLO reply lists no STARTTLS; nothing was sent unencrypted")
                t0 = time.monotonic()
                _expect("starttls", session.command("STARTTLS"), (220,))
                timer.add("starttls", t0)
                if session.buffer:
                    raise ProbeError("starttls", "protocol_error", "data after the STARTTLS reply (injection?)")
                tls_handshake()
                session.stage = "ehlo"
                t0 = time.monotonic()
                extensions = parse_ehlo(_expect("ehlo", session.command("EHLO " + ehlo_name), (250,)))
                timer.add("ehlo_tls", t0)
                result["esmtp"]["after_tls"] = extensions

            result["auth_mechanisms"] = auth_mechanisms(extensions)
            session.stage = "auth"
            t0 = time.monotonic()
            mechanism = choose_mechanism(auth, result["auth_mechanisms"], password is not None, has_token)
            if mechanism:
                if security != "none" and not isinstance(session.sock, ssl.SSLSocket):
                    raise ProbeError("auth", "insecure_connection", "no TLS on the connection")
                access_token = oauth2_access_token
                if mechanism == "XOAUTH2" and token is not None:
                    access_token = _await_token(token, deadline, result)
                _authenticate(session, mechanism, username, password, access_token)
                result["auth_mechanism"] = mechanism
                result["authenticated"] = True
                timer.add("auth", t0)

            if mail_from or rcpt_to:
                session.stage = "mail"
                t0 = time.monotonic()
                _envelope(session, mail_from, rcpt_to, extensions, send_message, ehlo_name, result, timer)
                timer.add("envelope", t0)
        except (OSError, _ConnectionClosed) as exc:
            quit_first = False
            error = _wire_error(session.stage, exc)
            hung_up = not isinstance(exc, ssl.SSLError) or getattr(exc, "reason", None) == "UNEXPECTED_EOF_WHILE_READING"
            if error.reason == "tls_handshake_failed" and hung_up:
                # The peer hung up on our hello without an alert: find out whether it speaks only TLS < 1.2.
                old_version = _old_tls_only(result["address"], port, security, ehlo_name, server_hostname, deadline)
                if old_version:
                    error = ProbeError("tls", "tls_version_rejected", "the server speaks only %s; min_tls_version is %s"
                                       % (old_version, min_tls_version))
            raise error
        result["ok"] = True
    except ProbeError as exc:
        result["failed_stage"] = exc.stage
        result["reason"] = exc.reason
        result["hint"] = _outlook.adjust_hint(exc.hint, host, port)
        result["detail"] = exc.detail
        if exc.reply is not None:
            result["reply"] = exc.reply.as_dict()
    finally:
        if session is not None:
            session.close(quit_first=quit_first)
        if token is not None and token.elapsed is not None:
            result["timings_ms"]["token"] = round(token.elapsed * 1000, 1)
        result["timings_ms"]["total"] = round((time.monotonic() - started) * 1000, 1)
    return result


def _old_tls_only(address, port, security, ehlo_name, server_hostname, deadline):
    """A second connection, no credentials: the TLS version the server negotiates when only TLS 1.0/1.1 are allowed,
    or None."""
    session = None
    try:
        sock, _address = _connect([address], port, deadline)
        session = Session(sock, deadline)
        if security == "starttls":
            session.read_reply()
            session.command("EHLO " + ehlo_name)
            if session.command("STARTTLS").code != 220:
                return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # old TLS on purpose, for diagnosis only
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        session.wrap(context, server_hostname)
        return session.sock.version()
    except (ProbeError, OSError, _ConnectionClosed, ValueError):
        return None
    finally:
        if session is not None:
            session.close()


def _await_token(token, deadline, result):
    token.join(max(deadline.remaining(), 0))
    if token.is_alive():
        raise ProbeError("auth", "token_refresh_failed", "the token endpoint did not answer before the timeout",
                         hint=_outlook.token_hint("endpoint_unreachable"))
    if token.error is not None:
        raise ProbeError("auth", "token_refresh_failed", "%s: %s" % (token.error.reason, token.error.description),
                         hint=_outlook.token_hint(token.error.reason))
    result["oauth2_refresh_token_rotated"] = bool(token.result.get("rotated"))
    return token.result["access_token"]


def _tls_details(sock, validate_certs):
    der = sock.getpeercert(binary_form=True)
    details = {"version": sock.version(), "cipher": (sock.cipher() or [None])[0],
               "verified": bool(validate_certs), "subject": None, "issuer": None, "san": [], "not_after": None,
               "days_left": None}
    if der:
        details.update(certificate_info(der))
    return details


def _authenticate(session, mechanism, username, password, access_token):
    """One round trip for XOAUTH2 and PLAIN, two for LOGIN (user in the AUTH line, password on the 334)."""
    if mechanism == "XOAUTH2":
        reply = session.command("AUTH XOAUTH2 " + _oauth2.xoauth2_initial_response(username, access_token))
        if reply.code == 334:  # an error challenge (JSON); the empty answer ends the exchange with the real reply
            reply = session.command("")
    elif mechanism == "PLAIN":
        raw = ("\0%s\0%s" % (username, password)).encode("utf-8")
        reply = session.command("AUTH PLAIN " + base64.b64encode(raw).decode("ascii"))
    else:
        reply = session.command("AUTH LOGIN " + base64.b64encode(username.encode("utf-8")).decode("ascii"))
        if reply.code == 334:
            reply = session.command(base64.b64encode(password.encode("utf-8")).decode("ascii"))
    _expect("auth", reply, (235,))


def _envelope(session, mail_from, rcpt_to, extensions, send_message, ehlo_name, result, timer):
    """MAIL, RCPT..., then RSET (probe) or DATA + message. One write when PIPELINING is offered."""
    params = ""
    if any(ord(char) > 127 for char in mail_from + "".join(rcpt_to)) and "SMTPUTF8" in extensions:
        params = " SMTPUTF8"
    commands = [("mail", "MAIL FROM:<%s>%s" % (mail_from, params), (250,))]
    commands += [("rcpt", "RCPT TO:<%s>" % rcpt, (250, 251)) for rcpt in rcpt_to]
    commands.append(("data", "DATA", (354,)) if send_message else ("mail", "RSET", (250,)))
    failure = None
    if "PIPELINING" in extensions:
        session.send_lines([line for _stage, line, _codes in commands])
        for stage, _line, codes in commands:
            session.stage = stage
            reply = session.read_reply()
            if failure is None and reply.code not in codes:
                failure = (stage, reply)
    else:
        for stage, line, codes in commands:
            session.stage = stage
            reply = session.command(line)
            if reply.code not in codes:
                failure = (stage, reply)
                break
    if failure is not None:
        if send_message and reply.code == 354:
            session.close(quit_first=False)  # inside DATA: only dropping the connection aborts the message
        _fail_reply(*failure)
    if send_message:
        session.stage = "data"
        t0 = time.monotonic()
        session.send(build_test_message(mail_from, rcpt_to, ehlo_name))
        _expect("data", session.read_reply(), (250,))
        timer.add("data", t0)
        result["message_sent"] = True
