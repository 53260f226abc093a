# -*- coding: utf-8 -*-
"""Local stand-in for Microsoft's SMTP submission service, its OAuth2 token endpoint and a DNS responder.

Tests only. Listens on 127.0.0.1, writes STATE_DIR/ready.json when up, stops on SIGTERM/SIGINT or after --lifetime.
The contract (scenarios, files, ready.json) is in docs/architecture.md; how to run it by hand in README.md here.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import datetime
import email.parser
import email.policy
import email.utils
import hashlib
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import ssl
import sys
import time
import urllib.parse
import uuid
import warnings

HOST = '127.0.0.1'
MAX_SIZE = 157286400
MAX_RECIPIENTS = 500
LINE_LIMIT = 1 << 20
SMTP_SCOPE = 'https://outlook.office.com/SMTP.Send'
APP_SCOPE = 'https://outlook.office365.com/.default'
APP_ROLE = 'SMTP.SendAsApp'
DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code'
JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'
MULTI_TENANTS = ('consumers', 'common', 'organizations')
TENANT_DOMAIN = 'contoso.onmicrosoft.com'
REFRESH_INACTIVITY = 90 * 86400
DEFAULT_USER = 'standin@outlook.com'
CERT_NAMES = ('localhost', 'smtp-mail.outlook.com', 'smtp.office365.com', 'smtp.live.com', 'login.microsoftonline.com')

# Microsoft's reply texts (docs/microsoft.md), written here on purpose: tests run them through _probe/reasons.py.
R_AUTH_OK = '235 2.7.0 Authentication successful'
R_AUTH_FAILED = '535 5.7.3 Authentication unsuccessful'
R_UNRECOGNIZED_AUTH = '504 5.7.4 Unrecognized authentication type'
R_SEND_HELLO = '503 5.5.2 Send hello first'
R_NOT_AUTHENTICATED = '530 5.7.57 Client not authenticated to send mail'
R_BAD_XOAUTH2 = '501 5.5.124 Invalid XOAUTH2 auth data'
R_TLS_OLD = ('421 4.7.66 TLS 1.0 and 1.1 are not supported. Please upgrade/update your client to support TLS 1.2. '
             'Visit https://aka.ms/smtp_auth_tls.')
R_BASIC_DISABLED = '535 5.7.139 Authentication unsuccessful, basic authentication is disabled.'
R_TENANT_DISABLED = ('535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant. '
                     'Visit https://aka.ms/smtp_auth_disabled for more information.')
R_SECURITY_DEFAULTS = ("535 5.7.139 Authentication unsuccessful, user is locked by your organization's security defaults "
                       "policy. Contact your administrator.")
R_BASIC_RETIRED = '550 5.7.30 Basic authentication is not supported for Client Submission.'
R_ACCOUNT_LOCKED = '550 5.3.4 Requested action not taken; To continue sending messages, please sign in to your account.'
R_SPAM_QUOTA = ('554 5.2.0 STOREDRV.Submission.Exception:OutboundSpamException; Failed to process message due to a '
                'permanent exception with message WASCL UserAction verdict is not None. Actual verdict is RefuseQuota, '
                'ShowTierUpgrade. OutboundSpamException: WASCL UserAction verdict is not None.')
R_SUBMISSION_QUOTA = ('554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process '
                      'message due to a permanent exception with message Cannot submit message.')
R_TEMP_ERROR = '451 4.7.0 Temporary server error. Please try again later. PRX4'
R_BANNER_421 = '421 4.3.2 Service not available'
R_SEND_AS = ('554 5.2.252 SendAsDenied; {login} not allowed to send as {sender}; '
             'STOREDRV.Submission.Exception:SendAsDeniedException.MapiExceptionSendAs; '
             'Failed to process message due to a permanent exception with message Cannot submit message.')


class Scenario:
    """How one SMTP listener behaves; everything not set behaves like smtp-mail.outlook.com."""

    def __init__(self, name, kind='smtp', tls='starttls', cert='server', banner='ok', login_reply=None,
                 xoauth2_reply=None, mail_reply=None, send_as='check', drop_auth=False):
        self.name = name
        self.kind = kind            # smtp | blackhole | refused
        self.tls = tls              # starttls | implicit | none
        self.cert = cert            # server | untrusted | wrong_host | expired | tls10
        self.banner = banner        # ok | 421 | slow | silent
        self.login_reply = login_reply
        self.xoauth2_reply = xoauth2_reply
        self.mail_reply = mail_reply
        self.send_as = send_as      # check | deny
        self.drop_auth = drop_auth


SCENARIOS = {s.name: s for s in (
    Scenario('outlook'),
    Scenario('consumer', login_reply=R_BASIC_DISABLED),
    Scenario('implicit_tls', tls='implicit'),
    Scenario('tenant_disabled', login_reply=R_TENANT_DISABLED),
    Scenario('security_defaults', login_reply=R_SECURITY_DEFAULTS),
    Scenario('basic_retired', login_reply=R_BASIC_RETIRED),
    Scenario('bad_xoauth2', xoauth2_reply=R_BAD_XOAUTH2),
    Scenario('account_locked', mail_reply=R_ACCOUNT_LOCKED),
    Scenario('spam_quota', mail_reply=R_SPAM_QUOTA),
    Scenario('submission_quota', mail_reply=R_SUBMISSION_QUOTA),
    Scenario('temp_error', mail_reply=R_TEMP_ERROR),
    Scenario('send_as_denied', send_as='deny'),
    Scenario('no_starttls', tls='none'),
    Scenario('tls10_only', cert='tls10'),
    Scenario('untrusted_cert', cert='untrusted'),
    Scenario('wrong_host_cert', cert='wrong_host'),
    Scenario('expired_cert', cert='expired'),
    Scenario('banner_421', banner='421'),
    Scenario('slow_banner', banner='slow'),
    Scenario('silent', banner='silent'),
    Scenario('blackhole', kind='blackhole'),
    Scenario('drop_during_auth', drop_auth=True),
    Scenario('refused', kind='refused'),
)}


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def write_atomic(path, data, mode=0o644):
    tmp = '%s.tmp%d' % (path, os.getpid())
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), 'wb') as handle:
        # surrogateescape: bytes a client sent that are not UTF-8 are written back as they came.
        handle.write(data if isinstance(data, bytes) else data.encode('utf-8', 'surrogateescape'))
    os.replace(tmp, path)


# ---------------------------------------------------------------------------------------------------------------- PKI

class Pki:
    """A private CA and the server certificates of every scenario; kept in STATE_DIR/pki and reused on restart."""

    def __init__(self, state_dir):
        self.dir = os.path.join(state_dir, 'pki')
        self.ca_file = os.path.join(state_dir, 'ca.pem')
        self.files = {name: (os.path.join(self.dir, name + '.crt'), os.path.join(self.dir, name + '.key'))
                      for name in ('server', 'untrusted', 'wrong_host', 'expired')}
        # Certificate credentials of apps (self-signed, as Entra takes them): one registered, one nobody registered.
        self.app_files = {name: (os.path.join(self.dir, name + '.crt'), os.path.join(self.dir, name + '.key'))
                          for name in ('app', 'app_unregistered')}

    def ensure(self):
        wanted = [self.ca_file] + [f for pair in list(self.files.values()) + list(self.app_files.values()) for f in pair]
        if not all(os.path.exists(f) for f in wanted):
            self._generate()

    def _generate(self):
        # Imported here so that the pure parts of this file stay importable without cryptography.
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        now = utcnow()

        def new_key():
            return rsa.generate_private_key(public_exponent=65537, key_size=2048)

        def name(common_name):
            return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, 'live_smtp stand-in'),
                              x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

        def make_ca(common_name):
            key = new_key()
            cert = (x509.CertificateBuilder().subject_name(name(common_name)).issuer_name(name(common_name))
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(now - datetime.timedelta(days=1))
                    .not_valid_after(now + datetime.timedelta(days=3650))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                                 data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                                 crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
                    .sign(key, hashes.SHA256()))
            return key, cert

        def make_leaf(ca, key, dns_names, ips, not_before, not_after):
            ca_key, ca_cert = ca
            alt = [x509.DNSName(n) for n in dns_names] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
            return (x509.CertificateBuilder().subject_name(name(dns_names[0])).issuer_name(ca_cert.subject)
                    .public_key(key.public_key()).serial_number(x509.random_serial_number())
                    .not_valid_before(not_before).not_valid_after(not_after)
                    .add_extension(x509.SubjectAlternativeName(alt), critical=False)
                    .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                    .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=True,
                                                 data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                                 crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
                    .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                    .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
                    .sign(ca_key, hashes.SHA256()))

        trusted = make_ca('live_smtp stand-in CA')
        untrusted = make_ca('Nobody trusts this CA')
        leaf_key = new_key()
        valid = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=825))
        certs = {
            'server': make_leaf(trusted, leaf_key, CERT_NAMES, ('127.0.0.1', '::1'), *valid),
            'untrusted': make_leaf(untrusted, leaf_key, CERT_NAMES, ('127.0.0.1', '::1'), *valid),
            'wrong_host': make_leaf(trusted, leaf_key, ('wrong.example.net',), (), *valid),
            'expired': make_leaf(trusted, leaf_key, CERT_NAMES, ('127.0.0.1', '::1'),
                                 now - datetime.timedelta(days=60), now - datetime.timedelta(days=1)),
        }
        key_pem = leaf_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                         serialization.NoEncryption())
        for cert_name, cert in certs.items():
            cert_file, key_file = self.files[cert_name]
            write_atomic(key_file, key_pem, 0o600)
            write_atomic(cert_file, cert.public_bytes(serialization.Encoding.PEM))
        write_atomic(os.path.join(self.dir, 'untrusted-ca.pem'), untrusted[1].public_bytes(serialization.Encoding.PEM))
        for app_name, (cert_file, key_file) in self.app_files.items():
            key, cert = make_ca('live_smtp stand-in %s credential' % app_name)
            write_atomic(key_file, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()), 0o600)
            write_atomic(cert_file, cert.public_bytes(serialization.Encoding.PEM))
        write_atomic(self.ca_file, trusted[1].public_bytes(serialization.Encoding.PEM))

    def context(self, cert):
        """Server-side SSL context: TLS 1.2+ normally; only TLS 1.0 (at OpenSSL security level 0) for tls10."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if cert == 'tls10':
            ctx.set_ciphers('DEFAULT:@SECLEVEL=0')
            with warnings.catch_warnings():
                warnings.simplefilter('ignore', DeprecationWarning)  # old TLS on purpose
                ctx.minimum_version = ssl.TLSVersion.TLSv1
                ctx.maximum_version = ssl.TLSVersion.TLSv1
            cert = 'server'
        else:
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(*self.files[cert])
        return ctx


