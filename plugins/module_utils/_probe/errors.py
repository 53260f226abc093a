# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Note that this module util is **PRIVATE** to the collection. It can have breaking changes at any time.
# Do not use this from other collections or standalone plugins/modules!

"""The two ways the probe says no: ConfigError before any traffic, ProbeError for a failed stage."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


class ConfigError(Exception):
    """An option value the probe cannot use (bad nameserver syntax, CR/LF in an address, ...)."""


class MissingLibraryError(ConfigError):
    """nameservers needs dnspython."""

    def __init__(self, library, import_error):
        super(MissingLibraryError, self).__init__("%s is required for nameservers" % library)
        self.library = library
        self.import_error = import_error


class ProbeError(Exception):
    """A failure at a stage; becomes the result's failed_stage, reason, hint, reply and detail.

    hint is set only where the raiser knows better than the reasons table (token endpoint errors); otherwise the
    probe looks the hint up when it writes the result, with what it saw on the connection.
    """

    def __init__(self, stage, reason, detail=None, reply=None, hint=None, entry=None):
        super(ProbeError, self).__init__("%s at %s: %s" % (reason, stage, detail))
        self.stage = stage
        self.reason = reason
        self.detail = detail
        self.reply = reply
        self.hint = hint
        self.entry = entry  # the row of reasons.REASONS that explained the reply
