# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter that turns the shared account vocabulary into complete, checked account records."""

from __future__ import annotations

DOCUMENTATION = r"""
name: account_defaults
short_description: Fill in and check the defaults of live_smtp_accounts
version_added: 0.1.0
description:
  - Takes the shared account list of the collection (see the C(mailops.live_smtp.account) role) and returns it with
    every default filled in, so that each role reads the same values.
  - Fails with a clear message on a duplicate or malformed name, or an account without the secret its O(_input[].auth) needs.
options:
  _input:
    description: The list of accounts, as in C(live_smtp_accounts).
    type: list
    elements: dict
    required: true
  ca_file:
    description: The OS CA bundle, used where an account sets no C(ca_file).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Complete the accounts
  ansible.builtin.set_fact:
    accounts: "{{ live_smtp_accounts | mailops.live_smtp.account_defaults(ca_file='/etc/ssl/certs/ca-certificates.crt') }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The accounts with host, port, security, from, auth, oauth2 token_url/scope/tenant, ca_file and senders set.
  type: list
  elements: dict
"""

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.live_smtp.plugins.module_utils._oauth2 import (
    APP_SCOPE, DEFAULT_SCOPE, MULTI_TENANTS, OAuth2Error, app_token_url, token_url_for)

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# The keys of an account and of its oauth2 settings, as roles/account/meta/argument_specs.yml lists them (a unit
# test compares the two).
ACCOUNT_KEYS = frozenset(("name", "host", "port", "security", "username", "from", "auth", "password", "oauth2",
                          "ca_file", "senders"))
OAUTH2_KEYS = frozenset(("grant", "client_id", "client_secret", "client_secret_expires", "refresh_token", "tenant",
                         "token_url", "scope", "certificate", "private_key"))
GRANTS = ("refresh_token", "client_credentials")
# Keys that carry a secret: never named with their value in an error.
OAUTH2_SECRETS = ("refresh_token", "client_secret", "private_key")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A host name or address as a mail client takes it: letters, digits, dots, hyphens, underscores, IPv6 colons.
HOST_RE = re.compile(r"^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,251}[A-Za-z0-9_])?|\[?[0-9A-Fa-f:.]+\]?)$")
# Postfix maps, msmtprc and application files are line based: a line break, NUL or (in names) a space would end
# or split the entry.
_BREAKS = re.compile(r"[\r\n\x00]")


def _require_text(value, name, key):
    """YAML (and !unsafe in ansible-core 2.19) turns 0x1F, true or null into non-strings: the secret would change."""
    if not isinstance(value, str):
        raise ValueError("%s is not a string (YAML read it as a number, boolean or null: quote it) in account %s" % (key, name))


def _check_text(account, key, name, secret=False, pattern=None, what=None):
    """A string without line breaks or NUL (and matching pattern); the value is named only when it is no secret."""
    value = account.get(key)
    if value is None:
        return
    if not isinstance(value, str):
        if secret:
            _require_text(value, name, key)
        raise ValueError("account %s: %s must be a string, not %s" % (name, key, type(value).__name__))
    if _BREAKS.search(value):
        raise ValueError("account %s: %s contains a line break or NUL, which no configuration file can carry" % (name, key))
    if pattern is not None and not pattern.match(value):
        raise ValueError("account %s: %s %s" % (name, key, what))


def _check_port(port, name):
    if port is None:
        return 587
    if isinstance(port, bool) or not isinstance(port, (int, str)) or not str(port).strip().isdigit():
        raise ValueError("account %s: port must be a number from 1 to 65535" % name)
    port = int(port)
    if not 1 <= port <= 65535:
        raise ValueError("account %s: port %d is not from 1 to 65535" % (name, port))
    return port