# ------------------------------------------------------------------------------------------------- accounts, tokens

class Store:
    """Accounts, apps, refresh and access tokens, device codes; persisted in STATE_DIR/state.json so a restart keeps
    them valid. Every grant returns (http status, JSON body) as Microsoft's v2.0 endpoints answer."""

    def __init__(self, state_dir, accounts_file=None, accept_any_password=False, token_expires_in=3600,
                 rotate=True, refresh_inactivity=REFRESH_INACTIVITY, device_expires_in=900, device_interval=5,
                 app_certificates=()):
        self.path = os.path.join(state_dir, 'state.json')
        self.accept_any_password = accept_any_password
        self.token_expires_in = token_expires_in
        self.rotate = rotate
        self.refresh_inactivity = refresh_inactivity
        self.device_expires_in = device_expires_in
        self.device_interval = device_interval
        self.authorize_mode = 'approve'
        state = {}
        if os.path.exists(self.path):
            with open(self.path, encoding='utf-8') as handle:
                state = json.load(handle)
        self.client_id = state.get('client_id') or str(uuid.uuid4())
        self.tenant_id = state.get('tenant_id') or str(uuid.uuid4())
        config = {}
        if accounts_file:
            with open(accounts_file, encoding='utf-8') as handle:
                config = json.load(handle)
            if isinstance(config, list):  # the original format: a list of accounts
                config = {'accounts': config}
        accounts = config.get('accounts') or state.get('accounts') or [
            {'user': DEFAULT_USER, 'password': 'Stand-in ' + secrets.token_urlsafe(12)}]
        known = {a['user'].lower(): a for a in state.get('accounts') or []}
        self.accounts = []
        for account in accounts:
            account = dict(account)
            old = known.get(account['user'].lower(), {})
            account.setdefault('password', old.get('password', secrets.token_urlsafe(16)))
            for key in ('latest_refresh_token', 'expired_refresh_token'):
                if key in old:
                    account.setdefault(key, old[key])
            account.setdefault('client_id', self.client_id)
            account.setdefault('refresh_token', old.get('refresh_token') or self.new_refresh_token())
            self.accounts.append(account)
        self.apps = self._apps(config.get('apps') or state.get('apps'), app_certificates)
        # refresh token -> {"user", "client_id", "scope", "state": valid|rotated|expired|revoked, "issued"}
        self.refresh_tokens = state.get('refresh_tokens') or {}
        # access token -> {"user", "scope", "expires": epoch seconds} or, app-only, {"app", "tenant", "roles", ...}
        self.access_tokens = state.get('access_tokens') or {}
        self.device_codes = state.get('device_codes') or {}
        self.auth_codes = state.get('auth_codes') or {}
        self.used_jti = state.get('used_jti') or {}
        for account in self.accounts:
            self.refresh_tokens.setdefault(account['refresh_token'], {
                'user': account['user'], 'client_id': account['client_id'], 'scope': SMTP_SCOPE + ' offline_access',
                'state': 'valid'})
            account['expired_refresh_token'] = account.get('expired_refresh_token') or self._expired_for(account)
        now = time.time()
        for info in self.refresh_tokens.values():
            info.setdefault('issued', now)
        self.save()

    def _apps(self, apps, app_certificates):
        """Registered apps (app-only). Default: one granted app with a valid and an expired secret and the stand-in's
        app certificate; one without a service principal in Exchange; one without admin consent."""
        if apps:
            result = []
            for app in apps:
                app = dict(app)
                app.setdefault('client_id', str(uuid.uuid4()))
                app.setdefault('tenant', self.tenant_id)
                app.setdefault('secrets', [])
                app.setdefault('certificates', [])
                app.setdefault('service_principal', True)
                app.setdefault('consent', True)
                app.setdefault('mailboxes', [])
                result.append(app)
            return result
        first = self.accounts[0]['user']
        certificates = [c for c in app_certificates if c]

        def app(name, **extra):
            entry = {'name': name, 'client_id': str(uuid.uuid4()), 'tenant': self.tenant_id,
                     'secrets': [{'value': self.new_client_secret()},
                                 {'value': self.new_client_secret(), 'expires': time.time() - 86400}],
                     'certificates': certificates, 'service_principal': True, 'consent': True,
                     'mailboxes': [first]}
            entry.update(extra)
            return entry
        return [app('granted'), app('no_service_principal', service_principal=False, mailboxes=[]),
                app('no_consent', consent=False)]

    def _expired_for(self, account):
        for token, info in self.refresh_tokens.items():
            if info['user'] == account['user'] and info['state'] == 'expired':
                return token
        token = self.new_refresh_token()
        self.refresh_tokens[token] = {'user': account['user'], 'client_id': account['client_id'],
                                      'scope': SMTP_SCOPE + ' offline_access', 'state': 'expired',
                                      'issued': time.time() - REFRESH_INACTIVITY - 86400}
        return token

    @staticmethod
    def new_refresh_token():
        return 'M.C5' + secrets.token_urlsafe(240)

    @staticmethod
    def new_access_token():
        # Microsoft's consumer access tokens are opaque and long (1.5 kB and more): clients must cope with that.
        return 'EwA' + secrets.token_urlsafe(1200)

    @staticmethod
    def new_client_secret():
        # The shape of an Entra secret value: 40 characters with a '~'.
        return secrets.token_urlsafe(3)[:3] + '8Q~' + secrets.token_urlsafe(30)[:34]

    def save(self):
        state = {'client_id': self.client_id, 'tenant_id': self.tenant_id, 'accounts': self.accounts,
                 'apps': self.apps, 'refresh_tokens': self.refresh_tokens, 'access_tokens': self.access_tokens,
                 'device_codes': self.device_codes, 'auth_codes': self.auth_codes, 'used_jti': self.used_jti}
        write_atomic(self.path, json.dumps(state, indent=1), 0o600)

    def account(self, user):
        for account in self.accounts:
            if account['user'].lower() == user.lower():
                return account
        return None

    def app(self, client_id):
        for app in self.apps:
            if app['client_id'] == client_id:
                return app
        return None

    def check_password(self, user, password):
        if self.accept_any_password:
            return True
        account = self.account(user)
        return account is not None and account['password'] == password

    def check_access_token(self, user, token):
        """XOAUTH2: a delegated token for its own user with SMTP.Send, or an app token (SMTP.SendAsApp) for a mailbox
        the app's service principal was granted; anything else is 535 5.7.3."""
        info = self.access_tokens.get(token)
        if not info or info['expires'] <= time.time():
            return False
        if 'app' in info:
            app = self.app(info['app'])
            return bool(app and app['service_principal'] and APP_ROLE in info.get('roles', [])
                        and user.lower() in [m.lower() for m in app['mailboxes']])
        return bool(info['user'].lower() == user.lower() and SMTP_SCOPE.lower() in info['scope'].lower().split())

    # --- the token endpoint

    def known_tenant(self, tenant):
        return tenant.lower() in MULTI_TENANTS + (self.tenant_id.lower(), TENANT_DOMAIN)

    def grant(self, form, tenant='consumers', token_url=None):
        """POST .../token. Returns (http status, JSON body)."""
        if not self.known_tenant(tenant):
            return 400, aad_error('invalid_request', 90002, "Tenant '%s' not found. Check to make sure you have the "
                                  'correct tenant ID and are signing into the correct cloud.' % tenant)
        grant_type = form.get('grant_type')
        if grant_type in (None, ''):
            return 400, aad_error('invalid_request', 900144,
                                  "The request body must contain the following parameter: 'grant_type'.")
        handler = {'refresh_token': self.grant_refresh_token, 'client_credentials': self.grant_client_credentials,
                   DEVICE_CODE_GRANT: self.grant_device_code, 'authorization_code': self.grant_authorization_code}.get(
                       grant_type)
        if handler is None:
            return 400, aad_error('unsupported_grant_type', 70003,
                                  'The app requested an unsupported grant type %r.' % grant_type)
        if not form.get('client_id'):
            return 400, aad_error('invalid_request', 900144,
                                  "The request body must contain the following parameter: 'client_id'.")
        if grant_type == 'client_credentials':
            return handler(form, tenant, token_url)
        refused = self.delegated_client(form)
        if refused:
            return refused
        return handler(form)

    def delegated_client(self, form):
        """Checks the client of a delegated grant: known, and its secret when it is a confidential client."""
        client_id = form['client_id']
        clients = [a for a in self.accounts if a['client_id'] == client_id]
        if not clients:
            return 400, aad_error('unauthorized_client', 700016,
                                  "Application with identifier '%s' was not found in the directory." % client_id)
        secret = clients[0].get('client_secret')
        if secret and not form.get('client_secret'):
            return 401, aad_error('invalid_client', 7000218,
                                  "The request body must contain the following parameter: 'client_assertion' or "
                                  "'client_secret'.")
        if secret and form.get('client_secret') != secret:
            return 401, aad_error('invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being '
                                  'sent in the request is the client secret value, not the client secret ID, for a '
                                  "secret added to app '%s'." % client_id)
        return None

    def issue(self, user, scope, client_id, refresh=True):
        """A delegated access token (and a new refresh token) for user."""
        access_token = self.new_access_token()
        self.access_tokens[access_token] = {'user': user, 'scope': self.resource_scope(scope),
                                            'expires': time.time() + self.token_expires_in}
        body = {'token_type': 'Bearer', 'scope': self.resource_scope(scope), 'expires_in': self.token_expires_in,
                'ext_expires_in': self.token_expires_in, 'access_token': access_token}
        if refresh and 'offline_access' in scope.split():
            new_refresh = self.new_refresh_token()
            self.refresh_tokens[new_refresh] = {'user': user, 'client_id': client_id, 'scope': scope,
                                                'state': 'valid', 'issued': time.time()}
            body['refresh_token'] = new_refresh
            account = self.account(user)
            if account is not None:
                account['latest_refresh_token'] = new_refresh
        return body

    @staticmethod
    def resource_scope(scope):
        return ' '.join(s for s in scope.split() if s.lower() not in ('offline_access', 'openid', 'profile', 'email'))

    def grant_refresh_token(self, form):
        client_id = form['client_id']
        refresh_token = form.get('refresh_token')
        if not refresh_token:
            return 400, aad_error('invalid_request', 900144,
                                  "The request body must contain the following parameter: 'refresh_token'.")
        info = self.refresh_tokens.get(refresh_token)
        if info is None or info['state'] == 'rotated' or info['client_id'] != client_id:
            return 400, aad_error('invalid_grant', 70000,
                                  'The provided value for the input parameter \'refresh_token\' or \'assertion\' is not '
                                  'valid. The refresh token is malformed, unknown, already redeemed or was issued to '
                                  'another client.')
        if info['state'] == 'revoked':
            return 400, aad_error('invalid_grant', 50173, 'The provided grant has expired due to it being revoked, a '
                                  'fresh auth token is needed. The user might have changed or reset their password.')
        idle = time.time() - info.get('issued', time.time())
        if info['state'] == 'expired' or idle > self.refresh_inactivity:
            info['state'] = 'expired'
            self.save()
            return 400, aad_error('invalid_grant', 700082,
                                  'The refresh token has expired due to inactivity. The token was issued on %s and was '
                                  'inactive for %s.' % (iso(info.get('issued', 0)), span(idle)))
        requested = form.get('scope') or info['scope']
        body = self.issue(info['user'], requested, client_id, refresh=False)
        new_refresh = self.new_refresh_token()
        self.refresh_tokens[new_refresh] = dict(info, scope=requested, state='valid', issued=time.time())
        if self.rotate:
            info['state'] = 'rotated'
        body['refresh_token'] = new_refresh
        account = self.account(info['user'])
        if account is not None:
            account['latest_refresh_token'] = new_refresh
        self.save()
        return 200, body

    def revoke(self, user):
        """Revoke every refresh token of a user (a password change): AADSTS50173 afterwards."""
        count = 0
        for info in self.refresh_tokens.values():
            if info['user'].lower() == user.lower() and info['state'] == 'valid':
                info['state'] = 'revoked'
                count += 1
        self.save()
        return count

    # --- app-only

    def grant_client_credentials(self, form, tenant, token_url):
        if tenant.lower() in MULTI_TENANTS:
            return 400, aad_error('invalid_request', 90010, 'The grant type is not supported over the /common or '
                                  '/consumers endpoints. Please use the /organizations or tenant-specific endpoint.')
        client_id = form['client_id']
        app = self.app(client_id)
        own_tenant = app is not None and tenant.lower() in (app['tenant'].lower(), TENANT_DOMAIN)
        if not own_tenant:
            return 400, aad_error('unauthorized_client', 700016, "Application with identifier '%s' was not found "
                                  "in the directory '%s'. This can happen if the application has not been "
                                  'installed by the administrator of the tenant.' % (client_id, tenant))
        scope = form.get('scope') or ''
        if not scope.strip():
            return 400, aad_error('invalid_scope', 70011, "The provided request must include a 'scope' input "
                                  'parameter.')
        if any(not s.endswith('/.default') for s in scope.split()):
            return 400, aad_error('invalid_scope', 1002012, 'The provided value for scope %s is not valid. Client '
                                  'credential flows must have a scope value with /.default suffixed to the resource '
                                  'identifier (application ID URI).' % scope)
        refused = self.app_credential(app, form, token_url)
        if refused:
            return refused
        if not app['consent']:
            return 400, aad_error('invalid_grant', 65001, "The user or administrator has not consented to use the "
                                  "application with ID '%s'. Send an interactive authorization request for this user "
                                  'and resource.' % client_id)
        access_token = self.new_access_token()
        roles = [APP_ROLE] if scope.split() == [APP_SCOPE] else []
        self.access_tokens[access_token] = {'app': client_id, 'tenant': app['tenant'], 'scope': scope, 'roles': roles,
                                            'user': '', 'expires': time.time() + self.token_expires_in}
        self.save()
        return 200, {'token_type': 'Bearer', 'expires_in': self.token_expires_in,
                     'ext_expires_in': self.token_expires_in, 'access_token': access_token}

    def app_credential(self, app, form, token_url):
        """The client secret or client assertion of an app-only request; None when it is good."""
        secret = form.get('client_secret')
        assertion = form.get('client_assertion')
        if not secret and not assertion:
            return 401, aad_error('invalid_client', 7000216, "'client_assertion', 'client_secret' or 'request' is "
                                  "required for the 'client_credentials' grant type.")
        if secret:
            for entry in app['secrets']:
                if entry['value'] == secret:
                    if entry.get('expires') and entry['expires'] < time.time():
                        return 401, aad_error('invalid_client', 7000222, "The provided client secret keys for app "
                                              "'%s' are expired. Visit the Azure portal to create new keys for your "
                                              'app.' % app['client_id'])
                    return None
            return 401, aad_error('invalid_client', 7000215, 'Invalid client secret provided. Ensure the secret being '
                                  'sent in the request is the client secret value, not the client secret ID, for a '
                                  "secret added to app '%s'." % app['client_id'])
        if form.get('client_assertion_type') != JWT_BEARER:
            return 401, aad_error('invalid_client', 700027, 'Client assertion type is not %s.' % JWT_BEARER)
        problem = verify_client_assertion(assertion, app, token_url, self.used_jti)
        if problem:
            code, text = problem
            return 401, aad_error('invalid_client', code, text)
        return None

    # --- device authorization grant

    def device_start(self, form, tenant):
        if not self.known_tenant(tenant):
            return 400, aad_error('invalid_request', 90002, "Tenant '%s' not found." % tenant)
        client_id = form.get('client_id')
        if not client_id or client_id not in {a['client_id'] for a in self.accounts}:
            return 400, aad_error('unauthorized_client', 700016,
                                  "Application with identifier '%s' was not found in the directory." % client_id)
        scope = form.get('scope') or ''
        if not scope:
            return 400, aad_error('invalid_request', 900144,
                                  "The request body must contain the following parameter: 'scope'.")
        device_code = 'DAQABAAEAAA' + secrets.token_urlsafe(150)
        user_code = ''.join(secrets.choice('ABCDEFGHJKLMNPQRSTUVWXYZ23456789') for _position in range(9))
        self.device_codes[device_code] = {'client_id': client_id, 'scope': scope, 'user_code': user_code,
                                          'expires': time.time() + self.device_expires_in, 'state': 'pending',
                                          'user': None, 'last_poll': 0, 'created': time.time()}
        self.save()
        return 200, {'user_code': user_code, 'device_code': device_code, 'verification_uri': self.verification_uri,
                     'expires_in': self.device_expires_in, 'interval': self.device_interval,
                     'message': 'To sign in, use a web browser to open the page %s and enter the code %s to '
                                'authenticate.' % (self.verification_uri, user_code)}

    verification_uri = 'https://microsoft.com/devicelogin'

    def device_decide(self, action, user_code=None, user=None):
        """Test-only: approve, deny or expire a pending device code (the newest one when no user_code is given)."""
        pending = [(info['created'], code, info) for code, info in self.device_codes.items()
                   if info['state'] == 'pending' and info['expires'] > time.time()
                   and (not user_code or info['user_code'] == user_code)]
        if not pending:
            return None
        _created, _code, info = max(pending, key=lambda item: item[0])
        if action == 'approve':
            info['state'] = 'approved'
            info['user'] = user or self.accounts[0]['user']
        elif action == 'deny':
            info['state'] = 'denied'
        else:
            info['state'] = 'expired'
        self.save()
        return info['user_code']

    def grant_device_code(self, form):
        info = self.device_codes.get(form.get('device_code') or '')
        if info is None or info['client_id'] != form['client_id']:
            return 400, {'error': 'bad_verification_code',
                         'error_description': "The provided value for the input parameter 'device_code' is not valid."}
        now = time.time()
        if info['state'] == 'redeemed':
            return 400, aad_error('invalid_grant', 70000, "The provided value for the input parameter 'device_code' "
                                  'is not valid. It was already redeemed.')
        if now >= info['expires'] or info['state'] == 'expired':
            return 400, aad_error('expired_token', 70020, "The provided value for the input parameter 'device_code' "
                                  'is not valid. Device code expired.')
        if info['state'] == 'denied':
            return 400, aad_error('authorization_declined', 70019, 'The end user denied the authorization request.')
        too_soon = now - info['last_poll'] < self.device_interval * 0.5
        info['last_poll'] = now
        if info['state'] == 'pending':
            self.save()
            if too_soon:
                return 400, {'error': 'slow_down', 'error_description': 'slow_down'}
            return 400, aad_error('authorization_pending', 70016, 'OAuth 2.0 device flow error. Authorization is '
                                  'pending. Continue polling.')
        info['state'] = 'redeemed'
        body = self.issue(info['user'], info['scope'], info['client_id'])
        self.save()
        return 200, body

    # --- authorization code grant with PKCE

    def authorize(self, query, tenant):
        """GET .../authorize: signs in at once (test-only) and returns (status, redirect location or error text)."""
        if not self.known_tenant(tenant):
            return 400, 'AADSTS90002: Tenant %s not found.' % tenant
        client_id = query.get('client_id', '')
        if client_id not in {a['client_id'] for a in self.accounts}:
            return 400, "AADSTS700016: Application with identifier '%s' was not found." % client_id
        redirect_uri = query.get('redirect_uri', '')
        parts = urllib.parse.urlsplit(redirect_uri)
        if parts.scheme != 'http' or parts.hostname not in ('localhost', '127.0.0.1') or parts.path not in ('', '/'):
            return 400, ('AADSTS50011: The redirect URI %r does not match the redirect URIs configured for the '
                         'application (http://localhost).' % redirect_uri)
        if query.get('response_type') != 'code' or query.get('code_challenge_method') != 'S256' or \
                not query.get('code_challenge'):
            return 400, 'AADSTS900144: response_type=code and a code_challenge with S256 are required.'
        state = query.get('state')
        back = {'state': state} if state is not None else {}
        if self.authorize_mode == 'deny':
            back.update(error='access_denied', error_description='AADSTS65004: User declined to consent to access '
                        'the app.')
        else:
            user = query.get('login_hint') or self.accounts[0]['user']
            if self.account(user) is None:
                user = self.accounts[0]['user']
            code = 'M.C5_BAY.2.' + secrets.token_urlsafe(60)
            self.auth_codes[code] = {'client_id': client_id, 'redirect_uri': redirect_uri, 'user': user,
                                     'scope': query.get('scope') or SMTP_SCOPE, 'challenge': query['code_challenge'],
                                     'expires': time.time() + 600}
            self.save()
            back['code'] = code
        return 302, redirect_uri + ('&' if '?' in redirect_uri else '?') + urllib.parse.urlencode(back)

    def grant_authorization_code(self, form):
        info = self.auth_codes.pop(form.get('code') or '', None)
        self.save()
        if info is None or info['client_id'] != form['client_id'] or info['expires'] < time.time():
            return 400, aad_error('invalid_grant', 70008, 'The provided authorization code or refresh token has '
                                  'expired due to inactivity, was already redeemed or is unknown.')
        if form.get('redirect_uri') != info['redirect_uri']:
            return 400, aad_error('invalid_grant', 70000, "The provided value for the input parameter 'redirect_uri' "
                                  'is not valid: it differs from the authorization request.')
        verifier = form.get('code_verifier') or ''
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode('ascii', 'replace')).digest()).rstrip(b'=')
        if challenge.decode('ascii') != info['challenge']:
            return 400, aad_error('invalid_grant', 501481, 'The Code_Verifier does not match the code_challenge '
                                  'supplied in the authorization request.')
        body = self.issue(info['user'], form.get('scope') or info['scope'], info['client_id'])
        self.save()
        return 200, body


