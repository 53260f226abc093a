"""Sends one message with Django's own SMTP email backend, configured only by the settings module app_smtp wrote.

Usage: django_send.py SETTINGS_FILE RCPT. Trust anchors come from the environment (SSL_CERT_FILE): Django's backend
verifies the server certificate with ssl.create_default_context() and has no setting for a CA file.
"""

import importlib.util
import sys

import django
from django.conf import settings

spec = importlib.util.spec_from_file_location("settings_local", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
settings.configure(**{name: getattr(module, name) for name in dir(module) if name.isupper()})
django.setup()

from django.core.mail import get_connection, send_mail  # noqa: E402  (needs configured settings)

connection = get_connection()
print("django: backend %s.%s, host %s port %s, TLS %s, user set %s" % (
    type(connection).__module__, type(connection).__name__, connection.host, connection.port, connection.use_tls,
    bool(connection.username)))
sent = send_mail("app_smtp Django proof", "Sent by Django with the settings app_smtp wrote.", None, [sys.argv[2]],
                 connection=connection)
print("django: sent %d message(s)" % sent)
