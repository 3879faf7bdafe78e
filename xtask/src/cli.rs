//! The command line: one struct of flags per step, each turned into a [`Request`] for the plan
//! (or, for `verify`, `setup` and `test`, into that command's options). `main.rs` only parses and
//! calls [`Xtask::run`].

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::formats::signing::KeySource;
use crate::inputs::workspace::{self, Build};
use crate::plan::{Request, Target};
use crate::steps::image::Kind;

#[derive(Parser)]
#[command(
    about = "Builds, checks and proves the mesos-roles artifacts (see README.md)",
    after_help = "Examples:\n  cargo xtask dist                  # the default artifacts, into target/dist\n  cargo xtask test                  # install the prerequisites, run every test\n  cargo xtask dist --closure --images --inventory cluster.toml"
)]
pub struct Xtask {
    /// Print the summary as JSON on stdout (progress stays on stderr)
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub step: Step,
}

#[derive(Subcommand)]
pub enum Step {
    /// Write the role meta-packages (.deb) from packaging/, and mesos-role-tools (cargo-deb).
    #[command(after_help = "Example:\n  cargo xtask debs --version 1.0.0-1 --out /tmp/debs")]
    Debs(Debs),
    /// Write the role packages, then a signed apt repository of them and of every .deb in upstream/.
    #[command(
        after_help = "Example:\n  cargo xtask repo --signing-key archive-key.asc --upstream upstream/"
    )]
    Repo(Repo),
    /// Write one file for air-gapped sites (the repository with the dependency closure,
    /// install.sh, SHA256SUMS): target/dist/mesos-roles-<version>-<suite>-<arch>.tar.gz.
    #[command(after_help = "Example:\n  cargo xtask bundle --suite bookworm")]
    Bundle(Bundle),
    /// Run the default pipeline (debs, repo; more with the flags) and write
    /// target/dist/manifest.json.
    #[command(
        after_help = "Examples:\n  cargo xtask dist\n  cargo xtask dist --closure --images --inventory cluster.toml"
    )]
    Dist(Dist),
    /// Write a cloud-init NoCloud seed per node of an inventory: target/dist/seeds/<node>/ and
    /// <node>.cidata.img, readable by you only (they carry the cluster's secrets). The cluster
    /// secret is the inventory's [cluster] secret_file (default cluster.secret beside it), made
    /// (0600) when missing.
    #[command(after_help = "Example:\n  cargo xtask seeds --inventory cluster.toml")]
    Seeds(Seeds),
    /// Write the Packer templates (qemu and amazon-ebs) of the images: target/dist/packer/.
    #[command(
        after_help = "Example (after `cargo xtask image --role base` and `cargo xtask bundle`):\n  cargo xtask packer"
    )]
    Packer(Packer),
    /// Build a bootable qcow2 image without booting a VM: target/dist/images/
    /// mesos-roles-<role>-<version>-<suite>-<arch>.qcow2 (see README.md, Use 2).
    #[command(after_help = "Example:\n  cargo xtask image --role master")]
    Image(Image),
    /// Boot the built artifacts as the inventory's cluster (systemd-nspawn) and check it works.
    #[command(
        after_help = "Examples (after `cargo xtask dist --closure`):\n  cargo xtask verify --inventory cluster.toml\n  cargo xtask verify --inventory cluster.toml --keep   # then a shell on each node; Ctrl-C ends it"
    )]
    Verify(Verify),
    /// Install what building and testing need on this Debian machine (apt packages, cargo-deb),
    /// from the one list in xtask/prerequisites.toml. Root.
    #[command(after_help = "Example:\n  cargo xtask setup")]
    Setup(Setup),
    /// Install the prerequisites, then run every test binary and print each one's time.
    #[command(
        after_help = "Examples:\n  cargo xtask test            # every tier (root)\n  cargo xtask test --quick    # tier 1 only: no root, no set-up, seconds"
    )]
    Test(Test),
    /// Time each step beside its floor and its rival, interleaved, and print medians and ratios
    /// (seeds, no-op and one-change rebuilds, indexing, bake beside mmdebstrap and Packer, boot
    /// under qemu). Not a test.
    #[command(
        after_help = "Examples:\n  cargo xtask bench --upstream upstream/                 # every row (bake and boot take tens of minutes)\n  cargo xtask bench --only noop --runs 9\n  cargo xtask bench --only bake --upstream upstream/   # as root: mmdebstrap, native, Packer (TCG)\n  cargo xtask bench --only bake --role agent --upstream upstream/\n  cargo xtask bench --only boot --upstream upstream/   # as root: the images, then qemu (TCG)"
    )]
    Bench(Bench),
}

