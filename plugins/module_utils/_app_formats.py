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
# Go's unicode.IsSpace: what go-ini trims. Python's str.isspace() also counts \x1c-\x1f, which Go does not.
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
            "\u2028\u2029\u202f\u205f\u3000"
GOINI_DEFAULT = "DEFAULT"


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


class IniKey:
    """One key as a reader saw it: its section, name, value and the lines [first, last] (0-based) it spans."""

    def __init__(self, section, name, value, first, last):
        self.section, self.name, self.value, self.first, self.last = section, name, value, first, last


class IniLayout:
    """What a reader made of an ini file: section headers (name, line) and keys, in file order."""

    def __init__(self):
        self.headers = []
        self.keys = []

    def values(self, section):
        """The section's keys as the reader ends up with them (a repeated key or section: the last one wins)."""
        out = {}
        for key in self.keys:
            if key.section == section:
                out[key.name] = key.value
        return out


def _goini_chunks(text):
    """Lines as go-ini's reader returns them: each with its \\n, then a last chunk without one (maybe empty)."""
    pieces = text.split("\n")
    return [piece + "\n" for piece in pieces[:-1]] + [pieces[-1]]


def parse_goini(text, continuation=True):
    """Read an ini file the way go-ini (gopkg.in/ini.v1) does with the options Grafana and Gitea use.

    Grafana: default options (a value ending in a backslash continues on the next line). Gitea:
    IgnoreContinuation. Both: delimiters = and :, case-sensitive names, no boolean keys, inline comments.
    Raises AppFormatError naming the line where go-ini would refuse the file; never quotes the line (it may be a
    secret)."""
    chunks = _goini_chunks(text)
    if chunks and chunks[0].startswith("\ufeff"):
        chunks[0] = chunks[0][1:]
    layout = IniLayout()
    section, count, index = GOINI_DEFAULT, 1, 0

    def fail(line_index, what):
        raise AppFormatError("line %d: %s" % (line_index + 1, what))

    while index < len(chunks):
        start = index
        line = chunks[index].lstrip(_GO_SPACE)
        index += 1
        if not line or line[0] in "#;":
            continue
        if line[0] == "[":
            close = line.rfind("]")
            if close == -1:
                fail(start, "a section header without its closing ]")
            name = line[1:close]
            if not name:
                fail(start, "an empty section name []")
            section, count = name, 1
            layout.headers.append((name, start))
            continue
        name, offset = _goini_key_name(line, start, fail)
        if name == "-":
            name, count = "#%d" % count, count + 1
        value, index = _goini_value(line[offset:], chunks, index, start, continuation, fail)
        if not name:
            fail(start, "a key with an empty name")
        layout.keys.append(IniKey(section, name, value, start, index - 1))
    return layout


def _goini_key_name(line, start, fail):
    quote = ""
    if line[0] == '"':
        quote = '"""' if len(line) > 6 and line.startswith('"""') else '"'
    elif line[0] == "`":
        quote = "`"
    if quote:
        end = line.find(quote, len(quote))
        if end == -1:
            fail(start, "a quoted key name without its closing quote")
        delimiter = _first_of(line, "=:", end + len(quote))
        if delimiter == -1:
            fail(start, "a line with neither = nor : (go-ini reads every line that is not a comment or a section "
                        "header as key = value)")
        return line[len(quote):end].strip(_GO_SPACE), delimiter + 1
    delimiter = _first_of(line, "=:", 0)
    if delimiter == -1:
        fail(start, "a line with neither = nor : (go-ini reads every line that is not a comment or a section header "
                    "as key = value)")
    return line[:delimiter].strip(_GO_SPACE), delimiter + 1


def _first_of(text, chars, start):
    found = [i for i in (text.find(ch, start) for ch in chars) if i != -1]
    return min(found) if found else -1


