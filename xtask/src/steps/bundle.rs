//! `cargo xtask bundle`: one file for an air-gapped site, `mesos-roles-<version>-<suite>-<arch>.tar.gz`,
//! holding the repository with the dependency closure (and its keyring), `install.sh` and
//! `SHA256SUMS` over every other file, all under one top directory named like the file.
//!
//! The plan (every member and its sha256) is made first; the archive is then streamed into a
//! temporary file beside the output and renamed into place. Deterministic: sorted members, the
//! headers of `archive.rs`, gzip without name or time, so the same repository and epoch give the same
//! bytes. gzip, not zstd: a minbase root has gzip (Essential) but no zstd, and the bundle must
//! unpack on a bare node; the pool's .debs are compressed already, so zstd would gain nothing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::formats::archive::{Contents, Member, Members};
use crate::formats::manifest::Artifact;
use crate::progress::Step;

/// The installer, kept as data beside the package definitions.
pub const INSTALLER: &str = "packaging/bundle/install.sh";
/// gzip level: the pool's .debs are compressed already. Measured on the bookworm closure (268 MB):
/// level 1 grew it to 283 MB (miniz's fast mode expands incompressible data), 6 gave 268.8 MB in 6 s.
const GZIP_LEVEL: u32 = 6;

pub struct Options {
    pub version: String,
    pub suite: String,
    pub arch: String,
    /// A repository written by the repo step (with `--closure` for a bundle that installs offline).
    pub repo: PathBuf,
    /// The directory the bundle is written into.
    pub out: PathBuf,
    pub source_date_epoch: u64,
}

/// The bundle's file name (and its top directory, without the extension).
pub fn name(version: &str, suite: &str, arch: &str) -> String {
    format!("mesos-roles-{version}-{suite}-{arch}")
}

/// Writes the bundle into `options.out` and returns it as an artifact of kind `bundle`.
pub fn run(options: &Options) -> Result<Artifact> {
    let top = name(&options.version, &options.suite, &options.arch);
    let path = options.out.join(format!("{top}.tar.gz"));
    let step = Step::start(format!("bundle -> {}", path.display()));
    let installer = crate::inputs::workspace::root().join(INSTALLER);
    let mut files: Vec<(String, u32, PathBuf)> = vec![("install.sh".into(), 0o755, installer)];
    for file in files_below(&options.repo)? {
        let relative = file.strip_prefix(&options.repo)?.to_string_lossy();
        files.push((format!("repo/{relative}"), 0o644, file.clone()));
    }
    files.sort();
    let mut sums = String::new();
    let mut members = Members::new();
    members.insert(format!("{top}/"), Member::Dir);
    for (relative, mode, source) in &files {
        sums.push_str(&format!(
            "{}  {relative}\n",
            crate::files::sha256_file(source)?
        ));
        let mut dir = top.clone();
        let parts: Vec<&str> = relative.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            dir = format!("{dir}/{part}");
            members.insert(format!("{dir}/"), Member::Dir);
        }
        members.insert(
            format!("{top}/{relative}"),
            Member::File {
                mode: *mode,
                contents: Contents::Path(source.clone()),
            },
        );
    }
    members.insert(
        format!("{top}/SHA256SUMS"),
        Member::File {
            mode: 0o644,
            contents: Contents::Bytes(sums.into_bytes()),
        },
    );
    step.note(format!(
        "{} files, gzip level {GZIP_LEVEL}",
        files.len() + 1
    ));
    crate::files::write_whole_with(&path, |file| {
        let gz = flate2::GzBuilder::new().mtime(0).write(
            std::io::BufWriter::new(file),
            flate2::Compression::new(GZIP_LEVEL),
        );
        let gz = crate::formats::archive::write_tar(gz, members, options.source_date_epoch)?;
        let mut buffered = gz.finish().context("cannot finish gzip compression")?;
        std::io::Write::flush(&mut buffered)
            .with_context(|| format!("cannot write {}", path.display()))
    })?;
    let sha256 = crate::files::sha256_file(&path)?;
    let size = std::fs::metadata(&path)?.len();
    step.note(format!("{:.1} MB, sha256 {sha256}", size as f64 / 1e6));
    step.done();
    Ok(Artifact {
        kind: "bundle".into(),
        path,
        sha256,
    })
}

/// Every regular file below the repository `dir`, sorted.
fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    crate::files::files_below(dir).with_context(|| {
        format!(
            "cannot read the repository {}: build it with cargo xtask repo --closure",
            dir.display()
        )
    })
}
