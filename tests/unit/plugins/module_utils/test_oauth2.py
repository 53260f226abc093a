# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The refresh-token grant against a local HTTPS endpoint (trustme CA), and the XOAUTH2 encoding."""

from __future__ import annotations

import ast
import base64
import hashlib
import http.server
import json
import re
import socket
import ssl
import sys
import threading
import time
import urllib.parse

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

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
                form = urllib.parse.parse_qs(self.rfile.read(length).decode("ascii"))
                endpoint.requests.append((self.path, dict(self.headers), form))
                answer = endpoint.answer.pop(0) if isinstance(endpoint.answer, list) else endpoint.answer
                answer = answer(form) if callable(answer) else answer
                status, body = answer
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


@pytest.mark.parametrize("status, body, reason, word", [
    (400, {"error": "invalid_grant",
           "error_description": "AADSTS70000: The provided value for the input parameter 'refresh_token' is not valid."},
     "invalid_grant", "invalid_grant"),
    (401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."},
     "invalid_client", "client_secret_invalid"),
    (400, {"error": "invalid_scope", "error_description": "AADSTS70011"}, "invalid_scope", "scope_invalid"),
    (400, {"error": "invalid_grant", "error_description": "AADSTS700082: expired", "error_codes": [700082]},
     "invalid_grant", "refresh_token_expired"),
    (400, {"error": "invalid_grant", "error_description": "AADSTS50173: revoked"}, "invalid_grant", "grant_revoked"),
    (400, {"error": "weird_thing", "error_description": "?"}, "weird_thing", "weird_thing"),
    (500, b"<html>oops</html>", "bad_response", "bad_response"),
    (200, b"not json", "bad_response", "bad_response"),
    (200, {"token_type": "Bearer"}, "bad_response", "bad_response"),
    (200, {"access_token": "x", "expires_in": "soon"}, "bad_response", "bad_response"),
])
def test_refresh_errors(endpoint, pki, status, body, reason, word):
    """Existing callers keep the endpoint's error as reason; words=True (and .word always) give the stable word."""
    endpoint.answer = (status, body)
    with pytest.raises(_oauth2.OAuth2Error) as info:
        refresh(endpoint, pki)
    assert (info.value.reason, info.value.word) == (reason, word)
    assert info.value.description
    assert info.value.hint == _oauth2.hint_for(word)
    assert isinstance(info.value, ValueError)
    with pytest.raises(_oauth2.OAuth2Error) as info:
        refresh(endpoint, pki, words=True)
    assert (info.value.reason, info.value.word) == (word, word)
    assert info.value.needs_sign_in == (word in ("invalid_grant", "refresh_token_expired", "grant_revoked"))


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
    """Top-level imports are the standard library only; cryptography is imported inside the signer, when present."""
    with open(_oauth2.__file__, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    imported = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names)
    nested = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node not in tree.body:
            nested.add((node.module or "").split(".")[0])
    assert nested <= {"cryptography"}


# --- the error table ------------------------------------------------------------------------------------------------

REQUIRED_CODES = ["AADSTS7000215", "AADSTS7000222", "AADSTS700027", "AADSTS700016", "AADSTS90002", "AADSTS1002012",
                  "AADSTS65001", "AADSTS700082", "AADSTS50173", "AADSTS70000", "AADSTS7000218", "authorization_pending",
                  "slow_down", "expired_token", "authorization_declined", "access_denied", "bad_verification_code"]


def test_token_errors_table_is_complete_and_consistent():
    words = [entry.word for entry in _oauth2.TOKEN_ERRORS]
    assert len(words) == len(set(words))
    covered = {code for entry in _oauth2.TOKEN_ERRORS for code in entry.codes}
    assert set(REQUIRED_CODES) <= covered
    assert {"endpoint_unreachable", "cert_untrusted", "bad_response", "signer_missing"} <= set(words)
    for entry in _oauth2.TOKEN_ERRORS + _oauth2.SMTP_TOKEN_REPLIES:
        assert entry._fields[:4] == ("word", "codes", "hint", "example")
        assert re.match(r"\A[a-z][a-z0-9_]+\Z", entry.word)
        assert entry.hint.endswith(".") and len(entry.hint) > 30
        assert entry.example
    # Every code selects its own entry, and each example's AADSTS number leads back to its word.
    for entry in _oauth2.TOKEN_ERRORS:
        for code in entry.codes:
            if code.startswith("AADSTS"):
                assert _oauth2.classify_error("invalid_request", "%s: x" % code) == entry.word, code
        if entry.example.startswith("AADSTS"):
            assert _oauth2.classify_error("invalid_request", entry.example) == entry.word


