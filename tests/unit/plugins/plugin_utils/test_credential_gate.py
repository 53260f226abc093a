# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The credential gate's pure logic: which login settings are new, the state file, and the failure message.

Accounts are completed by the real account_defaults filter, as the action plugin completes them. Hypothesis
examples are bounded and derandomized, like the other property suites."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.mailops.live_smtp.plugins.filter.account_defaults import OAUTH2_KEYS, complete_accounts
from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _check_rows
from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _credential_gate as gate

BOUNDED = settings(derandomize=True, max_examples=150, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow])
KEY = "0f" * 32
OTHER_KEY = "a1" * 32
PASSWORD = "pw-Kq8v2x;'\" \\"        # Kq8v2x: the marker no message may contain
CLIENT_SECRET = "cs-Jm4r7y~secret"  # Jm4r7y: likewise
REFRESH_TOKEN = "M.rt-Wp3n9z"       # Wp3n9z: likewise
SECRET_MARKERS = ("Kq8v2x", "Jm4r7y", "Wp3n9z")


def password_account(**changes):
    account = {"name": "alerts", "username": "alerts@outlook.com", "password": PASSWORD}
    account.update(changes)
    return account


def app_account(**oauth2_changes):
    oauth2 = {"grant": "client_credentials", "client_id": "11111111-2222-3333-4444-555555555555",
              "client_secret": CLIENT_SECRET, "tenant": "contoso.onmicrosoft.com"}
    oauth2.update(oauth2_changes)
    return {"name": "m365", "host": "smtp.office365.com", "username": "alerts@contoso.com", "auth": "oauth2",
            "oauth2": oauth2}


def delegated_account(**oauth2_changes):
    oauth2 = {"client_id": "99999999-2222-3333-4444-555555555555", "refresh_token": REFRESH_TOKEN}
    oauth2.update(oauth2_changes)
    return {"name": "personal", "username": "me@outlook.com", "auth": "oauth2", "oauth2": oauth2}


def entries_of(*accounts):
    """The gate's entries of these accounts, completed as the action plugin completes them."""
    return [gate.account_entry(account) for account in complete_accounts(list(accounts), ca_file="")]


def print_of(account, key=KEY):
    (dummy, settings_), = entries_of(account)
    return gate.fingerprint(key, settings_)


def is_new(before, after):
    """Would the gate check `after` on a host where `before` is live?"""
    state = gate.parse_state(gate.state_text(KEY, entries_of(before)))
    return gate.new_entries(state, entries_of(after)) != []


# ------------------------------------------------------------------------------------------------ fingerprints

def test_fingerprint_is_deterministic_and_hex():
    first = print_of(password_account())
    assert first == print_of(password_account())
    assert gate.HEX64.fullmatch(first)


def test_fingerprint_depends_on_the_key():
    assert print_of(password_account(), KEY) != print_of(password_account(), OTHER_KEY)


def test_fingerprint_holds_no_secret():
    text = gate.state_text(KEY, entries_of(password_account(), app_account(), delegated_account()))
    for marker in SECRET_MARKERS:
        assert marker not in text


def test_fingerprint_does_not_depend_on_key_order():
    reordered = {"b": {"y": 2, "x": 1}, "a": 1}
    assert gate.fingerprint(KEY, {"a": 1, "b": {"x": 1, "y": 2}}) == gate.fingerprint(KEY, reordered)


# A different value for each field that decides whether a login works.
FIELD_CHANGES = {
    "host": "smtp.example.net",
    "port": 465,
    "security": "tls",
    "username": "other@outlook.com",
    "password": PASSWORD + "2",
    "ca_file": "/etc/ssl/certs/other.pem",
}


def test_every_account_field_has_a_change_below():
    assert set(FIELD_CHANGES) | {"auth", "oauth2"} == set(gate.ACCOUNT_FIELDS)


@pytest.mark.parametrize("field", sorted(FIELD_CHANGES))
def test_a_change_of_a_login_field_makes_the_account_new(field):
    assert not is_new(password_account(), password_account())
    assert is_new(password_account(), password_account(**{field: FIELD_CHANGES[field]}))


def test_a_change_of_the_authentication_method_makes_the_account_new():
    with_password = password_account()
    with_oauth2 = {"name": "alerts", "username": "alerts@outlook.com", "auth": "oauth2",
                   "oauth2": delegated_account()["oauth2"]}
    assert is_new(with_password, with_oauth2)
    assert is_new(with_oauth2, with_password)


