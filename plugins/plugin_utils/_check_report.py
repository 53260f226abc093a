# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Report files of the check playbook: JSON, Markdown, JUnit XML, HTML (private to the collection, controller side).

Pure functions from rows (see _check_rows) to text; the check_report action writes them.
"""

from __future__ import annotations

import html
import json
import math
import xml.etree.ElementTree as ET

from ansible_collections.mailops.live_smtp.plugins.plugin_utils._check_rows import (
    ERROR_REASONS, LIFECYCLE_KEYS, PHASES, ReportError, counts, reply_text)

PHASE_COLOURS = {"dns": "#8c564b", "connect": "#9467bd", "banner": "#7f7f7f", "ehlo": "#17becf", "starttls": "#bcbd22",
                 "tls": "#1f77b4", "ehlo_tls": "#aec7e8", "auth": "#ff7f0e", "envelope": "#2ca02c", "data": "#98df8a",
                 "other": "#d0d7de", "token": "#d62728"}


# What the reports are about: the check playbook's checks, or the migration playbook's hosts (a "migration" column).
KINDS = {
    "check": {"title": "SMTP submission check", "playbook": "mailops.live_smtp.check", "prefix": "live_smtp_check"},
    "migration": {"title": "Migration to the new accounts", "playbook": "mailops.live_smtp.migrate",
                  "prefix": "live_smtp_migrate"},
}


def _kind(kind):
    if kind not in KINDS:
        raise ReportError("unknown report kind %r: choose from %s" % (kind, ", ".join(KINDS)))
    return KINDS[kind]


# --- reports ----------------------------------------------------------------------------------------------------

def json_report(rows, warnings, generated, kind="check"):
    return json.dumps({"generated": generated, "kind": _kind(kind) and kind, "ok": all(row["ok"] for row in rows), "checks": rows,
                       "warnings": warnings}, indent=2, sort_keys=False) + "\n"


def _md_cell(value):
    text = "-" if value in (None, "") else str(value)
    return " ".join(text.replace("|", "\\|").split())


def markdown_report(rows, warnings, generated, kind="check"):
    n, about = counts(rows), _kind(kind)
    migration = kind == "migration"
    out = ["# %s" % about["title"], "",
           "Generated %s UTC by `ansible-playbook %s`." % (generated.replace("T", " ").rstrip("Z"), about["playbook"]), "",
           "%d of %d %s." % (n["passed"], n["checks"], "hosts moved" if migration else "checks passed"), "",
           "| host | account | server | result | %sreason | stage | reply | TLS | auth | total ms | token store days "
           "| credential days left |" % ("migration | " if migration else ""),
           "|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if migration else "")]
    for row in rows:
        cells = [row["host"], row["account"], row["server"], "ok" if row["ok"] else "**failed**"]
        cells += [row.get("migration")] if migration else []
        cells += [row["reason"], row["failed_stage"], reply_text(row["reply"]), row["tls_version"],
                  row["auth_mechanism"], row["total_ms"], row.get("token_store_age_days"), credential_days(row)]
        out.append("| " + " | ".join(_md_cell(c) for c in cells) + " |")
    failed = [row for row in rows if not row["ok"]]
    if failed:
        out += ["", "## What to do", ""]
        for row in failed:
            hint = " ".join(str(row["hint"] or "no hint").split())
            out.append("- %s / %s: `%s` — %s" % (row["host"], row["account"] or "-", row["reason"], hint))
    if warnings:
        out += ["", "## Warnings", ""]
        out += ["- %s: %s" % (host, " ".join(w.split())) for host, ws in warnings.items() for w in ws]
    return "\n".join(out) + "\n"


def credential_days(row):
    """'certificate 40, client secret 12' for the credentials of a row whose expiry is known, else None."""
    labels = (("certificate_days_left", "certificate"), ("client_secret_days_left", "client secret"))
    parts = ["%s %s" % (label, row.get(key)) for key, label in labels if row.get(key) is not None]
    return ", ".join(parts) or None


def _seconds(ms):
    return "%.3f" % ((ms or 0) / 1000.0)


def junit_report(rows, warnings, generated, kind="check"):
    """JUnit XML as GitLab and GitHub test reporters read it: a testsuite per host, a testcase per account.

    A check that ran and failed is a <failure>; a check that could not run (host unreachable, module error) is an
    <error>. The message of either is "reason: hint".
    """
    n, prefix = counts(rows), _kind(kind)["prefix"]
    errors_total = sum(1 for row in rows if not row["ok"] and row["reason"] in ERROR_REASONS)
    root = ET.Element("testsuites", {
        "name": prefix, "tests": str(n["checks"]), "failures": str(n["failed"] - errors_total),
        "errors": str(errors_total), "skipped": "0", "time": _seconds(sum(row["total_ms"] or 0 for row in rows)),
        "timestamp": generated})
    by_host = {}
    for row in rows:
        by_host.setdefault(row["host"], []).append(row)
    for index, (host, host_rows_) in enumerate(by_host.items()):
        errors = sum(1 for row in host_rows_ if not row["ok"] and row["reason"] in ERROR_REASONS)
        failures = sum(1 for row in host_rows_ if not row["ok"]) - errors
        suite = ET.SubElement(root, "testsuite", {
            "name": host, "id": str(index), "hostname": host, "package": prefix,
            "tests": str(len(host_rows_)), "failures": str(failures), "errors": str(errors), "skipped": "0",
            "time": _seconds(sum(row["total_ms"] or 0 for row in host_rows_)), "timestamp": generated})
        for row in host_rows_:
            name = "%s (%s)" % (row["account"], row["server"]) if row["account"] else "host"
            case = ET.SubElement(suite, "testcase", {"name": name, "classname": "%s.%s" % (prefix, host),
                                                     "time": _seconds(row["total_ms"])})
            if not row["ok"]:
                tag = "error" if row["reason"] in ERROR_REASONS else "failure"
                message = "%s: %s" % (row["reason"], " ".join(str(row["hint"] or "no hint").split()))
                element = ET.SubElement(case, tag, {"message": message, "type": row["reason"] or "failed"})
                details = ["reason: %s" % row["reason"], "hint: %s" % (row["hint"] or "-")]
                if row["failed_stage"]:
                    details.append("stage: %s" % row["failed_stage"])
                if row["reply"]:
                    details.append("reply: %s" % json.dumps(row["reply"], sort_keys=True))
                element.text = "\n".join(details)
            out = ["server=%s tls=%s auth=%s total_ms=%s" % (
                row["server"] or "-", row["tls_version"] or "-", row["auth_mechanism"] or "-", row["total_ms"])]
            if row["timings_ms"]:
                out.append("timings_ms=%s" % json.dumps(row["timings_ms"], sort_keys=True))
            lifecycle = ["%s=%s" % (key, row.get(key)) for key in LIFECYCLE_KEYS if row.get(key) is not None]
            if lifecycle:
                out.append(" ".join(lifecycle))
            ET.SubElement(case, "system-out").text = "\n".join(out)
        if warnings.get(host):
            ET.SubElement(suite, "system-err").text = "\n".join("WARN %s" % w for w in warnings[host])
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _esc(value):
    return html.escape("-" if value in (None, "") else str(value), quote=True)


def _nice_step(span):
    """A round tick step so that about 5 ticks cover span."""
    raw = max(span, 1e-9) / 5.0
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _longest_ms(row):
    timings = row["timings_ms"] or {}
    return max(sum(timings.get(p) or 0 for p in PHASES), timings.get("token") or 0, timings.get("total") or 0)


def latency_svg(host, host_rows_, longest=None):
    """Inline SVG: one stacked bar of the network phases per account of one host, token time as a thin bar below.

    longest: the axis covers this many ms (the same for every host of a report, so hosts compare at a glance).
    """
    rows = [row for row in host_rows_ if row["timings_ms"]]
    if not rows:
        return '<p class="nochart">No timings from %s.</p>' % _esc(host)
    label_w, bar_h, gap, top, chart_w = 150, 18, 14, 8, 560
    longest = longest or max(_longest_ms(row) for row in rows)
    step = _nice_step(longest)
    axis_max = step * max(1, math.ceil(longest / step))
    scale = chart_w / axis_max
    height = top + len(rows) * (bar_h + 6 + gap) + 28
    bottom = top + len(rows) * (bar_h + 6 + gap)
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" role="img" width="%d" height="%d" viewBox="0 0 %d %d">'
             % (label_w + chart_w + 70, height, label_w + chart_w + 70, height),
             "<title>%s</title>" % _esc("Latency per phase from %s (ms)" % host)]
    # Grid first, so that the bars are drawn over it.
    tick = 0.0
    while tick <= axis_max + 1e-9:
        x = label_w + tick * scale
        parts.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" class="tick"/>' % (x, top - 4, x, bottom - gap + 2))
        parts.append('<text x="%.1f" y="%d" class="ax" text-anchor="middle">%s</text>'
                     % (x, bottom - gap + 16, ("%g" % tick)))
        tick += step
    parts.append('<text x="%d" y="%d" class="ax" text-anchor="end">ms</text>' % (label_w - 8, bottom - gap + 16))
    y = top
    for row in rows:
        timings = row["timings_ms"]
        parts.append('<text x="%d" y="%d" class="lbl" text-anchor="end">%s</text>'
                     % (label_w - 8, y + bar_h - 5, _esc(row["account"])))
        x = float(label_w)
        for phase in PHASES:
            ms = timings.get(phase)
            if not ms:
                continue
            width = max(ms * scale, 0.5)
            parts.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>'
                         % (x, y, width, bar_h, PHASE_COLOURS[phase], _esc("%s %s: %s ms" % (row["account"], phase, ms))))
            x += width
        # The rest of the total that no phase accounts for (closing the session, a phase the module did not time).
        other = round((timings.get("total") or 0) - sum(timings.get(p) or 0 for p in PHASES), 1)
        if other > 0:
            parts.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>'
                         % (x, y, other * scale, bar_h, PHASE_COLOURS["other"], _esc("%s other: %s ms" % (row["account"], other))))
            x += other * scale
        parts.append('<text x="%.1f" y="%d" class="val">%s ms%s</text>'
                     % (x + 4, y + bar_h - 5, _esc(timings.get("total")), "" if row["ok"] else " (failed)"))
        if timings.get("token"):
            parts.append('<rect x="%d" y="%d" width="%.1f" height="5" fill="%s"><title>%s</title></rect>'
                         % (label_w, y + bar_h + 1, max(timings["token"] * scale, 0.5), PHASE_COLOURS["token"],
                            _esc("%s token: %s ms" % (row["account"], timings["token"]))))
        y += bar_h + 6 + gap
    parts.append("</svg>")
    return "".join(parts)


HTML_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:24px;color:#1b1f23;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px} h3{font-size:15px;margin:18px 0 4px}
.meta{color:#57606a;margin:0 0 16px} .verdict{font-weight:600;padding:8px 12px;border-radius:6px;display:inline-block}
.pass{background:#dafbe1;color:#116329} .fail{background:#ffebe9;color:#a40e26}
table{border-collapse:collapse;font-size:13px;margin-top:8px} th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa} tr.bad td{background:#fff5f5} td.num{text-align:right;font-variant-numeric:tabular-nums}
td.hint{max-width:420px;color:#57606a} td.nw{white-space:nowrap} .ok{color:#116329;font-weight:600} .ko{color:#a40e26;font-weight:600}
.legend span{display:inline-block;margin-right:12px;font-size:12px} .legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}
svg .lbl,svg .val,svg .ax{font-size:12px;font-family:inherit;fill:#1b1f23} svg .ax{fill:#57606a} svg .tick{stroke:#d0d7de;stroke-width:1}
ul.warn li{color:#7d4e00}
"""