def iso(stamp):
    return datetime.datetime.fromtimestamp(stamp, datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%S.0000000Z')


def span(seconds):
    days, rest = divmod(int(seconds), 86400)
    return '%d.%02d:%02d:%02d' % (days, rest // 3600, rest % 3600 // 60, rest % 60)


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))


def verify_client_assertion(assertion, app, token_url, used_jti, now=None):
    """Checks a client assertion JWT as Entra does: RS256 signed by a certificate registered on the app (found by
    x5t#S256), aud the token URL, iss = sub = client id, nbf/exp around now, jti never seen. Returns None when it is
    good, else (AADSTS number, description)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    from cryptography.exceptions import InvalidSignature  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives import hashes, serialization  # pylint: disable=import-outside-toplevel
    from cryptography.hazmat.primitives.asymmetric import padding  # pylint: disable=import-outside-toplevel
    now = time.time() if now is None else now
    try:
        head_b64, claims_b64, signature_b64 = assertion.split('.')
        header = json.loads(b64url_decode(head_b64))
        claims = json.loads(b64url_decode(claims_b64))
        signature = b64url_decode(signature_b64)
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise ValueError('not objects')
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return 50027, 'JWT token is invalid or malformed.'
    if header.get('alg') not in ('RS256', 'PS256'):
        return 700027, 'Client assertion failed signature validation: unsupported alg %r.' % header.get('alg')
    thumbprint = header.get('x5t#S256')
    certificate = None
    for pem in app['certificates']:
        cert = x509.load_pem_x509_certificate(pem.encode('ascii') if '-----BEGIN' in pem else open(pem, 'rb').read())
        der = cert.public_bytes(serialization.Encoding.DER)
        if base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b'=').decode('ascii') == thumbprint:
            certificate = cert
    if certificate is None:
        return 700027, ("The certificate with identifier used to sign the client assertion is not registered on "
                        "application. [Reason - The key was not found., Thumbprint of key used by client: '%s']"
                        % thumbprint)
    pad = padding.PKCS1v15() if header['alg'] == 'RS256' else padding.PSS(padding.MGF1(hashes.SHA256()), 32)
    try:
        certificate.public_key().verify(signature, ('%s.%s' % (head_b64, claims_b64)).encode('ascii'), pad,
                                        hashes.SHA256())
    except InvalidSignature:
        return 700027, 'Client assertion failed signature validation.'
    if claims.get('iss') != app['client_id'] or claims.get('sub') != app['client_id']:
        return 700021, "Client assertion application identifier doesn't match 'client_id' parameter."
    if claims.get('aud') != token_url:
        return 700023, 'Client assertion audience claim does not match Realm issuer: %r is not %s.' % (
            claims.get('aud'), token_url)
    exp, nbf = claims.get('exp'), claims.get('nbf', 0)
    if not isinstance(exp, (int, float)) or not isinstance(nbf, (int, float)) or exp <= now or nbf > now + 300:
        return 700024, 'Client assertion is not within its valid time range.'
    jti = claims.get('jti')
    if not jti or jti in used_jti:
        return 700027, 'Client assertion contains a jti that was already used (replay).'
    used_jti[jti] = exp
    for old in [k for k, v in used_jti.items() if v < now]:
        del used_jti[old]
    return None


def aad_error(error, code, description):
    trace = str(uuid.uuid4())
    stamp = utcnow().strftime('%Y-%m-%d %H:%M:%SZ')
    return {'error': error,
            'error_description': 'AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s' % (
                code, description, trace, trace, stamp),
            'error_codes': [code], 'timestamp': stamp, 'trace_id': trace, 'correlation_id': trace,
            'error_uri': 'https://login.microsoftonline.com/error?code=%d' % code}


# ---------------------------------------------------------------------------------------------------- pure helpers

XOAUTH2_RE = re.compile(rb'\Auser=([^\x01]*)\x01auth=Bearer ([^\x01]+)\x01\x01\Z', re.IGNORECASE)
PATH_RE = re.compile(r'\A/([A-Za-z0-9.-]+)/oauth2/v2\.0/(token|devicecode|authorize)\Z')
CONTROL_RE = re.compile(r'\A/standin/(device|authorize|revoke)\Z')


def b64decode_strict(text):
    """SASL base64 (a lone '=' is the empty response). Raises ValueError when it is not base64."""
    if text == '=':
        return b''
    try:
        return base64.b64decode(text.encode('ascii'), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(str(exc)) from exc


def parse_xoauth2(raw):
    """Returns (user, token) from a decoded XOAUTH2 initial response, or None when it is malformed."""
    match = XOAUTH2_RE.match(raw)
    if not match:
        return None
    try:
        return match.group(1).decode('utf-8'), match.group(2).decode('utf-8')
    except UnicodeDecodeError:
        return None


def parse_path_arg(arg, keyword):
    """'FROM:<a@b> SIZE=1' -> ('a@b', {'SIZE': '1'}); None when the syntax is wrong."""
    match = re.match(r'\A%s:\s*<([^<>]*)>(.*)\Z' % keyword, arg, re.IGNORECASE)
    if not match:
        return None
    params = {}
    for word in match.group(2).split():
        key, _sep, value = word.partition('=')
        params[key.upper()] = value
    return match.group(1), params


def header_senders(message):
    """The addresses in the From header(s) of a message (bytes)."""
    # A str parser: BytesParser would turn UTF-8 (RFC 6532 headers) into surrogates.
    text = message.decode('utf-8', 'replace')
    try:
        headers = email.parser.Parser(policy=email.policy.SMTPUTF8).parsestr(text, headersonly=True)
        return [a.addr_spec for h in headers.get_all('From') or [] for a in h.addresses]
    except Exception:  # pylint: disable=broad-except
        headers = email.parser.Parser(policy=email.policy.compat32).parsestr(text, headersonly=True)
        return [a for _n, a in email.utils.getaddresses([str(h) for h in headers.get_all('From') or []])]


def send_as_violation(login, mail_from, message):
    """The first sender (envelope, then From header) that is not the login, or None."""
    for sender in [mail_from] + header_senders(message):
        if sender and sender.lower() != login.lower():
            return sender
    return None


def dns_answer(query_wire):
    """DNS response (wire) for a query (wire): A/AAAA for the stand-in's zones, NXDOMAIN for nx*, REFUSED elsewhere."""
    import dns.message  # pylint: disable=import-outside-toplevel
    import dns.rcode  # pylint: disable=import-outside-toplevel
    import dns.rdataclass  # pylint: disable=import-outside-toplevel
    import dns.rdatatype  # pylint: disable=import-outside-toplevel
    import dns.rrset  # pylint: disable=import-outside-toplevel
    query = dns.message.from_wire(query_wire)
    response = dns.message.make_response(query)
    response.flags |= 0x0400  # AA
    for question in query.question:
        name = question.name.to_text(omit_final_dot=True).lower()
        if name.split('.')[0].startswith('nx'):
            response.set_rcode(dns.rcode.NXDOMAIN)
            continue
        if not (name == 'localhost' or any(name == z or name.endswith('.' + z)
                                           for z in ('outlook.com', 'office365.com', 'live.com', 'microsoftonline.com',
                                                     'test'))):
            response.set_rcode(dns.rcode.REFUSED)
            continue
        # Names point at the address it listens on; ::1 only where that is loopback (--host puts it elsewhere).
        address = {dns.rdatatype.A: HOST, dns.rdatatype.AAAA: '::1' if HOST == '127.0.0.1' else None}.get(question.rdtype)
        if address:
            response.answer.append(dns.rrset.from_text(question.name, 60, dns.rdataclass.IN, question.rdtype, address))
    return response.to_wire()


