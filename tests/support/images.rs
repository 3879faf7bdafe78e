//! The golden images as the image and boot tests build them: the role packages (with
//! mesos-role-tools) and the doubles of mesos and marathon (as the operator's `upstream/`) in a
//! scratch signed repository, the base system from the host's mirror. One epoch, version and key
//! for all of them, kept in the cache, so the repository's bytes, and so the cached image roots,
//! are the same from test to test and run to run.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use xtask::formats::signing::KeySource;
use xtask::steps::image::Kind;

use crate::{Request, Target, doubles};

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

/// Held while a test writes a repository with the shared key: the first one makes the key. Across
/// processes too (a lock file beside the key): `cargo xtask test` runs the image and boot tiers at
/// once, and two processes making the key would each sign with their own.
pub struct RepoLock {
    _file: std::fs::File,
    _guard: std::sync::MutexGuard<'static, ()>,
}

pub fn repo_lock() -> Result<RepoLock> {
    let guard = REPO_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = xtask::inputs::workspace::cache_dir().join("images");
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::File::create(dir.join("test-signing-key.lock"))?;
    file.lock()
        .context("cannot lock the image tests' signing key")?;
    Ok(RepoLock {
        _file: file,
        _guard: guard,
    })
}

/// The inputs every image test shares: the doubles as `upstream/` (built into `dir`), the shared
/// key, version, suite and epoch.
pub fn request(dir: &Path, targets: Vec<Target>) -> Result<Request> {
    let upstream = dir.join("upstream");
    doubles::build_all(&upstream)?;
    Ok(Request {
        targets,
        version: Some(VERSION.into()),
        suite: Some(SUITE.into()),
        source_date_epoch: Some(EPOCH),
        upstream: Some(upstream),
        signing_key: Some(test_key()),
        ..Request::default()
    })
}

/// Plans and runs `request`; the plan (which makes the shared key the first time) under the lock.
pub fn run(request: Request) -> Result<xtask::summary::Summary> {
    let build = xtask::inputs::workspace::Build::from_env()?;
    let plan = {
        let _guard = repo_lock()?;
        request.plan(&build)?
    };
    plan.execute(&build)
}

/// The signed repository of the packages and the doubles (with the dependency closure if asked),
/// in a scratch directory apt's `_apt` user can read (it reads `file:` sources). The directory
/// goes when the returned guard drops.
pub fn test_repo(dir: &Path, closure: bool) -> Result<(PathBuf, tempfile::TempDir)> {
    let repo_dir = xtask::steps::image::scratch_dir("test-repo-")?;
    let repo = repo_dir.path().join("repo");
    let mut request = request(dir, vec![Target::Repo])?;
    request.closure = closure;
    request.repo_out = Some(repo.clone());
    request.debs_out = Some(dir.join("debs"));
    run(request)?;
    Ok((repo, repo_dir))
}

/// Builds the image of `kind` into `dir/out`; returns it and the time the image step took.
pub fn build(kind: Kind, dir: &Path) -> Result<(PathBuf, Duration)> {
    let mut request = request(dir, vec![Target::Image(kind)])?;
    request.images_out = Some(dir.join("out"));
    let start = Instant::now();
    let summary = run(request)?;
    let artifact = summary
        .artifacts
        .into_iter()
        .find(|a| a.kind == "image")
        .context("the plan made no image")?;
    anyhow::ensure!(
        artifact.path.file_name().unwrap().to_string_lossy()
            == format!("mesos-roles-{}-{VERSION}-{SUITE}-amd64.qcow2", kind.name())
    );
    Ok((artifact.path, start.elapsed()))
}
