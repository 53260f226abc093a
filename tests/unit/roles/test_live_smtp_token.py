# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The token helper (roles/oauth2_token/files/live_smtp_token.py): seeding, rotation and locking.

The helper runs as its own process, installed the way the role installs it (the script with _oauth2.py beside it),
against the stand-in's real HTTPS token endpoint (tests/standin/standin.py), which rotates every refresh token it
redeems, as a strict Microsoft does. Nothing is mocked. Each grant the endpoint answers is a line in its
transcript, so the tests count real requests.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import stat
import subprocess
import sys
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
HELPER = os.path.join(ROOT, "roles", "oauth2_token", "files", "live_smtp_token.py")
OAUTH2 = os.path.join(ROOT, "plugins", "module_utils", "_oauth2.py")
STANDIN = os.path.join(ROOT, "tests", "standin", "standin.py")
OWNER = pwd.getpwuid(os.geteuid()).pw_name


@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    """The stand-in's token endpoint (and its CA) for this module; stopped afterwards."""
    state = tmp_path_factory.mktemp("standin")
    process = subprocess.Popen([sys.executable, STANDIN, "--state-dir", str(state), "--lifetime", "300",
                                "--scenarios", "outlook"],
                               stdout=subprocess.DEVNULL, stderr=open(str(state / "stderr.log"), "w"))
    ready = state / "ready.json"
    deadline = time.time() + 60
    while not ready.exists():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            pytest.fail("the stand-in did not start: %s" % (state / "stderr.log").read_text())
        time.sleep(0.1)
    info = json.loads(ready.read_text())
    yield info
    process.terminate()
    process.wait(10)


@pytest.fixture()
def helper(tmp_path):
    """The helper installed as the role installs it: live_smtp_token.py and _oauth2.py side by side."""
    lib = tmp_path / "lib"
    lib.mkdir()
    shutil.copy(HELPER, str(lib / "live_smtp_token.py"))
    shutil.copy(OAUTH2, str(lib / "_oauth2.py"))
    store_dir = tmp_path / "oauth2" / OWNER
    store_dir.mkdir(parents=True, mode=0o700)
    return {"script": str(lib / "live_smtp_token.py"), "store": str(store_dir / "outlook.json")}


def run(helper, *args, stdin=None):
    return subprocess.run([sys.executable, "-I", helper["script"]] + list(args), input=stdin,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=60,
                          check=False)


def seed_input(standin, refresh_token=None):
    account = standin["accounts"]
    return json.dumps({"client_id": account["client_id"], "client_secret": None,
                       "refresh_token": refresh_token or newest_refresh_token(standin),
                       "token_url": standin["token_url"], "scope": None, "ca_file": standin["ca_file"]})


def newest_refresh_token(standin):
    """The refresh token the endpoint accepts now (each grant rotates it): from the stand-in's own state."""
    with open(os.path.join(os.path.dirname(standin["ca_file"]), "state.json"), encoding="utf-8") as handle:
        state = json.load(handle)
    valid = [token for token, info in state["refresh_tokens"].items() if info["state"] == "valid"]
    assert len(valid) == 1, "one account, one refresh-token chain"
    return valid[0]


def seed(helper, standin, *extra, refresh_token=None):
    result = run(helper, helper["store"], "--seed", "--owner", OWNER, *extra,
                 stdin=seed_input(standin, refresh_token))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


def grants(standin):
    """Refresh-token grants the endpoint answered with 200 so far."""
    with open(standin["transcript"], encoding="utf-8", errors="replace") as handle:
        return sum(1 for line in handle if "grant_type=refresh_token" in line and "-> 200 ok" in line)


def read_store(helper):
    with open(helper["store"], encoding="utf-8") as handle:
        return json.load(handle)


def expire(helper):
    """Make the cached access token look expired (as root would edit it; mode and owner kept)."""
    data = read_store(helper)
    data["expires_at"] = time.time() - 60
    with open(helper["store"], "w", encoding="utf-8") as handle:
        json.dump(data, handle)


def file_state(path):
    info = os.stat(path)
    with open(path, "rb") as handle:
        return info.st_ino, info.st_mtime_ns, stat.S_IMODE(info.st_mode), handle.read()


# --- seeding

