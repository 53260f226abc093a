"""A stand-in application: reads SMTP_* from an environment file the way a service does (POSIX sh sources it),
then sends one message with Python's smtplib, verifying TLS against the system's trust store.

usage: app_send.py ENV_FILE SUBJECT
"""

import base64
import smtplib
import ssl
import subprocess
import sys
from email.message import EmailMessage


def login(client, user, password):
    """AUTH LOGIN with UTF-8 credentials, as Go's and PHP's mailers send them (smtplib's login() takes ASCII only)."""
    client.ehlo_or_helo_if_needed()
    code, reply = client.docmd('AUTH', 'LOGIN ' + b64(user))
    if code == 334:
        code, reply = client.docmd(b64(password))
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, reply)


def b64(text):
    return base64.b64encode(text.encode('utf-8')).decode('ascii')


def main():
    path, subject = sys.argv[1], sys.argv[2]
    out = subprocess.run(['sh', '-c', 'set -a; . "$1"; exec env -0', 'sh', path],
                         stdout=subprocess.PIPE, check=True).stdout.decode('utf-8')
    env = dict(item.split('=', 1) for item in out.split('\0') if '=' in item)
    message = EmailMessage()
    message['From'] = env['SMTP_FROM']
    message['To'] = 'rcpt@example.test'
    message['Subject'] = subject
    message.set_content('from the application\n')
    context = ssl.create_default_context()
    security = env.get('SMTP_SECURITY', '')
    if security == 'tls':
        client = smtplib.SMTP_SSL(env['SMTP_HOST'], int(env['SMTP_PORT']), timeout=30, context=context)
    else:
        client = smtplib.SMTP(env['SMTP_HOST'], int(env['SMTP_PORT']), timeout=30)
    with client:
        if security == 'starttls':
            client.starttls(context=context)
        if env.get('SMTP_PASSWORD'):
            login(client, env['SMTP_USERNAME'], env['SMTP_PASSWORD'])
        client.send_message(message)


if __name__ == '__main__':
    main()
