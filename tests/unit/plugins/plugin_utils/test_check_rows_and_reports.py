# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rows and reports of the check playbook: built from module results, never holding a secret."""

from __future__ import annotations

import json
import os
import stat
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest
from junitparser import Error, Failure, JUnitXml
from prometheus_client.parser import text_string_to_metric_families

from ansible_collections.mailops.live_smtp.plugins.action.check_report import write_atomically
from ansible_collections.mailops.live_smtp.plugins.filter.account_defaults import complete_account
from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _check_report as rp
from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _check_rows as cr

PASSWORD = "pw-Zq8secret"
REFRESH = "M.C5-refresh-secret"
CLIENT_SECRET = "cs-secret"
GENERATED = "2026-12-01T12:00:00Z"

OK_RESULT = {
    "changed": False, "ok": True, "failed_stage": None, "reason": None, "hint": None, "reply": None,
    "auth_mechanism": "LOGIN", "tls": {"version": "TLSv1.3", "days_left": 214},
    "timings_ms": {"dns": 3.1, "connect": 21.4, "banner": 95.2, "ehlo": 21.0, "starttls": 20.8, "tls": 44.0,
                   "ehlo_tls": 21.2, "auth": 60.1, "total": 287.3},
    # What the module also returns: the masked invocation. A row must never copy it.
    "invocation": {"module_args": {"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER", "username": "a@example.com"}},
}
REFUSED_RESULT = {
    "changed": False, "ok": False, "failed": True, "failed_stage": "auth", "reason": "basic_auth_disabled",
    "hint": "Microsoft no longer accepts passwords: switch the account to OAuth2.",
    "reply": {"code": 535, "enhanced": "5.7.139", "text": "Authentication unsuccessful"},
    "auth_mechanism": None, "tls": {"version": "TLSv1.3", "days_left": 214},
    "timings_ms": {"dns": 1.0, "connect": 2.0, "banner": 3.0, "ehlo": 1.0, "starttls": 1.0, "tls": 5.0, "ehlo_tls": 1.0,
                   "total": 38.0},
    "msg": "basic_auth_disabled",
}
NO_PYTHON_RESULT = {"failed": True, "msg": "The module interpreter '/nonexistent/bin/python3' was not found.",
                    "module_stderr": "/bin/sh: 1: /nonexistent/bin/python3: not found", "rc": 127}


def password_account(**extra):
    account = {"name": "tenant", "host": "smtp.office365.com", "username": "a@example.com", "password": PASSWORD}
    account.update(extra)
    return complete_account(account, "")


def oauth_account():
    return complete_account({"name": "personal", "username": "me@outlook.com",
                             "oauth2": {"client_id": "cid", "refresh_token": REFRESH, "client_secret": CLIENT_SECRET}}, "")


def mixed_rows():
    rows = [cr.account_row("web1", "tenant", "smtp.office365.com:587", OK_RESULT),
            cr.account_row("web1", "personal", "smtp-mail.outlook.com:587", REFUSED_RESULT),
            cr.account_row("web2", "tenant", "smtp.office365.com:587", NO_PYTHON_RESULT)]
    rows += cr.host_rows("web3", {"unreachable": True, "msg": "Task failed: Failed to connect to the host via ssh"})
    rows += cr.host_rows("web4", {"failed": True, "msg": "live_smtp_accounts: account name 'Bad' must match"})
    rows += cr.host_rows("web5", None)
    return rows


# --- module arguments -----------------------------------------------------------------------------------------

def test_password_account_becomes_auto_auth_with_password():
    args = cr.module_args(password_account(), {})
    assert args == {"host": "smtp.office365.com", "port": 587, "security": "starttls", "username": "a@example.com",
                    "auth": "auto", "password": PASSWORD, "send_test_message": False, "validate_certs": True}


def test_oauth2_account_becomes_xoauth2_without_empty_keys():
    args = cr.module_args(oauth_account(), {})
    assert args["auth"] == "xoauth2" and "password" not in args
    assert args["oauth2"]["refresh_token"] == REFRESH and args["oauth2"]["client_secret"] == CLIENT_SECRET
    assert None not in args["oauth2"].values()
    assert args["oauth2"]["token_url"].endswith("/consumers/oauth2/v2.0/token")


