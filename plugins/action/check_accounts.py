# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailops.live_smtp.check_accounts: smtp_check for every account, a result without secrets."""

from __future__ import annotations

import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.mailops.live_smtp.plugins.filter.account_defaults import complete_accounts
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
            for account in accounts:
                module_result = self._execute_module(module_name=MODULE, task_vars=task_vars,
                                                     module_args=_check_rows.module_args(account, args))
                server = "%s:%s" % (account["host"], account["port"])
                rows.append(_check_rows.account_row(host, account["name"], server, module_result))
                for warning in module_result.get("warnings") or []:
                    if warning not in warnings:
                        warnings.append(warning)
            if args["prometheus_file"]:
                # The checks stay reported when the file cannot be written; the host fails with both reasons.
                try:
                    result["prometheus_file"] = self._write_prometheus(rows, accounts, args, task_vars)
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
        """Seconds since each OAuth2 account's token store was written (stores of the oauth2_token role), if readable."""
        names = [a["name"] for a in accounts if a["auth"] == "oauth2"]
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

    def _write_prometheus(self, rows, accounts, args, task_vars):
        """Writes the textfile-collector file atomically (the copy module's rename), mode 0644."""
        text = _check_rows.prometheus_text(rows, time.time(), self._token_store_ages(accounts, args["token_state_dir"], task_vars))
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
