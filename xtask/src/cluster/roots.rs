//! Base Debian roots for `verify`'s nodes and the package and system tiers, built once with
//! mmdebstrap and cached as tarballs under `project::cache_dir()/roots/`. The cache key is the suite and the package list, so a
//! warm run unpacks instead of bootstrapping.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::inputs::workspace::cache_dir;
use crate::tool::run_command as run;

/// What a node needs besides minbase: systemd to boot, the roles' dependencies (so installing the
/// roles needs no network), python3 for the doubles, and tools the tests use inside.
pub const NODE_PACKAGES: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "iproute2",
    "ucf",
    "logrotate",
    "python3",
    "zookeeperd",
    "docker.io",
    "apparmor",
    "adduser",
    "procps",
    "netcat-openbsd",
    "curl",
];

/// The packages of a node of `suite`.
pub fn node_packages(suite: &str) -> Vec<&'static str> {
    let mut packages = NODE_PACKAGES.to_vec();
    if suite != "bookworm" {
        // From trixie on the docker command is in docker-cli, only a Recommends of docker.io.
        packages.push("docker-cli");
    }
    packages
}

/// The tarball of a base root for `suite`, bootstrapping it if it is not cached yet.
pub fn base(suite: &str) -> Result<PathBuf> {
    cached(suite, &node_packages(suite))
}

/// The tarball of a plain minbase root of `suite` (nothing added): what the air-gapped bundle must
/// be complete for.
pub fn minbase(suite: &str) -> Result<PathBuf> {
    cached(suite, &[])
}

/// The tarball of a minbase root of `suite` with an init (systemd-sysv) and nothing else: what a
/// node of `verify --from bundle` starts as, so that the bundle alone must bring everything else.
pub fn bootable(suite: &str) -> Result<PathBuf> {
    cached(suite, &["systemd-sysv"])
}

/// The tarball of trixie's minbase with lintian: the lint tier runs trixie's lintian in it
/// (newer tags and checks than bookworm's).
pub fn lintian() -> Result<PathBuf> {
    cached("trixie", &["lintian"])
}

/// Every root the test tiers unpack, in the order the lanes first ask for them: verify's nodes,
/// the bundle, package and piuparts tiers' (bookworm and trixie), the lint tier's. `cargo xtask
/// test` makes them while the test binaries build, so on a cold machine no lane waits for
/// mmdebstrap; a root missing here is still made by the first tier that asks for it.
pub fn prepare_tier_roots() -> Result<()> {
    base("bookworm")?;
    bootable("bookworm")?;
    minbase("bookworm")?;
    base("trixie")?;
    minbase("trixie")?;
    lintian()?;
    Ok(())
}

/// A cached minbase root of `suite` with `packages` added (a tool root: lintian of `suite`, say).
pub fn cached(suite: &str, packages: &[&str]) -> Result<PathBuf> {
    let dir = cache_dir().join("roots");
    std::fs::create_dir_all(&dir)?;
    let key = hex::encode(&Sha256::digest(format!("{suite} {packages:?}"))[..6]);
    let name = format!("{suite}-{key}");
    let tarball = dir.join(format!("{name}.tar"));
    // One bootstrap of a root at a time: whoever else wants it waits for the first to finish;
    // other roots are made meanwhile.
    let lock = File::create(dir.join(format!("{name}.lock")))?;
    lock.lock()?;
    if !tarball.exists() {
        bootstrap(suite, packages, &tarball)?;
    }
    Ok(tarball)
}

fn bootstrap(suite: &str, packages: &[&str], tarball: &Path) -> Result<()> {
    let mirror = crate::inputs::mirror::debian()?;
    let partial = tarball.with_extension("partial.tar");
    eprintln!(
        "bootstrapping a {suite} base root (cached as {})",
        tarball.display()
    );
    let mut mmdebstrap = Command::new("mmdebstrap");
    mmdebstrap.args([
        "--variant=minbase",
        "--format=tar",
        // dpkg without fsync while the root is made (the hook removes itself after): a cold
        // bootstrap took half the wall time so, with the same CPU time and the same root.
        "--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata",
    ]);
    if !packages.is_empty() {
        mmdebstrap.arg(format!("--include={}", packages.join(",")));
    }
    run(
        &format!("bootstrap a {suite} root with mmdebstrap"),
        mmdebstrap
            .arg("--quiet")
            // Snapshot mirrors serve Release files whose Valid-Until has passed.
            .arg("--aptopt=Acquire::Check-Valid-Until \"false\"")
            .args([suite, &partial.to_string_lossy(), &mirror]),
    )?;
    std::fs::rename(&partial, tarball).context("cannot move the new root into the cache")
}

/// Mounts the base root of `suite` at `dir` (see [`overlay`]).
pub fn unpack(suite: &str, dir: &Path) -> Result<()> {
    overlay(&base(suite)?, dir)
}

