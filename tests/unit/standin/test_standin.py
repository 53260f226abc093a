# -*- coding: utf-8 -*-
"""The pure pieces of the stand-in server; its network behaviour is proven by the standin_swaks target."""

from __future__ import annotations

import base64
import importlib.util
import json
import pathlib
import time
import urllib.parse

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


# --- app-only, device code, PKCE, inactivity (the token side as Microsoft documents it) -------------------------------

from ansible_collections.mailops.live_smtp.plugins.module_utils import _oauth2  # noqa: E402


@pytest.fixture(scope='module')
def pki(tmp_path_factory):
    pki = standin.Pki(str(tmp_path_factory.mktemp('pki')))
    pki.ensure()
    return pki


@pytest.fixture()
def store(tmp_path, pki):
    return standin.Store(str(tmp_path), app_certificates=[pki.app_files['app'][0]], device_interval=5)


def token_url(store, tenant=None):
    return 'https://localhost:1/%s/oauth2/v2.0/token' % (tenant or store.tenant_id)


def app_grant(store, app=None, tenant=None, **form):
    app = app or store.apps[0]
    data = {'grant_type': 'client_credentials', 'client_id': app['client_id'], 'scope': standin.APP_SCOPE}
    data.update(form)
    data = {k: v for k, v in data.items() if v is not None}
    return store.grant(data, tenant or store.tenant_id, token_url(store, tenant))


def valid_secret(app):
    return [s['value'] for s in app['secrets'] if not s.get('expires')][0]


def expect_error(answer, status, error, code):
    assert (answer[0], answer[1]['error'], answer[1].get('error_codes')) == (status, error, [code] if code else None)
    assert answer[1]['error_description'].startswith('AADSTS%d: ' % code) if code else True
    return answer[1]


def test_default_apps(store):
    names = [a['name'] for a in store.apps]
    assert names == ['granted', 'no_service_principal', 'no_consent']
    assert store.apps[0]['mailboxes'] == [USER] and not store.apps[1]['service_principal']


def test_client_credentials_with_a_secret_and_the_mailbox_grant(store):
    status, body = app_grant(store, client_secret=valid_secret(store.apps[0]))
    assert status == 200 and body['token_type'] == 'Bearer' and 'refresh_token' not in body
    assert store.check_access_token(USER, body['access_token'])
    assert store.check_access_token(USER.upper(), body['access_token'])
    assert not store.check_access_token('other@outlook.com', body['access_token'])
    # A valid token of an app without a service principal in Exchange: XOAUTH2 refuses it (535 5.7.3).
    status, body = app_grant(store, store.apps[1], client_secret=valid_secret(store.apps[1]))
    assert status == 200 and not store.check_access_token(USER, body['access_token'])
    # The tenant's domain works like its id.
    assert app_grant(store, tenant=standin.TENANT_DOMAIN, client_secret=valid_secret(store.apps[0]))[0] == 200


@pytest.mark.parametrize('case, status, error, code, word', [
    ('expired_secret', 401, 'invalid_client', 7000222, 'client_secret_expired'),
    ('wrong_secret', 401, 'invalid_client', 7000215, 'client_secret_invalid'),
    ('no_credential', 401, 'invalid_client', 7000216, 'invalid_client'),
    ('unknown_app', 400, 'unauthorized_client', 700016, 'app_not_found'),
    ('unknown_tenant', 400, 'invalid_request', 90002, 'tenant_not_found'),
    ('consumers', 400, 'invalid_request', 90010, 'tenant_required'),
    ('common', 400, 'invalid_request', 90010, 'tenant_required'),
    ('smtp_send_scope', 400, 'invalid_scope', 1002012, 'scope_needs_default'),
    ('no_scope', 400, 'invalid_scope', 70011, 'scope_invalid'),
    ('no_consent', 400, 'invalid_grant', 65001, 'consent_missing'),
])
def test_client_credentials_errors(store, case, status, error, code, word):
    app = store.apps[0]
    secret = valid_secret(app)
    kwargs = {'client_secret': secret}
    if case == 'expired_secret':
        kwargs['client_secret'] = [s['value'] for s in app['secrets'] if s.get('expires')][0]
    elif case == 'wrong_secret':
        kwargs['client_secret'] = 'nope'
    elif case == 'no_credential':
        kwargs['client_secret'] = None
    elif case == 'unknown_app':
        kwargs['client_id'] = 'not-registered'
    elif case == 'unknown_tenant':
        kwargs['tenant'] = 'fabrikam.onmicrosoft.com'
    elif case in ('consumers', 'common'):
        kwargs['tenant'] = case
    elif case == 'smtp_send_scope':
        kwargs['scope'] = 'https://outlook.office.com/SMTP.Send'
    elif case == 'no_scope':
        kwargs['scope'] = ''
    elif case == 'no_consent':
        app = store.apps[2]
        kwargs['client_secret'] = valid_secret(app)
    body = expect_error(app_grant(store, app, **kwargs), status, error, code)
    # What the stand-in answers becomes the word the client reports.
    assert _oauth2.classify_error(body['error'], body['error_description'], body['error_codes']) == word


