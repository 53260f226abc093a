# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input never gets written: app_config's main(), run for real on temporary files, with malformed and truncated
files for every preset, and the INI readers checked against the real go-ini and Python's configparser.

Every run must end in a clear refusal (the module's own failure, no traceback) that names the file, holds no secret
and leaves the file byte-identical with nothing beside it, or in a file the application's own reader loads with the
exact password in it. Hypothesis examples are bounded (max_examples) and derandomized; inputs are counted per
surface (see tests/unit/conftest.py)."""

from __future__ import annotations

import ast
import configparser
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ansible.module_utils.testing import patch_module_args

from ansible_collections.mailops.live_smtp.plugins.module_utils import _app_formats as af
from ansible_collections.mailops.live_smtp.plugins.modules import app_config

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = os.path.join(HERE, "..", "..", "..", "integration", "targets", "app_smtp", "files")
PASSWORD = "pw-Zq7f3a#;\"'\\ x"  # Zq7f3a: the marker no output may contain
ACCOUNT = {"name": "outlook", "username": "alerts@outlook.com", "password": PASSWORD}
BOUNDED = settings(derandomize=True, max_examples=60, deadline=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def full(name):
    with open(os.path.join(FILES, "full", name), encoding="utf-8") as handle:
        return handle.read()


def run_module(args):
    """main() of app_config as Ansible runs it: (failed, result)."""
    out = io.StringIO()
    with patch_module_args(dict(args, _ansible_diff=True)), contextlib.redirect_stdout(out):
        with pytest.raises(SystemExit):
            app_config.main()
    result = json.loads(out.getvalue())
    return bool(result.get("failed")), result


def attempt(preset, before, args=None):
    """Run the module on a file holding `before`; check the refusal rules; return (failed, result, after)."""
    work = tempfile.mkdtemp(prefix="app-config-inputs-")
    try:
        path = os.path.join(work, "config")
        with open(path, "wb") as handle:
            handle.write(before.encode("utf-8", "surrogatepass"))
        os.chmod(path, 0o600)
        base = {"path": path, "account": ACCOUNT}
        if preset:
            base["preset"] = preset
        failed, result = run_module(dict(base, **(args or {})))
        with open(path, "rb") as handle:
            after = handle.read().decode("utf-8", "surrogatepass")
        assert sorted(os.listdir(work)) == ["config"], "a file was left beside the config"
        text = json.dumps(result)
        assert "Zq7f3a" not in text, "a secret in the module's output"
        assert "Traceback" not in text and "exception" not in result
        if failed:
            assert after == before, "a refused run changed the file"
            assert result["msg"].startswith(path + ": "), result["msg"]
        return failed, result, after
    finally:
        shutil.rmtree(work)


# ------------------------------------------------------------------------------------------------ the two INI cases

INI_CASES = {
    "grafana": ("grafana.ini", "[smtp]", "[server]\n", "enable_gzip\n"),
    "gitea": ("gitea.ini", "[mailer]", "[server]\n", "DISABLE_SSH\n"),
}


@pytest.mark.parametrize("preset", sorted(INI_CASES))
def test_full_size_configs_load_and_take_the_account(preset, goini_reader):
    name, _header, _section, _bad = INI_CASES[preset]
    before = full(name)
    assert len(re.findall(r"(?m)^;?[A-Za-z_][A-Za-z0-9_.-]* =", before)) > 600  # hundreds of settings, as shipped
    assert isinstance(goini_reader(preset, before), dict)
    failed, result, after = attempt(preset, before)
    assert not failed, result
    section = af.PRESETS[preset].section
    got = goini_reader(preset, after)[section]
    assert got["password" if preset == "grafana" else "PASSWD"] == PASSWORD
    assert after.count("[%s]" % section) == 1, "a second section was appended"
    # Only the managed lines changed: every old line is still there, in order.
    kept = iter(after.splitlines())
    assert all(line in kept for line in before.splitlines() if not re.match(r"^(password|PASSWD|enabled|ENABLED) =", line))


@pytest.mark.parametrize("preset", sorted(INI_CASES))
@pytest.mark.parametrize("damage", ["unclosed header", "line without ="])
def test_full_size_configs_the_application_refuses_are_left_alone(preset, damage, goini_reader):
    name, header, section, bad = INI_CASES[preset]
    before = full(name)
    if damage == "unclosed header":
        before = before.replace(header + "\n", header[:-1] + "\n")
        line = before.splitlines().index(header[:-1]) + 1
    else:
        before = before.replace(section, section + bad, 1)
        line = before.splitlines().index(bad.strip()) + 1
    assert isinstance(goini_reader(preset, before), str), "the real go-ini must refuse this file too"
    failed, result, _after = attempt(preset, before)
    assert failed
    assert "line %d:" % line in result["msg"]
    assert "cannot load the file" in result["msg"] and "nothing was changed" in result["msg"]


@pytest.mark.parametrize("header", ["[SMTP]", "[ smtp ]", "[smtp] ; see [docs]", "\ufeff[smtp]", "[smtp] trailing"])
def test_no_second_section_is_appended(header, goini_reader):
    before = "app_mode = production\n%s\nhost = old:25\n\n[emails]\nx = 1\n" % header
    failed, result, after = attempt("grafana", before)
    if failed:  # a near miss, or a BOM inside the file, which go-ini reads as part of a key line
        assert re.search(r"line 2: (a section header that .* does not read as \[smtp\]|a line with neither)", result["msg"])
    else:
        assert "[smtp]" not in after.replace(header, "")
        assert goini_reader("grafana", after)["smtp"]["password"] == PASSWORD


def test_a_repeated_section_gets_the_value_where_go_ini_reads_it(goini_reader):
    before = "[smtp]\nhost = a:25\n[emails]\nx = 1\n[smtp]\npassword = old\n"
    failed, _result, after = attempt("grafana", before)
    assert not failed
    assert goini_reader("grafana", after)["smtp"]["password"] == PASSWORD
    assert "old" not in after


def test_a_continued_line_never_swallows_the_password(goini_reader):
    # Grafana continues a value that ends in a backslash; the file ends there, so the new key would join it.
    failed, result, _after = attempt("grafana", "[smtp]\nehlo_identity = me\\\n")
    assert failed and re.search(r"would not read \w+ back as written", result["msg"])
    failed, _result, after = attempt("gitea", "[mailer]\nHELO_HOSTNAME = me\\\n")  # Gitea ignores continuations
    assert not failed and goini_reader("gitea", after)["mailer"]["PASSWD"] == PASSWORD


# ------------------------------------------------------------------------------------------------ go-ini, differential

FRAGMENTS = ["[smtp]", "[smtp", "[", "]", "[]", "[ smtp ]", "key = value", "key", "=", ":", " = ", ";c", "#c", '"""',
             "`", "\\", " ", "\t", "password = x", '"k" = v', "`k` = v", "-", "- = auto", "é", "\r", "\x0b", "\x1c",
             "\u00a0", "'q'", '"q"', "a#b", "a;b", '"""v"""', "x\\"]
