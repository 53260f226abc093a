# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests of the token-endpoint surface: whatever the endpoint answers, the result is a token or a clear
OAuth2Error with a known kind of reason, never another exception, never a secret in the message. The number of
inputs tried is printed at the end of the run; failing inputs found so far stay as @example."""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2

REFRESH = "M.C5-refresh-token-secret-value"
SECRET = "abc8Q~client-secret-value"
ASSERTION = "eyJhbGciOi.eyJhdWQiOi.signature-part"
SECRETS = (REFRESH, SECRET, ASSERTION)
TRIED = {"token responses": 0, "device code answers": 0, "loopback redirects": 0, "certificates": 0}
# A few thousand inputs, a few seconds: the budget is the example count, not a timed assertion.
BUDGET = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    started = time.monotonic()
    yield
    line = "token-endpoint surface (hypothesis): %s in %.1f s" % (
        ", ".join("%s %d inputs" % item for item in TRIED.items()), time.monotonic() - started)
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print("\n" + line)


json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                         st.text(max_size=40), st.sampled_from(SECRETS))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                                 st.dictionaries(st.text(max_size=10), inner,
                                                                                 max_size=4)), max_leaves=12)
KEYS = ["access_token", "token_type", "expires_in", "refresh_token", "scope", "error", "error_description",
        "error_codes", "device_code", "user_code", "verification_uri", "interval", "message"]
token_like = st.dictionaries(st.sampled_from(KEYS), json_values, max_size=8)
descriptions = st.builds(lambda n, text, secret: "AADSTS%d: %s %s" % (n, text, secret),
                         st.sampled_from([7000215, 7000222, 700027, 700016, 90002, 1002012, 65001, 700082, 50173,
                                          70000, 7000218, 70016, 70020, 1, 99999999]),
                         st.text(max_size=30), st.sampled_from(SECRETS + ("",)))
error_like = st.fixed_dictionaries({"error": st.one_of(st.sampled_from(["invalid_grant", "invalid_client",
                                                                        "authorization_pending", "slow_down",
                                                                        "expired_token", "access_denied", ""]),
                                                       json_values),
                                    "error_description": st.one_of(descriptions, json_values)},
                                   optional={"error_codes": json_values})
bodies = st.one_of(
    st.binary(max_size=300),
    token_like.map(lambda d: json.dumps(d).encode()),
    error_like.map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda d: json.dumps(d).encode()),
    st.builds(lambda d: json.dumps(d).encode()[:-1], token_like),  # truncated
    st.just(b" " * (1024 * 1024 + 1)),  # too large
    st.just(b'{"access_token": "x", "expires_in": ' + b"9" * 5000 + b"}"),
    st.just(b"[" * 100000),  # nested beyond the parser's recursion limit
)
statuses = st.sampled_from([200, 200, 400, 401, 404, 500, 302])


def _known_reason(reason):
    words = {entry.word for entry in _oauth2.TOKEN_ERRORS}
    return reason in words or re.match(r"\A[a-z][a-z0-9_]*\Z", reason) is not None


@BUDGET
@given(status=statuses, body=bodies)
@example(status=200, body=b'{"access_token": "x", "expires_in": NaN}')
@example(status=200, body=b'{"access_token": "x", "expires_in": 1e999}')
@example(status=400, body=b'{"error": ["list"], "error_description": {}}')
@example(status=200, body=b'{"access_token": {"a": 1}}')
@example(status=200, body=b"[" * 100000)
@example(status=200, body=b'{"":null,"error":":"}')  # found by Hypothesis: the reason was "_"
def test_any_token_response_is_a_token_or_a_clear_error(status, body):
    TRIED["token responses"] += 1
    try:
        token = _oauth2.parse_token_response(status, body, SECRETS, refresh_token=REFRESH)
    except _oauth2.OAuth2Error as exc:
        message = str(exc)
        assert exc.reason and _known_reason(exc.reason), exc.reason
        assert exc.hint
        for secret in SECRETS:
            assert secret not in message and secret not in exc.hint
        assert len(message) < 1200
        return
    assert isinstance(token["access_token"], str) and token["access_token"]
    assert isinstance(token["expires_at"], float) and token["expires_at"] == token["expires_at"]
    assert isinstance(token["refresh_token"], str)


@BUDGET
@given(status=statuses, body=bodies)
def test_any_device_code_answer_is_used_or_refused_clearly(status, body, monkeypatch_post):
    TRIED["device code answers"] += 1
    monkeypatch_post[:] = [(status, body)]
    try:
        start = _oauth2.device_code_start("client-1", token_url="https://localhost:1/t/oauth2/v2.0/token")
    except _oauth2.OAuth2Error as exc:
        assert exc.reason and exc.hint and len(str(exc)) < 1200
        return
    assert all(isinstance(start[k], str) and start[k] for k in ("device_code", "user_code", "verification_uri"))
    assert start["interval"] >= 1 and start["expires_at"] == start["expires_at"]


@pytest.fixture(scope="module")
def monkeypatch_post():
    answers = []
    original = _oauth2._post
    _oauth2._post = lambda *args, **kwargs: answers.pop(0)
    yield answers
    _oauth2._post = original


@settings(max_examples=30, deadline=None, database=None)
@given(query=st.dictionaries(st.sampled_from(["code", "state", "error", "error_description", "x"]),
                             st.text(max_size=20), max_size=5))
def test_any_loopback_redirect_gives_the_code_or_a_clear_error(query):
    import urllib.parse
    import urllib.request
    TRIED["loopback redirects"] += 1
    receiver = _oauth2.LoopbackReceiver("STATE")
    try:
        with urllib.request.urlopen(receiver.redirect_uri.replace("localhost", "127.0.0.1") + "/?" +
                                    urllib.parse.urlencode(query), timeout=5) as answer:
            answer.read()
        code = receiver.wait(0.05 if not ({"code", "error"} & set(query)) else 5)
    except _oauth2.OAuth2Error as exc:
        assert exc.reason in ("login_timeout", "state_mismatch", "bad_response") or _known_reason(exc.reason)
        return
    finally:
        receiver.close()
    assert query.get("state") == "STATE" and code == query["code"] and "error" not in query


@BUDGET
@given(der=st.one_of(st.binary(max_size=200),
                     st.builds(lambda head, tail: head + tail, st.sampled_from([b"\x30\x82\x01\x00", b"\x30\x81\x10",
                                                                               b"\x30\x84\xff\xff\xff\xff", b"\x30\x03"]),
                               st.binary(max_size=100))))
@example(der=b"\x30\x06\x30\x04\x02\x01\x01\x30")
def test_any_certificate_bytes_give_an_expiry_or_a_clear_error(der):
    import base64
    TRIED["certificates"] += 1
    pem = "-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n" % base64.b64encode(der).decode()
    try:
        expiry = _oauth2.certificate_expiry(pem)
    except _oauth2.OAuth2Error as exc:
        assert exc.reason == "certificate_invalid" and exc.hint
        return
    assert isinstance(expiry, int)
