# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every reply of docs/microsoft.md's table maps to its reason; endpoint advice."""

from __future__ import annotations

import importlib.util
import os
import pathlib
import re

import pytest

from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import microsoft, reasons, wire

TESTS = pathlib.Path(__file__).resolve().parents[3]


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, str(path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gen_reasons = _load("gen_reasons", TESTS / "lib" / "gen_reasons.py")
standin = _load("standin", TESTS / "standin" / "standin.py")
MICROSOFT_WORDS = re.compile(r"microsoft|outlook|office|exchange|SMTP\.Send|Set-CASMailbox|aka\.ms|live\.com|"
                             r"tenant|Conditional Access|Security Defaults", re.I)

# (stage, code, enhanced, text) as Microsoft sends them -> reason
MICROSOFT_REPLIES = [
    ("auth", 535, "5.7.139", "5.7.139 Authentication unsuccessful, basic authentication is disabled.", "basic_auth_disabled"),
    ("auth", 535, "5.7.139", "5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. "
     "Visit https://aka.ms/smtp_auth_disabled for more information.", "tenant_smtp_auth_disabled"),
    ("auth", 535, "5.7.139", "5.7.139 Authentication unsuccessful, user is locked by your organization's security "
     "defaults policy. Contact your administrator.", "security_defaults_block"),
    ("auth", 535, "5.7.139", "5.7.139 Authentication unsuccessful, the request did not meet the criteria to be "
     "authenticated successfully. Contact your administrator.", "security_defaults_block"),
    ("auth", 535, "5.7.3", "5.7.3 Authentication unsuccessful [BN0PR04CA0042.namprd04.prod.outlook.com]", "auth_failed"),
    ("auth", 550, "5.7.30", "5.7.30 Basic authentication is not supported for Client Submission.", "basic_auth_retired"),
    ("auth", 504, "5.7.4", "5.7.4 Unrecognized authentication type [BN0PR04CA0042.outlook.office365.com]",
     "mechanism_unrecognized"),
    ("auth", 503, "5.5.2", "5.5.2 Send hello first [BN0PR04CA0042.outlook.office365.com]", "hello_required"),
    ("mail", 503, "5.5.2", "5.5.2 Send hello first", "hello_required"),
    ("mail", 530, "5.7.57", "5.7.57 Client not authenticated to send mail. [BN0PR04CA0042]", "not_authenticated"),
    ("ehlo", 421, "4.7.66", "4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support "
     "TLS 1.2.", "tls_version_rejected"),
    ("data", 554, "5.2.252", "5.2.252 SendAsDenied; alerts@outlook.com not allowed to send as other@example.com; "
     "STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAsDenied", "send_as_denied"),
    ("mail", 554, "5.2.252", "5.2.252 SendAsDenied; a@outlook.com not allowed to send as b@example.com",
     "send_as_denied"),
    ("data", 550, "5.7.520", "5.7.520 Access denied, Your organization does not allow external forwarding.",
     "forwarding_blocked"),
    ("rcpt", 550, "5.7.520", "5.7.520 Access denied, Your organization does not allow external forwarding.",
     "forwarding_blocked"),
    ("mail", 550, "5.3.4", "5.3.4 Requested action not taken; To continue sending messages, please sign in to your "
     "account.", "account_locked"),
    ("mail", 554, "5.2.0", "5.2.0 STOREDRV.Submission.Exception:OutboundSpamException; Failed to process message "
     "due to a permanent exception", "sending_quota"),
    ("data", 554, "5.2.0", "5.2.0 STOREDRV.Submission.Exception:RefuseQuotaException", "sending_quota"),
    ("mail", 554, "5.2.0", "5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process "
     "message", "submission_quota"),
    ("mail", 451, "4.7.0", "4.7.0 Temporary server error. Please try again later. PRX4", "temporary_failure"),
    ("auth", 451, "4.7.0", "4.7.0 Temporary server error. Please try again later.", "temporary_failure"),
    ("auth", 501, "5.5.124", "5.5.124 Invalid XOAUTH2 auth data", "invalid_xoauth2_data"),
    ("banner", 421, "4.3.2", "4.3.2 Service not available", "service_unavailable"),
    ("banner", 554, "5.7.1", "5.7.1 Client host rejected", "service_unavailable"),
]


@pytest.mark.parametrize("stage, code, enhanced, text, reason", MICROSOFT_REPLIES)
def test_microsoft_replies(stage, code, enhanced, text, reason):
    word, hint, _stage = reasons.classify_reply(stage, code, enhanced, text)
    assert word == reason
    assert hint.strip()


def test_tls_version_reply_reports_the_tls_stage():
    assert reasons.classify_reply("ehlo", 421, "4.7.66", "4.7.66 TLS 1.0 and 1.1 are not supported")[2] == "tls"


@pytest.mark.parametrize("stage, code, enhanced, reason", [
    ("ehlo", 501, "5.5.4", "ehlo_rejected"),
    ("starttls", 454, "4.7.0", "starttls_rejected"),
    ("auth", 535, "5.7.8", "auth_failed"),
    ("auth", 538, None, "auth_rejected"),
    ("auth", 534, "5.7.9", "auth_rejected"),
    ("mail", 550, "5.1.0", "sender_rejected"),
    ("rcpt", 550, "5.1.1", "recipient_rejected"),
    ("rcpt", 452, "4.5.3", "temporary_failure"),
    ("data", 554, "5.6.0", "message_rejected"),
    ("rcpt", 421, "4.4.2", "service_unavailable"),
])
def test_generic_fallbacks(stage, code, enhanced, reason):
    assert reasons.classify_reply(stage, code, enhanced, "%s whatever" % enhanced)[0] == reason


def test_unknown_reply_is_unexpected_reply():
    assert reasons.classify_reply("banner", 500, None, "who knows")[0] == "unexpected_reply"


def test_reply_reasons_do_not_leak_into_other_stages():
    # 5.7.139 text at the mail stage is not an AUTH verdict
    assert reasons.classify_reply("mail", 535, "5.7.139", "basic authentication is disabled")[0] == "sender_rejected"


def test_every_reason_has_a_hint_and_known_stages():
    for entry in reasons.REASONS:
        assert entry.hint.strip(), entry.word
        assert re.match(r"^[a-z][a-z0-9_]*$", entry.word)
        assert set(entry.stages) <= set(reasons.STAGES), entry.word


def test_reasons_doc_lists_every_reason():
    doc = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "reasons.md")
    with open(doc, encoding="utf-8") as handle:
        text = handle.read()
    words = {entry.word for entry in reasons.REASONS} | {"unexpected_reply"}
    missing = sorted(word for word in words if "`%s`" % word not in text)
    assert not missing


