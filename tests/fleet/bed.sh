# shellcheck shell=bash
# The fleet test bed: Debian hosts, each in its own network namespace with its own root filesystem (a copy-on-write
# overlay over a cached debootstrap tree) and its own sshd, on a bridge this file creates. Sourced by run.sh.
#
#   fleet_clean_leftovers      stops and removes what an earlier run left (namespaces lsf-*, links lsfleet0/lsfv-*,
#                              their processes, old run dirs); fails if something stays
#   fleet_bridge_up            the bridge lsfleet0 with 198.18.0.1/24 (the control node's side)
#   fleet_host_up NAME RELEASE ADDRESS [blocked]
#                              a host: netns lsf-NAME, address ADDRESS/24, no route out, hostname NAME.fleet.test,
#                              sshd on ADDRESS:22 for the login "deploy" (passwordless sudo) with this run's key; its
#                              resolv.conf names the stand-in's DNS responder ($FLEET_DNS); the stand-in's CA
#                              ($FLEET_CA) is installed with update-ca-certificates inside the host. "blocked": the
#                              host's own nftables drops every outbound connection to port 587.
#   fleet_netns_up NAME ADDRESS  a bare namespace on the bridge (for the stand-in)
#   fleet_down                 stops every process in the bed's namespaces, removes namespaces, links and the run dir
#   fleet_exec NAME CMD...     runs CMD inside host NAME (its namespaces and root), as root
#
# Mounts (overlay, proc, dev, run) live in a private mount namespace per host, so they vanish with its processes.
# Variables: FLEET_RUN (this run's directory), FLEET_ROOTFS_<release> (root filesystems), FLEET_DNS, FLEET_CA.

FLEET_BRIDGE=lsfleet0
FLEET_PREFIX=lsf-
FLEET_CONTROLLER=198.18.0.1
FLEET_LOGIN=deploy

fleet_log() { echo "fleet: $*" >&2; }

_fleet_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep "^$FLEET_PREFIX" || true; }

