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
        use std::io::Write;
        let mut child = std::process::Command::new(program)
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(to_stderr()?)
            .spawn()
            .with_context(|| format!("cannot start {program} to {purpose}"))?;
        child
            .stdin
            .take()
            .context("no standard input")?
            .write_all(input.as_bytes())
            .with_context(|| format!("cannot write to {program} to {purpose}"))?;
        check(purpose, program, child.wait())
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
        run_through(purpose, program, args, env, None)
    }

    /// Like [`Tools::run_env`] in `dir`: a long build whose output is its progress (`packer
    /// build` in its templates' directory).
    pub fn run_in(
        &self,
        purpose: &str,
        program: &str,
        args: &[&str],
        dir: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Result<()> {
        run_through(purpose, program, args, env, Some(dir))
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

/// A handle on this process's stderr, for a child's stdout.
fn to_stderr() -> Result<std::process::Stdio> {
    use std::os::fd::AsFd;
    let fd = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .context("cannot duplicate stderr")?;
    Ok(std::process::Stdio::from(fd))
}

fn check(
    purpose: &str,
    program: &str,
    status: std::io::Result<std::process::ExitStatus>,
) -> Result<()> {
    let status = status.with_context(|| format!("cannot start {program} to {purpose}"))?;
    if !status.success() {
        anyhow::bail!("failed to {purpose}: {program} exited with {status}");
    }
    Ok(())
}

/// Runs a tool whose output is progress: it goes to stderr, so stdout holds only the summary; its
/// standard input is empty (a tool that asks must not hang a build).
fn run_through(
    purpose: &str,
    program: &str,
    args: &[&str],
    env: &[(&str, &str)],
    dir: Option<&std::path::Path>,
) -> Result<()> {
    let mut command = std::process::Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .stdout(to_stderr()?);
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    check(purpose, program, command.status())
}

/// Checks that every program in `programs` is on PATH; names the missing ones and the fix.
pub fn require(programs: &[&str]) -> Result<()> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = |program: &str| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program)).is_ok_and(|m| {
                m.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o111 != 0
            })
        })
    };
    let missing: Vec<&str> = programs.iter().copied().filter(|p| !found(p)).collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "missing tools: {}: install them with `cargo xtask setup` (README, Prerequisites)",
            missing.join(", ")
        );
    }
    Ok(())
}

/// Runs a prepared [`Command`](std::process::Command) to completion; fails with the purpose, the
/// command and its output. For what xshell cannot express: a working directory or environment
/// built up by a caller, or a program that enters a container (`nsenter`).
pub fn run_command(purpose: &str, command: &mut std::process::Command) -> Result<String> {
    let output = command_output(purpose, command)?;
    succeeded(purpose, command, output)
}

/// The standard output of a finished command; fails with the purpose, the command and its output
/// unless it exited 0.
fn succeeded(purpose: &str, command: &std::process::Command, output: Output) -> Result<String> {
    if !output.status.success() {
        anyhow::bail!(
            "failed to {purpose}: {command:?} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Like [`run_command`] with `input` on the command's standard input (a secret, say: never an
/// argument).
pub fn run_command_input(
    purpose: &str,
    command: &mut std::process::Command,
    input: &[u8],
) -> Result<String> {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {command:?} to {purpose}"))?;
    // Written from a thread: a command that answers before reading all of it cannot block us.
    let mut stdin = child.stdin.take().context("no stdin")?;
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output()?;
    let _ = writer.join();
    succeeded(purpose, command, output)
}

/// Runs a prepared [`Command`](std::process::Command) to completion and returns its output
/// whatever its exit status.
pub fn command_output(purpose: &str, command: &mut std::process::Command) -> Result<Output> {
    command
        .output()
        .with_context(|| format!("cannot start {command:?} to {purpose}"))
}