def test_seed_creates_a_missing_store_0600(helper, standin):
    assert seed(helper, standin) == {"changed": True, "action": "created", "store": helper["store"]}
    data = read_store(helper)
    assert data["client_id"] == standin["accounts"]["client_id"]
    assert data["token_url"] == standin["token_url"]
    assert stat.S_IMODE(os.stat(helper["store"]).st_mode) == 0o600
    assert os.stat(helper["store"]).st_uid == os.geteuid()


def test_seed_with_the_same_vaulted_token_changes_nothing(helper, standin):
    token = newest_refresh_token(standin)
    seed(helper, standin, refresh_token=token)
    before = file_state(helper["store"])
    unchanged = {"changed": False, "action": "unchanged", "store": helper["store"]}
    assert seed(helper, standin, refresh_token=token) == unchanged
    assert file_state(helper["store"]) == before


def test_seed_with_a_changed_vaulted_token_reseeds(helper, standin):
    seed(helper, standin, refresh_token="M.C5-first-vaulted-token")
    assert seed(helper, standin, refresh_token="M.C5-signed-in-again")["action"] == "reseeded"
    assert read_store(helper)["refresh_token"] == "M.C5-signed-in-again"
    assert stat.S_IMODE(os.stat(helper["store"]).st_mode) == 0o600


def test_seed_in_check_mode_writes_nothing(helper, standin):
    directory = os.path.dirname(helper["store"])
    assert seed(helper, standin, "--check", refresh_token="M.C5-first")["action"] == "created"
    assert os.listdir(directory) == []   # no store, no lock file, no temp file
    seed(helper, standin, refresh_token="M.C5-first")
    before = sorted(os.listdir(directory)), file_state(helper["store"])
    result = seed(helper, standin, "--check", refresh_token="M.C5-second")
    assert result == {"changed": True, "action": "reseeded", "store": helper["store"]}
    assert (sorted(os.listdir(directory)), file_state(helper["store"])) == before


def test_seed_output_carries_no_secret(helper, standin):
    token = "M.C5-" + "x" * 40
    result = run(helper, helper["store"], "--seed", "--owner", OWNER, stdin=seed_input(standin, token))
    assert result.returncode == 0
    assert token not in result.stdout + result.stderr


# --- rotation

def test_rotated_refresh_token_is_stored_atomically_and_the_old_one_dropped(helper, standin):
    vaulted = newest_refresh_token(standin)
    seed(helper, standin, refresh_token=vaulted)
    inode_before = os.stat(helper["store"]).st_ino
    count = grants(standin)

    result = run(helper, helper["store"])
    assert result.returncode == 0, result.stderr
    access_token = result.stdout.strip()
    assert access_token and result.stderr == ""
    assert grants(standin) == count + 1

    data = read_store(helper)
    rotated = data["refresh_token"]
    assert rotated != vaulted, "the stand-in rotates every refresh token it redeems"
    assert rotated == newest_refresh_token(standin)
    assert data["access_token"] == access_token
    with open(helper["store"], encoding="utf-8") as handle:
        assert vaulted not in handle.read(), "the old refresh token must not be kept"
    info = os.stat(helper["store"])
    assert stat.S_IMODE(info.st_mode) == 0o600 and info.st_uid == os.geteuid()
    assert info.st_ino != inode_before, "written to a new file and renamed over the store, not rewritten in place"
    leftovers = [name for name in os.listdir(os.path.dirname(helper["store"])) if name.endswith(".tmp")]
    assert leftovers == []

    # The cached token is served without a request; the stored (rotated) refresh token is the one that works next.
    assert run(helper, helper["store"]).stdout.strip() == access_token
    assert grants(standin) == count + 1
    expire(helper)
    again = run(helper, helper["store"])
    assert again.returncode == 0, again.stderr
    assert grants(standin) == count + 2
    assert read_store(helper)["refresh_token"] not in (vaulted, rotated)


def test_reseed_with_the_old_vaulted_token_keeps_the_rotated_one(helper, standin):
    vaulted = newest_refresh_token(standin)
    seed(helper, standin, refresh_token=vaulted)
    assert run(helper, helper["store"]).returncode == 0
    rotated = read_store(helper)["refresh_token"]
    assert seed(helper, standin, refresh_token=vaulted)["action"] == "unchanged"
    assert read_store(helper)["refresh_token"] == rotated


def test_refused_refresh_token_fails_75_without_printing_it(helper, standin):
    bad = "M.C5-never-issued-" + "y" * 30
    seed(helper, standin, refresh_token=bad)
    result = run(helper, helper["store"])
    assert result.returncode == 75
    assert result.stdout == ""
    assert "invalid_grant" in result.stderr and bad not in result.stderr
    assert read_store(helper)["refresh_token"] == bad


