# Mesos flags in postinst: what the installed binary accepts (it lists its flags in --help), the
# extra-flags answer as files of the wrapper's flag directory, and the check that holds a restart
# back when that directory holds a file the binary would refuse (a restart loop otherwise).

# mr_binary_flags BINARY: MR_FLAGS gets the flag names BINARY lists in its --help, one a line;
# nothing when it is missing or lists none. Asked once per run and binary (the answers' check and
# the flag-directory check both need it).
mr_binary_flags() {
	[ "${MR_FLAGS_OF:-}" != "$1" ] || return 0
	MR_FLAGS_OF=$1 MR_FLAGS=
	[ -x "$1" ] || return 0
	MR_FLAGS=$({ timeout 30 "$1" --help 2>&1 || true; } |
		sed -n 's/^[[:space:]]*--\(\[no-\]\)\{0,1\}\([abcdefghijklmnopqrstuvwxyz0123456789_]*\).*/\2/p')
}

# mr_is_flag NAME: NAME is one of the lines of MR_FLAGS (mr_binary_flags first). A match in the
# shell, not printf | grep: this runs once a file of the flag directory, and each process costs
# on a first boot under emulation.
mr_is_flag() {
	case "$MR_NL$MR_FLAGS$MR_NL" in
	*"$MR_NL$1$MR_NL"*) return 0 ;;
	esac
	return 1
}

# mr_known_flags QUESTION BINARY NORMAL_EXTRA_FLAGS: every name is a flag of BINARY, or postinst
# ends with one message naming it, as mr_valid does.
mr_known_flags() {
	[ -n "$3" ] || return 0
	mr_binary_flags "$2"
	if [ -z "$MR_FLAGS" ]; then
		mr_warn "$2 lists no flags (--help): $1 is not checked against it"
		return 0
	fi
	mr_kf_list=$3
	while [ -n "$mr_kf_list" ]; do
		mr_kf_e=${mr_kf_list%%;*}
		[ "$mr_kf_e" != "$mr_kf_list" ] && mr_kf_list=${mr_kf_list#*;} || mr_kf_list=
		mr_kf_n=${mr_kf_e%%=*}
		if ! mr_is_flag "$mr_kf_n"; then
			mr_refuse "$1" "$(mr__q "$mr_kf_n") is not a flag of the installed ${2##*/} (see ${2##*/} --help)"
		fi
	done
}

# mr_extra_flag_files DIR SERVICE NORMAL_EXTRA_FLAGS: one file per flag, as the wrapper reads
# them (a bare name is a boolean set true). mr_finish removes the files of dropped entries.
mr_extra_flag_files() {
	mr_ef_list=$3
	while [ -n "$mr_ef_list" ]; do
		mr_ef_e=${mr_ef_list%%;*}
		[ "$mr_ef_e" != "$mr_ef_list" ] && mr_ef_list=${mr_ef_list#*;} || mr_ef_list=
		case $mr_ef_e in
		*=*) mr_put "$1/${mr_ef_e%%=*}" "$2" "${mr_ef_e#*=}" ;;
		*) mr_put "$1/$mr_ef_e" "$2" true ;;
		esac
	done
}

# mr_flag_dir_ok DIR BINARY SERVICE: every file of DIR (as the wrapper turns it into --NAME) is a
# flag of BINARY. If not, one line names the file, the daemon is neither started nor restarted
# (a running one keeps its old flags) and its restart stays owed; returns 1.
mr_flag_dir_ok() {
	mr_binary_flags "$2"
	[ -n "$MR_FLAGS" ] || return 0
	for mr_fd_f in "$1"/*; do
		[ -f "$mr_fd_f" ] || continue
		mr_fd_n=${mr_fd_f##*/}
		mr_fd_n=${mr_fd_n#\?}
		if ! mr_is_flag "$mr_fd_n"; then
			mr_warn "${2##*/} not (re)started, it keeps running on its old flags: $(mr__q "$mr_fd_f") is not a flag of the installed ${2##*/} (move the file out of $1, then dpkg-reconfigure $MR_PKG)"
			mr_changed "$3"
			MR_HELD="${MR_HELD:-}$3$MR_NL"
			return 1
		fi
	done
}