# -------------------------------------------------------------------------------------------------------- SMTP

class TlsChannel:
    """TLS over an asyncio stream pair, done with memory BIOs: unlike loop.start_tls(), a failed handshake still sends
    OpenSSL's alert (protocol_version, ...), as a real server does. Offers what SmtpSession uses of reader and writer."""

    def __init__(self, reader, writer, context):
        self.reader = reader
        self.writer = writer
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.sslobj = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        self.buffer = bytearray()
        self.eof = False

    def _flush(self):
        data = self.outgoing.read()
        if data:
            self.writer.write(data)

    async def _receive(self, timeout=None):
        await self.writer.drain()
        data = await asyncio.wait_for(self.reader.read(65536), timeout)
        if data:
            self.incoming.write(data)
        else:
            self.incoming.write_eof()
        return bool(data)

    async def handshake(self, timeout):
        while True:
            try:
                self.sslobj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self._flush()
                if not await self._receive(timeout):
                    raise ConnectionError('EOF during the TLS handshake')
            except ssl.SSLError:
                self._flush()  # the alert
                await self.writer.drain()
                raise
        self._flush()
        await self.writer.drain()
        return self.sslobj.version()

    async def _fill(self):
        while not self.eof:
            try:
                data = self.sslobj.read(65536)
            except ssl.SSLWantReadError:
                self._flush()
                await self._receive()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                data = b''
            self._flush()
            if not data:
                self.eof = True
            self.buffer += data
            return

    async def readuntil(self, separator):
        while True:
            index = self.buffer.find(separator)
            if index >= 0:
                line = bytes(self.buffer[:index + len(separator)])
                del self.buffer[:index + len(separator)]
                return line
            if len(self.buffer) > LINE_LIMIT:
                raise asyncio.LimitOverrunError('line too long', len(self.buffer))
            if self.eof:
                raise asyncio.IncompleteReadError(bytes(self.buffer), None)
            await self._fill()

    async def readexactly(self, count):
        while len(self.buffer) < count:
            if self.eof:
                raise asyncio.IncompleteReadError(bytes(self.buffer), count)
            await self._fill()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    async def read(self):
        while not self.eof:
            await self._fill()
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def write(self, data):
        self.sslobj.write(data)
        self._flush()

    async def drain(self):
        await self.writer.drain()

    def get_extra_info(self, name, default=None):
        return self.writer.get_extra_info(name, default)

    async def shutdown(self):
        """Sends close_notify (clients treat a TCP close without it as a truncation)."""
        try:
            self.sslobj.unwrap()
        except ssl.SSLError:
            pass  # the peer's close_notify is not awaited
        self._flush()
        await self.writer.drain()


