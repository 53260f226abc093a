# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The SMTP submission probe of smtp_check, one file per concern. Read top-down:

probe.py     Options and the Probe: one method per stage (dns, connect, banner, ehlo, starttls, tls, auth, envelope),
             each run inside Probe.stage(), which times it and turns a network error into a ProbeError.
wire.py      the SMTP wire: Reply, Session (buffered socket bounded by the Deadline), EHLO parsing.
reasons.py   the reply -> reason -> hint table and the hint text a result shows (docs/reasons.md is generated from it).
network.py   name resolution (system resolver, or dnspython loaded only for nameservers) and TCP connect.
tls.py       TLS contexts, handshake errors, certificate details (x509.py reads the DER).
sasl.py      choosing and running AUTH (LOGIN, PLAIN, XOAUTH2), the OAuth2 token fetched alongside.
microsoft.py what is true only of Microsoft's endpoints (legacy names, port 465, personal accounts).
errors.py    ConfigError (an option the probe cannot use) and ProbeError (a failed stage, becomes the result).

Nothing here imports Ansible.
"""