# --- locking

def _lock_waiters(path):
    """Processes blocked on an flock of PATH: the '->' lines of /proc/locks ("1: -> FLOCK ADVISORY WRITE pid
    maj:min:inode 0 EOF")."""
    inode = str(os.stat(path).st_ino)
    count = 0
    with open("/proc/locks") as handle:
        for line in handle:
            fields = line.split()
            if "->" in fields and len(fields) > fields.index("->") + 5:
                if fields[fields.index("->") + 5].split(":")[-1] == inode:
                    count += 1
    return count


def test_two_callers_with_an_expired_token_make_one_refresh(helper, standin):
    seed(helper, standin)
    assert run(helper, helper["store"]).returncode == 0
    expire(helper)
    count = grants(standin)
    lock_path = helper["store"] + ".lock"

    # Hold the helper's own lock while two callers start, so both find the cache expired and queue on the lock.
    with open(lock_path, "a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        callers = [subprocess.Popen([sys.executable, "-I", helper["script"], helper["store"]],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
                   for _caller in range(2)]
        deadline = time.time() + 30
        while _lock_waiters(lock_path) < 2:
            assert time.time() < deadline, "the two callers never waited on the lock"
            time.sleep(0.05)
        fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    outputs = [caller.communicate(timeout=60) for caller in callers]

    assert [caller.returncode for caller in callers] == [0, 0], outputs
    tokens = {stdout.strip() for stdout, _stderr in outputs}
    assert len(tokens) == 1, "both callers print the one token the first of them fetched"
    assert grants(standin) == count + 1, "the second caller found the fresh token after the lock: no second request"
    assert read_store(helper)["access_token"] in tokens


# --- app-only (client credentials)

def app_seed(helper, standin, *extra, **changes):
    seed_data = {"grant": "client_credentials", "client_id": standin["app"]["client_id"], "tenant": standin["tenant_id"],
                 "token_url": standin["app_token_url"], "ca_file": standin["ca_file"],
                 "certificate": standin["app_certificate"]["certificate_file"],
                 "private_key": standin["app_certificate"]["private_key_file"]}
    seed_data.update(changes)
    return run(helper, helper["store"], "--seed", "--owner", OWNER, *extra, stdin=json.dumps(seed_data))


def test_app_only_store_keeps_the_key_as_pem_and_gets_app_tokens(helper, standin, tmp_path):
    key = tmp_path / "app.key"
    shutil.copy(standin["app_certificate"]["private_key_file"], str(key))
    result = app_seed(helper, standin, private_key=str(key))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["action"] == "created"
    data = read_store(helper)
    assert data["grant"] == "client_credentials" and data["refresh_token"] is None
    assert "-----BEGIN" in data["private_key"] and "-----BEGIN" in data["certificate"]
    assert stat.S_IMODE(os.stat(helper["store"]).st_mode) == 0o600
    os.unlink(str(key))  # the store no longer needs the file
    first = run(helper, helper["store"])
    assert first.returncode == 0, first.stderr
    again = run(helper, helper["store"])
    assert again.stdout == first.stdout and len(first.stdout.strip()) > 20
    # The same credential seeds nothing new; a new client secret re-seeds.
    same = app_seed(helper, standin)
    assert json.loads(same.stdout)["action"] == "unchanged", same.stdout
    secret = app_seed(helper, standin, certificate=None, private_key=None, client_secret=standin["app"]["client_secret"])
    assert json.loads(secret.stdout)["action"] == "reseeded"
    assert run(helper, helper["store"]).returncode == 0


def test_app_only_seed_without_a_credential_is_refused(helper, standin):
    result = app_seed(helper, standin, certificate=None, private_key=None)
    assert result.returncode == 75 and "client_secret or certificate" in result.stderr
    assert not os.path.exists(helper["store"])


def test_app_only_seed_with_an_unreadable_key_names_the_file(helper, standin, tmp_path):
    result = app_seed(helper, standin, private_key=str(tmp_path / "missing.key"))
    assert result.returncode == 75 and "missing.key" in result.stderr and "-----BEGIN" not in result.stderr


# --- status and keepalive


