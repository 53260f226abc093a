# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The credential_gate action: its documented options are the options it accepts, and the secrets stay hidden."""

from __future__ import annotations

import yaml

from ansible_collections.mailops.live_smtp.plugins.action import credential_gate
from ansible_collections.mailops.live_smtp.plugins.modules import credential_gate as credential_gate_doc


def test_documented_options_match_the_argument_spec():
    options = yaml.safe_load(credential_gate_doc.DOCUMENTATION)["options"]
    assert set(options) == set(credential_gate.ARGUMENT_SPEC) == set(credential_gate.ActionModule._VALID_ARGS)
    for name, spec in credential_gate.ARGUMENT_SPEC.items():
        documented = options[name]
        assert documented["type"] == spec["type"], name
        assert documented.get("default") == spec.get("default"), name
        assert documented.get("choices") == spec.get("choices"), name
        assert documented.get("elements") == spec.get("elements"), name
        assert bool(documented.get("required")) == bool(spec.get("required")), name


def test_the_accounts_option_is_no_log():
    assert credential_gate.ARGUMENT_SPEC["accounts"]["no_log"] is True


def test_the_documented_return_values_and_the_keys_of_a_failure():
    returned = yaml.safe_load(credential_gate_doc.RETURN)
    assert set(returned) == {"verified", "unchanged", "would_verify", "failures", "checks"}
    sample = returned["failures"]["sample"][0]
    assert set(sample) == {"entry", "reason", "failed_stage", "hint", "reply"}


def test_the_timeout_is_smtp_checks_option():
    from ansible_collections.mailops.live_smtp.plugins.modules.smtp_check import argument_spec
    assert argument_spec()["timeout"]["type"] == credential_gate.ARGUMENT_SPEC["timeout"]["type"]
