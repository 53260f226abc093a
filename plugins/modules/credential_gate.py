#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: credential_gate
short_description: Check new login settings from the host before a role writes them
version_added: 0.2.0
description:
  - The verified switch of the P(mailops.live_smtp.postfix_relay#role), P(mailops.live_smtp.msmtp#role) and
    P(mailops.live_smtp.app_smtp#role) roles. An action plugin.
  - O(step=verify) runs before a role writes anything. It finds the accounts whose login settings (host, port,
    security, CA file, username, authentication method, password or OAuth2 credential) differ from the ones the role
    last put live on this host, and runs M(mailops.live_smtp.smtp_check) from the host for each of them, with the new
    settings. It fails the host when any of them does not log in, with each account's reason word, hint and server
    reply; the role then stops before it writes, so the live configuration stays. Accounts whose settings did not
    change are not probed.
  - O(step=record) runs after the role put the settings live. It remembers them, as keyed fingerprints
    (HMAC-SHA256 with a random key of this host), in O(state_file), mode C(0600) in a C(0700) directory.
  - The result holds entry names, reason words, hints and server replies, never a secret. Still set C(no_log) on the
    task, since its arguments carry the secrets, and report a failure from the registered result.
author:
  - mailops.live_smtp maintainers (@mailops)
extends_documentation_fragment:
  - mailops.live_smtp.attributes
  - mailops.live_smtp.attributes.action
attributes:
  check_mode:
    support: full
    details: Nothing is probed and nothing is written; O(step=verify) reports which accounts a real run would check.
  diff_mode:
    support: none
options:
  step:
    description: V(verify) checks the new settings before a role writes them, V(record) remembers them once live.
    type: str
    required: true
    choices: [verify, record]
  accounts:
    description: The accounts the role writes, in the shared vocabulary (C(live_smtp_accounts)).
    type: list
    elements: dict
    default: []
  relays:
    description:
      - Local relays (C(host), C(port)) applications are pointed at. A new one must answer SMTP (no TLS, no login).
    type: list
    elements: dict
    default: []
  state_file:
    description: Where this role remembers the login settings it put live on the host.
    type: path
    required: true
  switch:
    description: The role variable that turns the check off, named in the failure message.
    type: str
    default: the role's verify_credentials variable
  timeout:
    description: M(mailops.live_smtp.smtp_check)'s O(mailops.live_smtp.smtp_check#module:timeout) for each check.
    type: float
    default: 30.0
seealso:
  - module: mailops.live_smtp.smtp_check
"""

EXAMPLES = r"""
- name: Check the new login settings from this host before anything is written
  mailops.live_smtp.credential_gate:
    step: verify
    accounts: "{{ live_smtp_account_list }}"
    state_file: /var/lib/mailops-live-smtp/verified/my_role.json
    switch: my_role_verify_credentials
  register: gate
  failed_when: false
  no_log: true

- name: Stop before anything is written when a new login failed
  ansible.builtin.fail:
    msg: "{{ gate.msg }}"
  when: gate.failures | default([]) | length > 0

# ... write and activate the configuration ...

- name: Remember the login settings that are live now
  mailops.live_smtp.credential_gate:
    step: record
    accounts: "{{ live_smtp_account_list }}"
    state_file: /var/lib/mailops-live-smtp/verified/my_role.json
  no_log: true
"""

RETURN = r"""
verified:
  description: Entries (C(account:NAME), C(relay:HOST:PORT)) that were new and logged in from the host.
  returned: O(step=verify)
  type: list
  elements: str
  sample: ["account:m365"]
unchanged:
  description: Entries whose settings were already live; they were not probed.
  returned: O(step=verify)
  type: list
  elements: str
  sample: ["account:alerts"]
would_verify:
  description: Entries a real run would check.
  returned: O(step=verify) in check mode
  type: list
  elements: str
  sample: ["account:m365"]
failures:
  description: The entries that did not log in, each with its reason word, stage, hint and the server's reply.
  returned: O(step=verify)
  type: list
  elements: dict
  sample:
    - entry: "account:m365"
      reason: client_secret_invalid
      failed_stage: auth
      hint: "The client secret is wrong (AADSTS7000215) ..."
      reply: null
checks:
  description: One row per probed entry, as in the check playbook's reports (no secret).
  returned: O(step=verify)
  type: list
  elements: dict
  sample:
    - host: mail1
      account: m365
      server: "smtp.office365.com:587"
      ok: true
      reason: null
      failed_stage: null
      hint: null
      reply: null
      tls_version: TLSv1.3
      tls_days_left: 211
      auth_mechanism: XOAUTH2
      total_ms: 812
      timings_ms: {dns: 4, connect: 21, banner: 40, ehlo: 22, starttls: 20, tls: 60, ehlo_tls: 21, auth: 610, total: 812}
      changed: false
      token_store_age_days: null
      certificate_days_left: null
      client_secret_days_left: null
"""
