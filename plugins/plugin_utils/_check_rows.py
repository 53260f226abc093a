# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rows of the check playbook (private to the collection, controller side).

Pure functions on plain data, imported by the check_accounts action on every host's worker (so it imports little)
and by the reports. A row never holds a secret: it is built from the module's result and the account's name and
server only, never from the account record itself.
"""

from __future__ import annotations

import calendar
import datetime
import math
import re
import time


# The keys of a row, in report order. JSON reports carry them all; tables show most.
ROW_KEYS = ("host", "account", "server", "ok", "reason", "failed_stage", "hint", "reply", "tls_version",
            "tls_days_left", "auth_mechanism", "total_ms", "timings_ms", "changed",
            "token_store_age_days", "certificate_days_left", "client_secret_days_left")
# Credential lifecycle of an OAuth2 account: None when it does not apply or is unknown on that host.
LIFECYCLE_KEYS = ("token_store_age_days", "certificate_days_left", "client_secret_days_left")
# Defaults of the check playbook's thresholds (live_smtp_check_token_store_warn_days, ..._credential_min_days).
TOKEN_STORE_WARN_DAYS = 60
CREDENTIAL_MIN_DAYS = 30

# Phases of the module's timings_ms, in the order they happen (token overlaps the network phases).
PHASES = ("dns", "connect", "banner", "ehlo", "starttls", "tls", "ehlo_tls", "auth", "envelope", "data")
# Reasons of a host (not an account) that could not be checked.
HOST_UNREACHABLE = "host_unreachable"   # Ansible could not connect to the host
CHECK_NOT_RUN = "check_not_run"         # the check task failed on the host before any account was checked
NOT_CHECKED = "not_checked"             # no result at all: the host left the play before the check task
MODULE_ERROR = "module_error"           # the module could not run or crashed for one account
HOST_REASONS = (HOST_UNREACHABLE, CHECK_NOT_RUN, NOT_CHECKED)
# Reasons that mean the check could not run (JUnit <error>), as opposed to a check that ran and failed (<failure>).
ERROR_REASONS = HOST_REASONS + (MODULE_ERROR,)


class ReportError(ValueError):
    """Bad options for the check or the reports; the message never holds a secret."""


def module_args(account, options):
    """The smtp_check options for one completed account (see the account_defaults filter) and the play's options.

    options: envelope, send_test_message, rcpt_to, timeout, validate_certs, min_tls_version, cert_min_days,
    nameservers, ip_version, ehlo_name; None means the module's default.
    """
    args = {
        "host": account["host"],
        "port": account["port"],
        "security": account["security"],
        "username": account["username"],
        "auth": "xoauth2" if account["auth"] == "oauth2" else "auto",
        "send_test_message": bool(options.get("send_test_message")),
        "validate_certs": options.get("validate_certs", True) is not False,
    }
    if account["auth"] == "password":
        args["password"] = account["password"]
    else:
        args["oauth2"] = {k: v for k, v in account["oauth2"].items() if v is not None}
    if account.get("ca_file"):
        args["ca_path"] = account["ca_file"]
    if options.get("envelope") or options.get("send_test_message"):
        args["mail_from"] = account["from"]
        args["rcpt_to"] = options.get("rcpt_to") or [account["from"]]
    for key in ("timeout", "min_tls_version", "cert_min_days", "nameservers", "ip_version", "ehlo_name"):
        if options.get(key) not in (None, "", []):
            args[key] = options[key]
    return args


def _empty_row(host, account=None, server=None):
    row = dict.fromkeys(ROW_KEYS)
    row.update(host=host, account=account, server=server, ok=False, changed=False)
    return row


def account_row(host, name, server, result):
    """One row from the module's result for one account (or Ansible's result when the module could not run)."""
    row = _empty_row(host, name, server)
    ok = bool(result.get("ok")) and not result.get("failed")
    tls = result.get("tls") or {}
    timings = result.get("timings_ms") or {}
    row.update(
        ok=ok,
        reason=result.get("reason") if "reason" in result or ok else MODULE_ERROR,
        failed_stage=result.get("failed_stage"),
        hint=result.get("hint") if "reason" in result or ok else (result.get("msg") or "no result"),
        reply=result.get("reply"),
        tls_version=tls.get("version"),
        tls_days_left=tls.get("days_left"),
        auth_mechanism=result.get("auth_mechanism"),
        total_ms=timings.get("total"),
        timings_ms=dict(timings) or None,
        changed=bool(result.get("changed")),
    )
    if not ok and row["reason"] is None:
        row["reason"] = MODULE_ERROR
    return row


def host_rows(host, registered):
    """The rows of one host from the registered result of the check task (None when the task never ran there)."""
    if registered is None:
        row = _empty_row(host)
        row.update(reason=NOT_CHECKED,
                   hint="the check did not run on this host: it was unreachable or failed earlier in the run")
        return [row]
    if registered.get("unreachable"):
        row = _empty_row(host)
        message = str(registered.get("msg") or "no message")
        message = message[len("Task failed: "):] if message.startswith("Task failed: ") else message
        row.update(reason=HOST_UNREACHABLE, hint="Ansible could not reach the host: %s" % message)
        return [row]
    checks = registered.get("checks")
    if not checks:
        row = _empty_row(host)
        row.update(reason=CHECK_NOT_RUN,
                   hint="the check failed before any account was checked: %s" % (registered.get("msg") or "no message"))
        return [row]
    # Rows made in a playbook (the migration's) may leave out keys the reports read.
    return [dict(dict.fromkeys(ROW_KEYS), **row) for row in checks]


def collect(hosts, registered_by_host, warnings_key="check_warnings"):
    """All rows of the play in inventory order, and {host: [warning, ...]} for hosts that have warnings."""
    rows, warnings = [], {}
    for host in hosts:
        registered = registered_by_host.get(host)
        rows.extend(host_rows(host, registered))
        host_warnings = (registered or {}).get(warnings_key) or []
        if host_warnings:
            warnings[host] = list(host_warnings)
    return rows, warnings


# --- credential lifecycle ----------------------------------------------------------------------------------------

def parse_expiry(value):
    """Epoch seconds of an expiry given as a date (2027-03-31: the end of that day, UTC), an ISO 8601 time (with Z or
    an offset; none means UTC) or epoch seconds. Raises ReportError for anything else."""
    if isinstance(value, bool):
        raise ReportError("not a date: %r" % (value,))
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, datetime.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
        return moment.timestamp()
    if isinstance(value, datetime.date):
        return float(calendar.timegm(value.timetuple())) + 86399
    text = str(value or "").strip()
    if re.match(r"\A\d{4}-\d{2}-\d{2}\Z", text):
        return float(calendar.timegm(time.strptime(text, "%Y-%m-%d"))) + 86399
    try:
        moment = datetime.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ReportError("not a date (YYYY-MM-DD or ISO 8601): %r" % text[:40])
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def days_left(expiry, now):
    """Whole days until expiry (negative once expired: -1 is the first day after)."""
    return int(math.floor((float(expiry) - now) / 86400.0))


def lifecycle(store_age_seconds, certificate_expiry, client_secret_expiry, now):
    """The lifecycle keys of a row from what the host and the vocabulary say (None for what is not known)."""
    return {
        "token_store_age_days": None if store_age_seconds is None else round(store_age_seconds / 86400.0, 2),
        "certificate_days_left": None if certificate_expiry is None else days_left(certificate_expiry, now),
        "client_secret_days_left": None if client_secret_expiry is None else days_left(client_secret_expiry, now),
    }


def _expiry_text(what, account, days, min_days, fix):
    if days < 0:
        return "account %s: the %s expired %d day(s) ago: %s" % (account, what, -days, fix)
    return "account %s: the %s expires in %d day(s) (warning below %d): %s" % (account, what, days, min_days, fix)


def lifecycle_warnings(row, token_store_warn_days=TOKEN_STORE_WARN_DAYS, credential_min_days=CREDENTIAL_MIN_DAYS):
    """Warnings (no secret: names and numbers) for a token store idle too long and credentials about to expire."""
    warnings = []
    age = row.get("token_store_age_days")
    if age is not None and age > token_store_warn_days:
        warnings.append(
            "account %s: the token store was not refreshed for %d days (warning after %d): a refresh token unused for "
            "90 days expires (AADSTS700082); turn on oauth2_token_keepalive (role mailops.live_smtp.oauth2_token) or "
            "run live-smtp-token --keepalive" % (row["account"], int(age), token_store_warn_days))
    days = row.get("certificate_days_left")
    if days is not None and days < credential_min_days:
        warnings.append(_expiry_text("certificate credential", row["account"], days, credential_min_days,
                                     "upload a new certificate to the app registration and set oauth2.certificate "
                                     "and oauth2.private_key to it"))
    days = row.get("client_secret_days_left")
    if days is not None and days < credential_min_days:
        warnings.append(_expiry_text("client secret", row["account"], days, credential_min_days,
                                     "add a new client secret to the app registration, vault it as "
                                     "oauth2.client_secret and update oauth2.client_secret_expires"))
    return warnings


def reply_text(reply):
    if not reply or reply.get("code") is None:
        return ""
    return ("%s %s" % (reply["code"], reply.get("enhanced") or "")).strip()


def summary_line(row):
    """One line per account: OK/FAIL, the account and server, why, and what to do."""
    parts = ["%s %s %s" % ("OK  " if row["ok"] else "FAIL", row["account"] or "-", row["server"] or "-")]
    if row.get("migration"):
        parts.append("migration=%s" % row["migration"])
    if row["reason"]:
        parts.append("reason=%s" % row["reason"])
    if row["failed_stage"]:
        parts.append("stage=%s" % row["failed_stage"])
    if not row["ok"] and reply_text(row["reply"]):
        parts.append("reply=%s" % reply_text(row["reply"]))
    parts.append("tls=%s" % (row["tls_version"] or "-"))
    parts.append("auth=%s" % (row["auth_mechanism"] or "-"))
    parts.append("total_ms=%s" % ("-" if row["total_ms"] is None else row["total_ms"]))
    for key, label in (("token_store_age_days", "token_store_days"), ("certificate_days_left", "cert_credential_days"),
                       ("client_secret_days_left", "client_secret_days")):
        if row.get(key) is not None:
            parts.append("%s=%s" % (label, row[key]))
    if row["hint"] and not row["ok"]:
        parts.append("hint: %s" % " ".join(str(row["hint"]).split()))
    return " ".join(parts)


def summary(rows, warnings):
    """{host: [line, ...]}: the lines of each host's accounts, then its warnings as WARN lines."""
    lines = {}
    for row in rows:
        lines.setdefault(row["host"], []).append(summary_line(row))
    for host, host_warnings in warnings.items():
        lines.setdefault(host, []).extend("WARN %s" % w for w in host_warnings)
    return lines


