//! `cargo xtask dist`: the default pipeline, then the manifest of everything it produced.

use std::path::PathBuf;

use anyhow::Result;

use crate::debs;
use crate::manifest::Manifest;
use crate::progress::Step;

pub struct Options {
    pub version: String,
    pub source_date_epoch: u64,
    /// Where everything goes: `target/dist` unless a test asks for another place.
    pub out: PathBuf,
}

pub fn run(options: &Options) -> Result<()> {
    let step = Step::start("dist");
    let dist = &options.out;
    let mut artifacts = debs::run(&debs::Options {
        version: options.version.clone(),
        out: dist.join("debs"),
        source_date_epoch: options.source_date_epoch,
    })?;
    artifacts.sort_by(|a, b| a.path.cmp(&b.path));
    let manifest = Manifest {
        version: options.version.clone(),
        source_date_epoch: options.source_date_epoch,
        artifacts,
    }
    .write(dist)?;
    step.note(format!("manifest: {}", manifest.display()));
    step.done();
    Ok(())
}
