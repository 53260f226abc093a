"""Checks what the stand-in received from the fleet (its auth.jsonl, maildir and state.json).

usage: verify.py mail STANDIN_DIR EXPECT_JSON HOST:ACCOUNT...
    every HOST:ACCOUNT sent exactly one message (subject "fleet HOST ACCOUNT"), authenticated as that account's
    login with its mechanism (LOGIN for the password account, XOAUTH2 for the OAuth2 one), over TLS; every LOGIN
    of the password account carried the vaulted password byte-exact; every XOAUTH2 carried a token the stand-in
    issued to that account.
usage: verify.py report REPORT_JSON OK_HOST... -- HOST=REASON...
    the check report has two passing rows (one per account) for each OK_HOST and one failing row per account with
    REASON for each other host (host_unreachable: one row for the host).
usage: verify.py upper NAME=UPPER_DIR=LOWER_DIR...
    prints what each host's overlay changed against the cached tree: every file, link and whiteout in the upper
    dir (type, mode, owner, size, time), and directories only where they are new or differ in mode or owner (a
    directory is copied up unchanged when something is created in it). Left out: temporary dirs, Ansible's own
    remote temp dirs, Python caches and the login records sshd writes for every connection.
usage: verify.py migrate STANDIN_DIR EXPECT_JSON REPORT_JSON AUTH_SKIP HOST=STATUS[:REASON]=ADDRESS[=MESSAGE_ID]...
    after the migration playbook (the first AUTH_SKIP lines of auth.jsonl came before it): its JSON report has one
    row per HOST with that migration STATUS (migrated, rolled_back, not_reached, kept) and a reason (none when
    migrated; REASON when given); a host kept or not reached sent no test message;
    a migrated host's test message arrived from ADDRESS by XOAUTH2 as the tenant mailbox, with an access token the
    stand-in issued to the fleet's app (state.json); a rolled back host's new login passed its check (an XOAUTH2
    login from ADDRESS, 235) and its test message (MESSAGE_ID, as the host's maillog names it) arrived once, by
    LOGIN with the vaulted password; a host not reached sent nothing and logged in nowhere.
usage: verify.py leaks EXPECT_JSON STANDIN_DIR FILE...
    no FILE holds a secret: the vaulted password, refresh token and client secret, or any access token the
    stand-in issued.
Exit 1 with every problem listed.
"""

import base64
import glob
import json
import os
import stat
import sys

UPPER_SKIP = ('./tmp', './var/tmp', './home/deploy/.ansible', './root/.ansible', './var/log/wtmp', './var/log/lastlog',
              './var/log/btmp', './var/lib/wtmpdb')


def load_auth(state_dir):
    with open(state_dir + '/auth.jsonl', encoding='utf-8') as handle:
        return [json.loads(line) for line in handle if line.strip()]


