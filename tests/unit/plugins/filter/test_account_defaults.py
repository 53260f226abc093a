# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared account vocabulary: defaults and refusals."""

from __future__ import annotations

import datetime

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


# ------------------------------------------------------------------------------------------------ random entries

import os  # noqa: E402

import yaml  # noqa: E402
from hypothesis import HealthCheck, example, given, settings, strategies as st  # noqa: E402

from ansible_collections.mailops.live_smtp.plugins.filter.account_defaults import ACCOUNT_KEYS, OAUTH2_KEYS  # noqa: E402

SECRET = "Zq9secret"
ODD_TEXT = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", "a\r\nb", "a\x00b", "x" * 5000, "a b", "ä@ö.de",
                                                            "smtp.office365.com", "[::1]", "-bad-", "consumers", "../x"]))
ODD = st.one_of(ODD_TEXT, st.none(), st.booleans(), st.integers(-10, 70000), st.floats(allow_nan=True),
                st.lists(st.text(max_size=3), max_size=2), st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))
KEYS = st.sampled_from(sorted(ACCOUNT_KEYS) + ["pasword", "Port", "user", "tenant", "\r\n", ""])


@st.composite
def accounts(draw):
    account = {"name": draw(st.sampled_from(["work", "a", "Bad Name", "x" * 70, 5, None, "a\nb"])),
               "username": draw(st.sampled_from(["a@outlook.com", "", "a b@c", 7, None, "a\r\n@b"])),
               "password": SECRET + draw(st.sampled_from(["", "\n", "\x00", " x"]))}
    for key in draw(st.lists(KEYS, max_size=4)):
        account[key] = draw(ODD)
    if draw(st.booleans()):
        account["oauth2"] = {key: draw(ODD) for key in draw(st.lists(st.sampled_from(sorted(OAUTH2_KEYS) + ["tennant"]), max_size=4))}
        account["oauth2"]["refresh_token"] = SECRET
    return account