def counts(rows):
    failed = [row for row in rows if not row["ok"]]
    return {"checks": len(rows), "passed": len(rows) - len(failed), "failed": len(failed),
            "hosts": len({row["host"] for row in rows}), "failed_hosts": len({row["host"] for row in failed})}


# --- Prometheus textfile collector ------------------------------------------------------------------------------

def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_text(rows, timestamp, token_store_ages=None):
    """node_exporter textfile-collector metrics of one host's rows (no secret: names, servers, numbers)."""
    token_store_ages = token_store_ages or {}
    metrics = [
        ("live_smtp_check_success", "1 when the account's submission check passed from this host, else 0."),
        ("live_smtp_check_phase_seconds", "Seconds each phase of the last check took (token overlaps the others)."),
        ("live_smtp_check_duration_seconds", "Seconds the last check took in total."),
        ("live_smtp_check_certificate_days_left", "Whole days until the server certificate expires."),
        ("live_smtp_check_token_store_age_seconds", "Seconds since the OAuth2 token store of the account was last written."),
        ("live_smtp_check_credential_days_left",
         "Whole days until the account's OAuth2 credential (certificate or client secret) expires."),
        ("live_smtp_check_failure_info", "1 for a failed check, labelled with its reason and stage."),
        ("live_smtp_check_last_run_timestamp_seconds", "Unix time of the last check run."),
    ]
    samples = {metric[0]: [] for metric in metrics}
    for row in rows:
        if not row["account"]:
            continue
        base = 'account="%s",server="%s"' % (_label(row["account"]), _label(row["server"]))
        samples["live_smtp_check_success"].append("{%s} %d" % (base, 1 if row["ok"] else 0))
        for phase in PHASES + ("token",):
            ms = (row["timings_ms"] or {}).get(phase)
            if ms is not None:
                samples["live_smtp_check_phase_seconds"].append('{%s,phase="%s"} %s' % (base, phase, repr(round(ms / 1000.0, 6))))
        if row["total_ms"] is not None:
            samples["live_smtp_check_duration_seconds"].append("{%s} %s" % (base, repr(round(row["total_ms"] / 1000.0, 6))))
        if row["tls_days_left"] is not None:
            samples["live_smtp_check_certificate_days_left"].append("{%s} %d" % (base, row["tls_days_left"]))
        if row["account"] in token_store_ages:
            samples["live_smtp_check_token_store_age_seconds"].append(
                "{%s} %s" % (base, repr(round(float(token_store_ages[row["account"]]), 1))))
        for credential in ("certificate", "client_secret"):
            days = row.get(credential + "_days_left")
            if days is not None:
                samples["live_smtp_check_credential_days_left"].append('{%s,credential="%s"} %d' % (base, credential, days))
        if not row["ok"]:
            samples["live_smtp_check_failure_info"].append('{%s,reason="%s",stage="%s"} 1' % (
                base, _label(row["reason"] or ""), _label(row["failed_stage"] or "")))
    samples["live_smtp_check_last_run_timestamp_seconds"].append(" %d" % int(timestamp))
    out = []
    for name, help_text in metrics:
        if not samples[name]:
            continue
        out += ["# HELP %s %s" % (name, help_text), "# TYPE %s gauge" % name]
        out += [name + sample for sample in samples[name]]
    return "\n".join(out) + "\n"
