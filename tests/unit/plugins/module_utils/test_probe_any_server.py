# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe against a real server that is not Microsoft's (tests/standin/generic_smtp.py: aiosmtpd + trustme on
127.0.0.1), as a new user tried it: every result must say what is true of THAT server.

- a wrong name: the hint names the certificate's own names, not smtp-mail.outlook.com;
- a refused password: auth_mechanism and timings_ms.auth are set;
- a refused XOAUTH2 token: the 334 JSON challenge is decoded into auth_challenge, the empty line ends the exchange,
  and the hint speaks of no Microsoft scope;
- no TLS and no AUTH offered: the hint points at security, and no warning claims credentials went unencrypted.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import pathlib
import re

import pytest

from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import probe as probe_py

SPEC = importlib.util.spec_from_file_location(
    "generic_smtp", pathlib.Path(__file__).resolve().parents[3] / "standin" / "generic_smtp.py")
generic_smtp = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(generic_smtp)

USER = "user@example.test"
PASSWORD = "generic password"
TOKEN = "generic-token"
# A JWT-shaped access token the server does not know (header.payload.signature, as issued by an identity provider).
JWT = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=") for part in (
    {"alg": "RS256", "typ": "JWT"}, {"sub": USER, "scope": "openid", "exp": 4102444800})) + ".c2lnbmF0dXJl"
MICROSOFT_WORDS = re.compile(r"microsoft|outlook|office|exchange|SMTP\.Send|Set-CASMailbox|aka\.ms|live\.com", re.I)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    running = generic_smtp.GenericServer(str(tmp_path_factory.mktemp("generic")), USER, PASSWORD, TOKEN).start()
    yield running
    running.stop()


def probe(server, scenario="tls", **options):
    args = dict(host="127.0.0.1", port=server.port(scenario), ca_path=server.ca_file, timeout=10,
                ehlo_name="client.test", username=USER)
    args.update(options)
    return probe_py.run(probe_py.Options(**args))


def new_auth_lines(server, before):
    return server.auth_log()[before:]


def test_a_good_password_passes(server):
    result = probe(server, password=PASSWORD)
    assert result["ok"] is True and result["authenticated"] is True, result
    assert result["auth_mechanism"] == "LOGIN" and result["tls"]["verified"] is True
    assert result["auth_challenge"] is None and result["warnings"] == []


def test_wrong_name_hint_names_the_certificate_names(server):
    before = len(server.auth_log())
    result = probe(server, host="localhost", password=PASSWORD)
    assert (result["failed_stage"], result["reason"]) == ("tls", "cert_hostname_mismatch"), result
    assert "mail.example.test" in result["hint"] and "127.0.0.1" in result["hint"]
    assert "localhost" in result["hint"]
    assert not MICROSOFT_WORDS.search(result["hint"]), result["hint"]
    assert "mail.example.test" in result["detail"]
    assert new_auth_lines(server, before) == []  # the second look at the certificate carries no credential


def test_refused_password_keeps_mechanism_and_timing(server):
    result = probe(server, password="not the password")
    assert (result["failed_stage"], result["reason"]) == ("auth", "auth_failed"), result
    assert result["reply"]["code"] == 535 and result["reply"]["enhanced"] == "5.7.8"
    assert result["auth_mechanism"] == "LOGIN" and result["authenticated"] is False
    assert result["timings_ms"]["auth"] > 0
    assert not MICROSOFT_WORDS.search(result["hint"]), result["hint"]


def test_refused_xoauth2_challenge_is_decoded_and_answered(server):
    before = len(server.auth_log())
    result = probe(server, oauth2_access_token=JWT)
    assert (result["failed_stage"], result["reason"]) == ("auth", "auth_failed"), result
    assert result["auth_mechanism"] == "XOAUTH2" and "auth" in result["timings_ms"]
    assert result["auth_challenge"] == {"status": "401", "schemes": "Bearer", "scope": generic_smtp.SCOPE}
    assert result["reply"]["text"] == "5.7.8 Username and Password not accepted"
    assert not MICROSOFT_WORDS.search(result["hint"]) and "auth_challenge" in result["hint"], result["hint"]
    assert JWT not in json.dumps(result)
    (line,) = new_auth_lines(server, before)
    assert line == {"mechanism": "XOAUTH2", "success": False, "challenge_answer": "", "tls": True}


def test_good_xoauth2_token_passes(server):
    result = probe(server, oauth2_access_token=TOKEN)
    assert result["ok"] is True and result["auth_mechanism"] == "XOAUTH2" and result["auth_challenge"] is None


def test_no_tls_no_auth_points_at_security_and_warns_of_nothing_unsent(server):
    before = len(server.auth_log())
    result = probe(server, "plain", security="none", password=PASSWORD)
    assert (result["failed_stage"], result["reason"]) == ("auth", "auth_mechanism_unavailable"), result
    assert result["auth_mechanisms"] == [] and result["auth_mechanism"] is None
    assert "security" in result["hint"] and "auth_mechanisms" not in result["hint"], result["hint"]
    assert not any("unencrypted" in warning for warning in result["warnings"]), result["warnings"]
    assert new_auth_lines(server, before) == []


def test_starttls_required_on_a_plain_server(server):
    result = probe(server, "plain", password=PASSWORD)
    assert (result["failed_stage"], result["reason"]) == ("starttls", "starttls_unavailable")
    assert not MICROSOFT_WORDS.search(result["hint"])
