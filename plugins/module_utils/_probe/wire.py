# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""The SMTP wire: replies, the buffered session and the one deadline that bounds every blocking call."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import time

from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.errors import ProbeError

MAX_REPLY = 64 * 1024
MAX_REPLY_LINES = 1000
TIMEOUT_REASON = {"dns": "dns_timeout", "connect": "connect_timeout", "banner": "banner_timeout"}
_REPLY_LINE = re.compile(r"^(\d{3})([ -]?)(.*)$")
_ENHANCED = re.compile(r"^([245]\.\d{1,3}\.\d{1,3})(?:\s|$)")


class Reply:
    """One SMTP reply: code, enhanced status code (or None) and the text lines."""

    def __init__(self, code, lines):
        self.code = code
        self.lines = lines
        match = _ENHANCED.match(lines[0] if lines else "")
        self.enhanced = match.group(1) if match and match.group(1)[0] == str(code)[0] else None

    @property
    def text(self):
        return "\n".join(self.lines)

    def as_dict(self):
        return {"code": self.code, "enhanced": self.enhanced, "text": self.text}

    def __repr__(self):
        return "Reply(%d, %r)" % (self.code, self.lines)


def parse_reply(text):
    """A reply written on one line ("535 5.7.3 Authentication unsuccessful") -> Reply. For tables and tests."""
    match = _REPLY_LINE.match(text)
    if not match:
        raise ValueError("not an SMTP reply: %r" % text[:200])
    return Reply(int(match.group(1)), [match.group(3)])


class Deadline:
    """One deadline for the whole probe; every blocking call gets the time that is left."""

    def __init__(self, seconds, clock=time.monotonic):
        self.clock = clock
        self.end = clock() + float(seconds)

    def remaining(self):
        return self.end - self.clock()

    def left(self, stage):
        remaining = self.remaining()
        if remaining <= 0:
            raise ProbeError(stage, TIMEOUT_REASON.get(stage, "response_timeout"), "the timeout ran out")
        return remaining


class ConnectionClosed(Exception):
    """The peer closed the connection while a reply was awaited."""


class Session:
    """A socket with a read buffer; every call bounded by the probe's deadline. stage names the exchange under way
    (set by the probe), for timeouts and protocol errors."""

    def __init__(self, sock, deadline, stage="banner"):
        self.sock = sock
        self.deadline = deadline
        self.buffer = bytearray()
        self.stage = stage

    def send(self, data):
        self.sock.settimeout(self.deadline.left(self.stage))
        self.sock.sendall(data)

    def send_lines(self, lines):
        self.send("".join(line + "\r\n" for line in lines).encode("utf-8"))

    def _read_line(self):
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line.rstrip(b"\r\n").decode("utf-8", "replace")
            if len(self.buffer) > MAX_REPLY:
                raise ProbeError(self.stage, "protocol_error", "reply line longer than %d bytes" % MAX_REPLY)
            self.sock.settimeout(self.deadline.left(self.stage))
            chunk = self.sock.recv(16384)
            if not chunk:
                raise ConnectionClosed()
            self.buffer += chunk

    def read_reply(self):
        lines = []
        code = None
        while True:
            line = self._read_line()
            match = _REPLY_LINE.match(line)
            if not match or (code is not None and int(match.group(1)) != code):
                raise ProbeError(self.stage, "protocol_error", "not an SMTP reply: %r" % line[:200])
            code = int(match.group(1))
            lines.append(match.group(3))
            if match.group(2) != "-":
                return Reply(code, lines)
            if len(lines) > MAX_REPLY_LINES:
                raise ProbeError(self.stage, "protocol_error", "endless multi-line reply")

    def command(self, line):
        self.send_lines([line])
        return self.read_reply()

    def wrap(self, context, server_hostname):
        self.sock.settimeout(self.deadline.left(self.stage))
        self.sock = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.buffer = bytearray()

    def close(self, quit_first=True):
        if self.sock is None:
            return
        try:
            if quit_first:
                self.sock.settimeout(0.5)
                self.sock.sendall(b"QUIT\r\n")  # no wait for the 221: it would cost one round trip
        except (OSError, ValueError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass
            self.sock = None


def parse_ehlo(reply):
    """EHLO reply -> {KEYWORD: parameters} (the greeting line is skipped)."""
    extensions = {}
    for line in reply.lines[1:]:
        parts = line.strip().split(None, 1)
        if not parts:
            continue
        keyword = parts[0].upper()
        params = parts[1].strip() if len(parts) > 1 else ""
        if keyword.startswith("AUTH="):  # old-style "AUTH=LOGIN PLAIN"
            keyword, params = "AUTH", (keyword[5:] + " " + params).strip()
            if "AUTH" in extensions:
                continue
        extensions[keyword] = params
    return extensions


def auth_mechanisms(extensions):
    return [mech.upper() for mech in extensions.get("AUTH", "").split()]
