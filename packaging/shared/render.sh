# Rendering in postinst: answers are checked first, then each file is written whole (a temp file
# in $MR_ETC, then mv) and only when its content changes, and listed for reconfigure and purge.

# mr_valid QUESTION CHECK [ARG] ANSWER: MR_OUT gets the normal form. A bad answer ends the
# postinst with one message, before anything is written.
mr_valid() {
	mr_valid_q=$1
	shift
	mr_check "$@" && return 0
	mr_refuse "$mr_valid_q" "$MR_ERR"
}

# mr_refuse QUESTION MESSAGE: end the postinst with the one message of a bad answer.
mr_refuse() {
	mr_valid_type=string
	case $1 in
	*-secret | */docker-registries) mr_valid_type=password ;;
	esac
	printf '%s: refused %s: %s. Set a good answer with debconf-set-selections ("%s %s %s ..."), then run dpkg --configure -a (or dpkg-reconfigure -fnoninteractive %s).\n' \
		"$MR_PKG" "$1" "$2" "$MR_PKG" "$1" "$mr_valid_type" "$MR_PKG" >&2
	exit 1
}

# The one line of an unconfigured (inert) install.
mr_inert() {
	printf '%s: inert: %s/masters is empty, so nothing was configured. To configure it: echo "%s %s/masters string 10.0.0.1,10.0.0.2,10.0.0.3" | debconf-set-selections; dpkg-reconfigure -fnoninteractive %s\n' \
		"$MR_PKG" "$MR_PKG" "$MR_PKG" "$MR_PKG" "$MR_PKG"
}

# MR_CHANGED holds the services whose configuration changed, as " svc svc ".
# Split by the shell, not by tr in a command substitution: this runs once a file, and every
# process forked costs under emulation (a first boot in a TCG VM).
mr_changed() { # SERVICE[,SERVICE...]
	mr_cs_ifs=$IFS
	IFS=", 	$MR_NL"
	for mr_s in $1; do
		[ -n "$mr_s" ] || continue
		case $MR_CHANGED in
		*" $mr_s "*) ;;
		*) MR_CHANGED="$MR_CHANGED$mr_s " ;;
		esac
	done
	IFS=$mr_cs_ifs
}

mr_is_changed() {
	case $MR_CHANGED in
	*" $1 "*) return 0 ;;
	esac
	return 1
}

# mkdir -p that lists the directories it creates, so that purge removes them and only them.
mr_mkdir() {
	if [ -z "$1" ] || [ -d "$1" ]; then
		return 0
	fi
	mr_mkdir "${1%/*}"
	mkdir -m 0755 "$1"
	grep -qxF "$1" "$MR_STATE/dirs" 2>/dev/null || printf '%s\n' "$1" >>"$MR_STATE/dirs"
}

mr_begin() {
	mr_divert_check
	mr_state_dir
	mr_mkdir "$MR_ETC"
	MR_TMP=$(mktemp -d "$MR_ETC/.run.XXXXXX")
	trap 'rm -rf "$MR_TMP"' EXIT
	: >"$MR_TMP/files"
	MR_CHANGED=' '
	# Restarts that an interrupted earlier run still owes.
	if [ -f "$MR_STATE/restart" ]; then
		mr_changed "$(tr '\n' , <"$MR_STATE/restart")"
	fi
}

