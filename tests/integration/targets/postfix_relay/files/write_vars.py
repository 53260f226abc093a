"""Write the test's account list as an Ansible vars file, every secret tagged !unsafe (it may contain {{ ).

usage: write_vars.py READY_JSON GENERATED_JSON MAIN_PASSWORD OUT_YML MODE
main: outlook (password, default), oauth (OAuth2, senders app@example.test), apponly (app-only with a
certificate, senders appcert@example.test), appsecret (the same app with its client
secret as its second mailbox, senders appsecret@example.test), implicit (port-465 style),
untrusted / wronghost (bad certificates). generated: outlook, then g0..gN (generated passwords, senders
sN@gen.test). trailing: main plus one account whose password ends in whitespace (must be refused).
These three turn the verified switch off: they hold accounts that cannot log in on purpose.
The verified switch (on, the default), one account "outlook" each: switch-old (the password account),
switch-badsecret (app-only, a wrong client secret: POSTFIX_RELAY_WRONG_SECRET), switch-nosp (app-only, the app
without a service principal), switch-unreachable (app-only, token_url on the closed loopback port
POSTFIX_RELAY_CLOSED_PORT), switch-good (app-only, the granted app's client secret for its mailbox appsecret@).
"""

import json
import os
import sys


def q(value):
    """A YAML double-quoted scalar (JSON strings are valid YAML), tagged !unsafe."""
    return "!unsafe " + json.dumps(value, ensure_ascii=False)


def main():
    ready = json.load(open(sys.argv[1], encoding="utf-8"))
    generated = json.load(open(sys.argv[2], encoding="utf-8"))
    main_password, out = sys.argv[3], sys.argv[4]
    mode = sys.argv[5]
    # POSTFIX_RELAY_CA: a copy of the stand-in's CA that only root can read (the role gives the pipe user its own copy).
    smtp, ca = ready["smtp"], os.environ.get("POSTFIX_RELAY_CA") or ready["ca_file"]
    oauth = [a for a in ready["account_list"] if a["user"] == "oauth@outlook.com"][0]
    lines = ["live_smtp_accounts:"]

    def account(name, port, username, extra):
        lines.extend(["  - name: %s" % name, "    host: localhost", "    port: %d" % port,
                      "    username: %s" % username, "    ca_file: %s" % ca] + ["    " + e for e in extra])

    if mode.startswith("switch-"):
        switch_account(account, ready, mode[len("switch-"):], main_password)
        write(out, lines)
        return
    # Off here: the bad-certificate accounts (main, trailing) cannot log in on purpose, and 200 generated accounts
    # would be 200 probes; the verified switch has its own section with the switch on (runme.sh).
    lines.insert(0, "postfix_relay_verify_credentials: false")
    account("outlook", smtp["outlook"], "standin@outlook.com", ["password: " + q(main_password)])
    if mode != "generated":
        main_accounts(account, smtp, oauth, ready)
    else:
        for index, password in enumerate(generated["valid"]):
            account("g%d" % index, smtp["outlook"], "g%d@outlook.com" % index,
                    ["password: " + q(password), "senders: [s%d@gen.test]" % index])
    if mode == "trailing":
        account("trailing", smtp["outlook"], "trailing@outlook.com",
                ["password: " + q(generated["trailing"][1]), "senders: [t@gen.test]"])
    write(out, lines)


def write(out, lines):
    with open(out, "w", encoding="utf-8") as handle:
        handle.write("---\n" + "\n".join(lines) + "\n")


def switch_account(account, ready, kind, main_password):
    """The one account "outlook" of a verified-switch run: its password, or a new app-only credential."""
    smtp = ready["smtp"]
    if kind == "old":
        account("outlook", smtp["outlook"], "standin@outlook.com", ["password: " + q(main_password)])
        return
    granted, no_principal = ready["apps"][0], [a for a in ready["apps"] if a["name"] == "no_service_principal"][0]
    app, secret, token_url = granted, granted["client_secret"], ready["app_token_url"]
    if kind == "badsecret":
        secret = os.environ["POSTFIX_RELAY_WRONG_SECRET"]
    elif kind == "nosp":
        app, secret = no_principal, no_principal["client_secret"]
    elif kind == "unreachable":
        closed_port = os.environ["POSTFIX_RELAY_CLOSED_PORT"]
        token_url = "https://localhost:%s/%s/oauth2/v2.0/token" % (closed_port, ready["tenant_id"])
    elif kind != "good":
        raise SystemExit("unknown mode switch-%s" % kind)
    account("outlook", smtp["outlook"], granted["mailboxes"][1], [
        "oauth2:", "  grant: client_credentials", "  client_id: %s" % app["client_id"],
        "  tenant: %s" % ready["tenant_id"], "  token_url: %s" % token_url, "  client_secret: " + q(secret)])


def main_accounts(account, smtp, oauth, ready):
    account("oauth", smtp["outlook"], oauth["user"], [
        "auth: oauth2", "oauth2:", "  client_id: %s" % oauth["client_id"],
        "  refresh_token: " + q(oauth["refresh_token"]), "  token_url: %s" % ready["token_url"],
        "senders: [app@example.test]"])
    # App-only (client credentials) with the stand-in's app certificate, as the mailbox the app was granted.
    app = ready["app"]
    account("apponly", smtp["outlook"], app["mailboxes"][0], [
        "oauth2:", "  grant: client_credentials", "  client_id: %s" % app["client_id"],
        "  tenant: %s" % ready["tenant_id"], "  token_url: %s" % ready["app_token_url"],
        "  certificate: %s" % ready["app_certificate"]["certificate_file"],
        "  private_key: %s" % ready["app_certificate"]["private_key_file"],
        "senders: [appcert@example.test]"])
    # The same app with its client secret, as the app's second mailbox (each account needs its own From).
    account("appsecret", smtp["outlook"], app["mailboxes"][1], [
        "oauth2:", "  grant: client_credentials", "  client_id: %s" % app["client_id"],
        "  tenant: %s" % ready["tenant_id"], "  token_url: %s" % ready["app_token_url"],
        "  client_secret: " + q(app["client_secret"]), "senders: [appsecret@example.test]"])
    account("implicit", smtp["implicit_tls"], "implicit@outlook.com",
            ["security: tls", "password: " + q("implicit pw 465"), "senders: ['@implicit.test']"])
    account("untrusted", smtp["untrusted_cert"], "untrusted@outlook.com",
            ["password: " + q("untrusted-cert-secret-4711"), "senders: [u@example.test]"])
    account("wronghost", smtp["wrong_host_cert"], "wronghost@outlook.com",
            ["password: " + q("wrong-host-secret-0815"), "senders: [w@example.test]"])


if __name__ == "__main__":
    main()
