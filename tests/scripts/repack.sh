#!/bin/sh
# Rebuilds the installed package $1 as $3/<name>.deb at its version plus $2, from its files and
# maintainer scripts as installed: an upgrade of a Debian package for a node with no mirror.
set -e
pkg=$1 suffix=$2 out=$3
tree=$(mktemp -d)
mkdir "$tree/DEBIAN"
dpkg-query -L "$pkg" | while read -r path; do
	if [ -L "$path" ] || [ -f "$path" ]; then
		printf '%s\n' "${path#/}"
	fi
done >"$tree/files"
tar -C / -cf - -T "$tree/files" | tar -C "$tree" -xf -
rm "$tree/files"
for f in preinst postinst prerm postrm conffiles triggers; do
	if [ -f "/var/lib/dpkg/info/$pkg.$f" ]; then
		cp -p "/var/lib/dpkg/info/$pkg.$f" "$tree/DEBIAN/$f"
	fi
done
dpkg-query -W -f='Package: ${Package}\nVersion: ${Version}'"$suffix"'\nArchitecture: ${Architecture}\nMaintainer: ${Maintainer}\nDepends: ${Depends}\nDescription: ${Description}\n' "$pkg" >"$tree/DEBIAN/control"
mkdir -p "$out"
dpkg-deb --build --root-owner-group "$tree" "$out/$pkg.deb" >/dev/null
rm -rf "$tree"
