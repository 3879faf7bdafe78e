//! The command line: one struct of flags per step. Each step's module turns its flags into its
//! options (`impl flags::<Step> { fn run }`), so `main.rs` only parses and dispatches.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(about = "Builds the mesos-roles artifacts (see README.md)")]
pub struct Xtask {
    #[command(subcommand)]
    pub step: Step,
}

#[derive(Subcommand)]
pub enum Step {
    /// Write the role meta-packages (.deb) from packaging/, and mesos-role-tools (cargo-deb).
    Debs(Debs),
    /// Write the role packages, then a signed apt repository of them and of every .deb in upstream/.
    Repo(Repo),
    /// Write the repository with the dependency closure, then one file for air-gapped sites:
    /// target/dist/mesos-roles-<version>-<suite>-<arch>.tar.gz.
    Bundle(Bundle),
    /// Run the default pipeline and write target/dist/manifest.json.
    Dist(Dist),
    /// Write a cloud-init NoCloud seed per node of an inventory: target/dist/seeds/<node>/ and
    /// <node>.cidata.img.
    Seeds(Seeds),
    /// Write the Packer templates (qemu and amazon-ebs) of the images: target/dist/packer/.
    Packer(Packer),
    /// Build a bootable qcow2 image without booting a VM: target/dist/images/
    /// mesos-roles-<role>-<version>-<suite>-<arch>.qcow2 (see README.md, "Images").
    Image(Image),
    /// Boot the built artifacts as the inventory's cluster (systemd-nspawn) and check it works.
    Verify(Verify),
}

#[derive(Args)]
pub struct Debs {
    /// Debian version of the packages [default: the workspace version]
    #[arg(long)]
    pub version: Option<String>,
    /// Output directory [default: target/dist/debs]
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What a repository is made of: shared by `repo`, `bundle` and `dist`.
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

#[derive(Args)]
pub struct Repo {
    #[command(flatten)]
    pub inputs: RepoInputs,
    /// Repository directory [default: target/dist/repo]
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
    /// roots are cached after), and the Packer templates starting from that base image
    #[arg(long)]
    pub images: bool,
}

#[derive(Args)]
pub struct Image {
    /// master or agent; base is the system without Docker or a role (Packer's qemu source)
    #[arg(long, value_enum)]
    pub role: crate::steps::image::Kind,
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
    /// The signed repository to install from [default: the one target/dist/manifest.json lists]
    #[arg(long)]
    pub repo: Option<PathBuf>,
    /// The dist directory whose manifest.json lists the repository [default: target/dist]
    #[arg(long, conflicts_with = "repo")]
    pub dist: Option<PathBuf>,
    /// Test only: NODE:PATH=TEXT written on a node after its install, Mesos restarted
    #[arg(long, hide = true)]
    pub tamper: Vec<String>,
}

#[derive(Args)]
pub struct Seeds {
    /// The cluster inventory (see cluster.toml)
    #[arg(long)]
    pub inventory: PathBuf,
    /// Seeds directory, replaced whole [default: target/dist/seeds]
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
