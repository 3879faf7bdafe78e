# Answer syntax of the role packages: the rules of docs/debconf.md, in POSIX sh.
#
# The same rules are implemented in Rust for the inventory; tests/cases/answers.toml drives both, and
# the key phrases of the messages ("not a valid host", "duplicate id", ...) are shared with the Rust
# side, so keep them. Each mr_<rule> prints the normal form on stdout and returns 0, or prints one
# message (the problem and the fix) on stderr and returns 1; the caller names the question.
# Pure functions: no files, no external tools but tr. Bodies run in subshells, so set -f and IFS
# stay local to them.
#
# An answer is printable ASCII: a control character or a non-ASCII byte (a no-break space looks
# like a blank) is refused before any other rule, and every message shows what it echoes through
# mr__q, so that a bad byte is visible and the message stays one line. Blanks are space and tab.

# Spelled out rather than [a-z]: ranges in patterns depend on the locale.
MR_ALNUM=abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789
MR_BLANK=' 	'
# Printable ASCII but '"' and '\', which mr__q escapes.
MR_PRINT=' !#$%&'"'"'()*+,-./:;<=>?@[]^_`{|}~'$MR_ALNUM

mr__err() {
	printf '%s\n' "$*" >&2
	return 1
}

# "TEXT" for a message: '"' and '\' escaped, every other byte that is not printable ASCII as \xNN.
mr__q() (
	LC_ALL=C
	s=$1 out=
	while [ -n "$s" ]; do
		r=${s#?}
		c=${s%"$r"}
		s=$r
		case $c in
		'"' | \\) out="$out\\$c" ;;
		[!"$MR_PRINT"]) out="$out$(printf '\\x%02x' "'$c")" ;;
		*) out=$out$c ;;
		esac
	done
	printf '"%s"' "$out"
)

# Refuses an answer with a byte that is not printable ASCII or a tab (checked before anything else).
mr__text() {
	case $1 in
	*[!"$MR_PRINT"'"\	']*)
		mr__err "$(mr__q "$1"): not printable ASCII text (control characters and non-ASCII characters such as a no-break space are refused; shown here as \\xNN): retype the answer"
		;;
	esac
}

# Leading and trailing blanks (space, tab) of an answer are ignored.
mr__trim() {
	set -- "${1#"${1%%[! 	]*}"}"
	printf '%s' "${1%"${1##*[! 	]}"}"
}

mr__lower() {
	# Most answers are lower case already: then no tr (a process costs under emulation).
	case $1 in
	*[ABCDEFGHIJKLMNOPQRSTUVWXYZ]*) printf '%s' "$1" | tr ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz ;;
	*) printf '%s' "$1" ;;
	esac
}

# Quiet test: four decimal octets 0-255 without leading zeros (inet_aton reads 010 as 8).
mr__is_ipv4() (
	case $1 in
	*[!0123456789.]* | .* | *. | *..*) return 1 ;;
	esac
	IFS=.
	# shellcheck disable=SC2086 # split on the dots
	set -- $1
	[ $# -eq 4 ] || return 1
	for o; do
		case $o in
		0 | [123456789] | [123456789][0123456789] | 1[0123456789][0123456789] | \
			2[01234][0123456789] | 25[012345]) ;;
		*) return 1 ;;
		esac
	done
)

mr__ipv4_err() {
	mr__err "$(mr__q "$1"): not a valid IPv4 address (four numbers 0-255 separated by dots, without leading zeros)"
}

