# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Format-aware edits of application configs: every password survives each format byte-exact, read back by the
application's own parser where it installs here (go-ini through Go, PHP, sh, python-dotenv, PyYAML, configparser,
json, Python literals); comments and unrelated settings survive; a second edit changes nothing."""

from __future__ import annotations

import ast
import configparser
import io
import json
import os
import shutil
import subprocess

import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from ansible_collections.mailops.live_smtp.plugins.module_utils import _app_formats as af

# Printable and awkward: quotes, backslashes, #;$%`{} and spaces (also at the ends), tabs, non-ASCII, emoji, NEL,
# U+2028. Line breaks and NUL are refused by every format (tested below), so they are left out here.
PASSWORD_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00")
PASSWORDS = st.text(PASSWORD_CHARS, min_size=0, max_size=40)
AWKWARD = [
    "", " ", "a b", " lead", "trail ", "\tt\t", "#", ";", "a;b#c", '"', "'", "''", '"""', '"""x"""', "`x`",
    "\\", "\\\\", "x\\", "\\'", "a'b\"c", "$HOME", "${HOME}", "$(id)", "`id`", "%", "%%", "%(x)", "=", "a=b",
    "[s]", "{{ x }}", "{% x %}", "é€😀", "\u0085", "\u2028", "\ufeff", "\x7f", "\x01", "- x", "? x", ": x", "&a",
    "*a", "!tag", "|", ">", "@", "true", "null", "~", "0x10", "1e3", "<?php", "?>", "'; echo 1; '",
]

DERANDOMIZED = settings(derandomize=True, max_examples=300, deadline=None,
                        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

ACCOUNT = {"name": "outlook", "username": "alerts@outlook.com", "password": "pw", "auth": "password",
           "host": "smtp-mail.outlook.com", "port": 587, "security": "starttls", "from": "alerts@outlook.com"}


def one(path, value, secret=True):
    return [(tuple(path), value, secret)]


# ------------------------------------------------------------------------------------------------ go-ini (real)

# The same reader the integration target builds: go-ini's Key.String() for every key, base64 in JSON.
GO_READER = os.path.join(os.path.dirname(__file__), "..", "..", "..", "integration", "targets", "app_smtp", "files", "goini_read.go")


@pytest.fixture(scope="session")
def goini(tmp_path_factory):
    """The real go-ini (Debian's golang-gopkg-ini.v1-dev, the library Grafana and Gitea use), built once."""
    if not shutil.which("go") or not os.path.isdir("/usr/share/gocode/src/gopkg.in/ini.v1"):
        pytest.skip("go and golang-gopkg-ini.v1-dev are not installed (tests/setup.sh installs them)")
    work = tmp_path_factory.mktemp("goini")
    shutil.copy(GO_READER, str(work / "main.go"))
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=str(work / "cache"))
    subprocess.run(["go", "build", "-o", str(work / "goini"), str(work / "main.go")], check=True, env=env, cwd=work)

    def read(dialect, text):
        path = work / "input.ini"
        path.write_bytes(text.encode("utf-8"))
        out = subprocess.run([str(work / "goini"), dialect, str(path)], check=True, capture_output=True).stdout
        import base64
        return {s: {k: base64.b64decode(v).decode("utf-8") for k, v in keys.items()} for s, keys in json.loads(out).items()}
    return read


GOINI_SAFE = PASSWORDS.filter(lambda p: not af._GOINI_RECURSIVE.search(p))


