# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailops.live_smtp.check_accounts: smtp_check for every account, a result without secrets."""

from __future__ import annotations

import base64
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.mailops.live_smtp.plugins.filter.account_defaults import complete_accounts
from ansible_collections.mailops.live_smtp.plugins.module_utils._oauth2 import OAuth2Error, certificate_expiry
from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _check_rows

MODULE = "mailops.live_smtp.smtp_check"

ARGUMENT_SPEC = dict(
    accounts=dict(type="list", elements="dict", required=True, no_log=True),
    envelope=dict(type="bool", default=False),
    send_test_message=dict(type="bool", default=False),
    rcpt_to=dict(type="list", elements="str"),
    timeout=dict(type="float"),
    validate_certs=dict(type="bool", default=True),
    min_tls_version=dict(type="str", choices=["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]),
    cert_min_days=dict(type="int"),
    nameservers=dict(type="list", elements="str"),
    ip_version=dict(type="str", choices=["any", "4", "6"]),
    ehlo_name=dict(type="str"),
    prometheus_file=dict(type="path"),
    token_state_dir=dict(type="path", default="/var/lib/mailops-live-smtp/oauth2"),
    token_store_warn_days=dict(type="int", default=_check_rows.TOKEN_STORE_WARN_DAYS),
    credential_min_days=dict(type="int", default=_check_rows.CREDENTIAL_MIN_DAYS),
)


class ActionModule(ActionBase):
    """Runs the module once per account on the managed host and returns only rows built from its results.

    The task's arguments hold the accounts' secrets; the returned result (what `register` keeps in hostvars) holds
    the account names, servers and the module's findings, never an account record.
    """

    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        # Errors from the spec name the option, never the value (accounts is no_log).
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if not args["accounts"]:
            raise AnsibleActionFail("live_smtp_accounts is empty or undefined for %s: define the accounts in group_vars "
                                    "(see docs/check_playbook.md)" % task_vars.get("inventory_hostname"))
        try:
            accounts = complete_accounts(args["accounts"], ca_file="")
        except ValueError as exc:
            # The message names the account and the problem, never a secret.
            raise AnsibleActionFail("live_smtp_accounts: %s" % exc) from None
        host = task_vars.get("inventory_hostname")
        rows, warnings = [], []
        try:
            store_ages = self._token_store_ages(accounts, args["token_state_dir"], task_vars)
            now = time.time()
            for account in accounts:
                module_result = self._execute_module(module_name=MODULE, task_vars=task_vars,
                                                     module_args=_check_rows.module_args(account, args))
                server = "%s:%s" % (account["host"], account["port"])
                row = _check_rows.account_row(host, account["name"], server, module_result)
                row.update(self._lifecycle(account, store_ages, now, warnings, task_vars))
                rows.append(row)
                for warning in list(module_result.get("warnings") or []) + _check_rows.lifecycle_warnings(
                        row, args["token_store_warn_days"], args["credential_min_days"]):
                    if warning not in warnings:
                        warnings.append(warning)
            if args["prometheus_file"]:
                # The checks stay reported when the file cannot be written; the host fails with both reasons.
                try:
                    result["prometheus_file"] = self._write_prometheus(rows, store_ages, args, task_vars)
                except AnsibleActionFail as exc:
                    result["prometheus_error"] = str(exc)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        failed = [row for row in rows if not row["ok"]]
        if failed:
            summary = "%d of %d account checks failed on %s: %s" % (len(failed), len(rows), host,
                                                                    ", ".join(row["account"] for row in failed))
        else:
            summary = "%d account checks passed on %s" % (len(rows), host)
        result.update(
            checks=rows,
            check_warnings=warnings,
            changed=any(row["changed"] for row in rows) or bool(result.get("prometheus_file", {}).get("changed")),
            failed=bool(failed) or "prometheus_error" in result,
            msg=summary,
        )
        if "prometheus_error" in result:
            result["msg"] += "; " + result["prometheus_error"]
        if warnings:
            result["warnings"] = list(warnings)
        return result

    def _token_store_ages(self, accounts, state_dir, task_vars):
        """Seconds since each OAuth2 account's token store was written (stores of the oauth2_token role), if readable.
        Only accounts that hold a refresh token: an app-only account's store has nothing that could expire unused."""
        names = [a["name"] for a in accounts
                 if a["auth"] == "oauth2" and (a.get("oauth2") or {}).get("grant") in (None, "", "refresh_token")]
        if not names:
            return {}
        found = self._execute_module(module_name="ansible.legacy.find", task_vars=task_vars, module_args=dict(
            paths=[state_dir], patterns=["%s.json" % name for name in names], recurse=True, depth=2, hidden=True))
        now, ages = time.time(), {}
        for item in found.get("files") or []:
            name = item["path"].rsplit("/", 1)[-1][:-len(".json")]
            age = max(0.0, now - float(item["mtime"]))
            # Several owners may hold a store of one account: the freshest one tells whether tokens still refresh.
            ages[name] = min(age, ages.get(name, age))
        return ages

    def _lifecycle(self, account, store_ages, now, warnings, task_vars):
        """Token store age, certificate and client secret days left of one account; a warning for what is unreadable."""
        oauth2 = account.get("oauth2") or {}
        cert_expiry = secret_expiry = None
        if account["auth"] == "oauth2" and oauth2.get("certificate"):
            try:
                cert_expiry = certificate_expiry(self._certificate_text(oauth2["certificate"], task_vars))
            except (OAuth2Error, AnsibleActionFail) as exc:
                warnings.append("account %s: cannot read the certificate credential's expiry: %s" % (account["name"], exc))
        if account["auth"] == "oauth2" and oauth2.get("client_secret_expires"):
            try:
                secret_expiry = _check_rows.parse_expiry(oauth2["client_secret_expires"])
            except _check_rows.ReportError as exc:
                warnings.append("account %s: oauth2.client_secret_expires: %s" % (account["name"], exc))
        return _check_rows.lifecycle(store_ages.get(account["name"]), cert_expiry, secret_expiry, now)

    def _certificate_text(self, certificate, task_vars):
        """PEM text of the certificate credential: given inline, or a path on the managed host (a public file)."""
        if "-----BEGIN" in str(certificate):
            return str(certificate)
        slurped = self._execute_module(module_name="ansible.legacy.slurp", task_vars=task_vars,
                                       module_args=dict(src=str(certificate)))
        if slurped.get("failed") or "content" not in slurped:
            raise AnsibleActionFail("cannot read %s on the host: %s" % (certificate, slurped.get("msg")))
        return base64.b64decode(slurped["content"]).decode("ascii", "replace")

    def _write_prometheus(self, rows, store_ages, args, task_vars):
        """Writes the textfile-collector file atomically (the copy module's rename), mode 0644."""
        text = _check_rows.prometheus_text(rows, time.time(), store_ages)
        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        source = self._connection._shell.join_path(self._connection._shell.tmpdir, "live_smtp.prom")
        self._transfer_data(source, text)
        self._fixup_perms2((self._connection._shell.tmpdir, source))
        copied = self._execute_module(module_name="ansible.legacy.copy", task_vars=task_vars, module_args=dict(
            src=source, dest=args["prometheus_file"], mode="0644", _original_basename="live_smtp.prom"))
        if copied.get("failed"):
            raise AnsibleActionFail("could not write %s: %s" % (args["prometheus_file"], copied.get("msg")))
        return {"path": args["prometheus_file"], "changed": bool(copied.get("changed"))}