def html_report(rows, warnings, generated, kind="check"):
    """A self-contained page (no external asset, no script): verdict, table, a latency chart per host."""
    n, about = counts(rows), _kind(kind)
    migration = kind == "migration"
    if migration:
        verdict = "%d of %d hosts moved" % (n["passed"], n["checks"])
    else:
        verdict = ("all %d checks passed" % n["checks"]) if not n["failed"] else \
            ("%d of %d checks failed on %d of %d hosts" % (n["failed"], n["checks"], n["failed_hosts"], n["hosts"]))
    out = ['<!DOCTYPE html>', '<html lang="en"><head><meta charset="utf-8">',
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           "<title>%s</title><style>%s</style></head><body>" % (_esc(about["title"]), HTML_STYLE),
           "<h1>%s</h1>" % _esc(about["title"]),
           '<p class="meta">Generated %s UTC by <code>ansible-playbook %s</code>.</p>'
           % (_esc(generated.replace("T", " ").rstrip("Z")), _esc(about["playbook"])),
           '<p class="verdict %s">%s</p>' % ("fail" if n["failed"] else "pass", _esc(verdict)),
           "<h2>Checks</h2><table><thead><tr><th>host</th><th>account</th><th>server</th><th>result</th><th>reason</th>"
           "<th>stage</th><th>reply</th><th>TLS</th><th>cert days</th><th>auth</th><th>total ms</th><th>token store days</th>"
           "<th>credential days left</th><th>what to do</th>"
           "</tr></thead><tbody>"]
    for row in rows:
        out.append(
            '<tr class="%s"><td>%s</td><td>%s</td><td class="nw">%s</td><td class="%s">%s</td><td>%s</td><td>%s</td><td class="nw">%s</td>'
            '<td>%s</td><td class="num">%s</td><td>%s</td><td class="num">%s</td><td class="num">%s</td><td>%s</td>'
            '<td class="hint">%s</td></tr>'
            % ("" if row["ok"] else "bad", _esc(row["host"]), _esc(row["account"]), _esc(row["server"]),
               "ok" if row["ok"] else "ko", _esc(row.get("migration")) if migration else ("ok" if row["ok"] else "failed"),
               _esc(row["reason"]),
               _esc(row["failed_stage"]), _esc(reply_text(row["reply"])), _esc(row["tls_version"]),
               _esc(row["tls_days_left"]), _esc(row["auth_mechanism"]), _esc(row["total_ms"]),
               _esc(row.get("token_store_age_days")), _esc(credential_days(row)),
               "" if row["ok"] and not migration else _esc(row["hint"])))
    out.append("</tbody></table>")
    if warnings:
        out.append('<h2>Warnings</h2><ul class="warn">')
        out += ["<li><b>%s</b>: %s</li>" % (_esc(host), _esc(w)) for host, ws in warnings.items() for w in ws]
        out.append("</ul>")
    out.append("<h2>Latency per phase</h2><p class=\"legend\">")
    out += ['<span><i style="background:%s"></i>%s</span>' % (PHASE_COLOURS[p], p) for p in PHASES + ("other", "token")]
    out.append("</p><p class=\"meta\">Network phases stacked in the order they ran, up to the check's total time "
               "(<i>other</i>: the part no phase accounts for); the thin red bar is the OAuth2 token request, which "
               "overlaps them. Hover a segment for its time.</p>")
    by_host = {}
    for row in rows:
        by_host.setdefault(row["host"], []).append(row)
    longest = max([_longest_ms(row) for row in rows if row["timings_ms"]] or [0])
    for host, host_rows_ in by_host.items():
        out.append("<h3>%s</h3>" % _esc(host))
        out.append(latency_svg(host, host_rows_, longest))
    out.append("</body></html>")
    return "\n".join(out) + "\n"


REPORTS = {  # format -> (file name after the kind's prefix, renderer)
    "json": (".json", json_report),
    "markdown": (".md", markdown_report),
    "junit": (".junit.xml", junit_report),
    "html": (".html", html_report),
}


def render_reports(rows, warnings, generated, formats, kind="check"):
    """{file name: text} for each format asked for (live_smtp_check.* or, for a migration, live_smtp_migrate.*)."""
    unknown = sorted(set(formats) - set(REPORTS))
    if unknown:
        raise ReportError("unknown report format(s) %s: choose from %s" % (", ".join(unknown), ", ".join(REPORTS)))
    prefix = _kind(kind)["prefix"]
    return {prefix + REPORTS[f][0]: REPORTS[f][1](rows, warnings, generated, kind) for f in REPORTS if f in formats}