@pytest.mark.parametrize("options, mail_from, rcpt_to", [
    ({"envelope": True}, "a@example.com", ["a@example.com"]),
    ({"send_test_message": True, "rcpt_to": ["ops@example.com"]}, "a@example.com", ["ops@example.com"]),
    ({"rcpt_to": ["ops@example.com"]}, None, None),   # no envelope asked for: no envelope options
])
def test_envelope_options(options, mail_from, rcpt_to):
    args = cr.module_args(password_account(), options)
    assert args.get("mail_from") == mail_from and args.get("rcpt_to") == rcpt_to


def test_play_options_pass_through_and_unset_ones_stay_the_modules_defaults():
    args = cr.module_args(password_account(ca_file="/etc/ca.pem"), {
        "timeout": 5.0, "validate_certs": False, "min_tls_version": "TLSv1.3", "cert_min_days": 30,
        "nameservers": ["127.0.0.1:5353"], "ip_version": "4", "ehlo_name": None})
    assert args["ca_path"] == "/etc/ca.pem" and args["timeout"] == 5.0 and args["validate_certs"] is False
    assert args["min_tls_version"] == "TLSv1.3" and args["cert_min_days"] == 30 and args["ip_version"] == "4"
    assert args["nameservers"] == ["127.0.0.1:5353"] and "ehlo_name" not in args


# --- rows -----------------------------------------------------------------------------------------------------

def test_row_of_a_passed_check():
    row = cr.account_row("web1", "tenant", "smtp.office365.com:587", OK_RESULT)
    assert tuple(row) == cr.ROW_KEYS
    assert row["ok"] and row["reason"] is None and row["hint"] is None
    assert (row["tls_version"], row["tls_days_left"], row["auth_mechanism"], row["total_ms"]) == ("TLSv1.3", 214, "LOGIN", 287.3)
    assert row["timings_ms"] == OK_RESULT["timings_ms"] and row["timings_ms"] is not OK_RESULT["timings_ms"]


def test_row_of_a_refused_login():
    row = cr.account_row("web1", "personal", "smtp-mail.outlook.com:587", REFUSED_RESULT)
    assert not row["ok"] and row["reason"] == "basic_auth_disabled" and row["failed_stage"] == "auth"
    assert row["reply"]["code"] == 535 and "OAuth2" in row["hint"]


def test_row_of_a_module_that_could_not_run():
    row = cr.account_row("web2", "tenant", "smtp.office365.com:587", NO_PYTHON_RESULT)
    assert not row["ok"] and row["reason"] == "module_error" and "interpreter" in row["hint"]


def test_a_failed_result_without_ok_is_never_a_pass():
    row = cr.account_row("web1", "tenant", "x:587", {"ok": True, "failed": True, "reason": None, "msg": "boom"})
    assert not row["ok"] and row["reason"] == "module_error"


def test_rows_never_hold_a_secret_even_when_the_result_carries_one():
    # A result that (wrongly) carried the arguments: the row takes only its own keys.
    result = dict(OK_RESULT, invocation={"module_args": {"password": PASSWORD, "oauth2": {"refresh_token": REFRESH}}},
                  account=oauth_account())
    row = cr.account_row("web1", "tenant", "smtp.office365.com:587", result)
    text = json.dumps(row)
    assert PASSWORD not in text and REFRESH not in text and CLIENT_SECRET not in text


@pytest.mark.parametrize("registered, reason, hint", [
    (None, "not_checked", "did not run on this host"),
    ({"unreachable": True, "msg": "Task failed: Failed to connect to the host via ssh: refused"}, "host_unreachable",
     "Ansible could not reach the host: Failed to connect to the host via ssh: refused"),
    ({"failed": True, "msg": "live_smtp_accounts: account name 'X' must match"}, "check_not_run",
     "before any account was checked: live_smtp_accounts: account name 'X' must match"),
])
def test_a_host_without_checks_gets_one_row_that_says_why(registered, reason, hint):
    (row,) = cr.host_rows("web9", registered)
    assert row["host"] == "web9" and row["account"] is None and not row["ok"]
    assert row["reason"] == reason and hint in row["hint"]


def test_collect_keeps_inventory_order_and_warnings_per_host():
    checks = [cr.account_row("b", "tenant", "x:587", OK_RESULT)]
    rows, warnings = cr.collect(["b", "a"], {"b": {"checks": checks, "check_warnings": ["legacy name"]}, "a": None})
    assert [(r["host"], r["reason"]) for r in rows] == [("b", None), ("a", "not_checked")]
    assert warnings == {"b": ["legacy name"]}


# --- summary lines (the same words as before the rows moved to Python) ------------------------------------------

