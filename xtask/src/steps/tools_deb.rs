//! `mesos-role-tools`: the `mesos-role` binary (the workspace crate `mesos-role/`), packaged by
//! cargo-deb. cargo-deb builds the release binary, finds its library dependencies (`$auto`) and
//! names the architecture from the target; the role packages stay with `deb.rs` (cargo-deb cannot
//! make `Architecture: all` packages).
//!
//! The package's changelog and lintian overrides come from the same `packaging/` templates as the
//! roles'; they and the gzipped manual page are rendered into `target/mesos-role-tools/` (which
//! `mesos-role/Cargo.toml`'s assets name) before cargo-deb runs. One build at a time: a lock.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::files::write_whole;
use crate::formats::deb::DataFile;
use crate::inputs::packaging::Project;
use crate::inputs::workspace::root;
use crate::tool::Tools;

/// The package name, and the crate it is built from.
pub const PACKAGE: &str = "mesos-role-tools";
const CRATE_DIR: &str = "mesos-role";

/// The cargo that runs xtask (or the tests), else the one on PATH.
fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Whether `cargo deb` runs here.
pub fn cargo_deb_installed(tools: &Tools) -> bool {
    tools
        .read("ask cargo-deb its version", &cargo(), &["deb", "--version"])
        .is_ok()
}

/// Installs cargo-deb from crates.io (once per machine: a few minutes on 2 cores), saying so.
pub fn install_cargo_deb(tools: &Tools) -> Result<()> {
    let prerequisites = crate::inputs::prerequisites::Prerequisites::load()?;
    let version = prerequisites.cargo_version("cargo-deb")?;
    let step = crate::progress::Step::start(format!(
        "cargo-deb is not installed: cargo install cargo-deb@{version} --locked (once; it packages mesos-role-tools)"
    ));
    tools.run(
        "install cargo-deb (needs crates.io; or install it yourself: cargo install cargo-deb --locked)",
        &cargo(),
        &[
            "install",
            "--locked",
            "--quiet",
            &format!("cargo-deb@{version}"),
        ],
    )?;
    step.done();
    Ok(())
}

/// Builds the package for `version` and returns its file name and bytes.
pub fn build(
    packaging: &Path,
    project: &Project,
    options: &crate::steps::debs::Options,
) -> Result<(String, Vec<u8>)> {
    let tools = Tools::new()?;
    let stage = root().join("target").join(PACKAGE);
    std::fs::create_dir_all(&stage)
        .with_context(|| format!("cannot create {}", stage.display()))?;
    // Builds of other versions (tests run several at once) render into the same directory.
    let lock = std::fs::File::create(root().join("target").join(format!("{PACKAGE}.lock")))
        .context("cannot create the lock of the mesos-role-tools build")?;
    lock.lock()
        .context("cannot lock the mesos-role-tools build")?;
    // Only this build's files: a changelog of another version would be packed too.
    let usr = stage.join("usr");
    if usr.exists() {
        std::fs::remove_dir_all(&usr).with_context(|| format!("cannot clear {}", usr.display()))?;
    }
    for file in staged_files(packaging, project, options)? {
        write_whole(
            &stage.join(file.path.trim_start_matches('/')),
            &file.contents,
        )?;
    }
    let out = tempfile::Builder::new()
        .prefix("cargo-deb-")
        .tempdir_in(&stage)
        .with_context(|| format!("cannot create a scratch directory in {}", stage.display()))?;
    let deb = out.path().join("out.deb");
    let manifest = root().join(CRATE_DIR).join("Cargo.toml");
    let epoch = options.source_date_epoch.to_string();
    let cargo = cargo();
    tools.run_env(
        "build mesos-role-tools with cargo-deb (install it: cargo install cargo-deb --locked)",
        &cargo,
        &[
            "deb",
            "--quiet",
            "--locked",
            "--manifest-path",
            &manifest.to_string_lossy(),
            "--deb-version",
            &options.version,
            "--output",
            &deb.to_string_lossy(),
        ],
        &[
            ("SOURCE_DATE_EPOCH", &epoch),
            ("CARGO_ENCODED_RUSTFLAGS", &rustflags()),
        ],
    )?;
    let bytes =
        std::fs::read(&deb).with_context(|| format!("cargo-deb wrote no {}", deb.display()))?;
    let control = crate::formats::deb::read_control(bytes.as_slice())
        .and_then(|text| crate::formats::apt_index::Fields::parse(&text))
        .context("cannot read the control file cargo-deb wrote")?;
    let arch = control.required("Architecture")?.to_string();
    if control.required("Package")? != PACKAGE || control.required("Version")? != options.version {
        bail!(
            "cargo-deb built {} {} instead of {PACKAGE} {}: check [package.metadata.deb] in {}",
            control.required("Package")?,
            control.required("Version")?,
            options.version,
            manifest.display()
        );
    }
    Ok((format!("{PACKAGE}_{}_{arch}.deb", options.version), bytes))
}

/// The builder's flags plus one: the crates' sources live under CARGO_HOME, whose path panic
/// messages keep; mapped to `/cargo`, the binary does not depend on the builder's home.
pub(crate) fn rustflags() -> String {
    let mut flags: Vec<String> = match std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        Ok(encoded) if !encoded.is_empty() => encoded.split('\x1f').map(String::from).collect(),
        _ => std::env::var("RUSTFLAGS")
            .unwrap_or_default()
            .split_whitespace()
            .map(String::from)
            .collect(),
    };
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    if let Some(home) = home {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    flags.join("\x1f")
}

/// The rendered files cargo-deb packs from `target/mesos-role-tools/`, at their paths on a node:
/// the changelog and the lintian overrides of the roles' templates (plus this package's own
/// overrides), and the manual page, gzipped.
fn staged_files(
    packaging: &Path,
    project: &Project,
    options: &crate::steps::debs::Options,
) -> Result<Vec<DataFile>> {
    let debian = root().join(CRATE_DIR).join("debian");
    let read = |name: &str| -> Result<Vec<u8>> {
        let path: PathBuf = debian.join(name);
        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let mut files = Vec::new();
    // The roles' copyright speaks of maintainer scripts only: the binary has its own.
    for mut file in crate::steps::debs::doc_files(packaging, project, PACKAGE, options)? {
        if file.path.ends_with("/copyright") {
            continue;
        }
        if file.path.starts_with("/usr/share/lintian/") {
            file.contents.extend(read("lintian-overrides")?);
        }
        files.push(file);
    }
    files.push(DataFile {
        path: "/usr/share/man/man1/mesos-role.1.gz".into(),
        mode: 0o644,
        contents: crate::steps::debs::gzip_best(&read("mesos-role.1")?)?,
    });
    Ok(files)
}
