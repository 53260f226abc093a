# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""Just enough DER to describe a server certificate (subject, issuer, names, expiry), so the details are there even
when validate_certs is false and getpeercert() returns nothing."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import ipaddress

_NAME_OIDS = {"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU"}


def _der_items(data):
    pos = 0
    while pos < len(data):
        tag = data[pos]
        length = data[pos + 1]
        pos += 2
        if length & 0x80:
            count = length & 0x7F
            length = int.from_bytes(data[pos:pos + count], "big")
            pos += count
        yield tag, data[pos:pos + length]
        pos += length


def _der_oid(value):
    first = value[0]
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2)]
    number = 0
    for byte in value[1:]:
        number = (number << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(number)
            number = 0
    return ".".join(str(part) for part in parts)


def _der_string(tag, value):
    if tag == 0x1E:
        return value.decode("utf-16-be", "replace")
    if tag == 0x14:
        return value.decode("latin-1")
    return value.decode("utf-8", "replace")


def _der_name(value):
    parts = []
    for _tag, rdn in _der_items(value):
        for _tag2, attribute in _der_items(rdn):
            (_t, oid), (stag, svalue) = list(_der_items(attribute))[:2]
            oid = _der_oid(oid)
            parts.append("%s=%s" % (_NAME_OIDS.get(oid, oid), _der_string(stag, svalue)))
    return ", ".join(parts)


def _der_time(tag, value):
    text = value.decode("ascii").rstrip("Z")
    if tag == 0x17:  # UTCTime YYMMDDHHMMSS
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    return datetime.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)


def certificate_info(der, now=None):
    """subject, issuer, san, not_after (ISO 8601 UTC) and days_left of a DER certificate; {} if unparsable."""
    try:
        (_tag, certificate), = list(_der_items(der))[:1]
        tbs = list(_der_items(list(_der_items(certificate))[0][1]))
        if tbs[0][0] == 0xA0:  # explicit version
            tbs = tbs[1:]
        issuer, validity, subject = tbs[2][1], tbs[3][1], tbs[4][1]
        not_after = _der_time(*list(_der_items(validity))[1])
        san = []
        for tag, value in tbs[6:]:
            if tag != 0xA3:
                continue
            for _t, extension in _der_items(list(_der_items(value))[0][1]):
                fields = list(_der_items(extension))
                if _der_oid(fields[0][1]) != "2.5.29.17":
                    continue
                for gtag, gvalue in _der_items(list(_der_items(fields[-1][1]))[0][1]):
                    if gtag == 0x82:
                        san.append(gvalue.decode("ascii", "replace"))
                    elif gtag == 0x87:
                        san.append(str(ipaddress.ip_address(gvalue)))
        now = now or datetime.datetime.now(datetime.timezone.utc)
        return {
            "subject": _der_name(subject),
            "issuer": _der_name(issuer),
            "san": san,
            "not_after": not_after.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "days_left": int((not_after - now).total_seconds() // 86400),
        }
    except (ValueError, IndexError, TypeError, UnicodeDecodeError):
        return {}
