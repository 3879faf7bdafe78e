#!/bin/sh
# Packer provisioning (root): the role, installed inert, and Docker, from the air-gapped bundle in
# $BUNDLE; ROLE is master or agent. The same content `cargo xtask image` puts into its roots,
# with the overlays of $OVERLAYS (a tar of overlays/: all/, then the role's).
set -eu
: "${ROLE:?set ROLE to master or agent}" "${BUNDLE:?set BUNDLE to the bundle file}"
: "${OVERLAYS:?set OVERLAYS to the overlays tar of the templates}"

# cloud-init must be done with the first boot before anything else changes the system.
cloud-init status --wait >/dev/null || {
	cloud-init status --long >&2
	echo "provision.sh: cloud-init did not finish cleanly (above)" >&2
	exit 1
}

work=$(mktemp -d)
tar -xzf "$BUNDLE" -C "$work"
set -- "$work"/mesos-roles-*/install.sh
[ -f "$1" ] || { echo "provision.sh: $BUNDLE holds no install.sh: give a bundle of cargo xtask bundle" >&2; exit 1; }
top=$(dirname "$1")

# install.sh replaces the repository's source with one pointing into the bundle; a base image of
# `cargo xtask image` has its own baked repository (/srv/mesos-roles), whose source comes back after.
source_file=/etc/apt/sources.list.d/mesos-roles.sources
saved=
if [ -f "$source_file" ]; then
	saved=$work/saved.sources
	cp -p "$source_file" "$saved"
fi

# No Recommends, as mmdebstrap installs none into the native roots: the same packages either way
# (the boot test compares them). Removed again before the image is saved.
no_recommends=/etc/apt/apt.conf.d/00mesos-roles-no-recommends
printf 'APT::Install-Recommends "false";\n' >"$no_recommends"
# dpkg without an fsync per file it unpacks (as mmdebstrap's eatmydata for the native roots): a
# build VM that fails is thrown away, and finish.sh syncs before the power-off. Removed again
# before the image is saved, so a node's dpkg is as safe as ever.
unsafe_io=/etc/dpkg/dpkg.cfg.d/00mesos-roles-unsafe-io
printf 'force-unsafe-io\n' >"$unsafe_io"

# No answers: the role installs inert (docs/debconf.md); the node's seed configures it.
sh "$top/install.sh" "$ROLE"
# Docker as the images have it: docker.io with AppArmor's parser (the trixie docker command is a
# Recommends). From the bundle's source alone, like install.sh. mesos-role-tools is only a
# Recommends of the roles: named, as the native images name it.
set -- docker.io apparmor mesos-role-tools
if apt-cache show docker-cli >/dev/null 2>&1; then
	set -- "$@" docker-cli
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	-o Dir::Etc::SourceList="$source_file" -o Dir::Etc::SourceParts=/nonexistent "$@"
systemctl enable docker.service
rm -f "$no_recommends" "$unsafe_io"

if [ -n "$saved" ]; then
	cp -p "$saved" "$source_file"
else
	rm -f "$source_file"
fi

# The overlays (the unit that applies a node's seed among them): a base image of `cargo xtask
# image` has them already, another source (amazon-ebs) gets them here.
mkdir "$work/overlays"
tar -xf "$OVERLAYS" -C "$work/overlays" --no-same-owner
for layer in all "$ROLE"; do
	[ ! -d "$work/overlays/$layer" ] || cp -R "$work/overlays/$layer/." /
done
rm -rf "$work" "$BUNDLE" "$OVERLAYS"
echo "provision.sh: mesos-$ROLE-role and Docker installed"
