//! `cargo xtask debs`: the role meta-packages, written in-process from `packaging/`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use flate2::{Compression, GzBuilder};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

use crate::files::write_whole;
use crate::formats::deb::{self, ControlFile, DataFile};
use crate::formats::manifest::Artifact;
use crate::inputs::packaging::{self, Package, Project};
use crate::progress::Step;

pub struct Options {
    pub version: String,
    pub out: PathBuf,
    pub source_date_epoch: u64,
    /// Also `mesos-role-tools` (cargo-deb; a release build of `mesos-role/`, slow the first time).
    pub tools: bool,
}

/// What the packages are made of: `packaging/`, the version and epoch, and for `mesos-role-tools`
/// what cargo-deb builds it from (the crate, the lock file, the flags).
pub fn inputs(options: &Options) -> Result<String> {
    let root = crate::inputs::workspace::root();
    let mut inputs = crate::stamps::Inputs::new("debs")?
        .text("version", &options.version)
        .text("epoch", options.source_date_epoch)
        .text("tools", options.tools)
        .dir(&packaging::dir())?
        .file(&root.join("docs/security.md"))?;
    if options.tools {
        inputs = inputs
            .dir(&root.join("mesos-role"))?
            .file(&root.join("Cargo.toml"))?
            .file(&root.join("Cargo.lock"))?
            .text("rustflags", crate::steps::tools_deb::rustflags());
    }
    Ok(inputs.finish())
}

/// Builds every role package into `options.out` and returns what it wrote. All packages are built in
/// memory first, so a bad definition leaves no new file behind.
pub fn run(options: &Options) -> Result<Vec<Artifact>> {
    crate::inputs::workspace::check_version(&options.version)?;
    let step = Step::start(format!(
        "debs {} -> {}",
        options.version,
        options.out.display()
    ));
    let packaging = packaging::dir();
    let project = packaging::read_project(&packaging)?;
    let mut built = Vec::new();
    for name in packaging::ROLES {
        let package = packaging::read_package(&packaging, name)?;
        let bytes = build(&packaging, &project, package, options)?;
        built.push((format!("{name}_{}_all.deb", options.version), bytes));
    }
    if options.tools {
        built.push(crate::steps::tools_deb::build(
            &packaging, &project, options,
        )?);
    }
    remove_stale(&options.out)?;
    let mut artifacts = Vec::new();
    for (file, bytes) in built {
        let path = options.out.join(&file);
        write_whole(&path, &bytes)?;
        step.note(format!("{file} ({} bytes)", bytes.len()));
        artifacts.push(Artifact::new("deb", path, &bytes));
    }
    step.done();
    Ok(artifacts)
}

/// One package's .deb bytes.
pub fn build(
    packaging: &Path,
    project: &Project,
    package: Package,
    options: &Options,
) -> Result<Vec<u8>> {
    let data = doc_files(packaging, project, &package.name, options)?;
    let size = deb::installed_size_kib(&data)?;
    let mut control = vec![ControlFile {
        name: "control".into(),
        mode: 0o644,
        contents: packaging::control(project, &package, &options.version, size).into_bytes(),
    }];
    control.extend(package.control_files);
    deb::build(control, &data, options.source_date_epoch)
        .with_context(|| format!("cannot build {}", package.name))
}

/// The files every package ships: `/usr/share/doc/<package>/` (copyright, and the changelog dated
/// SOURCE_DATE_EPOCH, and docs/security.md, which the roles' messages name) and its lintian
/// overrides.
pub(crate) fn doc_files(
    packaging: &Path,
    project: &Project,
    package: &str,
    options: &Options,
) -> Result<Vec<DataFile>> {
    let read = |name: &str| {
        let path = packaging.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let date = OffsetDateTime::from_unix_timestamp(options.source_date_epoch as i64)
        .context("SOURCE_DATE_EPOCH is out of range")?
        .format(&Rfc2822)?;
    let changelog = read("changelog.in")?
        .replace("@PACKAGE@", package)
        .replace("@VERSION@", &options.version)
        .replace("@MAINTAINER@", &project.maintainer)
        .replace("@DATE@", &date);
    // Policy 12.7: a native version (no Debian revision) names its changelog changelog.gz.
    let changelog_name = if options.version.contains('-') {
        "changelog.Debian.gz"
    } else {
        "changelog.gz"
    };
    let doc = format!("/usr/share/doc/{package}");
    let overrides = read("lintian-overrides.in")?.replace("@PACKAGE@", package);
    Ok(vec![
        DataFile {
            path: format!("/usr/share/lintian/overrides/{package}"),
            mode: 0o644,
            contents: overrides.into_bytes(),
        },
        DataFile {
            path: format!("{doc}/copyright"),
            mode: 0o644,
            contents: read("copyright")?.into_bytes(),
        },
        DataFile {
            path: format!("{doc}/{changelog_name}"),
            mode: 0o644,
            contents: gzip_best(changelog.as_bytes())?,
        },
        DataFile {
            path: format!("{doc}/security.md"),
            mode: 0o644,
            contents: read("../docs/security.md")?.into_bytes(),
        },
    ])
}

/// gzip -9n: no name, no time, so the bytes depend on the contents only.
pub(crate) fn gzip_best(bytes: &[u8]) -> Result<Vec<u8>> {
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    gz.write_all(bytes)?;
    Ok(gz.finish()?)
}

/// Removes the packages of other versions (roles and tools) from `out`, so it holds one build.
fn remove_stale(out: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let role = name.ends_with("_all.deb")
            && packaging::ROLES
                .iter()
                .any(|role| name.starts_with(&format!("{role}_")));
        let tools = name.ends_with(".deb")
            && name.starts_with(&format!("{}_", crate::steps::tools_deb::PACKAGE));
        if role || tools {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove the old {}", path.display()))?;
        }
    }
    Ok(())
}
