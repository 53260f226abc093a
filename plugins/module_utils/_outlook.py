# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""What a failed SMTP exchange means for a Microsoft mailbox, and what to do about it.

One table (REASONS) holds every reason word the check can return: the stages where it happens, the server replies
that select it (code, enhanced code, text pattern) and the hint shown to the user. classify_reply() walks the
table in order; local failures (DNS, TCP, TLS) are looked up by word with hint_for().
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple


# stages: where the reason can be reported. codes / enhanced: reply codes that select it (None = any; "4xx" = a
# class; () = no reply selects it, a local failure).
# pattern: regular expression searched (case-insensitive) in the reply text (None = any).
# stage: the failed_stage to report when the reply selects it (None = the stage of the exchange).
Reason = namedtuple("Reason", "word stages codes enhanced pattern stage reply hint")

STAGES = ("dns", "connect", "banner", "ehlo", "starttls", "tls", "auth", "mail", "rcpt", "data")
_AUTH_PASSWORD_HINT = "switch the account to OAuth2 (SASL XOAUTH2): set oauth2 (client_id, refresh_token) or oauth2_access_token"

REASONS = (
    # Replies, most specific first. Only entries with codes, enhanced or pattern take part in classify_reply().
    Reason("basic_auth_disabled", ("auth",), (535,), ("5.7.139",), r"basic auth\w* is disabled", None,
           "535 5.7.139 Authentication unsuccessful, basic authentication is disabled",
           "Microsoft no longer accepts passwords or app passwords for this account (personal accounts since "
           "16 Sep 2024): " + _AUTH_PASSWORD_HINT + "."),
    Reason("tenant_smtp_auth_disabled", ("auth",), (535,), ("5.7.139",), r"SmtpClientAuthentication is disabled", None,
           "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant",
           "SMTP AUTH is turned off for the tenant or the mailbox: an Exchange Online admin must enable authenticated "
           "SMTP for this mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false)."),
    Reason("security_defaults_block", ("auth",), (535,), ("5.7.139",), r"security defaults|did not meet the criteria", None,
           "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy",
           "Security Defaults or a Conditional Access policy blocks password sign-in: ask the admin to change the "
           "policy, or " + _AUTH_PASSWORD_HINT + "."),
    Reason("basic_auth_retired", ("auth",), (550,), ("5.7.30",), None, None,
           "550 5.7.30 Basic authentication is not supported for Client Submission",
           "Basic authentication is retired for this tenant: " + _AUTH_PASSWORD_HINT + "."),
    Reason("invalid_xoauth2_data", ("auth",), (501,), ("5.5.124",), None, None,
           "501 5.5.124 Invalid XOAUTH2 auth data",
           "The server could not parse the XOAUTH2 string: it must be base64 of "
           "user=<address>^Aauth=Bearer <access token>^A^A with the token exactly as issued."),
    Reason("mechanism_unrecognized", ("auth",), (504,), ("5.7.4",), None, None,
           "504 5.7.4 Unrecognized authentication type",
           "Microsoft accepts only LOGIN and XOAUTH2, and only after STARTTLS and a second EHLO: set auth to login "
           "or xoauth2 and keep security starttls."),
    Reason("hello_required", ("ehlo", "auth", "mail"), (503,), ("5.5.2",), None, None,
           "503 5.5.2 Send hello first",
           "The server wants EHLO (again after STARTTLS) before this command; a client that skips the second EHLO "
           "must be fixed."),
    Reason("not_authenticated", ("mail", "rcpt"), (530,), ("5.7.57",), None, None,
           "530 5.7.57 Client not authenticated to send mail",
           "The server requires authentication before MAIL FROM: set username with a password or an OAuth2 token, "
           "and authenticate in the same session."),
    Reason("tls_version_rejected", ("tls", "ehlo"), (421,), ("4.7.66",), None, "tls",
           "421 4.7.66 TLS 1.0 and 1.1 are not supported",
           "Client and server share no allowed TLS version: Microsoft requires TLS 1.2 or newer; keep min_tls_version "
           "at TLSv1.2 or newer and update the client's OpenSSL."),
    Reason("send_as_denied", ("mail", "data"), None, ("5.2.252",), None, None,
           "554 5.2.252 SendAsDenied; alerts@example.com not allowed to send as other@example.com",
           "Outlook refuses any sender other than the login: set mail_from (and the message's From) to the "
           "username address, or rewrite the sender to it."),
    Reason("forwarding_blocked", ("rcpt", "data"), None, ("5.7.520",), None, None,
           "550 5.7.520 Access denied, Your organization does not allow external forwarding",
           "The organization's outbound policy blocks external forwarding: an admin must change the outbound spam "
           "filter policy, or send to an internal recipient."),
    Reason("account_locked", ("auth", "mail", "rcpt", "data"), None, ("5.3.4",), None, None,
           "550 5.3.4 Requested action not taken; To continue sending messages, please sign in to your account.",
           "Microsoft has locked sending for this account (new, unverified or unusual activity): sign in at "
           "https://outlook.live.com, complete the verification, then retry."),
    Reason("submission_quota", ("mail", "rcpt", "data"), None, None, r"SubmissionQuotaExceeded", None,
           "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
           "The account reached its daily recipient limit (10,000 recipients/day for Exchange Online): wait 24 hours."),
    Reason("sending_quota", ("mail", "rcpt", "data"), None, None, r"OutboundSpamException|RefuseQuota", None,
           "554 5.2.0 STOREDRV.Submission.Exception:OutboundSpamException",
           "Microsoft's outbound spam quota blocked the account: verify the account on the web, send less, and wait "
           "before retrying."),
    Reason("temporary_failure", STAGES, (451,), ("4.7.0",), None, None,
           "451 4.7.0 Temporary server error. Please try again later.",
           "A transient error on Microsoft's side: retry later."),
    Reason("auth_failed", ("auth",), (535,), None, None, None,
           "535 5.7.3 Authentication unsuccessful",
           "Wrong credentials: check username and password (app password); with OAuth2 the access token must be "
           "current, carry the scope https://outlook.office.com/SMTP.Send and belong to the same account as "
           "username."),
    Reason("service_unavailable", STAGES, (421,), None, None, None,
           "421 4.3.2 Service not available, closing transmission channel",
           "The server refused service (overload, maintenance or a block on this client's address): retry later, "
           "and check that this host's public address is not on a block list."),
    Reason("service_unavailable", ("banner",), (554,), None, None, None,
           "554 5.7.1 Service unavailable; Client host blocked",
           "The server refuses this client at connect: check that this host's public address is not on a block list "
           "and that it may submit mail to the provider."),
    # Stage-level fallbacks for replies nobody above explains.
    Reason("ehlo_rejected", ("ehlo",), None, None, None, None, "501 5.5.4 Invalid domain name",
           "The server rejected EHLO: set ehlo_name to a valid host name of this machine."),
    Reason("starttls_rejected", ("starttls",), None, None, None, None, "454 4.7.0 TLS not available due to temporary reason",
           "The server advertised STARTTLS but refused it: retry later, or check for a middlebox stripping TLS."),
    Reason("temporary_failure", STAGES, ("4xx",), None, None, None, "450 4.2.0 Mailbox busy",
           "A transient error on the server: retry later."),
    Reason("auth_rejected", ("auth",), None, None, None, None, "535 5.7.8 Error: authentication failed",
           "The server refused the authentication: read the reply text."),
    Reason("sender_rejected", ("mail",), None, None, None, None, "550 5.1.0 Sender address rejected",
           "The server refused the envelope sender: use the login address as mail_from."),
    Reason("recipient_rejected", ("rcpt",), None, None, None, None, "550 5.1.1 Recipient address rejected",
           "The server refused a recipient: check the rcpt_to addresses."),
    Reason("message_rejected", ("data",), None, None, None, None, "554 5.6.0 Message rejected",
           "The server refused the message after DATA: read the reply text."),
    # Local failures: no server reply selects them.
    Reason("dns_nxdomain", ("dns",), (), (), None, None, "",
           "The host name does not exist: check host (Outlook.com: smtp-mail.outlook.com)."),
    Reason("dns_timeout", ("dns",), (), (), None, None, "",
           "No answer from the DNS servers in time: check the resolver (or nameservers) and that this host may "
           "reach it, or raise timeout."),
    Reason("dns_no_address", ("dns",), (), (), None, None, "",
           "The name has no address of the requested IP version: check ip_version and host."),
    Reason("dns_failed", ("dns",), (), (), None, None, "",
           "The DNS lookup failed (SERVFAIL or refused): check the resolver (or nameservers)."),
    Reason("connection_refused", ("connect",), (), (), None, None, "",
           "Nothing listens on that port, or a firewall rejects it: check host and port (Outlook.com: 587)."),
    Reason("connect_timeout", ("connect",), (), (), None, None, "",
           "The TCP connection did not complete in time: outbound traffic to this port is probably dropped by a "
           "firewall or the ISP (many block 25 and some 587); allow egress to the host's port."),
    Reason("network_unreachable", ("connect",), (), (), None, None, "",
           "This host has no route to the server: check its network, or set ip_version 4 when IPv6 is unusable."),
    Reason("connection_failed", ("connect",), (), (), None, None, "",
           "The TCP connection failed: read detail for the operating system's error."),
    Reason("banner_timeout", ("banner",), (), (), None, None, "",
           "The TCP connection opened but the server said nothing: a proxy or firewall is intercepting the port, or "
           "security does not match the port (port 465 speaks TLS first: security tls)."),
    Reason("connection_lost", STAGES, (), (), None, None, "",
           "The server closed the connection unexpectedly: retry; if it repeats at the same stage, the server is "
           "refusing this client."),
    Reason("response_timeout", STAGES, (), (), None, None, "",
           "The server stopped answering within the timeout: retry, or raise timeout."),
    Reason("protocol_error", STAGES, (), (), None, None, "",
           "The peer does not speak SMTP correctly on this port: check host, port and security."),
    Reason("starttls_unavailable", ("starttls",), (), (), None, None, "",
           "The server does not offer STARTTLS, so nothing is sent unencrypted: check host and port, or look for a "
           "middlebox that strips STARTTLS."),
    Reason("cert_untrusted", ("tls",), (), (), None, None, "",
           "The server certificate does not chain to a trusted CA: a TLS-intercepting proxy may be in the path; "
           "set ca_path to the right CA bundle if the proxy is yours."),
    Reason("cert_hostname_mismatch", ("tls",), (), (), None, None, "",
           "The certificate is not valid for this host name: connect by the name the certificate carries "
           "(smtp-mail.outlook.com), not by an address or alias."),
    Reason("cert_expired", ("tls",), (), (), None, None, "",
           "The certificate is expired or not yet valid: check this host's clock, and whether a proxy presents "
           "a stale certificate."),
    Reason("tls_handshake_failed", ("tls",), (), (), None, None, "",
           "The TLS handshake failed: check that security matches the port (465: tls, 587: starttls) and that no "
           "middlebox interferes."),
    Reason("auth_mechanism_unavailable", ("auth",), (), (), None, None, "",
           "The server does not offer the needed AUTH mechanism (Microsoft offers LOGIN and XOAUTH2 after STARTTLS): "
           "set auth to a mechanism in auth_mechanisms."),
    Reason("token_refresh_failed", ("auth",), (), (), None, None, "",
           "The OAuth2 access token could not be fetched with the refresh token."),
    Reason("insecure_connection", ("auth",), (), (), None, None, "",
           "Credentials are only sent over verified TLS: keep validate_certs on and security starttls or tls."),
)