#[derive(Args)]
pub struct Bench {
    /// Only this row
    #[arg(long, value_enum)]
    pub only: Option<crate::steps::bench::Row>,
    /// Timed runs of each row [default: 5 for the fast rows, 3 for change, 1 for bake and boot]
    #[arg(long)]
    pub runs: Option<usize>,
    /// Directory of your mesos and marathon .debs (the images need them) [default: upstream/]
    #[arg(long)]
    pub upstream: Option<PathBuf>,
    /// Directory of .debs for the index row [default: the closure's download cache]
    #[arg(long)]
    pub debs: Option<PathBuf>,
    /// The bake row's one role [default: both]
    #[arg(long, value_parser = bake_role())]
    pub role: Option<Kind>,
}

/// The roles the bench's bake row bakes (not the base image).
fn bake_role() -> impl clap::builder::TypedValueParser<Value = Kind> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["master", "agent"]).map(|role| match role.as_str() {
        "master" => Kind::Master,
        _ => Kind::Agent,
    })
}

/// What a repository is made of: shared by `repo`, `bundle`, `image` and `dist`.
#[derive(Args)]
pub struct RepoInputs {
    /// Debian version of the role packages [default: the workspace version]
    #[arg(long)]
    pub version: Option<String>,
    /// bookworm or trixie [default: this host's suite]
    #[arg(long)]
    pub suite: Option<String>,
    /// Directory of .debs to publish too (your mesos and marathon) [default: upstream/]
    #[arg(long)]
    pub upstream: Option<PathBuf>,
    /// Armored OpenPGP secret key [default: $MESOS_ROLES_SIGNING_KEY, else a development key
    /// kept in target/signing/]
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
}

impl RepoInputs {
    fn request(self, command: &str, targets: Vec<Target>) -> Request {
        Request {
            command: command.into(),
            targets,
            version: self.version,
            suite: self.suite,
            upstream: self.upstream,
            signing_key: Some(KeySource::resolve(
                self.signing_key,
                workspace::development_key(),
            )),
            ..Request::default()
        }
    }
}

#[derive(Args)]
pub struct Debs {
    /// Debian version of the packages [default: the workspace version]
    #[arg(long)]
    pub version: Option<String>,
    /// Output directory (new, empty, or written by cargo xtask before) [default: target/dist/debs]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct Repo {
    #[command(flatten)]
    pub inputs: RepoInputs,
    /// Repository directory, replaced whole (new, empty, or written by cargo xtask before)
    /// [default: target/dist/repo]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also publish the dependency closure of both roles for a minbase root of the suite,
    /// downloaded by apt from this host's Debian mirror into the cache (/var/cache/mesos-roles or
    /// $MESOS_ROLES_CACHE)
    #[arg(long)]
    pub closure: bool,
}

