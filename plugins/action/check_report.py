# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin of mailops.live_smtp.check_report: the play's summary and report files, on the controller."""

from __future__ import annotations

import datetime
import os
import tempfile

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _check_report, _check_rows

ARGUMENT_SPEC = dict(
    result_var=dict(type="str", default="__live_smtp_check_result"),
    kind=dict(type="str", default="check", choices=list(_check_report.KINDS)),
    report_dir=dict(type="path"),
    formats=dict(type="list", elements="str", default=list(_check_report.REPORTS),
                 choices=list(_check_report.REPORTS)),
)


def write_atomically(path, text, mode=0o640):
    """Temp file in the same directory, then rename: a reader never sees half a report."""
    directory = os.path.dirname(path)
    fd, temp = tempfile.mkstemp(prefix=".live_smtp_check.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


class ActionModule(ActionBase):
    """Reads every play host's registered check result from hostvars; runs on the controller only (run_once)."""

    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        hosts = task_vars.get("ansible_play_hosts_all") or []
        hostvars = task_vars["hostvars"]
        registered = {}
        for host in hosts:
            value = hostvars[host].get(args["result_var"])
            registered[host] = dict(value) if value is not None else None
        rows, warnings = _check_rows.collect(hosts, registered)
        generated = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        written = []
        if args["report_dir"]:
            try:
                files = _check_report.render_reports(rows, warnings, generated, args["formats"], args["kind"])
                os.makedirs(args["report_dir"], mode=0o750, exist_ok=True)
                for name, text in files.items():
                    path = os.path.join(args["report_dir"], name)
                    write_atomically(path, text)
                    written.append(path)
            except (OSError, _check_rows.ReportError) as exc:
                raise AnsibleActionFail("could not write the reports in %s: %s" % (args["report_dir"], exc)) from None
        n = _check_rows.counts(rows)
        result.update(
            changed=False,  # the reports are the check's output, not a change to any host
            msg=_check_rows.summary(rows, warnings),
            totals=n,
            reports=written,
            # Printed like debug's message, without -v.
            _ansible_verbose_always=True,
        )
        return result
