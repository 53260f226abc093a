# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Format-aware, comment-keeping edits of application configuration files, and the application presets.

Private to the collection: no stable API. Never imports Ansible; raises AppFormatError.
Every editor takes the file's text and a list of settings ``(path, value, secret)`` (path: tuple of keys) and returns
the new text; only the lines that hold the managed keys change.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import ast
import json
import re

MASK = "********"
FORMATS = ("ini", "dotenv", "yaml", "json", "php", "python", "content")
INI_DIALECTS = ("goini", "configparser", "raw")
DOTENV_DIALECTS = ("python", "shell")
DELIVERIES = ("direct", "local_relay")


class AppFormatError(Exception):
    """A setting cannot be written safely in this format; nothing has been written."""


def _check_value(path, value):
    if isinstance(value, str):
        if any(ch in value for ch in "\r\n\x00"):
            raise AppFormatError("the value of %s contains a line break or NUL, which no supported format keeps" % ".".join(path))
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise AppFormatError("the value of %s is not valid Unicode text" % ".".join(path))
    elif value is not None and not isinstance(value, (bool, int, float)):
        raise AppFormatError("the value of %s must be a string, number or boolean" % ".".join(path))


def _as_text(value):
    """Value as text for the untyped formats (ini, dotenv)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def _lines(text):
    # Only \n ends a line here: str.splitlines() would also split at \x1c-\x1e, \x85 and U+2028 inside a value.
    return re.findall(r"[^\n]*\n|[^\n]+$", text or "")


def _ensure_newline(lines):
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
    return lines


# ---------------------------------------------------------------- ini

_GOINI_PLAIN = re.compile(r"^[A-Za-z0-9@._+:/,=*-]+$")
_GOINI_RECURSIVE = re.compile(r"%\([^)]+\)s")


def encode_ini(value, dialect):
    """Encode one ini value for the reader named by dialect."""
    text = _as_text(value)
    if dialect == "goini":
        # go-ini (Grafana, Gitea/Forgejo): a value in triple quotes is taken verbatim up to the LAST triple quote on
        # the line, so #, ;, quotes, backslashes and edge spaces survive. %(name)s would be expanded by Key.String().
        if _GOINI_RECURSIVE.search(text):
            raise AppFormatError("go-ini would replace %(name)s in this value with another key's value; it cannot be escaped")
        if text == "" or _GOINI_PLAIN.match(text):
            return text
        return '"""' + text + '"""'
    if text != text.strip():
        raise AppFormatError("Python's configparser strips spaces at either end of a value; this value cannot be kept")
    if dialect == "configparser":
        # ConfigParser's default BasicInterpolation reads %% as %.
        return text.replace("%", "%%")
    return text


_SECTION_RE = re.compile(r"^\s*\[\s*([^\]]*?)\s*\]\s*([#;].*)?$")


def _ini_key_re(key, delimiters):
    return re.compile(r"^\s*" + re.escape(key) + r"\s*[" + re.escape(delimiters) + "]")


def edit_ini(text, settings, section=None, dialect="goini", only_existing=False):
    """Set keys of one section (section None: the keys before the first section header)."""
    delimiters = "=" if dialect == "goini" else "=:"
    lines = _ensure_newline(_lines(text))
    # Locate the section: [start, end) are its body lines.
    if section is None:
        start, found = 0, True
        end = next((i for i, line in enumerate(lines) if _SECTION_RE.match(line.rstrip("\r\n"))), len(lines))
    else:
        start = end = None
        for i, line in enumerate(lines):
            match = _SECTION_RE.match(line.rstrip("\r\n"))
            if match and start is None and match.group(1) == section:
                start = i + 1
            elif match and start is not None:
                end = i
                break
        found = start is not None
        if found and end is None:
            end = len(lines)
    if not found:
        if only_existing:
            return "".join(lines)
        if lines and lines[-1].strip():
            lines.append("\n")
        lines.append("[%s]\n" % section)
        start = end = len(lines)
    for path, value, _secret in settings:
        key = path[-1]
        encoded = encode_ini(value, dialect)
        new_line = "%s = %s\n" % (key, encoded) if encoded else "%s =\n" % key
        key_re = _ini_key_re(key, delimiters)
        hits = [i for i in range(start, end) if key_re.match(lines[i]) and not lines[i].lstrip().startswith(("#", ";"))]
        if hits:
            for i in hits:
                lines[i] = new_line
            continue
        if only_existing:
            continue
        # Put a new key after its commented-out sample (grafana.ini ships ";host = localhost:25"), else after the
        # section's last setting.
        sample_re = re.compile(r"^\s*[#;]+\s*" + re.escape(key) + r"\s*[" + re.escape(delimiters) + "]")
        samples = [i for i in range(start, end) if sample_re.match(lines[i])]
        if samples:
            at = samples[-1] + 1
        else:
            at = end
            while at > start and not lines[at - 1].strip():
                at -= 1
        lines.insert(at, new_line)
        end += 1
    return "".join(lines)


# ---------------------------------------------------------------- dotenv

_DOTENV_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def encode_dotenv(value, dialect):
    text = _as_text(value)
    if dialect == "shell":
        # POSIX sh: nothing is special inside single quotes; a quote is closed, escaped and reopened.
        return "'" + text.replace("'", "'\\''") + "'"
    if text and re.match(r"^[A-Za-z0-9@._+:/,=-]+$", text):
        return text
    # python-dotenv: single-quoted values are never interpolated; \\ and \' are their only escapes.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote_closes(value):
    """Whether the quoted value that starts this text closes on the same line (a backslash escapes one character)."""
    quote, i = value[0], 1
    while i < len(value):
        if value[i] == "\\":
            i += 2
            continue
        if value[i] == quote:
            return True
        i += 1
    return False


def edit_dotenv(text, settings, dialect="python", only_existing=False):
    lines = _ensure_newline(_lines(text))
    for path, value, _secret in settings:
        key = path[-1]
        if not _DOTENV_KEY.match(key):
            raise AppFormatError("%r is not a valid environment variable name" % key)
        key_re = re.compile(r"^(\s*(?:export\s+)?)" + re.escape(key) + r"\s*=(.*)$")
        encoded = encode_dotenv(value, dialect)
        hit = False
        for i, line in enumerate(lines):
            match = key_re.match(line.rstrip("\r\n"))
            if not match:
                continue
            rest = match.group(2).strip()
            if rest[:1] in ("'", '"') and not _quote_closes(rest):
                raise AppFormatError("%s has a multi-line value in the file; edit it by hand once" % key)
            lines[i] = "%s%s=%s\n" % (match.group(1), key, encoded)
            hit = True
        if not hit and not only_existing:
            lines.append("%s=%s\n" % (key, encoded))
    return "".join(lines)


# ---------------------------------------------------------------- YAML (line based: PyYAML would drop comments)

_YAML_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def encode_yaml(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    out = ['"']
    for ch in value:
        code = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or 0x7F <= code <= 0xA0 or code in (0x2028, 0x2029, 0xFEFF, 0xFFFE, 0xFFFF):
            # Control characters, NEL and the Unicode line separators (line breaks in YAML 1.1): escaped.
            out.append("\\x%02x" % code if code <= 0xFF else "\\u%04x" % code)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _yaml_key_text(key):
    return key if _YAML_PLAIN_KEY.match(key) else encode_yaml(key)


def _indent_of(line):
    return len(line) - len(line.lstrip(" "))


def _is_blank_or_comment(line):
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _yaml_block_end(lines, index, indent, end):
    """First line after lines[index] that is not inside its block (more indented, blank or comment)."""
    j = index + 1
    while j < end and (_is_blank_or_comment(lines[j]) or _indent_of(lines[j]) > indent):
        j += 1
    # Trailing comments and blank lines belong to what follows.
    while j > index + 1 and _is_blank_or_comment(lines[j - 1]):
        j -= 1
    return j


def _yaml_find_key(lines, start, end, indent, key):
    key_re = re.compile(r"^" + " " * indent + r"(?:%s|%s|'%s')\s*:(?:\s|$)" % (
        re.escape(key), re.escape(encode_yaml(key)), re.escape(key.replace("'", "''"))))
    for i in range(start, end):
        if key_re.match(lines[i]):
            return i
    return None


def _yaml_after_colon(line):
    """The value text after the key's colon, and a trailing comment to keep (plain and quoted scalars)."""
    rest = line.split(":", 1)[1] if ":" in line else ""
    rest = rest.rstrip("\r\n")
    body = rest.lstrip()
    if body.startswith("#"):
        return "", rest
    end = None
    if body.startswith("'"):
        match = re.match(r"'(?:[^']|'')*'", body)
        end = match.end() if match else None
    elif body.startswith('"'):
        match = re.match(r'"(?:[^"\\]|\\.)*"', body)
        end = match.end() if match else None
    else:
        match = re.search(r"\s#", body)
        end = match.start() if match else len(body)
    if end is None:
        return body.strip(), ""
    tail = body[end:]
    comment = tail if re.match(r"^\s+#", tail) else ""
    return body[:end].strip() + ("" if comment else tail.strip()), comment


