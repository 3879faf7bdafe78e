//! The plan of a run: what was asked ([`Request`]) resolved and checked whole — every input, tool,
//! key and output directory — before any slow work, then executed step by step. One plan carries the
//! shared inputs (version, suite, architecture, epoch, key, upstream) through debs -> repo ->
//! bundle / image / packer / seeds, and ends in the [`Summary`] of what was made.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use crate::files::OutDir;
use crate::formats::manifest::{Artifact, Manifest};
use crate::formats::signing::KeySource;
use crate::inputs::inventory::Inventory;
use crate::inputs::secrets::SecretFile;
use crate::inputs::workspace::{self, Build};
use crate::stamps;
use crate::steps::image::Kind;
use crate::steps::{bundle, debs, image, packer, repo, seeds, tools_deb};
use crate::summary::Summary;

/// What a run can make. The order of [`Request::targets`] does not matter: a plan runs them in
/// the pipeline's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The role packages and `mesos-role-tools`.
    Debs,
    /// The signed repository (with the closure when [`Request::closure`]).
    Repo,
    /// The air-gapped bundle (implies the closure).
    Bundle,
    Image(Kind),
    Seeds,
    Packer,
    /// `manifest.json` in the dist directory, listing everything made.
    Manifest,
}

/// What was asked, as given on the command line or by a test. Unset fields take the defaults of
/// `cargo xtask`; [`Request::plan`] resolves and checks them.
#[derive(Clone, Debug, Default)]
pub struct Request {
    /// The command, for the summary (`dist`, `repo`, ...).
    pub command: String,
    pub targets: Vec<Target>,
    pub version: Option<String>,
    pub suite: Option<String>,
    pub source_date_epoch: Option<u64>,
    /// The operator's .debs; a directory given here must exist (the default `upstream/` may not).
    pub upstream: Option<PathBuf>,
    /// `--signing-key`; else `$MESOS_ROLES_SIGNING_KEY`, else the development key.
    pub signing_key: Option<KeySource>,
    /// The inventory (`cluster.toml`): the seeds', and the suite and mirror of images.
    pub inventory: Option<PathBuf>,
    /// The dependency closure in the repository.
    pub closure: bool,
    /// Where artifacts go unless a step's own `--out` says otherwise [default: target/dist].
    pub dist: Option<PathBuf>,
    pub debs_out: Option<PathBuf>,
    pub repo_out: Option<PathBuf>,
    pub bundle_out: Option<PathBuf>,
    pub images_out: Option<PathBuf>,
    pub seeds_out: Option<PathBuf>,
    pub packer_out: Option<PathBuf>,
    /// Packer's inputs when this run does not make them.
    pub base_image: Option<PathBuf>,
    pub bundle: Option<PathBuf>,
    /// The role packages only, without `mesos-role-tools` (tests that need no cargo-deb).
    pub roles_only: bool,
    /// Warnings known to the caller (what a flag combination leaves out), for the summary.
    pub notes: Vec<String>,
    /// Keep the repository the run needs for images or the bundle (else made in a scratch
    /// directory and removed at the end).
    pub keep_repo: bool,
}

/// A step's output directory: one it owns (see [`OutDir`]), or a scratch directory for an
/// intermediate the run does not ship.
#[derive(Debug)]
enum Out {
    Dir(OutDir),
    Scratch,
}

/// A run, resolved: everything a step needs is known and checked.
pub struct Plan {
    pub command: String,
    pub version: String,
    pub suite: String,
    pub arch: String,
    pub source_date_epoch: u64,
    pub signing_key: KeySource,
    /// The operator's .debs, read and checked (name, path).
    pub upstream: Vec<(String, PathBuf)>,
    pub upstream_dir: PathBuf,
    pub inventory: Option<Inventory>,
    /// The seeds' cluster secret: the inventory's `secret_file`, read and checked, or made in
    /// memory when missing (written by the seeds step).
    secret: Option<SecretFile>,
    /// The Debian mirror (images, closure).
    pub mirror: Option<String>,
    pub closure: bool,
    debs: Option<(Out, bool)>,
    repo: Option<Out>,
    bundle: Option<OutDir>,
    images: Vec<(Kind, OutDir)>,
    seeds: Option<OutDir>,
    packer: Option<(OutDir, Option<PathBuf>, Option<PathBuf>)>,
    manifest: Option<OutDir>,
    /// `cargo deb` is missing: installed first, visibly.
    install_cargo_deb: bool,
    /// Known before the work: the development key, packages the roles need that are missing.
    warnings: Vec<String>,
}

