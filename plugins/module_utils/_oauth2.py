# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
#
# Self-contained on purpose (standard library only; `cryptography` used when present, the `openssl` command
# otherwise): roles/oauth2_token copies this file to hosts and imports it from a standalone script. Keep the interface
# (names, arguments, returned keys) stable.

"""Microsoft identity platform: the token grants a mail server needs, their errors, and SASL XOAUTH2.

Grants: refresh token (delegated), client credentials with a secret or a certificate (app-only), device
authorization (onboarding), authorization code with PKCE and a loopback redirect (onboarding where device code is
blocked). Every failure is an OAuth2Error whose reason is a stable word of TOKEN_ERRORS and whose hint says what to do.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import calendar
import collections
import hashlib
import json
import math
import os
import re
import secrets as _secrets
import shutil
import socket
import ssl
import subprocess
import threading
import time
import uuid

from http.client import HTTPException
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.error import HTTPError, URLError
from urllib.parse import parse_qs, quote, urlencode, urlsplit, urlunsplit
from urllib.request import HTTPSHandler, Request, build_opener

DEFAULT_SCOPE = "https://outlook.office.com/SMTP.Send offline_access"
# App-only (client credentials): the resource's /.default scope; the granted application permission is SMTP.SendAsApp.
APP_SCOPE = "https://outlook.office365.com/.default"
AUTHORITY = "https://login.microsoftonline.com"
DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Tenants that stand for many directories: an app-only token must name the one it is for.
MULTI_TENANTS = ("consumers", "common", "organizations")
ASSERTION_LIFETIME = 300
SIGNERS = ("cryptography", "openssl")
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$")
_MAX_RESPONSE = 1024 * 1024
_AADSTS = re.compile(r"AADSTS(\d{4,9})")

TokenError = collections.namedtuple("TokenError", "word codes hint example")
TokenError.__doc__ = """One failure: stable reason word, the AADSTS numbers / OAuth error strings / SMTP replies that
select it, what to do, and a sample error_description (docs/oauth2.md's troubleshooting table is generated from it)."""

# The one table of token-endpoint knowledge. Looked up by AADSTS number first, then by the OAuth `error` string.
TOKEN_ERRORS = (
    TokenError("client_secret_invalid", ("AADSTS7000215",),
               "The client secret is wrong: copy the secret's Value (not its Secret ID) from the app registration's "
               "Certificates & secrets page and store it again (vaulted).",
               "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the "
               "client secret value, not the client secret ID."),
    TokenError("client_secret_expired", ("AADSTS7000222",),
               "The client secret has expired: add a new secret to the app registration, store it, and set its "
               "expiry date so the check warns before the next one runs out; or switch to a certificate.",
               "AADSTS7000222: The provided client secret keys for app '...' are expired."),
    TokenError("client_assertion_invalid", ("AADSTS700027", "AADSTS700021", "AADSTS700023", "AADSTS700024",
                                            "AADSTS50027"),
               "The certificate credential was refused: upload this certificate (public part, .cer/.pem) to the app "
               "registration's Certificates & secrets, check that the private key belongs to it, and that the host's "
               "clock is right (the assertion is valid for a few minutes).",
               "AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on "
               "application."),
    TokenError("app_not_found", ("AADSTS700016",),
               "No application with this client id exists in this tenant: check the client id (Application ID, not "
               "Object ID) and the tenant id; a single-tenant app works only in its own tenant, and an admin must "
               "consent once for a multi-tenant app.",
               "AADSTS700016: Application with identifier '...' was not found in the directory '...'."),
    TokenError("tenant_not_found", ("AADSTS90002", "AADSTS900023"),
               "The tenant does not exist: use the Directory (tenant) ID shown on the app registration's Overview, "
               "or a verified domain of the tenant.",
               "AADSTS90002: Tenant '...' not found. Check to make sure you have the correct tenant ID."),
    TokenError("tenant_required", ("AADSTS90010", "AADSTS9001023"),
               "App-only (client credentials) tokens are issued for one tenant: set the tenant id of the directory "
               "that holds the mailbox, never consumers, common or organizations.",
               "AADSTS90010: The grant type is not supported over the /common or /consumers endpoints."),
    TokenError("scope_needs_default", ("AADSTS1002012",),
               "Client credentials take the resource's /.default scope, not SMTP.Send: use "
               "scope https://outlook.office365.com/.default (the application permission SMTP.SendAsApp comes with "
               "it).",
               "AADSTS1002012: The provided value for scope https://outlook.office.com/SMTP.Send is not valid. Client "
               "credential flows must have a scope value with /.default suffixed to the resource identifier."),
    TokenError("scope_invalid", ("AADSTS70011", "invalid_scope"),
               "The scope is not valid for this app: delegated accounts use https://outlook.office.com/SMTP.Send "
               "offline_access, app-only accounts https://outlook.office365.com/.default.",
               "AADSTS70011: The provided request must include a 'scope' input parameter."),
    TokenError("consent_missing", ("AADSTS65001", "consent_required"),
               "Nobody consented to the permission yet: for app-only, an admin grants admin consent for SMTP.SendAsApp "
               "on the app's API permissions page; for delegated, sign in again and accept SMTP.Send.",
               "AADSTS65001: The user or administrator has not consented to use the application with ID '...'."),
    TokenError("refresh_token_expired", ("AADSTS700082",),
               "The refresh token expired because nothing used it for 90 days: sign in again (onboarding playbook) "
               "and keep the token store refreshed regularly.",
               "AADSTS700082: The refresh token has expired due to inactivity. The token was issued on ... and was "
               "inactive for 90.00:00:00."),
    TokenError("grant_revoked", ("AADSTS50173",),
               "The grant was revoked (password change, sign-out everywhere, or an admin revoked sessions): sign in "
               "again and store the new refresh token.",
               "AADSTS50173: The provided grant has expired due to it being revoked, a fresh auth token is needed."),
    TokenError("public_client_needs_secret", ("AADSTS7000218",),
               "The app is a confidential client: give its client secret, or turn on Allow public client flows "
               "(Authentication page of the app registration) for device code and refresh without a secret.",
               "AADSTS7000218: The request body must contain the following parameter: 'client_assertion' or "
               "'client_secret'."),
    TokenError("invalid_grant", ("AADSTS70000", "AADSTS70008", "AADSTS54005", "invalid_grant"),
               "The refresh token or code is invalid, expired, already redeemed or issued to another app: sign in "
               "again and store the new refresh token.",
               "AADSTS70000: The provided value for the input parameter 'refresh_token' or 'assertion' is not valid."),
    TokenError("authorization_pending", ("AADSTS70016", "authorization_pending"),
               "The user has not finished signing in yet: keep polling at the given interval.",
               "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling."),
    TokenError("slow_down", ("slow_down",),
               "Polling too fast: wait 5 seconds longer between polls.",
               "slow_down"),
    TokenError("expired_token", ("AADSTS70020", "expired_token"),
               "The device code expired before sign-in finished (15 minutes): run the login again and sign in sooner.",
               "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. Device code "
               "expired."),
    TokenError("authorization_declined", ("AADSTS70019", "authorization_declined", "access_denied"),
               "The sign-in was declined or cancelled: run the login again and accept the permissions, signed in as "
               "the mailbox that will send.",
               "AADSTS70019: The end user denied the authorization request."),
    TokenError("bad_verification_code", ("bad_verification_code",),
               "The device code is not known to the token endpoint: run the login again.",
               "bad_verification_code"),
    TokenError("state_mismatch", (),
               "The loopback redirect carried another state than the one sent: something else answered the login; "
               "run it again.",
               "the redirect's state does not match this login"),
    TokenError("login_timeout", (),
               "No redirect arrived at the loopback listener in time: open the printed URL in a browser on this "
               "machine and finish the sign-in, or use the device code login.",
               "no answer on http://localhost:PORT within 300 s"),
    TokenError("certificate_invalid", (),
               "The certificate or private key file cannot be used: give a PEM certificate and its unencrypted RSA "
               "private key (in one file or two), readable by the user that runs the check.",
               "no PEM certificate in /etc/ssl/private/app.pem"),
    TokenError("signer_missing", (),
               "Nothing can sign the client assertion: install the Python package cryptography or the openssl "
               "command on this host, or use a client secret.",
               "neither the cryptography package nor the openssl command is available"),
    TokenError("invalid_client", ("AADSTS7000216", "invalid_client", "unauthorized_client"),
               "The client id or its credential was refused: check the app registration, the tenant and the secret "
               "or certificate.",
               "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the "
               "'client_credentials' grant type."),
    TokenError("endpoint_unreachable", (),
               "The token endpoint is unreachable: allow egress to login.microsoftonline.com:443 (or token_url), and "
               "check any proxy.",
               "cannot reach login.microsoftonline.com: [Errno 111] Connection refused"),
    TokenError("cert_untrusted", (),
               "The token endpoint's certificate could not be verified: a TLS-intercepting proxy may be in the path; "
               "set the CA file to its CA if it is yours. Nothing was sent.",
               "token endpoint certificate: self-signed certificate in certificate chain"),
    TokenError("bad_response", (),
               "The token endpoint answered something that is not a token response: check token_url.",
               "the token endpoint answered HTTP 200 without an access_token"),
    TokenError("invalid_request", ("invalid_request",),
               "The token request is malformed or incomplete: check client id, tenant, scope and token_url.",
               "AADSTS900144: The request body must contain the following parameter: 'grant_type'."),
)

# SMTP replies that only an app-only (or delegated) token explains; the SMTP classifier lives in _outlook.py.
SMTP_TOKEN_REPLIES = (
    TokenError("app_mailbox_denied", ("535 5.7.3",),
               "The app token is valid but Exchange does not let the app use this mailbox: register the app's service "
               "principal (New-ServicePrincipal -AppId <client id> -ObjectId <Enterprise Application object id>) "
               "and grant it the mailbox (Add-MailboxPermission -Identity <mailbox> -User <service principal id> "
               "-AccessRights FullAccess); for another From address also Add-RecipientPermission.",
               "535 5.7.3 Authentication unsuccessful"),
)

_FLOW_ERRORS = {"authorization_pending": "authorization_pending", "slow_down": "slow_down",
                "expired_token": "expired_token", "authorization_declined": "authorization_declined",
                "access_denied": "authorization_declined", "bad_verification_code": "bad_verification_code"}
_BY_WORD = dict((entry.word, entry) for entry in TOKEN_ERRORS + SMTP_TOKEN_REPLIES)
_DEFAULT_HINT = "The token endpoint refused the request: read the error description, then sign in again if needed."


def hint_for(word):
    """The hint of a reason word (a generic one for words not in the table)."""
    entry = _BY_WORD.get(word)
    return entry.hint if entry else _DEFAULT_HINT


def classify_error(error, description="", codes=()):
    """The reason word for a token endpoint error: by AADSTS number (error_codes or the description), then by the
    OAuth error string; an unknown error keeps its (sanitized) OAuth string."""
    error = str(error or "")
    if error in _FLOW_ERRORS:  # the device flow's own words say more than the AADSTS number beside them
        return _FLOW_ERRORS[error]
    numbers = ["AADSTS%s" % n for n in codes] + ["AADSTS%s" % n for n in _AADSTS.findall(description or "")]
    for number in numbers:
        for entry in TOKEN_ERRORS:
            if number in entry.codes:
                return entry.word
    for entry in TOKEN_ERRORS:
        if error in entry.codes:
            return entry.word
    return _error_word(error)


def _error_word(error):
    """The endpoint's own error string as a safe word (what refresh_access_token's callers have always seen)."""
    word = re.sub(r"[^a-z0-9_]", "_", str(error or "").lower())[:64].strip("_")
    return word if re.match(r"\A[a-z][a-z0-9_]*\Z", word) else "bad_response"


class OAuth2Error(ValueError):
    """A grant failed. reason: a stable word of TOKEN_ERRORS (or the endpoint's own error string when unknown);
    description: what happened, never a secret; hint: what to do; error/codes: the endpoint's error and AADSTS numbers.
    word: always the stable word (refresh_access_token's default legacy mode puts the endpoint's error in reason)."""

    def __init__(self, reason, description, hint=None, error=None, codes=(), word=None):
        super(OAuth2Error, self).__init__("%s: %s" % (reason, description))
        self.reason = reason
        self.description = description
        self.word = word or reason
        self.hint = hint or hint_for(self.word)
        self.error = error or reason
        self.codes = tuple(codes)

    @property
    def needs_sign_in(self):
        """True when only a new interactive sign-in (a new refresh token) can fix it."""
        return self.word in ("invalid_grant", "refresh_token_expired", "grant_revoked", "consent_missing",
                             "interaction_required") or self.error in ("invalid_grant", "interaction_required")


def token_url_for(tenant="consumers"):
    """Token endpoint of a tenant: consumers, organizations, common, a tenant id or a verified domain."""
    return endpoint_url(tenant, "token")


def endpoint_url(tenant="consumers", name="token", token_url=None):
    """The token, devicecode or authorize endpoint of a tenant; beside token_url when one is given."""
    if token_url:
        parts = urlsplit(token_url)
        path = re.sub(r"/token$", "/" + name, parts.path)
        return urlunsplit((parts.scheme, parts.netloc, path, "", ""))
    tenant = (tenant or "").strip() or "consumers"
    if not _TENANT.match(tenant):
        raise OAuth2Error("invalid_request", "tenant %r is not a tenant id, domain or consumers/organizations/common"
                          % tenant)
    return "%s/%s/oauth2/v2.0/%s" % (AUTHORITY, quote(tenant, safe=""), name)


def xoauth2_initial_response(user, access_token):
    """base64 of user=<user>^Aauth=Bearer <token>^A^A (SASL XOAUTH2), as one ASCII string."""
    raw = "user=%s\x01auth=Bearer %s\x01\x01" % (user, access_token)
    return base64.b64encode(raw.encode("utf-8")).decode("ascii")


def ssl_context(ca_file, validate_certs):
    """A verifying client context (CA file or hashed directory); verification off only when asked. Also used by the probe."""
    if ca_file and os.path.isdir(ca_file):  # a directory of hashed certificates works too
        context = ssl.create_default_context(capath=ca_file)
    else:
        context = ssl.create_default_context(cafile=ca_file or None)
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _scrub(text, secrets):
    """Remove any secret a (misbehaving) endpoint might echo back into an error text."""
    text = str(text or "")
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "********")
    return text[:1000]