def _goini_value(rest, chunks, index, start, continuation, fail):
    """The value and the index of the next unread line, as go-ini's readValue reads them."""
    line = rest.lstrip(_GO_SPACE)
    if not line:
        return "", index
    quote = '"""' if len(line) > 3 and line.startswith('"""') else ("`" if line[0] == "`" else "")
    if quote:
        end = line.rfind(quote, len(quote))
        if end != -1:
            return line[len(quote):end], index
        value = line[len(quote):]
        while True:
            if index >= len(chunks):
                fail(start, "a %s-quoted value that is never closed" % quote)
            following = chunks[index]
            index += 1
            end = following.rfind(quote)
            if end != -1:
                return value + following[:end], index
            value += following
            if index >= len(chunks):
                fail(start, "a %s-quoted value that is never closed" % quote)
    line = line.strip(_GO_SPACE)
    if continuation and line.endswith("\\"):
        value = line[:-1]
        while index < len(chunks):
            following = chunks[index].strip(_GO_SPACE)
            index += 1
            if not following:
                break
            value += following
            if not value.endswith("\\"):
                break
            value = value[:-1]
        return value, index
    comment = _first_of(line, "#;", 0)
    if comment != -1:
        line = line[:comment].strip(_GO_SPACE)
    for quote in "'\"":
        if len(line) >= 2 and line[0] == quote and line[-1] == quote and line.find(quote, 1) == len(line) - 1:
            return line[1:-1], index
    return line, index


def _configparser(dialect):
    import configparser
    return configparser.ConfigParser() if dialect == "configparser" else configparser.RawConfigParser()


_TOP = "live_smtp keys before the first section"


def parse_configparser(text, dialect):
    """Read an ini file with Python's own configparser (strict, as an application's ConfigParser() reads it) and
    note where each key is. dialect raw: keys before the first section are allowed (read as a section of their
    own). Raises AppFormatError with the line of the first thing configparser refuses."""
    import configparser
    parser = _configparser(dialect)
    shift = 0
    if dialect == "raw":
        text, shift = "[%s]\n" % _TOP + text, 1
    try:
        parser.read_string(text)
    except configparser.MissingSectionHeaderError as exc:
        raise AppFormatError("line %d: a key before the first [section], which Python's configparser refuses"
                             % (exc.lineno - shift))
    except configparser.DuplicateSectionError as exc:
        raise AppFormatError("line %d: section [%s] a second time, which Python's configparser refuses"
                             % (exc.lineno - shift, exc.section))
    except configparser.DuplicateOptionError as exc:
        raise AppFormatError("line %d: key %s a second time in [%s] (configparser ignores case in key names), which "
                             "Python's configparser refuses" % (exc.lineno - shift, exc.option, exc.section))
    except configparser.ParsingError as exc:
        raise AppFormatError("line %d: neither a [section], a key = value nor a comment, which Python's configparser "
                             "refuses" % (exc.errors[0][0] - shift))
    except configparser.Error:
        raise AppFormatError("Python's configparser cannot read the file")
    layout = IniLayout()
    lines = _lines(text)
    section = option_key = None
    indent = 0
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        here = len(line) - len(line.lstrip())
        if option_key is not None and here > indent:
            option_key.last = number - shift
            continue
        indent = here
        header = parser.SECTCRE.match(stripped)
        if header:
            section, option_key = header.group("header"), None
            if number >= shift:
                layout.headers.append((section, number - shift))
            continue
        match = parser.OPTCRE.match(stripped)
        name = parser.optionxform(match.group("option").rstrip())
        option_key = IniKey(None if section == _TOP else section, name, None, number - shift, number - shift)
        layout.keys.append(option_key)
    for key in layout.keys:
        key.value = parser.get(_TOP if key.section is None else key.section, key.name, raw=dialect == "raw")
    return layout


class IniReader:
    """One application's reading of an ini file: a name for messages and the parse function."""

    def __init__(self, label, dialect, continuation=True):
        self.label, self.dialect, self.continuation = label, dialect, continuation

    def parse(self, text):
        try:
            if self.dialect == "goini":
                return parse_goini(text, self.continuation)
            return parse_configparser(text, self.dialect)
        except AppFormatError as exc:
            raise AppFormatError("%s cannot load the file: %s; nothing was changed" % (self.label, exc))

    def match_key(self, name):
        return name.lower() if self.dialect != "goini" else name


