# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Every reason word smtp_check can return, the server replies that select it, and the hint shown for it.
(The token endpoint's words, and app_mailbox_denied, come with their hints from _oauth2.TOKEN_ERRORS.)

REASONS is the one table: classify_reply() walks it in order for a failed reply, hint() writes the text a result
shows. docs/reasons.md and the reason list in smtp_check's DOCUMENTATION are generated from it
(tests/lib/gen_reasons.py), and the unit tests classify every example reply of it.

A hint names Microsoft's endpoints, scopes and settings only when the probed host is a Microsoft endpoint (the
`microsoft` text); elsewhere it uses what the probe saw. Placeholders in a hint: {host}, {port}, {san} (the names
of the server certificate), {offered} (the AUTH mechanisms offered), {code} and {stage} (of the failed reply).
Standard library only: the generator reads this file without Ansible.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
from collections import namedtuple

# stages: where the reason can be reported. codes / enhanced: reply codes that select it (None = any; "4xx" = a
# class; () = no reply selects it, a local failure). pattern: regular expression searched (case-insensitive) in the
# reply text (None = any). stage: the failed_stage to report when a reply selects it (None = the stage of the
# exchange). example: a reply that selects it; condition: when it happens, for the docs (local failures, or more
# than the example says). hint: the text on any server; microsoft: on a Microsoft endpoint (None = hint);
# plaintext: when the connection has no TLS and the server offered no AUTH (None = the others).
Reason = namedtuple("Reason", "word stages codes enhanced pattern stage example condition hint microsoft plaintext")

STAGES = ("dns", "connect", "banner", "ehlo", "starttls", "tls", "auth", "mail", "rcpt", "data")
LOCAL = ()


def reply_reason(word, stages, codes, enhanced, pattern, example, hint, microsoft=None, stage=None, condition=None):
    return Reason(word, stages, codes, enhanced, pattern, stage, example, condition, hint, microsoft, None)


def local_reason(word, stages, condition, hint, microsoft=None, plaintext=None):
    return Reason(word, stages, LOCAL, LOCAL, None, None, "", condition, hint, microsoft, plaintext)


_TO_OAUTH2 = "switch the account to OAuth2 (SASL XOAUTH2): set oauth2 (client_id, refresh_token) or oauth2_access_token"

