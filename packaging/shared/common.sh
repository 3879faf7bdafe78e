# Names and helpers shared by the maintainer scripts of both roles. Each script includes its role's
# paths.sh (MR_PKG, MR_OUTPUTS, ...) before this.

# dpkg runs maintainer scripts with umask 022, dpkg-reconfigure with the caller's: under umask 000
# the role's state would be writable by everyone.
umask 022

# shellcheck disable=SC2034 # not every script that includes this reads lines
MR_NL='
'


# Our own files: marathon.env, the diverted originals, temp files. Never a directory that the
# Mesos wrapper reads as flags.
MR_ETC=/etc/mesos-roles
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

# PATH is a file this package generates (one of MR_OUTPUTS, a key file below a DIR/* of it, or an
# extra flag's file),
# spelled as the package spells it (a key as mr_kv allows it). What the role deletes is checked with this first: its lists of
# files and directories are data on disk, and a path added to them must not be deleted as root.
mr_ours() (
	set -f
	case $1 in
	*//* | */./* | */../* | */. | */.. | */) return 1 ;;
	esac
	for mr_o in $MR_OUTPUTS; do
		case $mr_o in
		*/\*)
			mr_k=${1#"${mr_o%\*}"}
			[ "$mr_k" != "$1" ] || continue
			case $mr_k in
			'' | [.-]* | *[!"$MR_ALNUM"_.-]*) ;;
			*) return 0 ;;
			esac
			;;
		"$1") return 0 ;;
		esac
	done
	# A file of an extra flag: named as one of the daemon's flags (flag-names.sh, in the scripts
	# that delete).
	mr_k=${1#"${MR_FLAG_DIR:-/nonexistent}"/}
	case $mr_k in
	"$1" | */*) return 1 ;;
	esac
	[ ! -d "$1" ] || return 1
	for mr_o in ${MR_FLAG_NAMES:-}; do
		[ "$mr_o" != "$mr_k" ] || return 0
	done
	return 1
)

# DIR is a directory this package may create: one on the way to a file it generates or to the
# diverted name of a conffile it diverts.
mr_our_dir() (
	set -f
	case $1 in
	'' | *//* | */./* | */../* | */. | */.. | */) return 1 ;;
	esac
	for mr_o in $MR_OUTPUTS; do
		case $mr_o in
		"$1"/*) return 0 ;;
		esac
	done
	for mr_o in $MR_DIVERSIONS; do
		case $MR_DIVERTED$mr_o in
		"$1"/*) return 0 ;;
		esac
	done
	return 1
)

# One line for an entry of a state list (files, dirs or services) that is not the package's own:
# it is left alone. (answers.sh has mr__q: every script includes it after this.)
mr_not_ours() { # LIST ENTRY
	case $1 in
	services) mr_nl_list=$MR_SERVICES ;;
	*) mr_nl_list=$MR_STATE/$1 ;;
	esac
	mr_warn "$mr_nl_list lists $(mr__q "$2"), which $MR_PKG does not write: left it alone"
}