# A host: an IPv4 address, or a DNS name (printed in lower case). No trimming: callers do that.
mr__host() (
	h=$1
	case $h in
	'') mr__err "empty answer: not a valid host (give an IPv4 address or a DNS name)"; return 1 ;;
	[!:]*:[0123456789] | [!:]*:[0123456789]*[0123456789])
		case $h in
		*:*:* | *:*[!0123456789]*) ;;
		*) mr__err "$(mr__q "$h"): not a valid host (leave out the port: the ports are fixed)"; return 1 ;;
		esac
		;;
	esac
	case $h in
	*:*) mr__err "$(mr__q "$h"): IPv6 addresses are not supported (give an IPv4 address or a DNS name)"; return 1 ;;
	*[!${MR_ALNUM}.-]*) mr__err "$(mr__q "$h"): not a valid host (a DNS name has only letters, digits, '-' and '.')"; return 1 ;;
	*[!0123456789.]*) ;;
	*)
		# Only digits and dots: meant as an address (this also refuses a name whose last label is numeric).
		mr__is_ipv4 "$h" || { mr__ipv4_err "$h"; return 1; }
		printf '%s\n' "$h"
		return 0
		;;
	esac
	case $h in
	.* | *. | *..*) mr__err "$(mr__q "$h"): not a valid host (empty label: no dot at either end, no two dots in a row)"; return 1 ;;
	esac
	[ ${#h} -le 253 ] || { mr__err "$(mr__q "$h"): not a valid host (longer than 253 characters)"; return 1; }
	h=$(mr__lower "$h")
	IFS=.
	set -f
	# shellcheck disable=SC2086 # split on the dots
	set -- $h
	for l; do
		case $l in
		-* | *-) mr__err "$(mr__q "$h"): not a valid host (label $(mr__q "$l") starts or ends with '-')"; return 1 ;;
		esac
		[ ${#l} -le 63 ] || { mr__err "$(mr__q "$h"): not a valid host (label $(mr__q "$l") is longer than 63 characters)"; return 1; }
	done
	case $l in
	*[!0123456789]*) ;;
	*) mr__err "$(mr__q "$h"): not a valid host (the last label must not be all digits)"; return 1 ;;
	esac
	printf '%s\n' "$h"
)

# DIGITS without leading zeros ("007" -> 7, "000" -> 0), so that the shell does not read them as octal.
mr__decimal() {
	set -- "${1#"${1%%[!0]*}"}"
	printf '%s\n' "${1:-0}"
}

# An id: 1..255; leading zeros are dropped. $2 is the entry, for the message.
mr__id() (
	id=$1
	case $id in
	'' | *[!0123456789]*) mr__err "entry $(mr__q "$2"): id $(mr__q "$id") is not a number (ids are 1 to 255)"; return 1 ;;
	esac
	id=$(mr__decimal "$id")
	case $id in
	0 | ????*) mr__err "entry $(mr__q "$2"): id out of range: $id (ids are 1 to 255)"; return 1 ;;
	esac
	[ "$id" -le 255 ] || { mr__err "entry $(mr__q "$2"): id out of range: $id (ids are 1 to 255)"; return 1; }
	printf '%s\n' "$id"
)

# mr_masters INPUT: the master ensemble -> "1=h1 2=h2 3=h3" (empty input -> empty output).
mr_masters() (
	mr__text "$1" || return 1
	set -f
	IFS=', 	'
	n=0
	out=
	for e in $1; do
		[ -n "$e" ] || continue
		n=$((n + 1))
		case $e in
		*=*)
			id=$(mr__id "${e%%=*}" "$e") || return 1
			h=${e#*=}
			[ -n "$h" ] || { mr__err "entry $(mr__q "$e") has no host: not a valid host (write id=host)"; return 1; }
			from="entry $(mr__q "$e")"
			;;
		*)
			[ $n -le 255 ] || { mr__err "entry $(mr__q "$e"): id out of range: $n (an entry without an id gets its position, and ids are 1 to 255)"; return 1; }
			id=$n h=$e from="entry $(mr__q "$e") (id $n from its position)"
			;;
		esac
		h=$(mr__host "$h") || return 1
		for o in $out; do
			if [ "${o%%=*}" = "$id" ]; then
				mr__err "duplicate id $id: $from and entry $(mr__q "$o") (give each master its own id, or leave ids out to number them by position)"
				return 1
			fi
			if [ "${o#*=}" = "$h" ]; then
				mr__err "duplicate host $(mr__q "$h") (ids ${o%%=*} and $id): list each master once"
				return 1
			fi
		done
		out="$out${out:+ }$id=$h"
	done
	if [ $((n % 2)) -eq 0 ] && [ $n -gt 0 ]; then
		mr__err "$n masters given, an odd number of masters is needed (1, 3, 5, 7...): an even count adds a member without adding a tolerated failure; add or remove one"
		return 1
	fi
	[ -z "$out" ] || printf '%s\n' "$out"
)