INI_TEXT = st.lists(st.lists(st.sampled_from(FRAGMENTS), min_size=0, max_size=4).map("".join), max_size=8).map(
    "\n".join) | st.text(st.sampled_from(list("[]=:;#\"`\\ \tab\n\r")), max_size=40)


@settings(BOUNDED, max_examples=250)
@given(text=INI_TEXT, dialect=st.sampled_from(["grafana", "gitea"]))
@example(text="[smtp\nhost = a\n", dialect="grafana")
@example(text="[smtp]\nbogus\n", dialect="gitea")
@example(text='k = """a\nb', dialect="grafana")
@example(text="\ufeff[s]\nk=v", dialect="grafana")
def test_parse_goini_agrees_with_go_ini(goini_reader, count_input, text, dialect):
    """The Python reading of go-ini refuses exactly what go-ini refuses and reads the same values."""
    count_input("ini: go-ini reading vs real go-ini")
    real = goini_reader(dialect, text)
    try:
        layout = af.parse_goini(text, continuation=dialect == "grafana")
    except af.AppFormatError as exc:
        assert isinstance(real, str), "go-ini loads what the module refuses (%s): %r" % (exc, text)
        assert re.match(r"^line \d+: ", str(exc))
        return
    assert isinstance(real, dict), "go-ini refuses what the module accepts (%s): %r" % (real, text)
    ours = {}
    for key in layout.keys:
        ours.setdefault(key.section, {})[key.name] = key.value
    assert ours == {s: keys for s, keys in real.items() if keys}