def secrets_of(helper, standin):
    state_file = os.path.join(os.path.dirname(standin["ca_file"]), "state.json")
    with open(state_file, encoding="utf-8") as handle:
        state = json.load(handle)
    data = read_store(helper)
    return set(state["refresh_tokens"]) | set(state["access_tokens"]) | {data["refresh_token"], data.get("access_token")}


@pytest.mark.parametrize("as_json", [False, True])
def test_status_shows_the_lifecycle_and_no_secret(helper, standin, as_json):
    seed(helper, standin)
    assert run(helper, helper["store"]).returncode == 0
    result = run(helper, "--status", *(["--json"] if as_json else []), os.path.dirname(helper["store"]))
    assert result.returncode == 0, result.stderr
    for secret in secrets_of(helper, standin) - {None}:
        assert secret not in result.stdout and secret not in result.stderr
    if as_json:
        rows = json.loads(result.stdout)["stores"]
        assert len(rows) == 1
        row = rows[0]
        assert row["account"] == "outlook" and row["owner"] == OWNER and row["grant"] == "refresh_token"
        assert row["access_token_valid"] is True and row["error"] is None
        assert row["last_refresh"].endswith("Z") and row["access_token_expires"] > row["last_refresh"]
        assert 0 <= row["refresh_token_age_days"] < 0.01 and 0 <= row["idle_days"] < 0.01
    else:
        assert result.stdout.startswith("outlook (owner %s, grant refresh_token): last refresh " % OWNER)
        assert "access token valid until" in result.stdout and "refresh token age 0.0 days" in result.stdout


def test_status_of_a_missing_store_says_so_and_fails(helper):
    result = run(helper, "--status", "--json", helper["store"])
    assert result.returncode == 1
    assert json.loads(result.stdout)["stores"][0]["error"].startswith("cannot open")


def test_keepalive_redeems_an_idle_store_and_keeps_a_fresh_one(helper, standin):
    seed(helper, standin)
    assert run(helper, helper["store"]).returncode == 0
    before = read_store(helper)
    count = grants(standin)
    fresh = run(helper, "--keepalive", "--verbose", os.path.dirname(helper["store"]))
    assert fresh.returncode == 0 and fresh.stdout == "outlook: fresh\n" and fresh.stderr == ""
    assert grants(standin) == count
    # Seven days without use: backdate the store as if nothing had used it since.
    data = read_store(helper)
    for key in ("issued_at", "rotated_at", "seeded_at"):
        data[key] = time.time() - 8 * 86400
    with open(helper["store"], "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    refreshed = run(helper, "--keepalive", helper["store"])
    assert refreshed.returncode == 0 and refreshed.stdout == "" and refreshed.stderr == ""
    assert grants(standin) == count + 1
    after = read_store(helper)
    assert after["refresh_token"] != before["refresh_token"]
    assert after["refresh_token"] == newest_refresh_token(standin)
    assert stat.S_IMODE(os.stat(helper["store"]).st_mode) == 0o600
    assert not [name for name in os.listdir(os.path.dirname(helper["store"])) if name.endswith(".tmp")]


def test_keepalive_skips_an_app_only_store(helper, standin):
    seed(helper, standin)
    data = read_store(helper)
    data["grant"] = "client_credentials"
    data.pop("refresh_token")
    with open(helper["store"], "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    count = grants(standin)
    result = run(helper, "--keepalive", "--verbose", "--idle-days", "0", helper["store"])
    assert result.returncode == 0 and result.stdout == "outlook: skipped\n"
    assert grants(standin) == count


def test_keepalive_of_a_refused_token_fails_75_with_word_and_hint(helper, standin):
    bad = "M.C5-never-issued-" + "k" * 30
    seed(helper, standin, refresh_token=bad)
    result = run(helper, "--keepalive", "--idle-days", "0", helper["store"])
    assert result.returncode == 75 and result.stdout == ""
    line, = result.stderr.splitlines()
    assert line.startswith("live-smtp-token: keepalive: account outlook: the token endpoint refused the refresh token, "
                           "invalid_grant (invalid_grant: AADSTS70000")
    assert "sign in again" in line and bad not in line


@pytest.mark.parametrize("argv", [["--status", "--seed", "x"], ["--json", "x"], ["--idle-days", "3", "x"],
                                  ["--keepalive"], ["a", "b"], []])
def test_bad_combinations_are_usage_errors(helper, argv):
    result = run(helper, *argv)
    assert result.returncode == 2 and result.stdout == ""
