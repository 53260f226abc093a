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

from ansible_collections.mailops.live_smtp.plugins.module_utils._oauth2 import DEFAULT_SCOPE, token_url_for

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _require_text(value, name, key):
    """YAML (and !unsafe in ansible-core 2.19) turns 0x1F, true or null into non-strings: the secret would change."""
    if not isinstance(value, str):
        raise ValueError("%s is not a string (YAML read it as a number, boolean or null: quote it) in account %s" % (key, name))


def complete_account(account, ca_file):
    """Return a copy of one account with its defaults filled in; raise ValueError on a bad account."""
    name = account.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ValueError("account name %r must match %s" % (name, NAME_RE.pattern))
    if not account.get("username"):
        raise ValueError("account %s has no username" % name)
    result = dict(account)
    result["host"] = account.get("host") or "smtp-mail.outlook.com"
    result["port"] = int(account.get("port") or 587)
    result["security"] = account.get("security") or ("tls" if result["port"] == 465 else "starttls")
    result["from"] = account.get("from") or account["username"]
    result["auth"] = account.get("auth") or ("oauth2" if account.get("oauth2") else "password")
    result["ca_file"] = account.get("ca_file") or ca_file
    result["senders"] = list(account.get("senders") or [])
    if result["auth"] == "password":
        if account.get("password") is None or account.get("password") == "":
            raise ValueError("account %s uses auth=password but sets no password" % name)
        _require_text(account["password"], name, "password")
        result["oauth2"] = None
    elif result["auth"] == "oauth2":
        oauth2 = dict(account.get("oauth2") or {})
        for key in ("client_id", "refresh_token"):
            if not oauth2.get(key):
                raise ValueError("account %s uses auth=oauth2 but sets no oauth2.%s" % (name, key))
        for key in ("refresh_token", "client_secret"):
            if oauth2.get(key) is not None:
                _require_text(oauth2[key], name, "oauth2." + key)
        oauth2["tenant"] = oauth2.get("tenant") or "consumers"
        oauth2["token_url"] = oauth2.get("token_url") or token_url_for(oauth2["tenant"])
        oauth2["scope"] = oauth2.get("scope") or DEFAULT_SCOPE
        oauth2.setdefault("client_secret", None)
        result["oauth2"] = oauth2
        result["password"] = None
    else:
        raise ValueError("account %s: auth must be password or oauth2, not %r" % (name, result["auth"]))
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
    try:
        return complete_accounts(accounts, ca_file)
    except ValueError as exc:
        raise AnsibleFilterError("live_smtp_accounts: %s" % exc) from None


class FilterModule:
    """Filters of mailops.live_smtp."""

    def filters(self):
        return {"account_defaults": account_defaults}
