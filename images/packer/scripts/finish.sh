#!/bin/sh
# Packer's qemu shutdown command (root): remove the build user of seed/user-data and what cloud-init
# wrote for it, then power off. Last, because Packer is logged in as that user until here.
set -eu
userdel -rf packer
rm -f /etc/sudoers.d/90-cloud-init-users
# seed/user-data allowed password logins; the nodes' seeds say again what they want.
sed -i '/^PasswordAuthentication yes$/d' /etc/ssh/sshd_config
rm -f /etc/ssh/sshd_config.d/50-cloud-init.conf
rm -rf /var/log/journal/*
rm -f "$0"
# The blocks of every removed file go back to qemu (the template's disk_discard = "unmap"), so
# the conversion to the compressed qcow2 skips them. A disk that cannot discard only stays larger.
sync
fstrim --all || echo "finish.sh: fstrim failed: the image is larger, not wrong" >&2
shutdown -P now
