# Facts about this node, read-only: defaults in config, the master's ip in postinst.
# config can run before iproute2 is installed (preconfigure): without ip(8) these print nothing.

# Non-loopback IPv4 addresses of this node, one a line.
mr_local_addrs() {
	command -v ip >/dev/null 2>&1 || return 0
	ip -o -4 addr show 2>/dev/null | while read -r _ _ _ addr _; do
		addr=${addr%%/*}
		case $addr in
		127.*) ;;
		*) mr_is_ipv4 "$addr" && printf '%s\n' "$addr" ;;
		esac
	done
}

# IPv4 addresses HOST resolves to (an address is its own), in resolver order. The timeout keeps a
# broken resolver from hanging the install.
mr_resolve() (
	if mr_is_ipv4 "$1"; then
		printf '%s\n' "$1"
		return 0
	fi
	seen=' '
	timeout 10 getent ahostsv4 "$1" 2>/dev/null | while read -r a _; do
		case $seen in
		*" $a "*) ;;
		*) seen="$seen$a " && printf '%s\n' "$a" ;;
		esac
	done
)

# The first address of HOST that belongs to this node (not loopback), or nothing.
mr_local_addr_of() (
	locals=" $(mr_local_addrs | tr '\n' ' ') "
	for a in $(mr_resolve "$1"); do
		case $locals in
		*" $a "*) printf '%s\n' "$a" && return 0 ;;
		esac
	done
)

# Default for the master's self: the one entry that is a local address (or resolves to one);
# failing that, the one entry naming this host (a name that /etc/hosts maps to 127.0.1.1).
# Nothing when it is not exactly one.
mr_default_self() (
	locals=" $(mr_local_addrs | tr '\n' ' ') "
	found=
	count=0
	if [ "$locals" != "  " ]; then
		for e in $1; do
			for a in $(mr_resolve "${e#*=}"); do
				case $locals in
				*" $a "*) found=${e#*=} count=$((count + 1)) && break ;;
				esac
			done
		done
	fi
	if [ $count -eq 0 ]; then
		name=$(mr__lower "$(uname -n)")
		for e in $1; do
			case ${e#*=} in
			"$name" | "$name".*) found=${e#*=} count=$((count + 1)) ;;
			esac
		done
	fi
	[ $count -ne 1 ] || printf '%s\n' "$found"
)

# Default for the agent's ip: the source address of the route to the first master.
mr_default_agent_ip() (
	command -v ip >/dev/null 2>&1 || return 0
	first=${1%% *}
	addr=$(mr_resolve "${first#*=}" | head -n 1)
	[ -n "$addr" ] || return 0
	set -f
	# shellcheck disable=SC2046 # split the route on blanks
	set -- $(ip -4 route get "$addr" 2>/dev/null | head -n 1)
	while [ $# -gt 1 ]; do
		if [ "$1" = src ]; then
			mr_is_ipv4 "$2" && printf '%s\n' "$2"
			return 0
		fi
		shift
	done
)

# mr_heap_size NORMAL_HEAP DIVISOR MIN MAX: the -Xmx size of a heap answer: as given, or for auto
# this node's memory divided by DIVISOR, in MiB from MIN to MAX.
mr_heap_size() (
	[ "$1" = auto ] || { printf '%s\n' "$1"; return 0; }
	# Read by the shell (MemTotal is the first line), not awk: a process less on a first boot.
	kb=
	if [ -r /proc/meminfo ]; then
		while read -r k v _; do
			[ "$k" != MemTotal: ] || { kb=$v; break; }
		done </proc/meminfo
	fi
	case $kb in
	'' | *[!0123456789]*) kb=0 ;;
	esac
	m=$((kb / 1024 / $2))
	[ "$m" -ge "$3" ] || m=$3
	[ "$m" -le "$4" ] || m=$4
	printf '%sm\n' "$m"
)
