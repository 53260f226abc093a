#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: check_report
short_description: Summarize the check of every play host and write the reports on the controller
version_added: 0.1.0
description:
  - The reporting task of the C(mailops.live_smtp.check) playbook. An action plugin that runs on the controller
    only. Run it once (C(run_once)), after M(mailops.live_smtp.check_accounts) registered O(result_var) on every host.
  - Prints one line per host and account, and writes the reports asked for in O(formats) into O(report_dir).
  - A host without rows still gets one, with reason V(host_unreachable) (Ansible could not connect),
    V(check_not_run) (the check task failed before any account, for example invalid accounts) or V(not_checked)
    (no result, the host left the run before the check task).
  - Reports are written also in check mode (they are the output of the check) with mode C(0640), atomically.
author:
  - mailops.live_smtp maintainers (@mailops)
extends_documentation_fragment:
  - mailops.live_smtp.attributes
  - mailops.live_smtp.attributes.action
attributes:
  check_mode:
    support: full
    details: Writes the reports in check mode too when the task sets C(check_mode=false), as the playbook does.
  diff_mode:
    support: none
options:
  result_var:
    description: The variable M(mailops.live_smtp.check_accounts) was registered as, on every play host.
    type: str
    default: __live_smtp_check_result
  kind:
    description:
      - V(check) for the check playbook's reports (C(live_smtp_check.*)).
      - V(migration) for the migration playbook's (C(live_smtp_migrate.*)), one row per host with a C(migration)
        status column (V(migrated), V(kept), V(rolled_back), V(rollback_failed), V(not_reached)).
    type: str
    default: check
    choices: [check, migration]
  report_dir:
    description: Directory on the controller for the reports (created, mode C(0750)). No report when unset.
    type: path
  formats:
    description:
      - The reports to write, C(live_smtp_check.json), C(live_smtp_check.md), C(live_smtp_check.junit.xml) (one
        test suite per host, one test case per account; a failed check is a C(failure), a check that could not run
        an C(error), with the reason and the hint as its message) and C(live_smtp_check.html) (a self-contained
        page with the table and a latency chart per host).
    type: list
    elements: str
    choices: [json, markdown, junit, html]
    default: [json, markdown, junit, html]
seealso:
  - module: mailops.live_smtp.check_accounts
"""

EXAMPLES = r"""
- name: Print the summary of every host and write the reports
  mailops.live_smtp.check_report:
    report_dir: ./smtp-report
    formats: [junit, html]
  run_once: true
  check_mode: false
"""

RETURN = r"""
msg:
  description: Summary lines per host (OK/FAIL per account, then the module's warnings as WARN lines).
  returned: always
  type: dict
  sample: {"web1": ["OK   alerts smtp.office365.com:587 tls=TLSv1.3 auth=LOGIN total_ms=287.3"]}
totals:
  description: Counts of checks and hosts.
  returned: always
  type: dict
  sample: {"checks": 9, "passed": 4, "failed": 5, "hosts": 3, "failed_hosts": 3}
reports:
  description: The report files written.
  returned: always
  type: list
  elements: str
  sample: ["smtp-report/live_smtp_check.json", "smtp-report/live_smtp_check.junit.xml"]
"""
