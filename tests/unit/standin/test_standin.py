# -*- coding: utf-8 -*-
"""The pure pieces of the stand-in server; its network behaviour is proven by the standin_swaks target."""

from __future__ import annotations

import base64
import importlib.util
import pathlib

import dns.message
import dns.rcode
import dns.rdatatype
import pytest

SPEC = importlib.util.spec_from_file_location(
    'standin', pathlib.Path(__file__).resolve().parents[2] / 'standin' / 'standin.py')
standin = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(standin)

USER = 'standin@outlook.com'


@pytest.mark.parametrize('text, expected', [
    ('=', b''),
    (base64.b64encode(b'\x00user\x00pass').decode(), b'\x00user\x00pass'),
    (base64.b64encode('grüße'.encode()).decode(), 'grüße'.encode()),
])
def test_b64decode_strict(text, expected):
    assert standin.b64decode_strict(text) == expected


@pytest.mark.parametrize('text', ['not*base64', 'abc', 'grüße'])
def test_b64decode_strict_refuses(text):
    with pytest.raises(ValueError):
        standin.b64decode_strict(text)


@pytest.mark.parametrize('raw, expected', [
    (b'user=a@b.c\x01auth=Bearer tok\x01\x01', ('a@b.c', 'tok')),
    (b'user=a@b.c\x01auth=bearer tok\x01\x01', ('a@b.c', 'tok')),
    ('user=jörg@b.c\x01auth=Bearer tök\x01\x01'.encode(), ('jörg@b.c', 'tök')),
    (b'user=a@b.c\x01auth=Bearer tok\x01', None),
    (b'user=a@b.c auth=Bearer tok', None),
    (b'auth=Bearer tok\x01\x01', None),
    (b'user=a@b.c\x01auth=Bearer \x01\x01', None),
    (b'user=\xff\x01auth=Bearer tok\x01\x01', None),
])
def test_parse_xoauth2(raw, expected):
    assert standin.parse_xoauth2(raw) == expected


@pytest.mark.parametrize('arg, keyword, expected', [
    ('FROM:<a@b.c>', 'FROM', ('a@b.c', {})),
    ('from: <a@b.c> SIZE=10 body=8BITMIME SMTPUTF8', 'FROM', ('a@b.c', {'SIZE': '10', 'BODY': '8BITMIME', 'SMTPUTF8': ''})),
    ('FROM:<>', 'FROM', ('', {})),
    ('TO:<jörg@b.c> NOTIFY=NEVER', 'TO', ('jörg@b.c', {'NOTIFY': 'NEVER'})),
    ('FROM:a@b.c', 'FROM', None),
    ('TO:<a@b.c>', 'FROM', None),
])
def test_parse_path_arg(arg, keyword, expected):
    assert standin.parse_path_arg(arg, keyword) == expected


@pytest.mark.parametrize('mail_from, message, expected', [
    (USER, b'From: Alerts <standin@outlook.com>\r\n\r\nbody\r\n', None),
    ('Standin@Outlook.com', b'From: STANDIN@outlook.com\r\n\r\n', None),
    ('other@outlook.com', b'From: standin@outlook.com\r\n\r\n', 'other@outlook.com'),
    (USER, b'From: Someone <other@outlook.com>\r\n\r\n', 'other@outlook.com'),
    (USER, b'Subject: no From header\r\n\r\n', None),
    (USER, 'From: Jörg <jörg@outlook.com>\r\n\r\n'.encode(), 'jörg@outlook.com'),
])
def test_send_as_violation(mail_from, message, expected):
    assert standin.send_as_violation(USER, mail_from, message) == expected


@pytest.mark.parametrize('name, rdtype, rcode, address', [
    ('smtp-mail.outlook.com', 'A', dns.rcode.NOERROR, '127.0.0.1'),
    ('SMTP.Office365.com.', 'AAAA', dns.rcode.NOERROR, '::1'),
    ('relay.test', 'A', dns.rcode.NOERROR, '127.0.0.1'),
    ('localhost', 'A', dns.rcode.NOERROR, '127.0.0.1'),
    ('outlook.com', 'MX', dns.rcode.NOERROR, None),
    ('nxhost.outlook.com', 'A', dns.rcode.NXDOMAIN, None),
    ('example.org', 'A', dns.rcode.REFUSED, None),
    ('notoutlook.com', 'A', dns.rcode.REFUSED, None),
])
def test_dns_answer(name, rdtype, rcode, address):
    query = dns.message.make_query(name, rdtype)
    response = dns.message.from_wire(standin.dns_answer(query.to_wire()))
    assert response.id == query.id
    assert response.rcode() == rcode
    answers = [r.to_text() for rrset in response.answer for r in rrset
               if rrset.rdtype == dns.rdatatype.from_text(rdtype)]
    assert answers == ([address] if address else [])


