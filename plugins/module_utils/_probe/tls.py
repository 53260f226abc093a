# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""TLS: the client context, what a failed handshake means, the certificate details of a session, and two
diagnostic handshakes (on a second connection that carries no credential) that explain a failure."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ssl
import warnings

from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import network, x509
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.errors import ProbeError
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.wire import ConnectionClosed, Session

TLS_VERSIONS = {
    "TLSv1": ssl.TLSVersion.TLSv1,
    "TLSv1.1": ssl.TLSVersion.TLSv1_1,
    "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}
# OpenSSL verify codes (X509_V_ERR_*) -> reason
_VERIFY_REASON = {9: "cert_expired", 10: "cert_expired", 62: "cert_hostname_mismatch", 64: "cert_hostname_mismatch"}
_VERSION_ERRORS = ("UNSUPPORTED_PROTOCOL", "TLSV1_ALERT_PROTOCOL_VERSION", "NO_PROTOCOLS_AVAILABLE", "VERSION_TOO_LOW",
                   "TLSV1_ALERT_INSUFFICIENT_SECURITY")


def tls_context(validate_certs=True, ca_path=None, min_tls_version="TLSv1.2"):
    context = _oauth2.ssl_context(ca_path, validate_certs)
    if TLS_VERSIONS[min_tls_version] < ssl.TLSVersion.TLSv1_2:
        # Asked for explicitly: OpenSSL 3 allows TLS 1.0/1.1 only at security level 0.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = TLS_VERSIONS[min_tls_version]
    return context


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


def handshake_error(exc):
    """An OS/SSL exception during the handshake -> ProbeError."""
    if isinstance(exc, ssl.SSLError):
        reason, detail = classify_tls_error(exc)
        return ProbeError("tls", reason, detail)
    return ProbeError("tls", "tls_handshake_failed", "the server closed the connection during the handshake: %s"
                      % (exc or "EOF"))


def hung_up(exc):
    """True when the peer closed the connection on our hello without a TLS alert."""
    return not isinstance(exc, ssl.SSLError) or getattr(exc, "reason", None) == "UNEXPECTED_EOF_WHILE_READING"


def tls_details(sock, validate_certs):
    der = sock.getpeercert(binary_form=True)
    details = {"version": sock.version(), "cipher": (sock.cipher() or [None])[0],
               "verified": bool(validate_certs), "subject": None, "issuer": None, "san": [], "not_after": None,
               "days_left": None}
    if der:
        details.update(x509.certificate_info(der))
    return details


def _unverified_context(old_versions_only=False):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if old_versions_only:
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # old TLS on purpose, for diagnosis only
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
    return context


def _diagnostic_handshake(target, context):
    """A second connection to target (address, port, security, ehlo_name, server_hostname, deadline), no
    credentials: returns the TLS socket's (version, DER certificate), or None when it does not get that far."""
    address, port, security, ehlo_name, server_hostname, deadline = target
    session = None
    try:
        sock, _address = network.connect([address], port, deadline)
        session = Session(sock, deadline, stage="tls")
        if security == "starttls":
            session.read_reply()
            session.command("EHLO " + ehlo_name)
            if session.command("STARTTLS").code != 220:
                return None
        session.wrap(context, server_hostname)
        return session.sock.version(), session.sock.getpeercert(binary_form=True)
    except (ProbeError, OSError, ConnectionClosed, ValueError):
        return None
    finally:
        if session is not None:
            session.close()


def old_tls_only(target):
    """The TLS version the server negotiates when only TLS 1.0/1.1 are allowed, or None."""
    seen = _diagnostic_handshake(target, _unverified_context(old_versions_only=True))
    return seen[0] if seen else None


def peer_certificate(target):
    """The server certificate's details (x509.certificate_info) without verifying it, or {}."""
    seen = _diagnostic_handshake(target, _unverified_context())
    return x509.certificate_info(seen[1]) if seen and seen[1] else {}
