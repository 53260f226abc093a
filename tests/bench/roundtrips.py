"""Benchmark (not a test): round trips of a STARTTLS + AUTH check over a slow link, ours vs smtplib vs swaks.

Run it with `bash tests/bench/run.sh` (it stages the collection and sets PYTHONPATH); see README.md here.

Through tests/bench/delay_proxy.py (DELAY ms each way) in front of the stand-in's `outlook` scenario, it times:
  ours      plugins/module_utils/_probe/probe.py probe(): STARTTLS, verified TLS, AUTH with the password (LOGIN)
  ours/xo2  the same with an OAuth2 access token (XOAUTH2, initial response in the AUTH line)
  smtplib   the obvious way: SMTP(); starttls(context=create_default_context(cafile)); login(); quit()
  swaks     --tls --tls-verify --auth LOGIN --quit-after AUTH (a separate process)
Each client runs RUNS times through a 0 ms proxy and through the DELAY proxy (alternating); round trips are
(median delayed - median direct) / RTT, where RTT is measured the same way with SMTP NOOPs, so process start-up and
local CPU time do not count. Then each client is pointed at the `silent` scenario (accepts TCP, never answers) with
a 3 s timeout, and the time until it gives up is printed. Figures only: nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import smtplib
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
STANDIN = os.path.join(HERE, "..", "standin", "standin.py")
PROXY = os.path.join(HERE, "delay_proxy.py")

try:
    from ansible_collections.mailops.live_smtp.plugins.module_utils._probe import probe as _smtp_probe
except ImportError as exc:
    sys.exit("roundtrips: cannot import the collection's probe (%s); run it as `bash tests/bench/run.sh`" % exc)


def wait_for_file(path, seconds, proc):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                return json.load(handle)
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s before it was ready" % (proc.args[1], proc.returncode))
        time.sleep(0.05)
    raise RuntimeError("%s not ready after %s s" % (proc.args[1], seconds))


class Services:
    """The stand-in plus one delay proxy per delay, all with a lifetime, all stopped by stop()."""

    def __init__(self, delays_ms, lifetime):
        self.tmp = tempfile.mkdtemp(prefix="live-smtp-bench.")
        self.procs = []
        state = os.path.join(self.tmp, "standin")
        standin = self._spawn([sys.executable, STANDIN, "--state-dir", state, "--lifetime", str(lifetime),
                               "--scenarios", "outlook,silent", "--pidfile", os.path.join(self.tmp, "standin.pid")])
        self.ready = wait_for_file(os.path.join(state, "ready.json"), 60, standin)
        smtp = self.ready["smtp"]
        self.ports = {}
        self.logs = {}
        for delay in delays_ms:
            ready_file = os.path.join(self.tmp, "proxy-%s.json" % delay)
            self.logs[delay] = os.path.join(self.tmp, "proxy-%s.jsonl" % delay)
            proxy = self._spawn([sys.executable, PROXY, "--delay-ms", str(delay), "--lifetime", str(lifetime),
                                 "--ready-file", ready_file, "--log", self.logs[delay],
                                 "--target-port", str(smtp["outlook"]), "--target-port", str(smtp["silent"])])
            ports = wait_for_file(ready_file, 30, proxy)["ports"]
            self.ports[delay] = {name: ports[str(port)] for name, port in smtp.items() if str(port) in ports}

    def links(self, delay):
        """The proxy's records of finished connections so far (JSON lines)."""
        try:
            with open(self.logs[delay]) as handle:
                return [json.loads(line) for line in handle if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def next_link(self, delay, seen, seconds=5.0):
        """The record of the connection after the first `seen` ones (waits for the proxy to write it)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            links = self.links(delay)
            if len(links) > seen:
                return links[seen]
            time.sleep(0.01)
        return None

    def _spawn(self, argv):
        # Quiet: their logs would interleave with the figures.
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        return proc

    def stop(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)


def access_token(ready):
    """One refresh-token grant at the stand-in's token endpoint (as Microsoft's), for the XOAUTH2 row."""
    acct = ready["accounts"]
    body = urllib.parse.urlencode({"grant_type": "refresh_token", "client_id": acct["client_id"],
                                   "refresh_token": acct["refresh_token"],
                                   "scope": "https://outlook.office.com/SMTP.Send offline_access"}).encode()
    context = ssl.create_default_context(cafile=ready["ca_file"])
    with urllib.request.urlopen(ready["token_url"], body, timeout=10, context=context) as response:
        return json.load(response)["access_token"]


def noop_rtt(port, samples=15):
    """Median time of one SMTP NOOP exchange (a pure request/reply) through the proxy on `port`."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        reader = sock.makefile("rb")
        reader.readline()
        times = []
        for _sample in range(samples):
            started = time.perf_counter()
            sock.sendall(b"NOOP\r\n")
            reader.readline()
            times.append(time.perf_counter() - started)
        sock.sendall(b"QUIT\r\n")
    return statistics.median(times)


