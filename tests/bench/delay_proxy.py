"""A user-space TCP proxy that adds a fixed delay to every byte, each way: a slow link without tc netem.

Benchmark helper only. Listens on 127.0.0.1, forwards to 127.0.0.1:TARGET, stops by itself after --lifetime.

    python tests/bench/delay_proxy.py --target-port 2525 --delay-ms 25 --lifetime 120 --ready-file /tmp/p.json

Every chunk read from one side is written to the other side DELAY ms after it was read (order kept, throughput not
limited), so one request/reply exchange costs 2 x DELAY. The kernel completes a client's connect() to the proxy at
once, so the proxy opens the upstream connection only 3 x DELAY after accepting: the server's first bytes (the SMTP
banner) then reach the client 4 x DELAY = 2 RTT after connect, as over a real link (SYN, SYN-ACK, ACK + first flight).
With --log, each finished connection appends its session time (accept to the client's close) and the round trips
the client waited for (see Link). Several proxies can run in one process (--route LISTEN_PORT=TARGET_PORT, repeatable, 0 = any free port); the
ready file maps each target port to its listening port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time

HOST = "127.0.0.1"
CHUNK = 65536


class Link:
    """One proxied connection and what it cost the client, for --log.

    A client "turn" is a client send (or close) after it received something since its previous send: a point where
    the client had waited for the server. round_trips = turns + 1 with the emulated TCP handshake.
    """

    def __init__(self, target_port):
        self.target_port = target_port
        self.accepted = time.monotonic()
        self.client_done = None
        self.turns = 0
        self.server_spoke = False

    def from_client(self):
        if self.server_spoke:
            self.turns += 1
            self.server_spoke = False

    def to_client(self):
        self.server_spoke = True


async def _pump(reader, writer, delay, on_read=None, on_write=None):
    """Copies reader -> writer, each chunk `delay` seconds after it arrived."""
    queue = asyncio.Queue()

    async def deliver():
        try:
            while True:
                due, data = await queue.get()
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                if data is None:
                    break
                writer.write(data)
                await writer.drain()
                if on_write:
                    on_write()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass

    deliverer = asyncio.ensure_future(deliver())
    try:
        while True:
            try:
                data = await reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""
            if on_read:
                on_read(data)
            queue.put_nowait((time.monotonic() + delay, data or None))
            if not data:
                break
        await deliverer
    finally:
        if not deliverer.done():
            deliverer.cancel()


async def _handle(client_reader, client_writer, target_port, delay, handshake, log):
    link = Link(target_port)

    def client_read(data):
        link.from_client()
        if not data:
            link.client_done = time.monotonic()

    try:
        if handshake:
            # The TCP handshake the client did not pay for: SYN, SYN-ACK, ACK before the server can send.
            await asyncio.sleep(3 * delay)
        try:
            server_reader, server_writer = await asyncio.open_connection(HOST, target_port)
        except OSError:
            return
        pumps = [asyncio.ensure_future(_pump(client_reader, server_writer, delay, on_read=client_read)),
                 asyncio.ensure_future(_pump(server_reader, client_writer, delay, on_write=link.to_client))]
        try:
            # When one side is done, the other gets a short grace period (a silent server would never close).
            _done, pending = await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
            if pending:
                await asyncio.wait(pending, timeout=2 * delay + 1.0)
        finally:
            for pump in pumps:
                pump.cancel()
            server_writer.close()
        if log:
            end = link.client_done or time.monotonic()
            with open(log, "a") as handle:
                handle.write(json.dumps({"target_port": target_port, "session_s": round(end - link.accepted, 6),
                                         "turns": link.turns, "round_trips": link.turns + (1 if handshake else 0)})
                             + "\n")
    except asyncio.CancelledError:
        pass  # shutting down
    finally:
        client_writer.close()


async def serve(routes, delay, lifetime, ready_file=None, handshake=True, log=None):
    """Runs one proxy per (listen_port, target_port) until SIGTERM/SIGINT or `lifetime` seconds."""
    servers = []
    ready = {"pid": os.getpid(), "delay_ms": delay * 1000, "ports": {}}
    for listen_port, target_port in routes:
        server = await asyncio.start_server(
            lambda r, w, t=target_port: _handle(r, w, t, delay, handshake, log), HOST, listen_port)
        servers.append(server)
        ready["ports"][str(target_port)] = server.sockets[0].getsockname()[1]
    if ready_file:
        tmp = ready_file + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(ready, handle)
        os.rename(tmp, ready_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), lifetime)
    except asyncio.TimeoutError:
        pass
    for server in servers:
        server.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--target-port", type=int, action="append", default=[], help="forward to 127.0.0.1:PORT")
    parser.add_argument("--route", action="append", default=[], metavar="LISTEN=TARGET",
                        help="listen on 127.0.0.1:LISTEN (0: any), forward to 127.0.0.1:TARGET")
    parser.add_argument("--delay-ms", type=float, default=25.0, help="delay added each way (default 25)")
    parser.add_argument("--lifetime", type=float, default=300.0, help="stop after this many seconds (default 300)")
    parser.add_argument("--no-handshake", action="store_true", help="do not emulate the TCP handshake round trip")
    parser.add_argument("--log", help="append one JSON line per finished connection: session_s, turns, round_trips")
    parser.add_argument("--ready-file", help="write {pid, delay_ms, ports: {target: listen}} here when listening")
    args = parser.parse_args(argv)
    routes = [(0, port) for port in args.target_port]
    for route in args.route:
        listen, target = route.split("=", 1)
        routes.append((int(listen), int(target)))
    if not routes:
        parser.error("give --target-port or --route")
    asyncio.run(serve(routes, args.delay_ms / 1000.0, args.lifetime, args.ready_file, not args.no_handshake,
                      args.log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