def _read_json(body):
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    return data


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# ------------------------------------------------------------------------------------------------- one token request

def _post(url, form, secrets, ca_file, validate_certs, timeout):
    """POST a form over verified HTTPS. Returns (status, parsed JSON object or None, raw length)."""
    if urlsplit(url).scheme.lower() != "https":
        raise OAuth2Error("invalid_request", "token_url must be an https:// URL, not %s" % _scrub(url, secrets))
    request = Request(url, data=urlencode(form).encode("ascii"), method="POST",
                      headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                               "User-Agent": "mailops.live_smtp"})
    try:
        context = ssl_context(ca_file, validate_certs)
    except (OSError, ssl.SSLError) as exc:
        raise OAuth2Error("cert_untrusted", "cannot load CA file %s: %s" % (ca_file, exc))
    opener = build_opener(HTTPSHandler(context=context))
    host = urlsplit(url).netloc
    try:
        response = opener.open(request, timeout=timeout)
        status = response.status
        body = response.read(_MAX_RESPONSE + 1)
    except HTTPError as exc:
        status = exc.code
        try:
            body = exc.read(_MAX_RESPONSE + 1)
        except (OSError, HTTPException):
            body = b""
    except URLError as exc:
        cause = exc.reason
        if isinstance(cause, ssl.SSLCertVerificationError):
            raise OAuth2Error("cert_untrusted", "token endpoint certificate: %s" % (cause.verify_message or cause))
        if isinstance(cause, ssl.SSLError):
            raise OAuth2Error("endpoint_unreachable", "TLS with the token endpoint failed: %s" % _scrub(cause, secrets))
        raise OAuth2Error("endpoint_unreachable", "cannot reach %s: %s" % (host, _scrub(cause, secrets)))
    except (socket.timeout, OSError) as exc:
        detail = _scrub(exc, secrets) or "timed out"
        raise OAuth2Error("endpoint_unreachable", "no answer from %s: %s" % (host, detail))
    except HTTPException as exc:
        raise OAuth2Error("bad_response", "broken HTTP answer from the token endpoint: %s" % _scrub(exc, secrets))
    return status, body


