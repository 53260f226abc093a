# -*- coding: utf-8 -*-
"""Writes the parts of the docs that are generated from tables in the code, so each fact is written once.

    python tests/lib/gen_reasons.py           # rewrite every generated block
    python tests/lib/gen_reasons.py --check   # exit 1 and name the stale files (the unit tests run this)

A block is the text between a line containing `BEGIN generated: NAME` and a line containing `END generated: NAME`
in a file of BLOCKS. A block whose markers are missing is appended to its file (Markdown only), so adding a table is
one line in BLOCKS. The tables are read from module_utils files by path: they use only the standard library.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
ME = "tests/lib/gen_reasons.py"


def module_util(path):
    """A module_utils file (path relative to plugins/module_utils) loaded by path, without Ansible."""
    name = "gen_" + re.sub(r"\W", "_", path)
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, os.path.join(MODULE_UTILS, path))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def md(text):
    """Text for a Markdown table cell."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def code(text):
    return "`%s`" % text.replace("`", "'")


# --- the reasons table ---------------------------------------------------------------------------------------------

_VARIANT_LABELS = (("hint", "Any server"), ("microsoft", "Microsoft endpoint"),
                   ("plaintext", "No TLS and no AUTH offered"))


def _stage_label(reasons, entry):
    if entry.stage:
        return entry.stage
    return "any" if tuple(entry.stages) == tuple(reasons.STAGES) else ", ".join(entry.stages)


def _hint_cell(reasons, entry):
    texts = [(label, getattr(entry, field)) for field, label in _VARIANT_LABELS if getattr(entry, field)]
    if len(texts) == 1:
        cell = md(texts[0][1])
    else:
        cell = "<br>".join("**%s:** %s" % (label, md(text)) for label, text in texts)
    return cell


def reason_table(reasons):
    lines = ["| reason | stage | reply (or condition) | hint |", "|---|---|---|---|"]
    for entry in reasons.REASONS:
        when = "; ".join(part for part in (code(entry.example) if entry.example else "", md(entry.condition or ""))
                         if part)
        lines.append("| %s | %s | %s | %s |" % (code(entry.word), _stage_label(reasons, entry), when,
                                                _hint_cell(reasons, entry)))
    return "\n".join(lines) + "\n"


def microsoft_reply_table(reasons):
    """The replies of Microsoft's service: every row with an enhanced code or a Microsoft hint, and its example."""
    lines = ["| reply | reason | what to do (on a Microsoft endpoint) |", "|---|---|---|"]
    for entry in reasons.REASONS:
        if entry.example and (entry.enhanced or entry.microsoft):
            lines.append("| %s | %s | %s |" % (code(entry.example), code(entry.word), md(entry.microsoft or entry.hint)))
    return "\n".join(lines) + "\n"


def module_reason_list(reasons, oauth2):
    """The reason words of smtp_check's DOCUMENTATION, grouped by the stage where each is reported first; the token
    endpoint's words (and app_mailbox_denied) from _oauth2's table, all at stage auth."""
    groups = {}
    for word in reasons.words():
        label = _stage_label(reasons, reasons.entry_for(word)).split(", ")[0]
        groups.setdefault(label, []).append("V(%s)" % word)
    order = [stage for stage in reasons.STAGES if stage in groups] + ["any"]
    parts = ["%s (C(%s))" % (", ".join(groups[label]), label) for label in order if label != "any"]
    token_words = [entry.word for entry in oauth2.TOKEN_ERRORS + oauth2.SMTP_TOKEN_REPLIES
                   if entry.word not in _NOT_FROM_THE_PROBE]
    parts.append("from the token endpoint (oauth2 option) or for an app-only token (C(auth)) "
                 + ", ".join("V(%s)" % word for word in token_words))
    parts.append("at any stage " + ", ".join(groups["any"]))
    text = ("Reasons (RV(reason)), by the stage where each is first reported (the table with replies and hints is "
            "C(docs/reasons.md)): " + "; ".join(parts) + ".")
    wrapped = textwrap.wrap(text, width=112, break_long_words=False, break_on_hyphens=False)
    return "  - \"" + "\n    ".join(wrapped) + "\"\n"


# Words of _oauth2's table that only the interactive logins (device code, PKCE) report, never smtp_check.
_NOT_FROM_THE_PROBE = ("authorization_pending", "slow_down", "expired_token", "authorization_declined",
                       "bad_verification_code", "state_mismatch", "login_timeout")


def token_error_table(oauth2):
    """_oauth2's table: reason word, what selects it (AADSTS numbers, OAuth errors, SMTP replies), example, hint."""
    lines = ["| reason | selected by | example | hint |", "|---|---|---|---|"]
    for entry in oauth2.TOKEN_ERRORS + oauth2.SMTP_TOKEN_REPLIES:
        selected = ", ".join(code(c) for c in entry.codes) or "local condition"
        lines.append("| %s | %s | %s | %s |" % (code(entry.word), selected, md(entry.example), md(entry.hint)))
    return "\n".join(lines) + "\n"


def rows_table(rows, fields):
    """Any tuple of namedtuples as a Markdown table of the given fields (e.g. _oauth2.TOKEN_ERRORS)."""
    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    for row in rows:
        lines.append("| " + " | ".join(md(str(getattr(row, field) or "")) for field in fields) + " |")
    return "\n".join(lines) + "\n"


# file, block name, what goes between the markers
BLOCKS = [
    ("docs/reasons.md", "reasons", lambda: reason_table(module_util("_probe/reasons.py"))),
    ("plugins/modules/smtp_check.py", "reasons", lambda: module_reason_list(module_util("_probe/reasons.py"),
                                                                            module_util("_oauth2.py"))),
    ("docs/microsoft.md", "microsoft-replies", lambda: microsoft_reply_table(module_util("_probe/reasons.py"))),
    ("docs/reasons.md", "token-errors", lambda: token_error_table(module_util("_oauth2.py"))),
]


def render(text, name, body, markdown):
    """text with block name replaced by body (appended with markers when missing)."""
    pattern = re.compile(r"(^[^\n]*BEGIN generated: %s\b[^\n]*\n)(.*?)(^[^\n]*END generated: %s\b[^\n]*$)"
                         % (re.escape(name), re.escape(name)), re.S | re.M)
    if pattern.search(text):
        return pattern.sub(lambda match: match.group(1) + body + match.group(3), text, count=1)
    if not markdown:
        raise SystemExit("%s: no markers for the generated block %r" % (ME, name))
    return text.rstrip("\n") + "\n\n<!-- BEGIN generated: %s (by %s; do not edit) -->\n%s<!-- END generated: %s -->\n" % (
        name, ME, body, name)


def generate():
    """{path: (current text, generated text)} for every file of BLOCKS."""
    files = {}
    for path, name, body in BLOCKS:
        full = os.path.join(ROOT, path)
        if path not in files:
            with open(full, encoding="utf-8") as handle:
                current = handle.read()
            files[path] = [current, current]
        files[path][1] = render(files[path][1], name, body(), path.endswith(".md"))
    return files


def stale():
    """The files whose generated blocks differ from the tables."""
    return sorted(path for path, (current, wanted) in generate().items() if current != wanted)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    args = parser.parse_args(argv)
    if args.check:
        outdated = stale()
        for path in outdated:
            print("%s: stale generated block, run: python %s" % (path, ME))
        return 1 if outdated else 0
    for path, (current, wanted) in generate().items():
        if current != wanted:
            with open(os.path.join(ROOT, path), "w", encoding="utf-8") as handle:
                handle.write(wanted)
            print("%s: written" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