@pytest.mark.parametrize("host, expected", [
    ("smtp-mail.outlook.com", True), ("SMTP.Office365.com.", True), ("smtp.live.com", True),
    ("mail.example.com", False), ("notoutlook.com", False), ("127.0.0.1", False),
])
def test_microsoft_hosts(host, expected):
    assert microsoft.is_microsoft_host(host) is expected


@pytest.mark.parametrize("address, expected", [
    ("a@outlook.com", True), ("a@hotmail.co.uk", True), ("a@live.de", True), ("a@msn.com", True),
    ("a@HOTMAIL.FR", True), ("a@example.com", False), ("a@outlook.example.com", False), ("nobody", False), (None, False),
])
def test_consumer_addresses(address, expected):
    assert microsoft.is_consumer_address(address) is expected


def test_endpoint_warnings():
    warnings = microsoft.endpoint_warnings("smtp.live.com", 465, "me@hotmail.com", password_auth=True)
    assert len(warnings) == 3
    assert "smtp-mail.outlook.com" in warnings[0]
    assert "465" in warnings[1]
    assert "September 2024" in warnings[2]
    assert microsoft.endpoint_warnings("smtp-mail.outlook.com", 587, "me@hotmail.com", password_auth=False) == []
    assert microsoft.endpoint_warnings("mail.example.com", 465, "me@example.com", password_auth=True) == []


