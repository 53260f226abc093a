#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: smtp_check
short_description: Check that a host can submit mail through an Outlook.com / Microsoft 365 SMTP account
version_added: 0.1.0
description:
  - Opens an SMTP submission session from the managed host (so that host's own DNS, egress and TLS trust are what
    get checked; delegate to the controller to check from there), and walks DNS, TCP, banner, EHLO, STARTTLS or
    implicit TLS, AUTH and optionally the envelope (MAIL FROM / RCPT TO, then RSET) or a real test message.
  - Tells what failed in a stable machine-readable word (RV(reason)), at which stage (RV(failed_stage)), what to do
    about it (RV(hint)), and the server reply that failed (RV(reply)). Replies of Microsoft's service are mapped to
    specific reasons, for example V(basic_auth_disabled) for C(535 5.7.139) on a personal account. The full table is
    in C(docs/reasons.md) of the collection.
  - Uses few round trips (AUTH with an initial response, pipelining, no wait for the QUIT reply) and one deadline for
    the whole probe (O(timeout)).
  - Never sends a credential over an unencrypted or unverified connection unless O(security=none) or
    O(validate_certs=false) turned that protection off. Never returns a password or token.
  # BEGIN generated: reasons (by tests/lib/gen_reasons.py from plugins/module_utils/_probe/reasons.py)
  - "Reasons (RV(reason)), by the stage where each is first reported (the table with replies and hints is
    C(docs/reasons.md)): V(dns_nxdomain), V(dns_timeout), V(dns_no_address), V(dns_failed) (C(dns));
    V(connection_refused), V(connect_timeout), V(network_unreachable), V(connection_failed) (C(connect));
    V(banner_timeout) (C(banner)); V(hello_required), V(ehlo_rejected) (C(ehlo)); V(starttls_rejected),
    V(starttls_unavailable) (C(starttls)); V(tls_version_rejected), V(cert_untrusted), V(cert_hostname_mismatch),
    V(cert_expired), V(tls_handshake_failed) (C(tls)); V(basic_auth_disabled), V(tenant_smtp_auth_disabled),
    V(security_defaults_block), V(basic_auth_retired), V(invalid_xoauth2_data), V(mechanism_unrecognized),
    V(account_locked), V(auth_failed), V(auth_rejected), V(auth_mechanism_unavailable), V(insecure_connection)
    (C(auth)); V(not_authenticated), V(send_as_denied), V(submission_quota), V(sending_quota), V(sender_rejected)
    (C(mail)); V(forwarding_blocked), V(recipient_rejected) (C(rcpt)); V(message_rejected) (C(data)); from the token
    endpoint (oauth2 option) or for an app-only token (C(auth)) V(client_secret_invalid), V(client_secret_expired),
    V(client_assertion_invalid), V(app_not_found), V(tenant_not_found), V(tenant_required), V(scope_needs_default),
    V(scope_invalid), V(consent_missing), V(refresh_token_expired), V(grant_revoked), V(public_client_needs_secret),
    V(invalid_grant), V(certificate_invalid), V(signer_missing), V(invalid_client), V(endpoint_unreachable),
    V(cert_untrusted), V(bad_response), V(invalid_request), V(app_mailbox_denied); at any stage
    V(temporary_failure), V(service_unavailable), V(unexpected_reply), V(connection_lost), V(response_timeout),
    V(protocol_error)."
  # END generated: reasons
author:
  - mailops.live_smtp maintainers (@mailops)
extends_documentation_fragment:
  - mailops.live_smtp.attributes
attributes:
  check_mode:
    support: full
    details: In check mode O(send_test_message) sends nothing; the envelope is still probed (MAIL, RCPT, RSET).
  diff_mode:
    support: none
