# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One list of presets: the module's argspec and documentation, the role's argument_specs and README follow PRESETS."""

from __future__ import annotations

import os

import yaml

from ansible_collections.mailops.live_smtp.plugins.module_utils import _app_formats as af
from ansible_collections.mailops.live_smtp.plugins.modules import app_config

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..")


def test_module_choices_follow_presets():
    assert app_config.argument_spec()["preset"]["choices"] == sorted(af.PRESETS)
    documented = yaml.safe_load(app_config.DOCUMENTATION)["options"]["preset"]["choices"]
    assert sorted(documented) == sorted(af.PRESETS)


def test_role_choices_and_readme_follow_presets():
    with open(os.path.join(ROOT, "roles", "app_smtp", "meta", "argument_specs.yml"), encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)["argument_specs"]["main"]["options"]["app_smtp_apps"]["options"]
    assert sorted(spec["preset"]["choices"]) == sorted(af.PRESETS)
    with open(os.path.join(ROOT, "roles", "app_smtp", "README.md"), encoding="utf-8") as handle:
        readme = handle.read()
    for name in af.PRESETS:
        assert "### `%s`" % name in readme, "the role README documents no preset %s" % name


def test_every_preset_entry_is_complete_and_read():
    for name, preset in af.PRESETS.items():
        assert preset.format in af.FORMATS and callable(preset.build) and preset.application
        assert (preset.format == "ini") == bool(preset.section) == bool(preset.ini_readers), name