/// The packages the roles depend on that no Debian mirror has.
pub const UPSTREAM_PACKAGES: [&str; 2] = ["mesos", "marathon"];

impl Request {
    /// Resolves and checks the whole run. Nothing is written and nothing slow runs: a bad input
    /// fails here, naming the field and the fix.
    pub fn plan(self, build: &Build) -> Result<Plan> {
        let has = |t: Target| self.targets.contains(&t);
        let images: Vec<Kind> = self
            .targets
            .iter()
            .filter_map(|t| match t {
                Target::Image(kind) => Some(*kind),
                _ => None,
            })
            .collect();
        let version = self
            .version
            .clone()
            .unwrap_or_else(|| workspace::default_version().to_string());
        workspace::check_version(&version)?;
        let source_date_epoch = self.source_date_epoch.unwrap_or(build.source_date_epoch);
        let inventory = match &self.inventory {
            Some(path) => Some(Inventory::load(path)?),
            None => None,
        };
        let arch = workspace::host_arch(&build.tools)?;
        let suite = match (&self.suite, &inventory) {
            (Some(suite), _) => suite.clone(),
            (None, Some(inventory)) if !images.is_empty() => inventory.cluster.suite.clone(),
            (None, _) => workspace::host_suite()?,
        };
        workspace::check_suite(&suite)?;
        if !images.is_empty() {
            image::check_architecture(&arch, inventory.as_ref())?;
        }
        let secret = match has(Target::Seeds) {
            true => {
                let inventory = inventory
                    .as_ref()
                    .context("the seeds need an inventory: give --inventory cluster.toml")?;
                inventory.check_logins()?;
                Some(SecretFile::check(&inventory.secret_path())?)
            }
            false => None,
        };
        let dist = self.dist.clone().unwrap_or_else(workspace::dist_dir);
        // Every image bakes the repository in; the bundle is one.
        let needs_repo = has(Target::Repo) || has(Target::Bundle) || !images.is_empty();
        let needs_debs = has(Target::Debs) || needs_repo;
        let closure = self.closure || has(Target::Bundle);

        let tools_deb = needs_debs && !self.roles_only;
        // Output directories first, every one before any is touched: a directory cargo xtask did
        // not write is refused whatever else is wrong.
        let out_dir = |given: &Option<PathBuf>, default: &str, flag: &str| {
            OutDir::check(
                given.clone().unwrap_or_else(|| dist.join(default)),
                if given.is_some() {
                    flag
                } else {
                    "the dist directory"
                },
            )
        };
        let debs = match needs_debs {
            false => None,
            true if has(Target::Debs) || has(Target::Repo) || has(Target::Manifest) => Some((
                Out::Dir(out_dir(&self.debs_out, "debs", "--out")?),
                tools_deb,
            )),
            true => Some((Out::Scratch, tools_deb)),
        };
        let repo = match needs_repo {
            false => None,
            true if has(Target::Repo) || self.keep_repo => {
                Some(Out::Dir(out_dir(&self.repo_out, "repo", "--out")?))
            }
            true => Some(Out::Scratch),
        };
        let bundle = match has(Target::Bundle) {
            true => Some(match &self.bundle_out {
                Some(dir) => OutDir::check(dir.clone(), "--out")?,
                None => OutDir::check(dist.clone(), "the dist directory")?,
            }),
            false => None,
        };
        let mut image_outs = Vec::new();
        for kind in &images {
            image_outs.push((*kind, out_dir(&self.images_out, "images", "--out")?));
        }
        let seeds = match has(Target::Seeds) {
            true => Some(out_dir(&self.seeds_out, "seeds", "--out")?),
            false => None,
        };
        let packer = match has(Target::Packer) {
            true => {
                let out = out_dir(&self.packer_out, "packer", "--out")?;
                let name = bundle::name(&version, &suite, &arch);
                let base = match images.contains(&Kind::Base) {
                    true => None,
                    false => {
                        let path = self.base_image.clone().unwrap_or_else(|| {
                            dist.join("images").join(packer::base_image_name(&name))
                        });
                        packer::check_base_image(&path)?;
                        Some(path)
                    }
                };
                let bundle_file = match has(Target::Bundle) {
                    true => None,
                    false => {
                        let path = self
                            .bundle
                            .clone()
                            .unwrap_or_else(|| dist.join(format!("{name}.tar.gz")));
                        packer::check_bundle(&path)?;
                        Some(path)
                    }
                };
                Some((out, base, bundle_file))
            }
            false => None,
        };
        let manifest = match has(Target::Manifest) {
            true => Some(OutDir::check(dist.clone(), "the dist directory")?),
            false => None,
        };
        // The operator's packages, read now: a stray file is named before the release build.
        let (upstream_dir, explicit) = match &self.upstream {
            Some(dir) => (dir.clone(), true),
            None => (workspace::root().join("upstream"), false),
        };
        if explicit && !upstream_dir.is_dir() {
            bail!(
                "--upstream {}: no such directory: give the directory holding your mesos and marathon .debs",
                upstream_dir.display()
            );
        }
        let upstream = if needs_repo {
            repo::read_upstream(&upstream_dir, &arch)?
        } else {
            Vec::new()
        };
        let missing: Vec<&str> = UPSTREAM_PACKAGES
            .iter()
            .copied()
            .filter(|name| !upstream.iter().any(|(n, _)| n == name))
            .collect();
        let mut warnings = self.notes.clone();
        if needs_repo && !missing.is_empty() {
            let fix = format!(
                "put your {} .debs in {} (--upstream DIR; default upstream/ at the workspace root)",
                missing.join(" and "),
                upstream_dir.display()
            );
            let roles_in_images = images.iter().any(|k| *k != Kind::Base);
            if roles_in_images || has(Target::Bundle) || closure {
                bail!(
                    "the roles depend on {}, which {} does not have: {fix}",
                    missing.join(" and "),
                    upstream_dir.display()
                );
            }
            warnings.push(format!(
                "the repository cannot install the roles: it lacks {} (no Debian mirror has them): {fix}",
                missing.join(" and ")
            ));
        }

        let signing_key = match self.signing_key.clone() {
            Some(source) => source,
            None => KeySource::resolve(None, workspace::development_key()),
        };
        if needs_repo {
            crate::formats::signing::Signer::check(&signing_key)?;
            if let KeySource::Development(path) = &signing_key {
                warnings.push(format!(
                    "signed with the DEVELOPMENT key {}: for testing only; give --signing-key FILE or {} for a real repository",
                    path.display(),
                    crate::formats::signing::KEY_VARIABLE
                ));
            }
        }

        let install_cargo_deb = tools_deb && !tools_deb::cargo_deb_installed(&build.tools);
        // The tools the slow steps run, named now rather than minutes in.
        let mut needed: Vec<&str> = vec![];
        if needs_repo && closure {
            needed.push("apt-get");
        }
        if !images.is_empty() {
            needed.extend(image::TOOLS);
        }
        crate::tool::require(&needed)?;
        let mirror = if closure || !images.is_empty() {
            Some(
                match inventory.as_ref().and_then(|i| i.cluster.mirror.clone()) {
                    Some(mirror) if !images.is_empty() => mirror,
                    _ => crate::inputs::mirror::debian()?,
                },
            )
        } else {
            None
        };

        Ok(Plan {
            command: self.command,
            version,
            suite,
            arch,
            source_date_epoch,
            signing_key,
            upstream,
            upstream_dir,
            inventory,
            secret,
            mirror,
            closure,
            debs,
            repo,
            bundle,
            images: image_outs,
            seeds,
            packer,
            manifest,
            install_cargo_deb,
            warnings,
        })
    }
}

