# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each role's README, meta/argument_specs.yml and defaults/main.yml agree.

The README table is generated (tests/lib/role_readme.py); these tests fail when someone edits one side only, and
they read the table back on their own, so a fault in the generator does not hide a disagreement.
"""

from __future__ import annotations

import importlib.util
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = ["account", "app_smtp", "msmtp", "oauth2_token", "postfix_relay"]
ROW = re.compile(r"^\| `([^`]+)` \| ([^|]*) \| (.*?) \| (.*) \|$")


def _load_generator():
    spec = importlib.util.spec_from_file_location("role_readme", os.path.join(ROOT, "tests", "lib", "role_readme.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


role_readme = _load_generator()


def _yaml(role, *parts):
    with open(os.path.join(ROOT, "roles", role, *parts), encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _readme_rows(role):
    """{variable: (type, default cell, description)} of the README table between the markers."""
    with open(os.path.join(ROOT, "roles", role, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    assert text.count(role_readme.BEGIN_MARKER) == 1 and text.count(role_readme.END_MARKER) == 1, \
        "roles/%s/README.md has no generated variable table" % role
    table = text.split(role_readme.BEGIN_MARKER)[1].split(role_readme.END_MARKER)[0]
    rows = {}
    for line in table.strip().splitlines()[2:]:
        match = ROW.match(line)
        assert match, "roles/%s/README.md: not a table row: %r" % (role, line)
        assert match.group(1) not in rows, "roles/%s/README.md: %s twice" % (role, match.group(1))
        rows[match.group(1)] = (match.group(2).strip(), match.group(3).strip(), match.group(4).strip())
    return rows


def _all_options(options, prefix=""):
    for name, option in options.items():
        full = prefix + name
        yield full, option
        if option.get("options"):
            yield from _all_options(option["options"], full + ("[]." if option.get("type") == "list" else "."))


def test_every_role_is_covered():
    assert role_readme.role_names(ROOT) == ROLES


def test_generated_tables_are_current():
    stale = [role for role in ROLES if len(set(role_readme.render_readme(role, ROOT))) != 1]
    assert not stale, "README tables out of date for %s: run python tests/lib/role_readme.py" % stale
    assert role_readme.main(["--check"]) == 0


@pytest.mark.parametrize("role", ROLES)
def test_readme_lists_every_option_and_nothing_else(role):
    spec = dict(_all_options(role_readme.load_options(role, ROOT)))
    rows = _readme_rows(role)
    assert sorted(rows) == sorted(spec)


@pytest.mark.parametrize("role", ROLES)
def test_readme_type_and_default_match_argument_specs(role):
    rows = _readme_rows(role)
    for name, option in _all_options(role_readme.load_options(role, ROOT)):
        kind, default, description = rows[name]
        assert option.get("type"), "%s: %s has no type in argument_specs" % (role, name)
        assert option.get("description"), "%s: %s has no description in argument_specs" % (role, name)
        expected_kind = option["type"] + (" of %s" % option["elements"] if option.get("elements") else "")
        assert kind == expected_kind, "%s: %s" % (role, name)
        if "default" in option:
            # Read back as YAML, the way a user would copy it into a vars file.
            assert default.startswith("`") and default.endswith("`"), "%s: %s default %r" % (role, name, default)
            assert yaml.safe_load(default[1:-1]) == option["default"], "%s: %s" % (role, name)
        elif option.get("required"):
            assert default == "required", "%s: %s" % (role, name)
        else:
            assert default == "", "%s: %s shows a default %r that argument_specs does not have" % (role, name, default)
        for choice in option.get("choices", []):
            assert "`%s`" % choice in description, "%s: %s choice %s" % (role, name, choice)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_argument_specs(role):
    """defaults/main.yml sets exactly the documented variables, with the documented default.

    A default computed from other variables (a Jinja2 expression) has no default in argument_specs: there its
    description says what it is.
    """
    options = role_readme.load_options(role, ROOT)
    defaults = _yaml(role, "defaults", "main.yml")
    assert sorted(defaults) == sorted(options)
    for name, option in options.items():
        value = defaults[name]
        if isinstance(value, str) and "{{" in value:
            assert "default" not in option, "%s: %s is computed, argument_specs must not claim a fixed default" % (role, name)
            assert "Default" in " ".join(option["description"] if isinstance(option["description"], list)
                                         else [option["description"]]), "%s: %s: say what the default is" % (role, name)
        else:
            assert option.get("default") == value, "%s: %s" % (role, name)


def test_generator_refuses_a_readme_without_markers(tmp_path):
    role_dir = tmp_path / "roles" / "demo"
    (role_dir / "meta").mkdir(parents=True)
    (role_dir / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      demo_x:\n        type: bool\n        default: true\n"
        "        description: X.\n", encoding="utf-8")
    (role_dir / "README.md").write_text("# demo\n", encoding="utf-8")
    with pytest.raises(ValueError, match="BEGIN variables"):
        role_readme.render_readme("demo", str(tmp_path))


def test_generator_finds_a_stale_table(tmp_path):
    role_dir = tmp_path / "roles" / "demo"
    (role_dir / "meta").mkdir(parents=True)
    (role_dir / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      demo_x:\n        type: list\n        elements: str\n"
        "        default: []\n        description: O(demo_x) | pipes.\n        choices: [a]\n", encoding="utf-8")
    (role_dir / "README.md").write_text(
        "# demo\n%s\n| `demo_x` | bool | `true` | old |\n%s\n" % (role_readme.BEGIN_MARKER, role_readme.END_MARKER),
        encoding="utf-8")
    current, wanted = role_readme.render_readme("demo", str(tmp_path))
    assert current != wanted
    assert "| `demo_x` | list of str | `[]` | `demo_x` \\| pipes. Choices: `a`. |" in wanted


def test_generator_writes_doc_markup_as_markdown():
    assert role_readme.markdown("M(mailops.live_smtp.smtp_check)'s O(timeout), V(true), C(x) and I(y)") == \
        "`mailops.live_smtp.smtp_check`'s `timeout`, `true`, `x` and *y*"