def assertion(store, pki, cert='app', **overrides):
    app = store.apps[0]
    url = overrides.pop('url', token_url(store))
    return _oauth2.client_assertion(overrides.pop('client_id', app['client_id']), url, pki.app_files[cert][0],
                                    pki.app_files[cert][1], **overrides)


def assertion_grant(store, jwt):
    return app_grant(store, client_assertion_type=standin.JWT_BEARER, client_assertion=jwt)


@pytest.mark.parametrize('signer', ['cryptography', 'openssl'])
def test_client_assertion_accepted_once(store, pki, signer):
    jwt = assertion(store, pki, signer=signer)
    status, body = assertion_grant(store, jwt)
    assert status == 200 and store.check_access_token(USER, body['access_token'])
    expect_error(assertion_grant(store, jwt), 401, 'invalid_client', 700027)  # jti replayed


@pytest.mark.parametrize('case, code', [
    ('unregistered_cert', 700027),
    ('wrong_aud', 700023),
    ('expired', 700024),
    ('other_client', 700021),
    ('tampered', 700027),
    ('malformed', 50027),
    ('wrong_type', 700027),
])
def test_client_assertion_checks(store, pki, case, code):
    form = {}
    if case == 'unregistered_cert':
        jwt = assertion(store, pki, cert='app_unregistered')
    elif case == 'wrong_aud':
        jwt = assertion(store, pki, url='https://login.microsoftonline.com/x/oauth2/v2.0/token')
    elif case == 'expired':
        jwt = assertion(store, pki, now=1_000_000_000)
    elif case == 'other_client':
        jwt = assertion(store, pki, client_id=store.apps[1]['client_id'])
    elif case == 'tampered':
        head, claims, signature = assertion(store, pki).split('.')
        jwt = '%s.%s.%s' % (head, claims, signature[:-6] + ('AAAAAA' if not signature.endswith('AAAAAA') else 'BBBBBB'))
    elif case == 'malformed':
        jwt = 'not-a-jwt'
    else:
        jwt = assertion(store, pki)
        form['client_assertion_type'] = 'urn:something:else'
    answer = app_grant(store, client_assertion_type=form.get('client_assertion_type', standin.JWT_BEARER),
                       client_assertion=jwt)
    body = expect_error(answer, 401, 'invalid_client', code)
    assert _oauth2.classify_error(body['error'], body['error_description'], body['error_codes']) == \
        'client_assertion_invalid'


def device_start(store, **form):
    data = {'client_id': store.client_id, 'scope': standin.SMTP_SCOPE + ' offline_access'}
    data.update(form)
    return store.device_start(data, 'consumers')


def device_poll(store, device_code, client_id=None):
    return store.grant({'grant_type': standin.DEVICE_CODE_GRANT, 'client_id': client_id or store.client_id,
                        'device_code': device_code}, 'consumers')


def test_device_code_flow(store, monkeypatch):
    status, start = device_start(store)
    assert status == 200 and start['interval'] == 5 and start['expires_in'] == 900
    assert start['verification_uri'] == 'https://microsoft.com/devicelogin' and start['user_code'] in start['message']
    clock = [time.time()]
    monkeypatch.setattr(standin.time, 'time', lambda: clock[0])
    body = expect_error(device_poll(store, start['device_code']), 400, 'authorization_pending', 70016)
    assert _oauth2.classify_error(body['error'], body['error_description'], body['error_codes']) == \
        'authorization_pending'
    clock[0] += 1
    assert _oauth2.classify_error(device_poll(store, start['device_code'])[1]['error']) == 'slow_down'
    clock[0] += 5
    assert store.device_decide('approve', start['user_code']) == start['user_code']
    status, body = device_poll(store, start['device_code'])
    assert status == 200 and store.check_access_token(USER, body['access_token'])
    # The refresh token it issued is a working one.
    assert grant(store, body['refresh_token'])[0] == 200
    expect_error(device_poll(store, start['device_code']), 400, 'invalid_grant', 70000)