# mr_quorum COUNT INPUT: "auto" or empty -> floor(COUNT/2)+1; a number must be > COUNT/2 and <= COUNT.
mr_quorum() (
	mr__text "$2" || return 1
	n=$1
	q=$(mr__trim "$2")
	auto=$((n / 2 + 1))
	case $q in
	'' | [Aa][Uu][Tt][Oo]) printf '%s\n' "$auto"; return 0 ;;
	*[!0123456789]*) mr__err "$(mr__q "$q"): not a number (give auto, or a number from $auto to $n for $n masters)"; return 1 ;;
	esac
	q=$(mr__decimal "$q")
	if [ ${#q} -gt 4 ] || [ $((2 * q)) -le "$n" ] || [ "$q" -gt "$n" ]; then
		mr__err "quorum $q: quorum must be more than half the masters and at most all of them: $auto to $n for $n masters (auto = $auto)"
		return 1
	fi
	printf '%s\n' "$q"
)

# mr_host INPUT: an IPv4 address or a DNS name, lower-cased.
mr_host() {
	mr__text "$1" || return 1
	mr__host "$(mr__trim "$1")"
}

# mr_ipv4 INPUT: an IPv4 address.
mr_ipv4() (
	mr__text "$1" || return 1
	a=$(mr__trim "$1")
	case $a in
	*:*) mr__err "$(mr__q "$a"): IPv6 addresses are not supported (give an IPv4 address)"; return 1 ;;
	esac
	mr__is_ipv4 "$a" || { mr__ipv4_err "$a"; return 1; }
	printf '%s\n' "$a"
)

# mr_kv INPUT: attributes or resources, "k:v;k:v" (empty input -> empty output).
mr_kv() (
	mr__text "$1" || return 1
	set -f
	IFS=';'
	out=
	keys=' '
	for e in $1; do
		e=$(mr__trim "$e")
		[ -n "$e" ] || continue
		k=${e%%:*}
		v=${e#*:}
		case $e in
		*:*) ;;
		*) mr__err "$(mr__q "$e"): not of the form k:v (a key, ':', a value; entries separated by ';')"; return 1 ;;
		esac
		case $k in
		'' | [.-]* | *[!${MR_ALNUM}_.-]*)
			mr__err "$(mr__q "$e"): not of the form k:v (a key has letters, digits, '_', '.', '-', and starts with a letter, digit or '_')"
			return 1
			;;
		esac
		case $v in
		'' | *:* | *[' 	']*)
			mr__err "$(mr__q "$e"): not of the form k:v (a value is not empty and has no white space, ';' or ':')"
			return 1
			;;
		esac
		case $keys in
		*" $k "*) mr__err "duplicate key $(mr__q "$k"): give each key once"; return 1 ;;
		esac
		keys="$keys$k "
		out="$out${out:+;}$k:$v"
	done
	[ -z "$out" ] || printf '%s\n' "$out"
)