def test_summary_lines():
    lines = cr.summary(mixed_rows(), {"web1": ["smtp.live.com is a legacy name"]})
    assert lines["web1"] == [
        "OK   tenant smtp.office365.com:587 tls=TLSv1.3 auth=LOGIN total_ms=287.3",
        "FAIL personal smtp-mail.outlook.com:587 reason=basic_auth_disabled stage=auth reply=535 5.7.139 tls=TLSv1.3 "
        "auth=- total_ms=38.0 hint: Microsoft no longer accepts passwords: switch the account to OAuth2.",
        "WARN smtp.live.com is a legacy name",
    ]
    assert lines["web3"] == ["FAIL - - reason=host_unreachable tls=- auth=- total_ms=- hint: Ansible could not reach "
                             "the host: Failed to connect to the host via ssh"]


def test_counts():
    assert cr.counts(mixed_rows()) == {"checks": 6, "passed": 1, "failed": 5, "hosts": 5, "failed_hosts": 5}


# --- reports --------------------------------------------------------------------------------------------------

def test_json_report():
    report = json.loads(rp.json_report(mixed_rows(), {"web1": ["w"]}, GENERATED))
    assert report["generated"] == GENERATED and report["ok"] is False and report["warnings"] == {"web1": ["w"]}
    assert [tuple(c) for c in report["checks"]] == [cr.ROW_KEYS] * 6
    assert json.loads(rp.json_report(mixed_rows()[:1], {}, GENERATED))["ok"] is True


def test_markdown_report_escapes_table_cells():
    rows = [cr.account_row("web1", "tenant", "x:587", dict(REFUSED_RESULT, reason="a|b", hint="line1\nline2 | x"))]
    text = rp.markdown_report(rows, {"web1": ["careful"]}, GENERATED)
    assert "0 of 1 checks passed." in text
    assert "| web1 | tenant | x:587 | **failed** | a\\|b | auth | 535 5.7.139 | TLSv1.3 | - | 38.0 |" in text
    assert "- web1 / tenant: `a|b` — line1 line2 | x" in text and "## Warnings\n\n- web1: careful" in text


def test_junit_report_parses_and_says_reason_and_hint(tmp_path):
    path = tmp_path / "junit.xml"
    path.write_text(rp.junit_report(mixed_rows(), {"web1": ["legacy"]}, GENERATED))
    xml = JUnitXml.fromfile(str(path))
    assert (xml.tests, xml.failures, xml.errors) == (6, 1, 4)
    cases = {(suite.name, case.name): case for suite in xml for case in suite}
    assert set(cases) == {("web1", "tenant (smtp.office365.com:587)"), ("web1", "personal (smtp-mail.outlook.com:587)"),
                          ("web2", "tenant (smtp.office365.com:587)"), ("web3", "host"), ("web4", "host"), ("web5", "host")}
    assert cases["web1", "tenant (smtp.office365.com:587)"].is_passed
    assert cases["web1", "tenant (smtp.office365.com:587)"].time == pytest.approx(0.287)
    (failure,) = cases["web1", "personal (smtp-mail.outlook.com:587)"].result
    assert isinstance(failure, Failure) and failure.type == "basic_auth_disabled"
    assert failure.message == "basic_auth_disabled: Microsoft no longer accepts passwords: switch the account to OAuth2."
    for key in (("web2", "tenant (smtp.office365.com:587)"), ("web3", "host"), ("web4", "host"), ("web5", "host")):
        (error,) = cases[key].result
        assert isinstance(error, Error), key
    assert cases["web3", "host"].result[0].message.startswith("host_unreachable: Ansible could not reach the host")
    root = ET.parse(str(path)).getroot()
    assert root.tag == "testsuites" and root.find("testsuite").find("system-err").text == "WARN legacy"
    assert [s.get("tests") for s in root] == ["2", "1", "1", "1", "1"]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.links, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.links += [value for name, value in attrs if name in ("src", "href")]

    def handle_data(self, data):
        self.text.append(data)


def test_html_report_is_self_contained_and_escapes():
    rows = mixed_rows()
    rows[1]["hint"] = "<script>alert(1)</script> & more"
    page = _Tags()
    page.feed(rp.html_report(rows, {"web1": ["<b>w</b>"]}, GENERATED))
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags and not page.links
    assert "<script>alert(1)</script> & more" in "".join(page.text)   # shown as text, not markup
    assert page.tags.count("svg") == 1   # web1 only has timings
    assert page.tags.count("tr") == 7
    assert "5 of 6 checks failed on 5 of 5 hosts" in "".join(page.text)


