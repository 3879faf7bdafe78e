//! `cargo xtask dist`: the default pipeline, then the manifest of everything it produced.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::formats::manifest::Manifest;
use crate::formats::signing::KeySource;
use crate::progress::Step;
use crate::steps::{bundle, debs, repo, seeds};

pub struct Options {
    pub version: String,
    pub source_date_epoch: u64,
    /// Where everything goes: `target/dist` unless a test asks for another place.
    pub out: PathBuf,
    /// The repository's suite and binary architecture (the host's by default).
    pub suite: String,
    pub arch: String,
    /// The operator's .debs to publish with the roles (`upstream/`; may be absent).
    pub upstream: Option<PathBuf>,
    pub signing_key: KeySource,
    /// The dependency closure in the repository, and the bundle.
    pub closure: bool,
    /// The seeds of this inventory (`--inventory`), in `seeds/`.
    pub inventory: Option<crate::inputs::inventory::Inventory>,
    /// The base, master and agent images (from the repository just written and `mirror`).
    pub images: Option<ImageInputs>,
}

/// What `dist --images` needs besides the repository.
pub struct ImageInputs {
    /// The Debian mirror of the base system (the host's).
    pub mirror: String,
}

impl crate::cli::Dist {
    pub fn run(self, build: &crate::inputs::workspace::Build) -> Result<()> {
        run(&Options {
            version: build.version(self.inputs.version),
            source_date_epoch: build.source_date_epoch,
            out: crate::inputs::workspace::dist_dir(),
            suite: build.suite(self.inputs.suite)?,
            arch: crate::inputs::workspace::host_arch(&build.tools)?,
            upstream: Some(build.upstream(self.inputs.upstream)),
            signing_key: KeySource::resolve(self.inputs.signing_key),
            closure: self.closure,
            // Read and checked before anything is built.
            inventory: self
                .inventory
                .as_deref()
                .map(crate::inputs::inventory::Inventory::load)
                .transpose()?,
            images: match self.images {
                true => Some(ImageInputs {
                    mirror: crate::inputs::mirror::debian()?,
                }),
                false => None,
            },
        })
    }
}

pub fn run(options: &Options) -> Result<()> {
    let step = Step::start("dist");
    let dist = &options.out;
    let mut artifacts = debs::run(&debs::Options {
        version: options.version.clone(),
        out: dist.join("debs"),
        source_date_epoch: options.source_date_epoch,
        tools: true,
    })?;
    let role_debs = artifacts.iter().map(|a| a.path.clone()).collect();
    artifacts.extend(repo::run(&repo::Options {
        suite: options.suite.clone(),
        arch: options.arch.clone(),
        out: dist.join("repo"),
        debs: role_debs,
        upstream: options.upstream.clone(),
        signing_key: options.signing_key.clone(),
        source_date_epoch: options.source_date_epoch,
        closure: options.closure,
    })?);
    if options.closure {
        artifacts.push(bundle::run(&bundle::Options {
            version: options.version.clone(),
            suite: options.suite.clone(),
            arch: options.arch.clone(),
            repo: dist.join("repo"),
            out: dist.clone(),
            source_date_epoch: options.source_date_epoch,
        })?);
    }
    if let Some(inventory) = &options.inventory {
        artifacts.extend(seeds::run(&seeds::Options {
            inventory: inventory.clone(),
            out: dist.join("seeds"),
            source_date_epoch: options.source_date_epoch,
        })?);
    }
    if let Some(images) = &options.images {
        let tools = crate::tool::Tools::new()?;
        for kind in [
            crate::steps::image::Kind::Base,
            crate::steps::image::Kind::Master,
            crate::steps::image::Kind::Agent,
        ] {
            artifacts.push(crate::steps::image::run(
                &tools,
                &crate::steps::image::Options {
                    kind,
                    version: options.version.clone(),
                    suite: options.suite.clone(),
                    arch: options.arch.clone(),
                    mirror: images.mirror.clone(),
                    repo: dist.join("repo"),
                    out: dist.join("images"),
                    source_date_epoch: options.source_date_epoch,
                },
            )?);
        }
        // The same images through Packer: its qemu source starts from the base image just built.
        let name = bundle::name(&options.version, &options.suite, &options.arch);
        let base = artifacts
            .iter()
            .find(|a| a.kind == "image" && a.path.to_string_lossy().contains("-base-"))
            .map(|a| a.path.clone())
            .context("the base image is not among the images just built")?;
        artifacts.extend(crate::steps::packer::run(&crate::steps::packer::Options {
            version: options.version.clone(),
            suite: options.suite.clone(),
            arch: options.arch.clone(),
            base_image: base,
            bundle: dist.join(format!("{name}.tar.gz")),
            out: dist.join("packer"),
        })?);
    }
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
