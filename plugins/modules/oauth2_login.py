#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: oauth2_login
short_description: Sign in once to Microsoft and store the refresh token, vaulted, in a vars file
version_added: 0.2.0
description:
  - Runs on the controller (an action plugin; the task's host does not matter). Signs in a delegated mailbox with
    Microsoft's device authorization grant (O(flow=device_code)) or with the authorization code grant with PKCE and a
    loopback redirect to C(http://localhost:<port>) (O(flow=auth_code), for tenants whose Conditional Access blocks
    device code).
  - Prints only what the user needs to sign in, the verification URL and the user code (device code), or the sign-in
    URL (authorization code). Waits through C(authorization_pending), polls 5 s slower after C(slow_down), and stops
    with a reason and a hint at C(expired_token), C(authorization_declined) or C(access_denied).
  - Encrypts the refresh token with the vault secret given to C(ansible-playbook) (C(--vault-id),
    C(--vault-password-file) or C(--ask-vault-pass)) and writes it as an inline C(!vault) value of O(variable) into
    O(vars_file). Only that variable changes; every other line, comment and the order stay. The file is written
    atomically with mode C(0600). A failed or cancelled sign-in leaves the file byte-identical.
  - The refresh token, the device code and the authorization code are never shown or returned, also not at C(-vvvv).
  - The playbook C(mailops.live_smtp.oauth2_login) wraps this module; C(docs/oauth2.md) is the guide.
author:
  - mailops.live_smtp maintainers (@mailops)
extends_documentation_fragment:
  - mailops.live_smtp.attributes
attributes:
  check_mode:
    support: full
    details: Checks the vault secret and the vars file, then reports what it would do without signing in.
  diff_mode:
    support: none
    details: The only change is a secret.
options:
  client_id:
    description: Application (client) id of the app registration (a public client with "Allow public client flows").
    type: str
    required: true
  tenant:
    description: V(consumers) for personal Outlook.com accounts, V(organizations), a tenant id or a verified domain.
    type: str
    default: consumers
  scope:
    description: Delegated scopes; C(offline_access) is what makes Microsoft issue a refresh token.
    type: str
    default: https://outlook.office.com/SMTP.Send offline_access
  token_url:
    description:
      - Token endpoint. The device code and authorize endpoints are its siblings (C(.../devicecode),
        C(.../authorize)). Default from O(tenant) at C(login.microsoftonline.com).
    type: str
  client_secret:
    description: Only for a confidential app registration; public clients need none.
    type: str
  ca_path:
    description: CA file or directory that verifies the token endpoint (default the system's trust store).
    type: path
  validate_certs:
    description: Verify the token endpoint's certificate. Turn off only for tests.
    type: bool
    default: true
  flow:
    description: Device code (default), or authorization code with PKCE and a loopback redirect.
    type: str
    choices: [device_code, auth_code]
    default: device_code
  vars_file:
    description: The YAML vars file to write, for example C(group_vars/all/vault.yml). Created (mode 0600) if missing.
    type: path
    required: true
  variable:
    description: The top-level variable that receives the vaulted refresh token, for example C(vault_outlook_refresh_token).
    type: str
    required: true
  vault_id:
    description: The vault id label to encrypt with when several are loaded (C(--encrypt-vault-id) semantics).
    type: str
  port:
    description: Loopback port of the redirect listener for O(flow=auth_code); V(0) picks a free one.
    type: int
    default: 0
  open_browser:
    description: For O(flow=auth_code), start a browser (C($BROWSER), or the desktop's) on the sign-in URL.
    type: bool
    default: true
  login_hint:
    description: For O(flow=auth_code), the mailbox address to pre-fill on the sign-in page.
    type: str
  timeout:
    description: Give up after this many seconds without a finished sign-in.
    type: float
    default: 900
notes:
  - Sign in as the mailbox that will send; the XOAUTH2 user must be the token's account.
seealso:
  - module: mailops.live_smtp.smtp_check
"""

EXAMPLES = r"""
- name: Sign in alerts@outlook.com and vault its refresh token
  mailops.live_smtp.oauth2_login:
    client_id: 00000000-0000-0000-0000-000000000000
    tenant: consumers
    vars_file: group_vars/all/vault.yml
    variable: vault_outlook_refresh_token

- name: Where device code is blocked, use PKCE with a loopback redirect
  mailops.live_smtp.oauth2_login:
    client_id: 00000000-0000-0000-0000-000000000000
    tenant: contoso.onmicrosoft.com
    flow: auth_code
    login_hint: alerts@contoso.com
    vars_file: group_vars/mailhosts/vault.yml
    variable: vault_alerts_refresh_token
"""

RETURN = r"""
vars_file:
  description: The file written (or that would be written).
  returned: always
  type: str
  sample: group_vars/all/vault.yml
variable:
  description: The variable that holds the vaulted refresh token.
  returned: always
  type: str
  sample: vault_outlook_refresh_token
flow:
  description: The grant used.
  returned: always
  type: str
  sample: device_code
scope:
  description: The scopes Microsoft granted.
  returned: success
  type: str
  sample: https://outlook.office.com/SMTP.Send
vault_id:
  description: The vault id label used to encrypt (null for the default one).
  returned: success
  type: str
  sample: prod
reason:
  description: Why the sign-in failed, a stable word (for example V(expired_token), V(authorization_declined)).
  returned: failure of the sign-in
  type: str
  sample: expired_token
hint:
  description: What to do about RV(reason).
  returned: failure of the sign-in
  type: str
  sample: The device code expired before sign-in finished (15 minutes) ...
"""