/// The directory of an output the run ships (stamps live there), not of a scratch one.
fn owned(out: &Out) -> Option<&Path> {
    match out {
        Out::Dir(dir) => Some(dir.path()),
        Out::Scratch => None,
    }
}

/// Runs a step (`make`) unless the stamp in `out` vouches for what it made from the same
/// `inputs`: then its artifacts are those of the last run, added to `unchanged`. A step with no
/// `out` (an intermediate in scratch) always runs. The steps that replace `out` whole (repo,
/// seeds: `whole`) run again when it holds a file they did not write.
fn stamped(
    out: Option<&Path>,
    step: &str,
    whole: bool,
    inputs: String,
    unchanged: &mut Vec<PathBuf>,
    make: impl FnOnce() -> Result<Vec<Artifact>>,
) -> Result<Vec<Artifact>> {
    let Some(out) = out else {
        return make();
    };
    if let Some(artifacts) = stamps::fresh(out, step, &inputs) {
        crate::progress::Step::start(format!("{step} -> {}: unchanged", out.display())).done();
        unchanged.extend(artifacts.iter().map(|a| a.path.clone()));
        return Ok(artifacts);
    }
    stamps::forget(out, step)?;
    let artifacts = make()?;
    stamps::record(out, step, &inputs, whole, &artifacts)?;
    Ok(artifacts)
}