def _parse_body(status, body):
    if len(body) > _MAX_RESPONSE:
        raise OAuth2Error("bad_response", "the token endpoint answered more than %d bytes (HTTP %d)"
                          % (_MAX_RESPONSE, status))
    return _read_json(body)


def _raise_for_error(status, data, secrets, words=True):
    """Turn an OAuth2 error body (any status) into OAuth2Error; a non-200 without one is bad_response. words=False
    keeps the endpoint's own error string as reason (what callers of refresh_access_token have always seen)."""
    error = data.get("error") if data else None
    if error is not None and not isinstance(error, str):
        raise OAuth2Error("bad_response", "HTTP %d from the token endpoint with a malformed error field" % status)
    if error:
        description = data.get("error_description")
        description = description if isinstance(description, str) and description else error
        codes = data.get("error_codes")
        codes = [c for c in codes if isinstance(c, int) and not isinstance(c, bool)] if isinstance(codes, list) else []
        word = classify_error(error, description, codes)
        reason = word if words else _error_word(error)
        raise OAuth2Error(reason, _scrub(description, secrets), error=_scrub(error, secrets)[:64], codes=codes,
                          word=word)
    if status != 200:
        raise OAuth2Error("bad_response", "HTTP %d from the token endpoint without an OAuth2 error" % status)


