//! The one place that runs external tools. Every call carries a purpose, which shows up in its error,
//! and arguments are passed as a list (xshell's `cmd!`), never through a shell.

use anyhow::{Context, Result};
use xshell::{Shell, cmd};

pub struct Tools {
    sh: Shell,
}

impl Tools {
    pub fn new() -> Result<Self> {
        Ok(Self {
            sh: Shell::new().context("cannot set up a shell for running tools")?,
        })
    }

    /// Runs `program args...` and returns its standard output.
    pub fn read(&self, purpose: &str, program: &str, args: &[&str]) -> Result<String> {
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .ignore_stderr()
            .read()
            .with_context(|| format!("failed to {purpose}"))
    }

    /// Runs `program args...`, letting its output through.
    pub fn run(&self, purpose: &str, program: &str, args: &[&str]) -> Result<()> {
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .run()
            .with_context(|| format!("failed to {purpose}"))
    }
}
