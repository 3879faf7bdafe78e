//! The test doubles of `mesos` and `marathon` (tests/doubles/, see its README.md), built with
//! dpkg-deb. They are test fixtures: nothing here ever writes to target/dist.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::{run, workspace};

/// The doubles' version when a test does not ask for another.
pub const VERSION: &str = "1.11.0-0double1";

/// Builds the double `name` (`mesos` or `marathon`) at `version` into `out`, returning the .deb.
pub fn build(name: &str, version: &str, out: &Path) -> Result<PathBuf> {
    build_edited(name, version, out, |_| Ok(()))
}

/// The modules of tests/doubles/shared/ that both doubles carry.
pub const SHARED_MODULES: &[&str] = &["zk_double.py", "libprocess_double.py"];

/// Like [`build`], after `edit` has changed the copied package tree (its root is the argument):
/// a newer double whose conffiles or scripts differ.
pub fn build_edited(
    name: &str,
    version: &str,
    out: &Path,
    edit: impl FnOnce(&Path) -> Result<()>,
) -> Result<PathBuf> {
    let source = workspace().join("tests/doubles").join(name);
    let tree = tempfile::tempdir()?;
    let root = tree.path().join(name);
    run(
        "copy the double's tree",
        Command::new("cp").arg("-a").arg(&source).arg(&root),
    )?;
    // Both doubles speak ZooKeeper and libprocess through the modules of tests/doubles/shared/.
    let lib = root.join(match name {
        "mesos" => "usr/lib/mesos-double",
        _ => "usr/share/marathon/lib",
    });
    std::fs::create_dir_all(&lib)?;
    for module in SHARED_MODULES {
        std::fs::copy(
            workspace().join("tests/doubles/shared").join(module),
            lib.join(module),
        )?;
    }
    let control = root.join("DEBIAN/control");
    let text = std::fs::read_to_string(&control)
        .with_context(|| format!("cannot read {}", control.display()))?;
    std::fs::write(&control, text.replace("@VERSION@", version))?;
    edit(&root)?;
    std::fs::create_dir_all(out)?;
    let deb = out.join(format!("{name}_{version}_all.deb"));
    run(
        &format!("build the {name} test double"),
        Command::new("dpkg-deb")
            // The same bytes every time (ar dates, tar mtimes clamped): repositories of the
            // doubles, and the image roots cached by them, stay the same from run to run.
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["--build", "--root-owner-group"])
            .arg(&root)
            .arg(&deb),
    )?;
    Ok(deb)
}

/// Both doubles at the default version.
pub fn build_all(out: &Path) -> Result<Vec<PathBuf>> {
    ["mesos", "marathon"]
        .iter()
        .map(|name| build(name, VERSION, out))
        .collect()
}
