#!/usr/bin/env bash
# Builds (once) and prints the path of a cached Debian root filesystem for the fleet test bed.
# Usage: tests/fleet/rootfs.sh RELEASE        (bookworm = Debian 12, trixie = Debian 13)
# The cache is ~/.cache/mailops-live-smtp/rootfs/<release>-<hash>, the hash taken over the release, the package list
# and this script, so a change to any of them builds a new tree. Built in a temporary directory and renamed when
# complete: an interrupted build leaves no half tree behind. Needs root and debootstrap; reaches Debian's registry.
set -euo pipefail

release=${1:?usage: rootfs.sh RELEASE}
cache=${LIVE_SMTP_ROOTFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mailops-live-smtp/rootfs}
mirror=${LIVE_SMTP_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the product needs on a managed host: Python for Ansible, sshd and sudo for the login, Postfix, msmtp (not
# msmtp-mta, which conflicts with postfix), the SASL modules, the CA tooling, nftables for the blocked host, and
# python3-apt, without which Ansible's apt module would try to install it (the hosts have no route out).
packages=python3,python3-apt,openssh-server,sudo,postfix,msmtp,ca-certificates,libsasl2-modules,nftables,bsdutils
# The unprivileged login Ansible uses on every host (passwordless sudo, like a typical deploy account).
login=deploy

key=$( { echo "$release $packages $login"; cat "${BASH_SOURCE[0]}"; } | sha256sum | cut -c1-12)
dest="$cache/$release-$key"
if [ -x "$dest/usr/sbin/sshd" ] && [ -f "$dest/.complete" ]; then
  echo "$dest"
  exit 0
fi
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.build-$release.XXXXXX")
cleanup() {
  [ -n "${tmp:-}" ] || return 0
  # debootstrap mounts proc and sys inside the tree while it works: unmount before removing.
  findmnt -rn -o TARGET | grep -F "$tmp/" | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
echo "rootfs: building Debian $release into $dest (debootstrap, a few minutes)" >&2
start=$SECONDS
# minbase: no init system or daemons beyond what the packages pull in; the bed starts sshd and Postfix itself.
# Postfix installs with Debian's default answer (Internet Site), as on a server where an admin ran apt-get.
if ! debootstrap --variant=minbase --include="$packages" "$release" "$tmp/root" "$mirror" >"$tmp/debootstrap.log" 2>&1; then
  tail -n 30 "$tmp/debootstrap.log" >&2
  [ ! -f "$tmp/root/debootstrap/debootstrap.log" ] || tail -n 30 "$tmp/root/debootstrap/debootstrap.log" >&2
  exit 1
fi
root=$tmp/root
chroot "$root" useradd --create-home --shell /bin/bash "$login"
printf '%s ALL=(ALL) NOPASSWD: ALL\n' "$login" > "$root/etc/sudoers.d/$login"
chmod 0440 "$root/etc/sudoers.d/$login"
chroot "$root" visudo -cq
# Host keys are made per host and per run by the bed; none are shared through the cache.
rm -f "$root"/etc/ssh/ssh_host_*
mkdir -p "$root/run/sshd"
# The hosts have no route out: apt must not try to reach a mirror (the packages above are all there is).
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
# apt's package cache, as on any host where apt has run (else the roles' first package query writes it).
chroot "$root" apt-cache stats >/dev/null
touch "$root/.complete"
rm -rf "$dest"
mv "$root" "$dest"
# Trees of this release built from an older package list or script are not used any more.
for old in "$cache/$release"-*; do
  [ "$old" = "$dest" ] || rm -rf --one-file-system "$old"
done
echo "rootfs: Debian $release ready in $((SECONDS - start)) s: $dest" >&2
echo "$dest"