@pytest.mark.parametrize("dialect", ["grafana", "gitea"])
@settings(derandomize=True, max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(passwords=st.lists(GOINI_SAFE, min_size=150, max_size=150))
def test_goini_values_survive_byte_exact(goini, dialect, passwords):
    passwords = AWKWARD_GOINI + passwords
    text = "; a comment\napp_mode = production\n[smtp]\n;host = localhost:25\n"
    for i, password in enumerate(passwords):
        text = af.edit("ini", text, one(("k%d" % i,), password), {"section": "smtp", "ini_dialect": "goini"})
    got = goini(dialect, text)["smtp"]
    for i, password in enumerate(passwords):
        assert got["k%d" % i] == password, (dialect, password)
    assert af.edit("ini", text, one(("k0",), passwords[0]), {"section": "smtp", "ini_dialect": "goini"}) == text
    assert goini(dialect, text)["DEFAULT"]["app_mode"] == "production"


AWKWARD_GOINI = [p for p in AWKWARD if not af._GOINI_RECURSIVE.search(p)]


def test_goini_refuses_recursive_value_syntax():
    with pytest.raises(af.AppFormatError, match="%\\(name\\)s"):
        af.edit("ini", "", one(("password",), "a%(USER)sb"), {"section": "smtp", "ini_dialect": "goini"})


def test_goini_would_expand_recursive_values(goini):
    # Why the refusal above: go-ini's Key.String() replaces %(USER)s by the USER key's value.
    got = goini("gitea", '[mailer]\nUSER = me\nPASSWD = """a%(USER)sb"""\n')
    assert got["mailer"]["PASSWD"] == "ameb"


def test_grafana_preset_refuses_what_grafana_expands():
    account = dict(ACCOUNT, password="pa${HOME}ss")
    with pytest.raises(af.AppFormatError, match="Grafana would expand"):
        af.preset_settings("grafana", "direct", account)
    # Gitea does not expand it.
    assert ("PASSWD",) in [p for p, _v, _s in af.preset_settings("gitea", "direct", account)]


@pytest.mark.parametrize("preset", ["grafana", "gitea"])
def test_goini_presets_read_back_by_goini(goini, preset):
    account = dict(ACCOUNT, password='p"""#;\\ x ')
    spec = af.PRESETS[preset]
    text = af.edit("ini", GRAFANA_INI if preset == "grafana" else GITEA_INI,
                   af.preset_settings(preset, "direct", account), spec.options())
    got = goini(preset, text)[spec.section]
    if preset == "grafana":
        assert got["password"] == account["password"]
        assert got["host"] == "smtp-mail.outlook.com:587"
        assert got["startTLS_policy"] == "MandatoryStartTLS"
        assert goini(preset, text)["server"]["http_port"] == "3000"
    else:
        assert got["PASSWD"] == account["password"]
        assert got["PROTOCOL"] == "smtp+starttls"
        assert goini(preset, text)["database"]["PASSWD"] == "db#secret"


GRAFANA_INI = """##################### Grafana Configuration #####################
app_mode = production

[server]
# The http port to use
http_port = 3000

#################################### SMTP / Emailing ##########################
[smtp]
;enabled = false
;host = localhost:25
;user =
# If the password contains # or ; you have to wrap it with triple quotes. Ex \"\"\"#password;\"\"\"
;password =
;from_address = admin@grafana.localhost
;startTLS_policy =

[emails]
;welcome_email_on_sign_up = false
"""

GITEA_INI = """APP_NAME = Gitea: Git with a cup of tea
RUN_MODE = prod

[database]
DB_TYPE = postgres
PASSWD = `db#secret`

[mailer]
; Mail settings
ENABLED = false
"""


# ------------------------------------------------------------------------------------------------ configparser

@DERANDOMIZED
@given(password=PASSWORDS.filter(lambda p: p == p.strip()))
def test_configparser_dialects_survive(password):
    for dialect, parser in (("configparser", configparser.ConfigParser()), ("raw", configparser.RawConfigParser())):
        text = af.edit("ini", "[other]\nx = 1\n", one(("password",), password), {"section": "smtp", "ini_dialect": dialect})
        parser.optionxform = str
        parser.read_string(text)
        assert parser.get("smtp", "password") == password
        assert af.edit("ini", text, one(("password",), password), {"section": "smtp", "ini_dialect": dialect}) == text
        assert parser.get("other", "x") == "1"


def test_configparser_refuses_edge_spaces():
    with pytest.raises(af.AppFormatError, match="strips spaces"):
        af.edit("ini", "", one(("password",), " x"), {"section": "s", "ini_dialect": "raw"})


# ------------------------------------------------------------------------------------------------ dotenv

@DERANDOMIZED
@given(password=PASSWORDS)
def test_python_dotenv_reads_back(password):
    from dotenv import dotenv_values
    text = af.edit("dotenv", "# keep\nOTHER=${HOME}\nexport SMTP_PASSWORD=old\n", one(("SMTP_PASSWORD",), password))
    values = dotenv_values(stream=io.StringIO(text))
    assert values["SMTP_PASSWORD"] == password
    assert af.edit("dotenv", text, one(("SMTP_PASSWORD",), password)) == text
    for dialect in ("python", "shell"):
        again = af.edit("dotenv", text, one(("SMTP_PASSWORD",), password + "x"), {"dotenv_dialect": dialect})
        assert af.edit("dotenv", again, one(("SMTP_PASSWORD",), password), {"dotenv_dialect": dialect}).count("SMTP_PASSWORD") == 1
    assert text.startswith("# keep\nOTHER=${HOME}\nexport SMTP_PASSWORD=")


@settings(derandomize=True, max_examples=4, deadline=None)
@given(passwords=st.lists(PASSWORDS, min_size=150, max_size=150))
def test_shell_dialect_sourced_by_sh(tmp_path_factory, passwords):
    passwords = AWKWARD + passwords
    text = ""
    for i, password in enumerate(passwords):
        text = af.edit("dotenv", text, one(("P%d" % i,), password), {"dotenv_dialect": "shell"})
    path = tmp_path_factory.mktemp("sh") / "env"
    path.write_bytes(text.encode("utf-8"))
    script = '. "$1"; printf "%s\\0" ' + " ".join('"$P%d"' % i for i in range(len(passwords)))
    out = subprocess.run(["sh", "-c", script, "sh", str(path)], check=True, capture_output=True).stdout
    assert out.decode("utf-8").split("\0")[:-1] == passwords


# ------------------------------------------------------------------------------------------------ YAML

ALERTMANAGER_YML = """# Alertmanager configuration, managed partly by hand
global:
  # how long to wait before declaring an alert resolved
  resolve_timeout: 5m
  smtp_from: 'old@example.com'   # old sender

route:
  receiver: team-mail
  group_by: ['alertname']

receivers:
- name: team-mail
  email_configs:
  - to: team@example.com
    send_resolved: true
"""


@DERANDOMIZED
@given(password=PASSWORDS)
def test_yaml_reads_back_with_pyyaml(password):
    text = af.edit("yaml", ALERTMANAGER_YML, one(("global", "smtp_auth_password"), password))
    data = yaml.safe_load(text)
    assert data["global"]["smtp_auth_password"] == password
    assert af.edit("yaml", text, one(("global", "smtp_auth_password"), password)) == text
    assert data["receivers"][0]["email_configs"][0]["to"] == "team@example.com"
    assert "# how long to wait before declaring an alert resolved\n" in text


def test_yaml_keeps_comments_and_is_idempotent():
    settings_ = af.preset_settings("alertmanager", "direct", ACCOUNT)
    once = af.edit("yaml", ALERTMANAGER_YML, settings_)
    assert af.edit("yaml", once, settings_) == once
    for line in ALERTMANAGER_YML.splitlines():
        if "smtp_from" not in line:
            assert line in once.splitlines()
    assert '  smtp_from: "alerts@outlook.com"   # old sender' in once.splitlines()
    data = yaml.safe_load(once)
    assert data["global"]["smtp_smarthost"] == "smtp-mail.outlook.com:587"
    assert data["global"]["smtp_require_tls"] is True
    assert data["global"]["resolve_timeout"] == "5m"


@pytest.mark.parametrize("text", ["global: {smtp_from: x}\n", "global: &g\n  a: 1\n", "a: 1\n---\nb: 2\n", "global:\n- a\n"])
def test_yaml_refuses_what_it_cannot_edit_safely(text):
    with pytest.raises(af.AppFormatError):
        af.edit("yaml", text, one(("global", "smtp_from"), "x"))


def test_yaml_creates_nested_paths():
    text = af.edit("yaml", "app:\n  name: x\n", one(("app", "mail", "smtp", "password"), "p#w"))
    assert yaml.safe_load(text) == {"app": {"name": "x", "mail": {"smtp": {"password": "p#w"}}}}


# ------------------------------------------------------------------------------------------------ JSON

@DERANDOMIZED
@given(password=PASSWORDS)
def test_json_reads_back_and_keeps_order_and_indent(password):
    original = '{\n    "z": 1,\n    "mail": {\n        "host": "x"\n    },\n    "a": [1, 2]\n}\n'
    text = af.edit("json", original, one(("mail", "password"), password))
    data = json.loads(text)
    assert data["mail"]["password"] == password
    assert list(data) == ["z", "mail", "a"]
    assert '\n    "z": 1,' in text
    assert af.edit("json", text, one(("mail", "password"), password)) == text


# ------------------------------------------------------------------------------------------------ PHP (real php)

NEXTCLOUD_CONFIG = """<?php
$CONFIG = array (
  'instanceid' => 'oc1234',
  // trusted domains, edited by hand
  'trusted_domains' =>
  array (
    0 => 'cloud.example.com',
  ),
  'dbpassword' => 'db\\'pw',
  'mail_smtppassword' => 'old',
);
"""


@settings(derandomize=True, max_examples=4, deadline=None)
@given(passwords=st.lists(PASSWORDS, min_size=150, max_size=150))
def test_php_reads_back(tmp_path_factory, passwords):
    if not shutil.which("php"):
        pytest.skip("php-cli is not installed (tests/setup.sh installs it)")
    passwords = AWKWARD + passwords
    text = NEXTCLOUD_CONFIG
    for i, password in enumerate(passwords):
        text = af.edit("php", text, one(("k%d" % i,), password))
    path = tmp_path_factory.mktemp("php") / "config.php"
    path.write_bytes(text.encode("utf-8"))
    code = 'include $argv[1]; echo json_encode(array_map("base64_encode", array_filter($CONFIG, "is_string")));'
    out = subprocess.run(["php", "-r", code, str(path)], check=True, capture_output=True).stdout
    import base64
    got = {k: base64.b64decode(v).decode("utf-8") for k, v in json.loads(out).items()}
    for i, password in enumerate(passwords):
        assert got["k%d" % i] == password
        assert af.edit("php", text, one(("k%d" % i,), password)) == text
    assert got["dbpassword"] == "db'pw"
    assert "// trusted domains, edited by hand\n" in text


def test_php_preset_edits_in_place():
    settings_ = af.preset_settings("nextcloud", "direct", dict(ACCOUNT, password="n'c\\"))
    once = af.edit("php", NEXTCLOUD_CONFIG, settings_)
    assert "  'mail_smtppassword' => 'n\\'c\\\\',\n" in once
    assert once.count("mail_smtppassword") == 1
    assert "  'mail_from_address' => 'alerts',\n" in once and "  'mail_domain' => 'outlook.com',\n" in once
    assert af.edit("php", once, settings_) == once


# ------------------------------------------------------------------------------------------------ Python settings

DJANGO_SETTINGS = '''"""Local settings."""
import os

DEBUG = False
# mail: filled in by Ansible
EMAIL_HOST = "old.example.com"
EMAIL_HOST_PASSWORD = (
    "old"
)
ALLOWED_HOSTS = ["example.com"]
'''


@DERANDOMIZED
@given(password=PASSWORDS)
def test_python_settings_read_back(password):
    text = af.edit("python", DJANGO_SETTINGS, one(("EMAIL_HOST_PASSWORD",), password))
    namespace = {}
    exec(compile(text, "settings_local.py", "exec"), namespace)  # the way Django imports a settings module
    assert namespace["EMAIL_HOST_PASSWORD"] == password
    assert af.edit("python", text, one(("EMAIL_HOST_PASSWORD",), password)) == text
    assert namespace["ALLOWED_HOSTS"] == ["example.com"]
    assert "# mail: filled in by Ansible\n" in text


def test_python_refuses_shared_lines():
    with pytest.raises(af.AppFormatError, match="shares a line"):
        af.edit("python", "A = 1; EMAIL_HOST = 'x'\n", one(("EMAIL_HOST",), "y"))


# ------------------------------------------------------------------------------------------------ every preset

@pytest.mark.parametrize("preset", sorted(af.PRESETS))
@pytest.mark.parametrize("delivery", ["direct", "local_relay"])
def test_every_preset_is_idempotent_and_masks(preset, delivery):
    spec = af.PRESETS[preset]
    options = spec.options()
    account = dict(ACCOUNT, password="S3cret-'\"\\#;-xyz")
    settings_ = af.preset_settings(preset, delivery, account)
    once = af.edit(spec.format, "", settings_, options)
    assert af.edit(spec.format, once, settings_, options) == once
    af.verify(spec.format, once, settings_)
    masked = af.mask(spec.format, once, settings_, options)
    assert "S3cret" not in masked
    assert ("S3cret" in once) == (delivery == "direct")
    if delivery == "direct":
        assert af.MASK in masked


@pytest.mark.parametrize("preset", sorted(af.PRESETS))
def test_oauth2_account_direct_fails_with_local_relay_hint(preset):
    account = dict(ACCOUNT, auth="oauth2", password=None, oauth2={"client_id": "x", "refresh_token": "y"})
    with pytest.raises(af.AppFormatError, match="delivery: local_relay"):
        af.preset_settings(preset, "direct", account)
    local = af.preset_settings(preset, "local_relay", account)
    values = {p[-1]: v for p, v, _s in local}
    assert "localhost" in json.dumps(values)
    assert not any(secret and value for _p, value, secret in local)


def test_local_relay_endpoint():
    values = {p[-1]: v for p, v, _s in af.preset_settings("django", "local_relay", ACCOUNT)}
    assert values["EMAIL_HOST"] == "localhost" and values["EMAIL_PORT"] == 25
    assert values["EMAIL_USE_TLS"] is False and values["EMAIL_HOST_USER"] == "" and values["EMAIL_HOST_PASSWORD"] == ""
    assert values["DEFAULT_FROM_EMAIL"] == "alerts@outlook.com"


@pytest.mark.parametrize("bad", ["a\nb", "a\rb", "a\x00b"])
@pytest.mark.parametrize("fmt", ["ini", "dotenv", "yaml", "json", "php", "python"])
def test_line_breaks_are_refused(fmt, bad):
    with pytest.raises(af.AppFormatError, match="line break"):
        af.edit(fmt, "", one(("s", "k"), bad), {"section": "s"})


def test_mask_hides_the_old_secret_too():
    old = af.edit("ini", "", one(("password",), "OLD-secret"), {"section": "smtp"})
    masked = af.mask("ini", old, one(("password",), "NEW-secret"), {"section": "smtp"})
    assert "OLD-secret" not in masked and af.MASK in masked


def test_generic_keys_map_fields():
    settings_ = af.generic_settings("direct", ACCOUNT, {"address": "mail.server", "password": "mail.pass", "starttls": "mail.tls"})
    assert settings_ == [(("mail", "server"), "smtp-mail.outlook.com:587", False), (("mail", "pass"), "pw", True),
                         (("mail", "tls"), True, False)]
    with pytest.raises(af.AppFormatError, match="unknown field"):
        af.generic_settings("direct", ACCOUNT, {"passwd": "x"})


def test_implicit_tls_needs_port_465_where_the_app_decides_by_port():
    with pytest.raises(af.AppFormatError, match="port 465"):
        af.preset_settings("grafana", "direct", dict(ACCOUNT, security="tls", port=2465))
    values = {p[-1]: v for p, v, _s in af.preset_settings("gitea", "direct", dict(ACCOUNT, security="tls", port=465))}
    assert values["PROTOCOL"] == "smtps"


def test_literal_eval_helper():
    assert af._is_literal(ast.parse("'x'").body[0].value)
    assert not af._is_literal(ast.parse("os.environ['X']").body[0].value)