# The state is the roles' alone: root's, writable by root only, with nothing in it that the roles
# did not make (a symbolic link would send what is written there elsewhere). A state that an
# earlier version left open (configured under a loose umask) is closed, and said. No recursive
# chmod or chown, which would follow a hard link someone put there: directories are closed top
# down, each checked not to be a link once its parent is closed (nobody else can swap it then);
# then, with nothing left open, what is not a plain, root-owned file with one link is removed.
mr_state_dir() {
	mr_sd=${MR_STATE%/*}
	for mr_d in "$mr_sd" "$MR_STATE"; do
		if [ -L "$mr_d" ] || { [ -e "$mr_d" ] && [ ! -d "$mr_d" ]; }; then
			printf '%s: %s is not a directory but the state of %s should be there: move it away, then run dpkg --configure -a\n' \
				"$MR_PKG" "$mr_d" "$MR_PKG" >&2
			exit 1
		fi
		[ -d "$mr_d" ] || mkdir -m 0755 "$mr_d"
	done
	[ -n "$(find "$mr_sd" \( ! -user 0 -o ! -group 0 -o -perm /022 -o \( ! -type d ! -type f \) -o -links +1 ! -type d \) -print -quit)" ] || return 0
	mr_warn "$mr_sd was open to others (an earlier run under a loose umask): made it root's alone, and removed what the roles did not make"
	find "$mr_sd" -name "*$MR_NL*" -prune -o -type d -print | while IFS= read -r mr_p; do
		[ ! -L "$mr_p" ] || continue
		chown 0:0 "$mr_p"
		chmod 0755 "$mr_p"
	done
	find "$mr_sd" -depth -name "*$MR_NL*" -exec rm -rf {} +
	find "$mr_sd" ! -type d | while IFS= read -r mr_p; do
		if [ -f "$mr_p" ] && [ ! -L "$mr_p" ] && [ "$(stat -c %h:%u:%g "$mr_p")" = 1:0:0 ]; then
			chmod 0644 "$mr_p"
		else
			rm -f "$mr_p"
			mr_warn "removed $(mr__q "$mr_p") from the roles' state (they did not make it)"
		fi
	done
}

# The diversion of PATH, if it is not ours: empty, the other role's (removed but not purged:
# a role switch) with our diverted name, or another package's. Prints OWNER, or OWNER! when it
# cannot be taken over.
mr_div_state() {
	mr_div_owner=$(dpkg-divert --listpackage "$1")
	case $mr_div_owner in
	'' | "$MR_PKG") ;;
	mesos-master-role | mesos-agent-role)
		[ "$(dpkg-divert --truename "$1")" = "$MR_DIVERTED$1" ] || mr_div_owner="$mr_div_owner!"
		;;
	*) mr_div_owner="$mr_div_owner!" ;;
	esac
	printf '%s\n' "$mr_div_owner"
}

# Before anything is written: every path to divert can be taken over.
mr_divert_check() {
	for mr_path in $MR_DIVERSIONS; do
		case $(mr_div_state "$mr_path") in
		*!)
			printf '%s: %s is already diverted by %s; remove that diversion (dpkg-divert --remove) or that package, then run dpkg --configure -a.\n' \
				"$MR_PKG" "$mr_path" "$(dpkg-divert --listpackage "$mr_path")" >&2
			exit 1
			;;
		esac
	done
}

# Take PATH over from the package that ships it as a conffile: the original moves to
# $MR_DIVERTED/PATH (outside the directories the Mesos wrapper scans) and comes back on purge.
mr_divert() {
	mr_div_to=$MR_DIVERTED$1
	mr_div_owner=$(mr_div_state "$1")
	case $mr_div_owner in
	"$MR_PKG") ;;
	'')
		mr_mkdir "${mr_div_to%/*}"
		dpkg-divert --package "$MR_PKG" --rename --divert "$mr_div_to" --add "$1" >/dev/null
		;;
	*)
		# The other role's, with the same diverted name (checked by mr_divert_check): take it
		# over as it is; the original stays where it is.
		dpkg-divert --package "$mr_div_owner" --no-rename --remove "$1" >/dev/null
		dpkg-divert --package "$MR_PKG" --no-rename --divert "$mr_div_to" --add "$1" >/dev/null
		;;
	esac
}

# mr_put PATH SERVICES CONTENT [CHECK]: PATH gets CONTENT and a newline. MR_WROTE=1 when it
# changed, and SERVICES (comma-separated; a name no unit has, such as logrotate, for a file no
# daemon reads: the lists need one) are restarted. CHECK FILE, if given, vets a merge (one line on stderr says why it is refused).
# What was written is kept under $MR_STATE/written: a file that differs from it was edited by
# the admin. An edit stays; a new rendering is merged into it with diff3 when that is clean, and
# otherwise goes to $MR_STATE/proposed, named in one line (ucf cannot be used: it leaves
# .ucf-* files beside the file, and the Mesos wrapper reads every file in its directories).
# diff3 -E: a change made alike on both sides (an edit that config read back) is no conflict.
# shellcheck disable=SC2034 # MR_WROTE is for the callers
mr_put() {
	case " $MR_DIVERSIONS " in
	*" $1 "*) mr_divert "$1" ;;
	esac
	# Written twice rather than copied, and neither chmod-ed: both are 0644 under the scripts'
	# umask 022 (common.sh), and so is the new file when the admin's is copied or merged into it.
	# Here and below, a step that has nothing to do forks nothing (each process costs on a first
	# boot under emulation).
	printf '%s\n' "$3" >"$MR_TMP/new"
	printf '%s\n' "$3" >"$MR_TMP/rendered"
	mr_last=$MR_STATE/written$1
	mr_prop=$MR_STATE/proposed$1
	mr_keep='' mr_why=''
	if mr_edited "$1"; then
		if cmp -s "$MR_TMP/rendered" "$mr_last"; then
			# Nothing new to bring in.
			cp "$1" "$MR_TMP/new"
		elif diff3 -m -E "$1" "$mr_last" "$MR_TMP/rendered" >"$MR_TMP/new" 2>/dev/null &&
			mr_why=$({ [ -z "${4:-}" ] || "$4" "$MR_TMP/new"; } 2>&1); then
			cmp -s "$1" "$MR_TMP/new" ||
				printf '%s: %s: merged your local edits with the new configuration (what %s wrote before: %s)\n' \
					"$MR_PKG" "$1" "$MR_PKG" "$mr_last"
		else
			# Both changed the same lines: the admin's file stays, the new one waits beside.
			mkdir -p "${mr_prop%/*}"
			cp "$MR_TMP/rendered" "$mr_prop"
			cp "$1" "$MR_TMP/new"
			mr_keep=1
			printf '%s: %s has local edits that conflict with the new configuration%s: kept it; the new version is %s (merge it by hand, then dpkg-reconfigure %s)\n' \
				"$MR_PKG" "$1" "${mr_why:+ ($mr_why)}" "$mr_prop" "$MR_PKG"
		fi
	fi
	MR_WROTE=
	if [ -L "$1" ] || ! cmp -s "$MR_TMP/new" "$1"; then
		mr_mkdir "${1%/*}"
		mv -f "$MR_TMP/new" "$1"
		MR_WROTE=1
		mr_changed "$2"
	fi
	if [ -z "$mr_keep" ]; then
		if [ -e "$mr_prop" ] || [ -L "$mr_prop" ]; then rm -f "$mr_prop"; fi
		[ -d "${mr_last%/*}" ] || mkdir -p "${mr_last%/*}"
		mv -f "$MR_TMP/rendered" "$mr_last"
	fi
	printf '%s %s\n' "$2" "$1" >>"$MR_TMP/files"
}

# mr_finish QUESTION=ANSWER...: files generated last time but not this time (a removed
# attribute, an ip that no longer resolves here) go; then the lists and the answers (as debconf
# held them) are saved.
mr_finish() {
	sed 's/^[^ ]* //' "$MR_TMP/files" >"$MR_TMP/paths"
	if [ -f "$MR_STATE/files" ]; then
		while read -r mr_svc mr_path; do
			if grep -qxF "$mr_path" "$MR_TMP/paths"; then
				continue
			elif mr_ours "$mr_path"; then
				rm -f "$mr_path" "$MR_STATE/written$mr_path" "$MR_STATE/proposed$mr_path"
				mr_changed "$mr_svc"
			else
				mr_not_ours files "$mr_path"
			fi
		done <"$MR_STATE/files"
	fi
	mv -f "$MR_TMP/files" "$MR_STATE/files"
	# The answers these files were rendered from: config tells a later answer from an edit.
	printf '%s\n' "$@" >"$MR_TMP/answers"
	mv -f "$MR_TMP/answers" "$MR_STATE/answers"
	# Owed restarts survive a failure in the service steps.
	# shellcheck disable=SC2086 # one service a line
	printf '%s\n' $MR_CHANGED >"$MR_TMP/restart"
	mv -f "$MR_TMP/restart" "$MR_STATE/restart"
}

# zk://h1:2181,...,hN:2181/PATH in list order.
mr_zk_url() { # NORMAL_MASTERS PATH
	printf 'zk://%s/%s\n' "$(mr_zk_hosts "$1")" "$2"
}

# mr_logrotate DAEMON: Mesos' logs stay bounded. glog starts a file per start of the daemon
# (DAEMON.HOST.USER.log.LEVEL.DATE-TIME.PID) and never removes one: each is copied aside and
# emptied daily or past 100M (glog keeps writing to it), old copies go after 7 rotations or 14
# days. ZooKeeper's log4j file already rolls at 10MB; Marathon logs to the journal, which
# journald caps.
mr_logrotate() {
	mr_put "/etc/logrotate.d/$MR_PKG" logrotate "# Generated by $MR_PKG: Mesos' logs stay bounded (docs/debconf.md).
/var/log/mesos/$1.*.log.* {
	daily
	maxsize 100M
	rotate 7
	maxage 14
	olddir rotated
	createolddir 0755 root root
	copytruncate
	compress
	delaycompress
	missingok
	notifempty
}"
}