def check_ours(port, ready, timeout=30.0, token=None):
    acct = ready["accounts"]
    if token:
        result = _smtp_probe.probe(host="127.0.0.1", port=port, security="starttls", timeout=timeout,
                                   ca_path=ready["ca_file"], username=acct["user"], auth="xoauth2",
                                   oauth2_access_token=token)
    else:
        result = _smtp_probe.probe(host="127.0.0.1", port=port, security="starttls", timeout=timeout,
                                   ca_path=ready["ca_file"], username=acct["user"], password=acct["password"],
                                   auth="auto")
    if not (result["ok"] and result["authenticated"]):
        return "failed: %s %s" % (result["reason"], result["detail"])
    return "ok %s %s" % (result["auth_mechanism"], (result["tls"] or {}).get("version"))


def check_smtplib(port, ready, timeout=30.0):
    acct = ready["accounts"]
    # The obvious way, with the certificate verified (smtplib verifies nothing without a context).
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as client:
        client.starttls(context=ssl.create_default_context(cafile=ready["ca_file"]))
        code, _text = client.login(acct["user"], acct["password"])
        tls = client.sock.version()
    return "ok %s %s" % (code, tls)


def check_swaks(port, ready, timeout=30.0):
    acct = ready["accounts"]
    argv = ["swaks", "--server", "127.0.0.1", "--port", str(port), "--timeout", "%gs" % timeout,
            "--from", acct["user"], "--to", acct["user"], "--tls", "--tls-verify", "--tls-ca-path", ready["ca_file"],
            "--auth", "LOGIN", "--auth-user", acct["user"], "--auth-password", acct["password"],
            "--auth-hide-password", "--quit-after", "AUTH"]
    proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          check=False, timeout=timeout + 30)
    if proc.returncode != 0:
        last = proc.stdout.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return "failed: exit %d %s" % (proc.returncode, last[0])
    return "ok exit 0"


def timed(func, *args, **kwargs):
    started = time.perf_counter()
    try:
        outcome = func(*args, **kwargs)
    except Exception as exc:  # pylint: disable=broad-exception-caught  # a benchmark reports, never stops
        outcome = "failed: %s: %s" % (type(exc).__name__, exc)
    return time.perf_counter() - started, outcome


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--delay-ms", type=float, default=25.0, help="delay each way (default 25)")
    parser.add_argument("--runs", type=int, default=5, help="runs per client and delay (default 5)")
    parser.add_argument("--silent-timeout", type=float, default=3.0, help="timeout for the silent listener (3)")
    parser.add_argument("--silent-runs", type=int, default=1, help="runs per client against the silent listener")
    parser.add_argument("--lifetime", type=float, default=300.0, help="stand-in and proxies stop after this (300)")
    args = parser.parse_args(argv)
    delay = args.delay_ms
    services = Services([0, delay], args.lifetime)
    try:
        return run(args, services, delay)
    finally:
        services.stop()