def verify_mail(state_dir, expect, pairs):
    problems = []
    logins = {'tenant': (expect['tenant'], 'LOGIN'), 'personal': (expect['personal'], 'XOAUTH2')}
    state = json.load(open(state_dir + '/state.json', encoding='utf-8'))
    mails = {}
    for meta in sorted(glob.glob(state_dir + '/mail/*.json')):
        info = json.load(open(meta, encoding='utf-8'))
        with open(meta[:-5] + '.eml', encoding='utf-8', errors='replace') as handle:
            head = handle.read().split('\n\n', 1)[0].replace('\r', '')
        subject = next((line.split(':', 1)[1].strip() for line in head.splitlines()
                        if line.lower().startswith('subject:')), '')
        mails.setdefault(subject, []).append(info)
    for pair in pairs:
        host, account = pair.split(':')
        got = mails.get('fleet %s %s' % (host, account), [])
        user, mechanism = logins[account]
        if len(got) != 1:
            problems.append('%s: %d message(s) for account %s, 1 expected' % (host, len(got), account))
            continue
        info = got[0]
        if info['user'].lower() != user or info['mechanism'].upper() != mechanism or not info.get('tls'):
            problems.append('%s/%s: arrived as user=%s mechanism=%s tls=%s, expected %s %s over TLS'
                            % (host, account, info['user'], info['mechanism'], info.get('tls'), user, mechanism))
        print('verify: %s/%s arrived: user=%s mechanism=%s tls=%s'
              % (host, account, info['user'], info['mechanism'], info.get('tls')))
    extra = sorted(s for s in mails if s.startswith('fleet ') and
                   tuple(s.split()[1:3]) not in {tuple(p.split(':')) for p in pairs})
    if extra:
        problems.append('unexpected messages: %s' % ', '.join(extra))

    logins_seen = xoauth_seen = 0
    for entry in load_auth(state_dir):
        mech = (entry.get('mechanism') or '').upper()
        if entry.get('user', '').lower() == expect['tenant'] and mech == 'LOGIN':
            logins_seen += 1
            if entry.get('secret') != expect['password'] or entry.get('code') != 235:
                problems.append('a LOGIN for %s carried another secret or was refused (code %s)'
                                % (expect['tenant'], entry.get('code')))
        elif mech == 'XOAUTH2':
            xoauth_seen += 1
            token = entry.get('secret') or ''
            if token not in state.get('access_tokens', {}):
                token = bearer(token)
            issued = state.get('access_tokens', {}).get(token)
            if entry.get('code') != 235 or not issued or issued['user'].lower() != expect['personal']:
                problems.append('an XOAUTH2 login (code %s) carried a token the stand-in did not issue to %s'
                                % (entry.get('code'), expect['personal']))
        elif entry.get('code') != 235:
            problems.append('refused AUTH: %s %s code %s' % (entry.get('user'), mech, entry.get('code')))
    print('verify: %d LOGIN with the exact vaulted password, %d XOAUTH2 with issued tokens' % (logins_seen, xoauth_seen))
    return problems


def bearer(secret):
    """The token of an XOAUTH2 initial response (user=...^Aauth=Bearer TOKEN^A^A), base64 or decoded."""
    if '\x01' not in secret:
        try:
            secret = base64.b64decode(secret).decode('utf-8')
        except ValueError:
            return secret
    for part in secret.split('\x01'):
        if part.startswith('auth=Bearer '):
            return part[len('auth=Bearer '):]
    return secret


def verify_report(path, ok_hosts, failing):
    problems = []
    report = json.load(open(path, encoding='utf-8'))
    rows = {}
    for row in report['checks']:
        rows.setdefault(row['host'], []).append(row)
    for host in ok_hosts:
        got = rows.get(host, [])
        if len(got) != 2 or not all(r['ok'] for r in got):
            problems.append('%s: expected 2 passing checks, got %s' % (host, [(r['account'], r['reason']) for r in got]))
    for item in failing:
        host, reason = item.split('=')
        got = rows.get(host, [])
        if not got or any(r['ok'] or r['reason'] != reason for r in got):
            problems.append('%s: expected failing checks with reason %s, got %s'
                            % (host, reason, [(r['account'], r['ok'], r['reason']) for r in got]))
        for r in got:
            print('verify: report %s/%s: ok=%s reason=%s hint=%s' % (host, r['account'], r['ok'], r['reason'],
                                                                     (r.get('hint') or '')[:80]))
    if report.get('ok') is not False:
        problems.append('the report says ok although hosts failed')
    return problems


MIGRATE_SUBJECT = 'mailops.live_smtp migration test from '


def read_mails(state_dir):
    """[(meta, {header: value})] of every accepted message."""
    mails = []
    for meta in sorted(glob.glob(state_dir + '/mail/*.json')):
        info = json.load(open(meta, encoding='utf-8'))
        with open(meta[:-5] + '.eml', encoding='utf-8', errors='replace') as handle:
            head = handle.read().split('\n\n', 1)[0].replace('\r', '')
        headers = {}
        for line in head.splitlines():
            if ':' in line and not line[:1].isspace():
                name, value = line.split(':', 1)
                headers.setdefault(name.strip().lower(), value.strip())
        mails.append((info, headers))
    return mails