def test_the_app_mailbox_hint_names_both_powershell_commands():
    hint = _oauth2.hint_for("app_mailbox_denied")
    assert "New-ServicePrincipal" in hint and "Add-MailboxPermission" in hint and "Add-RecipientPermission" in hint


@pytest.mark.parametrize("error, description, codes, word", [
    ("invalid_grant", "AADSTS700082: The refresh token has expired due to inactivity.", [], "refresh_token_expired"),
    ("invalid_grant", "no number", [50173], "grant_revoked"),
    ("invalid_grant", "AADSTS70000: bad", [], "invalid_grant"),
    ("invalid_client", "AADSTS7000218: The request body must contain", [7000218], "public_client_needs_secret"),
    ("authorization_pending", "AADSTS70016: pending", [70016], "authorization_pending"),
    ("expired_token", "AADSTS70020: expired", [70020], "expired_token"),
    ("access_denied", "declined", [], "authorization_declined"),
    ("bad_verification_code", "AADSTS70000: odd", [], "bad_verification_code"),
    ("slow_down", "", [], "slow_down"),
    ("consent_required", "", [], "consent_missing"),
    ("invalid_request", "AADSTS90010: The grant type is not supported over the /common", [], "tenant_required"),
    ("Strange Error!", "", [], "strange_error"),
    (":", "", [], "bad_response"),
    ("", "", [], "bad_response"),
])
def test_classify_error(error, description, codes, word):
    assert _oauth2.classify_error(error, description, codes) == word


def test_oauth2_error_carries_word_hint_and_sign_in_advice():
    exc = _oauth2.OAuth2Error("refresh_token_expired", "AADSTS700082: ...", error="invalid_grant", codes=[700082])
    assert isinstance(exc, ValueError)
    assert str(exc) == "refresh_token_expired: AADSTS700082: ..."
    assert exc.hint == _oauth2.hint_for("refresh_token_expired") and exc.needs_sign_in
    assert exc.error == "invalid_grant" and exc.codes == (700082,)
    assert not _oauth2.OAuth2Error("endpoint_unreachable", "x").needs_sign_in
    assert _oauth2.OAuth2Error("nonsense", "x").hint  # a generic hint for unknown words


# --- certificate credentials: the client assertion -------------------------------------------------------------------

def _self_signed(key):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "live_smtp test app")])
    now = __import__("datetime").datetime.now(__import__("datetime").timezone.utc)
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + __import__("datetime").timedelta(days=30)).sign(key, hashes.SHA256()))


@pytest.fixture(scope="module")
def app_cert(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _self_signed(key)
    cert_file, key_file, both = folder / "app.crt", folder / "app.key", folder / "both.pem"
    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
    cert_file.write_text(cert_pem)
    key_file.write_text(key_pem)
    both.write_text(key_pem + cert_pem)
    return {"cert": cert, "cert_file": str(cert_file), "key_file": str(key_file), "both": str(both),
            "cert_pem": cert_pem, "key_pem": key_pem, "dir": folder}


def _decode(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@pytest.mark.parametrize("signer", ["cryptography", "openssl"])
def test_client_assertion_is_a_valid_rs256_jwt(app_cert, signer):
    url = "https://login.microsoftonline.com/tenant-1/oauth2/v2.0/token"
    jwt = _oauth2.client_assertion("client-1", url, app_cert["cert_file"], app_cert["key_file"], signer=signer,
                                   now=1_800_000_000)
    head, claims, signature = jwt.split(".")
    der = app_cert["cert"].public_bytes(serialization.Encoding.DER)
    expected = base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()
    assert _decode(head) == {"alg": "RS256", "typ": "JWT", "x5t#S256": expected}
    body = _decode(claims)
    assert body["aud"] == url and body["iss"] == body["sub"] == "client-1"
    assert body["nbf"] == body["iat"] == 1_800_000_000 and body["exp"] == 1_800_000_300
    uuid_re = r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z"
    assert re.match(uuid_re, body["jti"])
    app_cert["cert"].public_key().verify(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)),
                                         ("%s.%s" % (head, claims)).encode(), padding.PKCS1v15(), hashes.SHA256())


def test_both_signers_sign_alike_and_jti_is_unique(app_cert):
    data = b"header.claims"
    assert _oauth2.sign_rs256(app_cert["key_pem"], data, "cryptography") == \
        _oauth2.sign_rs256(app_cert["key_pem"], data, "openssl")  # PKCS#1 v1.5 is deterministic
    jtis = {_decode(_oauth2.client_assertion("c", "https://x/t", app_cert["both"]).split(".")[1])["jti"]
            for _attempt in range(5)}
    assert len(jtis) == 5