#[derive(Args)]
pub struct Bundle {
    #[command(flatten)]
    pub inputs: RepoInputs,
    /// Directory the bundle is written into [default: target/dist]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct Dist {
    #[command(flatten)]
    pub inputs: RepoInputs,
    /// Also the dependency closure in the repository, and the air-gapped bundle of it (needs
    /// this host's Debian mirror the first time; cached after)
    #[arg(long)]
    pub closure: bool,
    /// Also the seeds of this inventory (cluster.toml) in target/dist/seeds
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Also the master, agent and base images in target/dist/images (slow the first time: the
    /// roots are cached after), and, with --closure, the Packer templates starting from them
    #[arg(long)]
    pub images: bool,
}

#[derive(Args)]
pub struct Image {
    /// master or agent; base is the system without Docker or a role (Packer's qemu source)
    #[arg(long, value_enum)]
    pub role: Kind,
    #[command(flatten)]
    pub inputs: RepoInputs,
    /// Inventory (cluster.toml) whose suite and mirror are used instead of this host's
    #[arg(long)]
    pub inventory: Option<PathBuf>,
    /// Directory the image is written into [default: target/dist/images]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct Verify {
    /// The cluster inventory (see cluster.toml)
    #[arg(long)]
    pub inventory: PathBuf,
    /// What the nodes install from: `repo`, the signed repository on nodes that have the roles'
    /// Debian dependencies already (quick); `bundle`, the air-gapped bundle alone, with its
    /// install.sh, on minbase nodes with no route out (proves the dependency closure); `images`,
    /// the master and agent images booted under qemu (TCG; KVM with --kvm) with each node's seed
    #[arg(long, value_enum, default_value_t = From::Repo)]
    pub from: From,
    /// The signed repository to install from [default: the one target/dist/manifest.json lists]
    #[arg(long, conflicts_with_all = ["dist", "bundle"])]
    pub repo: Option<PathBuf>,
    /// With --from bundle: the bundle to install [default: the one target/dist/manifest.json lists]
    #[arg(long, conflicts_with = "dist")]
    pub bundle: Option<PathBuf>,
    /// The dist directory whose manifest.json lists the repository, the bundle and the images
    /// [default: target/dist]
    #[arg(long)]
    pub dist: Option<PathBuf>,
    /// Test only: NODE:PATH=TEXT written on a node after its install, Mesos restarted
    #[arg(long, hide = true)]
    pub tamper: Vec<String>,
    /// Install the cluster open (no secret, `insecure` true) and switch it to authentication in
    /// place as docs/security.md says, one node at a time, checking that a master leads
    /// throughout; then the checks of an authenticated cluster
    #[arg(long, conflicts_with = "insecure")]
    pub switch_over: bool,
    /// With --from images: this master image instead of the one the manifest lists (one Packer
    /// built, say)
    #[arg(long, value_name = "QCOW2")]
    pub master_image: Option<PathBuf>,
    /// With --from images: this agent image instead of the one the manifest lists
    #[arg(long, value_name = "QCOW2")]
    pub agent_image: Option<PathBuf>,
    /// With --from images: run qemu with KVM (the default is TCG: a host's /dev/kvm may open and
    /// still not run a guest, so it is never guessed)
    #[arg(long)]
    pub kvm: bool,
    /// Test only: install the cluster open and leave it so (the security checks then fail)
    #[arg(long, hide = true)]
    pub insecure: bool,
    /// Install the cluster from an older dist directory (its manifest's repository) or
    /// repository, then upgrade it to the new repository node by node (agents, the masters that
    /// do not lead, the leading master last), the cluster settled with its app after each node;
    /// then the usual checks
    #[arg(long, value_name = "DIST_OR_REPO")]
    pub upgrade_from: Option<PathBuf>,
    /// After the checks, pass or fail, print the table and a shell command for each node, and keep
    /// the cluster up until Ctrl-C (or SIGTERM): then it is torn down as usual
    #[arg(long)]
    pub keep: bool,
}

/// What `verify`'s nodes install from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum From {
    Repo,
    Bundle,
    Images,
}

