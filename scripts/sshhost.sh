#!/usr/bin/env bash
# An OpenSSH server on 127.0.0.1:PORT standing in for a managed host in the browser tests, as
# server/tests/common/ssh_hosts.rs does for the Rust tests (there in network namespaces): its
# own /etc, /home and /srv (a private mount namespace), the user `deploy`, power commands that
# only note their call, and root logging in with a generated key.
#   start DIR PORT   prints the path of the client's private key (SSHHOST_CLIENT_KEY: use that key)
#   stop DIR
set -euo pipefail
cmd=$1 dir=$2
case $cmd in
start)
  port=$3
  rm -rf "$dir"
  mkdir -p "$dir/srv" "$dir/home" "$dir/shim" /run/sshd
  cp -a /etc "$dir/etc"
  ssh-keygen -q -t ed25519 -N '' -C '' -f "$dir/hostkey"
  # SSHHOST_CLIENT_KEY: a private key (with its .pub) to accept instead of a new one.
  client=${SSHHOST_CLIENT_KEY:-$dir/client}
  [ -n "${SSHHOST_CLIENT_KEY:-}" ] || ssh-keygen -q -t ed25519 -N '' -C '' -f "$client"
  cp "$client.pub" "$dir/authorized_keys"
  for c in shutdown reboot poweroff halt; do
    printf '#!/bin/sh\necho "%s $*" >> /srv/.power\n' "$c" > "$dir/shim/$c"
    chmod 755 "$dir/shim/$c"
  done
  cat > "$dir/sshd.conf" <<CONF
ListenAddress 127.0.0.1
Port $port
HostKey $dir/hostkey
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys .ssh/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
CONF
  setsid unshare --mount --propagation private sh -c "mount --bind '$dir/etc' /etc; mount --bind '$dir/home' /home; \
    mount --bind '$dir/srv' /srv; mount --bind '$dir/shim' /usr/local/sbin; \
    id deploy >/dev/null 2>&1 || useradd -m -s /bin/bash deploy; exec /usr/sbin/sshd -D -e -f '$dir/sshd.conf'" \
    > "$dir/sshd.log" 2>&1 < /dev/null &
  echo $! > "$dir/sshd.launcher"
  for _ in $(seq 100); do
    grep -q "Server listening" "$dir/sshd.log" 2>/dev/null && break
    sleep 0.1
  done
  grep -q "Server listening" "$dir/sshd.log" || { cat "$dir/sshd.log" >&2; exit 1; }
  echo "$client"
  ;;
stop)
  if [ -f "$dir/sshd.launcher" ]; then kill "$(cat "$dir/sshd.launcher")" 2>/dev/null || true; fi
  ;;
*) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
