//! The one place that runs external tools. Every call carries a purpose, which shows up in its error,
//! and arguments are passed as a list (xshell's `cmd!`), never through a shell.

use std::process::Output;

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
        self.run_env(purpose, program, args, &[])
    }

    /// Runs `program args...` with `input` on its standard input, letting its output through
    /// (sfdisk reads its partition script there).
    pub fn run_stdin(
        &self,
        purpose: &str,
        program: &str,
        args: &[&str],
        input: &str,
    ) -> Result<()> {
        cmd!(self.sh, "{program} {args...}")
            .quiet()
            .stdin(input)
            .run()
            .with_context(|| format!("failed to {purpose}"))
    }

    /// Runs `program args...` with extra environment variables, letting its output through (apt's
    /// own progress lines, for instance).
    pub fn run_env(
        &self,
        purpose: &str,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<()> {
        let mut command = cmd!(self.sh, "{program} {args...}").quiet();
        for (name, value) in env {
            command = command.env(name, value);
        }
        command
            .run()
            .with_context(|| format!("failed to {purpose}"))
    }

    /// Runs `program args...` with extra environment variables and returns its output whatever its
    /// exit status, for callers that explain a failure better than the exit status does.
    pub fn output_env(
        &self,
        purpose: &str,
        program: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Output> {
        let mut command = cmd!(self.sh, "{program} {args...}").quiet().ignore_status();
        for (name, value) in env {
            command = command.env(name, value);
        }
        command
            .output()
            .with_context(|| format!("failed to start {program} to {purpose}"))
    }
}
