//! The one place that runs other programs: dpkg-query (which roles are installed) and
//! dpkg-reconfigure (reregister). Programs are found in PATH as a shell would find them; what runs
//! is said on stderr first, and no argument ever holds a secret.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// `dpkg-query --root=ROOT -W -f FORMAT PACKAGE...`: its standard output (dpkg-query exits 1 when
/// one package is unknown; what it printed for the others still counts). Empty when it cannot run.
pub fn dpkg_query(root: &Path, format: &str, packages: &[&str]) -> String {
    Command::new("dpkg-query")
        .arg(format!("--root={}", root.display()))
        .args(["-W", "-f", format])
        .args(packages)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// `dpkg-reconfigure -fnoninteractive PACKAGE` on the node under `root`: itself when the root is
/// `/`, else through `chroot ROOT` (a mounted image's debconf and maintainer scripts are its own).
/// Its output goes to the operator's terminal; an exit status other than 0 is an error.
pub fn dpkg_reconfigure(root: &Path, package: &str) -> Result<()> {
    let mut argv: Vec<String> = Vec::new();
    if root != Path::new("/") {
        argv.extend(["chroot".to_string(), root.display().to_string()]);
    }
    argv.extend(["dpkg-reconfigure", "-fnoninteractive", package].map(str::to_string));
    run_visibly(&argv)
}

/// Runs `argv` (program first) with the terminal's output, saying first what it runs.
fn run_visibly(argv: &[String]) -> Result<()> {
    let shown = argv.join(" ");
    eprintln!("mesos-role: running {shown}");
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("cannot run {shown}"))?;
    if !status.success() {
        bail!("{shown} failed ({status})");
    }
    Ok(())
}
