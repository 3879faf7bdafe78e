//! The golden images as the image and boot tests build them: the role packages (with
//! mesos-role-tools) and the doubles of mesos and marathon (as the operator's `upstream/`) in a
//! scratch signed repository, the base system from the host's mirror. One epoch, version and key
//! for all of them, kept in the cache, so the repository's bytes, and so the cached image roots,
//! are the same from test to test and run to run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Result;
use xtask::formats::signing::KeySource;
use xtask::steps::image::Kind;

use crate::{build_shipped_debs, doubles, host_arch};

pub const EPOCH: u64 = 1_700_000_000;
pub const VERSION: &str = "1.0.0-1";
pub const SUITE: &str = "bookworm";

/// The repository signing key the image tests share.
pub fn test_key() -> KeySource {
    KeySource::Development(
        xtask::inputs::workspace::cache_dir().join("images/test-signing-key.asc"),
    )
}

static REPO_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Held while a test writes a repository with the shared key: the first one makes the key.
pub fn repo_lock() -> std::sync::MutexGuard<'static, ()> {
    REPO_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The signed repository of the packages and the doubles (with the dependency closure if asked),
/// in a scratch directory apt's `_apt` user can read (it reads `file:` sources). The directory
/// goes when the returned guard drops.
pub fn test_repo(dir: &Path, closure: bool) -> Result<(PathBuf, tempfile::TempDir)> {
    // One repository at a time: the tests share the signing key, made by the first.
    let _guard = repo_lock();
    let debs = build_shipped_debs(&dir.join("debs"), VERSION)?;
    let upstream = dir.join("upstream");
    doubles::build_all(&upstream)?;
    let repo_dir = xtask::steps::image::scratch_dir("test-repo-")?;
    let repo = repo_dir.path().join("repo");
    xtask::steps::repo::run(&xtask::steps::repo::Options {
        suite: SUITE.into(),
        arch: host_arch()?,
        out: repo.clone(),
        debs,
        upstream: Some(upstream),
        signing_key: test_key(),
        source_date_epoch: EPOCH,
        closure,
    })?;
    Ok((repo, repo_dir))
}

/// Builds the image of `kind` into `dir/out`; returns it and the time the image step took.
pub fn build(kind: Kind, dir: &Path) -> Result<(PathBuf, Duration)> {
    let (repo, _repo_dir) = test_repo(dir, false)?;
    let start = Instant::now();
    let artifact = xtask::steps::image::run(
        &xtask::tool::Tools::new()?,
        &xtask::steps::image::Options {
            kind,
            version: VERSION.into(),
            suite: SUITE.into(),
            arch: host_arch()?,
            mirror: xtask::inputs::mirror::debian()?,
            repo,
            out: dir.join("out"),
            source_date_epoch: EPOCH,
        },
    )?;
    anyhow::ensure!(artifact.kind == "image");
    anyhow::ensure!(
        artifact.path.file_name().unwrap().to_string_lossy()
            == format!("mesos-roles-{}-{VERSION}-{SUITE}-amd64.qcow2", kind.name())
    );
    Ok((artifact.path, start.elapsed()))
}