def test_port_465_failure_hint_says_so_plainly():
    assert microsoft.adjust_hint("x", "smtp-mail.outlook.com", 465).startswith("Microsoft does not support port 465")
    assert microsoft.adjust_hint("x", "smtp-mail.outlook.com", 587) == "x"
    assert microsoft.adjust_hint("x", "mail.example.com", 465) == "x"


# --- one source per fact -------------------------------------------------------------------------------------------

def test_generated_docs_match_the_table():
    # docs/reasons.md (hints included) and smtp_check's documented reason list are generated from REASONS.
    assert gen_reasons.stale() == [], "run: python tests/lib/gen_reasons.py"


def test_generated_table_has_every_hint_text():
    table = gen_reasons.reason_table(reasons)
    for entry in reasons.REASONS:
        for text in (entry.hint, entry.microsoft, entry.plaintext):
            if text:
                assert gen_reasons.md(text) in table, entry.word


@pytest.mark.parametrize("entry", [entry for entry in reasons.REASONS if entry.example],
                         ids=lambda entry: "%s-%s" % (entry.word, entry.example[:9]))
def test_every_example_reply_classifies_to_its_own_reason(entry):
    # At each of its stages, except where an earlier row takes every reply of that stage (a stage's fallback, such
    # as message_rejected at data, comes before the catch-all unexpected_reply).
    reply = wire.parse_reply(entry.example)
    position = reasons.REASONS.index(entry)
    catch_all = set(stage for earlier in reasons.REASONS[:position] if (earlier.codes, earlier.enhanced,
                    earlier.pattern) == (None, None, None) for stage in earlier.stages)
    stages = [stage for stage in entry.stages if stage not in catch_all]
    assert stages, entry.word
    for stage in stages:
        word, _hint, failed_stage = reasons.classify_reply(stage, reply.code, reply.enhanced, reply.text)
        assert (word, failed_stage) == (entry.word, entry.stage or stage), stage


def test_every_local_reason_has_a_condition_and_no_example():
    for entry in reasons.REASONS:
        if entry.codes == reasons.LOCAL:
            assert entry.condition and not entry.example, entry.word


# The stand-in writes its replies itself (it plays the server and must not import the classifier); this test runs
# each of its scenario replies through the classifier. Expected reasons are written here, by hand.
STANDIN_REPLIES = [
    ("R_AUTH_FAILED", "auth", "auth_failed"),
    ("R_UNRECOGNIZED_AUTH", "auth", "mechanism_unrecognized"),
    ("R_SEND_HELLO", "auth", "hello_required"),
    ("R_SEND_HELLO", "mail", "hello_required"),
    ("R_NOT_AUTHENTICATED", "mail", "not_authenticated"),
    ("R_BAD_XOAUTH2", "auth", "invalid_xoauth2_data"),
    ("R_TLS_OLD", "ehlo", "tls_version_rejected"),
    ("R_BASIC_DISABLED", "auth", "basic_auth_disabled"),
    ("R_TENANT_DISABLED", "auth", "tenant_smtp_auth_disabled"),
    ("R_SECURITY_DEFAULTS", "auth", "security_defaults_block"),
    ("R_BASIC_RETIRED", "auth", "basic_auth_retired"),
    ("R_ACCOUNT_LOCKED", "mail", "account_locked"),
    ("R_SPAM_QUOTA", "mail", "sending_quota"),
    ("R_SUBMISSION_QUOTA", "mail", "submission_quota"),
    ("R_TEMP_ERROR", "mail", "temporary_failure"),
    ("R_BANNER_421", "banner", "service_unavailable"),
    ("R_SEND_AS", "data", "send_as_denied"),
]


