# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""What is true only of Microsoft's endpoints: their names, the legacy smtp.live.com, port 465, personal accounts.
The facts behind it are in docs/microsoft.md."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

MICROSOFT_HOST_SUFFIXES = ("outlook.com", "office365.com", "live.com", "hotmail.com", "outlook.office.com")
CONSUMER_DOMAIN = re.compile(r"^((outlook|hotmail|live)\.(com|[a-z]{2}|co\.[a-z]{2}|com\.[a-z]{2})|msn\.com|passport\.com)$", re.I)
PORT_465_HINT = ("Microsoft does not support port 465 (implicit TLS) for SMTP AUTH client submission: use port 587 "
                 "with security starttls.")


def is_microsoft_host(host):
    host = (host or "").lower().rstrip(".")
    return any(host == suffix or host.endswith("." + suffix) for suffix in MICROSOFT_HOST_SUFFIXES)


def is_consumer_address(address):
    if not address or "@" not in address:
        return False
    return bool(CONSUMER_DOMAIN.match(address.rsplit("@", 1)[1].strip().rstrip(".")))


def endpoint_warnings(host, port, username=None, password_auth=False):
    """Advice on the configured endpoint, before any traffic."""
    warnings = []
    host_l = (host or "").lower().rstrip(".")
    if host_l == "smtp.live.com":
        warnings.append("smtp.live.com is a legacy name found in old guides: use smtp-mail.outlook.com (port 587, "
                        "STARTTLS).")
    if port == 465 and is_microsoft_host(host_l):
        warnings.append(PORT_465_HINT)
    if password_auth and is_consumer_address(username):
        warnings.append("%s looks like a personal Microsoft account: Microsoft has refused passwords and app passwords "
                        "for these since September 2024 (535 5.7.139); use OAuth2 (XOAUTH2)."
                        % username.rsplit("@", 1)[1])
    return warnings


def adjust_hint(hint, host, port):
    """A failure on port 465 against Microsoft gets the plain explanation first."""
    if port == 465 and is_microsoft_host(host):
        return PORT_465_HINT + " " + hint
    return hint