REASONS = (
    # Replies, most specific first.
    reply_reason(
        "basic_auth_disabled", ("auth",), (535,), ("5.7.139",), r"basic auth\w* is disabled",
        "535 5.7.139 Authentication unsuccessful, basic authentication is disabled",
        "The server no longer accepts passwords or app passwords for this account: " + _TO_OAUTH2 + ".",
        microsoft="Microsoft no longer accepts passwords or app passwords for this account (personal accounts since "
                  "16 Sep 2024): " + _TO_OAUTH2 + "."),
    reply_reason(
        "tenant_smtp_auth_disabled", ("auth",), (535,), ("5.7.139",), r"SmtpClientAuthentication is disabled",
        "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant",
        "SMTP AUTH is turned off for this mailbox or its organization: the server's administrator must enable "
        "authenticated SMTP for it.",
        microsoft="SMTP AUTH is turned off for the tenant or the mailbox: an Exchange Online admin must enable "
                  "authenticated SMTP for this mailbox (Set-CASMailbox -SmtpClientAuthenticationDisabled $false)."),
    reply_reason(
        "security_defaults_block", ("auth",), (535,), ("5.7.139",), r"security defaults|did not meet the criteria",
        "535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults policy",
        "A sign-in policy of the account's organization blocks password sign-in: ask its administrator to change "
        "the policy, or " + _TO_OAUTH2 + ".",
        microsoft="Security Defaults or a Conditional Access policy blocks password sign-in: ask the admin to change "
                  "the policy, or " + _TO_OAUTH2 + "."),
    reply_reason(
        "basic_auth_retired", ("auth",), (550,), ("5.7.30",), None,
        "550 5.7.30 Basic authentication is not supported for Client Submission",
        "The server no longer supports password authentication for client submission: " + _TO_OAUTH2 + ".",
        microsoft="Basic authentication is retired for this tenant: " + _TO_OAUTH2 + "."),
    reply_reason(
        "invalid_xoauth2_data", ("auth",), (501,), ("5.5.124",), None,
        "501 5.5.124 Invalid XOAUTH2 auth data",
        "The server could not parse the XOAUTH2 string: it must be base64 of "
        "user=<address>^Aauth=Bearer <access token>^A^A with the token exactly as issued."),
    reply_reason(
        "mechanism_unrecognized", ("auth",), (504,), ("5.7.4",), None,
        "504 5.7.4 Unrecognized authentication type",
        "The server does not accept this AUTH mechanism here (it offered: {offered}): set auth to one of those, and "
        "authenticate only after TLS.",
        microsoft="Microsoft accepts only LOGIN and XOAUTH2, and only after STARTTLS and a second EHLO: set auth to "
                  "login or xoauth2 and keep security starttls."),
    reply_reason(
        "hello_required", ("ehlo", "auth", "mail"), (503,), ("5.5.2",), None,
        "503 5.5.2 Send hello first",
        "The server wants EHLO (again after STARTTLS) before this command; a client that skips the second EHLO "
        "must be fixed."),
    reply_reason(
        "not_authenticated", ("mail", "rcpt"), (530,), ("5.7.57",), None,
        "530 5.7.57 Client not authenticated to send mail",
        "The server requires authentication before MAIL FROM: set username with a password or an OAuth2 token, "
        "and authenticate in the same session."),
    reply_reason(
        "tls_version_rejected", ("tls", "ehlo"), (421,), ("4.7.66",), None,
        "421 4.7.66 TLS 1.0 and 1.1 are not supported",
        "Client and server share no allowed TLS version: the server may speak only TLS 1.0 or 1.1, which is unsafe; "
        "have it updated, and keep min_tls_version at TLSv1.2 or newer.",
        microsoft="Client and server share no allowed TLS version: Microsoft requires TLS 1.2 or newer; keep "
                  "min_tls_version at TLSv1.2 or newer and update the client's OpenSSL.",
        stage="tls",
        condition="or the TLS handshake fails for want of a shared version (the server speaks only TLS 1.0/1.1)"),
    reply_reason(
        "send_as_denied", ("mail", "data"), None, ("5.2.252",), None,
        "554 5.2.252 SendAsDenied; alerts@example.com not allowed to send as other@example.com",
        "The server refuses a sender other than the login: set mail_from (and the message's From) to the username "
        "address, or rewrite the sender to it.",
        microsoft="Outlook refuses any sender other than the login: set mail_from (and the message's From) to the "
                  "username address, or rewrite the sender to it."),
    reply_reason(
        "forwarding_blocked", ("rcpt", "data"), None, ("5.7.520",), None,
        "550 5.7.520 Access denied, Your organization does not allow external forwarding",
        "The organization's outbound policy blocks external forwarding: an admin must change the policy, or send "
        "to an internal recipient.",
        microsoft="The organization's outbound policy blocks external forwarding: an admin must change the outbound "
                  "spam filter policy, or send to an internal recipient."),
    reply_reason(
        "account_locked", ("auth", "mail", "rcpt", "data"), None, ("5.3.4",), r"sign in|unusual activity|locked",
        "550 5.3.4 Requested action not taken; To continue sending messages, please sign in to your account.",
        "The server has stopped sending for this account until someone signs in: sign in to the account's web mail, "
        "complete any verification it asks for, then retry.",
        microsoft="Microsoft has locked sending for this account (new, unverified or unusual activity): sign in at "
                  "https://outlook.live.com, complete the verification, then retry."),
    reply_reason(
        "submission_quota", ("mail", "rcpt", "data"), None, None, r"SubmissionQuotaExceeded",
        "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException",
        "The account reached its daily recipient limit: wait 24 hours.",
        microsoft="The account reached its daily recipient limit (10,000 recipients/day for Exchange Online): wait "
                  "24 hours."),
    reply_reason(
        "sending_quota", ("mail", "rcpt", "data"), None, None, r"OutboundSpamException|RefuseQuota",
        "554 5.2.0 STOREDRV.Submission.Exception:OutboundSpamException",
        "The server's outbound spam quota blocked the account: send less, and wait before retrying.",
        microsoft="Microsoft's outbound spam quota blocked the account: verify the account on the web, send less, "
                  "and wait before retrying."),
    reply_reason(
        "temporary_failure", STAGES, (451,), ("4.7.0",), None,
        "451 4.7.0 Temporary server error. Please try again later.",
        "A transient error on the server: retry later.",
        microsoft="A transient error on Microsoft's side: retry later."),
    reply_reason(
        "auth_failed", ("auth",), (535,), None, None,
        "535 5.7.3 Authentication unsuccessful",
        "Wrong credentials: check username and password; with OAuth2 the access token must be current, carry the "
        "scope this server asks for (auth_challenge shows it when the server sent one) and belong to the same "
        "account as username.",
        microsoft="Wrong credentials: check username and password (app password); with OAuth2 the access token must "
                  "be current, carry the scope https://outlook.office.com/SMTP.Send and belong to the same account "
                  "as username."),
    reply_reason(
        "service_unavailable", STAGES, (421,), None, None,
        "421 4.3.2 Service not available, closing transmission channel",
        "The server refused service (overload, maintenance or a block on this client's address): retry later, "
        "and check that this host's public address is not on a block list."),
    reply_reason(
        "service_unavailable", ("banner",), (554,), None, None,
        "554 5.7.1 Service unavailable; Client host blocked",
        "The server refuses this client at connect: check that this host's public address is not on a block list "
        "and that it may submit mail to the provider."),
    # Stage-level fallbacks for replies nobody above explains.
    reply_reason(
        "ehlo_rejected", ("ehlo",), None, None, None, "501 5.5.4 Invalid domain name",
        "The server rejected EHLO: set ehlo_name to a valid host name of this machine."),
    reply_reason(
        "starttls_rejected", ("starttls",), None, None, None, "454 4.7.0 TLS not available due to temporary reason",
        "The server advertised STARTTLS but refused it: retry later, or check for a middlebox stripping TLS."),
    reply_reason(
        "temporary_failure", STAGES, ("4xx",), None, None, "450 4.2.0 Mailbox busy",
        "A transient error on the server: retry later."),
    reply_reason(
        "auth_rejected", ("auth",), None, None, None, "534 5.7.9 Authentication mechanism is too weak",
        "The server refused the authentication: read the reply text."),
    reply_reason(
        "sender_rejected", ("mail",), None, None, None, "550 5.1.0 Sender address rejected",
        "The server refused the envelope sender: use the login address as mail_from."),
    reply_reason(
        "recipient_rejected", ("rcpt",), None, None, None, "550 5.1.1 Recipient address rejected",
        "The server refused a recipient: check the rcpt_to addresses."),
    reply_reason(
        "message_rejected", ("data",), None, None, None, "554 5.6.0 Message rejected",
        "The server refused the message after DATA: read the reply text."),
    reply_reason(
        "unexpected_reply", STAGES, None, None, None, "500 5.5.1 Command unrecognized",
        "The server answered {code} at {stage}: read the reply text.",
        condition="any other failing reply"),
    # Local failures: no server reply selects them.
    local_reason(
        "dns_nxdomain", ("dns",), "no reply: the name does not exist (NXDOMAIN)",
        "The host name {host} does not exist: check host for a typo.",
        microsoft="The host name does not exist: check host (Outlook.com: smtp-mail.outlook.com)."),
    local_reason(
        "dns_timeout", ("dns",), "no reply: no DNS answer in time",
        "No answer from the DNS servers in time: check the resolver (or nameservers) and that this host may "
        "reach it, or raise timeout."),
    local_reason(
        "dns_no_address", ("dns",), "no reply: no A/AAAA record for ip_version",
        "The name has no address of the requested IP version: check ip_version and host."),
    local_reason(
        "dns_failed", ("dns",), "no reply: SERVFAIL, REFUSED or another resolver error",
        "The DNS lookup failed (SERVFAIL or refused): check the resolver (or nameservers)."),
    local_reason(
        "connection_refused", ("connect",), "no reply: TCP RST (nothing listening, or a firewall rejects)",
        "Nothing listens on {host} port {port}, or a firewall rejects it: check host and port.",
        microsoft="Nothing listens on that port, or a firewall rejects it: check host and port (Outlook.com: 587)."),
    local_reason(
        "connect_timeout", ("connect",), "no reply: TCP SYN unanswered (firewall drops)",
        "The TCP connection did not complete in time: outbound traffic to this port is probably dropped by a "
        "firewall or the ISP (many block 25 and some 587); allow egress to the host's port."),
    local_reason(
        "network_unreachable", ("connect",), "no reply: no route (ENETUNREACH/EHOSTUNREACH)",
        "This host has no route to the server: check its network, or set ip_version 4 when IPv6 is unusable."),
    local_reason(
        "connection_failed", ("connect",), "no reply: another socket error",
        "The TCP connection failed: read detail for the operating system's error."),
    local_reason(
        "banner_timeout", ("banner",), "no reply: connected, but no 220 greeting in time",
        "The TCP connection opened but the server said nothing: a proxy or firewall is intercepting the port, or "
        "security does not match the port (port 465 speaks TLS first: security tls)."),
    local_reason(
        "connection_lost", STAGES, "no reply: the server closed the connection",
        "The server closed the connection unexpectedly: retry; if it repeats at the same stage, the server is "
        "refusing this client."),
    local_reason(
        "response_timeout", STAGES, "no reply: the server stopped answering in time",
        "The server stopped answering within the timeout: retry, or raise timeout."),
    local_reason(
        "protocol_error", STAGES, "no reply: something that is not SMTP",
        "The peer does not speak SMTP correctly on this port: check host, port and security."),
    local_reason(
        "starttls_unavailable", ("starttls",), "no STARTTLS in the EHLO reply",
        "The server does not offer STARTTLS, so nothing is sent unencrypted: check host and port, or look for a "
        "middlebox that strips STARTTLS."),
    local_reason(
        "cert_untrusted", ("tls",), "no reply: certificate does not chain to a trusted CA",
        "The server certificate does not chain to a trusted CA: a TLS-intercepting proxy may be in the path; "
        "set ca_path to the right CA bundle if the proxy is yours."),
    local_reason(
        "cert_hostname_mismatch", ("tls",), "no reply: certificate not valid for the host name",
        "The certificate is not valid for {host}: it names {san}; connect by one of those names, not by an "
        "address or alias.",
        microsoft="The certificate is not valid for this host name: connect by the name the certificate carries "
                  "(smtp-mail.outlook.com), not by an address or alias."),
    local_reason(
        "cert_expired", ("tls",), "no reply: certificate expired or not yet valid",
        "The certificate is expired or not yet valid: check this host's clock, and whether a proxy presents "
        "a stale certificate."),
    local_reason(
        "tls_handshake_failed", ("tls",), "no reply: TLS handshake failed otherwise",
        "The TLS handshake failed: check that security matches the port (465: tls, 587: starttls) and that no "
        "middlebox interferes."),
    local_reason(
        "auth_mechanism_unavailable", ("auth",), "the EHLO reply lacks the mechanism (e.g. no PLAIN at Microsoft)",
        "The server does not offer the needed AUTH mechanism; it offers {offered}: set auth to one of those.",
        microsoft="The server does not offer the needed AUTH mechanism (Microsoft offers LOGIN and XOAUTH2 after "
                  "STARTTLS): set auth to a mechanism in auth_mechanisms.",
        plaintext="The server offers no AUTH on this unencrypted connection (most servers offer it only inside TLS): "
                  "set security to starttls (or tls for implicit TLS) instead of none."),
    local_reason(
        "insecure_connection", ("auth",), "none: refused locally, no credential sent",
        "Credentials are only sent over verified TLS: keep validate_certs on and security starttls or tls."),
)

