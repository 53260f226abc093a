"""Reads every file app_smtp wrote with the application's own parser and checks each value, byte-exact.

Usage: readback.py APPS_DIR BEFORE_DIR PASSWORD_FILE GOINI_BINARY SMTP_PORT
Parsers: go-ini (Grafana, Gitea), PyYAML (Alertmanager, generic YAML), Python itself (Django settings), python-dotenv
(.env files), php (Nextcloud), sh (shell dotenv), configparser, json. Exit 1 with a list of what differed.
"""

import base64
import configparser
import io
import json
import os
import subprocess
import sys

import yaml
from dotenv import dotenv_values

apps, before_dir, password_file, goini_bin, port = sys.argv[1:6]
with open(password_file, encoding="utf-8") as handle:
    password = handle.read().rstrip("\n")
user = "standin@outlook.com"
host = "localhost"
failures = []


def expect(what, got, want):
    if got != want:
        failures.append("%s: got %r, want %r" % (what, "<password>" if got == password else got, "<password>" if want == password else want))


def path(name):
    return os.path.join(apps, name)


def goini(dialect, name):
    out = subprocess.run([goini_bin, dialect, path(name)], check=True, capture_output=True).stdout
    return {s: {k: base64.b64decode(v).decode("utf-8") for k, v in keys.items()} for s, keys in json.loads(out).items()}


def php(name):
    code = 'include $argv[1]; echo json_encode(array_map(function ($v) { return is_string($v) ? base64_encode($v) : $v; }, $CONFIG));'
    out = subprocess.run(["php", "-r", code, path(name)], check=True, capture_output=True).stdout
    return {k: base64.b64decode(v).decode("utf-8") if isinstance(v, str) else v for k, v in json.loads(out).items()}


def python_settings(name):
    namespace = {}
    with open(path(name), encoding="utf-8") as handle:
        exec(compile(handle.read(), name, "exec"), namespace)
    return namespace


def dotenv(name):
    with open(path(name), encoding="utf-8") as handle:
        return dotenv_values(stream=io.StringIO(handle.read()))


# Grafana: go-ini with Grafana's options
grafana = goini("grafana", "grafana.ini")
expect("grafana password", grafana["smtp"]["password"], password)
expect("grafana user", grafana["smtp"]["user"], user)
expect("grafana host", grafana["smtp"]["host"], "%s:%s" % (host, port))
expect("grafana enabled", grafana["smtp"]["enabled"], "true")
expect("grafana startTLS_policy", grafana["smtp"]["startTLS_policy"], "MandatoryStartTLS")
expect("grafana from_address", grafana["smtp"]["from_address"], user)
expect("grafana from_name", grafana["smtp"]["from_name"], "Grafana alerts")
expect("grafana untouched http_port", grafana["server"]["http_port"], "3000")
relay = goini("grafana", "grafana-relay.ini")["smtp"]
expect("grafana relay host", relay["host"], "localhost:25")
expect("grafana relay policy", relay["startTLS_policy"], "NoStartTLS")
expect("grafana relay password", relay["password"], "")

# Gitea/Forgejo: go-ini with Gitea's options
gitea = goini("gitea", "app.ini")
expect("gitea PASSWD", gitea["mailer"]["PASSWD"], password)
expect("gitea PROTOCOL", gitea["mailer"]["PROTOCOL"], "smtp+starttls")
expect("gitea SMTP_ADDR", gitea["mailer"]["SMTP_ADDR"], host)
expect("gitea SMTP_PORT", gitea["mailer"]["SMTP_PORT"], port)
expect("gitea ENABLED", gitea["mailer"]["ENABLED"], "true")
expect("gitea untouched database PASSWD", gitea["database"]["PASSWD"], "db#pass;word")
expect("gitea untouched SUBJECT_PREFIX", gitea["mailer"]["SUBJECT_PREFIX"], "[git]")

# Alertmanager (amtool check-config runs in runme.sh)
with open(path("alertmanager.yml"), encoding="utf-8") as handle:
    am = yaml.safe_load(handle)
expect("alertmanager smtp_auth_password", am["global"]["smtp_auth_password"], password)
expect("alertmanager smtp_smarthost", am["global"]["smtp_smarthost"], "%s:%s" % (host, port))
expect("alertmanager smtp_require_tls", am["global"]["smtp_require_tls"], True)
expect("alertmanager untouched smtp_hello", am["global"]["smtp_hello"], "alerts.example.com")
expect("alertmanager untouched receiver", am["receivers"][0]["email_configs"][0]["to"], "team@example.com")
with open(path("alertmanager-relay.yml"), encoding="utf-8") as handle:
    am_relay = yaml.safe_load(handle)