def ini_readers(options):
    """The readers an ini file is checked with: a preset's own, else every reading the dialect allows."""
    if options.get("ini_readers"):
        return options["ini_readers"]
    dialect = options.get("ini_dialect") or "goini"
    if dialect == "goini":
        return [IniReader("go-ini", "goini", True), IniReader("go-ini (IgnoreContinuation)", "goini", False)]
    if dialect == "configparser":
        return [IniReader("Python's configparser", "configparser")]
    return [IniReader("Python's RawConfigParser", "raw")]


def _near_miss(name, section):
    """A header a person would take for the section, that the reader takes for another one."""
    return name != section and name.split("]")[0].strip(_GO_SPACE).lower() == section.lower()


def edit_ini(text, settings, section=None, dialect="goini", only_existing=False, readers=None):
    """Set keys of one section (section None: the keys before the first section header), after reading the file
    the way the application does. Every occurrence of a key the reader would see is replaced; new keys go after
    their commented sample (grafana.ini ships ";host = localhost:25"), else after the section's last key."""
    readers = readers or ini_readers({"ini_dialect": dialect})
    reader = readers[0]
    if section is None and reader.dialect == "configparser":
        raise AppFormatError("Python's configparser reads no key outside a [section]; give a section")
    target = section if section is not None else (GOINI_DEFAULT if reader.dialect == "goini" else None)
    lines = _ensure_newline(_lines(text))
    source = "".join(lines)
    layout = [r.parse(source) for r in readers][0]  # every reader must load the file as it is
    if section is not None:
        for name, line in layout.headers:
            if _near_miss(name, section):
                raise AppFormatError(
                    "line %d: a section header that %s does not read as [%s] (names are exact: case, spaces and "
                    "anything before the last ] count); rename it to [%s] or remove it; nothing was changed"
                    % (line + 1, reader.label, section, section))
    headers = [line for name, line in layout.headers if name == target]
    if reader.dialect == "goini" and target == GOINI_DEFAULT:
        headers = [-1] + headers
    elif section is None:
        headers = [-1]
    # The line ranges [header, next header) of every occurrence of the section.
    all_headers = sorted(line for _name, line in layout.headers)
    spans = [(h, next((x for x in all_headers if x > h), len(lines))) for h in headers]
    key_lines = set()
    for key in layout.keys:
        key_lines.update(range(key.first, key.last + 1))
    edits = {}
    inserts = []
    for path, value, _secret in settings:
        name = path[-1]
        encoded = encode_ini(value, reader.dialect)
        new_line = "%s = %s\n" % (name, encoded) if encoded else "%s =\n" % name
        hits = [key for key in layout.keys if key.section == target and key.name == reader.match_key(name)]
        if hits:
            for key in hits:
                edits[key.first] = (key.last, new_line)
            continue
        if only_existing or not spans:
            if not only_existing:
                inserts.append((None, new_line))
            continue
        sample_re = re.compile(r"^\s*[#;]+\s*" + re.escape(name) + r"\s*[=:]")
        samples = [i for begin, end in spans for i in range(begin + 1, end) if i not in key_lines and sample_re.match(lines[i])]
        if samples:
            at = samples[-1] + 1
        else:
            begin, end = spans[-1]
            at = end
            while at > begin + 1 and at - 1 not in key_lines and (
                    not lines[at - 1].strip() or lines[at - 1].lstrip().startswith(("#", ";"))):
                at -= 1
        inserts.append((at, new_line))
    out = []
    skip_until = -1
    for i, line in enumerate(lines + [None]):
        for at, new_line in inserts:
            if at == i:
                out.append(new_line)
        if line is None:
            break
        if i <= skip_until:
            continue
        if i in edits:
            last, new_line = edits[i]
            out.append(new_line)
            skip_until = last
            continue
        out.append(line)
    tail = [new_line for at, new_line in inserts if at is None]
    if tail:
        if out and out[-1].strip():
            out.append("\n")
        out.append("[%s]\n" % section)
        out.extend(tail)
    result = "".join(out)
    if only_existing:
        return result
    # Read the result back as the application will: every managed key must hold exactly its value.
    for reader_ in readers:
        try:
            values = reader_.parse(result).values(target)
        except AppFormatError:
            raise AppFormatError("the edited file would not load in %s; nothing was changed" % reader_.label)
        for path, value, _secret in settings:
            if values.get(reader_.match_key(path[-1])) != _as_text(value):
                raise AppFormatError("%s would not read %s back as written (a line next to it continues into it); "
                                     "nothing was changed" % (reader_.label, path[-1]))
    return result


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