def test_latency_chart_stacks_the_phases_on_one_axis():
    rows = [cr.account_row("web1", "tenant", "x:587", OK_RESULT),
            cr.account_row("web1", "oauth", "x:587", dict(OK_RESULT, timings_ms={"token": 50.0, "dns": 1.0, "total": 60.0}))]
    svg = rp.latency_svg("web1", rows, longest=400)
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    rects = root.findall(ns + "rect")
    # 8 phases and the untimed rest of the first account; dns, the untimed rest and the token bar of the second.
    assert len(rects) == 8 + 1 + 3
    widths = {r.find(ns + "title").text: float(r.get("width")) for r in rects}
    assert widths["tenant banner: 95.2 ms"] == pytest.approx(95.2 * 560 / 400, abs=0.1)
    assert widths["oauth token: 50.0 ms"] == pytest.approx(50.0 * 560 / 400, abs=0.1)
    # The bar reaches the total: 287.3 - 286.8 ms of phases, 60 - 1 ms.
    assert widths["tenant other: 0.5 ms"] == pytest.approx(0.5 * 560 / 400, abs=0.1)
    assert widths["oauth other: 59.0 ms"] == pytest.approx(59.0 * 560 / 400, abs=0.1)
    assert [t.text for t in root.findall(ns + "text") if t.get("class") == "ax"][-2:] == ["400", "ms"]


def test_render_reports_writes_only_the_formats_asked_for():
    assert list(rp.render_reports(mixed_rows(), {}, GENERATED, ["junit", "json"])) == \
        ["live_smtp_check.json", "live_smtp_check.junit.xml"]
    with pytest.raises(rp.ReportError, match="unknown report format"):
        rp.render_reports(mixed_rows(), {}, GENERATED, ["pdf"])