@pytest.mark.parametrize('action, error, code', [('deny', 'authorization_declined', 70019),
                                                 ('expire', 'expired_token', 70020)])
def test_device_code_denied_or_expired(store, action, error, code):
    _status, start = device_start(store)
    assert store.device_decide(action) == start['user_code']  # the newest pending code
    body = expect_error(device_poll(store, start['device_code']), 400, error, code)
    assert _oauth2.classify_error(body['error'], body['error_description'], body['error_codes']) == error
    assert store.device_decide('approve') is None  # nothing pending any more


def test_device_code_errors(store):
    body = device_poll(store, 'unknown')[1]
    assert _oauth2.classify_error(body['error'], body['error_description']) == 'bad_verification_code'
    expect_error(device_start(store, client_id='unknown'), 400, 'unauthorized_client', 700016)
    expect_error(store.device_start({'client_id': store.client_id, 'scope': 'x'}, 'nosuch.example'), 400,
                 'invalid_request', 90002)


def authorize(store, **query):
    verifier, challenge = _oauth2.pkce_pair()
    data = {'client_id': store.client_id, 'response_type': 'code', 'redirect_uri': 'http://localhost:40123',
            'scope': standin.SMTP_SCOPE + ' offline_access', 'state': 'S-1', 'code_challenge': challenge,
            'code_challenge_method': 'S256'}
    data.update(query)
    status, location = store.authorize(data, 'consumers')
    return status, location, verifier


def redeem(store, code, verifier, redirect_uri='http://localhost:40123'):
    return store.grant({'grant_type': 'authorization_code', 'client_id': store.client_id, 'code': code,
                        'redirect_uri': redirect_uri, 'code_verifier': verifier}, 'consumers')


def test_authorization_code_with_pkce(store):
    status, location, verifier = authorize(store)
    assert status == 302
    parts = urllib.parse.urlsplit(location)
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert parts.netloc == 'localhost:40123' and query['state'] == 'S-1'
    expect_error(redeem(store, query['code'], 'wrong-verifier'), 400, 'invalid_grant', 501481)
    _status, location, verifier = authorize(store)
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))['code']
    status, body = redeem(store, code, verifier)
    assert status == 200 and body['refresh_token'] and store.check_access_token(USER, body['access_token'])
    expect_error(redeem(store, code, verifier), 400, 'invalid_grant', 70008)  # a code works once


def test_authorization_refusals(store):
    assert authorize(store, redirect_uri='https://evil.example/cb')[0] == 400
    assert authorize(store, code_challenge_method='plain')[0] == 400
    assert authorize(store, client_id='unknown')[0] == 400
    store.authorize_mode = 'deny'
    status, location, _verifier = authorize(store)
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
    assert status == 302 and query['error'] == 'access_denied' and query['state'] == 'S-1' and 'code' not in query


def test_refresh_token_inactivity_limit(tmp_path, monkeypatch):
    store = standin.Store(str(tmp_path), refresh_inactivity=100)
    first = store.accounts[0]['refresh_token']
    clock = [time.time() + 50]
    monkeypatch.setattr(standin.time, 'time', lambda: clock[0])
    status, body = grant(store, first)
    assert status == 200  # used within the limit: a new refresh token, issued now
    clock[0] += 99
    status, body = grant(store, body['refresh_token'])
    assert status == 200
    clock[0] += 101
    answer = expect_error(grant(store, body['refresh_token']), 400, 'invalid_grant', 700082)
    assert 'inactive for 0.00:01:41' in answer['error_description']
    assert _oauth2.classify_error(answer['error'], answer['error_description']) == 'refresh_token_expired'


def test_revoked_refresh_tokens(store):
    assert store.revoke(USER) == 1
    body = expect_error(grant(store, store.accounts[0]['refresh_token']), 400, 'invalid_grant', 50173)
    assert _oauth2.classify_error(body['error'], body['error_description'], body['error_codes']) == 'grant_revoked'


def test_confidential_delegated_client(tmp_path):
    accounts = tmp_path / 'accounts.json'
    accounts.write_text(json.dumps({'accounts': [{'user': USER, 'client_secret': 'the-secret'}]}), encoding='utf-8')
    store = standin.Store(str(tmp_path), str(accounts))
    token = store.accounts[0]['refresh_token']
    body = expect_error(grant(store, token), 401, 'invalid_client', 7000218)
    assert _oauth2.classify_error(body['error'], body['error_description'], body['error_codes']) == \
        'public_client_needs_secret'
    expect_error(grant(store, token, client_secret='nope'), 401, 'invalid_client', 7000215)
    assert grant(store, token, client_secret='the-secret')[0] == 200


