# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this plugin util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Replace one top-level variable of a YAML vars file by an inline-vaulted value, keeping every other line.

Controller side only (the oauth2_login action). Pure text work: the caller encrypts; this module finds the variable's
block, splices the new one in, and checks the result still parses with the same keys.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import tempfile

import yaml


class VarsFileError(ValueError):
    """The vars file cannot be edited safely; nothing was written."""


_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


class _TagTolerantLoader(yaml.SafeLoader):  # pylint: disable=too-many-ancestors
    """Safe YAML that accepts Ansible's !vault and !unsafe tags (their values stay opaque)."""


def _opaque(loader, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    return None


_TagTolerantLoader.add_constructor("!vault", _opaque)
_TagTolerantLoader.add_constructor("!unsafe", _opaque)


def parse_mapping(text, path):
    """The top-level keys of a vars file (empty when it has no content). Errors name the line, never the content."""
    try:
        data = yaml.load(text, Loader=_TagTolerantLoader)  # nosec B506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = " at line %d, column %d" % (mark.line + 1, mark.column + 1) if mark else ""
        raise VarsFileError("%s is not valid YAML%s: %s" % (path, where, exc.problem or exc.context or "syntax error"))
    except yaml.YAMLError as exc:
        raise VarsFileError("%s is not valid YAML: %s" % (path, type(exc).__name__))
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise VarsFileError("%s does not hold a mapping of variables (it is a YAML %s)" % (path, type(data).__name__))
    return data


def vaulted_block(name, ciphertext):
    """`name: !vault |` and the indented ciphertext, as ansible-vault encrypt_string prints it."""
    lines = ciphertext.strip().splitlines()
    return "%s: !vault |\n%s" % (name, "".join("  %s\n" % line for line in lines))


def _block_span(lines, name):
    """(start, end) line indexes of the top-level key `name` and its indented continuation, or None."""
    key = re.compile(r"""\A(?:%s|"%s"|'%s')\s*:(?:\s|\Z)""" % ((re.escape(name),) * 3))
    for start, line in enumerate(lines):
        if key.match(line):
            end = start + 1
            while end < len(lines) and (lines[end].startswith((" ", "\t")) or lines[end].strip() == ""):
                end += 1
            while end > start + 1 and lines[end - 1].strip() == "":  # trailing blank lines stay outside
                end -= 1
            return start, end
    return None


def replace_variable(text, name, block, path="vars file"):
    """text with the top-level variable `name` replaced by block (or block appended). Comments, order and every other
    line stay as they were. Raises VarsFileError when the file is not a YAML mapping or the key is not editable."""
    if not _NAME.match(name or ""):
        raise VarsFileError("%r is not a valid variable name" % (name,))
    before = parse_mapping(text, path)
    lines = text.splitlines(True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    span = _block_span(lines, name)
    if span is None and name in before:
        raise VarsFileError("%s sets %s in a style this editor cannot replace in place (flow mapping or a document "
                            "marker); write it as a top-level `%s:` line" % (path, name, name))
    if sum(1 for line in lines if line.rstrip() == "---") > 1:
        raise VarsFileError("%s holds several YAML documents; a vars file has one" % path)
    if span is None:
        if lines and lines[-1].strip() == "...":
            raise VarsFileError("%s ends with a document end marker (...): remove it or add %s yourself" % (path, name))
        new_lines = lines + [block]
    else:
        new_lines = lines[:span[0]] + [block] + lines[span[1]:]
    result = "".join(new_lines)
    after = parse_mapping(result, path)
    if set(after) != set(before) | {name}:
        raise VarsFileError("replacing %s in %s would change other variables; nothing written" % (name, path))
    return result


def extract_ciphertext(text, name):
    """The vault ciphertext of `name` in text (for checking what was written)."""
    lines = text.splitlines(True)
    span = _block_span(lines, name)
    if span is None:
        return None
    return "".join(line.strip() + "\n" for line in lines[span[0] + 1:span[1]] if line.strip())


def write_atomic(path, text, mode=0o600):
    """Write text to path through a temporary file in the same directory (mode 0600 from the start), then rename.
    An existing file keeps its owner and group."""
    directory = os.path.dirname(os.path.abspath(path))
    try:
        info = os.stat(path)
    except FileNotFoundError:
        info = None
    handle, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    try:
        os.fchmod(handle, mode)
        if info is not None and os.geteuid() == 0:
            os.fchown(handle, info.st_uid, info.st_gid)
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            handle = None
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    except BaseException:
        if handle is not None:
            os.close(handle)
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
