# -*- coding: utf-8 -*-
# Copyright: mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The credential gate (private to the collection, controller side): which login settings are new on a host.

A role remembers, per host, a keyed fingerprint (HMAC-SHA256) of the login settings it put live. Settings whose
fingerprint is not remembered are new and are checked from the host before the role writes them. The key is random
per host and kept in the same root-only file, so a fingerprint says nothing about a secret to anyone who cannot
already read the host's own secret files. Pure functions on plain data: unit tested without Ansible.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

STATE_VERSION = 1
# What decides whether a login works: the server, the TLS trust, who logs in and with what.
ACCOUNT_FIELDS = ("host", "port", "security", "username", "auth", "password", "oauth2", "ca_file")
# The key and every fingerprint: 32 bytes as lowercase hex (hmac.compare_digest refuses non-ASCII text).
HEX64 = re.compile(r"[0-9a-f]{64}")


class GateError(ValueError):
    """Bad input for the gate; the message never holds a secret."""


def entry_key(kind, name):
    """The state key of an entry: accounts by name, local relays by host and port."""
    return "%s:%s" % (kind, name)


def account_entry(account):
    """(key, the settings to fingerprint) of a completed account."""
    settings = {field: account.get(field) for field in ACCOUNT_FIELDS}
    if settings.get("oauth2"):
        settings["oauth2"] = {k: v for k, v in dict(settings["oauth2"]).items() if v is not None}
    return entry_key("account", account["name"]), settings


def relay_entry(relay):
    """(key, settings) of a local relay an application is pointed at (no credential: host and port only)."""
    host, port = str(relay.get("host") or ""), relay.get("port")
    if not host or not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise GateError("a relay needs a host and a port from 1 to 65535")
    return entry_key("relay", "%s:%d" % (host, port)), {"host": host, "port": port}


def fingerprint(key_hex, settings):
    """HMAC-SHA256 of the settings in a canonical JSON form."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hmac.new(bytes.fromhex(key_hex), text.encode("utf-8"), hashlib.sha256).hexdigest()


def parse_state(text):
    """{key, fingerprints} from the state file's text; empty for a missing or unreadable file (then all is new)."""
    try:
        state = json.loads(text) if text else {}
        key = state.get("key")
        prints = state.get("fingerprints")
        if state.get("version") == STATE_VERSION and isinstance(key, str) and HEX64.fullmatch(key) \
                and isinstance(prints, dict):
            # A damaged fingerprint is forgotten (its entry is new), never compared.
            return {"key": key, "fingerprints": {str(k): v for k, v in prints.items()
                                                 if isinstance(v, str) and HEX64.fullmatch(v)}}
    except (ValueError, AttributeError, TypeError):
        pass
    return {"key": None, "fingerprints": {}}


def new_entries(state, entries):
    """Keys of the entries whose settings are not the remembered ones, in the given order."""
    if not state.get("key"):
        return [key for key, dummy in entries]
    remembered = state["fingerprints"]
    return [key for key, settings in entries
            if not hmac.compare_digest(remembered.get(key, ""), fingerprint(state["key"], settings))]


def state_text(key_hex, entries):
    """The state file's content for these entries (and only these: entries no longer configured are forgotten)."""
    return json.dumps({"version": STATE_VERSION, "key": key_hex,
                       "fingerprints": {key: fingerprint(key_hex, settings) for key, settings in entries}},
                      sort_keys=True, indent=1) + "\n"


def display_name(key):
    """What a message calls an entry: "account m365", "local relay 127.0.0.1:25"."""
    kind, dummy, name = key.partition(":")
    return ("local relay " if kind == "relay" else "account ") + name


def failure_text(key, row):
    """One failed check in words: the entry, the reason word, the stage, the server's reply and the hint."""
    reply = row.get("reply") or {}
    said = " ".join(str(part) for part in (reply.get("code"), reply.get("text")) if part)
    return "%s: %s at stage %s%s. %s" % (
        display_name(key), row.get("reason") or "failed", row.get("failed_stage") or "?",
        " (the server said: %s)" % said if said else "", row.get("hint") or "")


def failure_message(failures, switch):
    """The task's message when new settings did not pass: nothing was written, what failed, how to skip the gate."""
    return ("The new login settings did not work from this host, so nothing was written and the live configuration "
            "stays as it was. %s To deploy without this check (a host that cannot reach the service now), set %s: "
            "false." % (" ".join(failure_text(key, row) for key, row in failures), switch))