# One hint per reason word: the first entry of REASONS that names it.
HINTS = {}
for _reason in REASONS:
    HINTS.setdefault(_reason.word, _reason.hint)
del _reason

# Hints for token_refresh_failed, per OAuth2Error.reason.
TOKEN_HINTS = {
    "invalid_grant": "The refresh token is invalid, expired, revoked or already rotated: get a new one by signing in "
                     "again (consent) and store it.",
    "invalid_client": "The client_id (or client_secret) is wrong, or the app is not registered for this tenant: check "
                      "the app registration.",
    "unauthorized_client": "The app may not use this grant or tenant: for personal accounts register the app for "
                           "personal Microsoft accounts and use tenant consumers.",
    "invalid_scope": "The scope is not valid for this app: use https://outlook.office.com/SMTP.Send offline_access.",
    "endpoint_unreachable": "The token endpoint is unreachable: allow egress to login.microsoftonline.com:443 (or "
                            "token_url), and check any proxy.",
    "cert_untrusted": "The token endpoint's certificate could not be verified: a TLS-intercepting proxy may be in "
                      "the path; set ca_path to its CA if it is yours.",
    "bad_response": "The token endpoint answered something that is not a token response: check token_url.",
    "invalid_request": "The token request was refused as malformed: check client_id, tenant and token_url.",
}
_TOKEN_HINT_DEFAULT = "The token endpoint refused the refresh: read the error description, then sign in again if needed."

