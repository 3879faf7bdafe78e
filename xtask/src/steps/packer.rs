//! `cargo xtask packer`: the Packer templates of the golden images, `images/packer/` copied into
//! `target/dist/packer/` (replaced whole), with `mesos-roles.auto.pkrvars.hcl` giving them this
//! build's version, suite, bundle and base image (its sha256 pinned). The templates themselves are
//! data: a `qemu` source booting the base image of `cargo xtask image --role base` and an
//! `amazon-ebs` source from Debian's official AMI, both provisioned from the bundle.
//!
//! Packer reads paths relative to the directory it runs in: paths inside `target/dist` are written
//! relative to the templates' directory (run Packer there); others are written absolute.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::formats::manifest::Artifact;
use crate::progress::Step;

/// The templates, relative to the workspace root.
pub const TEMPLATES: &str = "images/packer";
/// The variables file written beside them; Packer loads `*.auto.pkrvars.hcl` by itself.
pub const VARIABLES: &str = "mesos-roles.auto.pkrvars.hcl";

pub struct Options {
    pub version: String,
    pub suite: String,
    pub arch: String,
    /// The base image Packer's qemu source boots (must exist: its checksum is pinned).
    pub base_image: PathBuf,
    /// The bundle the provisioning installs from (read by Packer at build time).
    pub bundle: PathBuf,
    /// The templates directory (replaced whole).
    pub out: PathBuf,
}

/// Where the templates carry `images/clean.list` (uploaded for clean.sh).
pub const CLEAN_LIST: &str = "scripts/clean.list";
/// Where the templates carry `images/inert.list` (clean.sh runs with it too).
pub const INERT_LIST: &str = "scripts/inert.list";
/// Where the templates carry `overlays/` as a tar (provision.sh lays `all/` and the role's).
pub const OVERLAYS: &str = "scripts/overlays.tar";

/// The base image's file name as `cargo xtask image --role base` writes it, from the bundle's
/// name (`mesos-roles-<version>-<suite>-<arch>`).
pub fn base_image_name(bundle_name: &str) -> String {
    let rest = bundle_name.trim_start_matches("mesos-roles-");
    format!("mesos-roles-base-{rest}.qcow2")
}

/// Checks the base image Packer will boot: a qcow2 file (its first bytes say so).
pub fn check_base_image(path: &Path) -> Result<()> {
    check_qcow2(
        path,
        "build it with `cargo xtask image --role base` (or give --base-image)",
    )
}

/// Checks that `path` is a qcow2 image (its first bytes say so), else fails with `fix`.
pub fn check_qcow2(path: &Path, fix: &str) -> Result<()> {
    check_magic(path, b"QFI\xfb", "a qcow2 image", fix)
}

/// Checks the bundle the provisioning installs from: a gzip file.
pub fn check_bundle(path: &Path) -> Result<()> {
    check_magic(
        path,
        b"\x1f\x8b",
        "a bundle (.tar.gz)",
        "build it with `cargo xtask bundle` (or give --bundle)",
    )
}

/// `overlays/` as a deterministic tar (members `all/...`, `<role>/...`, mode 0644 as the native
/// configure step lays them, dated 0).
fn overlays_tar() -> Result<Vec<u8>> {
    use crate::formats::archive::{Contents, Member, Members, write_tar};
    let dir = crate::inputs::workspace::root().join("overlays");
    let mut members = Members::new();
    for path in crate::files::files_below(&dir)? {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        members.insert(
            path.strip_prefix(&dir)?.to_string_lossy().into_owned(),
            Member::File {
                mode: 0o644,
                contents: Contents::Bytes(bytes),
            },
        );
    }
    write_tar(Vec::new(), members, 0)
}

fn check_magic(path: &Path, magic: &[u8], what: &str, fix: &str) -> Result<()> {
    use std::io::Read;
    let mut start = vec![0u8; magic.len()];
    match std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut start)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("{} does not exist: {fix}", path.display())
        }
        Ok(()) if start == magic => Ok(()),
        _ => bail!("{} is not {what}: {fix}", path.display()),
    }
}