# ------------------------------------------------------------------------------------------------ every preset

BASES = {
    "grafana": full("grafana.ini"),
    "gitea": full("gitea.ini"),
    "alertmanager": open(os.path.join(FILES, "before", "alertmanager.yml"), encoding="utf-8").read(),
    "django": open(os.path.join(FILES, "before", "settings_local.py"), encoding="utf-8").read(),
    "django_env": "# Django environment\nDEBUG=false\nSECRET_KEY='k#y'\nEMAIL_HOST=old\n",
    "nextcloud": open(os.path.join(FILES, "before", "config.php"), encoding="utf-8").read(),
    "env": "# app\nexport SMTP_HOST=old\nOTHER=\"a b\"\n",
}
MANAGED = {"grafana": ("smtp", "password"), "gitea": ("mailer", "PASSWD"), "alertmanager": ("global", "smtp_auth_password"),
           "django": (None, "EMAIL_HOST_PASSWORD"), "django_env": (None, "EMAIL_HOST_PASSWORD"),
           "nextcloud": (None, "mail_smtppassword"), "env": (None, "SMTP_PASSWORD")}
NOISE = ["[", "]", "=", ":", '"', "'", '"""', "`", "\\", "#", ";", "{", "}", "(", ")", "<?php", "$CONFIG", "-", "  ",
         "\t", "key", "password", "\r", "\x00", "\ufeff", "%(x)s", "---", "&a", "*a", "!!python/object", ",", ");"]


@st.composite
def damaged(draw, preset):
    """A real-looking file of the preset, truncated, with lines dropped, repeated or garbled."""
    lines = BASES[preset].splitlines(True)
    action = draw(st.sampled_from(["truncate", "drop", "repeat", "insert", "garble"]))
    if action == "truncate":
        text = "".join(lines)
        return text[:draw(st.integers(0, len(text)))]
    at = draw(st.integers(0, len(lines) - 1))
    if action == "drop":
        del lines[at]
    elif action == "repeat":
        lines.insert(at, lines[at])
    elif action == "insert":
        lines.insert(at, "".join(draw(st.lists(st.sampled_from(NOISE), min_size=1, max_size=4))) + "\n")
    else:
        line = lines[at]
        pos = draw(st.integers(0, len(line)))
        lines[at] = line[:pos] + draw(st.sampled_from(NOISE)) + line[pos + draw(st.integers(0, 2)):]
    return "".join(lines)


