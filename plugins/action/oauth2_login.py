# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Action of mailops.live_smtp.oauth2_login: sign in on the controller (device code, or authorization code with PKCE
and a loopback redirect) and write the refresh token, ansible-vault encrypted, into one variable of a vars file."""

from __future__ import annotations

import os
import time
import webbrowser

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.parsing.vault import VaultLib, match_encrypt_secret
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2
from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _vault_vars

display = Display()

ARGUMENT_SPEC = {
    "client_id": {"type": "str", "required": True},
    "tenant": {"type": "str", "default": "consumers"},
    "scope": {"type": "str", "default": _oauth2.DEFAULT_SCOPE},
    "token_url": {"type": "str"},
    "client_secret": {"type": "str", "no_log": True},
    "ca_path": {"type": "path"},
    "validate_certs": {"type": "bool", "default": True},
    "flow": {"type": "str", "default": "device_code", "choices": ["device_code", "auth_code"]},
    "vars_file": {"type": "path", "required": True},
    "variable": {"type": "str", "required": True},
    "vault_id": {"type": "str"},
    "port": {"type": "int", "default": 0},
    "open_browser": {"type": "bool", "default": True},
    "login_hint": {"type": "str"},
    "timeout": {"type": "float", "default": 900},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        path = args["vars_file"]
        result.update(vars_file=path, variable=args["variable"], flow=args["flow"], changed=False)

        # Everything that can fail without the user is checked before anyone signs in.
        vault, secret_id, secret = self._vault_secret(args["vault_id"])
        text = self._read_vars_file(path)
        try:
            _vault_vars.replace_variable(text, args["variable"], _vault_vars.vaulted_block(args["variable"], "x"),
                                         path)
        except _vault_vars.VarsFileError as exc:
            raise AnsibleActionFail("%s; nothing was written" % exc)
        if self._task.check_mode:
            result.update(changed=True, msg="would sign in (%s) and write %s to %s" % (
                args["flow"], args["variable"], path))
            return result

        try:
            token = self._sign_in(args)
        except _oauth2.OAuth2Error as exc:
            raise AnsibleActionFail("sign-in failed (%s): %s. %s %s was not changed." % (
                exc.reason, exc.description, exc.hint, path), result={"reason": exc.reason, "hint": exc.hint})
        refresh_token = token.get("refresh_token")
        if not refresh_token:
            raise AnsibleActionFail("the token endpoint issued no refresh token: the scope needs offline_access; %s "
                                    "was not changed" % path, result={"reason": "bad_response"})

        ciphertext = to_text(vault.encrypt(refresh_token, secret, vault_id=secret_id))
        new_text = _vault_vars.replace_variable(self._read_vars_file(path), args["variable"],
                                                _vault_vars.vaulted_block(args["variable"], ciphertext), path)
        # What is about to be written decrypts to exactly the token that was issued.
        written = _vault_vars.extract_ciphertext(new_text, args["variable"])
        if written is None or to_text(vault.decrypt(written)) != refresh_token:
            raise AnsibleActionFail("the vaulted value does not read back; %s was not changed" % path)
        _vault_vars.write_atomic(path, new_text, 0o600)
        result.update(changed=True, scope=token.get("scope"), vault_id=secret_id,
                      msg="%s in %s now holds the vaulted refresh token" % (args["variable"], path))
        return result

    def _vault_secret(self, vault_id):
        secrets = self._loader._vault.secrets or []  # pylint: disable=protected-access
        if not secrets:
            raise AnsibleActionFail("no vault secret: run ansible-playbook with --vault-id or --vault-password-file "
                                    "(or --ask-vault-pass) so the refresh token can be encrypted; nothing was done")
        try:
            secret_id, secret = match_encrypt_secret(secrets, encrypt_vault_id=vault_id)
        except Exception as exc:  # AnsibleVaultError and friends: the message names the vault id, not a secret
            raise AnsibleActionFail("cannot choose a vault secret for encryption: %s" % to_text(exc))
        return VaultLib(secrets), (secret_id if secret_id != "default" else None), secret

    @staticmethod
    def _read_vars_file(path):
        try:
            with open(to_bytes(path), "rb") as handle:
                data = handle.read()
        except FileNotFoundError:
            if not os.path.isdir(os.path.dirname(os.path.abspath(path))):
                raise AnsibleActionFail("the directory of %s does not exist" % path)
            return ""
        except OSError as exc:
            raise AnsibleActionFail("cannot read %s: %s" % (path, exc.strerror))
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise AnsibleActionFail("%s is not UTF-8 text; nothing was written" % path)

    def _sign_in(self, args):
        common = dict(tenant=args["tenant"], token_url=args["token_url"], ca_file=args["ca_path"],
                      validate_certs=args["validate_certs"])
        if args["flow"] == "device_code":
            start = _oauth2.device_code_start(args["client_id"], scope=args["scope"], **common)
            # Only what the user needs: the page, the code, Microsoft's sentence. Never the device code.
            display.display("\n%s\n  URL:  %s\n  code: %s\n" % (start["message"], start["verification_uri"],
                                                                start["user_code"]), screen_only=True)
            start["expires_at"] = min(start["expires_at"], time.time() + args["timeout"])

            def sleep(seconds):
                display.vvv("oauth2_login: waiting %g s for the sign-in" % seconds)
                time.sleep(seconds)
            return _oauth2.device_code_wait(args["client_id"], start, client_secret=args["client_secret"],
                                            sleep=sleep, **common)

        def open_url(url):
            display.display("\nOpen this URL in a browser on this machine and sign in as the mailbox that will send:"
                            "\n  %s\n" % url, screen_only=True)
            if args["open_browser"] and (os.environ.get("BROWSER") or os.environ.get("DISPLAY")
                                         or os.environ.get("WAYLAND_DISPLAY")):
                try:
                    webbrowser.open(url)
                except webbrowser.Error:
                    pass  # the printed URL is enough
        return _oauth2.authorization_code_login(args["client_id"], open_url, scope=args["scope"], port=args["port"],
                                                login_hint=args["login_hint"], client_secret=args["client_secret"],
                                                wait=args["timeout"], **common)
