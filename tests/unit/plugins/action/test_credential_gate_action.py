# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The credential_gate action: the secrets stay hidden, the documented results are the ones it returns.

Its documented options are checked with the other actions' in test_check_actions.py."""

from __future__ import annotations

import yaml

from ansible_collections.mailops.live_smtp.plugins.action import credential_gate
from ansible_collections.mailops.live_smtp.plugins.modules import credential_gate as credential_gate_doc


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