# mr_abs_path INPUT: a work dir: an absolute path without white space and without "." or ".."
# components, that is not a system directory. Normal form: repeated and trailing slashes dropped.
# Keep the system directories the same as SYSTEM_TREES and SYSTEM_DIRS of the Rust side.
mr_abs_path() (
	mr__text "$1" || return 1
	p=$(mr__trim "$1")
	case $p in
	/*) ;;
	*) mr__err "$(mr__q "$p"): not an absolute path (it must start with /, e.g. /var/lib/mesos)"; return 1 ;;
	esac
	case $p in
	*[' 	']*) mr__err "$(mr__q "$p"): not an absolute path without white space (Mesos flags cannot carry it)"; return 1 ;;
	esac
	set -f
	IFS=/
	n=
	for c in $p; do
		case $c in
		'') ;;
		'.' | '..') mr__err "$(mr__q "$p"): not a normalised path (no \".\" or \"..\" components: write the directory itself, e.g. /var/lib/mesos)"; return 1 ;;
		*) n="$n/$c" ;;
		esac
	done
	case ${n:-/} in
	/ | /bin | /bin/* | /boot | /boot/* | /dev | /dev/* | /etc | /etc/* | /lib | /lib/* | /lib32 | /lib32/* | \
		/lib64 | /lib64/* | /libx32 | /libx32/* | /proc | /proc/* | /sbin | /sbin/* | /sys | /sys/* | \
		/usr | /usr/* | /var/lib/dpkg | /var/lib/dpkg/* | /var/lib/apt | /var/lib/apt/* | \
		/var/lib/mesos-roles | /var/lib/mesos-roles/* | /home | /media | /mnt | /opt | /root | /run | \
		/srv | /tmp | /var | /var/backups | /var/cache | /var/lib | /var/local | /var/log | /var/mail | \
		/var/opt | /var/spool | /var/tmp)
		mr__err "$(mr__q "$p"): a system directory, not a work dir of its own (give a directory for Mesos alone, e.g. /var/lib/mesos)"
		return 1
		;;
	esac
	printf '%s\n' "$n"
)

# mr_duration INPUT: a Mesos duration, e.g. 10mins.
mr_duration() (
	mr__text "$1" || return 1
	d=$(mr__trim "$1")
	num=${d%%[!0123456789.]*}
	unit=${d#"$num"}
	ok=1
	case $num in
	'' | .* | *. | *.*.*) ok= ;;
	esac
	case $unit in
	ns | us | ms | secs | mins | hrs | days | weeks) ;;
	*) ok= ;;
	esac
	[ -n "$ok" ] || { mr__err "$(mr__q "$d"): not a valid duration (a number and a unit: ns us ms secs mins hrs days weeks, e.g. 10mins)"; return 1; }
	printf '%s\n' "$d"
)

# mr_containerizers INPUT: comma-separated docker/mesos -> e.g. "docker,mesos" (order kept, repeats dropped).
mr_containerizers() (
	mr__text "$1" || return 1
	set -f
	IFS=,
	out=
	for c in $1; do
		c=$(mr__trim "$c")
		[ -n "$c" ] || continue
		case $c in
		docker | mesos) ;;
		*) mr__err "$(mr__q "$c"): unknown containerizer (use docker, mesos or both, e.g. docker,mesos)"; return 1 ;;
		esac
		case ",$out," in
		*",$c,"*) ;;
		*) out="$out${out:+,}$c" ;;
		esac
	done
	[ -n "$out" ] || { mr__err "no containerizer given: unknown containerizer list $(mr__q "$1") (use docker, mesos or both, e.g. docker,mesos)"; return 1; }
	printf '%s\n' "$out"
)

# mr_name INPUT: the cluster name.
mr_name() (
	mr__text "$1" || return 1
	s=$(mr__trim "$1")
	case $s in
	'' | *[!${MR_ALNUM}._-]*) mr__err "$(mr__q "$s"): not a valid name (letters, digits, '.', '_' and '-' only, not empty)"; return 1 ;;
	esac
	printf '%s\n' "$s"
)

# mr_cluster_secret INPUT: empty, or 32 to 1024 of letters, digits and +/=._~- (docs/security.md).
# No message repeats a secret, not even a bad one. Blanks around it are ignored.
mr_cluster_secret() (
	others=
	case $1 in
	*[!${MR_ALNUM}+/=._~"$MR_BLANK"-]*) others=', some of them others' ;;
	esac
	s=$(mr__trim "$1")
	case $s in
	*[!${MR_ALNUM}+/=._~-]*) others=', some of them others' ;;
	esac
	if [ -n "$s$others" ] && { [ -n "$others" ] || [ ${#s} -lt 32 ] || [ ${#s} -gt 1024 ]; }; then
		mr__err "a cluster secret is 32 to 1024 characters of letters, digits and + / = . _ ~ - (the answer given, not shown, has ${#s} characters$others): make one with head -c 32 /dev/urandom | base64"
		return 1
	fi
	printf '%s\n' "$s"
)

# mr_agent_secret INPUT: empty, or the 64 lower-case hex digits derived from the cluster secret.
mr_agent_secret() (
	s=$(mr__trim "$1")
	case $1 in
	*[!0123456789abcdef"$MR_BLANK"]*) s=x ;;
	esac
	case $s in
	*[!0123456789abcdef]*) s=x ;;
	esac
	if [ -n "$s" ] && [ ${#s} -ne 64 ]; then
		mr__err "an agent secret is 64 lower-case hex digits derived from the cluster secret (the answer given is not shown): on a master, cat /etc/mesos-roles/secrets/agent-secret"
		return 1
	fi
	printf '%s\n' "$s"
)

# mr_number MIN MAX INPUT: a whole number from MIN to MAX: digits, no sign, no leading zero.
mr_number() (
	mr__text "$3" || return 1
	n=$(mr__trim "$3")
	case $n in
	'' | *[!0123456789]*) mr__err "$(mr__q "$n"): not a number (digits only: a whole number from $1 to $2)"; return 1 ;;
	0?*) mr__err "$(mr__q "$n"): a leading zero (write a whole number from $1 to $2 without one)"; return 1 ;;
	esac
	if [ ${#n} -gt 12 ] || [ "$n" -lt "$1" ] || [ "$n" -gt "$2" ]; then
		mr__err "$(mr__q "$n"): out of range (a whole number from $1 to $2)"
		return 1
	fi
	printf '%s\n' "$n"
)

# mr_heap INPUT: a JVM heap: auto (sized from the node's memory), or a size in m (64 to
# 1048576) or g (1 to 1024), as in 512m. Normal form: lower case.
mr_heap() (
	mr__text "$1" || return 1
	h=$(mr__lower "$(mr__trim "$1")")
	[ "$h" != auto ] || { printf 'auto\n'; return 0; }
	num=${h%[mg]}
	unit=${h#"$num"}
	min=1 max=0
	case $unit in
	m) min=64 max=1048576 ;;
	g) min=1 max=1024 ;;
	esac
	case $num in
	'' | *[!0123456789]*) max=0 ;;
	0?*) mr__err "$(mr__q "$h"): a leading zero: not a heap size as written (e.g. 512m)"; return 1 ;;
	esac
	if [ $max -eq 0 ]; then
		mr__err "$(mr__q "$h"): not a heap size (auto, or a number and m or g: 64m to 1048576m, 1g to 1024g, e.g. 512m)"
		return 1
	fi
	if [ ${#num} -gt 7 ] || [ "$num" -lt $min ] || [ "$num" -gt $max ]; then
		mr__err "$(mr__q "$h"): out of range (64m to 1048576m, 1g to 1024g)"
		return 1
	fi
	printf '%s\n' "$h"
)

# mr_mesos_role INPUT: the role Marathon registers with: * or 1 to 64 of letters, digits, '_',
# '.', '-', starting with a letter, digit or '_'.
mr_mesos_role() (
	mr__text "$1" || return 1
	r=$(mr__trim "$1")
	[ "$r" != '*' ] || { printf '*\n'; return 0; }
	case $r in
	'' | [!${MR_ALNUM}_]* | *[!${MR_ALNUM}_.-]*) r= ;;
	esac
	if [ -z "$r" ] || [ ${#r} -gt 64 ]; then
		mr__err "$(mr__q "$(mr__trim "$1")"): not a valid Mesos role (* or up to 64 letters, digits, '_', '.', '-', not starting with '.' or '-', e.g. marathon)"
		return 1
	fi
	printf '%s\n' "$r"
)

# mr_policy INPUT: the agent's --reconfiguration_policy: additive or equal.
mr_policy() (
	mr__text "$1" || return 1
	p=$(mr__trim "$1")
	case $p in
	additive | equal) printf '%s\n' "$p" ;;
	*) mr__err "$(mr__q "$p"): not a reconfiguration policy (additive: attributes and resources may be added without a new agent id; equal: none may change)"; return 1 ;;
	esac
)

# The isolators Mesos 1.11 knows on Linux (src/slave/containerizer/mesos/containerizer.cpp).
# Keep it the same as ISOLATORS of the Rust side.
MR_ISOLATORS='appc/runtime cgroups/all cgroups/blkio cgroups/cpu cgroups/cpuset cgroups/devices cgroups/hugetlb cgroups/mem cgroups/net_cls cgroups/net_prio cgroups/perf_event cgroups/pids disk/du disk/xfs docker/runtime docker/volume environment_secret filesystem/linux filesystem/posix filesystem/shared gpu/nvidia linux/capabilities linux/devices linux/nnp linux/seccomp namespaces/ipc namespaces/pid network/cni network/port_mapping network/ports posix/cpu posix/mem posix/rlimits volume/csi volume/host_path volume/image volume/sandbox_path volume/secret'

# mr_isolation INPUT: comma-separated isolators -> e.g. "posix/cpu,posix/mem" (order kept,
# repeats dropped). Deprecated aliases are refused with their replacement.
mr_isolation() (
	mr__text "$1" || return 1
	set -f
	IFS=,
	out=
	for i in $1; do
		i=$(mr__trim "$i")
		[ -n "$i" ] || continue
		case $i in
		cgroups) mr__err "\"cgroups\" is deprecated: write cgroups/cpu,cgroups/mem"; return 1 ;;
		process) mr__err "\"process\" is deprecated: write posix/cpu,posix/mem"; return 1 ;;
		posix/disk) mr__err "\"posix/disk\" is deprecated: write disk/du"; return 1 ;;
		esac
		case " $MR_ISOLATORS " in
		*" $i "*) ;;
		*) mr__err "$(mr__q "$i"): unknown isolator, not one Mesos knows (e.g. posix/cpu,posix/mem; the list is in docs/debconf.md)"; return 1 ;;
		esac
		case ",$out," in
		*",$i,"*) ;;
		*) out="$out${out:+,}$i" ;;
		esac
	done
	[ -n "$out" ] || { mr__err "no isolator given (the default is posix/cpu,posix/mem)"; return 1; }
	printf '%s\n' "$out"
)

# Flags a role sets itself, each with the question that sets it (extra-flags may not).
mr__owned_flag() ( # ROLE NAME: prints the question, or fails
	case $1:$2 in
	*:help | *:version) echo "none: it would stop the daemon" ;;
	*:port | *:log_dir) echo "none: the role keeps it as the package sets it" ;;
	*:work_dir) echo work-dir ;;
	*:hostname) echo hostname ;;
	master:zk) echo masters ;;
	master:quorum) echo quorum ;;
	master:cluster) echo cluster-name ;;
	master:ip) echo self ;;
	master:credentials | master:authenticate_agents | master:authenticate_slaves | \
		master:authenticate_frameworks | master:authenticate_http_readwrite) echo "cluster-secret and insecure" ;;
	agent:master) echo masters ;;
	agent:ip) echo ip ;;
	agent:containerizers) echo containerizers ;;
	agent:executor_registration_timeout) echo executor-registration-timeout ;;
	agent:attributes) echo attributes ;;
	agent:resources) echo resources ;;
	agent:credential | agent:http_credentials | agent:authenticate_http_readwrite) echo "agent-secret and insecure" ;;
	agent:isolation) echo isolation ;;
	agent:reconfiguration_policy) echo reconfiguration-policy ;;
	agent:docker_config) echo docker-registries ;;
	agent:gc_delay) echo gc-delay ;;
	agent:docker_remove_delay) echo docker-remove-delay ;;
	*) return 1 ;;
	esac
)

# mr_extra_flags ROLE INPUT: more Mesos flags, "name=value;name" (a bare name is a boolean set
# true). Names are checked against the installed binary in postinst, not here.
mr_extra_flags() (
	mr__text "$2" || return 1
	set -f
	IFS=';'
	out=
	names=' '
	for e in $2; do
		e=$(mr__trim "$e")
		[ -n "$e" ] || continue
		n=${e%%=*}
		case $n in
		[abcdefghijklmnopqrstuvwxyz]*) ;;
		*) n= ;;
		esac
		case $n in
		*[!abcdefghijklmnopqrstuvwxyz0123456789_]*) n= ;;
		esac
		if [ -z "$n" ] || [ ${#n} -gt 64 ]; then
			mr__err "$(mr__q "$e"): not a flag: write name=value or name (a flag name as Mesos spells it: lower-case letters, digits and '_', e.g. max_completed_frameworks=50)"
			return 1
		fi
		if q=$(mr__owned_flag "$1" "$n"); then
			mr__err "$(mr__q "$n") is set by the role, not by extra-flags (answer: $q)"
			return 1
		fi
		case $names in
		*" $n "*) mr__err "$(mr__q "$n") is given twice: give each flag once"; return 1 ;;
		esac
		names="$names$n "
		case $e in
		*=*)
			v=$(mr__trim "${e#*=}")
			[ -n "$v" ] || { mr__err "$(mr__q "$e"): no value after '=' (write name=value, or the bare name for a boolean set true)"; return 1; }
			out="$out${out:+;}$n=$v"
			;;
		*) out="$out${out:+;}$n" ;;
		esac
	done
	[ -z "$out" ] || printf '%s\n' "$out"
)

# mr_registries INPUT: Docker registry credentials, "REGISTRY=USER:PASSWORD ..." (blank
# separated). A secret: no message shows a password, or an entry that may hold one.
mr_registries() (
	case $1 in
	*[!"$MR_PRINT"'"\	']*)
		# Only the first such byte is shown: the rest may be a password.
		s=$1
		while [ -n "$s" ]; do
			r=${s#?}
			c=${s%"$r"}
			s=$r
			case $c in
			[!"$MR_PRINT"'"\	']*) break ;;
			esac
		done
		mr__err "a byte that is not printable ASCII, $(mr__q "$c") (the entry is not shown: it may hold a password): retype the answer"
		return 1
		;;
	esac
	set -f
	IFS=$MR_BLANK
	out=
	regs=' '
	n=0
	for e in $1; do
		n=$((n + 1))
		r=${e%%=*}
		rest=${e#*=}
		u=${rest%%:*}
		p=${rest#*:}
		if [ -z "$r" ] && [ "$r" != "$e" ]; then
			mr__err "entry $n: not a registry before '=' (write REGISTRY=USER:PASSWORD, e.g. a host name with :PORT)"
			return 1
		fi
		if [ "$r" = "$e" ] || [ "$u" = "$rest" ]; then
			mr__err "entry $n is not REGISTRY=USER:PASSWORD (not shown: it may hold a password): write each entry as REGISTRY=USER:PASSWORD, entries separated by blanks"
			return 1
		fi
		r=$(mr__lower "$r")
		h=${r%%:*}
		port=${r#"$h"}
		port=${port#:}
		ok=1
		case $h in
		'' | [!${MR_ALNUM}]* | *[!${MR_ALNUM}] | *[!${MR_ALNUM}.-]*) ok= ;;
		esac
		[ ${#h} -le 253 ] || ok=
		case $r in
		*:*)
			case $port in
			'' | *[!0123456789]* | 0*) ok= ;;
			*) { [ ${#port} -le 5 ] && [ "$port" -le 65535 ]; } || ok= ;;
			esac
			;;
		esac
		[ -n "$ok" ] || { mr__err "entry $n: $(mr__q "$r") is not a registry (a host name or address, with :PORT if not 443, e.g. registry.example.org:5000)"; return 1; }
		case $u in
		'' | *[!${MR_ALNUM}._@+-]*) mr__err "entry $n ($r): not a user name (1 to 255 of letters, digits, '.', '_', '@', '+', '-')"; return 1 ;;
		esac
		[ ${#u} -le 255 ] || { mr__err "entry $n ($r): not a user name (1 to 255 of letters, digits, '.', '_', '@', '+', '-')"; return 1; }
		if [ -z "$p" ] || [ ${#p} -gt 1024 ]; then
			mr__err "entry $n ($r): a password is 1 to 1024 printable characters without blanks (not shown)"
			return 1
		fi
		case $regs in
		*" $r "*) mr__err "registry $(mr__q "$r") is given twice: give each registry once"; return 1 ;;
		esac
		regs="$regs$r "
		out="$out${out:+ }$r=$u:$p"
	done
	[ -z "$out" ] || printf '%s\n' "$out"
)

# mr_self NORMAL_MASTERS INPUT: the id of the entry whose host is INPUT (case-insensitive).
mr_self() (
	mr__text "$2" || return 1
	s=$(mr__trim "$2")
	hosts=
	for e in $1; do
		hosts="$hosts${hosts:+, }${e#*=}"
	done
	[ -n "$s" ] || { mr__err "no answer: this node is not in the master list (answer with its host as written in the list: $hosts)"; return 1; }
	h=$(mr__host "$s") || return 1
	for e in $1; do
		if [ "${e#*=}" = "$h" ]; then
			printf '%s\n' "${e%%=*}"
			return 0
		fi
	done
	mr__err "$(mr__q "$s") is not in the master list (answer with this node's host as written in the list: $hosts)"
	return 1
)

# Helpers over the normal form of a master list.
mr_count() (
	set -f
	# shellcheck disable=SC2086 # split the normal form on blanks
	set -- $1
	printf '%s\n' $#
)

mr_host_of() ( # NORMAL_MASTERS ID
	for e in $1; do
		if [ "${e%%=*}" = "$2" ]; then
			printf '%s\n' "${e#*=}"
			return 0
		fi
	done
	return 1
)

# h1:2181,h2:2181,... in list order, for zk:// URLs.
mr_zk_hosts() (
	out=
	for e in $1; do
		out="$out${out:+,}${e#*=}:2181"
	done
	printf '%s\n' "$out"
)

mr_is_ipv4() {
	mr__is_ipv4 "$1"
}

# mr_check FN ARGS...: run a check; MR_OUT gets the normal form, or MR_ERR the message (then rc 1).
# shellcheck disable=SC2034 # for the callers (postrm, which includes this for mr__q, has none)
mr_check() {
	MR_ERR=
	if MR_OUT=$("$@" 2>/dev/null); then
		return 0
	fi
	MR_ERR=$("$@" 2>&1 >/dev/null) || true
	return 1
}
