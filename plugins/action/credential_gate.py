# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailops.live_smtp.credential_gate: new login settings are checked from the host before a role
writes them (step verify), and remembered once they are live (step record)."""

from __future__ import annotations

import base64
import binascii
import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.mailops.live_smtp.plugins.filter.account_defaults import complete_accounts
from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _check_rows
from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _credential_gate as gate

MODULE = "mailops.live_smtp.smtp_check"

ARGUMENT_SPEC = dict(
    step=dict(type="str", required=True, choices=["verify", "record"]),
    accounts=dict(type="list", elements="dict", default=[], no_log=True),
    relays=dict(type="list", elements="dict", default=[]),
    state_file=dict(type="path", required=True),
    switch=dict(type="str", default="the role's verify_credentials variable"),
    timeout=dict(type="float", default=30.0),
)


class ActionModule(ActionBase):
    """The result holds entry names, reason words, hints and server replies: never an account record."""

    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            accounts = {gate.account_entry(a)[0]: a for a in complete_accounts(args["accounts"], ca_file="")}
            entries = [gate.account_entry(a) for a in accounts.values()]
            entries += [gate.relay_entry(relay) for relay in args["relays"]]
        except ValueError as exc:
            raise AnsibleActionFail("credential_gate: %s" % exc) from None
        try:
            state = gate.parse_state(self._read_state(args["state_file"], task_vars))
            if args["step"] == "verify":
                result.update(self._verify(state, entries, accounts, args, task_vars))
            else:
                result.update(self._record(state, entries, args, task_vars))
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def _verify(self, state, entries, accounts, args, task_vars):
        new = gate.new_entries(state, entries)
        unchanged = [key for key, dummy in entries if key not in new]
        if not new:
            return dict(changed=False, verified=[], unchanged=unchanged, failures=[], checks=[],
                        msg="no new login settings: nothing to check")
        if self._task.check_mode:
            # Nothing is probed in check mode (the real run checks before it writes) and a probe changes nothing.
            return dict(changed=False, would_verify=new, verified=[], unchanged=unchanged, failures=[], checks=[],
                        msg="would check from this host before writing: %s" % ", ".join(map(gate.display_name, new)))
        settings = dict(entries)
        rows, failures = [], []
        for key in new:
            if key in accounts:
                module_args = _check_rows.module_args(accounts[key], {"timeout": args["timeout"]})
                server = "%s:%s" % (accounts[key]["host"], accounts[key]["port"])
            else:
                # An application's local relay: it must answer SMTP; it needs no credential and no TLS on loopback.
                module_args = dict(host=settings[key]["host"], port=settings[key]["port"], security="none",
                                   auth="none", timeout=args["timeout"])
                server = "%s:%s" % (settings[key]["host"], settings[key]["port"])
            module_result = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
            row = _check_rows.account_row(task_vars.get("inventory_hostname"), key.partition(":")[2], server,
                                          module_result)
            rows.append(row)
            if not row["ok"]:
                failures.append((key, row))
        failed = [dict(entry=key, **{k: row[k] for k in ("reason", "failed_stage", "hint", "reply")})
                  for key, row in failures]
        result = dict(changed=False, verified=[k for k in new if k not in dict(failures)], unchanged=unchanged,
                      checks=rows, failures=failed)
        if failures:
            result.update(failed=True, msg=gate.failure_message(failures, args["switch"]))
        else:
            result["msg"] = "checked from this host: %s" % ", ".join(map(gate.display_name, new))
        return result

    def _record(self, state, entries, args, task_vars):
        key = state["key"] or binascii.hexlify(os.urandom(32)).decode("ascii")
        text = gate.state_text(key, entries)
        if state["key"] and not gate.new_entries(state, entries) \
                and set(state["fingerprints"]) == {k for k, dummy in entries}:
            return dict(changed=False, msg="the live login settings were already recorded")
        if self._task.check_mode:
            return dict(changed=True, msg="would record the live login settings in %s" % args["state_file"])
        self._write_state(args["state_file"], text, task_vars)
        return dict(changed=True, msg="recorded the live login settings in %s" % args["state_file"])

    def _read_state(self, path, task_vars):
        found = self._execute_module(module_name="ansible.legacy.stat", task_vars=task_vars,
                                     module_args=dict(path=path, get_checksum=False))
        if not found.get("stat", {}).get("exists"):
            return ""
        slurped = self._execute_module(module_name="ansible.legacy.slurp", task_vars=task_vars,
                                       module_args=dict(src=path))
        if slurped.get("failed") or "content" not in slurped:
            raise AnsibleActionFail("cannot read %s: %s" % (path, slurped.get("msg")))
        return base64.b64decode(slurped["content"]).decode("utf-8", "replace")

    def _write_state(self, path, text, task_vars):
        """Root-only directory and file (the key is in it), written atomically by the copy module."""
        made = self._execute_module(module_name="ansible.legacy.file", task_vars=task_vars, module_args=dict(
            path=os.path.dirname(path), state="directory", mode="0700"))
        if made.get("failed"):
            raise AnsibleActionFail("cannot create %s: %s" % (os.path.dirname(path), made.get("msg")))
        if self._connection._shell.tmpdir is None:
            self._make_tmp_path()
        source = self._connection._shell.join_path(self._connection._shell.tmpdir, "credential_gate.json")
        self._transfer_data(source, text)
        self._fixup_perms2((self._connection._shell.tmpdir, source))
        copied = self._execute_module(module_name="ansible.legacy.copy", task_vars=task_vars, module_args=dict(
            src=source, dest=path, mode="0600", _original_basename="credential_gate.json"))
        if copied.get("failed"):
            raise AnsibleActionFail("could not write %s: %s" % (path, copied.get("msg")))