def test_certificate_expiry_reads_not_after(app_cert, tmp_path):
    expected = app_cert["cert"].not_valid_after_utc.timestamp()
    assert _oauth2.certificate_expiry(app_cert["cert_file"]) == expected
    assert _oauth2.certificate_expiry(app_cert["both"]) == expected
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "far")])
    far = __import__("datetime").datetime(2061, 5, 4, 3, 2, 1, tzinfo=__import__("datetime").timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(far.replace(year=2020)).not_valid_after(far).sign(key, hashes.SHA256()))
    path = tmp_path / "far.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    assert _oauth2.certificate_expiry(str(path)) == far.timestamp()  # GeneralizedTime after 2049
    path.write_text("-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n")
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.certificate_expiry(str(path))
    assert info.value.reason == "certificate_invalid"


def test_pem_text_works_like_files(app_cert):
    jwt = _oauth2.client_assertion("c", "https://x/t", app_cert["cert_pem"], app_cert["key_pem"], signer="openssl")
    assert jwt.count(".") == 2


def test_signer_choice_and_missing_signer(monkeypatch, app_cert):
    assert _oauth2.available_signer() == "cryptography"
    assert _oauth2.available_signer("openssl") == "openssl"
    monkeypatch.setattr(_oauth2, "_have_cryptography", lambda: False)
    assert _oauth2.available_signer() == "openssl"
    monkeypatch.setenv("PATH", str(app_cert["dir"]))  # no openssl there
    assert _oauth2.available_signer() is None
    for forced in (None, "openssl", "cryptography"):
        with pytest.raises(_oauth2.OAuth2Error) as info:
            _oauth2.client_assertion("c", "https://x/t", app_cert["cert_file"], app_cert["key_file"], signer=forced)
        assert info.value.reason == "signer_missing"
        assert "BEGIN" not in str(info.value)


