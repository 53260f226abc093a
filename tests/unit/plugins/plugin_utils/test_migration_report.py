# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration playbook's reports: the check playbook's renderers with kind=migration and playbook-made rows."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _check_report, _check_rows

GENERATED = "2026-12-01T15:00:00Z"


def migration_rows():
    # Shaped like the rows playbooks/migrate.yml registers: only some keys, the others come from host_rows.
    registered = {
        "web1": {"checks": [{"host": "web1", "account": "alerts", "server": "smtp.office365.com:587", "ok": True,
                             "migration": "migrated", "reason": None, "hint": "test message sent (queue id 4F1): 250",
                             "tls_version": "TLSv1.3", "auth_mechanism": "XOAUTH2", "total_ms": 41.0}]},
        "web2": {"checks": [{"host": "web2", "account": "alerts", "server": "smtp.office365.com:587", "ok": False,
                             "migration": "rolled_back", "reason": "delivery_deferred",
                             "hint": "test message deferred (queue id 9A2): token endpoint unreachable"}]},
        "web3": {"checks": [{"host": "web3", "account": "alerts", "ok": False, "migration": "not_reached",
                             "reason": "not_reached", "hint": "the rollout stopped before this host"}]},
    }
    return _check_rows.collect(list(registered), registered)


def test_playbook_made_rows_get_every_report_key():
    rows, warnings = migration_rows()
    assert warnings == {}
    for row in rows:
        assert set(_check_rows.ROW_KEYS) <= set(row)
    assert rows[2]["server"] is None and rows[2]["timings_ms"] is None


def test_migration_reports_have_their_own_names_and_a_status_column():
    rows, warnings = migration_rows()
    files = _check_report.render_reports(rows, warnings, GENERATED, list(_check_report.REPORTS), kind="migration")
    assert sorted(files) == ["live_smtp_migrate.html", "live_smtp_migrate.json", "live_smtp_migrate.junit.xml",
                             "live_smtp_migrate.md"]
    report = json.loads(files["live_smtp_migrate.json"])
    assert report["kind"] == "migration" and report["ok"] is False
    assert [c["migration"] for c in report["checks"]] == ["migrated", "rolled_back", "not_reached"]

    markdown = files["live_smtp_migrate.md"]
    assert markdown.startswith("# Migration to the new accounts")
    assert "`ansible-playbook mailops.live_smtp.migrate`" in markdown and "1 of 3 hosts moved." in markdown
    header = [line for line in markdown.splitlines() if line.startswith("| host")][0]
    separator = markdown.splitlines()[markdown.splitlines().index(header) + 1]
    assert "| migration |" in header and header.count("|") == separator.count("|")
    assert "| rolled_back | delivery_deferred |" in markdown

    page = files["live_smtp_migrate.html"]
    assert "<h1>Migration to the new accounts</h1>" in page and "1 of 3 hosts moved" in page
    assert ">rolled_back<" in page and ">not_reached<" in page
    # A migrated host's hint (where its test message went) is shown too, not only failures'.
    assert "test message sent (queue id 4F1)" in page

    suites = ET.fromstring(files["live_smtp_migrate.junit.xml"].split("\n", 1)[1])
    assert suites.get("name") == "live_smtp_migrate" and suites.get("failures") == "2"
    failures = suites.findall(".//failure")
    assert sorted(f.get("type") for f in failures) == ["delivery_deferred", "not_reached"]


def test_check_reports_keep_their_names_and_columns():
    rows, warnings = migration_rows()
    files = _check_report.render_reports(rows, warnings, GENERATED, ["markdown", "json"])
    assert sorted(files) == ["live_smtp_check.json", "live_smtp_check.md"]
    assert "| migration |" not in files["live_smtp_check.md"]
    assert files["live_smtp_check.md"].startswith("# SMTP submission check")


def test_an_unknown_kind_is_refused():
    rows, warnings = migration_rows()
    with pytest.raises(_check_rows.ReportError, match="unknown report kind"):
        _check_report.render_reports(rows, warnings, GENERATED, ["json"], kind="rollout")


def test_the_summary_line_names_the_migration_status():
    rows, dummy = migration_rows()
    lines = _check_rows.summary(rows, {})
    assert "migration=rolled_back" in lines["web2"][0] and lines["web2"][0].startswith("FAIL")
    assert "migration=migrated" in lines["web1"][0] and lines["web1"][0].startswith("OK")
