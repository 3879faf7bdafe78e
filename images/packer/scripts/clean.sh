#!/bin/sh
# Golden-image hygiene (root), as `cargo xtask image` leaves its roots: no Docker state or engine id,
# no machine-id, no SSH host keys, no apt lists, no logs, cloud-init ready to run again.
set -eu

# Docker ran while provisioning: stop it, then drop its state (engine id included).
systemctl stop docker.service docker.socket containerd.service 2>/dev/null || true
rm -rf /var/lib/docker /var/lib/containerd

apt-get clean
rm -rf /var/lib/apt/lists/*
cloud-init clean --logs --seed
rm -f /etc/ssh/ssh_host_*
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
find /var/log -type f -delete
rm -f /root/.bash_history
echo "clean.sh: the image is clean"
