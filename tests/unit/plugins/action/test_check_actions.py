# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The action plugins: their documented options are the options they accept."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.mailops.live_smtp.plugins.action import check_accounts, check_report, credential_gate
from ansible_collections.mailops.live_smtp.plugins.modules import check_accounts as check_accounts_doc
from ansible_collections.mailops.live_smtp.plugins.modules import check_report as check_report_doc
from ansible_collections.mailops.live_smtp.plugins.modules import credential_gate as credential_gate_doc


@pytest.mark.parametrize("action, doc", [(check_accounts, check_accounts_doc), (check_report, check_report_doc),
                                         (credential_gate, credential_gate_doc)])
def test_documented_options_match_the_argument_spec(action, doc):
    options = yaml.safe_load(doc.DOCUMENTATION)["options"]
    assert set(options) == set(action.ARGUMENT_SPEC) == set(action.ActionModule._VALID_ARGS)
    for name, spec in action.ARGUMENT_SPEC.items():
        documented = options[name]
        assert documented["type"] == spec["type"], name
        assert documented.get("default") == spec.get("default"), name
        assert documented.get("choices") == spec.get("choices"), name
        assert documented.get("elements") == spec.get("elements"), name
        assert bool(documented.get("required")) == bool(spec.get("required")), name


def test_the_accounts_option_is_no_log():
    assert check_accounts.ARGUMENT_SPEC["accounts"]["no_log"] is True


def test_the_module_options_passed_through_exist_in_smtp_check():
    from ansible_collections.mailops.live_smtp.plugins.modules.smtp_check import argument_spec
    module_spec = argument_spec()
    for name in ("timeout", "validate_certs", "min_tls_version", "cert_min_days", "nameservers", "ip_version", "ehlo_name",
                 "rcpt_to", "send_test_message"):
        assert name in module_spec, name
        assert module_spec[name]["type"] == check_accounts.ARGUMENT_SPEC[name]["type"], name