class SmtpSession:
    """One SMTP connection, as Exchange Online answers it."""

    def __init__(self, server, scenario, reader, writer):
        self.server = server
        self.scenario = scenario
        self.reader = reader
        self.writer = writer
        self.tls = None
        self.helo = None
        self.user = None
        self.mechanism = None
        self.conn_id = server.next_conn_id()
        # The client's address, recorded with each AUTH and message (tests tell their clients apart by it).
        peer = writer.get_extra_info('peername')
        self.peer = peer[0] if peer else None
        self.reset()

    def reset(self):
        self.mail_from = None
        self.mail_params = {}
        self.rcpt_to = []
        self.chunks = []

    def log(self, direction, text):
        self.server.transcript('%s #%d %s %s' % (self.scenario.name, self.conn_id, direction, text))

    async def reply(self, text):
        self.log('<', text)
        self.writer.write(text.encode('utf-8', 'surrogateescape') + b'\r\n')
        await self.writer.drain()

    async def reply_lines(self, lines):
        body = ''.join('%s%s%s\r\n' % (code, '-' if i < len(lines) - 1 else ' ', text)
                       for i, (code, text) in enumerate(lines))
        self.log('<', body.replace('\r\n', ' | '))
        self.writer.write(body.encode('utf-8'))
        await self.writer.drain()

    async def readline(self):
        """One line without CRLF, decoded (surrogateescape keeps any byte); None at EOF."""
        try:
            line = await asyncio.wait_for(self.reader.readuntil(b'\n'), self.server.idle_timeout)
        except asyncio.IncompleteReadError:
            return None
        return line.rstrip(b'\r\n').decode('utf-8', 'surrogateescape')

    async def start_tls(self):
        channel = TlsChannel(self.reader, self.writer, self.server.contexts[self.scenario.cert])
        try:
            self.tls = await channel.handshake(30)
        except (ssl.SSLError, OSError, asyncio.TimeoutError, ConnectionError) as exc:
            self.log('!', 'TLS handshake failed: %s' % exc)
            return False
        self.reader = self.writer = channel
        self.log('!', 'TLS %s' % self.tls)
        return True

    async def run(self):
        try:
            await self.dialogue()
        finally:
            if isinstance(self.writer, TlsChannel) and not self.writer.eof:
                await self.writer.shutdown()

    async def dialogue(self):
        peer = self.writer.get_extra_info('peername')
        self.log('!', 'connect from %s' % (peer,))
        if self.scenario.tls == 'implicit' and not await self.start_tls():
            return
        banner = self.scenario.banner
        if banner == 'silent':
            await self.reader.read()  # until the client gives up
            return
        if banner == 'slow':
            await asyncio.sleep(self.server.slow_banner)
        if banner == '421':
            await self.reply(R_BANNER_421)
            return
        await self.reply('220 %s Microsoft ESMTP MAIL Service ready at %s' % (
            self.server.hostname, utcnow().strftime('%a, %d %b %Y %H:%M:%S +0000')))
        while True:
            line = await self.readline()
            if line is None:
                return
            verb, _sep, arg = line.partition(' ')
            verb = verb.upper()
            self.log('>', line if verb != 'AUTH' else 'AUTH ' + arg.split(' ')[0] + ' ...')
            if self.tls == 'TLSv1':
                await self.reply(R_TLS_OLD)
                return
            handler = getattr(self, 'smtp_' + verb, None) if verb.isalpha() else None
            if handler is None:
                await self.reply("500 5.3.3 Unrecognized command '%s'" % verb)
                continue
            if await handler(arg.strip()) == 'close':
                return

    def auth_offered(self):
        return self.tls is not None or self.scenario.tls == 'none'

    async def ehlo_lines(self):
        lines = [(250, '%s Hello [%s]' % (self.server.hostname, HOST)), (250, 'SIZE %d' % MAX_SIZE),
                 (250, 'PIPELINING'), (250, 'DSN'), (250, 'ENHANCEDSTATUSCODES')]
        if self.scenario.tls == 'starttls' and self.tls is None:
            lines.append((250, 'STARTTLS'))
        if self.auth_offered():
            lines.append((250, 'AUTH LOGIN XOAUTH2'))
        lines += [(250, '8BITMIME'), (250, 'BINARYMIME'), (250, 'CHUNKING'), (250, 'SMTPUTF8')]
        await self.reply_lines(lines)

    async def smtp_EHLO(self, arg):
        if not arg:
            await self.reply('501 5.5.4 Invalid domain name')
            return
        self.helo = arg
        self.reset()
        await self.ehlo_lines()

    async def smtp_HELO(self, arg):
        if not arg:
            await self.reply('501 5.5.4 Invalid domain name')
            return
        self.helo = arg
        self.reset()
        await self.reply('250 %s Hello [%s]' % (self.server.hostname, HOST))

    async def smtp_STARTTLS(self, _arg):
        if self.scenario.tls != 'starttls':
            await self.reply("500 5.3.3 Unrecognized command 'STARTTLS'")
            return None
        if self.tls is not None:
            await self.reply('503 5.5.1 Bad sequence of commands')
            return None
        await self.reply('220 2.0.0 SMTP server ready')
        if not await self.start_tls():
            return 'close'
        # RFC 3207: forget everything learnt before TLS; the client must EHLO again.
        self.helo = None
        self.user = None
        self.reset()
        return None

    async def smtp_NOOP(self, _arg):
        await self.reply('250 2.0.0 OK')

    async def smtp_RSET(self, _arg):
        self.reset()
        await self.reply('250 2.0.0 Resetting')

    async def smtp_VRFY(self, _arg):
        await self.reply('252 2.1.5 Cannot VRFY user')

    async def smtp_QUIT(self, _arg):
        await self.reply('221 2.0.0 Service closing transmission channel')
        return 'close'

    # --- AUTH

    def record_auth(self, mechanism, user, secret_raw, code, reply, initial_response, secret_b64=None):
        entry = {'time': utcnow().isoformat(), 'scenario': self.scenario.name, 'mechanism': mechanism, 'user': user,
                 'secret': None, 'tls': self.tls, 'code': code, 'reply': reply, 'initial_response': initial_response,
                 'conn': self.conn_id, 'peer': self.peer}
        if secret_raw is not None:
            try:
                entry['secret'] = secret_raw.decode('utf-8')
            except UnicodeDecodeError:
                entry['secret'] = secret_raw.decode('utf-8', 'replace')
                entry['secret_b64'] = base64.b64encode(secret_raw).decode('ascii')
        if secret_b64 is not None:
            entry['secret_b64'] = secret_b64
        self.server.record_auth(entry)

    async def auth_reply(self, mechanism, user, secret_raw, reply, initial, secret_b64=None):
        code = int(reply[:3]) if reply else None
        self.record_auth(mechanism, user, secret_raw, code, reply, initial, secret_b64)
        if reply:
            await self.reply(reply)
        if code == 235:
            self.user = user
            self.mechanism = mechanism

    async def read_response(self):
        """A client's SASL response line: None at EOF."""
        line = await self.readline()
        self.log('>', '(auth data)' if line not in (None, '*') else repr(line))
        return line

    async def smtp_AUTH(self, arg):
        words = arg.split()
        mechanism = words[0].upper() if words else ''
        initial = words[1] if len(words) > 1 else None
        if not mechanism:
            await self.reply('501 5.5.4 Invalid arguments')
            return None
        if self.helo is None:
            await self.reply(R_SEND_HELLO)
            return None
        if self.user is not None:
            await self.reply('503 5.5.2 Already authenticated')
            return None
        if self.mail_from is not None:
            await self.reply('503 5.5.2 Bad sequence of commands')
            return None
        if not self.auth_offered() or mechanism not in ('LOGIN', 'XOAUTH2'):
            user, secret = None, None
            if mechanism == 'PLAIN' and initial:
                # Record what the client gave away even though it is refused: tests look for leaks.
                try:
                    parts = b64decode_strict(initial).split(b'\0')
                    user, secret = parts[1].decode('utf-8', 'replace'), parts[2]
                except (ValueError, IndexError):
                    secret = initial.encode('ascii', 'replace')
            elif mechanism == 'LOGIN' and initial:
                user = b64decode_or_none(initial)
            elif mechanism == 'XOAUTH2' and initial:
                parsed = parse_xoauth2(b64decode_or_none(initial, raw=True) or b'')
                user, secret = (parsed[0], parsed[1].encode('utf-8')) if parsed else (None, initial.encode('ascii', 'replace'))
            await self.auth_reply(mechanism, user, secret, R_UNRECOGNIZED_AUTH, initial is not None)
            return None
        if self.scenario.drop_auth:
            self.record_auth(mechanism, None, None, None, 'dropped', initial is not None)
            self.log('!', 'dropping the connection after AUTH')
            return 'close'
        if mechanism == 'LOGIN':
            return await self.auth_login(initial)
        return await self.auth_xoauth2(initial)

    async def challenge(self, prompt):
        """Send a 334 challenge; return the client's line, or ('close' | None) as the AUTH verb's result."""
        await self.reply(prompt)
        line = await self.read_response()
        if line is None:
            return False, 'close'
        if line == '*':
            await self.reply('501 5.0.0 Authentication cancelled')
            return False, None
        return True, line

    async def auth_login(self, initial):
        user_b64 = initial
        if initial is None:
            answered, user_b64 = await self.challenge('334 VXNlcm5hbWU6')
            if not answered:
                return user_b64
        answered, password_b64 = await self.challenge('334 UGFzc3dvcmQ6')
        if not answered:
            return password_b64
        try:
            user = b64decode_strict(user_b64).decode('utf-8', 'replace')
            password = b64decode_strict(password_b64)
        except ValueError:
            await self.auth_reply('LOGIN', None, None, '501 5.5.2 Cannot Decode response', initial is not None,
                                  secret_b64=password_b64)
            return None
        if self.scenario.login_reply:
            reply = self.scenario.login_reply
        else:
            ok = self.server.store.check_password(user, password.decode('utf-8', 'surrogateescape'))
            reply = R_AUTH_OK if ok else R_AUTH_FAILED
        await self.auth_reply('LOGIN', user, password, reply, initial is not None)
        return None

    async def auth_xoauth2(self, initial):
        data_b64 = initial
        if initial is None:
            answered, data_b64 = await self.challenge('334 ')
            if not answered:
                return data_b64
        raw = b64decode_or_none(data_b64, raw=True)
        parsed = parse_xoauth2(raw) if raw is not None else None
        if self.scenario.xoauth2_reply or parsed is None:
            reply = self.scenario.xoauth2_reply or R_BAD_XOAUTH2
            if parsed:
                await self.auth_reply('XOAUTH2', parsed[0], parsed[1].encode('utf-8'), reply, initial is not None)
            else:
                await self.auth_reply('XOAUTH2', None, raw, reply, initial is not None,
                                      secret_b64=data_b64 if raw is None else None)
            return None
        user, token = parsed
        ok = self.server.store.check_access_token(user, token)
        await self.auth_reply('XOAUTH2', user, token.encode('utf-8'), R_AUTH_OK if ok else R_AUTH_FAILED,
                              initial is not None)
        return None

    # --- the envelope

    async def smtp_MAIL(self, arg):
        if self.helo is None:
            await self.reply(R_SEND_HELLO)
            return
        if self.user is None:
            await self.reply(R_NOT_AUTHENTICATED)
            return
        if self.mail_from is not None:
            await self.reply('503 5.5.2 Sender already specified')
            return
        parsed = parse_path_arg(arg, 'FROM')
        if parsed is None:
            await self.reply('501 5.5.4 Invalid arguments')
            return
        address, params = parsed
        size = params.get('SIZE', '0')
        if not size.isdigit():
            await self.reply('501 5.5.4 Invalid arguments')
            return
        if int(size) > MAX_SIZE:
            await self.reply('552 5.3.4 Message size exceeds fixed maximum message size')
            return
        if self.scenario.mail_reply:
            await self.reply(self.scenario.mail_reply)
            return
        self.mail_from = address
        self.mail_params = params
        await self.reply('250 2.1.0 Sender OK')

    async def smtp_RCPT(self, arg):
        if self.mail_from is None:
            await self.reply('503 5.5.1 Sender not yet given')
            return
        parsed = parse_path_arg(arg, 'TO')
        if parsed is None or not parsed[0]:
            await self.reply('501 5.5.4 Invalid arguments')
            return
        if len(self.rcpt_to) >= MAX_RECIPIENTS:
            await self.reply('452 4.5.3 Too many recipients')
            return
        self.rcpt_to.append(parsed[0])
        await self.reply('250 2.1.5 Recipient OK')

    async def smtp_DATA(self, _arg):
        if self.mail_from is None or not self.rcpt_to:
            await self.reply('503 5.5.2 Need rcpt command')
            return None
        if self.chunks:
            await self.reply('503 5.5.1 Bad sequence of commands')
            return None
        await self.reply('354 Start mail input; end with <CRLF>.<CRLF>')
        try:
            lines, size = await asyncio.wait_for(self.read_data(), self.server.idle_timeout)
        except asyncio.IncompleteReadError:
            return 'close'
        if size > MAX_SIZE:
            self.reset()
            await self.reply('552 5.3.4 Message size exceeds fixed maximum message size')
            return None
        return await self.finish_message(b''.join(lines))

    async def read_data(self):
        """The lines up to <CRLF>.<CRLF>, dot-unstuffed (kept only up to MAX_SIZE), and their total size."""
        lines, size = [], 0
        while True:
            line = await self.reader.readuntil(b'\n')
            if line in (b'.\r\n', b'.\n'):
                return lines, size
            if line.startswith(b'.'):
                line = line[1:]
            size += len(line)
            if size <= MAX_SIZE:
                lines.append(line)

    async def smtp_BDAT(self, arg):
        words = arg.split()
        if not words or not words[0].isdigit() or len(words) > 2 or (len(words) == 2 and words[1].upper() != 'LAST'):
            await self.reply('501 5.5.4 Invalid arguments')
            return 'close'  # the chunk size is unknown: the stream cannot be resynchronised
        try:
            chunk = await asyncio.wait_for(self.reader.readexactly(int(words[0])), self.server.idle_timeout)
        except asyncio.IncompleteReadError:
            return 'close'
        if self.mail_from is None or not self.rcpt_to:
            await self.reply('503 5.5.2 Need rcpt command')
            return None
        self.chunks.append(chunk)
        if len(words) == 2:
            return await self.finish_message(b''.join(self.chunks))
        await self.reply('250 2.0.0 %d bytes received' % len(chunk))
        return None

    async def finish_message(self, message):
        sender = send_as_violation(self.user, self.mail_from, message)
        if self.scenario.send_as == 'deny':
            sender = sender or self.mail_from or self.user
        if sender:
            self.reset()
            await self.reply(R_SEND_AS.format(login=self.user, sender=sender))
            return None
        number = self.server.store_message(message, {
            'mail_from': self.mail_from, 'rcpt_to': self.rcpt_to, 'user': self.user, 'mechanism': self.mechanism,
            'tls': self.tls, 'scenario': self.scenario.name, 'helo': self.helo, 'size': len(message),
            'params': self.mail_params, 'time': utcnow().isoformat(), 'conn': self.conn_id, 'peer': self.peer})
        self.reset()
        await self.reply('250 2.0.0 OK <standin-%d@%s> [Hostname=%s]' % (number, self.server.hostname,
                                                                         self.server.hostname))
        return None