#[derive(Args)]
pub struct Seeds {
    /// The cluster inventory (see cluster.toml)
    #[arg(long)]
    pub inventory: PathBuf,
    /// Seeds directory, replaced whole (new, empty, or written by cargo xtask before)
    /// [default: target/dist/seeds]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct Packer {
    /// Debian version of the role packages [default: the workspace version]
    #[arg(long)]
    pub version: Option<String>,
    /// bookworm or trixie [default: this host's suite]
    #[arg(long)]
    pub suite: Option<String>,
    /// The base image the qemu source boots [default: the one `cargo xtask image --role base`
    /// writes into target/dist/images]
    #[arg(long)]
    pub base_image: Option<PathBuf>,
    /// The bundle the provisioning installs from [default: the one `cargo xtask bundle` writes
    /// into target/dist]
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// Templates directory, replaced whole [default: target/dist/packer]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args)]
pub struct Setup {
    /// Print what would be installed, install nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args)]
pub struct Test {
    /// Tier 1 only (no root, no set-up): the unit tests and the tests that need no tools
    #[arg(long)]
    pub quick: bool,
    /// Do not install the prerequisites first
    #[arg(long)]
    pub no_setup: bool,
    /// One binary at a time (the VM tier not beside the others): each binary's times are then
    /// its own
    #[arg(long)]
    pub one_lane: bool,
}

impl Xtask {
    /// Runs the command; a plan's summary goes to stdout.
    pub fn run(self) -> Result<()> {
        let json = self.json;
        let request = match self.step {
            Step::Setup(setup) => return crate::steps::setup::run(setup.dry_run),
            Step::Test(test) => {
                return crate::steps::test::run(test.quick, test.no_setup, test.one_lane);
            }
            Step::Verify(verify) => return verify.run(json),
            Step::Bench(bench) => {
                return crate::steps::bench::run(
                    &Build::from_env()?,
                    &crate::steps::bench::Options {
                        only: bench.only,
                        runs: bench.runs,
                        upstream: bench.upstream,
                        debs: bench.debs,
                        role: bench.role,
                    },
                );
            }
            Step::Debs(debs) => Request {
                command: "debs".into(),
                targets: vec![Target::Debs],
                version: debs.version,
                debs_out: debs.out,
                ..Request::default()
            },
            Step::Repo(repo) => {
                let mut request = repo
                    .inputs
                    .request("repo", vec![Target::Debs, Target::Repo]);
                request.repo_out = repo.out;
                request.closure = repo.closure;
                request
            }
            Step::Bundle(bundle) => {
                let mut request = bundle.inputs.request("bundle", vec![Target::Bundle]);
                request.bundle_out = bundle.out;
                request
            }
            Step::Image(image) => {
                let mut request = image
                    .inputs
                    .request("image", vec![Target::Image(image.role)]);
                request.inventory = image.inventory;
                request.images_out = image.out;
                request
            }
            Step::Seeds(seeds) => Request {
                command: "seeds".into(),
                targets: vec![Target::Seeds],
                inventory: Some(seeds.inventory),
                seeds_out: seeds.out,
                ..Request::default()
            },
            Step::Packer(packer) => Request {
                command: "packer".into(),
                targets: vec![Target::Packer],
                version: packer.version,
                suite: packer.suite,
                base_image: packer.base_image,
                bundle: packer.bundle,
                packer_out: packer.out,
                ..Request::default()
            },
            Step::Dist(dist) => dist.request(),
        };
        let build = Build::from_env()?;
        let summary = request.plan(&build)?.execute(&build)?;
        match json {
            true => print!("{}", summary.json()?),
            false => print!("{}", summary.text()),
        }
        Ok(())
    }
}

impl Dist {
    fn request(self) -> Request {
        let mut targets = vec![Target::Debs, Target::Repo, Target::Manifest];
        let mut notes = Vec::new();
        if self.closure {
            targets.push(Target::Bundle);
        }
        if self.inventory.is_some() {
            targets.push(Target::Seeds);
        }
        if self.images {
            targets.extend([Kind::Base, Kind::Master, Kind::Agent].map(Target::Image));
            // Packer provisions from the bundle: its templates name one only when it exists.
            match self.closure {
                true => targets.push(Target::Packer),
                false => notes.push(
                    "no Packer templates: they provision from the bundle, which --closure makes"
                        .to_string(),
                ),
            }
        }
        let mut request = self.inputs.request("dist", targets);
        request.closure = self.closure;
        request.inventory = self.inventory;
        request.keep_repo = true;
        request.notes = notes;
        request
    }
}

impl Verify {
    fn run(self, json: bool) -> Result<()> {
        crate::steps::verify::sweep()?;
        use crate::steps::verify::{self, Source};
        let dist = || self.dist.clone().unwrap_or_else(workspace::dist_dir);
        if self.from != From::Images {
            for (given, flag) in [
                (self.kvm, "--kvm"),
                (self.master_image.is_some(), "--master-image"),
                (self.agent_image.is_some(), "--agent-image"),
            ] {
                if given {
                    bail!("{flag} goes with --from images (only VMs use it)");
                }
            }
        }
        let source = match (self.from, self.repo, self.bundle) {
            (From::Repo | From::Images, _, Some(_)) => bail!("--bundle goes with --from bundle"),
            (From::Bundle | From::Images, Some(_), _) => bail!("--repo goes with --from repo"),
            (From::Images, None, None) => {
                verify::images(&dist(), self.master_image, self.agent_image)?
            }
            (From::Repo, Some(repo), None) => Source::Repo(repo),
            (From::Repo, None, None) => Source::Repo(verify::repo_from_manifest(&dist())?),
            (From::Bundle, None, Some(bundle)) => Source::Bundle(bundle),
            (From::Bundle, None, None) => Source::Bundle(verify::bundle_from_manifest(&dist())?),
        };
        if self.upgrade_from.is_some() && self.from != From::Repo {
            bail!("--upgrade-from goes with --from repo (the nodes upgrade from a repository)");
        }
        let upgrade_from = self
            .upgrade_from
            .as_deref()
            .map(crate::steps::verify::upgrade::older_repository)
            .transpose()?;
        let tamper = self
            .tamper
            .iter()
            .map(|t| crate::steps::verify::parse_tamper(t))
            .collect::<Result<_>>()?;
        crate::steps::verify::run(&crate::steps::verify::Options {
            inventory: self.inventory,
            source,
            tamper,
            mode: match (self.switch_over, self.insecure) {
                (true, _) => crate::steps::verify::Mode::SwitchOver,
                (_, true) => crate::steps::verify::Mode::Insecure,
                _ => crate::steps::verify::Mode::Secure,
            },
            json,
            kvm: self.kvm,
            upgrade_from,
            keep: self.keep,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `bench --role` takes the two roles the bake row bakes, not the base image.
    #[test]
    fn bench_role_is_master_or_agent() {
        let role = |arg: &str| {
            Xtask::try_parse_from(["xtask", "bench", "--only", "bake", "--role", arg]).map(|x| {
                match x.step {
                    Step::Bench(bench) => bench.role,
                    _ => None,
                }
            })
        };
        assert_eq!(role("agent").unwrap(), Some(Kind::Agent));
        assert_eq!(role("master").unwrap(), Some(Kind::Master));
        assert!(role("base").is_err());
    }
}
