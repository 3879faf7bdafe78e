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
    /// Write the role meta-packages (.deb) from packaging/.
    Debs(Debs),
    /// Write the role packages, then a signed apt repository of them and of every .deb in upstream/.
    Repo(Repo),
    /// Write the repository with the dependency closure, then one file for air-gapped sites:
    /// target/dist/mesos-roles-<version>-<suite>-<arch>.tar.gz.
    Bundle(Bundle),
    /// Run the default pipeline and write target/dist/manifest.json.
    Dist(Dist),
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

#[derive(Args)]
pub struct Repo {
    /// Debian version of the role packages [default: the workspace version]
    #[arg(long)]
    pub version: Option<String>,
    /// bookworm or trixie [default: this host's suite]
    #[arg(long)]
    pub suite: Option<String>,
    /// Repository directory [default: target/dist/repo]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Directory of .debs to publish too (your mesos and marathon) [default: upstream/]
    #[arg(long)]
    pub upstream: Option<PathBuf>,
    /// Armored OpenPGP secret key [default: $MESOS_ROLES_SIGNING_KEY, else a development key
    /// kept in target/signing/]
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
    /// Also publish the dependency closure of both roles for a minbase root of the suite,
    /// downloaded by apt from this host's Debian mirror into the cache (/var/cache/mesos-roles or
    /// $MESOS_ROLES_CACHE)
    #[arg(long)]
    pub closure: bool,
}

#[derive(Args)]
pub struct Bundle {
    /// Debian version of the role packages [default: the workspace version]
    #[arg(long)]
    pub version: Option<String>,
    /// bookworm or trixie [default: this host's suite]
    #[arg(long)]
    pub suite: Option<String>,
    /// Directory the bundle is written into [default: target/dist]
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Directory of .debs to publish too (your mesos and marathon) [default: upstream/]
    #[arg(long)]
    pub upstream: Option<PathBuf>,
    /// Armored OpenPGP secret key [default: $MESOS_ROLES_SIGNING_KEY, else the development key]
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
}

#[derive(Args)]
pub struct Dist {
    /// Debian version of the packages [default: the workspace version]
    #[arg(long)]
    pub version: Option<String>,
    /// bookworm or trixie [default: this host's suite]
    #[arg(long)]
    pub suite: Option<String>,
    /// Armored OpenPGP secret key [default: $MESOS_ROLES_SIGNING_KEY, else the development key]
    #[arg(long)]
    pub signing_key: Option<PathBuf>,
    /// Also the dependency closure in the repository, and the air-gapped bundle of it (needs
    /// this host's Debian mirror the first time; cached after)
    #[arg(long)]
    pub closure: bool,
}