def b64decode_or_none(text, raw=False):
    try:
        data = b64decode_strict(text)
    except ValueError:
        return None
    return data if raw else data.decode('utf-8', 'replace')


# ------------------------------------------------------------------------------------------------ the whole server

class Standin:
    """Every listener, the files in the state directory, and the shutdown."""

    def __init__(self, args):
        self.args = args
        self.state_dir = os.path.abspath(args.state_dir)
        self.maildir = os.path.join(self.state_dir, 'mail')
        self.auth_log = os.path.join(self.state_dir, 'auth.jsonl')
        self.hostname = args.hostname
        self.slow_banner = args.slow_banner
        self.idle_timeout = args.idle_timeout
        self.pki = Pki(self.state_dir)
        self.store = None
        self.contexts = {}
        self.servers = []
        self.sockets = []        # refused/blackhole sockets and their fillers
        self.writers = set()
        self.tasks = set()          # connection handlers, cancelled at shutdown
        self.ports = {}
        self.conn_counter = 0
        self.transcript_file = None
        self.token_port = self.dns_port = self.dns_silent_port = None

    def next_conn_id(self):
        self.conn_counter += 1
        return self.conn_counter

    def transcript(self, text):
        if self.transcript_file is None or self.transcript_file.closed:
            return
        self.transcript_file.write('%s %s\n' % (utcnow().strftime('%H:%M:%S.%f')[:-3], text))
        self.transcript_file.flush()

    def record_auth(self, entry):
        # 0600: it holds the credentials as they arrived.
        with open(os.open(self.auth_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), 'a', encoding='utf-8',
                  errors='surrogateescape') as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + '\n')

    def store_message(self, message, meta):
        numbers = [int(n.split('.')[0]) for n in os.listdir(self.maildir) if re.match(r'\A\d+\.json\Z', n)]
        number = max(numbers, default=0) + 1
        write_atomic(os.path.join(self.maildir, '%d.eml' % number), message)
        # The .json is written last: once it exists, the .eml is complete.
        write_atomic(os.path.join(self.maildir, '%d.json' % number), json.dumps(meta, ensure_ascii=False, indent=1))
        return number

    def pinned(self, name):
        return self.args.port.get(name, 0)

    async def start(self):
        os.makedirs(self.maildir, exist_ok=True)
        self.transcript_file = open(os.path.join(self.state_dir, 'transcript.log'), 'a',  # pylint: disable=consider-using-with
                                    encoding='utf-8', errors='backslashreplace')
        self.pki.ensure()
        self.store = Store(self.state_dir, self.args.accounts, self.args.accept_any_password,
                           self.args.token_expires_in, rotate=not self.args.keep_refresh_tokens,
                           refresh_inactivity=self.args.refresh_inactivity,
                           device_expires_in=self.args.device_code_expires_in,
                           device_interval=self.args.device_interval,
                           app_certificates=[self.pki.app_files['app'][0]])
        self.contexts = {c: self.pki.context(c) for c in ('server', 'untrusted', 'wrong_host', 'expired', 'tls10')}
        for name in self.args.scenarios:
            scenario = SCENARIOS[name]
            if scenario.kind == 'refused':
                self.ports[name] = self.refused_port(self.pinned(name))
            elif scenario.kind == 'blackhole':
                self.ports[name] = self.blackhole_port(self.pinned(name))
            else:
                self.ports[name] = await self.listen(self.pinned(name), self.smtp_handler(scenario))
        self.token_port = await self.listen(self.pinned('token'), self.token_handler, ssl_context=self.contexts['server'])
        self.dns_port = await self.dns_listen(self.pinned('dns'), answer=True)
        self.dns_silent_port = await self.dns_listen(self.pinned('dns_silent'), answer=False)

    async def listen(self, port, handler, ssl_context=None):
        server = await asyncio.start_server(self.tracked(handler), HOST, port, limit=LINE_LIMIT, ssl=ssl_context,
                                            reuse_address=True)
        self.servers.append(server)
        return server.sockets[0].getsockname()[1]

    def tracked(self, handler):
        async def run(reader, writer):
            self.writers.add(writer)
            self.tasks.add(asyncio.current_task())
            try:
                await handler(reader, writer)
            except (ConnectionError, asyncio.TimeoutError, ssl.SSLError, asyncio.LimitOverrunError, ValueError) as exc:
                self.transcript('connection ended: %r' % exc)
            finally:
                self.writers.discard(writer)
                self.tasks.discard(asyncio.current_task())
                writer.close()
        return run

    def smtp_handler(self, scenario):
        async def handle(reader, writer):
            await SmtpSession(self, scenario, reader, writer).run()
        return handle

    def refused_port(self, port):
        # Bound but never listening: the port stays ours and every connect gets a RST.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        self.sockets.append(sock)
        return sock.getsockname()[1]

    def blackhole_port(self, port):
        # A listener that never accepts, with its accept queue filled by our own connections: Linux then drops
        # every further SYN, so a client's connect() neither succeeds nor fails until its own timeout.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(0)
        self.sockets.append(sock)
        port = sock.getsockname()[1]
        for _attempt in range(8):
            filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            filler.setblocking(False)
            filler.connect_ex((HOST, port))
            self.sockets.append(filler)
            deadline = time.monotonic() + 0.3
            connected = False
            while time.monotonic() < deadline:
                if filler.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and self._connected(filler):
                    connected = True
                    break
                time.sleep(0.01)
            if not connected:
                break
        return port

    @staticmethod
    def _connected(sock):
        try:
            sock.getpeername()
            return True
        except OSError:
            return False

    async def token_handler(self, reader, writer):
        """Microsoft's login endpoints (token, devicecode, authorize) and the test-only /standin/ controls."""
        request = await asyncio.wait_for(reader.readuntil(b'\r\n\r\n'), 30)
        head = request.decode('iso-8859-1').split('\r\n')
        method, path, _version = (head[0].split(' ') + ['', '', ''])[:3]
        headers = {}
        for line in head[1:]:
            if ':' in line:
                key, value = line.split(':', 1)
                headers[key.strip().lower()] = value.strip()
        length = int(headers.get('content-length') or 0)
        body = await asyncio.wait_for(reader.readexactly(length), 30) if length else b''
        parts = urllib.parse.urlsplit(path)
        query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        form = dict(urllib.parse.parse_qsl(body.decode('utf-8', 'replace'), keep_blank_values=True))
        status, answer, location = self.http_route(method, parts.path, query, form, headers.get('host', ''))
        if location is not None:
            payload = b''
            extra = 'Location: %s\r\n' % location
        else:
            payload = json.dumps(answer).encode('utf-8')
            extra = ''
        reason = {200: 'OK', 302: 'Found', 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found',
                  405: 'Method Not Allowed'}[status]
        writer.write(('HTTP/1.1 %d %s\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: %d\r\n'
                      '%sCache-Control: no-store, no-cache\r\nConnection: close\r\n\r\n' % (
                          status, reason, len(payload), extra)).encode('ascii') + payload)
        await writer.drain()

    def http_route(self, method, path, query, form, host):
        """Returns (status, JSON answer, redirect location or None)."""
        control = CONTROL_RE.match(path)
        if control:
            return self.control(control.group(1), method, dict(query, **form))
        match = PATH_RE.match(path)
        if not match:
            return 404, aad_error('invalid_request', 90002, 'Tenant or endpoint not found: %s' % path), None
        tenant, endpoint = match.groups()
        if endpoint == 'authorize':
            if method != 'GET':
                return 405, {'error': 'invalid_request', 'error_description': 'GET only'}, None
            status, where = self.store.authorize(query, tenant)
            self.transcript('authorize #%s -> %d' % (path, status))
            if status == 302:
                return 302, None, where
            return status, {'error': 'invalid_request', 'error_description': where}, None
        if method != 'POST':
            return 405, aad_error('invalid_request', 900561, 'The endpoint only accepts POST requests. Received a %s '
                                  'request.' % method), None
        if endpoint == 'devicecode':
            status, answer = self.store.device_start(form, tenant)
        else:
            token_url = 'https://%s%s' % (host or 'localhost:%d' % self.token_port, path)
            status, answer = self.store.grant(form, tenant, token_url)
        self.transcript('token #%s %s grant_type=%s client_id=%s -> %d %s' % (
            path, method, form.get('grant_type'), form.get('client_id'), status, answer.get('error', 'ok')))
        return status, answer, None

    def control(self, what, method, params):
        """Test-only: POST /standin/device (action=approve|deny|expire, user_code, user), /standin/authorize
        (mode=approve|deny), /standin/revoke (user)."""
        if method != 'POST':
            return 405, {'error': 'POST only'}, None
        if what == 'device':
            action = params.get('action')
            if action not in ('approve', 'deny', 'expire'):
                return 400, {'error': 'action must be approve, deny or expire'}, None
            user_code = self.store.device_decide(action, params.get('user_code'), params.get('user'))
            self.transcript('control device %s -> %s' % (action, user_code or 'no pending code'))
            if user_code is None:
                return 404, {'error': 'no pending device code'}, None
            return 200, {'user_code': user_code, 'action': action}, None
        if what == 'authorize':
            if params.get('mode') not in ('approve', 'deny'):
                return 400, {'error': 'mode must be approve or deny'}, None
            self.store.authorize_mode = params['mode']
            return 200, {'mode': params['mode']}, None
        count = self.store.revoke(params.get('user') or self.store.accounts[0]['user'])
        return 200, {'revoked': count}, None

    async def dns_listen(self, port, answer):
        loop = asyncio.get_running_loop()
        standin = self

        class Udp(asyncio.DatagramProtocol):
            def __init__(self):
                self.transport = None

            def connection_made(self, transport):
                self.transport = transport

            def datagram_received(self, data, addr):
                if answer:
                    try:
                        self.transport.sendto(dns_answer(data), addr)
                    except Exception as exc:  # pylint: disable=broad-except
                        standin.transcript('dns: bad query: %r' % exc)

        async def tcp(reader, writer):
            while True:
                try:
                    length = int.from_bytes(await reader.readexactly(2), 'big')
                    query = await reader.readexactly(length)
                except asyncio.IncompleteReadError:
                    return
                if answer:
                    response = dns_answer(query)
                    writer.write(len(response).to_bytes(2, 'big') + response)
                    await writer.drain()

        # UDP and TCP on the same port number: a random TCP port may be busy for UDP (or the reverse), so retry.
        for _attempt in range(50):
            tcp_server = await asyncio.start_server(self.tracked(tcp), HOST, port, reuse_address=True)
            chosen = tcp_server.sockets[0].getsockname()[1]
            try:
                transport, _protocol = await loop.create_datagram_endpoint(Udp, local_addr=(HOST, chosen))
            except OSError:
                tcp_server.close()
                if port:
                    raise
                continue
            self.servers += [tcp_server, transport]
            return chosen
        raise OSError('no port free for both UDP and TCP')

    def ready(self):
        first = self.store.accounts[0]

        def public(account):
            return {k: account[k] for k in ('user', 'password', 'refresh_token', 'client_id', 'expired_refresh_token')}

        base = 'https://localhost:%d' % self.token_port

        def app_public(app):
            valid = [x['value'] for x in app['secrets'] if not x.get('expires') or x['expires'] > time.time()]
            expired = [x['value'] for x in app['secrets'] if x.get('expires') and x['expires'] <= time.time()]
            return {'name': app.get('name', ''), 'client_id': app['client_id'], 'tenant': app['tenant'],
                    'client_secret': valid[0] if valid else None,
                    'expired_client_secret': expired[0] if expired else None,
                    'service_principal': app['service_principal'], 'consent': app['consent'],
                    'mailboxes': app['mailboxes']}

        return {
            'ca_file': self.pki.ca_file,
            'smtp': self.ports,
            'token_url': 'https://localhost:%d/consumers/oauth2/v2.0/token' % self.token_port,
            'token_port': self.token_port,
            'dns': {'host': HOST, 'port': self.dns_port, 'silent_port': self.dns_silent_port},
            'accounts': public(first),
            'account_list': [public(a) for a in self.store.accounts],
            'accept_any_password': self.args.accept_any_password,
            'log': self.auth_log,
            'maildir': self.maildir,
            'transcript': os.path.join(self.state_dir, 'transcript.log'),
            'hostname': self.hostname,
            'host': HOST,
            'pid': os.getpid(),
            'untrusted_ca_file': os.path.join(self.pki.dir, 'untrusted-ca.pem'),
            'tenant_id': self.store.tenant_id,
            'tenant_domain': TENANT_DOMAIN,
            'app_token_url': '%s/%s/oauth2/v2.0/token' % (base, self.store.tenant_id),
            'devicecode_url': '%s/consumers/oauth2/v2.0/devicecode' % base,
            'authorize_url': '%s/consumers/oauth2/v2.0/authorize' % base,
            'control_url': '%s/standin' % base,
            'app': app_public(self.store.apps[0]),
            'apps': [app_public(a) for a in self.store.apps],
            'app_certificate': {'certificate_file': self.pki.app_files['app'][0],
                                'private_key_file': self.pki.app_files['app'][1]},
            'unregistered_certificate': {'certificate_file': self.pki.app_files['app_unregistered'][0],
                                         'private_key_file': self.pki.app_files['app_unregistered'][1]},
        }

    async def close(self):
        for server in self.servers:
            server.close()
        for writer in list(self.writers):
            writer.close()
        for sock in self.sockets:
            sock.close()
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.transcript_file:
            self.transcript_file.close()


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--state-dir', required=True, help='where ready.json, ca.pem, auth.jsonl and mail/ go')
    parser.add_argument('--lifetime', type=float, default=900, help='stop after this many seconds (default 900)')
    parser.add_argument('--scenarios', default=','.join(SCENARIOS),
                        help='comma-separated scenarios to serve (default: all): ' + ', '.join(SCENARIOS))
    parser.add_argument('--pidfile', help='write the process id here')
    parser.add_argument('--port', action='append', default=[], metavar='NAME=PORT',
                        help='pin the port of a scenario (or token, dns, dns_silent); repeatable')
    parser.add_argument('--accounts', help='JSON list of {"user", "password"}, or an object with "accounts" and "apps" '
                        '(default: one generated account and three generated apps)')
    parser.add_argument('--accept-any-password', action='store_true', help='accept every password for every user')
    parser.add_argument('--token-expires-in', type=int, default=3600, help='access token lifetime in seconds')
    parser.add_argument('--keep-refresh-tokens', action='store_true',
                        help='a used refresh token stays valid (default: rotated away, like a strict Microsoft)')
    parser.add_argument('--refresh-inactivity', type=float, default=REFRESH_INACTIVITY,
                        help='a refresh token unused this many seconds fails with AADSTS700082 (default 90 days)')
    parser.add_argument('--device-code-expires-in', type=int, default=900, help='device code lifetime in seconds')
    parser.add_argument('--device-interval', type=int, default=5, help='device code polling interval in seconds')
    parser.add_argument('--slow-banner', type=float, default=5, help='banner delay of slow_banner in seconds')
    parser.add_argument('--idle-timeout', type=float, default=300, help='drop an idle SMTP client after this long')
    parser.add_argument('--hostname', default='BN0PR04CA0042.outlook.office365.com', help='the name in the banner')
    parser.add_argument('--host', default=HOST,
                        help='IPv4 address to listen on and to answer DNS queries with (default 127.0.0.1; the fleet '
                             'test bed uses an address inside its own network namespace)')
    args = parser.parse_args(argv)
    args.scenarios = [s for s in args.scenarios.split(',') if s]
    unknown = [s for s in args.scenarios if s not in SCENARIOS]
    if unknown:
        parser.error('unknown scenario(s): %s' % ', '.join(unknown))
    pins = {}
    for item in args.port:
        name, _sep, port = item.partition('=')
        if not port.isdigit() or name not in list(SCENARIOS) + ['token', 'dns', 'dns_silent']:
            parser.error('--port wants NAME=PORT with a scenario name, token, dns or dns_silent: %r' % item)
        pins[name] = int(port)
    args.port = pins
    return args


