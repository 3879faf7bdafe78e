#!/bin/sh
# install.sh master|agent [--preseed FILE]
#
# Installs a mesos-roles role from this unpacked bundle, with no network: checks SHA256SUMS, installs
# the repository's keyring, adds the repository beside this script as a `file:` apt source trusted
# through that keyring only (Signed-By), updates apt's lists of that source alone, applies the
# debconf answers in FILE (debconf-set-selections format; see docs/debconf.md) and installs
# mesos-master-role or mesos-agent-role. Running it again is harmless: with the role installed, a
# new FILE is applied with dpkg-reconfigure.
set -eu

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
	*) preseed=$(pwd)/$preseed ;;
	esac
fi
[ "$(id -u)" -eq 0 ] || die "run it as root (it installs packages)"

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
[ -f SHA256SUMS ] || die "no SHA256SUMS beside $0: unpack the whole bundle and run its install.sh"
sha256sum --quiet --strict -c SHA256SUMS || die "the bundle is damaged (checksums above do not match): copy it again"
set -- repo/dists/*/InRelease
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	die "expected exactly one suite under $here/repo/dists: unpack the whole bundle again"
fi
suite=$(basename "$(dirname "$1")")

if dpkg-query -W -f '${Status}' "$other" 2>/dev/null | grep -q ' installed$'; then
	die "$other is installed: this node has the other role; purge it first (apt-get purge $other)"
fi

install -m 0644 repo/mesos-roles-archive-keyring.gpg "$keyring"
tmp=$(mktemp "$source_file.XXXXXX")
cat >"$tmp" <<SOURCE
# Added by $here/install.sh: the mesos-roles bundle.
Types: deb
URIs: file:$here/repo
Suites: $suite
Components: main
Signed-By: $keyring
SOURCE
chmod 0644 "$tmp"
mv "$tmp" "$source_file"

# Only this source: the node may have others it cannot reach.
apt-get update -q -o Dir::Etc::SourceList="$source_file" -o Dir::Etc::SourceParts=/nonexistent \
	-o APT::Get::List-Cleanup=false
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
echo "install.sh: $package installed from $here/repo ($suite)"