@pytest.mark.parametrize("case", ["no_file", "no_cert", "no_key", "encrypted", "ec_key", "garbage_key"])
@pytest.mark.parametrize("signer", ["cryptography", "openssl"])
def test_unusable_credentials_are_refused_clearly(app_cert, tmp_path, case, signer):
    cert, key = app_cert["cert_file"], app_cert["key_file"]
    if case == "no_file":
        cert = str(tmp_path / "missing.pem")
    elif case == "no_cert":
        cert = key
    elif case == "no_key":
        key = None
    elif case == "encrypted":
        encrypted = serialization.load_pem_private_key(app_cert["key_pem"].encode(), None).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"pass"))
        key = str(tmp_path / "enc.key")
        open(key, "wb").write(encrypted)
    elif case == "ec_key":
        if signer == "openssl":
            pytest.skip("openssl signs with any key type; the endpoint refuses the signature (AADSTS700027)")
        ec_key = ec.generate_private_key(ec.SECP256R1())
        key = str(tmp_path / "ec.key")
        open(key, "wb").write(ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
    elif case == "garbage_key":
        key = str(tmp_path / "bad.key")
        open(key, "w").write("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.client_assertion("c", "https://x/t", cert, key, signer=signer)
    assert info.value.reason == "certificate_invalid", info.value
    assert "BEGIN" not in str(info.value) and "AAAA" not in str(info.value)


# --- the client credentials grant ---------------------------------------------------------------------------------

APP_ANSWER = (200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": "APP-AT"})


@pytest.mark.parametrize("tenant", ["consumers", "Common", "organizations", "", None])
def test_client_credentials_need_one_tenant(endpoint, pki, tenant):
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.client_credentials_token("c", tenant, client_secret=SECRET, ca_file=pki[1])
    assert info.value.reason == "tenant_required"
    with pytest.raises(_oauth2.OAuth2Error) as info:  # a token_url of a multi-tenant endpoint is refused too
        _oauth2.client_credentials_token("c", "tenant-1", client_secret=SECRET, token_url=endpoint.url, ca_file=pki[1])
    assert info.value.reason == "tenant_required"
    assert endpoint.requests == []


def test_client_credentials_with_a_secret(endpoint, pki):
    endpoint.answer = APP_ANSWER
    url = endpoint.url.replace("/consumers/", "/tenant-1/")
    token = _oauth2.client_credentials_token("client-1", "tenant-1", client_secret=SECRET, token_url=url,
                                             ca_file=pki[1])
    assert token["access_token"] == "APP-AT" and token["credential"] == "secret" and token["signer"] is None
    assert "refresh_token" not in token and token["scope"] == _oauth2.APP_SCOPE
    path, _headers, form = endpoint.requests[0]
    assert path == "/tenant-1/oauth2/v2.0/token"
    assert form == {"client_id": ["client-1"], "grant_type": ["client_credentials"],
                    "scope": ["https://outlook.office365.com/.default"], "client_secret": [SECRET]}


@pytest.mark.parametrize("signer", ["cryptography", "openssl"])
def test_client_credentials_with_a_certificate(endpoint, pki, app_cert, signer):
    endpoint.answer = APP_ANSWER
    url = endpoint.url.replace("/consumers/", "/tenant-1/")
    token = _oauth2.client_credentials_token("client-1", "tenant-1", certificate=app_cert["both"], token_url=url,
                                             ca_file=pki[1], signer=signer)
    assert token["credential"] == "certificate" and token["signer"] == signer
    form = endpoint.requests[0][2]
    assert form["client_assertion_type"] == [_oauth2.JWT_BEARER] and "client_secret" not in form
    assert _decode(form["client_assertion"][0].split(".")[1])["aud"] == url


def test_client_credentials_want_exactly_one_credential(endpoint, pki, app_cert):
    for kwargs in ({}, {"client_secret": SECRET, "certificate": app_cert["both"]}):
        with pytest.raises(_oauth2.OAuth2Error) as info:
            _oauth2.client_credentials_token("c", "tenant-1", ca_file=pki[1], **kwargs)
        assert info.value.reason == "invalid_request"


def test_a_refused_assertion_is_never_echoed(endpoint, pki, app_cert):
    def echo(form):
        return (401, {"error": "invalid_client", "error_description": "AADSTS700027: not registered: %s"
                      % form["client_assertion"][0]})
    endpoint.answer = echo
    url = endpoint.url.replace("/consumers/", "/tenant-1/")
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.client_credentials_token("c", "tenant-1", certificate=app_cert["both"], token_url=url, ca_file=pki[1])
    assert info.value.reason == "client_assertion_invalid"
    assert endpoint.requests[0][2]["client_assertion"][0] not in str(info.value)
    assert "********" in info.value.description
    assert "certificate" in info.value.hint


# --- the device authorization grant ---------------------------------------------------------------------------------

DEVICE_START = (200, {"user_code": "GWYK3SQ9X", "device_code": "DAQABAAEAAA-device-code-secret",
                      "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 5,
                      "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin "
                                 "and enter the code GWYK3SQ9X to authenticate."})


def _flow_error(error, code=None):
    body = {"error": error, "error_description": ("AADSTS%d: %s" % (code, error)) if code else error}
    if code:
        body["error_codes"] = [code]
    return (400, body)


def test_device_code_start(endpoint, pki):
    endpoint.answer = DEVICE_START
    start = _oauth2.device_code_start("client-1", token_url=endpoint.url, ca_file=pki[1], now=1000.0)
    assert start["user_code"] == "GWYK3SQ9X" and start["interval"] == 5 and start["expires_at"] == 1900.0
    assert start["verification_uri"] == "https://microsoft.com/devicelogin"
    path, _headers, form = endpoint.requests[0]
    assert path == "/consumers/oauth2/v2.0/devicecode"
    assert form == {"client_id": ["client-1"], "scope": [_oauth2.DEFAULT_SCOPE]}


@pytest.mark.parametrize("answer", [(200, {"user_code": "X"}), (200, b"[]"), (200, {"device_code": 5, "user_code": "x",
                                                                                    "verification_uri": "u"})])
def test_device_code_start_refuses_odd_answers(endpoint, pki, answer):
    endpoint.answer = answer
    with pytest.raises(_oauth2.OAuth2Error) as info:
        _oauth2.device_code_start("client-1", token_url=endpoint.url, ca_file=pki[1])
    assert info.value.reason == "bad_response"


def _wait(endpoint, pki, answers, expires_in=900):
    endpoint.answer = list(answers)
    slept = []
    clock = [1000.0]

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds
    start = {"device_code": "DAQABAAEAAA-device-code-secret", "interval": 5, "expires_at": 1000.0 + expires_in}
    try:
        return _oauth2.device_code_wait("client-1", start, token_url=endpoint.url, ca_file=pki[1], sleep=sleep,
                                        clock=lambda: clock[0]), slept
    except _oauth2.OAuth2Error as exc:
        return exc, slept


def test_device_code_wait_polls_through_pending_and_slow_down(endpoint, pki):
    token, slept = _wait(endpoint, pki, [_flow_error("authorization_pending", 70016), _flow_error("slow_down"),
                                         _flow_error("authorization_pending", 70016),
                                         (200, {"access_token": "AT", "refresh_token": "RT", "expires_in": 3600})])
    assert token["access_token"] == "AT" and token["refresh_token"] == "RT"
    assert slept == [5, 5, 10, 10]  # slow_down: 5 s more from then on
    assert all(r[2]["grant_type"] == [_oauth2.DEVICE_CODE_GRANT] for r in endpoint.requests)


@pytest.mark.parametrize("answer, reason", [
    (_flow_error("authorization_declined", 70019), "authorization_declined"),
    (_flow_error("access_denied"), "authorization_declined"),
    (_flow_error("expired_token", 70020), "expired_token"),
    (_flow_error("bad_verification_code"), "bad_verification_code"),
])
def test_device_code_wait_stops_on_final_errors(endpoint, pki, answer, reason):
    error, _slept = _wait(endpoint, pki, [_flow_error("authorization_pending", 70016), answer])
    assert isinstance(error, _oauth2.OAuth2Error) and error.reason == reason
    assert "device-code-secret" not in str(error)


def test_device_code_wait_gives_up_when_the_code_expires(endpoint, pki):
    error, slept = _wait(endpoint, pki, [_flow_error("authorization_pending", 70016)] * 10, expires_in=12)
    assert error.reason == "expired_token" and slept == [5, 5, 5]


# --- authorization code with PKCE and a loopback redirect ------------------------------------------------------------

def test_pkce_pair_is_s256():
    verifier, challenge = _oauth2.pkce_pair()
    assert 43 <= len(verifier) <= 128 and re.match(r"\A[A-Za-z0-9_-]+\Z", verifier)
    assert challenge == base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert _oauth2.pkce_pair()[0] != verifier


def test_authorization_url():
    url = _oauth2.authorization_url("client-1", "http://localhost:5000", "st", "ch", tenant="organizations",
                                    login_hint="a@b.c")
    parts = urllib.parse.urlsplit(url)
    assert parts.netloc == "login.microsoftonline.com" and parts.path == "/organizations/oauth2/v2.0/authorize"
    assert dict(urllib.parse.parse_qsl(parts.query)) == {
        "client_id": "client-1", "response_type": "code", "redirect_uri": "http://localhost:5000",
        "response_mode": "query", "scope": _oauth2.DEFAULT_SCOPE, "state": "st", "code_challenge": "ch",
        "code_challenge_method": "S256", "login_hint": "a@b.c"}


def _redirect(receiver, query):
    import urllib.request
    with urllib.request.urlopen(receiver.redirect_uri.replace("localhost", "127.0.0.1") + "/?" + query,
                                timeout=5) as answer:
        return answer.read()


@pytest.mark.parametrize("query, reason", [
    ("code=abc&state=other", "state_mismatch"),
    ("error=access_denied&error_description=AADSTS65004%3A+User+declined&state=S1", "authorization_declined"),
    ("code=&state=S1", "bad_response"),
])
def test_loopback_receiver_refusals(query, reason):
    receiver = _oauth2.LoopbackReceiver("S1")
    assert re.match(r"\Ahttp://localhost:\d+\Z", receiver.redirect_uri)
    _redirect(receiver, query)
    with pytest.raises(_oauth2.OAuth2Error) as info:
        receiver.wait(5)
    assert info.value.reason == reason


def test_loopback_receiver_times_out():
    receiver = _oauth2.LoopbackReceiver("S1")
    with pytest.raises(_oauth2.OAuth2Error) as info:
        receiver.wait(0.3)
    assert info.value.reason == "login_timeout"


def test_authorization_code_login_end_to_end(endpoint, pki):
    endpoint.answer = (200, {"access_token": "AT", "refresh_token": "RT", "expires_in": 3600,
                             "scope": "https://outlook.office.com/SMTP.Send"})
    seen = {}

    def browser(url):
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        seen.update(query)
        receiver_url = query["redirect_uri"]
        assert _redirect(type("R", (), {"redirect_uri": receiver_url}), "code=THE-CODE&state=" + query["state"])
    token = _oauth2.authorization_code_login("client-1", browser, token_url=endpoint.url, ca_file=pki[1], wait=5)
    assert token["refresh_token"] == "RT"
    form = endpoint.requests[0][2]
    assert form["grant_type"] == ["authorization_code"] and form["code"] == ["THE-CODE"]
    assert form["redirect_uri"] == [seen["redirect_uri"]]
    verifier = form["code_verifier"][0]
    assert base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode() == \
        seen["code_challenge"]