_DOTENV_BINDING = re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.]*\s*=\s*(.*)$")


def _closing_quote(text, start, quote, escapes):
    """Index of the quote that closes a value opened before text[start], or -1 (a backslash escapes one character
    where the reader has escapes: python-dotenv in both quotes, sh in double quotes only)."""
    i = start
    while i < len(text):
        if escapes and text[i] == "\\":
            i += 2
            continue
        if text[i] == quote:
            return i
        i += 1
    return -1


def dotenv_value_lines(lines, dialect):
    """Line numbers (0-based) that lie inside another key's multi-line quoted value, which the reader takes as
    part of that value. Raises AppFormatError for a quote never closed: the reader would swallow the rest."""
    inside = set()
    i = 0
    while i < len(lines):
        match = _DOTENV_BINDING.match(lines[i].rstrip("\r\n"))
        rest = match.group(1) if match else ""
        if rest[:1] not in ("'", '"'):
            i += 1
            continue
        quote = rest[0]
        escapes = dialect == "python" or quote == '"'
        body, first = rest[1:] + "\n", i
        end = _closing_quote(body, 0, quote, escapes)
        while end == -1:
            i += 1
            if i >= len(lines):
                raise AppFormatError("line %d: a quoted value that is never closed (the reader would take the rest "
                                     "of the file into it); nothing was changed" % (first + 1))
            inside.add(i)
            body += lines[i]
            end = _closing_quote(body, 0, quote, escapes)
        i += 1
    return inside


def edit_dotenv(text, settings, dialect="python", only_existing=False):
    lines = _ensure_newline(_lines(text))
    inside = dotenv_value_lines(lines, dialect)
    for path, value, _secret in settings:
        key = path[-1]
        if not _DOTENV_KEY.match(key):
            raise AppFormatError("%r is not a valid environment variable name" % key)
        key_re = re.compile(r"^(\s*(?:export\s+)?)" + re.escape(key) + r"\s*=(.*)$")
        encoded = encode_dotenv(value, dialect)
        hit = False
        for i, line in enumerate(lines):
            match = key_re.match(line.rstrip("\r\n"))
            if not match or i in inside:
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


def load_yaml(text):
    """The document as PyYAML reads it (the reader of Ansible; Alertmanager's Go reader refuses at least as much),
    or None when PyYAML is not installed on the managed host. Raises AppFormatError with the line."""
    try:
        import yaml  # PyYAML ships with ansible-core on the controller; optional on managed hosts.
    except ImportError:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = "line %d: " % (mark.line + 1) if mark is not None else ""
        # The problem text can quote a character or an anchor name of the file: those are cut out.
        problem = re.sub(r"'[^']*'|\"[^\"]*\"", "...", getattr(exc, "problem", None) or "not YAML")
        raise AppFormatError("%sYAML cannot load the file (%s)" % (where, problem))