def _complete_oauth2(oauth2, name):
    """The oauth2 settings of one account with grant, tenant, token_url and scope filled in."""
    grant = oauth2.get("grant") or "refresh_token"
    if grant not in GRANTS:
        raise ValueError("account %s: oauth2.grant must be refresh_token or client_credentials, not %r" % (name, str(grant)[:32]))
    oauth2["grant"] = grant
    if not oauth2.get("client_id"):
        raise ValueError("account %s uses auth=oauth2 but sets no oauth2.client_id" % name)
    for key in OAUTH2_SECRETS:
        if oauth2.get(key) is not None:
            _require_text(oauth2[key], name, "oauth2." + key)
    # PEM text spans lines; every other value goes into one line of some file.
    for key in OAUTH2_KEYS - {"certificate", "private_key", "client_secret_expires"}:
        _check_text(oauth2, key, name + " oauth2", secret=key in OAUTH2_SECRETS)
    if oauth2.get("certificate") is not None and not isinstance(oauth2["certificate"], str):
        raise ValueError("account %s: oauth2.certificate must be a path or PEM text" % name)
    expires = oauth2.get("client_secret_expires")
    if expires is not None:
        expires = str(expires)  # YAML reads an unquoted 2027-06-30 as a date
        if not DATE_RE.match(expires):
            raise ValueError("account %s: oauth2.client_secret_expires must be a date YYYY-MM-DD" % name)
        oauth2["client_secret_expires"] = expires
    if grant == "client_credentials":
        _complete_app_only(oauth2, name)
    else:
        for key in ("certificate", "private_key", "client_secret_expires"):
            if oauth2.get(key):
                raise ValueError("account %s: oauth2.%s belongs to grant client_credentials; this account uses the "
                                 "refresh token grant" % (name, key))
        if not oauth2.get("refresh_token"):
            raise ValueError("account %s uses auth=oauth2 but sets no oauth2.refresh_token" % name)
        oauth2["tenant"] = oauth2.get("tenant") or "consumers"
        try:
            oauth2["token_url"] = oauth2.get("token_url") or token_url_for(oauth2["tenant"])
        except OAuth2Error:
            # token_url_for's own message quotes the tenant; a tenant is no secret, but keep the message ours.
            raise ValueError("account %s: oauth2.tenant must be consumers, organizations, common, a tenant id (a GUID) "
                             "or a verified domain" % name) from None
        oauth2["scope"] = oauth2.get("scope") or DEFAULT_SCOPE
    for key in ("client_secret", "refresh_token", "certificate", "private_key", "client_secret_expires"):
        oauth2.setdefault(key, None)
    return oauth2


def _complete_app_only(oauth2, name):
    """Client credentials: one tenant, a secret or a certificate (and its key), no refresh token."""
    if oauth2.get("refresh_token"):
        raise ValueError("account %s: grant client_credentials takes no refresh_token (app-only tokens need none)" % name)
    tenant = oauth2.get("tenant")
    if not tenant:
        raise ValueError("account %s: grant client_credentials needs oauth2.tenant, the tenant id of the mailbox's "
                         "directory" % name)
    if tenant.lower() in MULTI_TENANTS:
        raise ValueError("account %s: grant client_credentials cannot use tenant %s: give the tenant id of the mailbox's "
                         "directory (personal accounts have no app-only access)" % (name, tenant.lower()))
    if bool(oauth2.get("client_secret")) == bool(oauth2.get("certificate")):
        raise ValueError("account %s: grant client_credentials needs exactly one of oauth2.client_secret or "
                         "oauth2.certificate" % name)
    if oauth2.get("private_key") and not oauth2.get("certificate"):
        raise ValueError("account %s: oauth2.private_key needs oauth2.certificate" % name)
    if oauth2.get("client_secret_expires") and not oauth2.get("client_secret"):
        raise ValueError("account %s: oauth2.client_secret_expires needs oauth2.client_secret" % name)
    try:
        token_url_for(tenant)
        oauth2["token_url"] = app_token_url(tenant, oauth2.get("token_url"))
    except OAuth2Error:
        raise ValueError("account %s: oauth2.tenant must be a tenant id (a GUID) or a verified domain, and token_url "
                         "that tenant's own endpoint" % name) from None
    oauth2["scope"] = oauth2.get("scope") or APP_SCOPE


