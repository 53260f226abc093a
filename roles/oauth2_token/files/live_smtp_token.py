# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# Installed by the role mailops.live_smtp.oauth2_token (run by the live-smtp-token wrapper); do not edit on the host.

"""OAuth2 access tokens for msmtp's passwordeval and Postfix's pipe to msmtp.

  live-smtp-token STORE
      Print a valid access token for the account whose store is STORE (a JSON file, mode 0600, owned by the caller)
      and nothing else. The cached token is reused until shortly before it expires; a refresh runs under an
      exclusive lock and stores a rotated refresh token atomically. On failure: one line on stderr, exit 75
      (EX_TEMPFAIL) so that a mail transfer agent defers the mail instead of bouncing it.

  live-smtp-token --seed STORE --owner USER [--group GROUP] [--check]
      Used by the role: read {client_id, client_secret, refresh_token, token_url, scope, ca_file} as JSON on stdin
      and (re)create the store only when it is missing or the refresh token differs from the one it was seeded
      from (by SHA-256), so a rotated refresh token is never overwritten by the older vaulted one. Prints a JSON
      result without any secret: {"changed": bool, "action": "created|reseeded|updated|unchanged"}.
"""

from __future__ import absolute_import, division, print_function

import argparse
import errno
import fcntl
import grp
import hashlib
import json
import os
import pwd
import stat
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))

from _oauth2 import OAuth2Error, refresh_access_token  # noqa: E402  pylint: disable=wrong-import-position

EX_USAGE = 64
EX_TEMPFAIL = 75
STORE_VERSION = 1
# A cached token is used until this many seconds before it expires (less for short-lived tokens).
REFRESH_MARGIN = 300
SEED_KEYS = ("client_id", "client_secret", "refresh_token", "token_url", "scope", "ca_file")
# Settings that, when changed, make a cached access token stale (it was issued for other settings).
TOKEN_BOUND_KEYS = ("client_id", "client_secret", "token_url", "scope")


class HelperError(Exception):
    """A failure reported as one line on stderr."""


def _sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _account_name(store):
    name = os.path.basename(store)
    return name[:-5] if name.endswith(".json") else name


def _read_store(store):
    try:
        fd = os.open(store, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise HelperError("no token store %s: run the role mailops.live_smtp.oauth2_token for this user" % store)
        raise HelperError("cannot open token store %s: %s" % (store, exc.strerror))
    with os.fdopen(fd, "r", encoding="utf-8") as handle:
        info = os.fstat(handle.fileno())
        if info.st_uid != os.geteuid():
            raise HelperError("token store %s belongs to uid %d, not to the caller (uid %d)"
                              % (store, info.st_uid, os.geteuid()))
        if info.st_mode & 0o077:
            raise HelperError("token store %s has mode %04o; it must be 0600" % (store, info.st_mode & 0o7777))
        try:
            data = json.load(handle)
        except ValueError:
            raise HelperError("token store %s is not valid JSON: run the role again to re-seed it" % store)
    if not isinstance(data, dict) or not data.get("client_id") or not data.get("refresh_token"):
        raise HelperError("token store %s lacks client_id or refresh_token: run the role again" % store)
    return data


def _write_store(store, data, uid=None, gid=None):
    """Atomic replace: a temp file (0600) in the same directory, fsync, rename."""
    directory = os.path.dirname(os.path.abspath(store))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(store), suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        if uid is not None:
            os.fchown(fd, uid, gid if gid is not None else -1)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, store)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


class _Lock(object):
    """Exclusive flock on STORE.lock (the store itself is replaced by rename, so it cannot carry the lock)."""

    def __init__(self, store, uid=None, gid=None):
        self.path = store + ".lock"
        self.uid = uid
        self.gid = gid
        self.fd = None

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise HelperError("cannot open lock file %s: %s" % (self.path, exc.strerror))
        if self.uid is not None:
            info = os.fstat(self.fd)
            # Root seeds in a directory the owner controls: never hand over a file planted there (a hard link).
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1 or info.st_uid not in (0, self.uid):
                os.close(self.fd)
                raise HelperError("lock file %s is not a plain file of its owner: remove it" % self.path)
            os.fchown(self.fd, self.uid, self.gid if self.gid is not None else -1)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc_info):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _cached_token(data, now):
    token = data.get("access_token")
    try:
        expires_at = float(data.get("expires_at") or 0)
        issued_at = float(data.get("issued_at") or 0)
    except (TypeError, ValueError):
        return None
    if not token:
        return None
    margin = min(REFRESH_MARGIN, max(0.0, (expires_at - issued_at) / 4.0))
    if now < expires_at - margin:
        return token
    return None


def _explain(error, store):
    account = _account_name(store)
    if error.reason in ("invalid_grant", "interaction_required", "consent_required"):
        return ("account %s: the token endpoint refused the refresh token (%s: %s); sign in again, vault the new "
                "refresh token and re-run the role (see docs/oauth2.md)" % (account, error.reason, error.description))
    if error.reason == "cert_untrusted":
        return "account %s: refused to send the refresh token: %s" % (account, error.description)
    if error.reason == "endpoint_unreachable":
        return "account %s: token endpoint unreachable: %s; mail will be retried" % (account, error.description)
    return "account %s: token refresh failed (%s: %s)" % (account, error.reason, error.description)