# The first entry of each word: its hint when no reply selected a particular entry.
_BY_WORD = {}
for _entry in REASONS:
    _BY_WORD.setdefault(_entry.word, _entry)
del _entry


def words():
    """Every reason word, in table order, once."""
    return list(_BY_WORD)


def entry_for(word):
    return _BY_WORD[word]


def match_reply(stage, code, enhanced=None, text=""):
    """The entry of REASONS that explains a failed reply at stage (unexpected_reply when none does)."""
    text = text or ""
    for entry in REASONS:
        if entry.codes == LOCAL:
            continue
        if stage not in entry.stages:
            continue
        if entry.codes is not None and code not in entry.codes and "%dxx" % (code // 100) not in entry.codes:
            continue
        if entry.enhanced is not None and enhanced not in entry.enhanced:
            continue
        if entry.pattern is not None and not re.search(entry.pattern, text, re.I):
            continue
        return entry
    raise AssertionError("unexpected_reply matches every reply")  # pragma: no cover


def classify_reply(stage, code, enhanced=None, text=""):
    """(reason, hint on any server, failed_stage) for a failed server reply at stage."""
    entry = match_reply(stage, code, enhanced, text)
    return entry.word, hint(entry, {"code": code, "stage": stage}), entry.stage or stage


class _Facts(dict):
    """What the probe saw; a placeholder nobody filled reads as a neutral phrase."""

    _UNKNOWN = {"host": "this host name", "port": "that port", "san": "other names", "offered": "no AUTH",
                "code": "a failure", "stage": "this stage"}

    def __missing__(self, key):
        return self._UNKNOWN.get(key, "?")


def hint_variant(entry, facts):
    """Which text of entry applies: plaintext, microsoft or hint."""
    if entry.plaintext and facts.get("tls") is False and not facts.get("offered"):
        return "plaintext"
    if entry.microsoft and facts.get("microsoft"):
        return "microsoft"
    return "hint"


def hint(entry_or_word, facts=None):
    """The hint text for a reason, filled with what the probe saw. facts: host, port, san (list), offered (list),
    code, stage, tls (bool: the connection was encrypted), microsoft (bool: host is a Microsoft endpoint)."""
    entry = entry_or_word if isinstance(entry_or_word, Reason) else _BY_WORD.get(entry_or_word)
    if entry is None:
        return ""
    facts = dict(facts or {})
    values = _Facts((key, value) for key, value in facts.items() if value not in (None, [], ""))
    for key in ("san", "offered"):
        if isinstance(values.get(key), list):
            values[key] = ", ".join(values[key])
    return getattr(entry, hint_variant(entry, facts)).format_map(values)
