# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The refresh-token grant against a local HTTPS endpoint (trustme CA), and the XOAUTH2 encoding."""

from __future__ import annotations

import ast
import base64
import http.server
import json
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import pytest
import trustme

from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2

REFRESH = "M.R3_BAY.refresh-token-value-0123456789"
SECRET = "client-secret-value-xyz"


@pytest.mark.parametrize("user, token, raw", [
    ("alerts@outlook.com", "EwBgA8l6BAAU", b"user=alerts@outlook.com\x01auth=Bearer EwBgA8l6BAAU\x01\x01"),
    ("j\u00f6rg@example.com", "t", "user=j\u00f6rg@example.com\x01auth=Bearer t\x01\x01".encode("utf-8")),
])
def test_xoauth2_initial_response(user, token, raw):
    encoded = _oauth2.xoauth2_initial_response(user, token)
    assert base64.b64decode(encoded) == raw
    assert "\n" not in encoded and encoded.isascii()


def test_the_well_known_xoauth2_example():
    # The example of Google's and Microsoft's XOAUTH2 documentation.
    assert _oauth2.xoauth2_initial_response("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg") == (
        "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YTI5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXV"
        "ZMjl0Q2cBAQ==")


@pytest.mark.parametrize("tenant, url", [
    ("consumers", "https://login.microsoftonline.com/consumers/oauth2/v2.0/token"),
    (None, "https://login.microsoftonline.com/consumers/oauth2/v2.0/token"),
    ("organizations", "https://login.microsoftonline.com/organizations/oauth2/v2.0/token"),
    ("0f4a5c9e-1b2c-4d3e-8f9a-0123456789ab",
     "https://login.microsoftonline.com/0f4a5c9e-1b2c-4d3e-8f9a-0123456789ab/oauth2/v2.0/token"),
    ("contoso.onmicrosoft.com", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"),
])
def test_token_url_for(tenant, url):
    assert _oauth2.token_url_for(tenant) == url


@pytest.mark.parametrize("tenant", ["../x", "a/b", "consumers?x=1", " "])
def test_token_url_for_refuses_odd_tenants(tenant):
    if tenant.strip() == "":
        assert _oauth2.token_url_for(tenant).endswith("/consumers/oauth2/v2.0/token")
        return
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.token_url_for(tenant)
    assert info.value.reason == "invalid_request"


# --- a local token endpoint --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    ca = trustme.CA()
    path = tmp_path_factory.mktemp("pki") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return ca, str(path)


class _Endpoint:
    def __init__(self, ca):
        self.requests = []
        self.answer = (200, {"access_token": "AT-1", "token_type": "Bearer", "expires_in": 3600,
                             "scope": "https://outlook.office.com/SMTP.Send", "refresh_token": "R-2"})
        endpoint = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", 0))
                endpoint.requests.append((self.path, dict(self.headers), urllib.parse.parse_qs(
                    self.rfile.read(length).decode("ascii"))))
                status, body = endpoint.answer
                data = body if isinstance(body, bytes) else json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = "https://localhost:%d/consumers/oauth2/v2.0/token" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def endpoint(pki):
    server = _Endpoint(pki[0])
    yield server
    server.stop()


def refresh(endpoint, pki, **kwargs):
    args = dict(token_url=endpoint.url, ca_file=pki[1], timeout=5)
    args.update(kwargs)
    return _oauth2.refresh_access_token("client-1", REFRESH, **args)


def test_refresh_sends_the_grant_and_returns_the_rotated_token(endpoint, pki):
    before = time.time()
    token = refresh(endpoint, pki, client_secret=SECRET)
    assert token["access_token"] == "AT-1"
    assert token["token_type"] == "Bearer"
    assert token["refresh_token"] == "R-2" and token["rotated"] is True
    assert before + 3599 <= token["expires_at"] <= time.time() + 3601
    path, headers, form = endpoint.requests[0]
    assert path == "/consumers/oauth2/v2.0/token"
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form == {"client_id": ["client-1"], "grant_type": ["refresh_token"], "refresh_token": [REFRESH],
                    "scope": [_oauth2.DEFAULT_SCOPE], "client_secret": [SECRET]}


def test_no_rotation_keeps_the_given_refresh_token(endpoint, pki):
    endpoint.answer = (200, {"access_token": "AT-2", "token_type": "Bearer", "expires_in": "60"})
    token = refresh(endpoint, pki)
    assert token["refresh_token"] == REFRESH and token["rotated"] is False
    assert token["scope"] == _oauth2.DEFAULT_SCOPE
    assert "client_secret" not in endpoint.requests[0][2]


@pytest.mark.parametrize("status, body, reason", [
    (400, {"error": "invalid_grant",
           "error_description": "AADSTS70000: The provided value for the input parameter 'refresh_token' is not valid."},
     "invalid_grant"),
    (401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
     "invalid_client"),
    (400, {"error": "invalid_scope", "error_description": "AADSTS70011"}, "invalid_scope"),
    (500, b"<html>oops</html>", "bad_response"),
    (200, b"not json", "bad_response"),
    (200, {"token_type": "Bearer"}, "bad_response"),
    (200, {"access_token": "x", "expires_in": "soon"}, "bad_response"),
])
def test_refresh_errors(endpoint, pki, status, body, reason):
    endpoint.answer = (status, body)
    with pytest.raises(_oauth2.OAuth2Error) as info:
        refresh(endpoint, pki)
    assert info.value.reason == reason
    assert info.value.description


def test_an_echoed_secret_never_reaches_the_description(endpoint, pki):
    endpoint.answer = (400, {"error": "invalid_grant", "error_description": "bad token %s / %s" % (REFRESH, SECRET)})
    with pytest.raises(_oauth2.OAuth2Error) as info:
        refresh(endpoint, pki, client_secret=SECRET)
    assert REFRESH not in str(info.value) and SECRET not in str(info.value)
    assert "********" in info.value.description


def test_untrusted_endpoint_is_refused_before_anything_is_sent(endpoint):
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.refresh_access_token("client-1", REFRESH, token_url=endpoint.url, ca_file=None, timeout=5)
    assert info.value.reason == "cert_untrusted"
    assert endpoint.requests == []


def test_validate_certs_false_accepts_any_certificate(endpoint):
    token = _oauth2.refresh_access_token("client-1", REFRESH, token_url=endpoint.url, validate_certs=False, timeout=5)
    assert token["access_token"] == "AT-1"


def test_unreachable_endpoint():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before use: nothing listens there
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.refresh_access_token("c", REFRESH, token_url="https://127.0.0.1:%d/t" % port, timeout=2)
    assert info.value.reason == "endpoint_unreachable"


def test_silent_endpoint_times_out():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = "https://127.0.0.1:%d/t" % listener.getsockname()[1]
        with pytest.raises(_oauth2.OAuth2Error) as info:
            _oauth2.refresh_access_token("c", REFRESH, token_url=url, timeout=0.5)
    assert info.value.reason == "endpoint_unreachable"


@pytest.mark.parametrize("url", ["http://login.microsoftonline.com/consumers/oauth2/v2.0/token", "ftp://x/y"])
def test_plain_http_is_refused(url):
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.refresh_access_token("c", REFRESH, token_url=url)
    assert info.value.reason == "invalid_request"


def test_standalone_use_needs_nothing_but_the_standard_library():
    with open(_oauth2.__file__, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names)