def get_token(store, now=None):
    now = time.time() if now is None else now
    data = _read_store(store)
    token = _cached_token(data, now)
    if token:
        return token
    with _Lock(store):
        # Another process may have refreshed while we waited for the lock.
        data = _read_store(store)
        token = _cached_token(data, time.time())
        if token:
            return token
        try:
            result = refresh_access_token(data["client_id"], data["refresh_token"], token_url=data.get("token_url"),
                                          scope=data.get("scope"), client_secret=data.get("client_secret"),
                                          ca_file=data.get("ca_file"))
        except OAuth2Error as exc:
            raise HelperError(_explain(exc, store))
        data["access_token"] = result["access_token"]
        data["issued_at"] = time.time()
        data["expires_at"] = result["expires_at"]
        if result["rotated"]:
            data["refresh_token"] = result["refresh_token"]
            data["rotated_at"] = int(time.time())
        _write_store(store, data)
    return data["access_token"]


def _read_seed(stream):
    try:
        seed = json.load(stream)
    except ValueError:
        raise HelperError("--seed expects a JSON object on stdin")
    if not isinstance(seed, dict) or not seed.get("client_id") or not seed.get("refresh_token"):
        raise HelperError("--seed needs client_id and refresh_token on stdin")
    return dict((key, seed.get(key) or None) for key in SEED_KEYS)


def seed_store(store, seed, owner, group=None, check=False):
    """Create or re-seed STORE from the vaulted values; never overwrite a refresh token rotated since."""
    try:
        user = pwd.getpwnam(owner)
    except KeyError:
        raise HelperError("no such user %s" % owner)
    try:
        gid = grp.getgrnam(group).gr_gid if group else user.pw_gid
    except KeyError:
        raise HelperError("no such group %s" % group)
    uid = user.pw_uid
    directory = os.path.dirname(os.path.abspath(store))
    if not check and not os.path.isdir(directory):
        raise HelperError("directory %s does not exist" % directory)
    seed_hash = _sha256(seed["refresh_token"])
    with _LockIfPossible(store, uid, gid, check):
        current = None
        if os.path.lexists(store):
            try:
                fd = os.open(store, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
                with os.fdopen(fd, "r", encoding="utf-8") as handle:
                    current = json.load(handle)
            except (OSError, ValueError):
                current = None
            if not isinstance(current, dict):
                current = None
        if current is None:
            action, data = ("created" if not os.path.lexists(store) else "reseeded"), None
        elif current.get("seed_sha256") != seed_hash:
            action, data = "reseeded", None
        else:
            data = dict(current)
            stale = any((current.get(key) or None) != seed[key] for key in TOKEN_BOUND_KEYS)
            for key in SEED_KEYS:
                if key != "refresh_token":
                    data[key] = seed[key]
            if stale:
                for key in ("access_token", "expires_at", "issued_at"):
                    data.pop(key, None)
            action = "updated" if data != current else "unchanged"
        if data is None:
            data = dict(seed)
            data["seed_sha256"] = seed_hash
            data["seeded_at"] = int(time.time())
        data["version"] = STORE_VERSION
        if current is not None and action == "unchanged" and current.get("version") != STORE_VERSION:
            action = "updated"
        if not check:
            info = os.lstat(store) if os.path.lexists(store) else None
            wrong_owner = info is not None and (info.st_uid != uid or info.st_gid != gid or info.st_mode & 0o7777 != 0o600)
            if action != "unchanged" or wrong_owner:
                _write_store(store, data, uid, gid)
                if action == "unchanged":
                    action = "updated"
        elif action == "unchanged" and os.path.lexists(store):
            info = os.lstat(store)
            if info.st_uid != uid or info.st_gid != gid or info.st_mode & 0o7777 != 0o600:
                action = "updated"
    return {"changed": action != "unchanged", "action": action, "store": store}


class _LockIfPossible(_Lock):
    """The seed takes the same lock as a refresh, except in check mode (which must not create the lock file)."""

    def __init__(self, store, uid, gid, check):
        super(_LockIfPossible, self).__init__(store, uid, gid)
        self.check = check

    def __enter__(self):
        if self.check:
            return self
        return super(_LockIfPossible, self).__enter__()

    def __exit__(self, *exc_info):
        if not self.check:
            super(_LockIfPossible, self).__exit__(*exc_info)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="live-smtp-token", description="Print an OAuth2 access token (mailops.live_smtp).")
    parser.add_argument("store", help="token store, e.g. /var/lib/mailops-live-smtp/oauth2/USER/ACCOUNT.json")
    parser.add_argument("--seed", action="store_true", help="(role) create or re-seed the store from JSON on stdin")
    parser.add_argument("--owner", help="(with --seed) user that owns the store")
    parser.add_argument("--group", help="(with --seed) group of the store")
    parser.add_argument("--check", action="store_true", help="(with --seed) only report what would change")
    args = parser.parse_args(argv)
    os.umask(0o077)
    try:
        if args.seed:
            if not args.owner:
                parser.error("--seed needs --owner")
            result = seed_store(args.store, _read_seed(sys.stdin), args.owner, args.group, args.check)
            sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
        else:
            if args.owner or args.group or args.check:
                parser.error("--owner, --group and --check go with --seed")
            sys.stdout.write(get_token(args.store) + "\n")
        sys.stdout.flush()
    except HelperError as exc:
        sys.stderr.write("live-smtp-token: %s\n" % exc)
        return EX_TEMPFAIL
    except (OSError, ValueError) as exc:
        # Unexpected trouble (disk full, bad store contents): still one line, still a temporary failure.
        sys.stderr.write("live-smtp-token: %s: %s\n" % (_account_name(args.store), exc.__class__.__name__ + ": " + str(exc)))
        return EX_TEMPFAIL
    return 0


if __name__ == "__main__":
    sys.exit(main())