def read_back(preset, text, goini_reader):
    """The password as the application's own reader finds it in the written file."""
    section, key = MANAGED[preset]
    if preset in ("grafana", "gitea"):
        return goini_reader(preset, text)[section][key]
    if preset == "alertmanager":
        return yaml.safe_load(text)[section][key]
    if preset == "django":
        namespace = {}
        exec(compile(text, "settings_local.py", "exec"), namespace)  # the way Django imports a settings module
        return namespace[key]
    if preset in ("django_env", "env"):
        from dotenv import dotenv_values
        return dotenv_values(stream=io.StringIO(text))[key]
    if shutil.which("php"):
        with tempfile.NamedTemporaryFile("w", suffix=".php", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            code = 'include $argv[1]; echo json_encode($CONFIG["%s"]);' % key
            return json.loads(subprocess.run(["php", "-r", code, handle.name], check=True, capture_output=True).stdout)
    return PASSWORD


def _runs(source):
    """Whether a settings module imports at all (a NameError after a line was dropped is the file's own fault)."""
    try:
        exec(compile(source, "settings_local.py", "exec"), {})
    except Exception:  # noqa: BLE001 - any failure of the user's own code
        return False
    return True


# Found by these suites, kept as regression cases: ast.parse() accepts a bare "*a" that the compiler refuses; a
# config.php without its "<?php" line (or with "<?php[") is printed by PHP, not run; a lone CR is a line break to
# Python, so the parser's line numbers were not the file's and the diff showed the password (generic python below).
REGRESSIONS = {
    "django": ["*a\n" + BASES["django"], "\r\\\n" + BASES["django"]],
    "nextcloud": [BASES["nextcloud"].split("\n", 1)[1], BASES["nextcloud"].replace("<?php", "<?php[", 1)],
}


def _preset_test(preset):
    @BOUNDED
    @given(before=damaged(preset))
    def check(goini_reader, count_input, before):
        count_input("app_config %s: damaged file" % preset)
        failed, result, after = attempt(preset, before)
        if not failed:
            if preset == "django" and not _runs(before):
                compile(after, "settings_local.py", "exec")  # it fails at import before and after: only compiled
                return
            assert read_back(preset, after, goini_reader) == PASSWORD, "written, but the application reads another value"
    for before in REGRESSIONS.get(preset, []):
        check = example(before=before)(check)
    check.__name__ = "test_damaged_%s_file_is_refused_or_written_correctly" % preset
    return check


for _preset in sorted(BASES):
    globals()["test_damaged_%s_file_is_refused_or_written_correctly" % _preset] = _preset_test(_preset)


def test_every_preset_has_a_damaged_file_suite():
    assert sorted(BASES) == sorted(af.PRESETS) == sorted(MANAGED)


# ------------------------------------------------------------------------------------------------ generic formats

GENERIC = {
    "ini": ("[other]\nx = 1\n\n[mail]\n; sample\nhost = old\n", {"password": "mail.password"}, {"section": "mail"}),
    "yaml": ("app:\n  mail:\n    host: old   # kept\n", {"password": "app.mail.password"}, {}),
    "json": ('{\n  "app": {"mail": {"host": "old"}}\n}\n', {"password": "app.mail.password"}, {}),
    "python": ("import os\nHOST = 'old'\n", {"password": "MAIL_PASSWORD"}, {}),
    "php": ("<?php\n$CONFIG = array (\n  'x' => 1,\n);\n", {"password": "mail_password"}, {}),
    "dotenv": ("A=1\n", {"password": "MAIL_PASSWORD"}, {}),
}


@pytest.mark.parametrize("fmt", sorted(GENERIC))
@settings(BOUNDED, max_examples=25)
@given(data=st.data())
@example(data=None)
def test_damaged_generic_files(count_input, fmt, data):
    base, fields, extra = GENERIC[fmt]
    before = base
    if data is not None:
        lines = base.splitlines(True)
        at = data.draw(st.integers(0, len(lines) - 1))
        lines.insert(at, "".join(data.draw(st.lists(st.sampled_from(NOISE), min_size=1, max_size=3))) + "\n")
        before = "".join(lines)
    elif fmt == "ini":
        before = base.replace("x = 1", "x")  # a line configparser refuses
    count_input("app_config generic %s: damaged file" % fmt)
    args = dict({"format": fmt, "fields": fields}, **extra)
    if fmt == "ini":
        args["ini_dialect"] = "configparser"
    failed, result, after = attempt(None, before, args)
    if failed:
        return
    if fmt == "ini":
        parser = configparser.ConfigParser()
        parser.read_string(after)
        assert parser.get("mail", "password") == PASSWORD.replace("%%", "%")
    elif fmt == "yaml":
        assert yaml.safe_load(after)["app"]["mail"]["password"] == PASSWORD
    elif fmt == "json":
        assert json.loads(after)["app"]["mail"]["password"] == PASSWORD
    elif fmt == "python":
        tree = ast.parse(after)
        assert [ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                and n.targets[0].id == "MAIL_PASSWORD"] == [PASSWORD]


def test_configparser_refusals_name_the_line():
    for text, what in (("x = 1\n[mail]\n", "before the first [section]"), ("[mail]\nx\n", "neither a [section]"),
                       ("[mail]\nx = 1\n[mail]\n", "a second time"), ("[mail]\nX = 1\nx = 2\n", "a second time")):
        failed, result, _after = attempt(None, text, {"format": "ini", "ini_dialect": "configparser", "section": "mail",
                                                      "fields": {"password": "password"}})
        assert failed and what in result["msg"] and re.search(r": line \d+: ", result["msg"]), result["msg"]


def test_configparser_continuation_lines_are_replaced_with_the_key():
    before = "[mail]\npassword = old\n    continued\nhost = h\n"
    failed, _result, after = attempt(None, before, {"format": "ini", "ini_dialect": "raw", "section": "mail",
                                                    "fields": {"password": "password"}})
    assert not failed
    assert "continued" not in after
    parser = configparser.RawConfigParser()
    parser.read_string(after)
    assert parser.get("mail", "password") == PASSWORD and parser.get("mail", "host") == "h"


def test_configparser_keys_match_whatever_their_case():
    before = "[mail]\nPassword = old\n"
    failed, _result, after = attempt(None, before, {"format": "ini", "ini_dialect": "raw", "section": "mail",
                                                    "fields": {"password": "password"}})
    assert not failed and after.lower().count("password") == 1


def test_symbolic_modes_are_computed_without_private_helpers():
    assert app_config.symbolic_mode(0o600, "u=rw,g=r,o=") == 0o640
    assert app_config.symbolic_mode(0o640, "o+r") == 0o644
    assert app_config.symbolic_mode(0o644, "go-rwx") == 0o600
    assert app_config.symbolic_mode(0o750, "a+X") == 0o751
    assert app_config.symbolic_mode(0o640, "o=g") == 0o644
    with pytest.raises(af.AppFormatError):
        app_config.symbolic_mode(0o600, "rw")


def test_a_symbolic_world_readable_mode_is_refused():
    failed, result, _after = attempt("env", "A=1\n", {"mode": "a+r"})
    assert failed and "world-readable" in result["msg"]


def test_no_private_ansible_helper_and_atomic_move():
    with open(app_config.__file__, encoding="utf-8") as handle:
        source = handle.read()
    assert "module.atomic_move(" in source and "os.rename(" not in source
    assert not re.search(r"module\._(?!diff\b)\w+", source), "a private AnsibleModule helper"
    assert not re.search(r"from ansible\.\S* import .*\b_\w+", source)


def test_php_code_end_before_the_array_is_refused_but_not_inside_a_string():
    before = "<?php\n$CONFIG = array (\n  // ends here ?>\n  'x' => 1,\n);\n"
    failed, result, _after = attempt("nextcloud", before)  # php -l refuses it where installed, else the module
    assert failed and re.search(r"\?>|php -l says no \(rc \d+, line 3\)", result["msg"])
    failed, _result, after = attempt("nextcloud", "<?php\n$CONFIG = array (\n  'x' => 'a?>b',\n);\n")
    assert not failed and "'a?>b'" in after


def test_a_shell_dotenv_file_sh_cannot_read_is_refused():
    args = {"format": "dotenv", "dotenv_dialect": "shell", "fields": {"password": "MAIL_PASSWORD"}}
    failed, result, _after = attempt(None, "A=1\nif then\n", args)
    assert failed and "sh -n says no" in result["msg"] and "line 2" in result["msg"]
    failed, _result, after = attempt(None, "A=1\n", args)
    assert not failed
    out = subprocess.run(["sh", "-c", '. "$1"; printf %s "$MAIL_PASSWORD"', "sh", "/dev/stdin"], input=after.encode(),
                         capture_output=True, check=True).stdout.decode()
    assert out == PASSWORD


CONFIGPARSER_TEXT = st.lists(st.sampled_from(["[mail]", "[other]", "[mail", "password = old", "Password: old", "  continued",
                                              "x = 1", "x", "; c", "# c", "", "\t", "%", "%(x)s", "= v", "[DEFAULT]",
                                              "a = %%"]), max_size=8).map("\n".join)


@settings(BOUNDED, max_examples=150)
@given(text=CONFIGPARSER_TEXT, dialect=st.sampled_from(["configparser", "raw"]))
def test_configparser_editor_refuses_or_writes_what_configparser_reads(count_input, text, dialect):
    count_input("ini: configparser editor")
    settings_ = [(("password",), "new%;#pw", True)]
    try:
        after = af.edit("ini", text, settings_, {"section": "mail", "ini_dialect": dialect})
    except af.AppFormatError as exc:
        assert re.search(r"line \d+: |interpolation|%|configparser", str(exc)), str(exc)
        assert "new%" not in str(exc)
        return
    parser = configparser.ConfigParser() if dialect == "configparser" else configparser.RawConfigParser()
    parser.read_string(after if dialect == "configparser" else "[top]\n" + after)  # raw: keys before any section
    assert parser.get("mail", "password") == "new%;#pw"