def edit_yaml(text, settings, only_existing=False):
    lines = _ensure_newline(_lines(text))
    if any(line.rstrip() in ("---", "...") for line in lines[1:]) or any(line.startswith("\t") for line in lines):
        raise AppFormatError("the YAML file has several documents or tab indentation; use format json or a template")
    first = 1 if lines and lines[0].rstrip() == "---" else 0
    for path, value, _secret in settings:
        start, end, indent = first, len(lines), 0
        created = False
        for depth, key in enumerate(path):
            leaf = depth == len(path) - 1
            at = _yaml_find_key(lines, start, end, indent, key)
            if at is None:
                if only_existing:
                    break
                # Create the rest of the path after the block's last content line.
                insert = end
                while insert > start and _is_blank_or_comment(lines[insert - 1]):
                    insert -= 1
                new = []
                for extra, name in enumerate(path[depth:]):
                    pad = " " * (indent + 2 * extra)
                    if depth + extra == len(path) - 1:
                        new.append("%s%s: %s\n" % (pad, _yaml_key_text(name), encode_yaml(value)))
                    else:
                        new.append("%s%s:\n" % (pad, _yaml_key_text(name)))
                lines[insert:insert] = new
                created = True
                break
            block_end = _yaml_block_end(lines, at, indent, end)
            if leaf:
                _old, comment = _yaml_after_colon(lines[at])
                lines[at:block_end] = ["%s%s: %s%s\n" % (" " * indent, _yaml_key_text(key), encode_yaml(value), comment)]
                created = True
                break
            inline, _comment = _yaml_after_colon(lines[at])
            if inline:
                raise AppFormatError("%s is not a block mapping in the YAML file (%s); use format json or a template"
                                     % (".".join(path[:depth + 1]), "flow style, anchor or scalar"))
            children = [i for i in range(at + 1, block_end) if not _is_blank_or_comment(lines[i])]
            following = next((i for i in range(block_end, end) if not _is_blank_or_comment(lines[i])), None)
            if not children and following is not None and lines[following].startswith(" " * indent + "-"):
                raise AppFormatError("%s is a list in the YAML file, not a mapping" % ".".join(path[:depth + 1]))
            child_indent = _indent_of(lines[children[0]]) if children else indent + 2
            if children and lines[children[0]].lstrip().startswith("-"):
                raise AppFormatError("%s is a list in the YAML file, not a mapping" % ".".join(path[:depth + 1]))
            start, end, indent = at + 1, block_end, child_indent
        if not created and not only_existing:
            raise AppFormatError("could not place %s in the YAML file" % ".".join(path))
    return "".join(lines)


