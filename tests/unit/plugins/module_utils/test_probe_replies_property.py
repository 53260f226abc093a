# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property tests (Hypothesis) of the SMTP-reply surface: whatever a server sends - truncated, multi-line,
oversized, non-ASCII or not SMTP at all - the probe ends in a correct result or a clear reason, never a traceback,
never a secret in what it returns.

Every input goes through a real socket on 127.0.0.1: the reply parser through a socket pair, the whole probe
against a scripted server thread. The number of inputs tried is printed at the end of the module (pytest -s) and
written to tests/output/hypothesis/smtp_replies.json.
"""

from __future__ import annotations

import json
import pathlib
import socket
import threading

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import probe as probe_py
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import reasons, wire
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.errors import ProbeError

PASSWORD = "pr0perty-s3cret"
USER = "user@example.test"
OUTPUT = pathlib.Path(__file__).resolve().parents[3] / "output" / "hypothesis"
TRIED = {"parser": 0, "classifier": 0, "probe": 0}
BOUNDED = settings(max_examples=150, deadline=None, database=None,
                   suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# --- what a server may send ----------------------------------------------------------------------------------------

codes = st.one_of(st.integers(200, 599).map(str), st.integers(0, 999).map(lambda n: "%03d" % n),
                  st.text(alphabet="0123456789xX -", min_size=0, max_size=4))
texts = st.one_of(st.text(max_size=80), st.sampled_from(["5.7.139 Authentication unsuccessful, basic authentication "
                                                         "is disabled.", "2.0.0 OK", "4.7.66 TLS", "5.2.252 x",
                                                         "grüße ☃ 5.7.3", ""]))
lines = st.builds(lambda code, sep, text: (code + sep + text).encode("utf-8", "surrogatepass"),
                  codes, st.sampled_from([" ", "-", ""]), texts)
raw_lines = st.one_of(lines, st.binary(max_size=120))
endings = st.sampled_from([b"\r\n", b"\n", b"\r", b""])
replies = st.one_of(
    st.lists(st.tuples(raw_lines, endings), min_size=1, max_size=6).map(
        lambda parts: b"".join(line + end for line, end in parts)),                         # anything, maybe truncated
    st.integers(0, 1200).map(lambda count: b"250-x\r\n" * count + b"250 end\r\n"),        # long multi-line
    st.integers(60000, 70000).map(lambda size: b"250 " + b"x" * size + b"\r\n"),          # oversized line
    st.binary(min_size=0, max_size=300),                                                   # not SMTP at all
)
AT_STAGES = st.sampled_from(["banner", "ehlo", "auth", "mail"])


@pytest.fixture(scope="module", autouse=True)
def count_inputs():
    yield
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "smtp_replies.json").write_text(json.dumps(TRIED, indent=1) + "\n", encoding="utf-8")
    print("\nhypothesis smtp replies: inputs tried: parser %(parser)d, classifier %(classifier)d, probe %(probe)d"
          % TRIED)


# --- the parser, over a socket pair --------------------------------------------------------------------------------

@BOUNDED
@given(data=replies)
@example(data=b"250-first\r\n251 second\r\n")          # codes differ between lines
@example(data=b"220")                                  # truncated, then closed
@example(data="220 grüße\r\n".encode("latin-1"))       # not UTF-8
@example(data=b"250 " + b"x" * 70000 + b"\r\n")        # longer than any reply may be
def test_reply_parser_ends_in_a_reply_or_a_clear_reason(data):
    TRIED["parser"] += 1
    server, client = socket.socketpair()
    try:
        server.sendall(data)
        server.close()
        session = wire.Session(client, wire.Deadline(2), stage="banner")
        try:
            reply = session.read_reply()
        except ProbeError as exc:
            assert (exc.stage, exc.reason) == ("banner", "protocol_error") and exc.detail
        except wire.ConnectionClosed:
            assert not data.endswith((b"\n",)) or b"-" in data  # ran out of data before a last line
        else:
            assert 0 <= reply.code <= 999 and isinstance(reply.text, str)
            assert len(reply.lines) <= wire.MAX_REPLY_LINES + 1
    finally:
        client.close()


@BOUNDED
@given(code=st.integers(0, 999), text=st.text(max_size=200), stage=st.sampled_from(reasons.STAGES))
def test_classifier_always_names_a_known_reason(code, text, stage):
    TRIED["classifier"] += 1
    reply = wire.Reply(code, text.split("\n"))
    word, hint, failed_stage = reasons.classify_reply(stage, reply.code, reply.enhanced, reply.text)
    assert word in reasons.words() and hint.strip() and failed_stage in reasons.STAGES


# --- the whole probe against a scripted server ---------------------------------------------------------------------

class ScriptedServer:
    """One connection: a normal plaintext dialogue with AUTH offered in the clear, except that the reply at `stage`
    is `data` (after which the server closes)."""

    def __init__(self, stage, data):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, args=(stage, data), daemon=True)
        self.thread.start()

    def _serve(self, stage, data):
        try:
            conn, _address = self.listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(3)
            try:
                if stage == "banner":
                    conn.sendall(data)
                    return
                conn.sendall(b"220 generic ready\r\n")
                reader = conn.makefile("rb")
                for raw in reader:
                    verb = raw.split(b" ", 1)[0].strip().upper()
                    if verb == b"EHLO":
                        if stage == "ehlo":
                            conn.sendall(data)
                            return
                        conn.sendall(b"250-generic\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n")
                    elif verb == b"AUTH":
                        if stage == "auth":
                            conn.sendall(data)
                            return
                        conn.sendall(b"235 2.7.0 ok\r\n")
                    elif verb == b"MAIL":
                        conn.sendall(data)
                        return
                    else:
                        return
            except OSError:
                return

    def stop(self):
        self.listener.close()
        self.thread.join(5)


@settings(max_examples=60, deadline=None, database=None)
@given(stage=AT_STAGES, data=replies)
@example(stage="auth", data=b"334 " + b"e30=" + b"\r\n")  # a challenge to PLAIN: the probe must not hang
@example(stage="auth", data=b"535-5.7.8 no\r\n535 5.7.8 " + PASSWORD.encode() + b"\r\n")  # the server echoes it
def test_probe_ends_in_a_result_never_a_traceback(stage, data):
    TRIED["probe"] += 1
    server = ScriptedServer(stage, data)
    try:
        result = probe_py.run(probe_py.Options(host="127.0.0.1", port=server.port, security="none", timeout=3,
                                               username=USER, password=PASSWORD, auth="plain", mail_from=USER,
                                               rcpt_to=[USER], ehlo_name="client.test"))
    finally:
        server.stop()
    assert json.loads(json.dumps(result)) == result
    if result["ok"]:
        assert result["reason"] is None
    else:
        assert result["reason"] in reasons.words() and result["hint"].strip(), result
        assert result["failed_stage"] in reasons.STAGES
    # What the probe itself writes never carries the secret; only a reply the server chose to send back could.
    written = dict(result, reply=None)
    assert PASSWORD not in json.dumps(written)