MICROSOFT_HOST_SUFFIXES = ("outlook.com", "office365.com", "live.com", "hotmail.com", "outlook.office.com")
CONSUMER_DOMAIN = re.compile(r"^((outlook|hotmail|live)\.(com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})|msn\.com|passport\.com)$", re.I)
PORT_465_HINT = ("Microsoft does not support port 465 (implicit TLS) for SMTP AUTH client submission: use port 587 "
                 "with security starttls.")


def classify_reply(stage, code, enhanced=None, text=""):
    """Return (reason, hint, failed_stage) for a failed server reply at stage."""
    text = text or ""
    for entry in REASONS:
        if entry.codes == () and entry.enhanced == ():
            continue  # local failure, not selected by replies
        if stage not in entry.stages:
            continue
        if entry.codes is not None and code not in entry.codes and "%dxx" % (code // 100) not in entry.codes:
            continue
        if entry.enhanced is not None and enhanced not in entry.enhanced:
            continue
        if entry.pattern is not None and not re.search(entry.pattern, text, re.I):
            continue
        return entry.word, entry.hint, entry.stage or stage
    return "unexpected_reply", "The server answered %d at %s: read the reply text." % (code, stage), stage


def hint_for(reason):
    """The hint of a reason word."""
    return HINTS.get(reason, "")


def token_hint(oauth_reason):
    """Hint for token_refresh_failed, from the OAuth2 error code."""
    return TOKEN_HINTS.get(oauth_reason, _TOKEN_HINT_DEFAULT)


def is_microsoft_host(host):
    host = (host or "").lower().rstrip(".")
    return any(host == suffix or host.endswith("." + suffix) for suffix in MICROSOFT_HOST_SUFFIXES)


def is_consumer_address(address):
    if not address or "@" not in address:
        return False
    return bool(CONSUMER_DOMAIN.match(address.rsplit("@", 1)[1].strip().rstrip(".")))


def endpoint_warnings(host, port, username=None, password_auth=False):
    """Advice on the configured endpoint, before any traffic."""
    warnings = []
    host_l = (host or "").lower().rstrip(".")
    if host_l == "smtp.live.com":
        warnings.append("smtp.live.com is a legacy name found in old guides: use smtp-mail.outlook.com (port 587, "
                        "STARTTLS).")
    if port == 465 and is_microsoft_host(host_l):
        warnings.append(PORT_465_HINT)
    if password_auth and is_consumer_address(username):
        warnings.append("%s looks like a personal Microsoft account: Microsoft has refused passwords and app passwords "
                        "for these since September 2024 (535 5.7.139); use OAuth2 (XOAUTH2)."
                        % username.rsplit("@", 1)[1])
    return warnings


def adjust_hint(hint, host, port):
    """A failure on port 465 against Microsoft gets the plain explanation first."""
    if port == 465 and is_microsoft_host(host):
        return PORT_465_HINT + " " + hint
    return hint
