# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared account vocabulary: defaults and refusals."""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.mailops.live_smtp.plugins.filter.account_defaults import account_defaults, complete_account

CA = "/etc/ssl/certs/ca-certificates.crt"


def test_password_account_gets_outlook_defaults():
    account = complete_account({"name": "outlook", "username": "a@outlook.com", "password": "pw"}, CA)
    assert account["host"] == "smtp-mail.outlook.com"
    assert account["port"] == 587
    assert account["security"] == "starttls"
    assert account["from"] == "a@outlook.com"
    assert account["auth"] == "password"
    assert account["ca_file"] == CA
    assert account["senders"] == []
    assert account["oauth2"] is None


def test_port_465_defaults_to_implicit_tls():
    account = complete_account({"name": "x", "username": "a@b.c", "password": "pw", "port": 465}, CA)
    assert account["security"] == "tls"


def test_oauth2_account_gets_token_url_for_its_tenant():
    account = complete_account(
        {"name": "work", "username": "a@contoso.com", "oauth2": {"client_id": "cid", "refresh_token": "rt", "tenant": "organizations"}},
        CA,
    )
    assert account["auth"] == "oauth2"
    assert account["oauth2"]["token_url"] == "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"
    assert "SMTP.Send" in account["oauth2"]["scope"]
    assert account["password"] is None


def test_explicit_values_win():
    given = {"name": "a", "username": "u@x.y", "password": "pw", "host": "smtp.office365.com", "from": "u@x.y",
             "ca_file": "/tmp/ca.pem", "security": "starttls", "port": 2525, "senders": ["@example.org"]}
    account = complete_account(given, CA)
    for key, value in given.items():
        assert account[key] == value


@pytest.mark.parametrize("account, message", [
    ({"name": "Bad Name", "username": "u@x.y", "password": "pw"}, "must match"),
    ({"name": "a", "password": "pw"}, "no username"),
    ({"name": "a", "username": "u@x.y"}, "sets no password"),
    ({"name": "a", "username": "u@x.y", "auth": "oauth2", "oauth2": {"client_id": "c"}}, "oauth2.refresh_token"),
    ({"name": "a", "username": "u@x.y", "auth": "kerberos", "password": "pw"}, "auth must be"),
    ({"name": "a", "username": "u@x.y", "password": 31}, r"password is not a string \(YAML read it as a number, boolean or null: quote it\) in account a"),
    ({"name": "a", "username": "u@x.y", "password": True}, "password is not a string"),
    ({"name": "a", "username": "u@x.y", "oauth2": {"client_id": "c", "refresh_token": 1.5}}, "oauth2.refresh_token is not a string"),
])
def test_bad_accounts_are_refused(account, message):
    with pytest.raises(AnsibleFilterError, match=message):
        account_defaults([account], CA)


def test_duplicate_names_are_refused_without_echoing_secrets():
    secret = "s3cret-value-never-shown"
    accounts = [{"name": "a", "username": "u@x.y", "password": secret}] * 2
    with pytest.raises(AnsibleFilterError) as err:
        account_defaults(accounts, CA)
    assert "used twice" in str(err.value)
    assert secret not in str(err.value)


def test_input_is_not_modified():
    given = {"name": "a", "username": "u@x.y", "password": "pw"}
    complete_account(given, CA)
    assert given == {"name": "a", "username": "u@x.y", "password": "pw"}
