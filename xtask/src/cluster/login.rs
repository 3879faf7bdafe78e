//! A node's login from this host: the ssh command line that reaches it as its admin user (a VM of
//! `usernet.rs` through a forwarded loopback port, or a VM of a cluster `verify --keep` holds, from
//! its client namespace), and what the tests and the bench ask through it. The line is printed and
//! parsed as POSIX shell words (`shlex`), so a path with a space survives the round trip.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};

/// An ssh command line without the remote command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Login {
    argv: Vec<String>,
}

impl Login {
    pub fn new(argv: Vec<String>) -> Self {
        Self { argv }
    }

    /// A login as [`Login::line`] wrote it.
    pub fn parse(line: &str) -> Result<Self> {
        let argv = shlex::split(line).with_context(|| format!("not shell words: {line}"))?;
        ensure!(!argv.is_empty(), "an empty login line");
        Ok(Self { argv })
    }

    /// The command line as one line of shell words, for an operator to run.
    pub fn line(&self) -> String {
        // try_join fails only on a NUL byte, which no argument of a Command can hold.
        shlex::try_join(self.argv.iter().map(String::as_str)).unwrap_or_default()
    }

    /// `command` for the admin's shell on the node, not yet run.
    pub fn command(&self, command: &str) -> Command {
        let mut ssh = Command::new(&self.argv[0]);
        ssh.args(&self.argv[1..]).arg(command);
        ssh
    }

    /// Runs `command` as the admin user, `input` (a file) on its standard input: (succeeded,
    /// stdout + stderr).
    pub fn try_ssh(&self, command: &str, input: Option<&Path>) -> Result<(bool, String)> {
        let mut ssh = self.command(command);
        match input {
            Some(file) => ssh.stdin(std::fs::File::open(file)?),
            None => ssh.stdin(Stdio::null()),
        };
        let out = ssh
            .output()
            .with_context(|| format!("cannot run {}", self.argv[0]))?;
        let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.push_str(&String::from_utf8_lossy(&out.stderr));
        Ok((out.status.success(), text))
    }

    /// Like [`Login::try_ssh`] without input; fails unless `command` succeeds.
    pub fn ssh(&self, command: &str) -> Result<String> {
        let (ok, out) = self.try_ssh(command, None)?;
        ensure!(ok, "`{command}` failed on the node:\n{out}");
        Ok(out)
    }

    /// A file's contents (read as root).
    pub fn read(&self, path: &str) -> Result<String> {
        self.ssh(&format!("sudo cat {path}"))
    }

    /// `systemctl is-active` and `is-enabled` of a unit.
    pub fn unit(&self, unit: &str) -> Result<(String, String)> {
        // stderr dropped: for zookeeper (a SysV script) systemctl says there how it redirects to
        // systemd-sysv-install.
        let last = |command: String| -> Result<String> {
            let out = self.try_ssh(&command, None)?.1;
            Ok(out.lines().last().unwrap_or_default().trim().to_string())
        };
        Ok((
            last(format!("systemctl is-active {unit} 2>/dev/null"))?,
            last(format!("systemctl is-enabled {unit} 2>/dev/null"))?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::Login;

    #[test]
    fn a_login_line_parses_back_to_the_same_words() {
        let login = Login::new(
            [
                "nsenter",
                "--net=/run/netns/x",
                "ssh",
                "-i",
                "/a dir/it's key",
                "admin@10.0.0.1",
            ]
            .map(String::from)
            .to_vec(),
        );
        assert_eq!(Login::parse(&login.line()).unwrap(), login);
        assert!(Login::parse("ssh 'unclosed").is_err());
        assert!(Login::parse("  ").is_err());
    }
}
