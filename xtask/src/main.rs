//! `cargo xtask <step>`: parses the command line and hands over to the step's module.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use xtask::signing::KeySource;
use xtask::{debs, dist, project, repo, tool::Tools};

#[derive(Parser)]
#[command(about = "Builds the mesos-roles artifacts (see README.md)")]
struct Cli {
    #[command(subcommand)]
    step: Step,
}

#[derive(Subcommand)]
enum Step {
    /// Write the role meta-packages (.deb) from packaging/.
    Debs {
        /// Debian version of the packages [default: the workspace version]
        #[arg(long)]
        version: Option<String>,
        /// Output directory [default: target/dist/debs]
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Write the role packages, then a signed apt repository of them and of every .deb in upstream/.
    Repo {
        /// Debian version of the role packages [default: the workspace version]
        #[arg(long)]
        version: Option<String>,
        /// bookworm or trixie [default: this host's suite]
        #[arg(long)]
        suite: Option<String>,
        /// Repository directory [default: target/dist/repo]
        #[arg(long)]
        out: Option<PathBuf>,
        /// Directory of .debs to publish too (your mesos and marathon) [default: upstream/]
        #[arg(long)]
        upstream: Option<PathBuf>,
        /// Armored OpenPGP secret key [default: $MESOS_ROLES_SIGNING_KEY, else a development key
        /// kept in target/signing/]
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
    /// Run the default pipeline and write target/dist/manifest.json.
    Dist {
        /// Debian version of the packages [default: the workspace version]
        #[arg(long)]
        version: Option<String>,
        /// bookworm or trixie [default: this host's suite]
        #[arg(long)]
        suite: Option<String>,
        /// Armored OpenPGP secret key [default: $MESOS_ROLES_SIGNING_KEY, else the development key]
        #[arg(long)]
        signing_key: Option<PathBuf>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let tools = Tools::new()?;
    let source_date_epoch = project::source_date_epoch(&tools)?;
    let version = |v: Option<String>| v.unwrap_or_else(|| project::default_version().to_string());
    let suite = |s: Option<String>| -> Result<String> {
        let suite = s.map_or_else(project::host_suite, Ok)?;
        project::check_suite(&suite)?;
        Ok(suite)
    };
    let upstream = project::root().join("upstream");
    match cli.step {
        Step::Debs { version: v, out } => {
            debs::run(&debs::Options {
                version: version(v),
                out: out.unwrap_or_else(|| project::dist_dir().join("debs")),
                source_date_epoch,
            })?;
        }
        Step::Repo {
            version: v,
            suite: s,
            out,
            upstream: u,
            signing_key,
        } => {
            let suite = suite(s)?;
            let arch = project::host_arch(&tools)?;
            let debs = debs::run(&debs::Options {
                version: version(v),
                out: project::dist_dir().join("debs"),
                source_date_epoch,
            })?;
            repo::run(&repo::Options {
                suite,
                arch,
                out: out.unwrap_or_else(|| project::dist_dir().join("repo")),
                debs: debs.into_iter().map(|a| a.path).collect(),
                upstream: Some(u.unwrap_or(upstream)),
                signing_key: KeySource::resolve(signing_key),
                source_date_epoch,
            })?;
        }
        Step::Dist {
            version: v,
            suite: s,
            signing_key,
        } => dist::run(&dist::Options {
            version: version(v),
            source_date_epoch,
            out: project::dist_dir(),
            suite: suite(s)?,
            arch: project::host_arch(&tools)?,
            upstream: Some(upstream),
            signing_key: KeySource::resolve(signing_key),
        })?,
    }
    Ok(())
}