def test_prometheus_text_parses_and_holds_the_numbers():
    rows = [cr.account_row("web1", "tenant", "smtp.office365.com:587", OK_RESULT),
            cr.account_row("web1", "personal", 'odd"host\\\n:587', REFUSED_RESULT)]
    text = cr.prometheus_text(rows, 1796000000, {"tenant": 3600.0})
    samples = {}
    for family in text_string_to_metric_families(text):
        assert family.type == "gauge" and family.documentation
        for sample in family.samples:
            samples[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    tenant = (("account", "tenant"), ("server", "smtp.office365.com:587"))
    personal = (("account", "personal"), ("server", 'odd"host\\\n:587'))   # escaped and read back exactly
    assert samples["live_smtp_check_success", tenant] == 1 and samples["live_smtp_check_success", personal] == 0
    assert samples["live_smtp_check_phase_seconds", tuple(sorted(tenant + (("phase", "banner"),)))] == pytest.approx(0.0952)
    assert samples["live_smtp_check_duration_seconds", tenant] == pytest.approx(0.2873)
    assert samples["live_smtp_check_certificate_days_left", tenant] == 214
    assert samples["live_smtp_check_token_store_age_seconds", tenant] == 3600
    assert ("live_smtp_check_token_store_age_seconds", personal) not in samples
    assert samples["live_smtp_check_failure_info", tuple(sorted(personal + (("reason", "basic_auth_disabled"), ("stage", "auth"))))] == 1
    assert samples["live_smtp_check_last_run_timestamp_seconds", ()] == 1796000000


def test_prometheus_text_skips_hosts_rows():
    text = cr.prometheus_text(cr.host_rows("web3", None), 1796000000)
    names = {f.name for f in text_string_to_metric_families(text)}
    assert names == {"live_smtp_check_last_run_timestamp_seconds"}


def test_write_atomically(tmp_path):
    path = tmp_path / "report.json"
    path.write_text("old")
    write_atomically(str(path), "new")
    assert path.read_text() == "new" and stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert os.listdir(tmp_path) == ["report.json"]


# --- credential lifecycle -----------------------------------------------------------------------------------------

NOW = 1796000000.0  # 2026-11-29T...Z


@pytest.mark.parametrize("value, expected", [
    ("2026-12-31", 1798761599.0),                      # a date: its last second, UTC
    ("2026-12-31T00:00:00Z", 1798675200.0),
    ("2026-12-31T01:00:00+01:00", 1798675200.0),
    ("2026-12-31T00:00:00", 1798675200.0),             # no offset: UTC
    (1798675200, 1798675200.0),
])
def test_parse_expiry(value, expected):
    assert cr.parse_expiry(value) == expected


@pytest.mark.parametrize("value", ["next year", "31/12/2026", "", True, None])
def test_parse_expiry_refuses_what_is_not_a_date(value):
    with pytest.raises(cr.ReportError):
        cr.parse_expiry(value)


@pytest.mark.parametrize("offset, days", [(86400 * 40 + 5, 40), (86400 * 40 - 5, 39), (5, 0), (-5, -1),
                                          (-86400 * 3, -3)])
def test_days_left(offset, days):
    assert cr.days_left(NOW + offset, NOW) == days


def test_lifecycle_keys_and_none_for_what_is_unknown():
    assert cr.lifecycle(None, None, None, NOW) == dict.fromkeys(cr.LIFECYCLE_KEYS)
    assert cr.lifecycle(61.5 * 86400, NOW + 10 * 86400, NOW - 86400, NOW) == {
        "token_store_age_days": 61.5, "certificate_days_left": 10, "client_secret_days_left": -1}


def lifecycle_row(**lifecycle):
    row = cr.account_row("web1", "personal", "smtp-mail.outlook.com:587", OK_RESULT)
    row.update(lifecycle)
    return row


@pytest.mark.parametrize("age, warned", [(59.9, False), (60.0, False), (60.1, True), (89.0, True)])
def test_token_store_warning_after_the_threshold(age, warned):
    warnings = cr.lifecycle_warnings(lifecycle_row(token_store_age_days=age))
    assert bool(warnings) is warned
    if warned:
        assert warnings[0].startswith("account personal: the token store was not refreshed for %d days (warning "
                                      "after 60)" % int(age))
        assert "AADSTS700082" in warnings[0] and "oauth2_token_keepalive" in warnings[0]


def test_token_store_threshold_is_a_parameter():
    row = lifecycle_row(token_store_age_days=20.0)
    assert cr.lifecycle_warnings(row) == []
    assert "warning after 14" in cr.lifecycle_warnings(row, token_store_warn_days=14)[0]


@pytest.mark.parametrize("key, what", [("certificate_days_left", "certificate credential"),
                                       ("client_secret_days_left", "client secret")])
@pytest.mark.parametrize("days, expected", [
    (30, None), (29, "expires in 29 day(s) (warning below 30)"), (0, "expires in 0 day(s)"),
    (-2, "expired 2 day(s) ago")])
def test_credential_warnings(key, what, days, expected):
    warnings = cr.lifecycle_warnings(lifecycle_row(**{key: days}))
    if expected is None:
        assert warnings == []
    else:
        assert len(warnings) == 1
        assert warnings[0].startswith("account personal: the %s %s" % (what, expected))


def test_lifecycle_in_summary_reports_and_prometheus(tmp_path):
    row = lifecycle_row(token_store_age_days=61.2, certificate_days_left=12, client_secret_days_left=-1)
    plain = lifecycle_row()
    line = cr.summary_line(row)
    assert line.endswith("token_store_days=61.2 cert_credential_days=12 client_secret_days=-1")
    assert "token_store_days" not in cr.summary_line(plain)
    warnings = {"web1": cr.lifecycle_warnings(row)}
    assert len(warnings["web1"]) == 3
    lines = cr.summary([row], warnings)["web1"]
    assert [l for l in lines if l.startswith("WARN account personal: the token store")]
    reports = rp.render_reports([row], warnings, GENERATED, ["json", "markdown", "junit", "html"])
    data = json.loads(reports["live_smtp_check.json"])
    assert data["checks"][0]["token_store_age_days"] == 61.2 and data["checks"][0]["client_secret_days_left"] == -1
    assert "| 61.2 | certificate 12, client secret -1 |" in reports["live_smtp_check.md"]
    assert "not refreshed for 61 days" in reports["live_smtp_check.md"]
    junit = reports["live_smtp_check.junit.xml"]
    assert "token_store_age_days=61.2 certificate_days_left=12 client_secret_days_left=-1" in junit
    assert "WARN account personal: the client secret expired 1 day(s) ago" in junit
    assert "<td class=\"num\">61.2</td><td>certificate 12, client secret -1</td>" in reports["live_smtp_check.html"]
    text = cr.prometheus_text([row, plain], NOW, {"personal": 61.2 * 86400})
    samples = {(s.name, s.labels.get("credential")): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("live_smtp_check_credential_days_left", "certificate")] == 12
    assert samples[("live_smtp_check_credential_days_left", "client_secret")] == -1
