# -*- coding: utf-8 -*-
"""Reads every report of the mixed run with real parsers and checks what it says.

Usage: check_reports.py --report-dir DIR --prom-dir DIR --standin-port PORT
       check_reports.py --screenshot PNG    (a browser's picture of the HTML report: a PNG of the window's size)
Hosts: mail1, mail2 (tenant ok, personal refused, oauth ok), nopython (module cannot run), ghost (unreachable),
badvars (invalid account list).
"""

from __future__ import annotations

import argparse
import json
import os
import stat
import struct
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from junitparser import Error, Failure, JUnitXml
from prometheus_client.parser import text_string_to_metric_families

ACCOUNTS = ("tenant", "personal", "oauth")


def check_json(path):
    report = json.load(open(path))
    assert report["ok"] is False
    rows = {(c["host"], c["account"]): c for c in report["checks"]}
    expected = {(h, a) for h in ("mail1", "mail2", "nopython") for a in ACCOUNTS} | {("ghost", None), ("badvars", None)}
    assert set(rows) == expected, sorted(rows, key=str)
    for host in ("mail1", "mail2"):
        for account in ("tenant", "oauth"):
            row = rows[host, account]
            assert row["ok"] and row["tls_version"] in ("TLSv1.2", "TLSv1.3") and row["tls_days_left"] > 0, row
            assert row["timings_ms"]["total"] == row["total_ms"] and row["timings_ms"]["auth"] > 0, row
        assert rows[host, "oauth"]["auth_mechanism"] == "XOAUTH2" and "token" in rows[host, "oauth"]["timings_ms"]
        assert 0.03 < rows[host, "oauth"]["token_store_age_days"] < 0.06, rows[host, "oauth"]   # written an hour ago
        assert not [w for w in report["warnings"][host] if "token store" in w], report["warnings"][host]
        personal = rows[host, "personal"]
        assert not personal["ok"] and personal["reason"] == "basic_auth_disabled" and personal["failed_stage"] == "auth"
        assert personal["reply"]["code"] == 535 and "OAuth2" in personal["hint"], personal
        assert any("personal Microsoft account" in w for w in report["warnings"][host]), report["warnings"]
    for account in ACCOUNTS:
        row = rows["nopython", account]
        assert not row["ok"] and row["reason"] == "module_error" and "interpreter" in row["hint"], row
    ghost, badvars = rows["ghost", None], rows["badvars", None]
    assert ghost["reason"] == "host_unreachable" and "Ansible could not reach" in ghost["hint"], ghost
    assert badvars["reason"] == "check_not_run" and "account name 'Bad Name' must match" in badvars["hint"], badvars
    return report


def check_markdown(path, report):
    text = open(path).read()
    assert "%d of %d checks passed." % (sum(c["ok"] for c in report["checks"]), len(report["checks"])) in text
    assert "| mail1 | personal |" in text and "`basic_auth_disabled`" in text, text
    assert "- ghost / -: `host_unreachable`" in text and "- badvars / -: `check_not_run`" in text, text
    assert "## Warnings" in text and "- mail1: outlook.com looks like a personal Microsoft account" in text, text


# The JUnit structure GitLab and GitHub's reporters read (the common "JUnit XSD": testsuites > testsuite > testcase).
JUNIT = {
    "testsuites": ({"name", "tests", "failures", "errors", "skipped", "time", "timestamp", "disabled"}, set(), ["testsuite"]),
    "testsuite": ({"name", "tests", "failures", "errors", "skipped", "time", "timestamp", "hostname", "id", "package",
                   "disabled", "file"}, {"name", "tests"}, ["properties", "testcase", "system-out", "system-err"]),
    "testcase": ({"name", "classname", "time", "assertions", "status", "file", "line"}, {"name"},
                 ["skipped", "error", "failure", "system-out", "system-err"]),
    "failure": ({"message", "type"}, set(), []),
    "error": ({"message", "type"}, set(), []),
    "skipped": ({"message"}, set(), []),
    "system-out": (set(), set(), []),
    "system-err": (set(), set(), []),
    "properties": (set(), set(), ["property"]),
    "property": ({"name", "value"}, {"name", "value"}, []),
}


def check_structure(element):
    allowed, required, children = JUNIT[element.tag]
    assert set(element.attrib) <= allowed, (element.tag, element.attrib)
    assert required <= set(element.attrib), (element.tag, element.attrib)
    order = [children.index(child.tag) for child in element]   # ValueError: a child that may not be there
    assert order == sorted(order), (element.tag, [c.tag for c in element])
    for name in ("tests", "failures", "errors", "skipped"):
        if name in element.attrib:
            assert int(element.attrib[name]) >= 0
    if "time" in element.attrib:
        assert float(element.attrib["time"]) >= 0
    if element.tag == "testcase":
        assert sum(child.tag in ("failure", "error", "skipped") for child in element) <= 1, ET.tostring(element)
    if element.tag == "testsuite":
        cases = element.findall("testcase")
        assert int(element.get("tests")) == len(cases)
        assert int(element.get("failures")) == sum(c.find("failure") is not None for c in cases)
        assert int(element.get("errors")) == sum(c.find("error") is not None for c in cases)
    for child in element:
        check_structure(child)