def _expires_in(value, default=3600):
    if value is None:
        return float(default)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise OAuth2Error("bad_response", "expires_in is not a number")
    try:
        number = float(value)
    except ValueError:
        raise OAuth2Error("bad_response", "expires_in is not a number")
    if not math.isfinite(number):
        raise OAuth2Error("bad_response", "expires_in is not a number")
    return number


def parse_token_response(status, body, secrets=(), scope=DEFAULT_SCOPE, refresh_token=None, started=None,
                         words=True):
    """A token endpoint's answer (HTTP status, raw body bytes) as a token dict (like refresh_access_token's), or
    OAuth2Error: whatever the body holds, the error is clear and carries none of the given secrets."""
    started = time.time() if started is None else started
    data = _parse_body(status, body)
    _raise_for_error(status, data, secrets, words)
    if not data or not data.get("access_token"):
        raise OAuth2Error("bad_response", "the token endpoint answered HTTP %d without an access_token" % status)
    for key in ("access_token", "token_type", "refresh_token", "scope"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            raise OAuth2Error("bad_response", "%s in the token response is not a string" % key)
    return _token_result(started, data, scope, refresh_token)


def _token_request(url, form, secrets, ca_file, validate_certs, timeout, scope, refresh_token=None, words=True):
    started = time.time()
    status, body = _post(url, form, secrets, ca_file, validate_certs, timeout)
    return parse_token_response(status, body, secrets, scope, refresh_token, started, words)


def _token_result(started, data, scope, refresh_token=None):
    expires_in = _expires_in(data.get("expires_in"))
    new_refresh = data.get("refresh_token") or refresh_token
    result = {
        "access_token": data["access_token"],
        "token_type": data.get("token_type") or "Bearer",
        "expires_at": started + expires_in,
        "scope": data.get("scope") or scope,
    }
    if refresh_token is not None or new_refresh:
        result["refresh_token"] = new_refresh
        result["rotated"] = new_refresh != refresh_token
    return result


def _check_client_id(client_id):
    if not client_id or not isinstance(client_id, str):
        raise OAuth2Error("invalid_request", "client_id is empty")


# -------------------------------------------------------------------------------------------- delegated: refresh

def refresh_access_token(client_id, refresh_token, token_url=None, tenant="consumers", scope=DEFAULT_SCOPE,
                         client_secret=None, ca_file=None, validate_certs=True, timeout=10.0, words=False):
    """Run the refresh-token grant. Returns access_token, token_type, expires_at (epoch seconds), refresh_token
    (the new one when Microsoft rotated it, else the one given), rotated and scope. Raises OAuth2Error: with
    words=True its reason is the stable word; by default (existing callers) the endpoint's error string, as before,
    with the stable word in .word and its hint in .hint either way."""
    secrets = (refresh_token, client_secret)
    _check_client_id(client_id)
    if not refresh_token:
        raise OAuth2Error("invalid_request", "refresh_token is empty")
    url = token_url or token_url_for(tenant)
    scope = scope or DEFAULT_SCOPE
    form = {"client_id": client_id, "grant_type": "refresh_token", "refresh_token": refresh_token, "scope": scope}
    if client_secret:
        form["client_secret"] = client_secret
    return _token_request(url, form, secrets, ca_file, validate_certs, timeout, scope, refresh_token, words)


# --------------------------------------------------------------------------------- app-only: client credentials

def app_token_url(tenant, token_url=None):
    """The token endpoint of one tenant for client credentials; consumers/common/organizations are refused."""
    tenant = (tenant or "").strip()
    if not tenant:
        raise OAuth2Error("tenant_required", "client credentials need the tenant id of the mailbox's directory")
    if tenant.lower() in MULTI_TENANTS:
        raise OAuth2Error("tenant_required", "client credentials cannot use the %s tenant: give the tenant id of the "
                          "mailbox's directory (personal accounts have no app-only access)" % tenant.lower())
    if token_url:
        segments = [s.lower() for s in urlsplit(token_url).path.split("/")]
        if any(s in MULTI_TENANTS for s in segments):
            raise OAuth2Error("tenant_required", "token_url %s names a multi-tenant endpoint: client credentials need "
                              "a tenant's own endpoint" % urlsplit(token_url).path)
        return token_url
    return token_url_for(tenant)


def _read_pem(value, what):
    """PEM text from a path or from the text itself."""
    if not value or not isinstance(value, str):
        raise OAuth2Error("certificate_invalid", "no %s given" % what)
    if "-----BEGIN" in value:
        return value
    try:
        with open(value, "r") as handle:
            return handle.read(1024 * 1024)
    except (OSError, UnicodeDecodeError) as exc:
        raise OAuth2Error("certificate_invalid", "cannot read the %s %s: %s" % (
            what, value, getattr(exc, "strerror", None) or type(exc).__name__))


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----\s+([A-Za-z0-9+/=\s]+?)-----END \1-----")


def _pem_blocks(text, kinds):
    return [(kind, body) for kind, body in _PEM_BLOCK.findall(text) if kind in kinds]


def certificate_der(certificate):
    """DER bytes of the first certificate of a PEM file or text."""
    text = _read_pem(certificate, "certificate")
    blocks = _pem_blocks(text, ("CERTIFICATE",))
    if not blocks:
        raise OAuth2Error("certificate_invalid", "no PEM certificate in %s" % (
            "the given text" if "-----BEGIN" in certificate else certificate))
    try:
        return base64.b64decode("".join(blocks[0][1].split()), validate=True)
    except ValueError:
        raise OAuth2Error("certificate_invalid", "the PEM certificate is not valid base64")


def certificate_thumbprint(certificate):
    """x5t#S256: base64url of the SHA-256 of the DER certificate (what the app registration shows, hashed anew)."""
    return _b64url(hashlib.sha256(certificate_der(certificate)).digest())


def _der_items(data, start, end):
    """(tag, content start, content end) of each DER item between start and end."""
    items = []
    pos = start
    while pos < end:
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            if not 0 < count <= 4:
                raise ValueError("unsupported DER length")
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        if pos + length > end:
            raise ValueError("truncated DER")
        items.append((tag, pos, pos + length))
        pos += length
    return items


def certificate_expiry(certificate):
    """notAfter of the certificate (PEM path or text) as epoch seconds; for days-left warnings. Pure DER reading, no
    signer needed. Raises OAuth2Error (certificate_invalid)."""
    der = certificate_der(certificate)
    try:
        cert = _der_items(der, 0, len(der))[0]
        tbs = _der_items(der, cert[1], cert[2])[0]
        fields = _der_items(der, tbs[1], tbs[2])
        if fields[0][0] == 0xA0:  # explicit version
            fields = fields[1:]
        validity = _der_items(der, fields[3][1], fields[3][2])
        tag, start, end = validity[1]
        text = der[start:end].decode("ascii")
        if tag == 0x17:  # UTCTime: YYMMDDHHMMSSZ, years 1950-2049
            year = int(text[:2])
            text = ("19" if year >= 50 else "20") + text
        elif tag != 0x18:
            raise ValueError("notAfter is not a time")
        return calendar.timegm(time.strptime(text[:14], "%Y%m%d%H%M%S"))
    except (IndexError, ValueError, UnicodeDecodeError):
        raise OAuth2Error("certificate_invalid", "cannot read the certificate's validity")


def _private_key_pem(private_key, certificate):
    text = _read_pem(private_key or certificate, "private key")
    blocks = _pem_blocks(text, ("PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"))
    if not blocks:
        raise OAuth2Error("certificate_invalid", "no PEM private key in the %s" % (
            "private key file" if private_key else "certificate file (give private_key)"))
    if blocks[0][0] == "ENCRYPTED PRIVATE KEY" or "Proc-Type: 4,ENCRYPTED" in text:
        raise OAuth2Error("certificate_invalid", "the private key is encrypted: give it unencrypted (mode 0600)")
    return "-----BEGIN %s-----\n%s-----END %s-----\n" % (blocks[0][0], blocks[0][1].strip() + "\n", blocks[0][0])


def _have_cryptography():
    try:
        __import__("cryptography.hazmat.primitives.asymmetric.padding")
        return True
    except ImportError:
        return False


def available_signer(prefer=None):
    """The signer that will sign client assertions here: 'cryptography' when importable, else 'openssl' when the
    command exists, else None. prefer forces one (None when that one is missing)."""
    found = {"cryptography": _have_cryptography, "openssl": lambda: shutil.which("openssl") is not None}
    for name in ([prefer] if prefer else list(SIGNERS)):
        if name in found and found[name]():
            return name
    return None


def _sign_cryptography(key_pem, data):
    from cryptography.exceptions import UnsupportedAlgorithm  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import padding, rsa  # pylint: disable=import-outside-toplevel
    try:
        key = serialization.load_pem_private_key(key_pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise OAuth2Error("certificate_invalid", "cannot load the private key: %s" % type(exc).__name__)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise OAuth2Error("certificate_invalid", "the private key is not an RSA key (RS256 needs RSA)")
    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def _sign_openssl(key_pem, data, timeout=30):
    # The key goes through a pipe, never into a temporary file. Not run_command: this library also runs in the token
    # helper, outside Ansible, and run_command cannot hand a pipe's descriptor to the child.
    read_end, write_end = os.pipe()
    try:
        process = subprocess.Popen(["openssl", "dgst", "-sha256", "-sign", "/dev/fd/%d" % read_end],  # pylint: disable=ansible-bad-function
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   pass_fds=(read_end,))
    except OSError as exc:
        os.close(read_end)
        os.close(write_end)
        raise OAuth2Error("signer_missing", "cannot run openssl: %s" % (exc.strerror or exc))
    os.close(read_end)
    writer = threading.Thread(target=_write_and_close, args=(write_end, key_pem.encode("ascii")))
    writer.start()
    try:
        signature, errors = process.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise OAuth2Error("signer_missing", "openssl did not finish signing in %d s" % timeout)
    finally:
        writer.join()
    if process.returncode != 0 or not signature:
        first = (errors.decode("utf-8", "replace").strip().splitlines() or ["no output"])[0]
        raise OAuth2Error("certificate_invalid", "openssl could not sign with the private key: %s" % first[:200])
    return signature


def _write_and_close(fd, data):
    try:
        os.write(fd, data)
    except OSError:
        pass  # openssl failed before reading: its error says why
    finally:
        os.close(fd)


def sign_rs256(private_key_pem, data, signer=None):
    """RSASSA-PKCS1-v1_5 SHA-256 signature of data, by the chosen (or first available) signer."""
    name = available_signer(signer)
    if name is None:
        if signer:
            raise OAuth2Error("signer_missing", "the %s signer is not available on this host" % signer)
        raise OAuth2Error("signer_missing", "neither the cryptography package nor the openssl command is available "
                          "to sign the client assertion")
    if name == "cryptography":
        return _sign_cryptography(private_key_pem, data)
    return _sign_openssl(private_key_pem, data)


def client_assertion(client_id, token_url, certificate, private_key=None, signer=None, now=None,
                     lifetime=ASSERTION_LIFETIME):
    """A client assertion JWT (RS256) for a certificate credential: header alg, typ and x5t#S256; claims aud (the
    token URL), iss = sub = client id, a unique jti, nbf/iat now, exp lifetime seconds ahead."""
    _check_client_id(client_id)
    thumbprint = certificate_thumbprint(certificate)
    key_pem = _private_key_pem(private_key, certificate)
    now = int(time.time() if now is None else now)
    header = {"alg": "RS256", "typ": "JWT", "x5t#S256": thumbprint}
    claims = {"aud": token_url, "iss": client_id, "sub": client_id, "jti": str(uuid.uuid4()), "nbf": now, "iat": now,
              "exp": now + int(lifetime)}
    signing_input = "%s.%s" % (_b64url(json.dumps(header, separators=(",", ":")).encode("utf-8")),
                               _b64url(json.dumps(claims, separators=(",", ":")).encode("utf-8")))
    signature = sign_rs256(key_pem, signing_input.encode("ascii"), signer)
    return "%s.%s" % (signing_input, _b64url(signature))


def client_credentials_token(client_id, tenant, client_secret=None, certificate=None, private_key=None,
                             token_url=None, scope=APP_SCOPE, signer=None, ca_file=None, validate_certs=True,
                             timeout=10.0):
    """Run the client credentials grant (app-only) for one tenant, with a client secret or a certificate credential
    (certificate and private_key: PEM paths or PEM text; the key may sit in the certificate file). Returns
    access_token, token_type, expires_at, scope, credential ('secret' or 'certificate') and signer. Raises OAuth2Error."""
    _check_client_id(client_id)
    url = app_token_url(tenant, token_url)
    if bool(client_secret) == bool(certificate):
        raise OAuth2Error("invalid_request", "client credentials need exactly one of client_secret or certificate")
    scope = scope or APP_SCOPE
    form = {"client_id": client_id, "grant_type": "client_credentials", "scope": scope}
    secrets = [client_secret]
    used_signer = None
    if client_secret:
        form["client_secret"] = client_secret
    else:
        used_signer = available_signer(signer)
        assertion = client_assertion(client_id, url, certificate, private_key, signer)
        form["client_assertion_type"] = JWT_BEARER
        form["client_assertion"] = assertion
        secrets.append(assertion)
    result = _token_request(url, form, secrets, ca_file, validate_certs, timeout, scope)
    result.pop("refresh_token", None)
    result.pop("rotated", None)
    result["credential"] = "secret" if client_secret else "certificate"
    result["signer"] = used_signer
    return result


# ------------------------------------------------------------------------------- onboarding: device authorization

def device_code_start(client_id, tenant="consumers", scope=DEFAULT_SCOPE, token_url=None, ca_file=None,
                      validate_certs=True, timeout=10.0, now=None):
    """Start the device authorization grant. Returns device_code (secret), user_code, verification_uri, message,
    interval (seconds) and expires_at (epoch seconds). Raises OAuth2Error."""
    _check_client_id(client_id)
    url = endpoint_url(tenant, "devicecode", token_url)
    scope = scope or DEFAULT_SCOPE
    started = time.time() if now is None else now
    status, body = _post(url, {"client_id": client_id, "scope": scope}, (), ca_file, validate_certs, timeout)
    data = _parse_body(status, body)
    _raise_for_error(status, data, ())
    if not data:
        raise OAuth2Error("bad_response", "the devicecode endpoint did not answer a JSON object")
    for key in ("device_code", "user_code", "verification_uri"):
        if not isinstance(data.get(key), str) or not data.get(key):
            raise OAuth2Error("bad_response", "the devicecode answer has no %s" % key)
    message = data.get("message")
    interval = _expires_in(data.get("interval"), 5)
    return {
        "device_code": data["device_code"],
        "user_code": data["user_code"],
        "verification_uri": data["verification_uri"],
        "message": message if isinstance(message, str) and message else "To sign in, open %s and enter the code %s." % (
            data["verification_uri"], data["user_code"]),
        "interval": max(1.0, interval),
        "expires_at": started + _expires_in(data.get("expires_in"), 900),
    }


def device_code_poll(client_id, device_code, tenant="consumers", token_url=None, client_secret=None, ca_file=None,
                     validate_certs=True, timeout=10.0):
    """One poll of the token endpoint for a device code. Returns the token (access_token, refresh_token, expires_at,
    scope) or raises OAuth2Error: authorization_pending and slow_down mean poll again."""
    _check_client_id(client_id)
    if not device_code:
        raise OAuth2Error("invalid_request", "device_code is empty")
    url = token_url or token_url_for(tenant)
    form = {"client_id": client_id, "grant_type": DEVICE_CODE_GRANT, "device_code": device_code}
    if client_secret:
        form["client_secret"] = client_secret
    return _token_request(url, form, (device_code, client_secret), ca_file, validate_certs, timeout, DEFAULT_SCOPE)


def device_code_wait(client_id, start, tenant="consumers", token_url=None, client_secret=None, ca_file=None,
                     validate_certs=True, timeout=10.0, sleep=time.sleep, clock=time.time):
    """Poll until the user signed in: waits the interval on authorization_pending, 5 s more on slow_down, stops with
    expired_token at the code's expiry; authorization_declined and the rest are raised. Returns the token."""
    interval = float(start.get("interval") or 5)
    while True:
        if clock() >= start["expires_at"]:
            raise OAuth2Error("expired_token", "the device code expired before the sign-in finished")
        sleep(interval)
        try:
            return device_code_poll(client_id, start["device_code"], tenant, token_url, client_secret, ca_file,
                                    validate_certs, timeout)
        except OAuth2Error as exc:
            if exc.reason == "slow_down":
                interval += 5
            elif exc.reason != "authorization_pending":
                raise


# ---------------------------------------------------------------- onboarding: authorization code, PKCE, loopback

def pkce_pair():
    """(code_verifier, code_challenge) for PKCE S256."""
    verifier = _b64url(_secrets.token_bytes(48))
    return verifier, _b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def authorization_url(client_id, redirect_uri, state, code_challenge, tenant="consumers", scope=DEFAULT_SCOPE,
                      token_url=None, login_hint=None):
    """The URL the user opens to sign in (authorization code grant with PKCE S256)."""
    _check_client_id(client_id)
    query = {"client_id": client_id, "response_type": "code", "redirect_uri": redirect_uri,
             "response_mode": "query", "scope": scope or DEFAULT_SCOPE, "state": state,
             "code_challenge": code_challenge, "code_challenge_method": "S256"}
    if login_hint:
        query["login_hint"] = login_hint
    return "%s?%s" % (endpoint_url(tenant, "authorize", token_url), urlencode(query))


class LoopbackReceiver:
    """A one-shot HTTP listener on 127.0.0.1 for the redirect (http://localhost:<port>), served from a thread so the
    browser may be started before wait(); checks the state."""

    def __init__(self, state, port=0):
        self.state = state
        self.result = None
        self.done = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's name
                query = parse_qs(urlsplit(self.path).query, keep_blank_values=True)
                if receiver.result is None and ("code" in query or "error" in query):
                    receiver.result = dict((k, v[0]) for k, v in query.items())
                    receiver.done.set()
                    text = "Sign-in finished: you can close this window."
                else:
                    text = "Waiting for the sign-in redirect."
                body = text.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # the code must not reach any log
                pass

        try:
            self.server = HTTPServer(("127.0.0.1", port), Handler)
        except OSError as exc:
            raise OAuth2Error("invalid_request", "cannot listen on 127.0.0.1:%d: %s" % (port, exc.strerror or exc))
        self.redirect_uri = "http://localhost:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1})
        self.thread.daemon = True
        self.thread.start()

    def wait(self, timeout=300.0):
        """The authorization code of the redirect. Raises OAuth2Error (login_timeout, state_mismatch, the error)."""
        self.done.wait(timeout)
        self.close()
        if self.result is None:
            raise OAuth2Error("login_timeout", "no redirect arrived at %s within %g s" % (self.redirect_uri, timeout))
        if self.result.get("state") != self.state:
            raise OAuth2Error("state_mismatch", "the redirect's state does not match this login")
        if "error" in self.result:
            error = self.result["error"]
            description = self.result.get("error_description") or error
            raise OAuth2Error(classify_error(error, description), _scrub(description, ()), error=error[:64])
        if not self.result.get("code"):
            raise OAuth2Error("bad_response", "the redirect carried an empty code")
        return self.result["code"]

    def close(self):
        if self.thread.is_alive():
            self.server.shutdown()
            self.thread.join()
        self.server.server_close()


def authorization_code_token(client_id, code, redirect_uri, code_verifier, tenant="consumers", token_url=None,
                             scope=DEFAULT_SCOPE, client_secret=None, ca_file=None, validate_certs=True, timeout=10.0):
    """Redeem an authorization code (with its PKCE verifier). Returns the token like refresh_access_token."""
    _check_client_id(client_id)
    if not code:
        raise OAuth2Error("invalid_request", "the authorization code is empty")
    url = token_url or token_url_for(tenant)
    form = {"client_id": client_id, "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": code_verifier, "scope": scope or DEFAULT_SCOPE}
    if client_secret:
        form["client_secret"] = client_secret
    return _token_request(url, form, (code, code_verifier, client_secret), ca_file, validate_certs, timeout,
                          scope or DEFAULT_SCOPE)


def authorization_code_login(client_id, open_url, tenant="consumers", scope=DEFAULT_SCOPE, token_url=None, port=0,
                             login_hint=None, client_secret=None, ca_file=None, validate_certs=True, timeout=10.0,
                             wait=300.0):
    """The whole PKCE login: listen on the loopback, call open_url(url) (print it, start a browser), wait for the
    redirect, check the state, redeem the code. Returns the token."""
    verifier, challenge = pkce_pair()
    state = _b64url(_secrets.token_bytes(16))
    receiver = LoopbackReceiver(state, port)
    try:
        url = authorization_url(client_id, receiver.redirect_uri, state, challenge, tenant, scope, token_url,
                                login_hint)
        open_url(url)
        code = receiver.wait(wait)
    finally:
        receiver.close()
    return authorization_code_token(client_id, code, receiver.redirect_uri, verifier, tenant, token_url, scope,
                                    client_secret, ca_file, validate_certs, timeout)