# A different value for each oauth2 key (each account keeps a grant it can use).
OAUTH2_CHANGES = {
    "grant": ("delegated", "client_credentials"),
    "client_id": ("app", "aaaaaaaa-2222-3333-4444-555555555555"),
    "client_secret": ("app", CLIENT_SECRET + "2"),
    "client_secret_expires": ("app", "2027-01-31"),
    "refresh_token": ("delegated", REFRESH_TOKEN + "2"),
    "tenant": ("app", "fabrikam.onmicrosoft.com"),
    "token_url": ("app", "https://login.example.net/contoso/oauth2/v2.0/token"),
    "scope": ("app", "https://outlook.office365.com/.default openid"),
    "certificate": ("app", "/etc/mailops/app.pem"),
    "private_key": ("app", "/etc/mailops/app.key"),
}


def test_every_oauth2_key_has_a_change_below():
    assert set(OAUTH2_CHANGES) == set(OAUTH2_KEYS)


@pytest.mark.parametrize("oauth2_key", sorted(OAUTH2_CHANGES))
def test_a_change_of_an_oauth2_key_makes_the_account_new(oauth2_key):
    kind, value = OAUTH2_CHANGES[oauth2_key]
    make = app_account if kind == "app" else delegated_account
    change = {oauth2_key: value}
    if oauth2_key == "grant":
        change.update(refresh_token=None, client_secret=CLIENT_SECRET, tenant="contoso.onmicrosoft.com")
    elif oauth2_key in ("certificate", "private_key"):
        change.update(client_secret=None, certificate="/etc/mailops/app.pem", private_key="/etc/mailops/app.key")
        change[oauth2_key] = value + ".new"
    assert not is_new(make(), make())
    assert is_new(make(), make(**change))


def test_none_valued_oauth2_keys_are_ignored():
    assert not is_new(app_account(), app_account(certificate=None, private_key=None, client_secret_expires=None))
    assert not is_new(delegated_account(client_secret=None), delegated_account())


@pytest.mark.parametrize("change", [
    {"from": "other@outlook.com"},
    {"senders": ["a@outlook.com", "b@outlook.com"]},
])
def test_a_change_of_another_field_does_not_make_the_account_new(change):
    base = password_account(senders=["alerts@outlook.com"])
    assert not is_new(base, dict(base, **change))


def test_another_accounts_change_leaves_this_one_as_it_was():
    live = [password_account(), app_account()]
    state = gate.parse_state(gate.state_text(KEY, entries_of(*live)))
    renamed = dict(app_account(), name="m365-new")
    assert gate.new_entries(state, entries_of(password_account(), renamed)) == ["account:m365-new"]
    assert gate.new_entries(state, entries_of(password_account(password="changed"), app_account())) == \
        ["account:alerts"]


TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
# What a configuration file can carry: no control character (the account filter refuses line breaks and NUL).
PASSWORDS = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)


@BOUNDED
@given(settings_=st.dictionaries(st.sampled_from(gate.ACCOUNT_FIELDS), TEXT | st.integers(), min_size=1),
       field=st.sampled_from(gate.ACCOUNT_FIELDS), value=TEXT | st.integers())
def test_any_change_of_any_field_changes_the_fingerprint(settings_, field, value):
    changed = dict(settings_, **{field: value})
    same = settings_.get(field) == value and type(settings_.get(field)) is type(value)
    assert (gate.fingerprint(KEY, settings_) == gate.fingerprint(KEY, changed)) == same
    assert gate.fingerprint(KEY, settings_) == gate.fingerprint(KEY, dict(settings_))


# ------------------------------------------------------------------------------------------------ the state file

ENTRIES = entries_of(password_account(), app_account(), delegated_account())
ALL_KEYS = [key for key, dummy in ENTRIES]


@pytest.mark.parametrize("text", [
    None,
    "",
    "not json {",
    "null",
    "[]",
    "42",
    '"text"',
    json.dumps({"version": 2, "key": KEY, "fingerprints": {}}),
    json.dumps({"key": KEY, "fingerprints": {}}),
    json.dumps({"version": 1, "key": KEY[:-2], "fingerprints": {}}),
    json.dumps({"version": 1, "key": KEY[:-1] + "g", "fingerprints": {}}),
    json.dumps({"version": 1, "key": KEY.upper(), "fingerprints": {}}),
    json.dumps({"version": 1, "key": " " * 64, "fingerprints": {}}),
    json.dumps({"version": 1, "key": 42, "fingerprints": {}}),
    json.dumps({"version": 1, "fingerprints": {}}),
    json.dumps({"version": 1, "key": KEY, "fingerprints": []}),
    json.dumps({"version": 1, "key": KEY}),
], ids=lambda text: repr(text)[:40])
def test_a_missing_or_unusable_state_makes_everything_new(text):
    state = gate.parse_state(text)
    assert state == {"key": None, "fingerprints": {}}
    assert gate.new_entries(state, ENTRIES) == ALL_KEYS


