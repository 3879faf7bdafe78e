# What mesos-master-role writes: its maintainer scripts include this, so that config, postinst
# and postrm agree, and purge deletes nothing that is not in this list (see mr_ours).
MR_PKG=mesos-master-role
# Conffiles of mesos that are taken over with dpkg-divert rather than edited.
MR_DIVERSIONS="/etc/mesos/zk /etc/mesos-master/quorum /etc/mesos-master/work_dir"
ZK_CONF=/etc/zookeeper/conf_mesos-roles
MARATHON_ENV=/etc/mesos-roles/marathon.env
MARATHON_DROPIN=/etc/systemd/system/marathon.service.d/mesos-role.conf
# The timer that keeps the ACLs of the leader election closed (docs/security.md).
ZK_ACL=/etc/mesos-roles/zk-acl
ZK_ACL_UNIT=mesos-roles-zk-acl
# Every file postinst may generate; the secrets are described in docs/security.md.
MR_OUTPUTS="$MR_DIVERSIONS /etc/mesos-master/cluster /etc/mesos-master/hostname /etc/mesos-master/ip
$ZK_CONF/zoo.cfg $ZK_CONF/myid $MARATHON_ENV $MARATHON_DROPIN /etc/marathon/conf/hostname
/etc/mesos-master/credentials /etc/mesos-master/authenticate_agents
/etc/mesos-master/authenticate_frameworks /etc/mesos-master/authenticate_http_readwrite
/etc/mesos-roles/secrets/mesos-credentials /etc/mesos-roles/secrets/mesos-zk
/etc/mesos-roles/secrets/agent-secret /etc/mesos-roles/secrets/marathon-secret
/etc/mesos-roles/secrets/marathon.env $ZK_ACL /etc/systemd/system/$ZK_ACL_UNIT.service
/etc/systemd/system/$ZK_ACL_UNIT.timer $ZK_CONF/environment
/etc/logrotate.d/$MR_PKG"
