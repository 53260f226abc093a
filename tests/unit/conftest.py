# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make `ansible_collections.mailops.live_smtp` importable for a plain `python -m pytest tests/unit`.

From a staged copy (.../ansible_collections/mailops/live_smtp) the directory above ansible_collections goes on
sys.path. From a plain checkout, a temporary ansible_collections/mailops/live_smtp symlink is made to point here.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile

_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _collections_dir():
    parent = os.path.dirname(_ROOT)
    grandparent = os.path.dirname(parent)
    if (os.path.basename(_ROOT), os.path.basename(parent), os.path.basename(grandparent)) == \
            ("live_smtp", "mailops", "ansible_collections"):
        return os.path.dirname(grandparent)
    scratch = tempfile.mkdtemp(prefix="live-smtp-units-")
    atexit.register(shutil.rmtree, scratch, True)
    os.makedirs(os.path.join(scratch, "ansible_collections", "mailops"))
    os.symlink(_ROOT, os.path.join(scratch, "ansible_collections", "mailops", "live_smtp"))
    return scratch


if not any(os.path.isdir(os.path.join(entry, "ansible_collections", "mailops", "live_smtp")) for entry in sys.path):
    sys.path.insert(0, _collections_dir())


# ------------------------------------------------------------------------------------------------ input counts
# Property-based suites count the inputs each surface was tried with (count_input fixture); the totals are printed
# at the end of the session and written to tests/output/input-counts.json, so a run shows how much was tried.

import collections
import json

import pytest

_INPUT_COUNTS = collections.Counter()


@pytest.fixture(scope="session")
def count_input():
    """count_input(surface): one more input tried on that surface. Session-scoped, so Hypothesis accepts it."""
    def count(surface, n=1):
        _INPUT_COUNTS[surface] += n
    return count


def pytest_terminal_summary(terminalreporter):
    if not _INPUT_COUNTS:
        return
    terminalreporter.write_sep("-", "inputs tried per surface (property-based suites)")
    for surface, n in sorted(_INPUT_COUNTS.items()):
        terminalreporter.write_line("%-48s %6d" % (surface, n))
    out = os.path.join(_ROOT, "tests", "output")
    try:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "input-counts.json"), "w") as handle:
            json.dump(dict(sorted(_INPUT_COUNTS.items())), handle, indent=1)
    except OSError:
        pass


@pytest.fixture(scope="session")
def goini_reader(tmp_path_factory):
    """The real go-ini (Debian's golang-gopkg-ini.v1-dev, the library Grafana and Gitea use), built once.
    read(dialect, text) -> {section: {key: Key.Value()}}, or the string go-ini's error when it refuses the file."""
    import base64
    import shutil
    import subprocess
    if not shutil.which("go") or not os.path.isdir("/usr/share/gocode/src/gopkg.in/ini.v1"):
        pytest.skip("go and golang-gopkg-ini.v1-dev are not installed (tests/setup.sh installs them)")
    source = os.path.join(_ROOT, "tests", "integration", "targets", "app_smtp", "files", "goini_read.go")
    work = tmp_path_factory.mktemp("goini-reader")
    shutil.copy(source, str(work / "main.go"))
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=str(work / "cache"))
    subprocess.run(["go", "build", "-o", str(work / "goini"), str(work / "main.go")], check=True, env=env, cwd=str(work))

    def read(dialect, text):
        path = work / "input.ini"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        run = subprocess.run([str(work / "goini"), dialect, str(path), "raw"], capture_output=True, check=False)
        if run.returncode:
            return run.stderr.decode("utf-8", "replace").strip() or "refused"
        return {s: {k: base64.b64decode(v).decode("utf-8") for k, v in keys.items()}
                for s, keys in json.loads(run.stdout).items()}
    return read
