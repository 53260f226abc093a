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
