#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: check_accounts
short_description: Check every account of live_smtp_accounts from a host, with a result that keeps no secret
version_added: 0.1.0
description:
  - The check task of the C(mailops.live_smtp.check) playbook. An action plugin that completes and validates the
    accounts (as the C(mailops.live_smtp.account_defaults) filter does), runs M(mailops.live_smtp.smtp_check) on the
    managed host once per account, and returns one row per account built from the module's result.
  - The result, and so what C(register) keeps in hostvars, holds account names, servers and findings only, no
    password, refresh token or client secret. Still set C(no_log) on the task, since its arguments carry the secrets.
  - Fails the host when any account's check failed (after checking every account).
  - Optionally writes a Prometheus node_exporter textfile-collector file on the host (O(prometheus_file)).
author:
  - mailops.live_smtp maintainers (@mailops)
extends_documentation_fragment:
  - mailops.live_smtp.attributes
  - mailops.live_smtp.attributes.action
attributes:
  check_mode:
    support: full
    details: The module runs in check mode (a test message is not sent); O(prometheus_file) is not written.
  diff_mode:
    support: none
options:
  accounts:
    description: The accounts, in the shared vocabulary (C(live_smtp_accounts)); completed by the same rules as the roles.
    type: list
    elements: dict
    required: true
  envelope:
    description: Also probe C(MAIL FROM)/C(RCPT TO) with the account's C(from) (no message is sent).
    type: bool
    default: false
  send_test_message:
    description: Send a real test message per account (not in check mode).
    type: bool
    default: false
  rcpt_to:
    description: Recipients of the envelope probe and the test message. Default, the account's C(from).
    type: list
    elements: str
  timeout:
    description: M(mailops.live_smtp.smtp_check)'s O(mailops.live_smtp.smtp_check#module:timeout); its default when unset.
    type: float
  validate_certs:
    description: M(mailops.live_smtp.smtp_check)'s O(mailops.live_smtp.smtp_check#module:validate_certs).
    type: bool
    default: true
  min_tls_version:
    description: M(mailops.live_smtp.smtp_check)'s O(mailops.live_smtp.smtp_check#module:min_tls_version).
    type: str
    choices: [TLSv1, TLSv1.1, TLSv1.2, TLSv1.3]
  cert_min_days:
    description: M(mailops.live_smtp.smtp_check)'s O(mailops.live_smtp.smtp_check#module:cert_min_days).
    type: int
  nameservers:
    description: M(mailops.live_smtp.smtp_check)'s O(mailops.live_smtp.smtp_check#module:nameservers).
    type: list
    elements: str
  ip_version:
    description: M(mailops.live_smtp.smtp_check)'s O(mailops.live_smtp.smtp_check#module:ip_version).
    type: str
    choices: [any, "4", "6"]
  ehlo_name:
    description: M(mailops.live_smtp.smtp_check)'s O(mailops.live_smtp.smtp_check#module:ehlo_name).
    type: str
  prometheus_file:
    description:
      - Write the results as a node_exporter textfile-collector file at this path on the host, atomically, mode
        C(0644); for example C(/var/lib/prometheus/node-exporter/live_smtp.prom). Not written when unset.
      - Holds per account success, seconds per phase, certificate days left and the token store's age; no secret.
    type: path
  token_state_dir:
    description: Where the P(mailops.live_smtp.oauth2_token#role) role keeps its token stores, for the token store age.
    type: path
    default: /var/lib/mailops-live-smtp/oauth2
  token_store_warn_days:
    description:
      - Warn for an OAuth2 account (refresh-token grant) whose token store on the host was not written for more than
        this many days. A refresh token unused for 90 days expires.
    type: int
    default: 60
  credential_min_days:
    description:
      - Warn when the certificate credential (C(oauth2.certificate)) or the client secret (by
        C(oauth2.client_secret_expires)) of an account expires in fewer than this many days.
    type: int
    default: 30
seealso:
  - module: mailops.live_smtp.smtp_check
  - module: mailops.live_smtp.check_report
"""

EXAMPLES = r"""
- name: Check each account from this host
  mailops.live_smtp.check_accounts:
    accounts: "{{ live_smtp_accounts }}"
    prometheus_file: /var/lib/prometheus/node-exporter/live_smtp.prom
  register: checks
  no_log: true
"""

RETURN = r"""
checks:
  description: One row per account (see C(docs/check_playbook.md) of the collection for every key).
  returned: success or when a check failed
  type: list
  elements: dict
  sample:
    - host: web1
      account: alerts
      server: "smtp.office365.com:587"
      ok: true
      reason: null
      failed_stage: null
      hint: null
      reply: null
      tls_version: TLSv1.3
      tls_days_left: 214
      auth_mechanism: LOGIN
      total_ms: 287.3
      timings_ms: {"dns": 3.1, "connect": 21.4, "banner": 95.2, "total": 287.3}
      changed: false
      token_store_age_days: null
      certificate_days_left: null
      client_secret_days_left: null
check_warnings:
  description:
    - The module's warnings on this host, each once, then the credential lifecycle warnings (a token store idle longer
      than O(token_store_warn_days), a certificate or client secret expiring within O(credential_min_days)).
  returned: success or when a check failed
  type: list
  elements: str
  sample: ["smtp.live.com is a legacy name: use smtp-mail.outlook.com"]
prometheus_file:
  description: The textfile-collector file written, and whether it changed.
  returned: when O(prometheus_file) is set and it was written
  type: dict
  sample: {"path": "/var/lib/prometheus/node-exporter/live_smtp.prom", "changed": true}
prometheus_error:
  description: Why O(prometheus_file) could not be written (the host then fails, its checks stay reported).
  returned: when writing O(prometheus_file) failed
  type: str
  sample: "could not write /var/lib/prometheus/node-exporter/live_smtp.prom: Destination directory does not exist"
"""