options:
  host:
    description:
      - The submission server. V(smtp.live.com) is a legacy name and gets a warning.
    type: str
    default: smtp-mail.outlook.com
  port:
    description:
      - TCP port. Microsoft supports only V(587) (STARTTLS) for SMTP AUTH client submission; V(465) gets a warning there.
    type: int
    default: 587
  security:
    description:
      - V(starttls) upgrades the plaintext connection (and fails with V(starttls_unavailable) rather than continue
        without TLS); V(tls) speaks TLS from the first byte (implicit TLS); V(none) never uses TLS.
      - Default V(tls) when O(port=465), else V(starttls).
    type: str
    choices: [starttls, tls, none]
  timeout:
    description:
      - Seconds for the whole probe of the endpoint (DNS, connect, TLS, AUTH, token refresh, envelope). Every network
        operation gets only the time that is left.
    type: float
    default: 30
  ehlo_name:
    description:
      - Name sent with EHLO. Default is this host's name from C(gethostname), without a DNS lookup.
    type: str
  ip_version:
    description:
      - Which address family to use. V(any) tries IPv4 addresses before IPv6 ones when O(nameservers) is set, else in
        the system resolver's order.
    type: str
    choices: ['any', '4', '6']
    default: any
  nameservers:
    description:
      - Resolve O(host) through these DNS servers (with dnspython) instead of the system resolver.
      - Each entry is V(IP), V(IP:port) or V([IPv6]:port).
      - Without this option the system resolver (C(/etc/hosts), C(resolv.conf)) is used and dnspython is not needed.
    type: list
    elements: str
  validate_certs:
    description:
      - Verify the server certificate (chain and name) and the token endpoint's. V(false) is for diagnosis only, because
        credentials then go to any server in the path, and RV(tls.verified) is V(false).
    type: bool
    default: true
  ca_path:
    description:
      - CA bundle file (PEM) or directory of hashed certificates that are trusted for the server and the token
        endpoint. Default is the system trust store.
    type: path
  min_tls_version:
    description:
      - Lowest TLS version accepted. Microsoft refuses anything older than TLS 1.2.
    type: str
    choices: [TLSv1, TLSv1.1, TLSv1.2, TLSv1.3]
    default: TLSv1.2
  cert_min_days:
    description:
      - Warn when the server certificate expires in fewer days than this.
    type: int
    default: 14
  username:
    description:
      - The login, normally the full mailbox address. Also the default O(mail_from).
    type: str
  password:
    description:
      - Password or app password (SASL LOGIN or PLAIN). Microsoft refuses these for personal accounts since
        September 2024 (V(basic_auth_disabled)); tenants may still allow them.
    type: str
  auth:
    description:
      - V(auto) uses XOAUTH2 when a token source is given, else LOGIN (or PLAIN) when O(password) is given, else no
        AUTH.
      - A mechanism the server does not offer after TLS is not tried (V(auth_mechanism_unavailable)).
    type: str
    choices: [auto, login, plain, xoauth2, none]
    default: auto
  oauth2_access_token:
    description:
      - An OAuth2 access token for SASL XOAUTH2 (for example from the C(live-smtp-token) helper of the
        P(mailops.live_smtp.oauth2_token#role) role).
    type: str
  oauth2:
    description:
      - Fetch an access token before AUTH (in parallel with DNS, TCP and TLS), with the refresh token grant
        (delegated, the default) or the client credentials grant (app-only, O(oauth2.grant=client_credentials)).
      - The keys are those of C(oauth2) in the shared account vocabulary (P(mailops.live_smtp.account#role)).
      - O(validate_certs) and O(ca_path) apply to the token endpoint too.
      - A token endpoint error fails at stage C(auth) with its own reason word (C(docs/reasons.md), token endpoint
        table) and hint. With an app-only token, C(535 5.7.3) is V(app_mailbox_denied).
      - If Microsoft rotates the refresh token, the module cannot store the new one; it returns
        RV(oauth2_refresh_token_rotated=true). Where rotation matters use the token helper of the
        P(mailops.live_smtp.oauth2_token#role) role, which stores it, and pass O(oauth2_access_token).
    type: dict
    suboptions:
      grant:
        description:
          - V(refresh_token) signs in as the mailbox (delegated); V(client_credentials) signs in as the app (app-only,
            Microsoft 365 tenants, with the application permission SMTP.SendAsApp, admin consent, and the app's service
            principal granted the mailbox in Exchange Online). No refresh token is involved then.
        type: str
        choices: [refresh_token, client_credentials]
        default: refresh_token
      client_id:
        description: Application (client) id of the app registration.
        type: str
        required: true
      refresh_token:
        description: The refresh token. Required for O(oauth2.grant=refresh_token).
        type: str
      client_secret:
        description:
          - Client secret, for confidential apps; for O(oauth2.grant=client_credentials) this or O(oauth2.certificate).
        type: str
      client_secret_expires:
        description: Expiry date (YYYY-MM-DD) of the client secret. Accepted for the shared vocabulary; not used here.
        type: str
      certificate:
        description:
          - Certificate credential (O(oauth2.grant=client_credentials)), a PEM file path on the managed host or the
            PEM text. The client assertion (JWT, RS256, C(x5t#S256)) is signed with the Python package C(cryptography)
            when present, else with the C(openssl) command; with neither the check fails with V(signer_missing).
        type: str
      private_key:
        description:
          - Unencrypted RSA private key of O(oauth2.certificate), a PEM file path or the PEM text. Default the key in
            the certificate's PEM.
        type: str
      tenant:
        description:
          - V(consumers) for personal accounts, V(organizations), or a tenant id or domain.
          - Required for O(oauth2.grant=client_credentials), which refuses V(consumers), V(common) and
            V(organizations) (V(tenant_required)).
          - Default V(consumers) for the refresh token grant.
        type: str
      token_url:
        description: Token endpoint (must be https). Default C(https://login.microsoftonline.com/<tenant>/oauth2/v2.0/token).
        type: str
      scope:
        description:
          - Scopes requested. Default C(https://outlook.office.com/SMTP.Send offline_access) for the refresh token grant,
            C(https://outlook.office365.com/.default) for client credentials.
        type: str
  mail_from:
    description:
      - Envelope sender for the envelope probe or the test message. Default O(username). Outlook accepts only the
        login address (V(send_as_denied) otherwise).
    type: str
  rcpt_to:
    description:
      - Recipients to probe with RCPT TO (followed by RSET, so no mail is sent), or to send the test message to
        (default O(mail_from)).
    type: list
    elements: str
  send_test_message:
    description:
      - Really send one short plain-text message to O(rcpt_to). Skipped in check mode (the envelope is probed
        instead). RV(ignore:changed) is V(true) only when a message was sent.
    type: bool
    default: false
notes:
  - Runs on the managed host with only the Python standard library; dnspython is needed only for O(nameservers).
  - Pass secrets as (vaulted) variables in a playbook, not with C(ansible -a), which prints its raw argument string
    when a task fails. Mark a secret containing C({{) as C(!unsafe).
  - Round trips for STARTTLS + AUTH (after TCP connect) are banner, EHLO, STARTTLS, the TLS handshake (one with
    TLS 1.3, two with TLS 1.2), EHLO, and AUTH (one for XOAUTH2 and PLAIN, two for LOGIN).
seealso:
  - name: Microsoft - POP, IMAP, and SMTP settings for Outlook.com
    description: The endpoints and ports Microsoft documents for personal accounts.
    link: https://support.microsoft.com/office/pop-imap-and-smtp-settings-for-outlook-com-d088b986-291d-42b8-9564-9c414e2aa040
  - name: Microsoft - Authenticate an IMAP, POP or SMTP connection using OAuth
    description: SASL XOAUTH2 and the token scopes.
    link: https://learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
requirements:
  - dnspython (only when O(nameservers) is set)
"""

EXAMPLES = r"""
- name: Can this host reach Outlook.com's submission port, with verified TLS?
  mailops.live_smtp.smtp_check:

- name: Check the account with OAuth2 (token fetched from the refresh token)
  mailops.live_smtp.smtp_check:
    username: alerts@outlook.com
    oauth2:
      client_id: "{{ outlook_client_id }}"
      refresh_token: "{{ vault_outlook_refresh_token }}"
  delegate_to: localhost

- name: Check a Microsoft 365 mailbox with an app-only token (client credentials, certificate credential)
  mailops.live_smtp.smtp_check:
    host: smtp.office365.com
    username: alerts@contoso.com
    oauth2:
      grant: client_credentials
      client_id: "{{ alerts_app_client_id }}"
      tenant: "{{ contoso_tenant_id }}"
      certificate: /etc/ssl/private/alerts-app.pem
  delegate_to: localhost

- name: Check an app password of a Microsoft 365 mailbox and probe the envelope (nothing is sent)
  mailops.live_smtp.smtp_check:
    host: smtp.office365.com
    username: alerts@example.com
    password: "{{ vault_alerts_password }}"
    rcpt_to:
      - ops@example.com
  register: smtp

- name: Show what to do when it failed
  ansible.builtin.debug:
    msg: "{{ smtp.reason }} at {{ smtp.failed_stage }}: {{ smtp.hint }}"
  when: smtp is failed

- name: Send one real test message with an access token from the token helper
  mailops.live_smtp.smtp_check:
    username: alerts@outlook.com
    oauth2_access_token: "{{ access_token }}"
    send_test_message: true
    rcpt_to:
      - me@example.com

- name: Resolve through a given DNS server and use IPv4 only, 10 seconds at most
  mailops.live_smtp.smtp_check:
    nameservers:
      - 192.0.2.53
      - "[2001:db8::53]:5353"
    ip_version: "4"
    timeout: 10
"""

RETURN = r"""
ok:
  description: Whether every stage that was asked for succeeded.
  returned: always
  type: bool
  sample: true
failed_stage:
  description:
    - The stage that failed, or V(null).
    - One of V(dns), V(connect), V(banner), V(ehlo), V(starttls), V(tls), V(auth), V(mail), V(rcpt), V(data).
  returned: always
  type: str
  sample: auth
reason:
  description:
    - Why it failed, a stable word (see the module description and C(docs/reasons.md)), or V(null).
  returned: always
  type: str
  sample: basic_auth_disabled
hint:
  description: What to do about the failure, or V(null).
  returned: always
  type: str
  sample: "Microsoft no longer accepts passwords or app passwords for this account (personal accounts since 16 Sep
    2024): switch the account to OAuth2 (SASL XOAUTH2): set oauth2 (client_id, refresh_token) or oauth2_access_token."
detail:
  description: Local detail of a failure that has no server reply (OS error, certificate verification message).
  returned: always
  type: str
  sample: "certificate verify failed: unable to get local issuer certificate"
reply:
  description: The server reply that failed, or V(null).
  returned: always
  type: dict
  contains:
    code:
      description: Reply code.
      type: int
      sample: 535
    enhanced:
      description: Enhanced status code, or V(null).
      type: str
      sample: 5.7.139
    text:
      description: Reply text after the reply code, starting with the enhanced code if any (lines joined with a newline).
      type: str
      sample: "5.7.139 Authentication unsuccessful, basic authentication is disabled."
  sample:
    code: 535
    enhanced: 5.7.139
    text: "5.7.139 Authentication unsuccessful, basic authentication is disabled."
addresses:
  description: The addresses O(host) resolved to, in the order they were tried.
  returned: always
  type: list
  elements: str
  sample: ["52.97.8.2", "2603:1026:c0a:1::2"]
address:
  description: The address that accepted the TCP connection, or V(null).
  returned: always
  type: str
  sample: 52.97.8.2
banner:
  description: The server's greeting (text without the code), or V(null).
  returned: always
  type: str
  sample: "DB9PR02CA0012.outlook.office365.com Microsoft ESMTP MAIL Service ready at Fri, 27 Nov 2026 23:59:01 +0000"
esmtp:
  description: The EHLO extensions, keyword to parameters.
  returned: always
  type: dict
  contains:
    before_tls:
      description: Extensions offered before STARTTLS, or V(null) with implicit TLS.
      type: dict
      sample: {"SIZE": "157286400", "PIPELINING": "", "STARTTLS": ""}
    after_tls:
      description: Extensions offered inside TLS, or V(null).
      type: dict
      sample: {"SIZE": "157286400", "PIPELINING": "", "AUTH": "LOGIN XOAUTH2"}
  sample:
    before_tls: {"SIZE": "157286400", "PIPELINING": "", "DSN": "", "ENHANCEDSTATUSCODES": "", "STARTTLS": ""}
    after_tls: {"SIZE": "157286400", "PIPELINING": "", "AUTH": "LOGIN XOAUTH2"}
auth_mechanisms:
  description: SASL mechanisms the server offered in the EHLO before AUTH (inside TLS when TLS is used).
  returned: always
  type: list
  elements: str
  sample: ["LOGIN", "XOAUTH2"]
auth_mechanism:
  description: The mechanism of the AUTH that was sent (also when the server refused it), or V(null) when no AUTH
    was attempted.
  returned: always
  type: str
  sample: XOAUTH2
auth_challenge:
  description:
    - The error challenge of a refused XOAUTH2, decoded (the JSON object a server such as Gmail or Dovecot sends
      base64-encoded after C(334) before its final reply), or V(null). Its C(scope) is the scope the server wants
      the token to carry.
  returned: always
  type: dict
  sample: {"status": "401", "schemes": "Bearer", "scope": "https://mail.google.com/"}
authenticated:
  description: Whether AUTH succeeded.
  returned: always
  type: bool
  sample: true
tls:
  description: The TLS session, or V(null) when TLS was not reached.
  returned: when the TLS handshake succeeded
  type: dict
  contains:
    version:
      description: Protocol version.
      type: str
      sample: TLSv1.3
    cipher:
      description: Cipher suite.
      type: str
      sample: TLS_AES_256_GCM_SHA384
    verified:
      description: Whether chain and name were verified. Always V(false) with O(validate_certs=false).
      type: bool
      sample: true
    subject:
      description: Certificate subject.
      type: str
      sample: "C=US, ST=Washington, L=Redmond, O=Microsoft Corporation, CN=outlook.com"
    issuer:
      description: Certificate issuer.
      type: str
      sample: "C=US, O=DigiCert Inc, CN=DigiCert Cloud Services CA-1"
    san:
      description: DNS names and IP addresses of the certificate's subjectAltName.
      type: list
      elements: str
      sample: ["*.outlook.com", "smtp-mail.outlook.com"]
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      sample: "2027-06-30T23:59:59Z"
    days_left:
      description: Whole days until RV(tls.not_after).
      type: int
      sample: 214
  sample:
    version: TLSv1.3
    cipher: TLS_AES_256_GCM_SHA384
    verified: true
    subject: "C=US, ST=Washington, L=Redmond, O=Microsoft Corporation, CN=outlook.com"
    issuer: "C=US, O=DigiCert Inc, CN=DigiCert Cloud Services CA-1"
    san: ["*.outlook.com", "smtp-mail.outlook.com"]
    not_after: "2027-06-30T23:59:59Z"
    days_left: 214
message_sent:
  description: Whether a test message was accepted by the server.
  returned: always
  type: bool
  sample: false
oauth2_refresh_token_rotated:
  description:
    - Whether the token endpoint returned a new refresh token. The module cannot store it (and never returns it);
      the old one may stop working. The token helper of the P(mailops.live_smtp.oauth2_token#role) role stores it.
  returned: always
  type: bool
  sample: false
timings_ms:
  description:
    - Milliseconds per phase that ran, also the phase that failed (V(token), V(dns), V(connect), V(banner), V(ehlo),
      V(starttls), V(tls), V(ehlo_tls), V(auth), V(envelope), V(data)) and V(total). V(token) overlaps the network
      phases. V(auth) includes the wait for the token.
  returned: always
  type: dict
  sample: {"dns": 3.1, "connect": 21.4, "banner": 95.2, "ehlo": 21.0, "starttls": 20.8, "tls": 44.0,
           "ehlo_tls": 21.2, "auth": 60.1, "total": 287.3}
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import errors, probe


def argument_spec():
    return dict(
        host=dict(type="str", default="smtp-mail.outlook.com"),
        port=dict(type="int", default=587),
        security=dict(type="str", choices=["starttls", "tls", "none"]),
        timeout=dict(type="float", default=30),
        ehlo_name=dict(type="str"),
        ip_version=dict(type="str", choices=["any", "4", "6"], default="any"),
        nameservers=dict(type="list", elements="str"),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        min_tls_version=dict(type="str", choices=["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"], default="TLSv1.2"),
        cert_min_days=dict(type="int", default=14),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        auth=dict(type="str", choices=["auto", "login", "plain", "xoauth2", "none"], default="auto"),
        oauth2_access_token=dict(type="str", no_log=True),
        oauth2=dict(type="dict", options=dict(
            grant=dict(type="str", choices=["refresh_token", "client_credentials"], default="refresh_token"),
            client_id=dict(type="str", required=True),
            refresh_token=dict(type="str", no_log=True),
            client_secret=dict(type="str", no_log=True),
            client_secret_expires=dict(type="str", no_log=False),
            certificate=dict(type="str", no_log=False),
            private_key=dict(type="str", no_log=True),
            tenant=dict(type="str"),
            token_url=dict(type="str", no_log=False),
            scope=dict(type="str"),
        ), required_if=[
            ("grant", "refresh_token", ("refresh_token",)),
            ("grant", "client_credentials", ("tenant",)),
            ("grant", "client_credentials", ("client_secret", "certificate"), True),
        ], mutually_exclusive=[("client_secret", "certificate"), ("refresh_token", "certificate")],
            required_by={"private_key": "certificate"}),
        mail_from=dict(type="str"),
        rcpt_to=dict(type="list", elements="str"),
        send_test_message=dict(type="bool", default=False),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("oauth2", "oauth2_access_token")],
        required_by={"password": "username", "oauth2": "username", "oauth2_access_token": "username"},
        required_if=[
            ("auth", "xoauth2", ("oauth2", "oauth2_access_token"), True),
            ("auth", "login", ("password",)),
            ("auth", "plain", ("password",)),
        ],
        supports_check_mode=True,
    )
    params = module.params
    if params["timeout"] <= 0:
        module.fail_json(msg="timeout must be greater than 0")
    try:
        options = probe.Options.from_module_params(params, check_mode=module.check_mode)
    except errors.MissingLibraryError as exc:
        module.fail_json(msg=missing_required_lib(exc.library, reason="for nameservers"), exception=exc.import_error)
    except errors.ConfigError as exc:
        module.fail_json(msg=str(exc))
    result = probe.run(options)

    for warning in result.pop("warnings"):
        module.warn(warning)
    result["changed"] = result["message_sent"]
    if result["ok"]:
        module.exit_json(**result)
    module.fail_json(msg=failure_message(result), **result)


def failure_message(result):
    """reason: hint (reply) on one line."""
    message = "%s: %s" % (result["reason"], result["hint"])
    if result["reply"]:
        message += " (%d %s)" % (result["reply"]["code"], result["reply"]["text"])
    elif result["detail"]:
        message += " (%s)" % result["detail"]
    return " ".join(message.split())


if __name__ == "__main__":
    main()
