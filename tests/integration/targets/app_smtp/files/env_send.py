"""Sends one message the way an application configured by a .env file of SMTP_* keys (preset env) would.

Usage: env_send.py ENV_FILE CA_FILE RCPT SUBJECT. The file is read by python-dotenv; STARTTLS verifies the certificate
and the name against CA_FILE; the sender is SMTP_FROM. Prints no secret.
"""

import smtplib
import ssl
import sys
from email.message import EmailMessage

from dotenv import dotenv_values

env_file, ca_file, rcpt, subject = sys.argv[1:5]
env = dotenv_values(env_file)
assert env["SMTP_SECURITY"] == "starttls", env["SMTP_SECURITY"]
message = EmailMessage()
message["From"], message["To"], message["Subject"] = env["SMTP_FROM"], rcpt, subject
message.set_content("Sent with the settings app_smtp wrote into %s.\n" % env_file)
with smtplib.SMTP(env["SMTP_HOST"], int(env["SMTP_PORT"]), timeout=30) as client:
    client.starttls(context=ssl.create_default_context(cafile=ca_file))
    client.login(env["SMTP_USERNAME"], env["SMTP_PASSWORD"])
    client.send_message(message)
print("env: sent %r as %s through %s:%s" % (subject, env["SMTP_USERNAME"], env["SMTP_HOST"], env["SMTP_PORT"]))
