# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!
"""Where the server is: name resolution (the system resolver, or dnspython for nameservers) and the TCP connect.

dnspython is imported only when nameservers are used: the default path needs only the standard library, and the
import costs tens of milliseconds on every managed host.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import errno
import ipaddress
import re
import socket
import threading
import traceback

from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.errors import (
    ConfigError, MissingLibraryError, ProbeError)
from ansible_collections.mailops.live_smtp.plugins.module_utils._probe.wire import Deadline

# When every address fails, the reason reported: a drop (firewall) explains more than a refusal elsewhere.
_CONNECT_PRIORITY = ("connect_timeout", "connection_refused", "network_unreachable", "connection_failed")


def parse_nameserver(entry):
    """'IP', 'IP:port', '[IPv6]:port' or a bare IPv6 address -> (ip, port)."""
    text = str(entry).strip()
    port = 53
    match = re.match(r"^\[([^\]]+)\](?::(\d+))?$", text)
    if match:
        host, port_text = match.group(1), match.group(2)
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, None
    if port_text is not None:
        port = int(port_text)
        if not 0 < port < 65536:
            raise ConfigError("nameserver %r: port out of range" % entry)
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError("nameserver %r is not an IP address, IP:port or [IPv6]:port" % entry)
    return str(address), port


def ip_literal(host):
    """The address if host is an IP literal (optionally in brackets), else None."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def import_dnspython():
    """(dns.exception, dns.resolver), imported now; MissingLibraryError when dnspython is not installed."""
    try:
        import dns.exception
        import dns.resolver
    except ImportError:
        raise MissingLibraryError("dnspython", traceback.format_exc())
    return dns.exception, dns.resolver


def resolve(host, port, ip_version="any", nameservers=None, deadline=None):
    """Addresses to try, in order. An IP literal is used as it is."""
    deadline = deadline or Deadline(30)
    literal = ip_literal(host)
    if literal is not None:
        version = str(ipaddress.ip_address(literal).version)
        if ip_version not in ("any", version):
            raise ProbeError("dns", "dns_no_address", "%s is an IPv%s address but ip_version is %s"
                             % (literal, version, ip_version))
        return [literal]
    if nameservers:
        return _resolve_dnspython(host, ip_version, nameservers, deadline)
    return _resolve_system(host, port, ip_version, deadline)


def _resolve_dnspython(host, ip_version, nameservers, deadline):
    dns_exception, dns_resolver = import_dnspython()
    servers = [parse_nameserver(entry) for entry in nameservers]
    rdtypes = {"4": ["A"], "6": ["AAAA"], "any": ["A", "AAAA"]}[ip_version]
    answers = {}
    errors = {}

    def query(rdtype):
        resolver = dns_resolver.Resolver(configure=False)
        resolver.nameserver_ports = dict((ip, ns_port) for ip, ns_port in servers)
        resolver.port = servers[0][1]
        resolver.nameservers = [ip for ip, _port in servers]
        lifetime = max(deadline.remaining(), 0.01)
        resolver.timeout = resolver.lifetime = lifetime
        try:
            answer = resolver.resolve(host.rstrip(".") + ".", rdtype, lifetime=lifetime, search=False)
            answers[rdtype] = [record.address for record in answer]
        except Exception as exc:  # pylint: disable=broad-except  # sorted out below, by class
            errors[rdtype] = exc

    threads = [threading.Thread(target=query, args=(rdtype,)) for rdtype in rdtypes]
    for thread in threads:
        thread.daemon = True
        thread.start()
    for thread in threads:
        thread.join(max(deadline.remaining(), 0) + 0.05)
    addresses = []
    for rdtype in rdtypes:
        addresses.extend(answers.get(rdtype, []))
    if addresses:
        return addresses
    found = list(errors.values())
    if any(isinstance(exc, dns_resolver.NXDOMAIN) for exc in found):
        raise ProbeError("dns", "dns_nxdomain", "%s does not exist" % host)
    if len(found) < len(rdtypes) or any(isinstance(exc, dns_exception.Timeout) for exc in found):
        raise ProbeError("dns", "dns_timeout", "no answer from %s" % ", ".join(nameservers))
    if all(isinstance(exc, dns_resolver.NoAnswer) for exc in found):
        raise ProbeError("dns", "dns_no_address", "%s has no %s record" % (host, " or ".join(rdtypes)))
    raise ProbeError("dns", "dns_failed", "; ".join(sorted(set(str(exc) for exc in found))))


def _resolve_system(host, port, ip_version, deadline):
    family = {"4": socket.AF_INET, "6": socket.AF_INET6, "any": socket.AF_UNSPEC}[ip_version]
    outcome = {}

    def lookup():
        try:
            outcome["infos"] = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            outcome["error"] = exc

    # getaddrinfo has no timeout of its own: run it aside and stop waiting at the deadline.
    thread = threading.Thread(target=lookup)
    thread.daemon = True
    thread.start()
    thread.join(max(deadline.remaining(), 0))
    if thread.is_alive():
        raise ProbeError("dns", "dns_timeout", "the system resolver did not answer in time")
    error = outcome.get("error")
    if error is not None:
        code = getattr(error, "errno", None)
        if code == socket.EAI_NONAME:
            raise ProbeError("dns", "dns_nxdomain", "%s: %s" % (host, error))
        if code == socket.EAI_AGAIN:
            raise ProbeError("dns", "dns_timeout", "%s: %s" % (host, error))
        if code in (getattr(socket, "EAI_NODATA", None), getattr(socket, "EAI_ADDRFAMILY", None)):
            raise ProbeError("dns", "dns_no_address", "%s: %s" % (host, error))
        raise ProbeError("dns", "dns_failed", "%s: %s" % (host, error))
    addresses = []
    for info in outcome["infos"]:
        if info[4][0] not in addresses:
            addresses.append(info[4][0])
    if not addresses:
        raise ProbeError("dns", "dns_no_address", "%s has no address" % host)
    return addresses


def connect(addresses, port, deadline):
    """Try the addresses in order; each gets an equal share of the time left. Returns (socket, address)."""
    failures = []
    for index, address in enumerate(addresses):
        share = deadline.left("connect") / (len(addresses) - index)
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(share)
            sock.connect((address, port))
            return sock, address
        except socket.timeout:
            failures.append(("connect_timeout", "%s port %d: no answer in %.1f s" % (address, port, share)))
        except ConnectionRefusedError:
            failures.append(("connection_refused", "%s port %d: connection refused" % (address, port)))
        except OSError as exc:
            reason = "network_unreachable" if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH,
                                                            errno.EADDRNOTAVAIL) else "connection_failed"
            failures.append((reason, "%s port %d: %s" % (address, port, exc.strerror or exc)))
        sock.close()
    best = min(failures, key=lambda failure: _CONNECT_PRIORITY.index(failure[0]))
    raise ProbeError("connect", best[0], "; ".join(detail for _reason, detail in failures))
