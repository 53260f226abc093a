# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""docs/oauth2.md's troubleshooting table is TOKEN_ERRORS (and the SMTP replies of app tokens), rendered.

Regenerate after changing the table: python tests/unit/plugins/module_utils/test_oauth2_docs.py --write
"""

from __future__ import annotations

import pathlib
import re
import sys

DOC = pathlib.Path(__file__).resolve().parents[4] / "docs" / "oauth2.md"
BEGIN = "<!-- BEGIN TOKEN_ERRORS (generated) -->"
END = "<!-- END TOKEN_ERRORS -->"


def _oauth2():
    try:
        from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2 as module
    except ImportError:  # run as a script from a checkout
        sys.path.insert(0, str(DOC.parents[1] / "plugins" / "module_utils"))
        import _oauth2 as module  # pylint: disable=import-error
    return module


def render():
    module = _oauth2()
    rows = ["| reason | Microsoft says | what to do |", "|---|---|---|"]
    for entry in module.TOKEN_ERRORS + module.SMTP_TOKEN_REPLIES:
        says = ", ".join("`%s`" % code for code in entry.codes) or "(found on this side)"
        example = entry.example.replace("|", "\\|")
        rows.append("| `%s` | %s<br>e.g. *%s* | %s |" % (entry.word, says, example, entry.hint.replace("|", "\\|")))
    return "\n".join(rows)


def current():
    text = DOC.read_text(encoding="utf-8")
    match = re.search(re.escape(BEGIN) + r"\n(.*?)\n?" + re.escape(END), text, re.S)
    assert match, "markers missing in %s" % DOC
    return text, match


def test_the_troubleshooting_table_is_generated_from_token_errors():
    _text, match = current()
    assert match.group(1).strip() == render(), "docs/oauth2.md is stale: run %s --write" % __file__


def test_every_required_code_is_in_the_guide():
    text = DOC.read_text(encoding="utf-8")
    for code in ("AADSTS7000215", "AADSTS7000222", "AADSTS700027", "AADSTS700016", "AADSTS90002", "AADSTS1002012",
                 "AADSTS65001", "AADSTS700082", "AADSTS50173", "AADSTS70000", "AADSTS7000218", "535 5.7.3",
                 "New-ServicePrincipal", "Add-MailboxPermission", "Add-RecipientPermission", "SMTP.SendAsApp"):
        assert code in text, code
    # Every relative link stays inside the repository: users of the collection have nothing else.
    root = DOC.parent.parent.resolve()
    for target in re.findall(r"\]\(([^)#:]+)", text):
        assert (DOC.parent / target).resolve().is_relative_to(root), target


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        text, match = current()
        DOC.write_text(text[:match.start(1)] + render() + "\n" + text[match.end(1):].lstrip("\n"), encoding="utf-8")
    else:
        print(render())
