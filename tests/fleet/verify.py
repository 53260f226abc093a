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
    else:
        args = sys.argv[3:]
        cut = args.index('--')
        problems = verify_report(sys.argv[2], args[:cut], args[cut + 1:])
    for problem in problems:
        print('verify: FAIL ' + problem)
    sys.exit(1 if problems else 0)


if __name__ == '__main__':
    main()
