# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The probe of one submission endpoint: Options in, a plain result dict out.

Probe.run() reads as the session goes: resolve, connect, (TLS,) banner, EHLO, STARTTLS, TLS, EHLO, AUTH, envelope.
Each stage is a method that runs inside Probe.stage(), which names the stage (for timeouts and errors), times it
into timings_ms and turns a network error into a ProbeError. A ProbeError ends the run; run() writes it into the
result with the hint for what the probe saw. Only Options raises (ConfigError), before any traffic.

Written for few round trips (the check often runs over slow links): AUTH carries its initial response, MAIL/RCPT/RSET
go in one write when the server offers PIPELINING, QUIT is sent without waiting for its reply, and one deadline
bounds the whole probe.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import contextlib
import os
import re
import socket
import ssl
import time

from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import microsoft, network, reasons, sasl, tls
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.errors import ConfigError, ProbeError
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.wire import (
    TIMEOUT_REASON, ConnectionClosed, Deadline, Session, auth_mechanisms, parse_ehlo)

SECURITY_CHOICES = ("starttls", "tls", "none")
AUTH_CHOICES = ("auto", "login", "plain", "xoauth2", "none")
IP_VERSIONS = ("any", "4", "6")
_UNSAFE = re.compile(r"[\r\n\x00<>]")


def default_security(port, security=None):
    """tls (implicit TLS) for port 465, else starttls, unless given."""
    if security:
        return security
    return "tls" if int(port) == 465 else "starttls"