def edit_yaml(text, settings, only_existing=False):
    lines = _ensure_newline(_lines(text))
    if not only_existing:
        try:
            load_yaml("".join(lines))
        except AppFormatError as exc:
            raise AppFormatError("%s; nothing was changed" % exc)
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
            raise AppFormatError("the file is not valid JSON (%s); nothing was changed" % exc)
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
    if not re.match(r"^<\?php\s", "".join(lines).lstrip("\ufeff \t\r\n")):
        raise AppFormatError("the file does not begin with <?php: PHP would print it rather than run it; nothing was changed")
    opener = next((i for i, line in enumerate(lines) if re.match(r"^\s*\$CONFIG\s*=\s*(array\s*\(|\[)", line)), None)
    if opener is None:
        raise AppFormatError("no $CONFIG = array ( ... ); in the PHP file")
    closer = next((i for i in range(opener + 1, len(lines)) if re.match(r"^\s*[)\]]\s*;\s*$", lines[i])), None)
    if closer is None:
        raise AppFormatError("the $CONFIG array is not closed by a line with ); or ];")
    strings = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"")
    if any("?>" in strings.sub("''", line) for line in lines[:closer]):
        raise AppFormatError("a ?> before the end of the $CONFIG array ends PHP code there; nothing was changed")
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
    lone_cr = re.search(r"\r(?!\n)", source)
    if lone_cr:
        # Python ends a line at a lone CR; the line numbers of its parser would not be the file's lines.
        raise AppFormatError("line %d: a carriage return without a line feed, which Python reads as a line break; "
                             "nothing was changed" % (source.count("\n", 0, lone_cr.start()) + 1))
    try:
        tree = ast.parse(source)
        # The compiler refuses some trees the parser builds (a bare *a): compile, as an import would, never run.
        compile(source, "settings", "exec", dont_inherit=True)
    except (SyntaxError, ValueError) as exc:  # ValueError: a NUL byte in the source
        raise AppFormatError("line %s: Python cannot compile the file (%s); nothing was changed"
                             % (getattr(exc, "lineno", None) or "?",
                                re.sub(r"'[^']*'", "...", getattr(exc, "msg", None) or "a NUL byte")))
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
        return edit_ini(text, settings, options.get("section"), options.get("ini_dialect") or "goini", only_existing,
                        ini_readers(options))
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
    hidden = "(hidden: the file holds a secret this module could not mask)\n"
    try:
        masked = edit(fmt, text, secret, options, only_existing=True)
    except AppFormatError:
        return hidden
    # Belt and braces: a secret value still in the masked text means the editor did not find where it is.
    if any(is_secret and isinstance(value, str) and value and value in masked for _p, value, is_secret in settings):
        return hidden
    return masked


def verify(fmt, text, settings):
    """Read the edited text back where a parser is at hand; raise if a value does not survive."""
    if fmt == "json":
        data = json.loads(text)
        for path, value, _secret in settings:
            if read_yaml_path(data, path) != value:
                raise AppFormatError("%s does not read back from the JSON" % ".".join(path))
    elif fmt == "yaml":
        try:
            data = load_yaml(text)
        except AppFormatError:
            raise AppFormatError("the edited YAML does not parse; nothing was written")
        if data is None and text.strip():
            return  # no PyYAML here
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
        name = PRESETS[preset].application if preset else "This application"
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
    settings = PRESETS[preset].build(end, from_name)
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


class Preset:
    """An application: its name for messages, its file format, the function that builds its settings from an
    Endpoint and a display name, and how its file is read (ini: the application's own reader) and checked (a
    command the application ships, run on the old and the new file when it is installed)."""

    def __init__(self, application, fmt, build, section=None, ini_readers=None, checker=None, syntax_checker=False):
        self.application, self.format, self.build = application, fmt, build
        self.section, self.ini_readers, self.checker = section, ini_readers, checker
        # A syntax checker refusing the old file means the application cannot load it: refused. A checker of
        # completeness (amtool wants a smarthost before one is written) only guards a file that passed it.
        self.syntax_checker = syntax_checker

    def options(self, section=None, dotenv_dialect=None):
        return {"section": section or self.section, "ini_readers": self.ini_readers, "dotenv_dialect": dotenv_dialect}


# A new preset is one entry here (with its builder above), its documentation in the role README and tests; the
# module's and the role's choices are tested against this table.
PRESETS = {
    "grafana": Preset("Grafana", "ini", _preset_grafana, section="smtp",
                      ini_readers=[IniReader("Grafana (go-ini)", "goini", continuation=True)]),
    "gitea": Preset("Gitea/Forgejo", "ini", _preset_gitea, section="mailer",
                    ini_readers=[IniReader("Gitea (go-ini, IgnoreContinuation)", "goini", continuation=False)]),
    "alertmanager": Preset("Prometheus Alertmanager", "yaml", _preset_alertmanager, checker=("amtool", "check-config")),
    "django": Preset("Django (settings module)", "python", _django_keys),
    "django_env": Preset("Django (environment file)", "dotenv", _django_keys),
    "nextcloud": Preset("Nextcloud", "php", _preset_nextcloud, checker=("php", "-l"), syntax_checker=True),
    "env": Preset("a .env file of SMTP_* keys", "dotenv", _preset_env),
}


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
