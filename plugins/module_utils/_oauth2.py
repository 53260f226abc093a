# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
#
# Self-contained on purpose (standard library only): roles/oauth2_token copies this file to hosts and imports it
# from a standalone script. Keep the interface (names, arguments, returned keys) stable.

"""Microsoft identity platform: refresh-token grant and the SASL XOAUTH2 initial response."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import os
import re
import socket
import ssl
import time

from http.client import HTTPException
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode, urlsplit
from urllib.request import HTTPSHandler, Request, build_opener

DEFAULT_SCOPE = "https://outlook.office.com/SMTP.Send offline_access"
AUTHORITY = "https://login.microsoftonline.com"
_TENANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]{0,253}$")
_MAX_RESPONSE = 1024 * 1024


class OAuth2Error(Exception):
    """A refresh failed. reason: Microsoft's error code or one of ours; description: never carries a secret."""

    def __init__(self, reason, description):
        super(OAuth2Error, self).__init__("%s: %s" % (reason, description))
        self.reason = reason
        self.description = description


def token_url_for(tenant="consumers"):
    """Token endpoint of a tenant: consumers, organizations, common, a tenant id or a verified domain."""
    tenant = (tenant or "").strip() or "consumers"
    if not _TENANT.match(tenant):
        raise OAuth2Error("invalid_request", "tenant %r is not a tenant id, domain or consumers/organizations/common"
                          % tenant)
    return "%s/%s/oauth2/v2.0/token" % (AUTHORITY, quote(tenant, safe=""))


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
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    return data


def refresh_access_token(client_id, refresh_token, token_url=None, tenant="consumers", scope=DEFAULT_SCOPE,
                         client_secret=None, ca_file=None, validate_certs=True, timeout=10.0):
    """Run the refresh-token grant. Returns access_token, token_type, expires_at (epoch seconds), refresh_token
    (the new one when Microsoft rotated it, else the one given), rotated and scope. Raises OAuth2Error."""
    secrets = (refresh_token, client_secret)
    if not client_id:
        raise OAuth2Error("invalid_request", "client_id is empty")
    if not refresh_token:
        raise OAuth2Error("invalid_request", "refresh_token is empty")
    url = token_url or token_url_for(tenant)
    if urlsplit(url).scheme.lower() != "https":
        raise OAuth2Error("invalid_request", "token_url must be an https:// URL, not %s" % _scrub(url, secrets))
    scope = scope or DEFAULT_SCOPE
    form = {"client_id": client_id, "grant_type": "refresh_token", "refresh_token": refresh_token, "scope": scope}
    if client_secret:
        form["client_secret"] = client_secret
    request = Request(url, data=urlencode(form).encode("ascii"), method="POST",
                      headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                               "User-Agent": "mailops.live_smtp"})
    try:
        context = ssl_context(ca_file, validate_certs)
    except (OSError, ssl.SSLError) as exc:
        raise OAuth2Error("cert_untrusted", "cannot load CA file %s: %s" % (ca_file, exc))
    opener = build_opener(HTTPSHandler(context=context))
    started = time.time()
    try:
        response = opener.open(request, timeout=timeout)
        status = response.status
        body = response.read(_MAX_RESPONSE)
    except HTTPError as exc:
        status = exc.code
        try:
            body = exc.read(_MAX_RESPONSE)
        except (OSError, HTTPException):
            body = b""
    except URLError as exc:
        cause = exc.reason
        if isinstance(cause, ssl.SSLCertVerificationError):
            raise OAuth2Error("cert_untrusted", "token endpoint certificate: %s" % (cause.verify_message or cause))
        if isinstance(cause, ssl.SSLError):
            raise OAuth2Error("endpoint_unreachable", "TLS with the token endpoint failed: %s" % _scrub(cause, secrets))
        raise OAuth2Error("endpoint_unreachable", "cannot reach %s: %s" % (urlsplit(url).netloc, _scrub(cause, secrets)))
    except (socket.timeout, OSError) as exc:
        detail = _scrub(exc, secrets) or "timed out"
        raise OAuth2Error("endpoint_unreachable", "no answer from %s: %s" % (urlsplit(url).netloc, detail))
    except HTTPException as exc:
        raise OAuth2Error("bad_response", "broken HTTP answer from the token endpoint: %s" % _scrub(exc, secrets))

    data = _read_json(body)
    if status != 200:
        if data and data.get("error"):
            code = re.sub(r"[^a-z0-9_]", "_", str(data["error"]).lower())[:64] or "bad_response"
            raise OAuth2Error(code, _scrub(data.get("error_description") or data["error"], secrets))
        raise OAuth2Error("bad_response", "HTTP %d from the token endpoint without an OAuth2 error" % status)
    if not data or not data.get("access_token"):
        raise OAuth2Error("bad_response", "the token endpoint answered HTTP 200 without an access_token")
    try:
        expires_in = float(data.get("expires_in", 3600))
    except (TypeError, ValueError):
        raise OAuth2Error("bad_response", "expires_in is not a number")
    new_refresh = data.get("refresh_token") or refresh_token
    return {
        "access_token": data["access_token"],
        "token_type": data.get("token_type", "Bearer"),
        "expires_at": started + expires_in,
        "refresh_token": new_refresh,
        "rotated": new_refresh != refresh_token,
        "scope": data.get("scope", scope),
    }