def verify_migrate(state_dir, expect, report_path, auth_skip, items):
    problems = []
    state = json.load(open(state_dir + '/state.json', encoding='utf-8'))
    auth = load_auth(state_dir)[auth_skip:]
    mails = [(info, h) for info, h in read_mails(state_dir) if h.get('subject', '').startswith(MIGRATE_SUBJECT)]
    report = json.load(open(report_path, encoding='utf-8'))
    rows = {}
    for row in report['checks']:
        rows.setdefault(row['host'], []).append(row)
    if report.get('kind') != 'migration' or report.get('ok') is not False:
        problems.append('the report is not a failed migration report: kind=%s ok=%s'
                        % (report.get('kind'), report.get('ok')))

    def app_token(entry):
        token = entry.get('secret') or ''
        if token not in state.get('access_tokens', {}):
            token = bearer(token)
        return state.get('access_tokens', {}).get(token)

    # Every XOAUTH2 login of the tenant mailbox during the migration (checks and test messages) carried a token
    # the stand-in issued to the fleet's app, and was accepted.
    for entry in auth:
        if (entry.get('mechanism') or '').upper() == 'XOAUTH2' and entry.get('user', '').lower() == expect['tenant']:
            issued = app_token(entry) or {}
            if entry.get('code') != 235 or issued.get('app') != expect['app_client_id']:
                problems.append('an XOAUTH2 login of %s from %s (code %s) carried a token not issued to the app %s'
                                % (expect['tenant'], entry.get('peer'), entry.get('code'), expect['app_client_id']))
    seen_hosts = set()
    for item in items:
        host, status, address = item.split('=')[:3]
        status, want_reason = (status.split(':', 1) + [''])[:2]
        message_id = item.split('=', 3)[3] if item.count('=') >= 3 else None
        seen_hosts.add(host)
        got = rows.get(host, [])
        if len(got) != 1 or got[0].get('migration') != status:
            problems.append('%s: expected one report row with migration=%s, got %s'
                            % (host, status, [(r.get('migration'), r.get('reason')) for r in got]))
        else:
            row = got[0]
            reason_ok = {'migrated': row['reason'] is None and row['ok'],
                         'rolled_back': bool(row['reason']) and row['reason'].startswith('delivery_') and not row['ok'],
                         'not_reached': row['reason'] == 'not_reached' and not row['ok'],
                         'kept': bool(row['reason']) and not row['ok']}[status]
            reason_ok = reason_ok and (not want_reason or row['reason'] == want_reason)
            if not reason_ok or (status != 'migrated' and not row.get('hint')):
                problems.append('%s: report row ok=%s reason=%s hint=%s does not fit %s'
                                % (host, row['ok'], row['reason'], row.get('hint'), status))
            print('verify: migrate report %s: migration=%s ok=%s reason=%s hint=%s'
                  % (host, row.get('migration'), row['ok'], row['reason'], (row.get('hint') or '')[:160]))
        sent = [(info, h) for info, h in mails if h['subject'].startswith(MIGRATE_SUBJECT + host + ' ')]
        logins = [e for e in auth if e.get('peer') == address]
        if status in ('not_reached', 'kept'):
            if sent or (logins and status == 'not_reached'):
                problems.append('%s did not move, yet %d test message(s) and %d login(s) came from it'
                                % (host, len(sent), len(logins)))
            continue
        if len(sent) != 1:
            problems.append('%s: %d test messages arrived, 1 expected' % (host, len(sent)))
            continue
        info, headers = sent[0]
        conn = [e for e in auth if e.get('conn') == info.get('conn') and e.get('code') == 235]
        if info.get('peer') != address or len(conn) != 1 or not info.get('tls'):
            problems.append('%s: its test message came from %s over tls=%s with %d accepted login(s) on its '
                            'connection' % (host, info.get('peer'), info.get('tls'), len(conn)))
            continue
        login = conn[0]
        print('verify: migrate %s: test message %s arrived from %s: user=%s mechanism=%s tls=%s'
              % (host, headers.get('message-id'), info['peer'], info['user'], info['mechanism'], info['tls']))
        if info['user'].lower() != expect['tenant']:
            problems.append('%s: the test message arrived as %s, not %s' % (host, info['user'], expect['tenant']))
        if status == 'migrated':
            issued = app_token(login) or {}
            if info['mechanism'].upper() != 'XOAUTH2' or issued.get('app') != expect['app_client_id']:
                problems.append('%s: the test message arrived by %s, not XOAUTH2 with a token of the app'
                                % (host, info['mechanism']))
        else:
            if info['mechanism'].upper() != 'LOGIN' or login.get('secret') != expect['password']:
                problems.append('%s: the test message arrived by %s, not LOGIN with the vaulted password'
                                % (host, info['mechanism']))
            if message_id and headers.get('message-id') != message_id:
                problems.append('%s: the message that arrived has Message-ID %s, the host queued %s'
                                % (host, headers.get('message-id'), message_id))
            checked = [e for e in logins if (e.get('mechanism') or '').upper() == 'XOAUTH2' and e.get('code') == 235]
            if not checked:
                problems.append('%s: no accepted XOAUTH2 login from it: its new login did not pass a check' % host)
    extra = sorted(host for host in rows if host not in seen_hosts)
    if extra:
        problems.append('unexpected hosts in the report: %s' % ', '.join(extra))
    return problems