def grant(store, token, **form):
    data = {'grant_type': 'refresh_token', 'client_id': store.client_id, 'refresh_token': token,
            'scope': standin.SMTP_SCOPE + ' offline_access'}
    data.update(form)
    return store.grant(data)


def test_grant_rotates_refresh_tokens(tmp_path):
    store = standin.Store(str(tmp_path))
    first = store.accounts[0]['refresh_token']
    status, body = grant(store, first)
    assert status == 200
    assert body['token_type'] == 'Bearer' and body['expires_in'] == 3600 and body['scope'] == standin.SMTP_SCOPE
    assert body['refresh_token'] != first
    assert store.check_access_token(USER, body['access_token'])
    assert not store.check_access_token('other@outlook.com', body['access_token'])
    status, again = grant(store, first)
    assert (status, again['error'], again['error_codes']) == (400, 'invalid_grant', [70000])
    assert grant(store, body['refresh_token'])[0] == 200
    # A restart reads the same state: the newest refresh token still works, the old ones do not.
    reloaded = standin.Store(str(tmp_path))
    assert grant(reloaded, first)[0] == 400
    assert grant(reloaded, reloaded.accounts[0]['latest_refresh_token'])[0] == 200


def test_grant_keeps_refresh_tokens_when_asked(tmp_path):
    store = standin.Store(str(tmp_path), rotate=False)
    first = store.accounts[0]['refresh_token']
    assert grant(store, first)[0] == 200
    assert grant(store, first)[0] == 200


@pytest.mark.parametrize('form, error, code', [
    ({'grant_type': 'password'}, 'unsupported_grant_type', 70003),
    ({'grant_type': ''}, 'invalid_request', 900144),
    ({'client_id': ''}, 'invalid_request', 900144),
    ({'client_id': 'someone-else'}, 'unauthorized_client', 700016),
    ({'refresh_token': ''}, 'invalid_request', 900144),
    ({'refresh_token': 'M.C5unknown'}, 'invalid_grant', 70000),
])
def test_grant_errors(tmp_path, form, error, code):
    store = standin.Store(str(tmp_path))
    status, body = grant(store, store.accounts[0]['refresh_token'], **form)
    assert (status, body['error'], body['error_codes']) == (400, error, [code])
    assert body['error_description'].startswith('AADSTS%d: ' % code)


def test_grant_expired_refresh_token(tmp_path):
    store = standin.Store(str(tmp_path))
    status, body = grant(store, store.accounts[0]['expired_refresh_token'])
    assert (status, body['error'], body['error_codes']) == (400, 'invalid_grant', [700082])


def test_access_token_needs_smtp_scope_and_time(tmp_path):
    store = standin.Store(str(tmp_path))
    status, body = grant(store, store.accounts[0]['refresh_token'], scope='https://graph.microsoft.com/Mail.Send offline_access')
    assert status == 200 and body['scope'] == 'https://graph.microsoft.com/Mail.Send'
    assert not store.check_access_token(USER, body['access_token'])
    (tmp_path / 'expired').mkdir()
    expired = standin.Store(str(tmp_path / 'expired'), token_expires_in=-1)
    status, body = grant(expired, expired.accounts[0]['refresh_token'])
    assert status == 200
    assert not expired.check_access_token(USER, body['access_token'])


def test_accounts_file_and_passwords(tmp_path):
    accounts = tmp_path / 'accounts.json'
    accounts.write_text('[{"user": "a@outlook.com", "password": "p w\\u00e4"}, {"user": "b@outlook.com"}]',
                        encoding='utf-8')
    store = standin.Store(str(tmp_path), str(accounts))
    assert store.check_password('A@outlook.com', 'p wä')
    assert not store.check_password('a@outlook.com', 'p wa')
    assert not store.check_password('c@outlook.com', 'p wä')
    assert store.accounts[1]['password']
    assert standin.Store(str(tmp_path), str(accounts), accept_any_password=True).check_password('c@x.test', '')
    assert oct((tmp_path / 'state.json').stat().st_mode & 0o777) == '0o600'


def test_parse_args_ports():
    args = standin.parse_args(['--state-dir', 'x', '--port', 'outlook=2525', '--port', 'token=8443',
                               '--scenarios', 'outlook,refused'])
    assert args.port == {'outlook': 2525, 'token': 8443}
    assert args.scenarios == ['outlook', 'refused']
    with pytest.raises(SystemExit):
        standin.parse_args(['--state-dir', 'x', '--scenarios', 'nope'])
    with pytest.raises(SystemExit):
        standin.parse_args(['--state-dir', 'x', '--port', 'nope=1'])