impl Plan {
    /// Runs the plan's steps in the pipeline's order and returns what they made.
    pub fn execute(self, build: &Build) -> Result<Summary> {
        let started = Instant::now();
        let mut made: Vec<Artifact> = Vec::new();
        // Intermediates the run does not ship live here and go with it, on every path.
        let scratch_base = workspace::root().join("target");
        std::fs::create_dir_all(&scratch_base)
            .with_context(|| format!("cannot create {}", scratch_base.display()))?;
        let scratch = tempfile::Builder::new()
            .prefix("xtask-scratch-")
            .tempdir_in(&scratch_base)
            .context("cannot create a scratch directory under target/")?;
        let dir_of = |out: &Out, name: &str| match out {
            Out::Dir(dir) => dir.path().to_path_buf(),
            Out::Scratch => scratch.path().join(name),
        };
        if self.install_cargo_deb {
            tools_deb::install_cargo_deb(&build.tools)?;
        }
        // Artifacts whose step was skipped: their inputs and files are as the last run left them.
        let mut unchanged = Vec::new();
        let mut role_debs = Vec::new();
        if let Some((out, tools)) = &self.debs {
            if let Out::Dir(dir) = out {
                dir.claim()?;
            }
            let options = debs::Options {
                version: self.version.clone(),
                out: dir_of(out, "debs"),
                source_date_epoch: self.source_date_epoch,
                tools: *tools,
            };
            let artifacts = stamped(
                owned(out),
                "debs",
                false,
                debs::inputs(&options)?,
                &mut unchanged,
                || debs::run(&options),
            )?;
            role_debs = artifacts.iter().map(|a| a.path.clone()).collect();
            if let Out::Dir(_) = out {
                made.extend(artifacts);
            }
        }
        let mut repo_dir = None;
        if let Some(out) = &self.repo {
            let dir = dir_of(out, "repo");
            let options = repo::Options {
                suite: self.suite.clone(),
                arch: self.arch.clone(),
                out: dir.clone(),
                debs: role_debs.clone(),
                upstream: self.upstream.iter().map(|(_, p)| p.clone()).collect(),
                upstream_dir: self.upstream_dir.clone(),
                signing_key: self.signing_key.clone(),
                source_date_epoch: self.source_date_epoch,
                closure: self.closure,
            };
            let inputs = repo::inputs(&options)?;
            let artifacts = match inputs {
                Some(inputs) => stamped(owned(out), "repo", true, inputs, &mut unchanged, || {
                    repo::run(&options)
                })?,
                None => repo::run(&options)?,
            };
            if let Out::Dir(_) = out {
                made.extend(artifacts);
            }
            repo_dir = Some(dir);
        }
        let repo_dir = || repo_dir.clone().context("the plan made no repository");
        let mut bundle_file = None;
        if let Some(out) = &self.bundle {
            out.claim()?;
            let artifact = bundle::run(&bundle::Options {
                version: self.version.clone(),
                suite: self.suite.clone(),
                arch: self.arch.clone(),
                repo: repo_dir()?,
                out: out.path().to_path_buf(),
                source_date_epoch: self.source_date_epoch,
            })?;
            bundle_file = Some(artifact.path.clone());
            made.push(artifact);
        }
        let mut base_image = None;
        for (kind, out) in &self.images {
            out.claim()?;
            let options = image::Options {
                kind: *kind,
                version: self.version.clone(),
                suite: self.suite.clone(),
                arch: self.arch.clone(),
                mirror: self.mirror.clone().context("the plan has no mirror")?,
                repo: repo_dir()?,
                out: out.path().to_path_buf(),
                source_date_epoch: self.source_date_epoch,
            };
            let artifacts = stamped(
                Some(out.path()),
                &format!("image-{}", kind.name()),
                false,
                image::inputs(&options)?,
                &mut unchanged,
                || Ok(vec![image::run(&build.tools, &options)?]),
            )?;
            if *kind == Kind::Base {
                base_image = artifacts.first().map(|a| a.path.clone());
            }
            made.extend(artifacts);
        }
        let mut notes = Vec::new();
        if let (Some(out), Some(inventory), Some(secret)) =
            (&self.seeds, &self.inventory, &self.secret)
        {
            // Saved before any seed holds it: no seed carries a secret the operator does not have.
            if secret.create()? {
                notes.push(format!(
                    "made the cluster secret {} (mode 0600): keep it, it is the cluster's only secret; never commit it",
                    secret.path().display()
                ));
            }
            notes.push(
                "the seeds carry secrets (a master's the cluster secret, an agent's the agent secret) and are readable by you only: hand them to the hypervisor, not to a shared store".into(),
            );
            let options = seeds::Options {
                inventory: inventory.clone(),
                out: out.path().to_path_buf(),
                source_date_epoch: self.source_date_epoch,
                secret: secret.secret().clone(),
            };
            made.extend(stamped(
                Some(out.path()),
                "seeds",
                true,
                seeds::inputs(&options)?,
                &mut unchanged,
                || seeds::run(&options),
            )?);
        }
        if let Some((out, base, bundle)) = &self.packer {
            let base = base.clone().or(base_image).context("no base image")?;
            let bundle = bundle.clone().or(bundle_file).context("no bundle")?;
            made.extend(packer::run(&packer::Options {
                version: self.version.clone(),
                suite: self.suite.clone(),
                arch: self.arch.clone(),
                base_image: base,
                bundle,
                out: out.path().to_path_buf(),
            })?);
        }
        let mut summary = Summary::new(&self.command, self.warnings.clone());
        summary.notes = notes;
        if let Some(dist) = &self.manifest {
            dist.claim()?;
            made.sort_by(|a, b| a.path.cmp(&b.path));
            let path = Manifest {
                version: self.version.clone(),
                source_date_epoch: self.source_date_epoch,
                artifacts: made.clone(),
            }
            .write(dist.path())?;
            summary.manifest = Some(path);
        }
        summary.add_artifacts(&made, &unchanged)?;
        summary.next = self.next_commands(&summary);
        summary.seconds = started.elapsed().as_secs_f64();
        Ok(summary)
    }

    /// The next command for each use of what was made.
    fn next_commands(&self, summary: &Summary) -> Vec<String> {
        let mut next = Vec::new();
        let has = |kind: &str| summary.items.iter().any(|i| i.kind == kind);
        if has("repo") {
            next.push(
                "Use 1: copy the repository to a node's /srv/mesos-roles, then `apt install mesos-master-role` (README, Use 1)".into(),
            );
        }
        if has("bundle") {
            next.push(
                "Use 3: copy the bundle to an air-gapped node, `tar xzf` it, run its install.sh ROLE --preseed FILE (README, Use 3)".into(),
            );
        }
        if has("image") {
            next.push(
                "Use 2: boot an image with a node's seed: `cargo xtask seeds --inventory cluster.toml` (README, Use 2)".into(),
            );
        }
        if has("seeds") {
            next.push(
                "attach <node>.cidata.img as each node's second disk (the seeds carry the nodes' answers)".into(),
            );
        }
        if has("packer") {
            next.push("`packer build` in the templates directory (README, Use 2)".into());
        }
        if has("repo") && self.closure {
            next.push(
                "prove it as a cluster: `cargo xtask verify --inventory cluster.toml` (README, Use 2b)".into(),
            );
        }
        next
    }
}
