# What mesos-master-role writes: its maintainer scripts include this, so that config, postinst
# and postrm agree, and purge deletes nothing that is not in this list (see mr_ours).
MR_PKG=mesos-master-role
# Conffiles of mesos that are taken over with dpkg-divert rather than edited.
MR_DIVERSIONS="/etc/mesos/zk /etc/mesos-master/quorum /etc/mesos-master/work_dir"
ZK_CONF=/etc/zookeeper/conf_mesos-roles
MARATHON_ENV=/etc/mesos-roles/marathon.env
MARATHON_DROPIN=/etc/systemd/system/marathon.service.d/mesos-role.conf
# Every file postinst may generate.
MR_OUTPUTS="$MR_DIVERSIONS /etc/mesos-master/cluster /etc/mesos-master/hostname /etc/mesos-master/ip
$ZK_CONF/zoo.cfg $ZK_CONF/myid $MARATHON_ENV $MARATHON_DROPIN /etc/marathon/conf/hostname"