expect("alertmanager relay smarthost", am_relay["global"]["smtp_smarthost"], "localhost:25")
expect("alertmanager relay require_tls", am_relay["global"]["smtp_require_tls"], False)

# Django: the settings module as Django imports it, and the environment file as python-dotenv reads it
django = python_settings("settings_local.py")
expect("django EMAIL_HOST_PASSWORD", django["EMAIL_HOST_PASSWORD"], password)
expect("django EMAIL_PORT", django["EMAIL_PORT"], int(port))
expect("django EMAIL_USE_TLS", django["EMAIL_USE_TLS"], True)
expect("django untouched EMAIL_TIMEOUT", django["EMAIL_TIMEOUT"], 20)
expect("django untouched ALLOWED_HOSTS", django["ALLOWED_HOSTS"], ["app.example.com"])
expect("django env EMAIL_HOST_PASSWORD", dotenv("django.env")["EMAIL_HOST_PASSWORD"], password)

# Nextcloud: PHP includes the file
nextcloud = php("config.php")
expect("nextcloud mail_smtppassword", nextcloud["mail_smtppassword"], password)
expect("nextcloud mail_smtpmode", nextcloud["mail_smtpmode"], "smtp")
expect("nextcloud mail_smtpport", nextcloud["mail_smtpport"], int(port))
expect("nextcloud mail_from_address", nextcloud["mail_from_address"], "standin")
expect("nextcloud mail_domain", nextcloud["mail_domain"], "outlook.com")
expect("nextcloud untouched dbpassword", nextcloud["dbpassword"], "db'pw\\x")
expect("nextcloud untouched installed", nextcloud["installed"], True)
nc_relay = php("mail.config.php")
expect("nextcloud relay auth", nc_relay["mail_smtpauth"], False)
expect("nextcloud relay host", nc_relay["mail_smtphost"], "localhost")

# .env files
expect("env SMTP_PASSWORD", dotenv("smtp.env")["SMTP_PASSWORD"], password)
expect("env SMTP_SECURITY", dotenv("smtp.env")["SMTP_SECURITY"], "starttls")
shell = subprocess.run(["sh", "-c", '. "$1"; printf "%s" "$MAIL_PASSWORD"', "sh", path("shell.env")],
                       check=True, capture_output=True).stdout.decode("utf-8")
expect("shell MAIL_PASSWORD", shell, password)

# Generic formats
parser = configparser.ConfigParser()
parser.read(path("generic.ini"), encoding="utf-8")
expect("ini password", parser.get("mail", "password"), password)
expect("ini enabled", parser.get("mail", "enabled"), "yes")
expect("ini untouched name", parser.get("general", "name"), "myapp")
with open(path("generic.yml"), encoding="utf-8") as handle:
    generic_yaml = yaml.safe_load(handle)
expect("yaml password", generic_yaml["app"]["mail"]["smtp"]["password"], password)
expect("yaml enabled", generic_yaml["app"]["mail"]["enabled"], True)
expect("yaml untouched", generic_yaml["logging"]["level"], "info")
with open(path("generic.json"), encoding="utf-8") as handle:
    generic_json = json.load(handle)
expect("json password", generic_json["mail"]["password"], password)
expect("json port", generic_json["mail"]["port"], int(port))
expect("json key order", list(generic_json), ["name", "mail", "plugins"])
with open(path("template.env"), encoding="utf-8") as handle:
    template_line = [line for line in handle.read().split("\n") if line.startswith("MAIL_PASSWORD_JSON=")][0]
expect("template password", json.loads(template_line.split("=", 1)[1]), password)

# Every comment of every pre-existing file is still there.
for name in sorted(os.listdir(before_dir)):
    with open(os.path.join(before_dir, name), encoding="utf-8") as handle:
        comments = [line for line in handle.read().splitlines() if line.lstrip().startswith(("#", ";", "//"))]
    with open(path(name), encoding="utf-8") as handle:
        after = handle.read().splitlines()
    for line in comments:
        if line not in after:
            failures.append("%s lost the comment %r" % (name, line))

if failures:
    print("readback: %d difference(s):\n  %s" % (len(failures), "\n  ".join(failures)))
    sys.exit(1)
print("readback: every value read back byte-exact by the application's parser (%d files)" % len(os.listdir(apps)))
