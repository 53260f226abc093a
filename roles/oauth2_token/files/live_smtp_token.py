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
      Used by the role: read {grant, client_id, client_secret, refresh_token, tenant, certificate, private_key,
      token_url, scope, ca_file} as JSON on stdin and (re)create the store only when it is missing or the
      credential differs from the one it was seeded from (by SHA-256), so a rotated refresh token is never
      overwritten by the older vaulted one. grant client_credentials (app-only) needs client_secret or certificate
      (and private_key) instead of a refresh token; a certificate or key given as a path is read now and kept as
      PEM text in the store, so the user that sends needs no access to the file. Prints a JSON
      result without any secret: {"changed": bool, "action": "created|reseeded|updated|unchanged"}.

  live-smtp-token --status [--json] [STORE|DIR ...]
      Per store: account, owner, grant, last refresh, access-token expiry, refresh-token age and idle days; never a
      secret. Without arguments, every store under LIVE_SMTP_TOKEN_STATE_DIR (set by the installed wrapper).

  live-smtp-token --keepalive [--idle-days N] STORE|DIR ...
      Run by cron as the stores' owner: redeem the refresh token of every store unused for more than N days (default
      7) and store the rotated one, so that none expires after 90 days without mail. App-only stores are skipped.
      Quiet on success; one line per failed store on stderr and exit 75.
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

from _oauth2 import OAuth2Error, client_credentials_token, refresh_access_token  # noqa: E402  pylint: disable=wrong-import-position

EX_USAGE = 64
EX_TEMPFAIL = 75
STORE_VERSION = 1
# A cached token is used until this many seconds before it expires (less for short-lived tokens).
REFRESH_MARGIN = 300
SEED_KEYS = ("grant", "client_id", "client_secret", "refresh_token", "tenant", "certificate", "private_key", "token_url",
             "scope", "ca_file")
# Settings that, when changed, make a cached access token stale (it was issued for other settings).
TOKEN_BOUND_KEYS = ("grant", "client_id", "client_secret", "tenant", "certificate", "private_key", "token_url", "scope")
APP_ONLY = "client_credentials"


class HelperError(Exception):
    """A failure reported as one line on stderr."""