def test_another_hosts_key_makes_everything_new():
    recorded = json.loads(gate.state_text(KEY, ENTRIES))
    recorded["key"] = OTHER_KEY
    assert gate.new_entries(gate.parse_state(json.dumps(recorded)), ENTRIES) == ALL_KEYS


@pytest.mark.parametrize("damage", ["", "é" * 64, "0" * 64, KEY[:-1], 42, None, ["x"]])
def test_a_damaged_fingerprint_makes_its_entry_new(damage):
    recorded = json.loads(gate.state_text(KEY, ENTRIES))
    recorded["fingerprints"]["account:m365"] = damage
    assert gate.new_entries(gate.parse_state(json.dumps(recorded)), ENTRIES) == ["account:m365"]


def test_state_text_round_trips_and_nothing_is_new():
    text = gate.state_text(KEY, ENTRIES)
    state = gate.parse_state(text)
    assert state["key"] == KEY
    assert sorted(state["fingerprints"]) == sorted(ALL_KEYS)
    assert gate.new_entries(state, ENTRIES) == []
    assert gate.state_text(KEY, ENTRIES) == text


def test_state_text_forgets_entries_no_longer_configured():
    kept = [entry for entry in ENTRIES if entry[0] != "account:m365"]
    state = gate.parse_state(gate.state_text(KEY, kept))
    assert sorted(state["fingerprints"]) == sorted(key for key, dummy in kept)
    # Configured again later, the forgotten account is new and gets checked.
    assert gate.new_entries(state, ENTRIES) == ["account:m365"]


def test_new_entries_keep_the_configured_order():
    state = gate.parse_state(gate.state_text(KEY, ENTRIES[1:2]))
    assert gate.new_entries(state, ENTRIES) == [ALL_KEYS[0], ALL_KEYS[2]]


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                    max_leaves=12)


@BOUNDED
@given(text=st.text(max_size=200) | JSON.map(json.dumps)
       | st.fixed_dictionaries({"version": JSON, "key": JSON | st.just(KEY), "fingerprints": JSON}).map(json.dumps)
       | st.dictionaries(st.sampled_from(ALL_KEYS) | TEXT, JSON | st.sampled_from([KEY, "é" * 64]))
       .map(lambda prints: json.dumps({"version": 1, "key": KEY, "fingerprints": prints})))
def test_any_state_text_is_read_without_error_and_never_hides_a_change(text):
    state = gate.parse_state(text)
    new = gate.new_entries(state, ENTRIES)
    assert set(new) <= set(ALL_KEYS)
    # Only the real fingerprint of the settings under the file's key marks an entry as live: none is generated here.
    assert new == ALL_KEYS


@BOUNDED
@given(names=st.lists(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,10}", fullmatch=True), min_size=1, max_size=5,
                      unique=True),
       passwords=st.lists(PASSWORDS, min_size=5, max_size=5), keep=st.lists(st.booleans(), min_size=5, max_size=5),
       key=st.binary(min_size=32, max_size=32).map(bytes.hex))
def test_recorded_entries_are_not_new_and_dropped_ones_are(names, passwords, keep, key):
    accounts = [password_account(name=name, password=password) for name, password in zip(names, passwords)]
    entries = entries_of(*accounts)
    kept = [entry for entry, flag in zip(entries, keep) if flag]
    state = gate.parse_state(gate.state_text(key, kept))
    assert gate.new_entries(state, kept) == []
    assert gate.new_entries(state, entries) == [k for (k, dummy), flag in zip(entries, keep) if not flag]


# ------------------------------------------------------------------------------------------------ local relays

def test_relay_entry_is_keyed_by_host_and_port():
    assert gate.relay_entry({"host": "127.0.0.1", "port": 25}) == ("relay:127.0.0.1:25",
                                                                   {"host": "127.0.0.1", "port": 25})


@pytest.mark.parametrize("relay", [
    {"host": "127.0.0.1", "port": 0},
    {"host": "127.0.0.1", "port": 65536},
    {"host": "127.0.0.1", "port": -1},
    {"host": "127.0.0.1", "port": "25"},
    {"host": "127.0.0.1", "port": 25.0},
    {"host": "127.0.0.1", "port": True},
    {"host": "127.0.0.1", "port": None},
    {"host": "127.0.0.1"},
    {"host": "", "port": 25},
    {"host": None, "port": 25},
    {"port": 25},
])
def test_relay_entry_refuses_a_bad_host_or_port(relay):
    with pytest.raises(gate.GateError, match="a relay needs a host and a port from 1 to 65535"):
        gate.relay_entry(relay)