async def serve(args):
    standin = Standin(args)
    ready_file = os.path.join(standin.state_dir, 'ready.json')
    if os.path.exists(ready_file):
        os.unlink(ready_file)
    await standin.start()
    write_atomic(ready_file, json.dumps(standin.ready(), indent=1), 0o600)  # it holds the account's password
    print('standin: ready, pid %d, %s' % (os.getpid(), ready_file), file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def quiet_exception_handler(_loop, context):
        if not isinstance(context.get('exception'), asyncio.CancelledError):  # connections cut at shutdown
            standin.transcript('asyncio: %s %r' % (context.get('message'), context.get('exception')))

    loop.set_exception_handler(quiet_exception_handler)
    try:
        await asyncio.wait_for(stop.wait(), args.lifetime)
        why = 'signal'
    except asyncio.TimeoutError:
        why = 'lifetime of %g s over' % args.lifetime
    print('standin: stopping (%s)' % why, file=sys.stderr, flush=True)
    await standin.close()


def main(argv=None):
    global HOST  # pylint: disable=global-statement
    args = parse_args(sys.argv[1:] if argv is None else argv)
    HOST = args.host
    os.makedirs(args.state_dir, exist_ok=True)
    if args.pidfile:
        write_atomic(args.pidfile, '%d\n' % os.getpid())
    try:
        asyncio.run(serve(args))
    finally:
        if args.pidfile and os.path.exists(args.pidfile):
            with open(args.pidfile, encoding='utf-8') as handle:
                if handle.read().strip() == str(os.getpid()):
                    os.unlink(args.pidfile)


if __name__ == '__main__':
    main()
