#!/bin/sh
# install.sh master|agent [--preseed FILE]
#
# Installs a mesos-roles role from this unpacked bundle, with no network: checks SHA256SUMS, installs
# the repository's keyring, adds the repository beside this script as a `file:` apt source trusted
# through that keyring only (Signed-By), updates apt's lists of that source alone, applies the
# debconf answers in FILE (debconf-set-selections format; see docs/debconf.md) and installs
# mesos-master-role or mesos-agent-role. Running it again is harmless: with the role installed, a
# new FILE is applied with dpkg-reconfigure.
#
# Any directory will do: the source names it percent-encoded (apt decodes file: URIs), so a space
# or a newline in a name can neither break the source nor add a line to it. The source and the
# keyring are written whole (a temporary file beside, then a rename); if apt-get update fails on
# them, what was there before is put back.
set -eu
# An exported CDPATH makes cd print the directory, and may send it elsewhere.
unset CDPATH

keyring=/usr/share/keyrings/mesos-roles-archive-keyring.gpg
source_file=/etc/apt/sources.list.d/mesos-roles.sources

usage() {
	echo "usage: $0 master|agent [--preseed FILE]" >&2
	echo "  master: install mesos-master-role; agent: install mesos-agent-role" >&2
	echo "  --preseed FILE: debconf answers (debconf-set-selections format) to apply first" >&2
	exit 2
}
die() {
	echo "install.sh: $*" >&2
	exit 1
}

# PATH as the path of a file: URI: every byte but letters, digits and / . _ ~ - as %XX. (The byte
# walk of mr__q in shared/answers.sh: the installer is copied into the bundle alone, so it has its own.)
uri_path() (
	LC_ALL=C
	s=$1 out=
	while [ -n "$s" ]; do
		r=${s#?}
		c=${s%"$r"}
		s=$r
		case $c in
		[abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._~-]) out=$out$c ;;
		*) out=$out$(printf '%%%02X' "'$c") ;;
		esac
	done
	printf '%s\n' "$out"
)

role=
preseed=
while [ $# -gt 0 ]; do
	case $1 in
	master | agent)
		[ -z "$role" ] || usage
		role=$1
		;;
	--preseed)
		[ $# -ge 2 ] || usage
		preseed=$2
		shift
		;;
	--preseed=*) preseed=${1#--preseed=} ;;
	-h | --help) usage ;;
	*)
		echo "install.sh: unknown argument: $1" >&2
		usage
		;;
	esac
	shift
done
[ -n "$role" ] || usage
package=mesos-$role-role
case $role in
master) other=mesos-agent-role ;;
*) other=mesos-master-role ;;
esac
if [ -n "$preseed" ]; then
	[ -r "$preseed" ] || die "cannot read the preseed file $preseed: give an existing file of debconf answers"
	case $preseed in
	/*) ;;
	*) preseed=$PWD/$preseed ;;
	esac
fi
[ "$(id -u)" -eq 0 ] || die "run it as root (it installs packages)"

# The bundle's directory, whatever its name: no command substitution, which would drop a newline
# at the end of it.
case $0 in
*/*) cd -P -- "${0%/*}/" ;;
esac
here=$PWD
uri=$(uri_path "$here/repo")
[ -f SHA256SUMS ] || die "no SHA256SUMS beside $0: unpack the whole bundle and run its install.sh"
sha256sum --quiet --strict -c SHA256SUMS || die "the bundle is damaged (checksums above do not match): copy it again"
set -- repo/dists/*/InRelease
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	die "expected exactly one suite under file:$uri/dists: unpack the whole bundle again"
fi
suite=${1#repo/dists/}
suite=${suite%/InRelease}
case $suite in
'' | *[!abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-]*)
	die "the suite directory under file:$uri/dists is not a suite name: unpack the whole bundle again"
	;;
esac

if dpkg-query -W -f '${Status}' "$other" 2>/dev/null | grep -q ' installed$'; then
	die "$other is installed: this node has the other role; purge it first (apt-get purge $other)"
fi

# New versions of the keyring and the source are made beside their places and renamed into them;
# the old ones are kept until apt-get update has read the new ones: if it fails, or the run is
# interrupted before, they are put back (or what this run added is removed). Nothing temporary
# stays behind.
keyring_tmp=
updated=
work=$(mktemp -d /etc/apt/.mesos-roles-install.XXXXXX)
trap 'rm -rf "$work" ${keyring_tmp:+"$keyring_tmp"}' EXIT
for f in "$keyring" "$source_file"; do
	if [ -e "$f" ]; then
		cp -p "$f" "$work/${f##*/}.old"
	fi
done
# Puts back the keyring and the source as they were before this run, then dies with $1.
undo() {
	for f in "$keyring" "$source_file"; do
		if [ -e "$work/${f##*/}.old" ]; then
			mv -f "$work/${f##*/}.old" "$f"
		else
			rm -f "$f"
		fi
	done
	die "$1: put back the apt source and keyring as they were"
}
interrupted() {
	[ -n "$updated" ] || undo "interrupted"
	die "interrupted"
}
trap interrupted INT TERM HUP

if [ -e "$keyring" ] && ! cmp -s repo/mesos-roles-archive-keyring.gpg "$keyring"; then
	echo "install.sh: replacing $keyring with this bundle's keyring (they differ: the repository is signed by another key)"
fi
keyring_tmp=$(mktemp "${keyring%/*}/.mesos-roles-keyring.XXXXXX")
cp repo/mesos-roles-archive-keyring.gpg "$keyring_tmp"
chmod 0644 "$keyring_tmp"
mv -f "$keyring_tmp" "$keyring"

# Every value here is ours or checked: the URI is percent-encoded, the suite a plain name.
cat >"$work/source" <<SOURCE
# Added by the install.sh of the mesos-roles bundle at file:$uri
Types: deb
URIs: file:$uri
Suites: $suite
Components: main
Signed-By: $keyring
SOURCE
chmod 0644 "$work/source"
mv -f "$work/source" "$source_file"

# Only this source: the node may have others it cannot reach.
# --error-on=any: a source apt could not read is a failure, not a warning.
apt-get update -q --error-on=any -o Dir::Etc::SourceList="$source_file" \
	-o Dir::Etc::SourceParts=/nonexistent -o APT::Get::List-Cleanup=false ||
	undo "apt-get update failed on the bundle's repository (see above)"
updated=1
export DEBIAN_FRONTEND=noninteractive
if [ -n "$preseed" ]; then
	debconf-set-selections "$preseed"
fi
if dpkg-query -W -f '${Status}' "$package" 2>/dev/null | grep -q ' installed$'; then
	echo "install.sh: $package is installed already"
	if [ -n "$preseed" ]; then
		dpkg-reconfigure -fnoninteractive "$package"
	fi
else
	apt-get install -y -q "$package"
fi
echo "install.sh: $package installed from file:$uri ($suite)"