@settings(derandomize=True, max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(account=accounts())
@example(account={"name": "w", "username": "a@b.c", "oauth2": {"client_id": "c", "refresh_token": SECRET, "tenant": "bad tenant!"}})
@example(account={"name": "w", "username": "a@b.c", "password": "p", "port": 70000})
@example(account={"name": "w", "username": "a@b.c", "password": "p", "host": "h\r\nRCPT TO:<x>"})
def test_random_entries_end_in_a_clear_error_or_a_sound_account(count_input, account):
    count_input("account vocabulary: random entries")
    try:
        [result] = account_defaults([account], CA)
    except AnsibleFilterError as exc:
        message = str(exc)
        assert message.startswith("live_smtp_accounts: ")
        assert SECRET not in message and len(message) < 600
        return
    assert isinstance(result["port"], int) and 1 <= result["port"] <= 65535
    for key in ("name", "host", "username", "from", "security", "auth", "ca_file"):
        assert isinstance(result[key], str) and not any(ch in result[key] for ch in "\r\n\x00"), key
    assert set(result) <= ACCOUNT_KEYS
    assert result["auth"] in ("password", "oauth2")
    if result["auth"] == "oauth2":
        assert result["oauth2"]["token_url"].startswith("https://") and set(result["oauth2"]) <= OAUTH2_KEYS
    else:
        assert result["password"].startswith(SECRET) and "\n" not in result["password"]


def test_a_bad_tenant_names_the_account():
    with pytest.raises(AnsibleFilterError, match="account work: oauth2.tenant must be"):
        account_defaults([{"name": "work", "username": "a@b.c",
                           "oauth2": {"client_id": "c", "refresh_token": "r", "tenant": "not a tenant"}}], CA)


def test_the_vocabulary_matches_the_account_role_argument_specs():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")
    with open(os.path.join(root, "roles", "account", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"]["live_smtp_accounts"]["options"]
    assert set(spec) == ACCOUNT_KEYS
    assert set(spec["oauth2"]["options"]) == OAUTH2_KEYS


TENANT = "11111111-2222-3333-4444-555555555555"


def _app(**oauth2):
    return {"name": "app", "username": "alerts@contoso.com", "oauth2": dict({"grant": "client_credentials",
                                                                             "client_id": "cid", "tenant": TENANT}, **oauth2)}


def test_client_credentials_with_a_secret_gets_the_tenant_endpoint_and_default_scope():
    account = complete_account(_app(client_secret="s", client_secret_expires="2027-06-30"), CA)
    oauth2 = account["oauth2"]
    assert oauth2["grant"] == "client_credentials"
    assert oauth2["token_url"] == "https://login.microsoftonline.com/%s/oauth2/v2.0/token" % TENANT
    assert oauth2["scope"] == "https://outlook.office365.com/.default"
    assert oauth2["refresh_token"] is None and oauth2["certificate"] is None and oauth2["private_key"] is None
    assert oauth2["client_secret_expires"] == "2027-06-30"
    assert account["auth"] == "oauth2"


def test_client_credentials_with_a_certificate_keeps_pem_text():
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"
    oauth2 = complete_account(_app(certificate=pem, private_key=key), CA)["oauth2"]
    assert oauth2["certificate"] == pem and oauth2["private_key"] == key
    assert oauth2["client_secret"] is None


def test_a_yaml_date_is_taken_for_client_secret_expires():
    oauth2 = complete_account(_app(client_secret="s", client_secret_expires=datetime.date(2027, 1, 2)), CA)["oauth2"]
    assert oauth2["client_secret_expires"] == "2027-01-02"


def test_refresh_token_grant_is_the_default():
    oauth2 = complete_account({"name": "a", "username": "u@x.y", "oauth2": {"client_id": "c", "refresh_token": "r"}}, CA)["oauth2"]
    assert oauth2["grant"] == "refresh_token"
    assert oauth2["tenant"] == "consumers"


@pytest.mark.parametrize("oauth2, message", [
    ({"tenant": None, "client_secret": "s"}, "needs oauth2.tenant"),
    ({"tenant": "consumers", "client_secret": "s"}, "cannot use tenant consumers"),
    ({"tenant": "Common", "client_secret": "s"}, "cannot use tenant common"),
    ({"tenant": "organizations", "client_secret": "s"}, "cannot use tenant organizations"),
    ({}, "exactly one of oauth2.client_secret or oauth2.certificate"),
    ({"client_secret": "s", "certificate": "/etc/app.pem"}, "exactly one of"),
    ({"client_secret": "s", "refresh_token": "r"}, "takes no refresh_token"),
    ({"client_secret": "s", "private_key": "/etc/k.pem"}, "private_key needs oauth2.certificate"),
    ({"certificate": "/etc/app.pem", "client_secret_expires": "2027-01-01"}, "client_secret_expires needs"),
    ({"client_secret": "s", "client_secret_expires": "next year"}, "YYYY-MM-DD"),
    ({"client_secret": "s", "grant": "password"}, "oauth2.grant must be"),
    ({"client_secret": "s", "token_url": "https://login.microsoftonline.com/common/oauth2/v2.0/token"}, "own endpoint"),
    ({"client_secret": "s", "tenant": "not a tenant"}, "tenant must be a tenant id"),
])
def test_bad_client_credentials_are_refused_without_echoing_secrets(oauth2, message):
    account = _app(**oauth2)
    with pytest.raises(AnsibleFilterError, match=message) as err:
        account_defaults([account], CA)
    assert "s3cr3t" not in str(err.value)


@pytest.mark.parametrize("key", ["certificate", "private_key", "client_secret_expires"])
def test_app_only_keys_are_refused_for_the_refresh_token_grant(key):
    oauth2 = {"client_id": "c", "refresh_token": "r", key: "2027-01-01"}
    with pytest.raises(AnsibleFilterError, match="belongs to grant client_credentials"):
        account_defaults([{"name": "a", "username": "u@x.y", "oauth2": oauth2}], CA)
