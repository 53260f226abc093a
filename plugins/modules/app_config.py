#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) mailops.live_smtp contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: app_config
short_description: Write an SMTP account into an application's configuration file, in place
version_added: 0.1.0
description:
  - Sets the SMTP settings of one application (Grafana, Gitea/Forgejo, Prometheus Alertmanager, Django, Nextcloud, a
    C(.env) file, or any ini, dotenv, YAML, JSON, PHP or Python settings file) from one account of the shared
    C(live_smtp_accounts) vocabulary.
  - Edits only the lines that hold the managed keys; every other setting and comment stays as it was. JSON has no
    comments; it keeps its key order and indentation.
  - Encodes each value for the application's own parser, so a password with quotes, backslashes, C(#), C(;), C($),
    spaces at either end or non-ASCII characters arrives byte-exact. Refuses, before writing anything, a value the
    application would alter and cannot escape (a line break anywhere; C(%(name\)s) for go-ini; C(${...}) for Grafana).
  - With O(delivery=direct) the application logs in to the account's server itself. None of the presets can log in
    with OAuth2 (XOAUTH2), so an OAuth2 account fails there with a clear message that suggests O(delivery=local_relay);
    the application then sends to the host's local relay (the C(mailops.live_smtp.postfix_relay) role) without
    credentials.
  - Reads the file the way the application does before changing it (go-ini as Grafana and Gitea load it, Python's
    C(configparser), PyYAML, C(json), Python's compiler, python-dotenv's and C(sh)'s quoting) and refuses, naming the
    line, a file the application could not load; reads the result back the same way before writing it. Where the
    application's own checker is installed (C(php -l) for Nextcloud, C(sh -n) for O(dotenv_dialect=shell), on the
    old file and on the new one; C(amtool check-config) for Alertmanager on the new file when the old one passed
    it), it runs before the new file replaces the old.
  - Writes atomically (temporary file in the same directory, then C(atomic_move)), keeps the owner, group and mode of an
    existing file unless told otherwise, creates new files with mode C(0600), refuses to leave a world-readable file
    that holds a password, and never writes a backup.
  - The diff masks every secret value, old and new, as C(********).
author:
  - mailops.live_smtp maintainers (@mailops)
extends_documentation_fragment:
  - mailops.live_smtp.attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: Secret values are shown as C(********); with O(format=content) the content is not shown at all.