def _sha256(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _account_name(store):
    name = os.path.basename(store)
    return name[:-5] if name.endswith(".json") else name


def _caller_groups():
    return set(os.getgroups()) | {os.getegid()}


def _read_store(store):
    """The store and its stat. Mode 0600 owned by the caller, or 0660 shared with a group of the caller."""
    try:
        fd = os.open(store, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise HelperError("no token store %s: run the role mailops.live_smtp.oauth2_token for this user" % store)
        raise HelperError("cannot open token store %s: %s" % (store, exc.strerror))
    with os.fdopen(fd, "r", encoding="utf-8") as handle:
        info = os.fstat(handle.fileno())
        mode = info.st_mode & 0o7777
        if mode not in (0o600, 0o660):
            raise HelperError("token store %s has mode %04o; it must be 0600 (or 0660 for a group)" % (store, mode))
        # root reads everything anyway; it uses a shared store without being a member of its group.
        shared = mode == 0o660 and (info.st_gid in _caller_groups() or os.geteuid() == 0)
        if info.st_uid != os.geteuid() and not shared:
            raise HelperError("token store %s belongs to uid %d, not to the caller (uid %d)"
                              % (store, info.st_uid, os.geteuid()))
        try:
            data = json.load(handle)
        except ValueError:
            raise HelperError("token store %s is not valid JSON: run the role again to re-seed it" % store)
    if not isinstance(data, dict) or not data.get("client_id") or not _has_credential(data):
        raise HelperError("token store %s lacks client_id or its credential: run the role again" % store)
    return data, info


def _has_credential(data):
    """A refresh token, or for app-only a client secret or certificate."""
    if data.get("grant") == APP_ONLY:
        return bool(data.get("client_secret") or data.get("certificate"))
    return bool(data.get("refresh_token"))


def _seed_hash(seed):
    """What the store was seeded from: the refresh token, or the app-only credential (secret, certificate, key)."""
    if seed.get("grant") == APP_ONLY:
        return _sha256(json.dumps([seed.get(key) for key in ("client_secret", "certificate", "private_key")]))
    return _sha256(seed["refresh_token"])


def _write_store(store, data, uid=None, gid=None, mode=0o600):
    """Atomic replace: a temp file in the same directory (MODE, UID:GID when given), fsync, rename."""
    directory = os.path.dirname(os.path.abspath(store))
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(store), suffix=".tmp", dir=directory)
    try:
        if uid is not None or gid is not None:
            os.fchown(fd, -1 if uid is None else uid, -1 if gid is None else gid)
        os.fchmod(fd, mode)
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

    def __init__(self, store, uid=None, gid=None, mode=0o600):
        self.path = store + ".lock"
        self.uid = uid
        self.gid = gid
        self.mode = mode
        self.fd = None

    def __enter__(self):
        try:
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError as exc:
            raise HelperError("cannot open lock file %s: %s" % (self.path, exc.strerror))
        info = os.fstat(self.fd)
        # Root seeds in a directory the owner controls: never hand over a file planted there (a hard link).
        planted = not stat.S_ISREG(info.st_mode) or info.st_nlink != 1
        if self.uid is not None and info.st_uid not in (0, self.uid):
            planted = planted or not (self.mode == 0o660 and info.st_gid == self.gid)
        if planted:
            os.close(self.fd)
            raise HelperError("lock file %s is not a plain file of its owner: remove it" % self.path)
        if self.uid is not None:
            os.fchown(self.fd, self.uid, self.gid if self.gid is not None else -1)
            os.fchmod(self.fd, self.mode)
        elif info.st_uid == os.geteuid() and info.st_mode & 0o7777 != self.mode:
            # Created just now by a member of a shared store's group: the other members must open it too.
            if self.gid is not None:
                os.fchown(self.fd, -1, self.gid)
            os.fchmod(self.fd, self.mode)
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
    """One line: the account, the stable reason word, the endpoint's error and description, and what to do."""
    account = _account_name(store)
    word = getattr(error, "word", error.reason)
    detail = "%s: %s" % (getattr(error, "error", error.reason), error.description)
    hint = getattr(error, "hint", "")
    if getattr(error, "needs_sign_in", False):
        return ("account %s: the token endpoint refused the refresh token, %s (%s). %s Then vault the new refresh "
                "token and re-run the role (see docs/oauth2.md)." % (account, word, detail, hint))
    if error.reason == "cert_untrusted":
        return "account %s: refused to send the refresh token: %s" % (account, error.description)
    if error.reason == "endpoint_unreachable":
        return "account %s: token endpoint unreachable: %s; mail will be retried" % (account, error.description)
    return "account %s: token refresh failed, %s (%s). %s" % (account, word, detail, hint)


def _last_use(data):
    """Epoch seconds of the last time the refresh token was issued or redeemed (seeding counts as issuing)."""
    times = []
    for key in ("issued_at", "rotated_at", "seeded_at"):
        try:
            times.append(float(data.get(key) or 0))
        except (TypeError, ValueError):
            pass
    return max(times) if times else 0.0


def _redeem(store, data, info):
    """Get a new access token (the caller holds the lock) and store it, with a rotated refresh token, atomically."""
    try:
        if data.get("grant") == APP_ONLY:
            # App-only: a new token from the app's own credential, no refresh token involved.
            result = client_credentials_token(data["client_id"], data.get("tenant"),
                                              client_secret=data.get("client_secret"),
                                              certificate=data.get("certificate"),
                                              private_key=data.get("private_key"), token_url=data.get("token_url"),
                                              scope=data.get("scope"), ca_file=data.get("ca_file"))
        else:
            result = refresh_access_token(data["client_id"], data["refresh_token"], token_url=data.get("token_url"),
                                          scope=data.get("scope"), client_secret=data.get("client_secret"),
                                          ca_file=data.get("ca_file"))
    except OAuth2Error as exc:
        raise HelperError(_explain(exc, store))
    data["access_token"] = result["access_token"]
    data["issued_at"] = time.time()
    data["expires_at"] = result["expires_at"]
    if result.get("rotated"):
        data["refresh_token"] = result["refresh_token"]
        data["rotated_at"] = int(time.time())
    # A group-shared store stays shared: same group, same mode, whoever refreshed it.
    mode = info.st_mode & 0o7777
    _write_store(store, data, gid=info.st_gid if mode == 0o660 else None, mode=mode)
    return data


def _store_lock(store, info):
    shared = info.st_mode & 0o7777 == 0o660
    return _Lock(store, gid=info.st_gid if shared else None, mode=0o660 if shared else 0o600)


def get_token(store, now=None):
    now = time.time() if now is None else now
    data, info = _read_store(store)
    token = _cached_token(data, now)
    if token:
        return token
    with _store_lock(store, info):
        # Another process may have refreshed while we waited for the lock.
        data, info = _read_store(store)
        token = _cached_token(data, time.time())
        if token:
            return token
        data = _redeem(store, data, info)
    return data["access_token"]


def _grant(data):
    """The grant a store serves: what the seed says, else refresh_token when it holds one."""
    grant = data.get("grant")
    if grant:
        return str(grant)
    return "refresh_token" if data.get("refresh_token") else "client_credentials"


def keepalive_store(store, idle_days, now=None):
    """Redeem the refresh token of STORE when it was last used more than IDLE_DAYS ago, so that it never expires
    through inactivity. Returns {"store", "account", "action": refreshed|fresh|skipped, "grant"}."""
    now = time.time() if now is None else now
    peek = store_status(store, now)
    result = {"store": store, "account": _account_name(store), "grant": peek["grant"]}
    if not peek["error"] and peek["grant"] != "refresh_token":
        result["action"] = "skipped"  # app-only: no refresh token to keep alive
        return result
    data, info = _read_store(store)  # checks owner and mode, and reports a broken store
    with _store_lock(store, info):
        data, info = _read_store(store)
        if now - _last_use(data) < idle_days * 86400.0:
            result["action"] = "fresh"
            return result
        _redeem(store, data, info)
    result["action"] = "refreshed"
    return result


def _stores(paths):
    """The stores named, a directory standing for every *.json in it (sorted)."""
    stores = []
    for path in paths:
        if os.path.isdir(path):
            stores += sorted(os.path.join(path, name) for name in os.listdir(path)
                             if name.endswith(".json") and not name.startswith("."))
        else:
            stores.append(path)
    return stores


def _iso(epoch):
    if not epoch:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(float(epoch)))


