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
