# Services in postinst: deb-systemd-helper / update-rc.d to enable and disable (they keep an
# admin's choice), deb-systemd-invoke / invoke-rc.d to start, stop, restart (they honour
# policy-rc.d: a 101 refusal is not an error). A service whose configuration changed (or whose
# restart an earlier run owes) is restarted; the others are only started, which leaves a running
# one alone. A failure to start is reported, not fatal: the configuration is in place.

# The state a service had before a role first changed it, so that purge can give it back.
mr_svc_record() { # unit:NAME|sysv:NAME enabled|disabled
	grep -qF "$1 " "$MR_SERVICES" 2>/dev/null || printf '%s %s\n' "$1" "$2" >>"$MR_SERVICES"
}

mr_unit_known() {
	for mr_d in /etc/systemd/system /lib/systemd/system /usr/lib/systemd/system; do
		[ ! -f "$mr_d/$1" ] || return 0
	done
	return 1
}

mr_can_invoke() {
	[ -z "${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]
}

mr_unit_enable() { # UNIT
	if ! mr_unit_known "$1"; then
		mr_warn "$1 not found, not enabled"
		return 0
	fi
	deb-systemd-helper --quiet is-enabled "$1" && return 0
	mr_svc_record "unit:$1" disabled
	# reenable, not enable: enable does nothing for a unit that a package enabled before and
	# that was disabled since (e.g. by the other role).
	deb-systemd-helper reenable "$1" >/dev/null || mr_warn "could not enable $1"
}

mr_unit_disable() { # UNIT
	mr_unit_known "$1" || return 0
	! deb-systemd-helper --quiet is-enabled "$1" || mr_svc_record "unit:$1" enabled
	deb-systemd-helper disable "$1" >/dev/null || mr_warn "could not disable $1"
}

mr_unit_start() { # UNIT SERVICE
	if ! mr_unit_known "$1" || ! mr_can_invoke; then
		return 0
	fi
	mr_act=start
	! mr_is_changed "$2" || mr_act=restart
	deb-systemd-invoke "$mr_act" "$1" >/dev/null || mr_warn "could not $mr_act $1 (see journalctl -u $1)"
}

mr_unit_stop() { # UNIT
	if ! mr_unit_known "$1" || ! mr_can_invoke; then
		return 0
	fi
	deb-systemd-invoke stop "$1" >/dev/null || mr_warn "could not stop $1"
}

# SysV-only services (zookeeperd): update-rc.d toggles the rc links (and systemd's view of them).
mr_sysv_links() { # S|K NAME: is there such a link in a normal runlevel
	for mr_l in /etc/rc[2345].d/"$1"[0-9][0-9]"$2"; do
		[ ! -L "$mr_l" ] || return 0
	done
	return 1
}

mr_sysv_known() {
	[ -x "/etc/init.d/$1" ] && [ -z "${DPKG_ROOT:-}" ]
}

mr_sysv_enable() { # NAME
	mr_sysv_known "$1" || return 0
	mr_sysv_links S "$1" || mr_sysv_links K "$1" || update-rc.d "$1" defaults >/dev/null
	mr_sysv_links K "$1" || return 0
	mr_svc_record "sysv:$1" disabled
	update-rc.d "$1" enable >/dev/null || mr_warn "could not enable $1"
}

mr_sysv_disable() { # NAME
	mr_sysv_known "$1" || return 0
	mr_sysv_links S "$1" || return 0
	mr_svc_record "sysv:$1" enabled
	update-rc.d "$1" disable >/dev/null || mr_warn "could not disable $1"
}

mr_sysv_start() { # NAME SERVICE
	mr_sysv_known "$1" || return 0
	mr_act=start
	! mr_is_changed "$2" || mr_act=restart
	invoke-rc.d "$1" "$mr_act" || mr_warn "could not $mr_act $1 (see /var/log/$1/)"
}

mr_sysv_stop() { # NAME
	mr_sysv_known "$1" || return 0
	invoke-rc.d "$1" stop || mr_warn "could not stop $1"
}

# All restarts done: none owed any more, but those held back (mr_flag_dir_ok).
mr_services_done() {
	if [ -n "${MR_HELD:-}" ]; then
		printf '%s' "$MR_HELD" >"$MR_STATE/restart"
	else
		rm -f "$MR_STATE/restart"
	fi
}
