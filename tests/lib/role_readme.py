# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Generate the variable table of each role README from its meta/argument_specs.yml.

    python tests/lib/role_readme.py            rewrite the table between the markers of every roles/*/README.md
    python tests/lib/role_readme.py --check    exit 1 and name each README whose table differs (tests/unit runs this)

The table sits between BEGIN_MARKER and END_MARKER; everything else in the README is hand-written. Suboptions are
rows of their own, named like the O() markup names them (live_smtp_accounts[].oauth2.client_id).
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import re
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BEGIN_MARKER = "<!-- BEGIN variables: generated from meta/argument_specs.yml by tests/lib/role_readme.py, do not edit -->"
END_MARKER = "<!-- END variables -->"
HEADER = ["| variable | type | default | description |", "|---|---|---|---|"]

# Ansible's doc markup -> Markdown. O(name=value), V(), C() and M() become code; I() emphasis; L()/U() links.
_MARKUP = [
    (re.compile(r"[OCVM]\(([^()]*)\)"), r"`\1`"),
    (re.compile(r"I\(([^()]*)\)"), r"*\1*"),
    (re.compile(r"L\(([^(),]*),\s*([^()]*)\)"), r"[\1](\2)"),
    (re.compile(r"U\(([^()]*)\)"), r"<\1>"),
]


def role_names(root=ROOT):
    """Every role of the collection that has an argument_specs.yml, sorted."""
    roles_dir = os.path.join(root, "roles")
    return sorted(name for name in os.listdir(roles_dir)
                  if os.path.isfile(os.path.join(roles_dir, name, "meta", "argument_specs.yml")))


def load_options(role, root=ROOT):
    """The options of the role's main entry point."""
    with open(os.path.join(root, "roles", role, "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        return yaml.safe_load(handle)["argument_specs"]["main"]["options"]


def flatten(options, prefix=""):
    """(name, option) for every option and suboption, depth first, in the file's order."""
    for name, option in options.items():
        full = prefix + name
        yield full, option
        if option.get("options"):
            sub_prefix = full + ("[]." if option.get("type") == "list" else ".")
            yield from flatten(option["options"], sub_prefix)


def markdown(text):
    for pattern, replacement in _MARKUP:
        text = pattern.sub(replacement, text)
    return text


def type_cell(option):
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements"):
        return "list of %s" % option["elements"]
    return kind


def default_text(value):
    """A default as YAML writes it: the README shows what goes into a vars file."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, (list, dict)):
        return yaml.safe_dump(value, default_flow_style=True, width=1000).strip()
    text = str(value)
    try:
        plain = yaml.safe_load(text) == value
    except yaml.YAMLError:
        plain = False
    # Quoted where YAML would read the plain text as something else (">=TLSv1.2", "", "yes").
    return text if plain else json.dumps(text)


def default_cell(option):
    if "default" in option:
        return "`%s`" % default_text(option["default"])
    if option.get("required"):
        return "required"
    return ""


def description_cell(option):
    description = option.get("description", "")
    if isinstance(description, list):
        description = " ".join(description)
    text = markdown(" ".join(description.split()))
    if option.get("choices"):
        text += " Choices: %s." % ", ".join("`%s`" % default_text(choice) for choice in option["choices"])
    if option.get("no_log"):
        text += " Secret (`no_log`)."
    return text.replace("|", "\\|")


def render_table(role, root=ROOT):
    lines = [BEGIN_MARKER] + HEADER
    for name, option in flatten(load_options(role, root)):
        lines.append("| `%s` | %s | %s | %s |" % (name, type_cell(option), default_cell(option), description_cell(option)))
    lines.append(END_MARKER)
    return "\n".join(lines)


def render_readme(role, root=ROOT):
    """The README with its table regenerated. A README without the markers is an error, not a silent pass."""
    path = os.path.join(root, "roles", role, "README.md")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    if text.count(BEGIN_MARKER) != 1 or text.count(END_MARKER) != 1:
        raise ValueError("%s: needs exactly one %r and one %r line" % (path, BEGIN_MARKER, END_MARKER))
    head, rest = text.split(BEGIN_MARKER)
    tail = rest.split(END_MARKER, 1)[1]
    return text, head + render_table(role, root) + tail


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when a README is out of date")
    parser.add_argument("roles", nargs="*", help="roles to do (default: every role)")
    args = parser.parse_args(argv)
    stale = []
    for role in args.roles or role_names():
        current, wanted = render_readme(role)
        if current == wanted:
            continue
        stale.append(role)
        if not args.check:
            with open(os.path.join(ROOT, "roles", role, "README.md"), "w", encoding="utf-8") as handle:
                handle.write(wanted)
            print("rewrote roles/%s/README.md" % role)
    if args.check and stale:
        print("README variable tables out of date: %s; run python tests/lib/role_readme.py" % ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
