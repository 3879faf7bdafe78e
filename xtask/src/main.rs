//! `cargo xtask <step>`: parses the command line and hands over to the step's module.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use xtask::{debs, dist, project, tool::Tools};

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
    /// Run the default pipeline and write target/dist/manifest.json.
    Dist {
        /// Debian version of the packages [default: the workspace version]
        #[arg(long)]
        version: Option<String>,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let tools = Tools::new()?;
    let source_date_epoch = project::source_date_epoch(&tools)?;
    let version = |v: Option<String>| v.unwrap_or_else(|| project::default_version().to_string());
    match cli.step {
        Step::Debs { version: v, out } => {
            debs::run(&debs::Options {
                version: version(v),
                out: out.unwrap_or_else(|| project::dist_dir().join("debs")),
                source_date_epoch,
            })?;
        }
        Step::Dist { version: v } => dist::run(&dist::Options {
            version: version(v),
            source_date_epoch,
            out: project::dist_dir(),
        })?,
    }
    Ok(())
}