/// Mounts `root` as a node's root: the tree of `tarball`, unpacked once into the cache, as an
/// overlay's lower layer (shared by every node, never written), the node's own writes in
/// `<root>.layer/`. A node then costs a mount instead of unpacking and later deleting a gigabyte
/// of small files (a third of a package tier's CPU time went to tar). Whoever deletes the
/// directory holding `root` runs [`unmount_below`] first.
pub fn overlay(tarball: &Path, root: &Path) -> Result<()> {
    let layer = layer(root);
    // Refused before anything is unpacked or made (the tree lies beside the tarball).
    if let Some(odd) = [tarball, &layer]
        .into_iter()
        .find(|p| p.to_string_lossy().contains([',', ':']))
    {
        bail!(
            "{} holds ',' or ':', which an overlay mount's options cannot name: use a cache directory (MESOS_ROLES_CACHE) and a checkout whose paths have neither",
            odd.display()
        );
    }
    let lower = tree(tarball)?;
    let (upper, work) = (layer.join("upper"), layer.join("work"));
    for dir in [&upper, &work, &root.to_path_buf()] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // The merged root directory is the upper one: the lower root's mode, whatever the umask.
    std::fs::set_permissions(&upper, std::fs::metadata(&lower)?.permissions())?;
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.display(),
        upper.display(),
        work.display()
    );
    run(
        "mount a node's root (overlay)",
        Command::new("mount")
            .args(["-t", "overlay", "overlay", "-o", &options])
            .arg(root),
    )?;
    Ok(())
}

/// Where [`overlay`] keeps what the node of `root` writes: `<root>.layer/`.
pub fn layer(root: &Path) -> PathBuf {
    let mut layer = root.as_os_str().to_owned();
    layer.push(".layer");
    PathBuf::from(layer)
}

/// The tree of `tarball`, unpacked once beside it (`<name>.tree/`): the read-only lower layer of
/// the node roots [`overlay`] mounts, and what piuparts copies its chroots from. Never written.
pub fn tree(tarball: &Path) -> Result<PathBuf> {
    let tree = tarball.with_extension("tree");
    let lock = File::create(tarball.with_extension("tree.lock"))?;
    lock.lock()?;
    if !tree.is_dir() {
        let partial = tarball.with_extension("tree.partial");
        if partial.exists() {
            std::fs::remove_dir_all(&partial)
                .with_context(|| format!("cannot remove {}", partial.display()))?;
        }
        unpack_tarball(tarball, &partial)?;
        std::fs::rename(&partial, &tree).context("cannot move the new tree into the cache")?;
    }
    Ok(tree)
}

/// Unmounts every mount at or below `dir`, deepest first: the overlays of node roots, and what a
/// killed tool (mmdebstrap's hooks, piuparts) left mounted. Deleting a directory that still
/// holds a mount would reach through it.
pub fn unmount_below(dir: &Path) -> Result<()> {
    // As the kernel names it: the real path, not one through a symbolic link.
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let mut points = mounted_below(&dir)?;
    points.sort_by_key(|point| std::cmp::Reverse(point.as_os_str().len()));
    for point in points {
        let unmounted = run(
            "unmount what is mounted below a directory about to be deleted",
            Command::new("umount").arg("--lazy").arg(&point),
        );
        // Another sweep of the same leftovers may have unmounted it first: gone is as good.
        if unmounted.is_err() && mounted_below(&point)?.contains(&point) {
            unmounted?;
        }
    }
    Ok(())
}

/// The mount points at or below `dir`.
fn mounted_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mounts =
        std::fs::read_to_string("/proc/self/mounts").context("cannot read /proc/self/mounts")?;
    Ok(mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(1))
        .map(|point| PathBuf::from(unescape(point)))
        .filter(|point| point.starts_with(dir))
        .collect())
}

/// A mount point as the kernel writes it in /proc/self/mounts: space, tab, newline and backslash
/// as three octal digits after a backslash.
fn unescape(field: &str) -> String {
    let mut out = Vec::with_capacity(field.len());
    let bytes = field.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            std::str::from_utf8(d)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
        });
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Unpacks a root tarball (from [`base`] or [`minbase`]) into `dir`.
pub fn unpack_tarball(tarball: &Path, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    run(
        "unpack a base root",
        Command::new("tar")
            .arg("-C")
            .arg(dir)
            .args(["--numeric-owner", "--xattrs", "--xattrs-include=*", "-xpf"])
            .arg(tarball),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn mount_points_are_read_as_the_kernel_escapes_them() {
        assert_eq!(super::unescape("/a\\040b/c\\011d"), "/a b/c\td");
        assert_eq!(super::unescape("/back\\134slash"), "/back\\slash");
        assert_eq!(super::unescape("/plain/path"), "/plain/path");
        assert_eq!(super::unescape("/not\\8octal"), "/not\\8octal");
    }
}