def check_junit(path, report):
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    check_structure(root)
    rows = {(c["host"], c["account"]): c for c in report["checks"]}
    xml = JUnitXml.fromfile(path)
    seen = {}
    for suite in xml:
        for case in suite:
            seen[suite.name, case.name] = case
    assert len(seen) == len(rows), sorted(seen)
    assert xml.tests == len(rows) and xml.failures + xml.errors == sum(not c["ok"] for c in report["checks"])
    for (host, account), row in rows.items():
        case = seen[host, "%s (%s)" % (account, row["server"]) if account else "host"]
        if row["ok"]:
            assert case.is_passed, (host, account)
            continue
        (result,) = case.result
        kind = Error if row["reason"] in ("module_error", "host_unreachable", "check_not_run", "not_checked") else Failure
        assert isinstance(result, kind), (host, account, result)
        assert result.message == "%s: %s" % (row["reason"], " ".join(row["hint"].split())), result.message
        assert result.type == row["reason"]
    assert seen["mail1", "personal (localhost:%s)" % rows["mail1", "personal"]["server"].split(":")[1]].result[0].type == "basic_auth_disabled"


class Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.external, self.svg_titles, self.in_title, self.rows = [], [], [], False, 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "data") or (name == "style" and "url(" in (value or "")):
                self.external.append((tag, name, value))
        if tag == "tr":
            self.rows += 1
        self.in_title = tag == "title" and "svg" in self.tags

    def handle_data(self, data):
        if self.in_title and data.startswith("Latency per phase from "):
            self.svg_titles.append(data[len("Latency per phase from "):-len(" (ms)")])
        self.in_title = False


def check_html(path, report):
    text = open(path).read()
    page = Page()
    page.feed(text)
    assert not page.external, page.external
    assert not {"script", "link", "img", "iframe", "object", "embed"} & set(page.tags), set(page.tags)
    assert "url(" not in text and "@import" not in text
    assert page.rows == len(report["checks"]) + 1, page.rows   # + the header row
    # A chart per host that has timings: mail1 and mail2 (the others never reached the server).
    assert page.svg_titles == ["mail1", "mail2"], page.svg_titles
    assert text.count("<rect ") >= 2 * 3 * 5, "too few bars"


def check_prometheus(prom_dir, port):
    assert sorted(os.listdir(prom_dir)) == ["mail1.prom", "mail2.prom"], os.listdir(prom_dir)
    for name in ("mail1.prom", "mail2.prom"):
        path = os.path.join(prom_dir, name)
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, oct(os.stat(path).st_mode)
        families = {f.name: f for f in text_string_to_metric_families(open(path).read())}
        value = {}
        for family in families.values():
            assert family.type == "gauge", family
            for sample in family.samples:
                value[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
        server = "localhost:%s" % port
        assert value["live_smtp_check_success", (("account", "tenant"), ("server", server))] == 1
        assert value["live_smtp_check_success", (("account", "oauth"), ("server", server))] == 1
        personal = [k for k in value if k[0] == "live_smtp_check_success" and ("account", "personal") in k[1]]
        assert len(personal) == 1 and value[personal[0]] == 0
        failure = [k for k in value if k[0] == "live_smtp_check_failure_info"]
        assert len(failure) == 1 and ("reason", "basic_auth_disabled") in failure[0][1] and ("stage", "auth") in failure[0][1]
        for phase in ("dns", "connect", "banner", "ehlo", "starttls", "tls", "ehlo_tls", "auth"):
            seconds = value["live_smtp_check_phase_seconds", (("account", "tenant"), ("phase", phase), ("server", server))]
            assert 0 <= seconds < 30, (phase, seconds)
        assert value["live_smtp_check_phase_seconds", (("account", "oauth"), ("phase", "token"), ("server", server))] > 0
        assert value["live_smtp_check_certificate_days_left", (("account", "tenant"), ("server", server))] > 0
        age = value["live_smtp_check_token_store_age_seconds", (("account", "oauth"), ("server", server))]
        assert 3500 < age < 4000, age   # the store was written an hour ago
        assert not [k for k in value if k[0] == "live_smtp_check_token_store_age_seconds" and ("account", "tenant") in k[1]]
        assert value["live_smtp_check_last_run_timestamp_seconds", ()] > 1.7e9
    print("prometheus: 2 files, mode 0644, read by prometheus_client")


def check_screenshot(path):
    data = open(path, "rb").read() if os.path.exists(path) else b""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "%s: no PNG" % path
    width, height = struct.unpack(">II", data[16:24])
    # A blank or error page compresses to a few kB; the rendered table and charts are far larger.
    assert (width, height) == (1400, 1700) and len(data) > 50000, (width, height, len(data))
    print("screenshot: %s, %dx%d, %d bytes" % (path, width, height, len(data)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--screenshot")
    parser.add_argument("--report-dir")
    parser.add_argument("--prom-dir")
    parser.add_argument("--standin-port")
    args = parser.parse_args()
    if args.screenshot:
        check_screenshot(args.screenshot)
        return
    if not (args.report_dir and args.prom_dir and args.standin_port):
        parser.error("--report-dir, --prom-dir and --standin-port are required")
    names = sorted(os.listdir(args.report_dir))
    assert names == ["live_smtp_check.html", "live_smtp_check.json", "live_smtp_check.junit.xml", "live_smtp_check.md"], names
    for name in names:
        mode = stat.S_IMODE(os.stat(os.path.join(args.report_dir, name)).st_mode)
        assert mode == 0o640, (name, oct(mode))
    report = check_json(os.path.join(args.report_dir, "live_smtp_check.json"))
    check_markdown(os.path.join(args.report_dir, "live_smtp_check.md"), report)
    check_junit(os.path.join(args.report_dir, "live_smtp_check.junit.xml"), report)
    check_html(os.path.join(args.report_dir, "live_smtp_check.html"), report)
    check_prometheus(args.prom_dir, args.standin_port)
    print("reports: %d rows; JSON, Markdown, JUnit (junitparser + structure), HTML (self-contained) as expected"
          % len(report["checks"]))


if __name__ == "__main__":
    main()
