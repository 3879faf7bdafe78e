# The agent's postinst: what Mesos would refuse at its next start, caught before it is rendered.

# mr_cgroups_usable QUESTION NORMAL_ISOLATION: a cgroups isolator needs cgroups v1 in Mesos before
# 1.12; a host that mounts only cgroups v2 (cgroup.controllers at the top of /sys/fs/cgroup)
# refuses it with the reason, instead of an agent that fails at start.
mr_cgroups_usable() {
	case ",$2," in
	*,cgroups/*) ;;
	*) return 0 ;;
	esac
	[ -f /sys/fs/cgroup/cgroup.controllers ] || return 0
	mr_cg_v=$(dpkg-query -W -f '${Version}' mesos 2>/dev/null || true)
	[ -z "$mr_cg_v" ] || ! dpkg --compare-versions "$mr_cg_v" ge 1.12~ || return 0
	mr_refuse "$1" "the cgroups isolators of Mesos ${mr_cg_v:-(not installed)} need cgroups v1, and this host mounts only cgroups v2: use posix/cpu,posix/mem, or boot with systemd.unified_cgroup_hierarchy=0"
}

# mr__kv_get NORMAL_KV KEY: the value of KEY, or fails.
mr__kv_get() (
	IFS=';'
	set -f
	for e in $1; do
		[ "${e%%:*}" != "$2" ] || { printf '%s\n' "${e#*:}"; return 0; }
	done
	return 1
)

# mr_agent_change WORK_DIR POLICY HOSTNAME ATTRIBUTES RESOURCES: prints why the new agent info
# is a change POLICY does not allow (Mesos' compatibility rules: additive lets attributes and
# resources be added or scalars grow; equal allows nothing), or nothing when it may be applied:
# the change is allowed, or the agent has no id to recover (no WORK_DIR/meta/slaves/latest), or
# the role never applied an agent info here.
mr_agent_change() (
	[ -L "$1/meta/slaves/latest" ] && [ -f "$MR_STATE/agent-info" ] || return 0
	{ IFS= read -r host && IFS= read -r attrs && IFS= read -r res; } <"$MR_STATE/agent-info" || return 0
	why=
	[ "$host" = "$3" ] || why="hostname $host -> $3"
	if [ "$2" = equal ]; then
		[ "$attrs" = "$4" ] || why="${why:+$why, }attributes ${attrs:-(none)} -> ${4:-(none)}"
		[ "$res" = "$5" ] || why="${why:+$why, }resources ${res:-(none)} -> ${5:-(none)}"
	else
		IFS=';'
		set -f
		for e in $attrs; do
			[ "$(mr__kv_get "$4" "${e%%:*}")" = "${e#*:}" ] || { why="${why:+$why, }attributes ${attrs:-(none)} -> ${4:-(none)}"; break; }
		done
		for e in $res; do
			new=$(mr__kv_get "$5" "${e%%:*}") || new=
			old=${e#*:}
			[ "$new" != "$old" ] || continue
			# A scalar may grow; a range or set must stay as it was.
			if ! awk -v o="$old" -v n="$new" 'BEGIN { num = "^[0-9]+([.][0-9]+)?$"; exit !(o ~ num && n ~ num && n + 0 >= o + 0) }'; then
				why="${why:+$why, }resources ${res:-(none)} -> ${5:-(none)}"
				break
			fi
		done
	fi
	[ -z "$why" ] || printf '%s is not allowed by reconfiguration-policy %s\n' "$why" "$2"
)

# What the agent was last configured to register with: for mr_agent_change.
mr_agent_info_save() { # HOSTNAME ATTRIBUTES RESOURCES
	printf '%s\n' "$1" "$2" "$3" >"$MR_STATE/agent-info.new"
	mv -f "$MR_STATE/agent-info.new" "$MR_STATE/agent-info"
}

# mr_docker_config NORMAL_REGISTRIES: a Docker config.json with each registry's credentials, keyed
# by the registry as given. The secrets go through pipes, never arguments.
mr_docker_config() (
	set -f
	printf '{"auths":{'
	sep=
	for e in $1; do
		printf '%s"%s":{"auth":"%s"}' "$sep" "${e%%=*}" "$(printf '%s' "${e#*=}" | base64 -w0)"
		sep=,
	done
	printf '}}\n'
)
