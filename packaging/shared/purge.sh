# Purge in postrm: every file this package generated, the directories it created, its
# diversions (the originals come back) and its state. Remove alone keeps all of it, so that the
# node keeps running as configured. Idempotent: a second purge finds nothing to do. The lists of
# what was generated are data on disk: an entry that is not the package's own (mr_ours) is said
# and left alone.

mr_purge_files() {
	if [ -f "$MR_STATE/files" ]; then
		while read -r _ mr_path; do
			mr_ours "$mr_path" || { mr_not_ours files "$mr_path"; continue; }
			# A path that the other role diverts now is the other role's (a role switch).
			mr_owner=$(dpkg-divert --listpackage "$mr_path")
			[ -z "$mr_owner" ] || [ "$mr_owner" = "$MR_PKG" ] || continue
			rm -f "$mr_path"
		done <"$MR_STATE/files"
	fi
	for mr_path in $MR_DIVERSIONS; do
		[ "$(dpkg-divert --listpackage "$mr_path")" = "$MR_PKG" ] || continue
		# While diverted, the path holds only our file; the original is at the diverted name.
		rm -f "$mr_path"
		dpkg-divert --package "$MR_PKG" --rename --remove "$mr_path" >/dev/null
		mr_undiverted="${mr_undiverted:-} $mr_path"
	done
	# Their package was purged first (the originals stayed at the diverted names): nobody owns
	# the originals any more, so they go (their directories in mr_purge_state).
	for mr_path in ${mr_undiverted:-}; do
		dpkg-query -S "$mr_path" >/dev/null 2>&1 || rm -f "$mr_path"
	done
}

# Services get back the enablement they had before a role changed them (nothing is started or
# stopped), unless the other role still holds the node. Needs services.sh.
mr_purge_services() {
	[ -f "$MR_SERVICES" ] || return 0
	for mr_dir in "${MR_SERVICES%/*}"/*/; do
		[ ! -d "$mr_dir" ] || [ "${mr_dir%/}" = "$MR_STATE" ] || return 0
	done
	while read -r mr_what mr_was; do
		case "$mr_what $mr_was" in
		"unit:mesos-master.service "* | "unit:mesos-slave.service "* | "unit:marathon.service "* | \
			"unit:docker.service "* | "sysv:zookeeper "*) ;;
		*) mr_not_ours services "$mr_what $mr_was" && continue ;;
		esac
		mr_name=${mr_what#*:}
		mr_act=disable
		[ "$mr_was" != enabled ] || mr_act=enable
		case $mr_what in
		unit:*)
			mr_unit_known "$mr_name" || continue
			[ "$mr_act" = disable ] || mr_act=reenable
			deb-systemd-helper "$mr_act" "$mr_name" >/dev/null </dev/null || mr_warn "could not $mr_act $mr_name"
			;;
		sysv:*)
			mr_sysv_known "$mr_name" || continue
			update-rc.d "$mr_name" "$mr_act" >/dev/null </dev/null || mr_warn "could not $mr_act $mr_name"
			;;
		esac
	done <"$MR_SERVICES"
	rm -f "$MR_SERVICES"
}

mr_purge_state() {
	rm -rf "$MR_ETC"/.run.*
	# Created directories, deepest first; one that still holds something stays.
	if [ -f "$MR_STATE/dirs" ]; then
		LC_ALL=C sort -r "$MR_STATE/dirs" | while read -r mr_dir; do
			if mr_our_dir "$mr_dir"; then
				rmdir "$mr_dir" 2>/dev/null || true
			else
				mr_not_ours dirs "$mr_dir"
			fi
		done
	fi
	# Directories of diverted originals that the other role created and left empty.
	for mr_path in $MR_DIVERSIONS; do
		mr_dir=$MR_DIVERTED${mr_path%/*}
		while [ "$mr_dir" != "$MR_ETC" ] && [ -n "$mr_dir" ]; do
			rmdir "$mr_dir" 2>/dev/null || true
			mr_dir=${mr_dir%/*}
		done
	done
	rmdir "$MR_ETC" 2>/dev/null || true
	# Directories of a package purged before the role, which dpkg could not remove then.
	for mr_path in $MR_DIVERSIONS; do
		mr_dir=${mr_path%/*}
		while ! dpkg-query -S "$mr_dir" >/dev/null 2>&1 && rmdir "$mr_dir" 2>/dev/null; do
			mr_dir=${mr_dir%/*}
		done
	done
	rm -rf "$MR_STATE"
	rmdir "${MR_STATE%/*}" 2>/dev/null || true
}
