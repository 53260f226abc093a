#!/usr/bin/env bash
# Installs everything the demo and the test suite need on a fresh Debian 12 machine.
# Idempotent: a second run only checks. Python tools go into a venv outside the repository.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${LIVE_SMTP_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/mailops-live-smtp/venv}
PYTHON=${LIVE_SMTP_PYTHON:-python3}

# python3-venv: ensurepip, used by our venv and by the get-pip stand-in below; shellcheck: ansible-test's shellcheck
# sanity test; locales: en_US.UTF-8, the locale ansible-test expects; libnet-ssleay-perl: TLS in swaks; curl, bind9-dnsutils
# (dig): independent clients of the stand-in's token endpoint and DNS responder. app_smtp's tests read its output with
# the applications' own parsers: php-cli (Nextcloud's config.php), prometheus-alertmanager (amtool check-config; its
# daemon does not start without an init system), golang-go + golang-gopkg-ini.v1-dev (go-ini, Grafana's and Gitea's
# ini parser, built in 2 s). The docs stage: pandoc (the Markdown guides into the antsibull-docs site), chromium and
# fonts-dejavu-core (headless screenshots of the site). tests/fleet: debootstrap (the hosts' Debian 12 and 13 trees),
# iproute2 (namespaces, bridge), openssh-client (Ansible's SSH), procps (pgrep); the hosts bring their own sshd, sudo
# and nftables.
apt_packages=(python3 python3-venv postfix msmtp swaks libnet-ssleay-perl curl bind9-dnsutils libsasl2-modules ca-certificates openssl rsync git shellcheck locales
  php-cli prometheus-alertmanager golang-go golang-gopkg-ini.v1-dev
  pandoc chromium fonts-dejavu-core debootstrap iproute2 openssh-client procps)
missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Postfix must not start configuring itself as a mail server; the roles configure it.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  # No daemon may start from a package install (Alertmanager would listen on all interfaces): the tests start what
  # they need, on loopback. policy-rc.d exit 101 tells invoke-rc.d "not allowed"; ours is removed afterwards.
  policy_rc=/usr/sbin/policy-rc.d
  own_policy=false
  if [ ! -e "$policy_rc" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy_rc" && chmod 0755 "$policy_rc" && own_policy=true
  fi
  rc=0
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  [ "$own_policy" = false ] || rm -f "$policy_rc"
  [ "$rc" -eq 0 ] || { echo "setup: apt-get install failed (exit $rc)" >&2; exit "$rc"; }
fi
if ! locale -a 2>/dev/null | grep -qx 'en_US.utf8'; then
  echo "setup: generating locale en_US.UTF-8"
  sed -i 's/^# *\(en_US.UTF-8 UTF-8\)/\1/' /etc/locale.gen
  grep -qx 'en_US.UTF-8 UTF-8' /etc/locale.gen || echo 'en_US.UTF-8 UTF-8' >> /etc/locale.gen
  locale-gen >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "setup: creating venv $VENV"
  mkdir -p "$(dirname "$VENV")"
  "$PYTHON" -m venv "$VENV"
fi
if ! cmp -s "$ROOT/tests/requirements.txt" "$VENV/.requirements.installed" 2>/dev/null; then
  echo "setup: installing Python packages into $VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$ROOT/tests/requirements.txt"
  cp "$ROOT/tests/requirements.txt" "$VENV/.requirements.installed"
fi

# ansible-test bootstraps each venv with a get-pip script it downloads from a host this machine cannot reach.
# A stand-in with the same interface builds pip from the interpreter's own ensurepip instead.
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
# 24_2: ansible-core 2.19; 25_2: 2.20 and 2.21 (the matrix cell, tests/matrix/cells.txt).
for ver in 24_2 25_2; do
  cat > "$cache/get_pip_$ver.py" <<'PY'
"""Offline stand-in for ansible-test's get-pip bootstrap (written by tests/setup.sh)."""
import subprocess
import sys

args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
subprocess.run([sys.executable, "-m", "pip", "install", "-q"] + args, check=True)
PY
done
echo "setup: ready (venv $VENV)"