def test_accounts_file_with_apps(tmp_path, pki):
    config = {'accounts': [{'user': 'a@contoso.test'}, {'user': 'b@contoso.test'}],
              'apps': [{'client_id': 'app-1', 'secrets': [{'value': 's3cr3t'}], 'mailboxes': ['b@contoso.test'],
                        'certificates': [open(pki.app_files['app'][0], encoding='ascii').read()]}]}
    path = tmp_path / 'accounts.json'
    path.write_text(json.dumps(config), encoding='utf-8')
    store = standin.Store(str(tmp_path), str(path))
    assert store.apps[0]['tenant'] == store.tenant_id and store.apps[0]['service_principal']
    status, body = app_grant(store, client_secret='s3cr3t')
    assert status == 200
    assert store.check_access_token('b@contoso.test', body['access_token'])
    assert not store.check_access_token('a@contoso.test', body['access_token'])
    assert assertion_grant(store, _oauth2.client_assertion('app-1', token_url(store), pki.app_files['app'][0],
                                                           pki.app_files['app'][1]))[0] == 200


def test_unknown_tenant_for_delegated_grants(store):
    expect_error(store.grant({'grant_type': 'refresh_token', 'client_id': store.client_id, 'refresh_token': 'x'},
                             'nosuch.example'), 400, 'invalid_request', 90002)


def test_parse_args_token_options():
    args = standin.parse_args(['--state-dir', 'x', '--refresh-inactivity', '30', '--device-interval', '1',
                               '--device-code-expires-in', '20'])
    assert (args.refresh_inactivity, args.device_interval, args.device_code_expires_in) == (30, 1, 20)
    default = standin.parse_args(['--state-dir', 'x'])
    assert default.refresh_inactivity == 90 * 86400


def test_http_routes(tmp_path, pki):
    args = standin.parse_args(['--state-dir', str(tmp_path)])
    server = standin.Standin(args)
    server.store = standin.Store(str(tmp_path), app_certificates=[pki.app_files['app'][0]])
    server.token_port = 1
    assert server.http_route('POST', '/standin/device', {}, {'action': 'approve'}, '')[0] == 404
    assert server.http_route('POST', '/standin/device', {}, {'action': 'nope'}, '')[0] == 400
    assert server.http_route('GET', '/standin/device', {}, {}, '')[0] == 405
    status, body, _location = server.http_route('POST', '/consumers/oauth2/v2.0/devicecode', {},
                                                {'client_id': server.store.client_id, 'scope': 'x offline_access'},
                                                '')
    assert status == 200
    assert server.http_route('POST', '/standin/device', {'user_code': body['user_code']}, {'action': 'deny'},
                             '')[:2] == (200, {'user_code': body['user_code'], 'action': 'deny'})
    assert server.http_route('POST', '/standin/authorize', {}, {'mode': 'deny'}, '')[0] == 200
    assert server.store.authorize_mode == 'deny'
    assert server.http_route('POST', '/standin/revoke', {}, {}, '')[:2] == (200, {'revoked': 1})
    status, _body, location = server.http_route('GET', '/consumers/oauth2/v2.0/authorize', {
        'client_id': server.store.client_id, 'response_type': 'code', 'redirect_uri': 'http://localhost:9',
        'code_challenge': 'c', 'code_challenge_method': 'S256', 'state': 's'}, {}, '')
    assert status == 302 and location.startswith('http://localhost:9?') and 'error=access_denied' in location
    assert server.http_route('GET', '/consumers/oauth2/v2.0/token', {}, {}, '')[0] == 405
    assert server.http_route('POST', '/x/y', {}, {}, '')[0] == 404
    # The audience of an assertion is the token URL as the client addressed it (Host header).
    status, body, _location = server.http_route('POST', '/%s/oauth2/v2.0/token' % server.store.tenant_id, {}, {
        'grant_type': 'client_credentials', 'client_id': server.store.apps[0]['client_id'],
        'scope': standin.APP_SCOPE, 'client_assertion_type': standin.JWT_BEARER,
        'client_assertion': _oauth2.client_assertion(
            server.store.apps[0]['client_id'], 'https://localhost:7/%s/oauth2/v2.0/token' % server.store.tenant_id,
            pki.app_files['app'][0], pki.app_files['app'][1])}, 'localhost:7')
    assert status == 200, body
