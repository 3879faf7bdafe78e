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
shutdown -P now
