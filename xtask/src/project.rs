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

/// Checks a Debian version string well enough to keep it out of file names and control fields
/// where it would do harm; dpkg's own rules are stricter and dpkg-deb checks them.
pub fn check_version(version: &str) -> Result<()> {
    let ok = version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+-~:".contains(c));
    if !ok {
        bail!(
            "--version {version:?} is not a Debian version: start with a digit and use only letters, digits and . + - ~ :"
        );
    }
    Ok(())
}

/// Writes `path` whole or not at all: a temporary file beside it, renamed into place.
pub fn write_whole(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    write_whole_with(path, |file| {
        file.write_all(contents)
            .with_context(|| format!("cannot write {}", path.display()))
    })
}

/// Like [`write_whole`] for contents too large to hold in memory: `write` streams them into the
/// temporary file, which is renamed into place only if it succeeds.
pub fn write_whole_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let parent = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("cannot create a temporary file in {}", parent.display()))?;
    write(tmp.as_file_mut())?;
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the new {} into place", path.display()))?;
    Ok(())
}

/// Makes the directory `out` whole or not at all: `fill` writes into a temporary directory beside
/// it, which then takes `out`'s place (the old one is removed). If `fill` fails, `out` is as it was.
pub fn replace_dir(out: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = out
        .parent()
        .with_context(|| format!("--out {} has no parent directory", out.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let new = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-"))
        .tempdir_in(parent)
        .with_context(|| {
            format!(
                "cannot create a temporary directory in {}",
                parent.display()
            )
        })?;
    fill(new.path())?;
    let new = new.keep();
    let replaced = if out.exists() {
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(parent)?;
        std::fs::rename(out, old.path().join(&*name))
            .with_context(|| format!("cannot move the old {} aside", out.display()))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&new, out) {
        if let Some(old) = &replaced {
            let _ = std::fs::rename(old.path().join(&*name), out);
        }
        let _ = std::fs::remove_dir_all(&new);
        bail!("cannot move the new {} into place: {e}", out.display());
    }
    Ok(())
}

/// Every regular file below `dir`, sorted.
pub fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(current) = dirs.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {}", current.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