def verify_leaks(expect, state_dir, files):
    state = json.load(open(state_dir + '/state.json', encoding='utf-8'))
    needles = [s for s in expect['secrets'] + list(state.get('access_tokens', {})) if s]
    problems = []
    for path in files:
        with open(path, encoding='utf-8', errors='replace') as handle:
            text = handle.read()
        for needle in needles:
            # The password also as Ansible would show a JSON-escaped string.
            for form in (needle, json.dumps(needle)[1:-1], needle[:24]):
                if form in text:
                    problems.append('%s holds a secret (%s...)' % (path, needle[:4]))
                    break
    print('verify: %d file(s) searched for %d secrets' % (len(files), len(needles)))
    return problems


def upper_state(name, upper, lower):
    lines = []
    for top, dirs, files in os.walk(upper):
        rel_top = '.' + top[len(upper):]
        dirs[:] = sorted(d for d in dirs if d != '__pycache__' and os.path.join(rel_top, d) not in UPPER_SKIP)
        for entry in sorted(dirs) + sorted(files):
            rel = os.path.join(rel_top, entry)
            if rel.startswith(UPPER_SKIP):
                continue
            st = os.lstat(os.path.join(upper, rel))
            meta = '%o %d %d' % (st.st_mode, st.st_uid, st.st_gid)
            if stat.S_ISDIR(st.st_mode):
                try:
                    old = os.lstat(os.path.join(lower, rel))
                except FileNotFoundError:
                    old = None
                if old and (old.st_mode, old.st_uid, old.st_gid) == (st.st_mode, st.st_uid, st.st_gid):
                    continue
                lines.append('%s %s dir %s' % (name, rel, meta))
            else:
                lines.append('%s %s %s %d %d' % (name, rel, meta, st.st_size, st.st_mtime_ns))
    return lines


def main():
    if sys.argv[1] == 'upper':
        for item in sys.argv[2:]:
            name, upper, lower = item.split('=', 2)
            print('\n'.join(upper_state(name, upper, lower)))
        return
    if sys.argv[1] == 'mail':
        expect = json.load(open(sys.argv[3], encoding='utf-8'))
        problems = verify_mail(sys.argv[2], expect, sys.argv[4:])
    elif sys.argv[1] == 'migrate':
        expect = json.load(open(sys.argv[3], encoding='utf-8'))
        problems = verify_migrate(sys.argv[2], expect, sys.argv[4], int(sys.argv[5]), sys.argv[6:])
    elif sys.argv[1] == 'leaks':
        problems = verify_leaks(json.load(open(sys.argv[2], encoding='utf-8')), sys.argv[3], sys.argv[4:])
    else:
        args = sys.argv[3:]
        cut = args.index('--')
        problems = verify_report(sys.argv[2], args[:cut], args[cut + 1:])
    for problem in problems:
        print('verify: FAIL ' + problem)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