_fleet_kill_namespace() {  # every process in the namespace: TERM, then KILL after 5 s
  local ns=$1 pids waited=0
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086  # a list of process ids
  kill -TERM $pids 2>/dev/null || true
  while [ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && [ "$waited" -lt 50 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  pids=$(ip netns pids "$ns" 2>/dev/null || true)
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
}

fleet_clean_leftovers() {
  local ns link dir found=0
  for ns in $(_fleet_namespaces); do
    found=1
    fleet_log "leftover namespace $ns from an earlier run: stopping its processes and removing it"
    _fleet_kill_namespace "$ns"
    ip netns delete "$ns" 2>/dev/null || true
  done
  for link in $(ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^($FLEET_BRIDGE|lsfv-)" || true); do
    found=1
    fleet_log "leftover link $link: removing it"
    ip link delete "$link" 2>/dev/null || true
  done
  for dir in /tmp/mailops-live-smtp-fleet.*; do
    [ -d "$dir" ] || continue
    [ "$dir" != "${FLEET_RUN:-}" ] || continue
    found=1
    fleet_log "leftover run dir $dir: removing it"
    _fleet_stop_standin_of "$dir"
    rm -rf --one-file-system "$dir"
  done
  [ "$found" -eq 0 ] || sleep 0.5
  if [ -n "$(_fleet_namespaces)" ] || ip link show "$FLEET_BRIDGE" >/dev/null 2>&1; then
    fleet_log "leftovers of an earlier run remain and cannot be removed: refusing to start"
    return 1
  fi
}

_fleet_stop_standin_of() {  # a stand-in left by an earlier run of the bed (its pid file in the run dir)
  local pidfile=$1/standin/standin.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && grep -q standin.py "/proc/$pid/cmdline" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
  fi
}

fleet_bridge_up() {
  ip link add "$FLEET_BRIDGE" type bridge
  ip addr add "$FLEET_CONTROLLER/24" dev "$FLEET_BRIDGE"
  ip link set "$FLEET_BRIDGE" up
}

fleet_netns_up() {  # NAME ADDRESS: a namespace with one leg on the bridge and no route out
  local name=$1 address=$2 ns=$FLEET_PREFIX$1 veth=lsfv-$1
  ip netns add "$ns"
  ip link add "$veth" type veth peer name eth0 netns "$ns"
  ip link set "$veth" master "$FLEET_BRIDGE" up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$address/24" dev eth0
  ip -n "$ns" link set eth0 up
}

fleet_host_up() {
  local name=$1 release=$2 address=$3 blocked=${4:-} rootfs var dir uid
  var=FLEET_ROOTFS_$release
  rootfs=${!var}
  dir=$FLEET_RUN/hosts/$name
  mkdir -p "$dir/upper" "$dir/work" "$dir/merged" "$dir/files/etc/ssh" "$dir/files/usr/local/share/ca-certificates"
  fleet_netns_up "$name" "$address"

  # What this host gets on top of the shared tree, copied in before sshd starts.
  ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/files/etc/ssh/ssh_host_ed25519_key"
  printf '%s %s\n' "$address" "$(cut -d' ' -f1,2 "$dir/files/etc/ssh/ssh_host_ed25519_key.pub")" >> "$FLEET_RUN/known_hosts"
  printf 'nameserver %s\n' "$FLEET_DNS" > "$dir/files/etc/resolv.conf"
  printf '127.0.0.1 localhost\n%s %s.fleet.test %s\n' "$address" "$name" "$name" > "$dir/files/etc/hosts"
  printf '%s.fleet.test\n' "$name" > "$dir/files/etc/hostname"
  printf '%s.fleet.test\n' "$name" > "$dir/files/etc/mailname"
  # The stand-in's CA, where an admin puts a private CA on Debian; update-ca-certificates runs inside the host.
  cp "$FLEET_CA" "$dir/files/usr/local/share/ca-certificates/live-smtp-standin.crt"
  if [ "$blocked" = blocked ]; then
    printf '%s\n' 'table inet fleet_egress {' '  chain output {' '    type filter hook output priority 0; policy accept;' \
      '    tcp dport 587 drop' '  }' '}' > "$dir/files/etc/nftables-fleet.conf"
  fi
  uid=$(awk -F: -v u="$FLEET_LOGIN" '$1 == u {print $3":"$4}' "$rootfs/etc/passwd")
  [ -n "$uid" ] || { fleet_log "$rootfs has no user $FLEET_LOGIN"; return 1; }

  # PID 1 of the host's own pid, mount and UTS namespaces (inside its network namespace): mount the overlay and the
  # kernel file systems, install the files, then become sshd. When it ends, the kernel ends every process of the host
  # and drops its mounts.
  # shellcheck disable=SC2016  # expanded by the inner shell
  ip netns exec "$FLEET_PREFIX$name" unshare --pid --fork --mount --uts --propagation private \
    env FLEET_ROOTFS="$rootfs" FLEET_DIR="$dir" FLEET_NAME="$name" FLEET_ADDRESS="$address" FLEET_UID="$uid" \
    FLEET_LOGIN="$FLEET_LOGIN" FLEET_KEY="$FLEET_RUN/id_ed25519.pub" /bin/sh -euc '
m=$FLEET_DIR/merged
mount -t overlay overlay -o "lowerdir=$FLEET_ROOTFS,upperdir=$FLEET_DIR/upper,workdir=$FLEET_DIR/work" "$m"
mount -t proc proc "$m/proc"
mount -t sysfs sysfs "$m/sys"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$m/dev"
mknod -m 0666 "$m/dev/null" c 1 3
mknod -m 0666 "$m/dev/zero" c 1 5
mknod -m 0666 "$m/dev/full" c 1 7
mknod -m 0666 "$m/dev/random" c 1 8
mknod -m 0666 "$m/dev/urandom" c 1 9
mknod -m 0666 "$m/dev/tty" c 5 0
mkdir -p "$m/dev/pts" "$m/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$m/dev/pts"
ln -s pts/ptmx "$m/dev/ptmx"
ln -s /proc/self/fd "$m/dev/fd"
mount -t tmpfs -o mode=1777 tmpfs "$m/dev/shm"
mount -t tmpfs -o mode=0755,nosuid tmpfs "$m/run"
mkdir -p "$m/run/sshd" "$m/run/lock"
hostname "$FLEET_NAME.fleet.test"
cp -a "$FLEET_DIR/files/." "$m/"
chmod 0600 "$m/etc/ssh/ssh_host_ed25519_key"
home=$m/home/$FLEET_LOGIN
install -d -m 0700 -o "${FLEET_UID%:*}" -g "${FLEET_UID#*:}" "$home/.ssh"
install -m 0600 -o "${FLEET_UID%:*}" -g "${FLEET_UID#*:}" "$FLEET_KEY" "$home/.ssh/authorized_keys"
# A locked account (useradd leaves "!") cannot log in with a key when sshd does not use PAM.
chroot "$m" usermod -p "*" "$FLEET_LOGIN"
chroot "$m" update-ca-certificates >/dev/null 2>&1
[ ! -f "$m/etc/nftables-fleet.conf" ] || chroot "$m" nft -f /etc/nftables-fleet.conf
# No PAM: pam_loginuid needs an audit-capable init. One host key, made for this host and this run.
exec chroot "$m" /usr/sbin/sshd -D -e -o UsePAM=no -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
  -o "ListenAddress=$FLEET_ADDRESS" -o HostKey=/etc/ssh/ssh_host_ed25519_key -o PidFile=/run/sshd.pid \
  -o MaxStartups=100:30:200 -o MaxSessions=100 -o AllowUsers=$FLEET_LOGIN
' </dev/null >>"$dir/host.log" 2>&1 &
  echo $! > "$dir/pid"
}

fleet_wait_ssh() {  # ADDRESS...: wait until every sshd answers (at most 60 s)
  local address waited
  for address in "$@"; do
    waited=0
    until (exec 3<>"/dev/tcp/$address/22") 2>/dev/null; do
      if [ "$waited" -ge 600 ]; then
        fleet_log "sshd on $address does not answer after 60 s"
        return 1
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
  done
}

fleet_exec() {  # NAME CMD...: inside the host (its namespaces and root file system)
  local name=$1 pid
  shift
  # The host's PID 1 (sshd) is the child of unshare, whose pid was recorded (ip netns exec became unshare).
  pid=$(pgrep -P "$(cat "$FLEET_RUN/hosts/$name/pid")" | head -n1)
  nsenter --target "$pid" --mount --uts --net --pid --root --wd -- "$@"
}

fleet_down() {
  local ns
  for ns in $(_fleet_namespaces); do
    _fleet_kill_namespace "$ns"
    ip netns delete "$ns" 2>/dev/null || true
  done
  ip link delete "$FLEET_BRIDGE" 2>/dev/null || true
  # veth ends on the bridge go with their namespaces; any left over goes now.
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^lsfv-' | xargs -r -n1 ip link delete 2>/dev/null || true
}