options:
  path:
    description: The configuration file. Created when missing (see O(create)).
    type: path
    required: true
  preset:
    description:
      - An application whose setting names and file format are built in. See the role README for each key written.
      - V(grafana) (C(grafana.ini) C([smtp])), V(gitea) (Gitea and Forgejo C(app.ini) C([mailer])), V(alertmanager)
        (C(alertmanager.yml) C(global.smtp_*)), V(django) (a settings module of C(EMAIL_*) assignments),
        V(django_env) (the same keys in an environment file), V(nextcloud) (C(config.php) C(mail_*) entries),
        V(env) (a C(.env) file of C(SMTP_*) keys).
    type: str
    choices: [grafana, gitea, alertmanager, django, django_env, nextcloud, env]
  format:
    description:
      - A generic format, for applications without a preset. O(fields) maps the account's fields to the file's keys.
      - V(content) writes O(content) as the whole file (a rendered template).
    type: str
    choices: [ini, dotenv, yaml, json, php, python, content]
  delivery:
    description:
      - V(direct) - the application logs in to the account's server (host, port, STARTTLS or TLS, login, password;
        From is the login).
      - V(local_relay) - the application sends to O(relay_host):O(relay_port) without credentials or TLS, and the
        host's mail relay does the rest.
    type: str
    choices: [direct, local_relay]
    default: direct
  account:
    description: One account of C(live_smtp_account_list) (as filled in by the C(mailops.live_smtp.account) role).
    type: dict
    suboptions:
      name:
        description: Account name, for messages.
        type: str
      host:
        description: Submission server.
        type: str
        default: smtp-mail.outlook.com
      port:
        description: Submission port.
        type: int
        default: 587
      security:
        description: V(starttls) or V(tls) (implicit). Default V(tls) on port 465, else V(starttls).
        type: str
        choices: [starttls, tls]
      username:
        description: The login.
        type: str
        required: true
      from:
        description: Sender address. Defaults to O(account.username).
        type: str
      auth:
        description: V(password) or V(oauth2).
        type: str
        choices: [password, oauth2]
        default: password
      password:
        description: The password or app password.
        type: str
      oauth2:
        description: The account's OAuth2 settings. Accepted so a whole account can be passed; no preset can use them.
        type: dict
      ca_file:
        description: The account's CA bundle. Accepted so a whole account can be passed; applications use their own.
        type: path
      senders:
        description: The account's routed senders (postfix_relay). Accepted so a whole account can be passed; unused here.
        type: list
        elements: str
  relay_host:
    description: The local relay for O(delivery=local_relay).
    type: str
    default: localhost
  relay_port:
    description: The local relay's port for O(delivery=local_relay).
    type: int
    default: 25
  from_name:
    description: Display name for the sender, where the application has one.
    type: str
  section:
    description: The ini section for O(format=ini); overrides a preset's section. Omit for the keys before any section.
    type: str
  ini_dialect:
    description:
      - How ini values are quoted. V(goini) - the go-ini library of Grafana and Gitea (triple quotes).
        V(configparser) - Python's C(ConfigParser) with interpolation (C(%) doubled). V(raw) - written as is
        (Python's C(RawConfigParser) and most C-style readers).
    type: str
    choices: [goini, configparser, raw]
    default: goini
  dotenv_dialect:
    description:
      - How dotenv values are quoted. V(python) - python-dotenv (single quotes, C(\\\\) and C(\\') escapes, no variable
        expansion). V(shell) - POSIX C(sh) sourcing the file (single quotes, C('\\'') for a quote).
    type: str
    choices: [python, shell]
    default: python
  fields:
    description:
      - For a generic format, which key of the file gets which field of the account. Field names are V(host),
        V(port), V(address) (host:port), V(security) (V(starttls), V(tls) or V(none)), V(starttls) and V(tls)
        (booleans), V(auth) (boolean), V(username), V(password) and V(from).
      - A key is a path of keys joined by O(key_separator) for nested formats (YAML, JSON).
    type: dict
  settings:
    description:
      - Further fixed settings, key (path) to value, written beside the account's. Not for secrets.
    type: dict
  key_separator:
    description: Separator of the key paths in O(fields) and O(settings).
    type: str
    default: .
  content:
    description: The whole file, for O(format=content). May hold a secret, so it is never logged or shown in a diff.
    type: str
  validate:
    description:
      - A command run on the new file before it replaces the old one; C(%s) is the new file's path. A non-zero exit
        leaves the old file in place.
    type: str
  create:
    description: Create the file when it is missing. When V(false), a missing file is an error.
    type: bool
    default: true
notes:
  - Values that contain C({{) or C({%) must be marked C(!unsafe) in the inventory, or Ansible templates them first.
seealso:
  - name: The app_smtp role
    description: Writes the accounts into many applications, with reload handlers.
    link: https://github.com/mailops/live_smtp/tree/main/roles/app_smtp
"""

EXAMPLES = r"""
- name: Grafana logs in to Outlook itself
  mailops.live_smtp.app_config:
    path: /etc/grafana/grafana.ini
    preset: grafana
    account: "{{ live_smtp_account_list[0] }}"
    owner: root
    group: grafana
    mode: "0640"
  no_log: true

- name: Alertmanager sends through the local Postfix relay (OAuth2 account)
  mailops.live_smtp.app_config:
    path: /etc/prometheus/alertmanager.yml
    preset: alertmanager
    delivery: local_relay
    account: "{{ live_smtp_account_list[0] }}"
    validate: amtool check-config %s

- name: Any YAML application
  mailops.live_smtp.app_config:
    path: /etc/myapp/config.yml
    format: yaml
    account: "{{ live_smtp_account_list[0] }}"
    fields:
      address: mail.smtp.server
      username: mail.smtp.user
      password: mail.smtp.password
      from: mail.from
    settings:
      mail.enabled: true
  no_log: true
"""

RETURN = r"""
path:
  description: The file.
  returned: always
  type: str
  sample: /etc/grafana/grafana.ini
format:
  description: The format the file was edited as.
  returned: always
  type: str
  sample: ini
managed_keys:
  description: The keys this module manages in the file (paths joined by dots); values are never returned.
  returned: always
  type: list
  elements: str
  sample: [enabled, host, user, password, from_address, startTLS_policy, skip_verify]
content_changed:
  description: Whether the file's content changed (or would, in check mode); C(changed) also counts owner, group and mode.
  returned: always
  type: bool
  sample: true
"""

import os
import re
import shlex
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native, to_text

from ansible_collections.mailops.live_smtp.plugins.module_utils import _app_formats


def argument_spec():
    return dict(
        path=dict(type="path", required=True),
        preset=dict(type="str", choices=sorted(_app_formats.PRESETS)),
        format=dict(type="str", choices=list(_app_formats.FORMATS)),
        delivery=dict(type="str", choices=list(_app_formats.DELIVERIES), default="direct"),
        account=dict(type="dict", options=dict(
            name=dict(type="str"),
            host=dict(type="str", default="smtp-mail.outlook.com"),
            port=dict(type="int", default=587),
            security=dict(type="str", choices=["starttls", "tls"]),
            username=dict(type="str", required=True),
            password=dict(type="str", no_log=True),
            auth=dict(type="str", choices=["password", "oauth2"], default="password"),
            oauth2=dict(type="dict", no_log=True),
            ca_file=dict(type="path"),
            senders=dict(type="list", elements="str"),
            **{"from": dict(type="str")}
        )),
        relay_host=dict(type="str", default="localhost"),
        relay_port=dict(type="int", default=25),
        from_name=dict(type="str"),
        section=dict(type="str"),
        ini_dialect=dict(type="str", choices=list(_app_formats.INI_DIALECTS), default="goini"),
        dotenv_dialect=dict(type="str", choices=list(_app_formats.DOTENV_DIALECTS), default="python"),
        fields=dict(type="dict"),
        settings=dict(type="dict"),
        key_separator=dict(type="str", default=".", no_log=False),
        content=dict(type="str", no_log=True),
        validate=dict(type="str"),
        create=dict(type="bool", default=True),
    )


def plan(params):
    """Format, edit options and settings for the parameters; raises AppFormatError."""
    preset = params["preset"]
    account = params["account"]
    if preset:
        spec = _app_formats.PRESETS[preset]
        fmt = spec.format
        options = spec.options(params["section"], params["dotenv_dialect"])
        settings = _app_formats.preset_settings(preset, params["delivery"], account, params["relay_host"],
                                                params["relay_port"], params["from_name"])
    else:
        fmt = params["format"]
        options = {"section": params["section"], "ini_dialect": params["ini_dialect"],
                   "dotenv_dialect": params["dotenv_dialect"]}
        settings = []
        if params["fields"]:
            settings = _app_formats.generic_settings(params["delivery"], account, params["fields"], params["relay_host"],
                                                     params["relay_port"], params["key_separator"])
    for key, value in (params["settings"] or {}).items():
        settings.append((_app_formats.split_path(key, params["key_separator"]), value, False))
    return fmt, options, settings


_PERMISSIONS = {"r": 0o444, "w": 0o222, "x": 0o111, "s": 0o6000, "t": 0o1000}
_WHO = {"u": 0o4700, "g": 0o2070, "o": 0o1007}


def symbolic_mode(current, mode):
    """The mode chmod would give a regular file of mode current for a symbolic mode such as u=rw,g+r,o-rwx."""
    for clause in mode.split(","):
        match = re.match(r"^([ugoa]*)((?:[-+=][rwxXstugo]*)+)$", clause)
        if not match:
            raise _app_formats.AppFormatError("mode %s is neither octal nor symbolic (u=rw,g=r,o=)" % mode)
        who = match.group(1).replace("a", "ugo") or "ugo"
        mask = 0
        for w in who:
            mask |= _WHO[w]
        for op, perms in re.findall(r"([-+=])([rwxXstugo]*)", match.group(2)):
            bits = 0
            for p in perms:
                if p in "ugo":  # copy another class's bits
                    shift = {"u": 6, "g": 3, "o": 0}[p]
                    part = (current >> shift) & 0o7
                    bits |= part << 6 | part << 3 | part
                elif p == "X":
                    bits |= 0o111 if current & 0o111 else 0
                else:
                    bits |= _PERMISSIONS[p]
            bits &= mask
            if op == "+":
                current |= bits
            elif op == "-":
                current &= ~bits
            else:
                current = (current & ~mask) | bits
    return current & 0o7777


def final_mode(module, path, exists):
    """The mode the file will have: the one asked for, else the existing file's, else 0600 for a new file."""
    mode = module.params["mode"]
    current = os.stat(path).st_mode & 0o7777 if exists else 0o600
    if mode is None:
        return current
    if isinstance(mode, int):
        return mode
    if re.match(r"^0?[0-7]{3,4}$", mode):
        return int(mode, 8)
    return symbolic_mode(current, mode)


def choose_checker(module, params, fmt, options):
    """(argv, syntax, application) of the application's own checker when it is installed here, else (None, ...)."""
    spec = _app_formats.PRESETS.get(params["preset"])
    if spec and spec.checker:
        argv, syntax, application = spec.checker, spec.syntax_checker, spec.application
    elif fmt == "dotenv" and options.get("dotenv_dialect") == "shell":
        argv, syntax, application = ("sh", "-n"), True, "sh"  # a file that sh sources: sh checks its syntax
    else:
        return None, False, None
    binary = module.get_bin_path(argv[0])
    return ([binary] + list(argv[1:]) if binary else None), syntax, application


def run_checker(module, argv, path, what):
    """Run the application's own checker on one file; raise with its output when it says no."""
    rc, out, err = module.run_command(list(argv) + [path])
    if rc != 0:
        # Only the line numbers of its output: checkers quote the offending token, which may be part of a secret.
        output = to_native(out) + "\n" + to_native(err)
        # "on line 3" (php, amtool) or "file: 3: Syntax error" (dash)
        lines = sorted(set(int(n) for pair in re.findall(r"(?m)line (\d+)|^[^:\n]*: (\d+): ", output) for n in pair if n))
        raise _app_formats.AppFormatError("%s: %s says no (rc %d%s)" % (
            what, " ".join(argv), rc, ", line %s" % ", ".join(str(n) for n in lines) if lines else ""))


def write_atomically(module, path, data, exists, checker):
    """Temp file (0600) in the same directory, attributes applied, validated, then moved over the file with
    module.atomic_move. A new file is first created empty with mode 0600, so that atomic_move never gives the
    secret the umask's mode, even for a moment."""
    directory = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix=".%s." % os.path.basename(path), dir=directory)
    placeholder = False
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if exists:
            st = os.stat(path)
            os.chmod(tmp, st.st_mode & 0o7777)
            os.chown(tmp, st.st_uid, st.st_gid)
        file_args = module.load_file_common_arguments(module.params, path=tmp)
        module.set_fs_attributes_if_different(file_args, False)
        if checker:
            run_checker(module, checker, tmp, "the application's checker refuses the edited file; nothing was changed")
        if module.params["validate"]:
            validate = module.params["validate"]
            if "%s" not in validate:
                raise _app_formats.AppFormatError("validate must contain %s")
            rc, out, err = module.run_command(shlex.split(validate.replace("%s", shlex.quote(tmp))))
            if rc != 0:
                raise _app_formats.AppFormatError("validation failed (rc %d): %s %s" % (rc, to_native(out), to_native(err)))
        if not exists:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            placeholder = True
        # keep_dest_attrs=False: the temp file already carries the old file's owner and mode plus what was asked.
        module.atomic_move(tmp, path, unsafe_writes=module.params["unsafe_writes"], keep_dest_attrs=False)
        tmp = placeholder = None
    finally:
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        if placeholder:
            os.unlink(path)


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[("preset", "format"), ("preset", "fields"), ("content", "fields")],
        required_one_of=[("preset", "format")],
        required_if=[("format", "content", ("content",))],
        required_by={"preset": "account", "fields": "account"},
        add_file_common_args=True,
        supports_check_mode=True,
    )
    params = module.params
    path = params["path"]
    result = dict(changed=False, path=path, format=params["format"], managed_keys=[], content_changed=False)
    try:
        if params["content"] is not None and params["format"] != "content":
            raise _app_formats.AppFormatError("content goes with format: content")
        if params["format"] == "content":
            fmt, options, settings = "content", {}, []
        else:
            fmt, options, settings = plan(params)
        result["format"] = fmt
        result["managed_keys"] = [".".join(p) for p, _v, _s in settings]
        exists = os.path.exists(path)
        if not exists and not params["create"]:
            raise _app_formats.AppFormatError("the file does not exist and create is false")
        if exists and not os.path.isfile(path):
            raise _app_formats.AppFormatError("not a regular file")
        before = ""
        if exists:
            with open(path, "rb") as handle:
                before = to_text(handle.read(), errors="surrogate_or_strict")
        checker, syntax, application = choose_checker(module, params, fmt, options)
        if checker:
            try:
                if not before.strip():
                    raise _app_formats.AppFormatError("new file")  # may need more than this module writes (a route)
                run_checker(module, checker, path, "%s refuses the file as it is; nothing was changed" % application)
            except _app_formats.AppFormatError:
                if syntax and before.strip():
                    raise
                checker = None  # incomplete before (amtool: no smarthost yet): validate judges the result
        if fmt == "content":
            after = params["content"]
        else:
            after = _app_formats.edit(fmt, before, settings, options)
            _app_formats.verify(fmt, after, settings)
        holds_secret = fmt == "content" or any(secret and value for _p, value, secret in settings)
        mode = final_mode(module, path, exists)
        if holds_secret and mode is not None and mode & 0o004:
            raise _app_formats.AppFormatError(
                "the file would be world-readable (mode %04o) with a password in it; give a mode such as 0640" % mode)
    except _app_formats.AppFormatError as exc:
        module.fail_json(msg="%s: %s" % (path, to_native(exc)), **result)

    content_changed = after != before or not exists
    result["content_changed"] = content_changed
    if module._diff and content_changed:
        if fmt == "content":
            hidden = "(content hidden: it may hold a secret; %d lines)\n"
            result["diff"] = dict(before_header=path, after_header=path,
                                  before=hidden % len(before.splitlines()) if exists else "",
                                  after=hidden % len(after.splitlines()))
        else:
            result["diff"] = dict(before_header=path, after_header=path,
                                  before=_app_formats.mask(fmt, before, settings, options),
                                  after=_app_formats.mask(fmt, after, settings, options))
    if content_changed and not module.check_mode:
        try:
            write_atomically(module, path, to_bytes(after, errors="surrogate_or_strict"), exists, checker)
        except _app_formats.AppFormatError as exc:
            module.fail_json(msg="%s: %s" % (path, to_native(exc)), **result)
        except Exception as exc:  # atomic_move raises plain Exception; OSError from the temp file
            module.fail_json(msg="cannot write %s: %s" % (path, to_native(exc)), **result)
    file_args = module.load_file_common_arguments(params)
    if content_changed and module.check_mode:
        changed = True
    else:
        changed = module.set_fs_attributes_if_different(file_args, content_changed)
    result["changed"] = changed
    module.exit_json(**result)


if __name__ == "__main__":
    main()