def _number(data, key):
    try:
        value = float(data.get(key) or 0)
    except (TypeError, ValueError):
        return 0.0
    return value


def store_status(store, now=None):
    """What a store says about its tokens, never a secret: only the fields named here are ever read out."""
    now = time.time() if now is None else now
    row = {"store": store, "account": _account_name(store), "owner": None, "grant": None, "last_refresh": None,
           "access_token_expires": None, "access_token_valid": False, "refresh_token_age_days": None,
           "idle_days": None, "error": None}
    try:
        fd = os.open(store, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        row["error"] = "cannot open: %s" % exc.strerror
        return row
    with os.fdopen(fd, "r", encoding="utf-8") as handle:
        info = os.fstat(handle.fileno())
        try:
            row["owner"] = pwd.getpwuid(info.st_uid).pw_name
        except KeyError:
            row["owner"] = str(info.st_uid)
        if not stat.S_ISREG(info.st_mode):
            row["error"] = "not a regular file"
            return row
        try:
            data = json.load(handle)
        except ValueError:
            data = None
    if not isinstance(data, dict):
        row["error"] = "not a token store (invalid JSON)"
        return row
    row["grant"] = _grant(data)
    issued = _number(data, "issued_at")
    expires = _number(data, "expires_at")
    row["last_refresh"] = _iso(issued)
    row["access_token_expires"] = _iso(expires)
    row["access_token_valid"] = bool(data.get("access_token")) and expires > now
    if row["grant"] == "refresh_token":
        born = max(_number(data, "rotated_at"), _number(data, "seeded_at"))
        row["refresh_token_age_days"] = round((now - born) / 86400.0, 2) if born else None
        last = _last_use(data)
        row["idle_days"] = round((now - last) / 86400.0, 2) if last else None
    return row


def _status_text(rows):
    lines = []
    for row in rows:
        if row["error"]:
            lines.append("%s (owner %s): %s" % (row["account"], row["owner"] or "?", row["error"]))
            continue
        lines.append("%s (owner %s, grant %s): last refresh %s; access token %s %s; refresh token age %s, idle %s"
                     % (row["account"], row["owner"], row["grant"], row["last_refresh"] or "never",
                        "valid until" if row["access_token_valid"] else "expired at",
                        row["access_token_expires"] or "-",
                        "-" if row["refresh_token_age_days"] is None else "%.1f days" % row["refresh_token_age_days"],
                        "-" if row["idle_days"] is None else "%.1f days" % row["idle_days"]))
    return "\n".join(lines) + ("\n" if lines else "")


def _read_seed(stream):
    try:
        seed = json.load(stream)
    except ValueError:
        raise HelperError("--seed expects a JSON object on stdin")
    if not isinstance(seed, dict) or not seed.get("client_id") or not _has_credential(seed):
        raise HelperError("--seed needs client_id and refresh_token (or, for grant client_credentials, client_secret "
                          "or certificate) on stdin")
    seed = dict((key, seed.get(key) or None) for key in SEED_KEYS)
    if seed["grant"] == APP_ONLY:
        seed["refresh_token"] = None
        for key, what in (("certificate", "certificate"), ("private_key", "private key")):
            seed[key] = _pem_text(seed[key], what)
    else:
        seed["grant"] = None
        for key in ("tenant", "certificate", "private_key"):
            seed[key] = None
    return seed


def _pem_text(value, what):
    """PEM text of a path or of the text itself (read by the seeding root, kept in the 0600 store)."""
    if not value or "-----BEGIN" in value:
        return value
    try:
        with open(value, "r", encoding="ascii") as handle:
            text = handle.read(1024 * 1024)
    except (OSError, UnicodeDecodeError) as exc:
        raise HelperError("cannot read the %s %s: %s" % (what, value, getattr(exc, "strerror", None) or type(exc).__name__))
    if "-----BEGIN" not in text:
        raise HelperError("the %s %s holds no PEM text" % (what, value))
    return text


def _needs_fixing(info, uid, gid, mode):
    """Owner, group or mode of an existing store differ from what the role asks (any member may own a shared one)."""
    if info.st_mode & 0o7777 != mode or info.st_gid != gid:
        return True
    return mode == 0o600 and info.st_uid != uid


def seed_store(store, seed, owner, group=None, check=False, mode=0o600):
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
    seed_hash = _seed_hash(seed)
    with _LockIfPossible(store, uid, gid, check, mode):
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
        if action == "unchanged" and os.path.lexists(store) and _needs_fixing(os.lstat(store), uid, gid, mode):
            action = "updated"
        if not check and action != "unchanged":
            _write_store(store, data, uid, gid, mode)
    return {"changed": action != "unchanged", "action": action, "store": store}


class _LockIfPossible(_Lock):
    """The seed takes the same lock as a refresh, except in check mode (which must not create the lock file)."""

    def __init__(self, store, uid, gid, check, mode):
        super(_LockIfPossible, self).__init__(store, uid, gid, mode)
        self.check = check

    def __enter__(self):
        if self.check:
            return self
        return super(_LockIfPossible, self).__enter__()

    def __exit__(self, *exc_info):
        if not self.check:
            super(_LockIfPossible, self).__exit__(*exc_info)


def _default_stores():
    """Every store under the state directory the wrapper names (LIVE_SMTP_TOKEN_STATE_DIR)."""
    state_dir = os.environ.get("LIVE_SMTP_TOKEN_STATE_DIR")
    if not state_dir:
        raise HelperError("name the stores (or their directory): LIVE_SMTP_TOKEN_STATE_DIR is not set")
    try:
        names = sorted(os.listdir(state_dir))
    except OSError as exc:
        raise HelperError("cannot list %s: %s" % (state_dir, exc.strerror))
    return _stores([os.path.join(state_dir, name) for name in names if os.path.isdir(os.path.join(state_dir, name))])


def _status(paths, as_json):
    rows = [store_status(store) for store in (_stores(paths) if paths else _default_stores())]
    if as_json:
        sys.stdout.write(json.dumps({"stores": rows}, indent=1, sort_keys=True) + "\n")
    else:
        sys.stdout.write(_status_text(rows))
    return 0 if all(not row["error"] for row in rows) else 1


def _keepalive(paths, idle_days, verbose):
    """Quiet when all went well (cron mails any output); one line per failed store on stderr, exit 75."""
    failed = 0
    for store in _stores(paths):
        try:
            result = keepalive_store(store, idle_days)
        except HelperError as exc:
            sys.stderr.write("live-smtp-token: keepalive: %s\n" % exc)
            failed += 1
            continue
        except (OSError, ValueError) as exc:
            sys.stderr.write("live-smtp-token: keepalive: %s: %s: %s\n"
                             % (_account_name(store), exc.__class__.__name__, exc))
            failed += 1
            continue
        if verbose:
            sys.stdout.write("%s: %s\n" % (result["account"], result["action"]))
    return EX_TEMPFAIL if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="live-smtp-token", description="Print an OAuth2 access token (mailops.live_smtp).")
    parser.add_argument("store", nargs="*",
                        help="token store, e.g. /var/lib/mailops-live-smtp/oauth2/USER/ACCOUNT.json (with --status "
                             "or --keepalive: stores or directories of stores)")
    parser.add_argument("--seed", action="store_true", help="(role) create or re-seed the store from JSON on stdin")
    parser.add_argument("--owner", help="(with --seed) user that owns the store")
    parser.add_argument("--group", help="(with --seed) group of the store")
    parser.add_argument("--check", action="store_true", help="(with --seed) only report what would change")
    parser.add_argument("--shared", action="store_true",
                        help="(with --seed) store mode 0660: every member of --group may use and refresh it")
    parser.add_argument("--status", action="store_true",
                        help="print account, owner, grant, last refresh, access-token expiry and refresh-token age "
                             "of each store (every store under the state directory by default); never a secret")
    parser.add_argument("--json", action="store_true", help="(with --status) JSON for machines")
    parser.add_argument("--keepalive", action="store_true",
                        help="redeem the refresh token of every store idle longer than --idle-days (app-only stores "
                             "are skipped), so that none expires through inactivity")
    parser.add_argument("--idle-days", type=float, default=7.0,
                        help="(with --keepalive) refresh stores unused for longer than this (default 7)")
    parser.add_argument("--verbose", action="store_true", help="(with --keepalive) one line per store on stdout")
    args = parser.parse_args(argv)
    modes = [name for name in ("seed", "status", "keepalive") if getattr(args, name)]
    if len(modes) > 1:
        parser.error("--%s and --%s do not go together" % tuple(modes[:2]))
    if args.json and not args.status:
        parser.error("--json goes with --status")
    if (args.verbose or args.idle_days != 7.0) and not args.keepalive:
        parser.error("--idle-days and --verbose go with --keepalive")
    if args.idle_days < 0:
        parser.error("--idle-days must not be negative")
    if (args.seed or not modes) and len(args.store) != 1:
        parser.error("name exactly one store")
    if args.keepalive and not args.store:
        parser.error("--keepalive needs the stores or their directory")
    os.umask(0o077)
    name = args.store[0] if args.store else "status"
    try:
        if args.status:
            return _status(args.store, args.json)
        if args.keepalive:
            return _keepalive(args.store, args.idle_days, args.verbose)
        if args.seed:
            if not args.owner:
                parser.error("--seed needs --owner")
            result = seed_store(args.store[0], _read_seed(sys.stdin), args.owner, args.group, args.check,
                                0o660 if args.shared else 0o600)
            sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
        else:
            if args.owner or args.group or args.check or args.shared:
                parser.error("--owner, --group, --shared and --check go with --seed")
            sys.stdout.write(get_token(args.store[0]) + "\n")
        sys.stdout.flush()
    except HelperError as exc:
        sys.stderr.write("live-smtp-token: %s\n" % exc)
        return EX_TEMPFAIL
    except (OSError, ValueError) as exc:
        # Unexpected trouble (disk full, bad store contents): still one line, still a temporary failure.
        sys.stderr.write("live-smtp-token: %s: %s\n" % (_account_name(name), exc.__class__.__name__ + ": " + str(exc)))
        return EX_TEMPFAIL
    return 0


if __name__ == "__main__":
    sys.exit(main())