def complete_account(account, ca_file):
    """Return a copy of one account with its defaults filled in; raise ValueError on a bad account."""
    name = account.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        shown = name if isinstance(name, str) and len(name) <= 80 and not _BREAKS.search(name) else type(name).__name__
        raise ValueError("account name %r must match %s" % (shown, NAME_RE.pattern))
    unknown = sorted(str(key)[:64] for key in account if key not in ACCOUNT_KEYS)
    if unknown:
        raise ValueError("account %s: unknown key(s) %s; known: %s" % (name, ", ".join(unknown), ", ".join(sorted(ACCOUNT_KEYS))))
    if not account.get("username"):
        raise ValueError("account %s has no username" % name)
    _check_text(account, "username", name, pattern=re.compile(r"^\S+$"), what="contains a space")
    _check_text(account, "host", name, pattern=HOST_RE, what="is not a host name or address")
    _check_text(account, "from", name, pattern=re.compile(r"^\S+$"), what="contains a space")
    _check_text(account, "ca_file", name)
    for key in ("security", "auth"):
        _check_text(account, key, name)
    senders = account.get("senders")
    sound = isinstance(senders, list) and all(isinstance(s, str) and s and " " not in s and not _BREAKS.search(s)
                                              for s in senders)
    if senders is not None and not sound:
        raise ValueError("account %s: senders must be a list of addresses or @domain patterns" % name)
    result = dict(account)
    result["host"] = account.get("host") or "smtp-mail.outlook.com"
    result["port"] = _check_port(account.get("port"), name)
    result["security"] = account.get("security") or ("tls" if result["port"] == 465 else "starttls")
    if result["security"] not in ("starttls", "tls"):
        raise ValueError("account %s: security must be starttls or tls, not %r" % (name, result["security"][:32]))
    result["from"] = account.get("from") or account["username"]
    result["auth"] = account.get("auth") or ("oauth2" if account.get("oauth2") else "password")
    result["ca_file"] = account.get("ca_file") or ca_file
    result["senders"] = list(account.get("senders") or [])
    if result["auth"] == "password":
        if account.get("password") is None or account.get("password") == "":
            raise ValueError("account %s uses auth=password but sets no password" % name)
        _require_text(account["password"], name, "password")
        if _BREAKS.search(account["password"]):
            raise ValueError("account %s: password contains a line break or NUL, which no configuration file can carry" % name)
        result["oauth2"] = None
    elif result["auth"] == "oauth2":
        if not isinstance(account.get("oauth2") or {}, dict):
            raise ValueError("account %s: oauth2 must be a mapping (client_id, refresh_token, ...)" % name)
        oauth2 = dict(account.get("oauth2") or {})
        unknown = sorted(str(key)[:64] for key in oauth2 if key not in OAUTH2_KEYS)
        if unknown:
            raise ValueError("account %s: unknown oauth2 key(s) %s; known: %s" % (name, ", ".join(unknown), ", ".join(sorted(OAUTH2_KEYS))))
        oauth2 = _complete_oauth2(oauth2, name)
        result["oauth2"] = oauth2
        result["password"] = None
    else:
        raise ValueError("account %s: auth must be password or oauth2, not %r" % (name, result["auth"][:32]))
    return result


def complete_accounts(accounts, ca_file):
    """Complete every account; names must be unique."""
    completed = [complete_account(a, ca_file) for a in accounts or []]
    seen = set()
    for account in completed:
        if account["name"] in seen:
            raise ValueError("account name %s is used twice" % account["name"])
        seen.add(account["name"])
    return completed


def account_defaults(accounts, ca_file):
    """Jinja2 entry point: never echo an account back in an error, it may hold a secret."""
    if not isinstance(accounts, list) or not all(isinstance(a, dict) for a in accounts):
        raise AnsibleFilterError("live_smtp_accounts must be a list of dicts")
    if not isinstance(ca_file, str):
        raise AnsibleFilterError("account_defaults: ca_file must be a string")
    try:
        return complete_accounts(accounts, ca_file)
    except ValueError as exc:
        raise AnsibleFilterError("live_smtp_accounts: %s" % exc) from None


class FilterModule:
    """Filters of mailops.live_smtp."""

    def filters(self):
        return {"account_defaults": account_defaults}
