//! Support for the integration tests: running tools, the cached Debian roots, the test doubles of
//! `mesos` and `marathon`, and booted systemd-nspawn nodes on private networks.

pub mod answers;
pub mod cluster;
pub mod doubles;
pub mod images;
pub mod local;
/// The nodes' machinery lives in the pipeline (`cargo xtask verify` boots clusters too); the tests
/// keep their paths.
pub use xtask::cluster::netns as net;
pub use xtask::cluster::nspawn as node;
pub use xtask::cluster::roots;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, Result, bail};
pub use xtask::plan::{Request, Target};

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
        .to_path_buf()
}

/// Caches that outlive a test run (base roots): the pipeline's own cache directory.
pub use xtask::inputs::workspace::cache_dir;

/// Scratch space for one test, under `target/` (roots are too large for a tmpfs /tmp).
pub fn scratch(name: &str) -> Result<tempfile::TempDir> {
    let base = workspace().join("target/test-scratch");
    std::fs::create_dir_all(&base)?;
    Ok(tempfile::Builder::new().prefix(name).tempdir_in(base)?)
}

/// Scratch space that a test binary's tests share for the whole run (a dist built once), named
/// with the process id: a static is never dropped, so each run first removes what the runs whose
/// process is gone left behind.
pub fn run_scratch(name: &str) -> Result<PathBuf> {
    let base = workspace().join("target/test-scratch");
    std::fs::create_dir_all(&base)?;
    for entry in std::fs::read_dir(&base)? {
        let path = entry?.path();
        let pid = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(name)?.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next()?.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    let dir = tempfile::Builder::new()
        .prefix(&format!("{name}-{}-", std::process::id()))
        .tempdir_in(base)?;
    Ok(dir.keep())
}

/// A value built once per test process on first use and shared by its tests (a dist, an image):
/// a test that asks while another builds it waits for that build; a failed build is tried again
/// by the next test that asks.
pub struct Once<T> {
    value: std::sync::OnceLock<T>,
    building: std::sync::Mutex<()>,
}

impl<T> Once<T> {
    pub const fn new() -> Self {
        Self {
            value: std::sync::OnceLock::new(),
            building: std::sync::Mutex::new(()),
        }
    }

    pub fn get_or_build(&'static self, build: impl FnOnce() -> Result<T>) -> Result<&'static T> {
        let _one = self
            .building
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(value) = self.value.get() {
            return Ok(value);
        }
        let value = build()?;
        Ok(self.value.get_or_init(|| value))
    }
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The xtask binary, built once per test process: tests drive the command as an operator does.
pub fn xtask_binary() -> Result<PathBuf> {
    static BUILT: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !*built {
        run(
            "build xtask",
            Command::new(env!("CARGO"))
                .args(["build", "-q", "-p", "xtask"])
                .current_dir(workspace()),
        )?;
        *built = true;
    }
    Ok(workspace().join("target/debug/xtask"))
}

/// Runs a command to completion; fails with the purpose, the command and its output.
pub fn run(purpose: &str, command: &mut Command) -> Result<String> {
    let output = output(purpose, command)?;
    if !output.status.success() {
        bail!(
            "failed to {purpose}: {command:?} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs a command to completion and returns its output whatever its exit status.
pub fn output(purpose: &str, command: &mut Command) -> Result<Output> {
    command
        .output()
        .with_context(|| format!("cannot start {command:?} to {purpose}"))
}

/// The package and system tiers need root and real tools; without them a test fails and says why
/// (a tier that cannot run must not pass in silence).
pub fn require_root_and_tools(tools: &[&str]) -> Result<()> {
    let uid = run("read the user id", Command::new("id").arg("-u"))?;
    if uid.trim() != "0" {
        bail!(
            "this tier needs root (it builds Debian roots and boots containers): run the tests as root, as .ci/run does"
        );
    }
    require_tools(tools)
}

pub fn require_tools(tools: &[&str]) -> Result<()> {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing tools: {}; install them as .ci/run does (apt-get install mmdebstrap systemd-container lintian shellcheck ...)",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Builds the role packages with the pipeline's own code into `out`, at a fixed epoch.
pub fn build_role_debs(out: &Path, version: &str) -> Result<Vec<PathBuf>> {
    build_debs(out, version, false)
}

/// The role packages and `mesos-role-tools`, as a repository or image ships them.
pub fn build_shipped_debs(out: &Path, version: &str) -> Result<Vec<PathBuf>> {
    build_debs(out, version, true)
}

fn build_debs(out: &Path, version: &str, tools: bool) -> Result<Vec<PathBuf>> {
    let summary = pipeline(Request {
        targets: vec![Target::Debs],
        version: Some(version.into()),
        source_date_epoch: Some(1_700_000_000),
        debs_out: Some(out.to_path_buf()),
        roles_only: !tools,
        ..Request::default()
    })?;
    Ok(summary.artifacts.into_iter().map(|a| a.path).collect())
}

/// The example inventory (`cluster.toml`) with its placeholder SSH key replaced by a key line no
/// one holds, as an operator's would be: the seeds refuse the placeholder.
pub fn example_inventory(dir: &Path) -> Result<PathBuf> {
    let text = std::fs::read_to_string(workspace().join("cluster.toml"))?;
    let line = text
        .lines()
        .find(|l| l.contains(xtask::inputs::inventory::PLACEHOLDER_KEY))
        .context("cluster.toml has no placeholder key")?;
    let key = "    \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm9Ukl3bWx0ZXN0a2V5b25seWZvcnRlc3Rz test@mesos-roles\",";
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text.replace(line, key))?;
    Ok(path)
}

/// Runs the pipeline as `cargo xtask` does: the request planned (everything checked), then made.
pub fn pipeline(request: Request) -> Result<xtask::summary::Summary> {
    let build = xtask::inputs::workspace::Build::from_env()?;
    let request = Request {
        command: "test".into(),
        ..request
    };
    request.plan(&build)?.execute(&build)
}

/// lintian (`--fail-on error,warning`) on one .deb: fails with its report on any error or warning.
pub fn lintian_clean(deb: &Path) -> Result<()> {
    lintian_clean_by(deb, Command::new("lintian").args(LINTIAN_FLAGS).arg(deb))
}

/// lintian's flags: fail on errors and warnings, show info tags, every occurrence.
pub const LINTIAN_FLAGS: &[&str] = &[
    "--fail-on",
    "error,warning",
    "--display-info",
    "--no-tag-display-limit",
];

/// Runs `lintian` (a lintian command on `deb` with [`LINTIAN_FLAGS`], e.g. inside a chroot) and
/// fails with its report unless it passes with no error and no warning.
pub fn lintian_clean_by(deb: &Path, lintian: &mut Command) -> Result<()> {
    let out = output("run lintian", lintian)?;
    let report = String::from_utf8_lossy(&out.stdout);
    eprintln!("lintian {}:\n{report}", deb.display());
    if !out.status.success()
        || report
            .lines()
            .any(|l| l.starts_with("E: ") || l.starts_with("W: "))
    {
        bail!(
            "lintian fails {}:\n{report}{}",
            deb.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The control area of a .deb, unpacked by dpkg-deb into a scratch directory.
pub fn unpack_control(deb: &Path) -> Result<tempfile::TempDir> {
    let dir = scratch("control")?;
    run(
        "unpack the control area",
        Command::new("dpkg-deb")
            .arg("--control")
            .arg(deb)
            .arg(dir.path()),
    )?;
    Ok(dir)
}

/// One test per scenario and suite, so that a failure names both: `on_suites!(scenario, ...)`
/// makes `bookworm::scenario` and `trixie::scenario` calling `scenario(suite)`.
#[macro_export]
macro_rules! on_suites {
    ($($scenario:ident),* $(,)?) => {
        mod bookworm {
            $(#[test]
            fn $scenario() -> anyhow::Result<()> {
                super::$scenario("bookworm")
            })*
        }
        mod trixie {
            $(#[test]
            fn $scenario() -> anyhow::Result<()> {
                super::$scenario("trixie")
            })*
        }
    };
}

/// The host's dpkg architecture: a repository's binary one.
pub fn host_arch() -> Result<String> {
    Ok(run(
        "ask dpkg for the architecture",
        Command::new("dpkg").arg("--print-architecture"),
    )?
    .trim()
    .to_string())
}
