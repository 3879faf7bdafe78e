# What mesos-agent-role writes: its maintainer scripts include this, so that config, postinst
# and postrm agree, and purge deletes nothing that is not in this list (see mr_ours).
MR_PKG=mesos-agent-role
# Conffiles of mesos that are taken over with dpkg-divert rather than edited.
MR_DIVERSIONS="/etc/mesos/zk /etc/mesos-slave/work_dir"
# Every file postinst may generate; DIR/* is one file per attribute or resource key.
MR_OUTPUTS="$MR_DIVERSIONS /etc/mesos-slave/ip /etc/mesos-slave/hostname /etc/mesos-slave/containerizers
/etc/mesos-slave/executor_registration_timeout /etc/mesos-slave/attributes/* /etc/mesos-slave/resources/*
/etc/mesos-slave/credential /etc/mesos-slave/http_credentials /etc/mesos-slave/authenticate_http_readwrite
/etc/mesos-roles/secrets/agent-credential /etc/mesos-roles/secrets/agent-http-credentials
/etc/mesos-slave/isolation /etc/mesos-slave/reconfiguration_policy /etc/mesos-slave/gc_delay
/etc/mesos-slave/docker_remove_delay /etc/mesos-slave/docker_config
/etc/mesos-roles/secrets/docker-config.json /etc/mesos-roles/pending-agent-change
/etc/logrotate.d/$MR_PKG"
# A change held back until the agent is drained (docs/debconf.md); mesos-role status shows it.
# shellcheck disable=SC2034 # postinst's
MR_PENDING=/etc/mesos-roles/pending-agent-change