/// Writes the templates and their variables into `options.out`; returns them as artifacts of kind
/// `packer`.
pub fn run(options: &Options) -> Result<Vec<Artifact>> {
    let step = Step::start(format!("packer -> {}", options.out.display()));
    if !options.base_image.is_file() {
        bail!(
            "the base image {} does not exist: build it with `cargo xtask image --role base` (or give --base-image)",
            options.base_image.display()
        );
    }
    let checksum = crate::files::sha256_file(&options.base_image)?;
    let templates = crate::inputs::workspace::root().join(TEMPLATES);
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for path in crate::files::files_below(&templates)? {
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        files.push((path.strip_prefix(&templates)?.to_path_buf(), bytes));
    }
    // clean.sh cleans by the lists the native images are cleaned and held inert by.
    for (list, carried) in [
        (crate::steps::image::CLEAN_LIST, CLEAN_LIST),
        (crate::steps::image::INERT_LIST, INERT_LIST),
    ] {
        let list = crate::inputs::workspace::root().join(list);
        let bytes =
            std::fs::read(&list).with_context(|| format!("cannot read {}", list.display()))?;
        files.push((carried.into(), bytes));
    }
    // The overlays the native images carry (the unit that applies a seed's answers among them),
    // for a source that is not the base image (amazon-ebs); laid on the base image again, they
    // change nothing.
    files.push((OVERLAYS.into(), overlays_tar()?));
    let variables = variables(options, &checksum)?;
    files.push((VARIABLES.into(), variables.into_bytes()));
    files.sort();
    crate::files::replace_dir(&options.out, |new| {
        for (relative, bytes) in &files {
            let path = new.join(relative);
            crate::files::write_whole(&path, bytes)?;
            if relative.extension().is_some_and(|e| e == "sh") {
                // Uploaded and run as they are.
                std::fs::set_permissions(
                    &path,
                    std::os::unix::fs::PermissionsExt::from_mode(0o755),
                )?;
            }
        }
        Ok(())
    })?;
    step.note(format!(
        "{} files; base image sha256 {checksum}",
        files.len()
    ));
    step.done();
    Ok(files
        .iter()
        .map(|(relative, bytes)| Artifact::new("packer", options.out.join(relative), bytes))
        .collect())
}

/// `mesos-roles.auto.pkrvars.hcl`, as `packer fmt` writes it (aligned `=`).
fn variables(options: &Options, checksum: &str) -> Result<String> {
    let (ami_arch, aws_architecture) = match options.arch.as_str() {
        "amd64" => ("amd64", "x86_64"),
        "arm64" => ("arm64", "arm64"),
        other => bail!("no Debian AMI for the architecture {other}: build on amd64 or arm64"),
    };
    let release = match options.suite.as_str() {
        "bookworm" => "12",
        "trixie" => "13",
        other => bail!("no Debian AMI known for the suite {other}: use bookworm or trixie"),
    };
    let values = [
        ("version", options.version.clone()),
        ("suite", options.suite.clone()),
        ("bundle", packer_path(&options.out, &options.bundle)),
        ("base_image", packer_path(&options.out, &options.base_image)),
        ("base_image_checksum", format!("sha256:{checksum}")),
        ("debian_ami_name", format!("debian-{release}-{ami_arch}-*")),
        ("aws_architecture", aws_architecture.to_string()),
    ];
    let width = values.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let mut text = String::from(
        "# Written by `cargo xtask packer`: this build's inputs. Override any with -var name=value.\n",
    );
    for (name, value) in values {
        // serde_json's string quoting is HCL's for these values (no `${` or `%{` in them).
        text.push_str(&format!(
            "{name:width$} = {}\n",
            serde_json::to_string(&value)?
        ));
    }
    Ok(text)
}

/// `path` as Packer, running inside `templates`, should read it: relative when both are under the
/// same parent (`target/dist`), else absolute.
fn packer_path(templates: &Path, path: &Path) -> String {
    let absolute = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(p)
        }
    };
    let (templates, path) = (absolute(templates), absolute(path));
    match templates
        .parent()
        .and_then(|parent| path.strip_prefix(parent).ok())
    {
        Some(rest) => format!("../{}", rest.display()),
        None => path.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_beside_the_templates_are_relative() {
        let out = Path::new("/x/dist/packer");
        assert_eq!(
            packer_path(out, Path::new("/x/dist/images/base.qcow2")),
            "../images/base.qcow2"
        );
        assert_eq!(packer_path(out, Path::new("/y/b.tar.gz")), "/y/b.tar.gz");
        assert_eq!(
            base_image_name("mesos-roles-0.1.0-bookworm-amd64"),
            "mesos-roles-base-0.1.0-bookworm-amd64.qcow2"
        );
    }
}