def read_yaml_path(data, path):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return KeyError
        data = data[key]
    return data


# ---------------------------------------------------------------- JSON (no comments; key order and indentation kept)

def edit_json(text, settings, only_existing=False):
    if text and text.strip():
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise AppFormatError("the file is not valid JSON: %s" % exc)
        if not isinstance(data, dict):
            raise AppFormatError("the JSON file's top level is not an object")
        match = re.search(r"^([ \t]+)\"", text, re.M)
        indent = match.group(1) if match else (2 if "\n" in text.strip() else None)
    else:
        data, indent = {}, 2
    changed = False
    for path, value, _secret in settings:
        node = data
        for key in path[:-1]:
            if key not in node:
                if only_existing:
                    node = None
                    break
                node[key] = {}
            node = node[key]
            if not isinstance(node, dict):
                raise AppFormatError("%s is not an object in the JSON file" % key)
        if node is None or (only_existing and path[-1] not in node):
            continue
        if path[-1] not in node or node[path[-1]] != value or type(node[path[-1]]) is not type(value):
            node[path[-1]] = value
            changed = True
    if not changed:
        return text or ""
    return json.dumps(data, indent=indent, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- PHP ($CONFIG array of Nextcloud's config.php)

def encode_php(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # Single-quoted PHP strings: only \\ and \' are escapes, nothing is interpolated.
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_PHP_SCALAR = r"(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[-+0-9.eE]+|true|false|null|TRUE|FALSE|NULL)"


def edit_php(text, settings, only_existing=False):
    lines = _ensure_newline(_lines(text))
    if not "".join(lines).strip():
        lines = ["<?php\n", "$CONFIG = array (\n", ");\n"]
    opener = next((i for i, line in enumerate(lines) if re.match(r"^\s*\$CONFIG\s*=\s*(array\s*\(|\[)", line)), None)
    if opener is None:
        raise AppFormatError("no $CONFIG = array ( ... ); in the PHP file")
    closer = next((i for i in range(opener + 1, len(lines)) if re.match(r"^\s*[)\]]\s*;\s*$", lines[i])), None)
    if closer is None:
        raise AppFormatError("the $CONFIG array is not closed by a line with ); or ];")
    for path, value, _secret in settings:
        key = path[-1]
        quoted = encode_php(key)
        entry_re = re.compile(r"^(\s*)(?:'%s'|\"%s\")\s*=>\s*%s\s*,?\s*$" % (re.escape(key), re.escape(key), _PHP_SCALAR))
        mention_re = re.compile(r"(?:'%s'|\"%s\")\s*=>" % (re.escape(key), re.escape(key)))
        hit = False
        for i in range(opener + 1, closer):
            match = entry_re.match(lines[i].rstrip("\r\n"))
            if match:
                lines[i] = "%s%s => %s,\n" % (match.group(1), quoted, encode_php(value))
                hit = True
            elif mention_re.search(lines[i]):
                raise AppFormatError("%s in the PHP file is not a one-line scalar entry; edit it by hand once" % key)
        if not hit and not only_existing:
            lines.insert(closer, "  %s => %s,\n" % (quoted, encode_php(value)))
            closer += 1
    return "".join(lines)


# ---------------------------------------------------------------- Python settings module (Django settings_local.py)

_PY_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def encode_python(value):
    return repr(value)


def edit_python(text, settings, only_existing=False):
    source = text or ""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise AppFormatError("the Python file does not parse: line %s" % exc.lineno)
    lines = _ensure_newline(_lines(source))
    spans = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            spans.setdefault(node.targets[0].id, []).append((node.lineno, getattr(node, "end_lineno", node.lineno), node))
    statement_lines = {}
    for node in tree.body:
        for line in range(node.lineno, getattr(node, "end_lineno", node.lineno) + 1):
            statement_lines[line] = statement_lines.get(line, 0) + 1
    replacements = []
    appended = []
    for path, value, _secret in settings:
        name = path[-1]
        if not _PY_NAME.match(name):
            raise AppFormatError("%r is not a Python name" % name)
        new_line = "%s = %s\n" % (name, encode_python(value))
        if name in spans:
            for first, last, node in spans[name]:
                if node.col_offset != 0 or any(statement_lines.get(n, 0) > 1 for n in range(first, last + 1)):
                    raise AppFormatError("%s shares a line with another statement; edit it by hand once" % name)
                replacements.append((first, last, new_line))
        elif not only_existing:
            appended.append(new_line)
    for first, last, new_line in sorted(replacements, reverse=True):
        lines[first - 1:last] = [new_line]
    return "".join(lines + appended)


# ---------------------------------------------------------------- dispatch

def edit(fmt, text, settings, options=None, only_existing=False):
    """Return the text with every setting applied. options: section, ini_dialect, dotenv_dialect."""
    options = options or {}
    for path, value, _secret in settings:
        _check_value(path, value)
    if fmt == "ini":
        return edit_ini(text, settings, options.get("section"), options.get("ini_dialect") or "goini", only_existing)
    if fmt == "dotenv":
        return edit_dotenv(text, settings, options.get("dotenv_dialect") or "python", only_existing)
    if fmt == "yaml":
        return edit_yaml(text, settings, only_existing)
    if fmt == "json":
        return edit_json(text, settings, only_existing)
    if fmt == "php":
        return edit_php(text, settings, only_existing)
    if fmt == "python":
        return edit_python(text, settings, only_existing)
    raise AppFormatError("unknown format %r" % fmt)


def mask(fmt, text, settings, options=None):
    """The text with the values of the secret keys replaced by MASK, for diffs; absent keys are not added."""
    secret = [(path, MASK, True) for path, _value, is_secret in settings if is_secret]
    if not secret or not text:
        return text
    try:
        return edit(fmt, text, secret, options, only_existing=True)
    except AppFormatError:
        return "(hidden: the file holds a secret this module could not mask)\n"


def verify(fmt, text, settings):
    """Read the edited text back where a parser is at hand; raise if a value does not survive."""
    if fmt == "json":
        data = json.loads(text)
        for path, value, _secret in settings:
            if read_yaml_path(data, path) != value:
                raise AppFormatError("%s does not read back from the JSON" % ".".join(path))
    elif fmt == "yaml":
        try:
            import yaml  # PyYAML ships with ansible-core on the controller; optional on managed hosts.
        except ImportError:
            return
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise AppFormatError("the edited YAML does not parse; nothing was written")
        for path, value, _secret in settings:
            if read_yaml_path(data, path) != value:
                raise AppFormatError("%s does not read back from the edited YAML; nothing was written" % ".".join(path))
    elif fmt == "python":
        tree = ast.parse(text)
        found = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                found[node.targets[0].id] = ast.literal_eval(node.value) if _is_literal(node.value) else KeyError
        for path, value, _secret in settings:
            if found.get(path[-1], KeyError) != value:
                raise AppFormatError("%s does not read back from the edited Python file" % path[-1])


def _is_literal(node):
    try:
        ast.literal_eval(node)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- presets

# Each preset: the file format and the application's own setting names. oauth2: whether the application can log in
# with XOAUTH2 (none of these can today, so an OAuth2-only account must use delivery local_relay).
PRESETS = {
    "grafana": {"format": "ini", "ini_dialect": "goini", "section": "smtp", "path": "/etc/grafana/grafana.ini",
                "oauth2": False, "application": "Grafana"},
    "gitea": {"format": "ini", "ini_dialect": "goini", "section": "mailer", "path": "/etc/gitea/app.ini",
              "oauth2": False, "application": "Gitea/Forgejo"},
    "alertmanager": {"format": "yaml", "path": "/etc/prometheus/alertmanager.yml", "oauth2": False,
                     "application": "Prometheus Alertmanager"},
    "django": {"format": "python", "path": None, "oauth2": False, "application": "Django (settings module)"},
    "django_env": {"format": "dotenv", "path": None, "oauth2": False, "application": "Django (environment file)"},
    "nextcloud": {"format": "php", "path": "/var/www/nextcloud/config/mail.config.php", "oauth2": False,
                  "application": "Nextcloud"},
    "env": {"format": "dotenv", "path": None, "oauth2": False, "application": "a .env file of SMTP_* keys"},
}

# Grafana expands $__env{X}, $__file{X} and ${X} in every value after reading the ini file; there is no escape.
_GRAFANA_EXPANSION = re.compile(r"\$(?:|__\w+)\{[^}]+\}")


class Endpoint:
    """What the application talks to: host, port, security (starttls | tls | none), login and sender."""

    def __init__(self, delivery, account, relay_host="localhost", relay_port=25):
        self.delivery = delivery
        self.sender = account.get("from") or account.get("username")
        if not self.sender:
            raise AppFormatError("the account has neither from nor username")
        if delivery == "local_relay":
            self.host, self.port, self.security = relay_host, int(relay_port), "none"
            self.username, self.password = "", ""
        else:
            self.host = account.get("host") or "smtp-mail.outlook.com"
            self.port = int(account.get("port") or 587)
            self.security = account.get("security") or ("tls" if self.port == 465 else "starttls")
            self.username = account.get("username") or ""
            self.password = account.get("password")
            if self.password is None:
                self.password = ""

    @property
    def auth(self):
        return bool(self.username)


def check_delivery(preset, delivery, account):
    """Fail before anything is written when the application cannot log in the way the account needs."""
    if delivery != "direct":
        return
    auth = account.get("auth") or ("oauth2" if account.get("oauth2") else "password")
    if auth == "oauth2":
        name = PRESETS[preset]["application"] if preset else "This application"
        raise AppFormatError(
            "%s cannot log in with OAuth2 (XOAUTH2), which account %s needs (Outlook.com personal accounts refuse "
            "passwords). Use delivery: local_relay, and relay through the host's Postfix with the "
            "mailops.live_smtp.postfix_relay role." % (name, account.get("name") or account.get("username")))
    if not account.get("password"):
        raise AppFormatError("account %s has no password for delivery direct" % (account.get("name") or account.get("username")))


def _implicit_tls_needs_465(app, end):
    if end.security == "tls" and end.port != 465:
        raise AppFormatError("%s uses implicit TLS only on port 465; this account asks for tls on port %d" % (app, end.port))


def preset_settings(preset, delivery, account, relay_host="localhost", relay_port=25, from_name=None):
    """The (path, value, secret) settings a preset writes for the account and delivery."""
    if preset not in PRESETS:
        raise AppFormatError("unknown preset %r" % preset)
    check_delivery(preset, delivery, account)
    end = Endpoint(delivery, account, relay_host, relay_port)
    builder = globals()["_preset_" + preset]
    settings = builder(end, from_name)
    return [(tuple(path) if isinstance(path, (list, tuple)) else (path,), value, secret) for path, value, secret in settings]


def _preset_grafana(end, from_name):
    _implicit_tls_needs_465("Grafana", end)
    if _GRAFANA_EXPANSION.search(end.password):
        raise AppFormatError("Grafana would expand the ${...} in this password as a variable and cannot escape it; "
                             "choose another password or use delivery local_relay")
    policy = {"starttls": "MandatoryStartTLS", "tls": "MandatoryStartTLS", "none": "NoStartTLS"}[end.security]
    out = [("enabled", True, False), ("host", "%s:%d" % (end.host, end.port), False), ("user", end.username, False),
           ("password", end.password, True), ("from_address", end.sender, False), ("startTLS_policy", policy, False),
           ("skip_verify", False, False)]
    if from_name:
        out.append(("from_name", from_name, False))
    return out


def _preset_gitea(end, from_name):
    protocol = {"starttls": "smtp+starttls", "tls": "smtps", "none": "smtp"}[end.security]
    sender = '"%s" <%s>' % (from_name.replace('"', ""), end.sender) if from_name else end.sender
    return [("ENABLED", True, False), ("PROTOCOL", protocol, False), ("SMTP_ADDR", end.host, False),
            ("SMTP_PORT", end.port, False), ("USER", end.username, False), ("PASSWD", end.password, True),
            ("FROM", sender, False)]


def _preset_alertmanager(end, from_name):
    _implicit_tls_needs_465("Alertmanager", end)
    sender = '"%s" <%s>' % (from_name.replace('"', ""), end.sender) if from_name else end.sender
    return [(("global", "smtp_smarthost"), "%s:%d" % (end.host, end.port), False),
            (("global", "smtp_from"), sender, False),
            (("global", "smtp_auth_username"), end.username, False),
            (("global", "smtp_auth_password"), end.password, True),
            (("global", "smtp_require_tls"), end.security == "starttls", False)]


def _django_keys(end, from_name):
    sender = '"%s" <%s>' % (from_name.replace('"', ""), end.sender) if from_name else end.sender
    return [("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend", False), ("EMAIL_HOST", end.host, False),
            ("EMAIL_PORT", end.port, False), ("EMAIL_HOST_USER", end.username, False),
            ("EMAIL_HOST_PASSWORD", end.password, True), ("EMAIL_USE_TLS", end.security == "starttls", False),
            ("EMAIL_USE_SSL", end.security == "tls", False), ("DEFAULT_FROM_EMAIL", sender, False),
            ("SERVER_EMAIL", sender, False)]


def _preset_django(end, from_name):
    return _django_keys(end, from_name)


def _preset_django_env(end, from_name):
    return _django_keys(end, from_name)


def _preset_nextcloud(end, from_name):
    local, _at, domain = end.sender.rpartition("@")
    if not local:
        raise AppFormatError("Nextcloud needs a From address with a domain, not %r" % end.sender)
    out = [("mail_smtpmode", "smtp", False), ("mail_smtphost", end.host, False), ("mail_smtpport", end.port, False),
           ("mail_smtpsecure", "ssl" if end.security == "tls" else "", False), ("mail_smtpauth", end.auth, False),
           ("mail_smtpname", end.username, False), ("mail_smtppassword", end.password, True),
           ("mail_from_address", local, False), ("mail_domain", domain, False)]
    return out


def _preset_env(end, from_name):
    return [("SMTP_HOST", end.host, False), ("SMTP_PORT", end.port, False), ("SMTP_SECURITY", end.security, False),
            ("SMTP_USERNAME", end.username, False), ("SMTP_PASSWORD", end.password, True),
            ("SMTP_FROM", end.sender, False)]


# Logical fields a generic format can map to the application's own key names (option keys).
FIELDS = ("host", "port", "address", "security", "starttls", "tls", "auth", "username", "password", "from")


def generic_settings(delivery, account, keys, relay_host="localhost", relay_port=25, separator="."):
    """Settings for a generic format: keys maps field names (FIELDS) to the application's key paths."""
    check_delivery(None, delivery, account)
    end = Endpoint(delivery, account, relay_host, relay_port)
    values = {"host": end.host, "port": end.port, "address": "%s:%d" % (end.host, end.port), "security": end.security,
              "starttls": end.security == "starttls", "tls": end.security == "tls", "auth": end.auth,
              "username": end.username, "password": end.password, "from": end.sender}
    out = []
    for field, key in keys.items():
        if field not in values:
            raise AppFormatError("unknown field %r in keys; known: %s" % (field, ", ".join(FIELDS)))
        out.append((split_path(key, separator), values[field], field == "password"))
    return out


def split_path(key, separator="."):
    if isinstance(key, (list, tuple)):
        return tuple(str(part) for part in key)
    return tuple(key.split(separator)) if separator else (key,)
