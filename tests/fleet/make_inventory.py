"""Write the fleet's inventory: hosts, groups, connection settings, accounts, and the secrets for ansible-vault.

usage: make_inventory.py accounts OUT_JSON                  the stand-in's --accounts file
       make_inventory.py inventory READY_JSON RUN_DIR HOSTS_JSON

HOSTS_JSON: [{"name", "address", "groups": [...]}]. Writes RUN_DIR/inventory/hosts.yml, group_vars/all/main.yml,
group_vars/app_smtp.yml, group_vars/msmtp.yml, group_vars/migrate.yml and RUN_DIR/secrets.yml (plaintext, 0600:
run.sh encrypts it into group_vars/all/vault.yml with ansible-vault and removes it). Prints the expectations for
verify.py as JSON on stdout (0600 file in the run dir: it holds the secrets the leak checks look for).
"""

import json
import os
import secrets as random_secrets
import sys
import uuid

# A password an admin could have: quotes, backslash, percent, hash, a Jinja2 start, non-ASCII (byte-exact test).
PASSWORD = 'Fleet pass #1 % "q" \'a\' {{ not_templated }} \\ \u00e9'
OAUTH_SENDERS = ['@oauth.fleet.test']
# The migration (group migrate) moves the tenant mailbox from its password to app-only OAuth2: an app of the tenant's
# directory, named by its verified domain, granted SMTP.SendAsApp and that mailbox.
APP_TENANT = 'contoso.onmicrosoft.com'


def q(value):
    """A YAML double-quoted scalar (JSON strings are valid YAML), tagged !unsafe: Ansible must not template it."""
    return '!unsafe ' + json.dumps(value, ensure_ascii=False)


def main():
    if sys.argv[1] == 'accounts':
        # The tenant mailbox logs in with the password; the personal one gets a client id and refresh token from
        # the stand-in (ready.json). One app-only app, granted the tenant mailbox, with a secret shaped like Entra's.
        app_secret = random_secrets.token_urlsafe(3)[:3] + "8Q~" + random_secrets.token_urlsafe(30)[:34]
        write(sys.argv[2], [json.dumps({
            'accounts': [{'user': 'alerts@contoso.com', 'password': PASSWORD}, {'user': 'alerts@outlook.com'}],
            'apps': [{'name': 'fleet-relay', 'client_id': str(uuid.uuid4()), 'secrets': [{'value': app_secret}],
                      'mailboxes': ['alerts@contoso.com']}]})])
        return
    ready = json.load(open(sys.argv[2], encoding='utf-8'))
    run = sys.argv[3]
    hosts = json.load(open(sys.argv[4], encoding='utf-8'))
    tenant, personal = ready['account_list'][0], ready['account_list'][1]
    app = ready['apps'][0]
    inventory = os.path.join(run, 'inventory')
    os.makedirs(os.path.join(inventory, 'group_vars', 'all'), exist_ok=True)

    groups = {}
    for host in hosts:
        for group in host['groups']:
            groups.setdefault(group, []).append(host['name'])
    lines = ['---', 'all:', '  hosts:']
    for host in hosts:
        lines.append('    %s: {ansible_host: %s}' % (host['name'], host['address']))
    lines.append('  children:')
    for group, names in sorted(groups.items()):
        lines.append('    %s:' % group)
        lines.append('      hosts:')
        lines.extend('        %s:' % name for name in names)
    write(os.path.join(inventory, 'hosts.yml'), lines)

    # Connection: the unprivileged login over the machine's own OpenSSH client, become for root. No interpreter
    # is set: Ansible discovers /usr/bin/python3 on each release.
    ssh_args = '-o UserKnownHostsFile=%s/known_hosts -o StrictHostKeyChecking=yes -o ConnectTimeout=10' % run
    write(os.path.join(inventory, 'group_vars', 'all', 'main.yml'), [
        '---',
        'ansible_user: deploy',
        'ansible_ssh_private_key_file: %s/id_ed25519' % run,
        'ansible_ssh_common_args: %s' % json.dumps(ssh_args),
        'ansible_become: true',
        '# The shared account vocabulary; the secrets come from the vaulted vault.yml beside this file.',
        'live_smtp_accounts:',
        '  - name: tenant',
        '    host: smtp-mail.outlook.com',
        '    username: %s' % tenant['user'],
        '    password: "{{ vault_fleet_password }}"',
        '  - name: personal',
        '    username: %s' % personal['user'],
        '    oauth2:',
        '      client_id: %s' % personal['client_id'],
        '      refresh_token: "{{ vault_fleet_refresh_token }}"',
        '    senders: %s' % json.dumps(OAUTH_SENDERS),
        '# A blocked port must not hold the check for long.',
        'live_smtp_check_timeout: 5',
    ])
    write(os.path.join(inventory, 'group_vars', 'msmtp.yml'), [
        '---',
        '# The migration moves these hosts\' msmtp, not a Postfix.',
        'live_smtp_migrate_via: msmtp',
    ])
    write(os.path.join(inventory, 'group_vars', 'migrate.yml'), [
        '---',
        '# The migration playbook: the tenant mailbox moves from its password to app-only OAuth2 (client',
        '# credentials); the personal account stays as it is.',
        'live_smtp_migrate_accounts:',
        '  - name: tenant',
        '    host: smtp-mail.outlook.com',
        '    username: %s' % tenant['user'],
        '    oauth2:',
        '      grant: client_credentials',
        '      client_id: %s' % app['client_id'],
        '      client_secret: "{{ vault_fleet_client_secret }}"',
        '      tenant: %s' % APP_TENANT,
        '  - name: personal',
        '    username: %s' % personal['user'],
        '    oauth2:',
        '      client_id: %s' % personal['client_id'],
        '      refresh_token: "{{ vault_fleet_refresh_token }}"',
        '    senders: %s' % json.dumps(OAUTH_SENDERS),
    ])
    write(os.path.join(inventory, 'group_vars', 'app_smtp.yml'), [
        '---',
        '# An application that reads SMTP_* from an environment file (sourced by sh): once with the password',
        '# account directly, once through the host\'s Postfix, which relays with OAuth2.',
        'app_smtp_apps:',
        '  - name: app-direct',
        '    preset: env',
        '    account: tenant',
        '    path: /etc/default/fleet-app-direct',
        '    dotenv_dialect: shell',
        '  - name: app-relay',
        '    preset: env',
        '    account: personal',
        '    delivery: local_relay',
        '    path: /etc/default/fleet-app-relay',
        '    dotenv_dialect: shell',
    ])
    secrets = os.path.join(run, 'secrets.yml')
    fd = os.open(secrets, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, 'w', encoding='utf-8') as handle:
        handle.write('---\nvault_fleet_password: %s\nvault_fleet_refresh_token: %s\nvault_fleet_client_secret: %s\n'
                     % (q(PASSWORD), q(personal['refresh_token']), q(app['client_secret'])))
    json.dump({'password': PASSWORD, 'tenant': tenant['user'], 'personal': personal['user'],
               'oauth_sender': 'app' + OAUTH_SENDERS[0], 'app_client_id': app['client_id'],
               'secrets': [PASSWORD, personal['refresh_token'], app['client_secret']]}, sys.stdout)


def write(path, lines):
    with open(path, 'w', encoding='utf-8') as handle:
        handle.write('\n'.join(lines) + '\n')


if __name__ == '__main__':
    main()
