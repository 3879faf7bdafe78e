# Names and helpers shared by the maintainer scripts of both roles. Each script sets MR_PKG (its
# package name) before including this.

# Our own files: marathon.env, the diverted originals, temp files. Never a directory that the
# Mesos wrapper reads as flags.
MR_ETC=/etc/mesos-roles
# shellcheck disable=SC2034 # not every script that includes this diverts
MR_DIVERTED=$MR_ETC/diverted
# What this package generated (files, dirs) and restarts still owed: for reconfigure and purge.
MR_STATE=/var/lib/mesos-roles/$MR_PKG
# The enablement services had before either role changed them (shared: the roles can follow
# each other on a node).
# shellcheck disable=SC2034 # not every script that includes this changes services
MR_SERVICES=/var/lib/mesos-roles/services

mr_warn() {
	printf '%s: warning: %s\n' "$MR_PKG" "$*" >&2
}

# What dh_installsystemd emits for a changed unit or drop-in (lintian allows daemon-reload).
mr_systemd_reload() {
	if [ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
	fi
}

# PATH was edited since this package last wrote it (see mr_put in render.sh).
mr_edited() {
	[ -f "$1" ] && [ ! -L "$1" ] && [ -f "$MR_STATE/written$1" ] && ! cmp -s "$1" "$MR_STATE/written$1"
}
