# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Replacing one variable of a vars file by a vaulted block, keeping every other line."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.mailops.live_smtp.plugins.plugin_utils import _vault_vars as vv

CIPHER = "$ANSIBLE_VAULT;1.1;AES256\n6162\n6364\n"
BLOCK = vv.vaulted_block("vault_token", CIPHER)

BEFORE = """---
# comment at the top
user: alerts@outlook.com  # trailing
vault_token: !vault |
  $ANSIBLE_VAULT;1.1;AES256
  3031
  3233

# comment after
other:
  - 1
"""


def test_vaulted_block_shape():
    assert BLOCK == "vault_token: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6162\n  6364\n"


def test_replaces_only_that_variable():
    after = vv.replace_variable(BEFORE, "vault_token", BLOCK)
    assert after == BEFORE.replace("  3031\n  3233\n", "  6162\n  6364\n")
    assert vv.extract_ciphertext(after, "vault_token") == CIPHER


@pytest.mark.parametrize("text", ["", "---\n", "# only a comment", "a: 1", "a: 1\n"])
def test_appends_when_missing(text):
    after = vv.replace_variable(text, "vault_token", BLOCK)
    assert after.startswith(text) and after.endswith(BLOCK)
    assert set(vv.parse_mapping(after, "f")) == set(vv.parse_mapping(text, "f")) | {"vault_token"}


@pytest.mark.parametrize("line", ['"vault_token": old', "'vault_token': old", "vault_token: >\n  folded\n  text"])
def test_replaces_quoted_and_multiline_keys(line):
    after = vv.replace_variable("a: 1\n%s\nb: 2\n" % line, "vault_token", BLOCK)
    assert after == "a: 1\n%sb: 2\n" % BLOCK


@pytest.mark.parametrize("text, message", [
    ("{vault_token: x, a: 1}", "cannot replace"),
    ("- a\n- b\n", "does not hold a mapping"),
    ("a: [1\nb: 2\n", "is not valid YAML at line"),
    ("a: 1\n---\nb: 2\n", "is not valid YAML"),
    ("a: 1\n...\n", "document end marker"),
])
def test_refusals(text, message):
    with pytest.raises(vv.VarsFileError) as info:
        vv.replace_variable(text, "vault_token", BLOCK, "vault.yml")
    assert message in str(info.value)


def test_errors_never_quote_the_file():
    with pytest.raises(vv.VarsFileError) as info:
        vv.replace_variable("password: s3cr3t-value\nbroken: [\n", "vault_token", BLOCK, "vault.yml")
    assert "s3cr3t" not in str(info.value)


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "a:b"])
def test_bad_variable_names(name):
    with pytest.raises(vv.VarsFileError):
        vv.replace_variable("a: 1\n", name, BLOCK)


def test_vault_and_unsafe_tags_parse():
    assert set(vv.parse_mapping("a: !unsafe '{{ x }}'\nb: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  61\n", "f")) == \
        {"a", "b"}


def test_write_atomic_mode_and_no_leftovers(tmp_path):
    path = tmp_path / "vault.yml"
    path.write_text("old\n")
    os.chmod(path, 0o644)
    vv.write_atomic(str(path), "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vault.yml"]
