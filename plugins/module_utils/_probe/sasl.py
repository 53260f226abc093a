# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""AUTH: which SASL mechanism to use, the exchange itself in the fewest round trips, and the OAuth2 access token
fetched in a thread while DNS, TCP and TLS are under way."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import json
import threading
import time

from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.errors import ProbeError

_MAX_CHALLENGE = 4096


def choose_mechanism(auth, offered, has_password, has_token):
    """The SASL mechanism to use, or None for no AUTH. Raises ProbeError when the server lacks it."""
    if auth == "none":
        return None
    if auth == "auto":
        if has_token:
            wanted = ["XOAUTH2"]
        elif has_password:
            wanted = ["LOGIN", "PLAIN"]
        else:
            return None
    else:
        wanted = [auth.upper()]
    for mechanism in wanted:
        if mechanism in offered:
            return mechanism
    raise ProbeError("auth", "auth_mechanism_unavailable",
                     "wanted %s; the server offers %s" % (" or ".join(wanted), " ".join(offered) or "no AUTH"))


def decode_challenge(text):
    """The JSON object of an XOAUTH2 error challenge (base64 after 334), e.g. {"status": "401", "schemes": "Bearer",
    "scope": "..."}, or None when it is not one. Only short string and number values are kept."""
    try:
        data = json.loads(base64.b64decode(text.strip()[:_MAX_CHALLENGE], validate=True).decode("utf-8"))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    return dict((str(key)[:64], value if isinstance(value, (int, float)) else str(value)[:512])
                for key, value in data.items() if isinstance(value, (str, int, float)) and not isinstance(value, bool))


def authenticate(session, mechanism, username, password, access_token):
    """Runs AUTH; returns (final reply, decoded XOAUTH2 challenge or None). One round trip for XOAUTH2 and PLAIN
    (two when XOAUTH2 is refused with a challenge), two for LOGIN (user in the AUTH line, password on the 334)."""
    challenge = None
    if mechanism == "XOAUTH2":
        reply = session.command("AUTH XOAUTH2 " + _oauth2.xoauth2_initial_response(username, access_token))
        if reply.code == 334:  # an error challenge (JSON); the empty answer ends the exchange with the real reply
            challenge = decode_challenge(reply.text)
            reply = session.command("")
    elif mechanism == "PLAIN":
        raw = ("\0%s\0%s" % (username, password)).encode("utf-8")
        reply = session.command("AUTH PLAIN " + base64.b64encode(raw).decode("ascii"))
    else:
        reply = session.command("AUTH LOGIN " + base64.b64encode(username.encode("utf-8")).decode("ascii"))
        if reply.code == 334:
            reply = session.command(base64.b64encode(password.encode("utf-8")).decode("ascii"))
    return reply, challenge


class TokenFetch(threading.Thread):
    """Fetches the OAuth2 access token while DNS, TCP and TLS are under way: the refresh token grant (delegated) or
    the client credentials grant (app-only, oauth2 grant=client_credentials)."""

    def __init__(self, oauth2, validate_certs, ca_path, timeout):
        super(TokenFetch, self).__init__()
        self.daemon = True
        self.oauth2 = oauth2
        self.app_only = oauth2.get("grant") == "client_credentials"
        self.kwargs = {"validate_certs": validate_certs, "ca_file": ca_path, "timeout": timeout}
        self.result = None
        self.error = None
        self.elapsed = None

    def fetch(self):
        oauth2 = self.oauth2
        if self.app_only:
            return _oauth2.client_credentials_token(
                oauth2["client_id"], oauth2.get("tenant"), client_secret=oauth2.get("client_secret"),
                certificate=oauth2.get("certificate"), private_key=oauth2.get("private_key"),
                token_url=oauth2.get("token_url"), scope=oauth2.get("scope") or _oauth2.APP_SCOPE, **self.kwargs)
        return _oauth2.refresh_access_token(
            oauth2["client_id"], oauth2["refresh_token"], token_url=oauth2.get("token_url"),
            tenant=oauth2.get("tenant") or "consumers", scope=oauth2.get("scope") or _oauth2.DEFAULT_SCOPE,
            client_secret=oauth2.get("client_secret"), words=True, **self.kwargs)

    def run(self):
        started = time.monotonic()
        try:
            self.result = self.fetch()
        except _oauth2.OAuth2Error as exc:
            self.error = exc
        except Exception as exc:  # pylint: disable=broad-except  # a thread must report, never die silently
            self.error = _oauth2.OAuth2Error("bad_response", type(exc).__name__)
        self.elapsed = time.monotonic() - started

    def wait(self, deadline):
        """The access token, or the ProbeError of the token endpoint's failure: its stable word (TOKEN_ERRORS of
        _oauth2) as reason, its hint as hint."""
        self.join(max(deadline.remaining(), 0))
        if self.is_alive():
            raise ProbeError("auth", "endpoint_unreachable", "the token endpoint did not answer before the timeout",
                             hint=_oauth2.hint_for("endpoint_unreachable"))
        if self.error is not None:
            raise ProbeError("auth", self.error.word, self.error.description, hint=self.error.hint)
        return self.result["access_token"]