def run(args, services, delay):
    ready = services.ready
    direct, slow = services.ports[0], services.ports[delay]
    rtt = noop_rtt(slow["outlook"]) - noop_rtt(direct["outlook"])
    token = access_token(ready)
    clients = [
        ("ours", lambda port: check_ours(port, ready)),
        ("ours/xo2", lambda port: check_ours(port, ready, token=token)),
        ("smtplib", lambda port: check_smtplib(port, ready)),
    ]
    if shutil.which("swaks"):
        clients.append(("swaks", lambda port: check_swaks(port, ready)))
    print("roundtrips: delay %g ms each way, nominal RTT %.1f ms, measured RTT (NOOP) %.1f ms, median of %d runs"
          % (delay, 2 * delay, rtt * 1000, args.runs))
    print("roundtrips: check = TCP connect, banner, EHLO, STARTTLS, TLS handshake, EHLO, AUTH, QUIT; "
          "ours = _smtp_probe.probe() with the password (LOGIN), ours/xo2 = with an access token (XOAUTH2)")

    figures = {}
    for name, check in clients:
        wall = {0: [], delay: []}
        wire = {0: [], delay: []}
        counted = set()
        outcomes = set()
        for _run in range(args.runs):
            for which, ports in ((0, direct), (delay, slow)):
                seen = len(services.links(which))
                elapsed, outcome = timed(check, ports["outlook"])
                link = services.next_link(which, seen)
                wall[which].append(elapsed)
                outcomes.add(outcome)
                if link:
                    wire[which].append(link["session_s"])
                    if which == delay:
                        counted.add(link["round_trips"])
        figures[name] = {
            "wall": (statistics.median(wall[0]), statistics.median(wall[delay])),
            "wire": (statistics.median(wire[0] or [0]), statistics.median(wire[delay] or [0])),
            "counted": sorted(counted), "outcomes": sorted(outcomes),
        }

    def trips(name):
        fast, slow_time = figures[name]["wire"]
        return (slow_time - fast) / rtt

    print("%-9s %17s %17s %11s %8s %8s  %s" % ("client", "wall ms 0/%g" % delay, "on wire ms 0/%g" % delay,
                                               "RT by time", "RT seen", "vs ours", "outcome"))
    for name, fig in figures.items():
        print("%-9s %8.1f/%8.1f %8.1f/%8.1f %11.2f %8s %7.2fx  %s"
              % (name, fig["wall"][0] * 1000, fig["wall"][1] * 1000, fig["wire"][0] * 1000, fig["wire"][1] * 1000,
                 trips(name), ",".join(str(n) for n in fig["counted"]), trips(name) / trips("ours"),
                 "; ".join(fig["outcomes"])))
    print("roundtrips: wall = whole call incl. process start; on wire = proxy accept to client close; "
          "RT by time = (on wire delayed - direct) / RTT; RT seen = client waits counted by the proxy + TCP handshake")

    print("roundtrips: silent listener (accepts TCP, never answers) through the %g ms proxy, timeout %g s"
          % (delay, args.silent_timeout))
    silent = [
        ("ours", lambda: silent_ours(slow["silent"], ready, args.silent_timeout)),
        ("smtplib", lambda: check_smtplib(slow["silent"], ready, timeout=args.silent_timeout)),
    ]
    if shutil.which("swaks"):
        silent.append(("swaks", lambda: check_swaks(slow["silent"], ready, timeout=args.silent_timeout)))
    print("%-9s %12s %14s  %s" % ("client", "reported s", "over timeout", "outcome"))
    for name, func in silent:
        runs = [timed(func) for _run in range(args.silent_runs)]
        elapsed = statistics.median(run_time for run_time, _outcome in runs)
        outcomes = sorted({outcome for _run_time, outcome in runs})
        print("%-9s %12.2f %+13.2fs  %s" % (name, elapsed, elapsed - args.silent_timeout, "; ".join(outcomes)))
    return 0


def silent_ours(port, ready, timeout):
    result = _smtp_probe.probe(host="127.0.0.1", port=port, security="starttls", timeout=timeout,
                               ca_path=ready["ca_file"], username=ready["accounts"]["user"],
                               password=ready["accounts"]["password"])
    return "ok=%s reason=%s stage=%s" % (result["ok"], result["reason"], result["failed_stage"])


if __name__ == "__main__":
    sys.exit(main())