@pytest.mark.parametrize("name, stage, reason", STANDIN_REPLIES)
def test_standin_replies_classify(name, stage, reason):
    text = getattr(standin, name).format(login="standin@outlook.com", sender="other@example.com")
    reply = wire.parse_reply(text)
    assert reasons.classify_reply(stage, reply.code, reply.enhanced, reply.text)[0] == reason


def test_every_standin_reply_is_classified_and_every_scenario_reply_is_known():
    failing = sorted(name for name in vars(standin) if name.startswith("R_") and name != "R_AUTH_OK")
    assert failing == sorted(set(name for name, _stage, _reason in STANDIN_REPLIES))
    for scenario in standin.SCENARIOS.values():
        for reply in (scenario.login_reply, scenario.xoauth2_reply, scenario.mail_reply):
            assert reply is None or reply in [getattr(standin, name) for name in failing], scenario.name


# --- hints that are true where they are shown ----------------------------------------------------------------------

@pytest.mark.parametrize("entry", reasons.REASONS, ids=lambda entry: entry.word)
def test_hints_off_microsoft_name_nothing_of_microsoft(entry):
    facts = {"host": "mail.example.test", "port": 2525, "san": ["mail.example.test"], "offered": ["PLAIN"],
             "code": 535, "stage": "auth", "tls": True, "microsoft": False}
    text = reasons.hint(entry, facts)
    assert text.strip() and "{" not in text
    if entry.microsoft:
        assert not MICROSOFT_WORDS.search(text), text
        assert reasons.hint(entry, dict(facts, microsoft=True)) == entry.microsoft.format_map(facts)


def test_hint_placeholders_use_what_the_probe_saw():
    facts = {"host": "localhost", "san": ["mail.example.test", "127.0.0.1"], "microsoft": False}
    assert "it names mail.example.test, 127.0.0.1" in reasons.hint("cert_hostname_mismatch", facts)
    assert "(smtp-mail.outlook.com)" in reasons.hint("cert_hostname_mismatch", dict(facts, microsoft=True))
    offered = reasons.hint("auth_mechanism_unavailable", {"offered": ["CRAM-MD5"], "tls": True})
    assert "it offers CRAM-MD5" in offered
    plaintext = reasons.hint("auth_mechanism_unavailable", {"offered": [], "tls": False, "microsoft": True})
    assert "security" in plaintext and "auth_mechanisms" not in plaintext
    assert reasons.hint("unexpected_reply", {"code": 599, "stage": "rcpt"}) == \
        "The server answered 599 at rcpt: read the reply text."
    assert reasons.hint("no_such_reason") == ""


def test_a_second_table_is_one_line_of_blocks(tmp_path, monkeypatch):
    # What adding _oauth2.TOKEN_ERRORS will take: rows_table() renders any namedtuples, and a block whose markers
    # are missing is appended to its Markdown file.
    from collections import namedtuple
    TokenError = namedtuple("TokenError", "word hint example")
    rows = (TokenError("invalid_grant", "Sign in again.", "AADSTS70000: the grant is invalid | expired"),)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "reasons.md").write_text("# reasons\n", encoding="utf-8")
    monkeypatch.setattr(gen_reasons, "ROOT", str(tmp_path))
    monkeypatch.setattr(gen_reasons, "BLOCKS", [
        ("docs/reasons.md", "token-errors", lambda: gen_reasons.rows_table(rows, ("word", "example", "hint")))])
    assert gen_reasons.stale() == ["docs/reasons.md"]
    assert gen_reasons.main([]) == 0 and gen_reasons.stale() == []
    text = (tmp_path / "docs" / "reasons.md").read_text(encoding="utf-8")
    assert "| invalid_grant | AADSTS70000: the grant is invalid \\| expired | Sign in again. |" in text
    assert text.count("BEGIN generated: token-errors") == 1