def default_ehlo_name():
    name = socket.gethostname()
    if re.match(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$", name or ""):
        return name
    return "localhost"


def _check_text(name, value):
    if value is not None and _UNSAFE.search(str(value)):
        raise ConfigError("%s must not contain CR, LF, NUL, < or >" % name)


class Options:
    """What to probe and how, checked before any traffic. The names and defaults are smtp_check's options
    (send_message: the test message really goes out, i.e. send_test_message outside check mode)."""

    DEFAULTS = (
        ("host", "smtp-mail.outlook.com"), ("port", 587), ("security", None), ("timeout", 30.0), ("ehlo_name", None),
        ("ip_version", "any"), ("nameservers", None), ("validate_certs", True), ("ca_path", None),
        ("min_tls_version", "TLSv1.2"), ("cert_min_days", 14), ("username", None), ("password", None),
        ("auth", "auto"), ("oauth2_access_token", None), ("oauth2", None), ("mail_from", None), ("rcpt_to", None),
        ("send_message", False),
    )

    def __init__(self, **values):
        unknown = sorted(set(values) - set(name for name, _default in self.DEFAULTS))
        if unknown:
            raise ConfigError("unknown options: %s" % ", ".join(unknown))
        for name, default in self.DEFAULTS:
            setattr(self, name, values.get(name, default))
        self._check()

    @classmethod
    def from_module_params(cls, params, check_mode=False):
        """From smtp_check's module.params: every option by its name; a test message only outside check mode."""
        values = dict((name, params[name]) for name, _default in cls.DEFAULTS if name in params)
        values["send_message"] = bool(params.get("send_test_message")) and not check_mode
        return cls(**values)

    def _check(self):
        self.security = default_security(self.port, self.security)
        if self.security not in SECURITY_CHOICES or self.auth not in AUTH_CHOICES or self.ip_version not in IP_VERSIONS:
            raise ConfigError("security, auth or ip_version has a value outside its choices")
        if self.min_tls_version not in tls.TLS_VERSIONS:
            raise ConfigError("min_tls_version must be one of %s" % ", ".join(tls.TLS_VERSIONS))
        for name in ("username", "mail_from", "ehlo_name", "host"):
            _check_text(name, getattr(self, name))
        self.rcpt_to = list(self.rcpt_to or [])
        for rcpt in self.rcpt_to:
            _check_text("rcpt_to", rcpt)
        if self.nameservers and network.ip_literal(self.host) is None:
            for entry in self.nameservers:
                network.parse_nameserver(entry)
            network.import_dnspython()  # only now: the default path never loads dnspython
        self.has_token = bool(self.oauth2_access_token or self.oauth2)
        if self.auth == "xoauth2" and not self.has_token:
            raise ConfigError("auth xoauth2 needs oauth2_access_token or oauth2")
        if self.auth in ("login", "plain") and self.password is None:
            raise ConfigError("auth %s needs password" % self.auth)
        if self.auth != "none" and (self.has_token or self.password is not None) and not self.username:
            raise ConfigError("authentication needs username")
        if self.send_message or self.rcpt_to:
            self.mail_from = self.mail_from or self.username
            if not self.mail_from:
                raise ConfigError("mail_from (or username) is needed for rcpt_to and send_test_message")
        if self.send_message and not self.rcpt_to:
            self.rcpt_to = [self.mail_from]
        self.ehlo_name = self.ehlo_name or default_ehlo_name()
        self.server_hostname = self.host.strip("[]")
        self.password_auth = self.auth in ("login", "plain") or (
            self.auth == "auto" and not self.has_token and self.password is not None)
        self.context = None
        if self.security != "none":
            try:
                self.context = tls.tls_context(self.validate_certs, self.ca_path, self.min_tls_version)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError("cannot load ca_path %s: %s" % (self.ca_path, exc))


def new_result():
    return {
        "ok": False, "failed_stage": None, "reason": None, "hint": None, "detail": None, "reply": None,
        "addresses": [], "address": None, "banner": None, "esmtp": {"before_tls": None, "after_tls": None},
        "auth_mechanisms": [], "auth_mechanism": None, "auth_challenge": None, "authenticated": False, "tls": None,
        "message_sent": False, "oauth2_refresh_token_rotated": False, "timings_ms": {}, "warnings": [],
    }


def expect(stage, reply, codes):
    """The reply if its code is one of codes, else the ProbeError the reasons table explains it with."""
    if reply.code in codes:
        return reply
    entry = reasons.match_reply(stage, reply.code, reply.enhanced, reply.text)
    raise ProbeError(entry.stage or stage, entry.word, reply=reply, entry=entry)


def build_test_message(mail_from, rcpt_to, ehlo_name):
    """A short, plain message (CRLF, dot-stuffed, ending with the terminating dot)."""
    from email.utils import formatdate  # here, not at the top: only a real send needs it, and it costs import time
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


class Probe:
    """One run against one endpoint. Probe(Options(...)).run() -> result dict (see new_result())."""

    def __init__(self, options, clock=time.monotonic):
        self.options = options
        self.clock = clock
        self.result = new_result()
        self.deadline = None
        self.session = None
        self.token = None
        self.extensions = {}
        self.quit_first = True
        self.peer_san = []

    # --- the run, top-down -----------------------------------------------------------------------------------------

    def run(self):
        opts = self.options
        self.result["warnings"].extend(
            microsoft.endpoint_warnings(opts.host, opts.port, opts.username, opts.password_auth))
        started = self.clock()
        self.deadline = Deadline(opts.timeout, clock=self.clock)
        if opts.oauth2 and not opts.oauth2_access_token and opts.auth in ("auto", "xoauth2"):
            self.token = sasl.TokenFetch(opts.oauth2, opts.validate_certs, opts.ca_path, max(opts.timeout, 0.1))
            self.token.start()
        try:
            self.resolve()
            self.connect()
            if opts.security == "tls":
                self.handshake()
            self.banner()
            self.ehlo("ehlo", "after_tls" if opts.security == "tls" else "before_tls")
            if opts.security == "starttls":
                self.starttls()
                self.handshake()
                self.ehlo("ehlo_tls", "after_tls")
            self.authenticate()
            if opts.mail_from or opts.rcpt_to:
                self.envelope()
            if opts.send_message:
                self.data()
            self.result["ok"] = True
        except ProbeError as exc:
            self.record_failure(exc)
        finally:
            if self.session is not None:
                self.session.close(quit_first=self.quit_first)
            if self.token is not None and self.token.elapsed is not None:
                self.result["timings_ms"]["token"] = round(self.token.elapsed * 1000, 1)
            self.result["timings_ms"]["total"] = round((self.clock() - started) * 1000, 1)
        return self.result

    @contextlib.contextmanager
    def stage(self, name, timing=None):
        """Runs a stage: names it for the session, records its milliseconds as timings_ms[timing] (also when it
        fails), and turns a socket error into the ProbeError of this stage."""
        session = self.session
        previous = session.stage if session is not None else None
        if session is not None:
            session.stage = name
        started = self.clock()
        try:
            yield
        except (OSError, ConnectionClosed) as exc:
            self.quit_first = False
            raise self.wire_error(name, exc)
        finally:
            if timing:
                self.result["timings_ms"][timing] = round((self.clock() - started) * 1000, 1)
            if session is not None:
                session.stage = previous

    # --- the stages --------------------------------------------------------------------------------------------------

    def resolve(self):
        opts = self.options
        with self.stage("dns", timing="dns" if network.ip_literal(opts.host) is None else None):
            self.result["addresses"] = network.resolve(opts.host, opts.port, opts.ip_version, opts.nameservers,
                                                       self.deadline)

    def connect(self):
        with self.stage("connect", timing="connect"):
            sock, self.result["address"] = network.connect(self.result["addresses"], self.options.port, self.deadline)
        self.session = Session(sock, self.deadline)

    def banner(self):
        with self.stage("banner", timing="banner"):
            reply = self.session.read_reply()
            self.result["banner"] = reply.text
            expect("banner", reply, (220,))

    def ehlo(self, timing, key):
        with self.stage("ehlo", timing=timing):
            self.extensions = parse_ehlo(expect("ehlo", self.session.command("EHLO " + self.options.ehlo_name), (250,)))
        self.result["esmtp"][key] = self.extensions

    def starttls(self):
        with self.stage("starttls", timing="starttls"):
            if "STARTTLS" not in self.extensions:
                raise ProbeError("starttls", "starttls_unavailable",
                                 "the EHLO reply lists no STARTTLS; nothing was sent unencrypted")
            expect("starttls", self.session.command("STARTTLS"), (220,))
            if self.session.buffer:
                raise ProbeError("starttls", "protocol_error", "data after the STARTTLS reply (injection?)")

    def handshake(self):
        opts = self.options
        with self.stage("tls", timing="tls"):
            try:
                self.session.wrap(opts.context, opts.server_hostname)
            except socket.timeout:
                raise
            except OSError as exc:
                self.quit_first = False
                raise self.explain_handshake(exc)
        details = self.result["tls"] = tls.tls_details(self.session.sock, opts.validate_certs)
        days_left = details.get("days_left")
        if days_left is not None and days_left < opts.cert_min_days:
            self.result["warnings"].append("the certificate of %s expires in %d days (%s), less than cert_min_days %d"
                                           % (opts.host, int(days_left), details.get("not_after"), opts.cert_min_days))

    def authenticate(self):
        opts = self.options
        offered = self.result["auth_mechanisms"] = auth_mechanisms(self.extensions)
        with self.stage("auth"):
            mechanism = sasl.choose_mechanism(opts.auth, offered, opts.password is not None, opts.has_token)
        if not mechanism:
            return
        with self.stage("auth", timing="auth"):
            if opts.security != "none" and not self.encrypted():
                raise ProbeError("auth", "insecure_connection", "no TLS on the connection")
            access_token = opts.oauth2_access_token
            if mechanism == "XOAUTH2" and self.token is not None:
                access_token = self.token.wait(self.deadline)
                self.result["oauth2_refresh_token_rotated"] = bool(self.token.result.get("rotated"))
            self.result["auth_mechanism"] = mechanism
            reply, self.result["auth_challenge"] = sasl.authenticate(
                self.session, mechanism, opts.username, opts.password, access_token)
            if not self.encrypted():  # the server answered: the credentials did go out in the clear
                self.result["warnings"].append("security is none: the credentials went over the network unencrypted")
            if reply.code == 535 and reply.enhanced == "5.7.3" and self.token is not None and self.token.app_only:
                # A token the endpoint just issued to the app, refused: Exchange does not let the app use this mailbox.
                raise ProbeError("auth", "app_mailbox_denied", reply=reply, hint=_oauth2.hint_for("app_mailbox_denied"))
            expect("auth", reply, (235,))
            self.result["authenticated"] = True

    def envelope(self):
        """MAIL, RCPT..., then RSET (probe) or DATA. One write when PIPELINING is offered."""
        opts = self.options
        params = ""
        if any(ord(char) > 127 for char in opts.mail_from + "".join(opts.rcpt_to)) and "SMTPUTF8" in self.extensions:
            params = " SMTPUTF8"
        commands = [("mail", "MAIL FROM:<%s>%s" % (opts.mail_from, params), (250,))]
        commands += [("rcpt", "RCPT TO:<%s>" % rcpt, (250, 251)) for rcpt in opts.rcpt_to]
        commands.append(("data", "DATA", (354,)) if opts.send_message else ("mail", "RSET", (250,)))
        pipelining = "PIPELINING" in self.extensions
        failure = None
        with self.stage("mail", timing="envelope"):
            if pipelining:
                self.session.send_lines([line for _stage, line, _codes in commands])
            for name, line, codes in commands:
                with self.stage(name):
                    reply = self.session.read_reply() if pipelining else self.session.command(line)
                if failure is None and reply.code not in codes:
                    failure = (name, reply)
                    if not pipelining:
                        break
            if failure is not None:
                if opts.send_message and reply.code == 354:
                    self.session.close(quit_first=False)  # inside DATA: only dropping the connection aborts it
                expect(failure[0], failure[1], ())

    def data(self):
        opts = self.options
        with self.stage("data", timing="data"):
            self.session.send(build_test_message(opts.mail_from, opts.rcpt_to, opts.ehlo_name))
            expect("data", self.session.read_reply(), (250,))
        self.result["message_sent"] = True

    # --- turning failures into the result ----------------------------------------------------------------------------

    def encrypted(self):
        return self.session is not None and isinstance(self.session.sock, ssl.SSLSocket)

    def wire_error(self, stage, exc):
        """An OS/SSL exception during a stage -> ProbeError."""
        if isinstance(exc, socket.timeout):
            return ProbeError(stage, TIMEOUT_REASON.get(stage, "response_timeout"), "no answer before the timeout")
        if stage == "tls":
            return tls.handshake_error(exc)
        if isinstance(exc, ConnectionClosed):
            return ProbeError(stage, "connection_lost", "the server closed the connection")
        return ProbeError(stage, "connection_lost", str(exc))

    def explain_handshake(self, exc):
        """A failed handshake, with a second connection (no credentials) where that tells more: the TLS version of
        a server that hangs up on TLS 1.2+, the names of a certificate that does not match the host."""
        opts = self.options
        error = tls.handshake_error(exc)
        target = (self.result["address"], opts.port, opts.security, opts.ehlo_name, opts.server_hostname,
                  self.deadline)
        if error.reason == "tls_handshake_failed" and tls.hung_up(exc):
            old_version = tls.old_tls_only(target)
            if old_version:
                return ProbeError("tls", "tls_version_rejected", "the server speaks only %s; min_tls_version is %s"
                                  % (old_version, opts.min_tls_version))
        if error.reason == "cert_hostname_mismatch":
            self.peer_san = tls.peer_certificate(target).get("san") or []
            if self.peer_san:
                error.detail = "%s; the certificate names %s" % (error.detail, ", ".join(self.peer_san))
        return error

    def record_failure(self, exc):
        opts = self.options
        facts = {
            "host": opts.host, "port": opts.port, "microsoft": microsoft.is_microsoft_host(opts.host),
            "san": (self.result["tls"] or {}).get("san") or self.peer_san, "offered": self.result["auth_mechanisms"],
            "tls": self.encrypted(), "stage": exc.stage,
            "code": exc.reply.code if exc.reply is not None else None,
        }
        hint = exc.hint if exc.hint is not None else reasons.hint(exc.entry or exc.reason, facts)
        self.result.update(failed_stage=exc.stage, reason=exc.reason, detail=exc.detail,
                           hint=microsoft.adjust_hint(hint, opts.host, opts.port))
        if exc.reply is not None:
            self.result["reply"] = exc.reply.as_dict()


def run(options):
    """Probe the endpoint described by options (an Options). Returns the result dict; never raises."""
    return Probe(options).run()


def probe(**options):
    """run(Options(**options)): for scripts and tests that name options one by one."""
    return run(Options(**options))
