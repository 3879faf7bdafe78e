//! Base Debian roots for `verify`'s nodes and the package and system tiers, built once with
//! mmdebstrap and cached as tarballs under `project::cache_dir()/roots/`. The cache key is the suite and the package list, so a
//! warm run unpacks instead of bootstrapping.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};
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

/// Unpacks the base root of `suite` into `dir`.
pub fn unpack(suite: &str, dir: &Path) -> Result<()> {
    unpack_tarball(&base(suite)?, dir)
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
