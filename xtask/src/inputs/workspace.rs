//! Where things are and the inputs every step shares: the workspace root, the default version and the
//! build time that makes outputs reproducible.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::tool::Tools;

/// What every step of one `cargo xtask` run shares: the tool runner and the build time.
pub struct Build {
    pub tools: Tools,
    pub source_date_epoch: u64,
}

impl Build {
    pub fn from_env() -> Result<Self> {
        let tools = Tools::new()?;
        let source_date_epoch = source_date_epoch(&tools)?;
        Ok(Self {
            tools,
            source_date_epoch,
        })
    }

    /// `--version`, else the workspace version.
    pub fn version(&self, flag: Option<String>) -> String {
        flag.unwrap_or_else(|| default_version().to_string())
    }

    /// `--suite`, else this host's, checked.
    pub fn suite(&self, flag: Option<String>) -> Result<String> {
        let suite = flag.map_or_else(host_suite, Ok)?;
        check_suite(&suite)?;
        Ok(suite)
    }

    /// The operator's .debs: `--upstream`, else `upstream/` at the workspace root.
    pub fn upstream(&self, flag: Option<PathBuf>) -> PathBuf {
        flag.unwrap_or_else(|| root().join("upstream"))
    }
}

/// The workspace root (the directory holding `packaging/`, `xtask/`, ...).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// The development signing key: generated on first use, reused after (never for production).
pub fn development_key() -> PathBuf {
    root().join("target/signing/dev-key.asc")
}

/// `target/dist`: every artifact the pipeline ships, and nothing else.
pub fn dist_dir() -> PathBuf {
    root().join("target/dist")
}

/// Caches that outlive a build (the dependency closure's downloads, the tests' base roots):
/// `MESOS_ROLES_CACHE`, else /var/cache/mesos-roles when it can be written (so fresh clones on one
/// machine share it), else `target/cache`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(CACHE_VARIABLE) {
        return dir.into();
    }
    let system = PathBuf::from("/var/cache/mesos-roles");
    // Writable, not merely present: a user build beside root's cache falls back to target/.
    if std::fs::create_dir_all(&system).is_ok() && tempfile::tempfile_in(&system).is_ok() {
        return system;
    }
    root().join("target/cache")
}

/// The variable that moves [`cache_dir`].
pub const CACHE_VARIABLE: &str = "MESOS_ROLES_CACHE";

/// The version of the role packages when `--version` is not given: the workspace version.
pub fn default_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// The timestamp every archive member, changelog date and index carries:
/// `SOURCE_DATE_EPOCH` when set, else the time of the last commit.
pub fn source_date_epoch(tools: &Tools) -> Result<u64> {
    if let Ok(value) = std::env::var("SOURCE_DATE_EPOCH") {
        return value.trim().parse().with_context(|| {
            format!("SOURCE_DATE_EPOCH={value:?} is not a number of seconds since 1970: set it to one, or unset it to use the last commit's time")
        });
    }
    let out = tools.read(
        "read the last commit's time for SOURCE_DATE_EPOCH",
        "git",
        &["-C", &root().to_string_lossy(), "log", "-1", "--format=%ct"],
    )?;
    match out.trim().parse() {
        Ok(epoch) => Ok(epoch),
        Err(_) => bail!(
            "no commit to take SOURCE_DATE_EPOCH from (git said {out:?}): set SOURCE_DATE_EPOCH"
        ),
    }
}

/// The Debian suites the repository can be built for.
pub const SUITES: [&str; 2] = ["bookworm", "trixie"];

/// Checks `--suite`.
pub fn check_suite(suite: &str) -> Result<()> {
    if !SUITES.contains(&suite) {
        bail!(
            "--suite {suite:?} is not supported: use one of {}",
            SUITES.join(", ")
        );
    }
    Ok(())
}

/// The build host's release codename (`VERSION_CODENAME` in /etc/os-release), supported or not.
pub fn host_codename() -> Result<String> {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
        .context("/etc/os-release names no VERSION_CODENAME: this is not a Debian release apt can install from")
}

/// The build host's suite (`VERSION_CODENAME` in /etc/os-release): the default `--suite`.
pub fn host_suite() -> Result<String> {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let codename = text
        .lines()
        .find_map(|l| l.strip_prefix("VERSION_CODENAME="))
        .map(|v| v.trim_matches('"').to_string());
    match codename {
        Some(suite) if SUITES.contains(&suite.as_str()) => Ok(suite),
        other => bail!(
            "this host's suite ({}) is not one the repository supports: give --suite {}",
            other.as_deref().unwrap_or("not in /etc/os-release"),
            SUITES.join("|")
        ),
    }
}

/// The build host's Debian architecture (`dpkg --print-architecture`): the repository's binary one.
pub fn host_arch(tools: &Tools) -> Result<String> {
    let arch = tools.read(
        "ask dpkg for this host's architecture",
        "dpkg",
        &["--print-architecture"],
    )?;
    Ok(arch.trim().to_string())
}

/// Checks `--version` by Debian's rules (dpkg would refuse the .debs of any other).
pub fn check_version(version: &str) -> Result<()> {
    crate::formats::deb::check_version(version).map_err(|e| anyhow::anyhow!("--version {e}"))
}