def test_a_relay_on_another_port_is_new():
    state = gate.parse_state(gate.state_text(KEY, [gate.relay_entry({"host": "127.0.0.1", "port": 25})]))
    assert gate.new_entries(state, [gate.relay_entry({"host": "127.0.0.1", "port": 25})]) == []
    assert gate.new_entries(state, [gate.relay_entry({"host": "127.0.0.1", "port": 2525})]) == \
        ["relay:127.0.0.1:2525"]


# ------------------------------------------------------------------------------------------------ failure messages

def failure_row(name, module_result):
    """A row as the action builds it, from a fake module result."""
    return _check_rows.account_row("host1", name, "smtp.office365.com:587", module_result)


# A result may carry the module's arguments (Ansible adds `invocation`); the message must not take anything from it.
INVOCATION = {"invocation": {"module_args": {"password": PASSWORD, "oauth2": {"client_secret": CLIENT_SECRET,
                                                                              "refresh_token": REFRESH_TOKEN}}}}
APP_FAILURE = dict(INVOCATION, ok=False, reason="client_secret_invalid", failed_stage="auth",
                   hint="The client secret is wrong or expired: create a new one.", reply=None)
PASSWORD_FAILURE = dict(INVOCATION, ok=False, reason="basic_auth_disabled", failed_stage="auth",
                        hint="Basic authentication is disabled: use OAuth2.",
                        reply={"code": 535, "text": "5.7.139 Authentication unsuccessful, basic authentication is "
                                                    "disabled."})


def test_failure_text_names_entry_reason_stage_reply_and_hint():
    text = gate.failure_text("account:alerts", failure_row("alerts", PASSWORD_FAILURE))
    assert text.startswith("account alerts: basic_auth_disabled at stage auth")
    assert "(the server said: 535 5.7.139 Authentication unsuccessful" in text
    assert text.endswith("Basic authentication is disabled: use OAuth2.")


def test_failure_text_of_a_local_relay():
    row = failure_row("127.0.0.1:25", dict(ok=False, reason="connection_refused", failed_stage="connect",
                                           hint="Nothing listens there."))
    assert gate.failure_text("relay:127.0.0.1:25", row) == \
        "local relay 127.0.0.1:25: connection_refused at stage connect. Nothing listens there."


def test_failure_text_when_the_module_could_not_run():
    row = failure_row("alerts", dict(INVOCATION, failed=True, msg="MODULE FAILURE"))
    text = gate.failure_text("account:alerts", row)
    assert text == "account alerts: module_error at stage ?. MODULE FAILURE"


def test_failure_message_holds_every_failure_and_the_switch_and_no_secret():
    failures = [("account:alerts", failure_row("alerts", PASSWORD_FAILURE)),
                ("account:m365", failure_row("m365", APP_FAILURE))]
    message = gate.failure_message(failures, "postfix_relay_verify_credentials")
    assert message.startswith("The new login settings did not work from this host, so nothing was written and the "
                              "live configuration stays as it was.")
    for part in ("account alerts: basic_auth_disabled at stage auth", "535 5.7.139", "use OAuth2.",
                 "account m365: client_secret_invalid at stage auth", "create a new one.",
                 "set postfix_relay_verify_credentials: false."):
        assert part in message
    for marker in SECRET_MARKERS:
        assert marker not in message


@BOUNDED
@given(reason=st.sampled_from(["client_secret_invalid", "auth_failed", "refresh_token_expired", "tls_failed"]),
       stage=st.sampled_from(["token", "auth", "starttls", "connect", None]),
       hint=st.none() | TEXT, code=st.none() | st.integers(200, 599), reply_text=st.none() | TEXT)
def test_any_failure_message_names_what_failed_and_never_the_secret(reason, stage, hint, code, reply_text):
    result = dict(INVOCATION, ok=False, reason=reason, failed_stage=stage, hint=hint,
                  reply={"code": code, "text": reply_text})
    message = gate.failure_message([("account:m365", failure_row("m365", result))], "msmtp_verify_credentials")
    assert "account m365: %s at stage %s" % (reason, stage or "?") in message
    for part in (hint, reply_text, str(code) if code else None):
        assert part is None or part in message
    assert message.endswith("set msmtp_verify_credentials: false.")
    for marker in SECRET_MARKERS:
        assert marker not in message
