//! `cargo xtask verify` on the example inventory, against a scratch dist whose repository and
//! air-gapped bundle hold the role packages and the test doubles (never target/dist): the cluster
//! installed from the bundle alone passes every check, so does the one from the repository switched
//! over to authentication, a broken one fails with the check that caught it named, an interrupted
//! run tears down, and nothing is left behind (namespaces, mounts, nspawn processes, cgroups,
//! roots).

use mesos_roles_tests::Target;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use mesos_roles_tests::{doubles, require_root_and_tools, run, scratch, workspace};

/// One cluster at a time: they share the CPU, and failover times must mean something.
static ONE_CLUSTER: Mutex<()> = Mutex::new(());

/// A scratch dist (debs, signed repository with the doubles and the closure, the bundle, manifest),
/// built once per run.
fn dist() -> Result<&'static Path> {
    static DIST: OnceLock<tempfile::TempDir> = OnceLock::new();
    if let Some(dir) = DIST.get() {
        return Ok(dir.path());
    }
    require_root_and_tools(&["mmdebstrap", "systemd-nspawn", "nsenter", "ip", "dpkg-deb"])?;
    let dir = scratch("verify-dist")?;
    let upstream = dir.path().join("upstream");
    doubles::build_all(&upstream)?;
    mesos_roles_tests::pipeline(mesos_roles_tests::Request {
        targets: vec![Target::Debs, Target::Repo, Target::Bundle, Target::Manifest],
        version: Some("1.0.0-1".into()),
        source_date_epoch: Some(1_700_000_000),
        dist: Some(dir.path().join("dist")),
        suite: Some("bookworm".into()),
        upstream: Some(upstream),
        keep_repo: true,
        closure: true,
        ..Default::default()
    })?;
    Ok(DIST.get_or_init(|| dir).path())
}

/// The xtask binary, built once (the test drives the command as an operator does).
fn xtask() -> Result<PathBuf> {
    run(
        "build xtask",
        Command::new(env!("CARGO"))
            .args(["build", "-q", "-p", "xtask"])
            .current_dir(workspace()),
    )?;
    Ok(workspace().join("target/debug/xtask"))
}

fn verify(extra: &[&str]) -> Result<(Output, u32)> {
    let dist = dist()?.join("dist");
    let child = Command::new(xtask()?)
        .arg("verify")
        .arg("--inventory")
        .arg(workspace().join("cluster.toml"))
        .arg("--dist")
        .arg(&dist)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let out = child.wait_with_output()?;
    eprintln!(
        "--- verify stderr\n{}\n--- verify stdout\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    Ok((out, pid))
}

/// Nothing of the run of process `pid` is left: its namespaces (and so its bridge and veths),
/// nspawn processes, mounts of its roots, its cgroups and its roots.
fn assert_nothing_left(pid: u32) -> Result<()> {
    let tag = format!("mr{pid}x");
    let netns = run(
        "list namespaces",
        Command::new("ip").args(["netns", "list"]),
    )?;
    ensure!(
        !netns.lines().any(|l| l.starts_with(&tag)),
        "namespaces left: {netns}"
    );
    let roots = workspace().join("target/verify");
    let roots = roots.to_string_lossy();
    let mounts = std::fs::read_to_string("/proc/mounts")?;
    ensure!(
        !mounts.contains(roots.as_ref()),
        "mounts left under {roots}:\n{mounts}"
    );
    for entry in std::fs::read_dir("/proc")? {
        let cmdline = std::fs::read(entry?.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        ensure!(
            !(cmdline.contains("systemd-nspawn") && cmdline.contains(roots.as_ref())),
            "process left: {cmdline}"
        );
    }
    let cgroups = Path::new("/sys/fs/cgroup").join(xtask::cluster::nspawn::CGROUP_PARENT);
    if let Ok(dir) = std::fs::read_dir(&cgroups) {
        for entry in dir {
            let name = entry?.file_name().to_string_lossy().into_owned();
            ensure!(!name.contains(&format!("-{pid}-")), "cgroup left: {name}");
        }
    }
    // Only this run's: another run (the boot tier's VMs) may be going on beside.
    if let Ok(dir) = std::fs::read_dir(workspace().join("target/verify")) {
        let prefix = format!("cluster-{pid}-");
        let left: Vec<String> = dir
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(&prefix))
            .collect();
        ensure!(left.is_empty(), "roots left in target/verify: {left:?}");
    }
    Ok(())
}

/// Every node starts as a minbase root with an init and no route out, receives the bundle alone
/// and installs with its install.sh: the dependency closure proven by a running cluster.
#[test]
fn the_example_cluster_from_the_bundle_passes_every_check() -> Result<()> {
    let _one = ONE_CLUSTER.lock();
    let (out, pid) = verify(&["--from", "bundle"])?;
    let table = String::from_utf8_lossy(&out.stdout);
    mesos_roles_tests::cluster::assert_checks_passed(
        &table,
        &[
            "cluster up (boot + install from the air-gapped bundle)",
            "ZooKeeper ensemble formed",
            "quorum = floor(n/2)+1 as rendered",
            "every master's received flags as rendered",
            "one leading master",
            "the agent registered with it",
            "Marathon sees the leading master",
            "Marathon accepts the app (mesos-role deploy)",
            "every node healthy (mesos-role status)",
            "failover: stop the leading master",
            "failover: stop the ZooKeeper leader",
            "2 of 3 masters down: nothing claims to lead",
            xtask::steps::verify::CHECK_MARATHON,
            xtask::steps::verify::CHECK_ZOOKEEPER,
            xtask::steps::verify::CHECK_WRONG_AGENT,
        ],
    )?;
    ensure!(
        out.status.success(),
        "verify failed:\n{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_nothing_left(pid)
}

/// One cluster, two faults (a cluster costs minutes): a wrong ZooKeeper path on one master, and the
/// whole cluster installed open (no secret, `insecure` true), which the security checks catch.
#[test]
fn a_broken_build_fails_the_checks_that_caught_it() -> Result<()> {
    let _one = ONE_CLUSTER.lock();
    let wrong = "master-2:/etc/mesos/zk=zk://10.77.0.11:2181,10.77.0.12:2181,10.77.0.13:2181/wrong";
    let (out, pid) = verify(&["--tamper", wrong, "--insecure"])?;
    let table = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "a broken build passed:\n{table}");
    let line = table
        .lines()
        .find(|l| l.starts_with("every master's received flags as rendered"))
        .context("no flags line")?;
    // Caught from what the running master says (Mesos' /flags), not from any file of a double.
    ensure!(
        line.contains("FAILED")
            && line.contains("master-2: mesos-master runs with --zk=")
            && line.contains("/wrong (/flags)"),
        "{line}"
    );
    ensure!(
        stderr.contains("verify failed:")
            && stderr.contains("every master's received flags as rendered"),
        "{stderr}"
    );
    // An open Marathon answers without credentials; an open ZooKeeper takes anyone's writes.
    let failed = |check: &str, says: &str| -> Result<()> {
        let line = table
            .lines()
            .find(|l| l.starts_with(check))
            .with_context(|| format!("no line {check:?} in:\n{table}"))?;
        ensure!(line.contains("FAILED") && line.contains(says), "{line}");
        ensure!(stderr.contains(check), "{check:?} not named in: {stderr}");
        Ok(())
    };
    failed(
        xtask::steps::verify::CHECK_MARATHON,
        "answers 200 without credentials",
    )?;
    failed(
        xtask::steps::verify::CHECK_ZOOKEEPER,
        "lets an anonymous client setData /mesos/json.info_",
    )?;
    assert_nothing_left(pid)
}

/// `--switch-over`: the cluster installed open is switched to authentication as docs/security.md
/// says, a master leading at every poll; then it passes every check of an authenticated cluster.
/// The summary as JSON (`--json`) names the same checks.
#[test]
fn the_switch_over_keeps_a_leader_and_ends_authenticated() -> Result<()> {
    let _one = ONE_CLUSTER.lock();
    let (out, pid) = verify(&["--switch-over", "--json"])?;
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("not JSON: {}", String::from_utf8_lossy(&out.stdout)))?;
    let checks = summary["checks"].as_array().context("no checks")?;
    for check in [
        xtask::steps::verify::CHECK_SWITCH_OVER,
        xtask::steps::verify::CHECK_MARATHON,
        xtask::steps::verify::CHECK_ZOOKEEPER,
        xtask::steps::verify::CHECK_WRONG_AGENT,
        "every node healthy (mesos-role status)",
    ] {
        let found = checks
            .iter()
            .find(|c| c["name"] == check)
            .with_context(|| format!("no check {check:?} in {summary:#}"))?;
        ensure!(found["ok"] == true, "{check:?} failed: {found:#}");
    }
    ensure!(
        out.status.success(),
        "verify --switch-over failed: {summary:#}"
    );
    assert_nothing_left(pid)
}

/// Starts `cargo xtask verify` on the example inventory and returns once it boots its first node
/// (namespaces, roots and containers all exist then).
fn start_and_wait_for_a_node() -> Result<(std::process::Child, u32)> {
    let dist = dist()?.join("dist");
    let mut child = Command::new(xtask()?)
        .arg("verify")
        .arg("--inventory")
        .arg(workspace().join("cluster.toml"))
        .arg("--dist")
        .arg(&dist)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !std::fs::read_dir("/proc")?.any(|e| {
        e.ok()
            .and_then(|e| std::fs::read(e.path().join("cmdline")).ok())
            .is_some_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("systemd-nspawn") && c.contains(&format!("cluster-{pid}-"))
            })
    }) {
        ensure!(
            Instant::now() < deadline && child.try_wait()?.is_none(),
            "verify never booted a node"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(3));
    Ok((child, pid))
}

#[test]
fn sigterm_tears_the_cluster_down() -> Result<()> {
    let _one = ONE_CLUSTER.lock();
    let (mut child, pid) = start_and_wait_for_a_node()?;
    run(
        "send SIGTERM",
        Command::new("kill").args(["-TERM", &pid.to_string()]),
    )?;
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        ensure!(
            Instant::now() < deadline,
            "verify did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    ensure!(!status.success(), "an interrupted verify exited 0");
    assert_nothing_left(pid)
}

/// A verify killed with SIGKILL (or by the OOM killer) tears nothing down; the next verify sweeps
/// what it left (its nodes, namespaces and roots, found by name) and says so in one line.
#[test]
fn what_a_killed_verify_left_is_swept_by_the_next() -> Result<()> {
    let _one = ONE_CLUSTER.lock();
    let (mut child, pid) = start_and_wait_for_a_node()?;
    child.kill()?;
    child.wait()?;
    ensure!(
        assert_nothing_left(pid).is_err(),
        "a killed verify left nothing: the test would prove nothing"
    );
    // The next verify sweeps before anything else, also when its own input is bad.
    let out = Command::new(xtask()?)
        .arg("verify")
        .arg("--inventory")
        .arg(workspace().join("cluster.toml"))
        .arg("--repo")
        .arg(workspace().join("target/no-such-repository"))
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "{stderr}");
    ensure!(
        stderr.contains("verify: swept what an earlier run left: ")
            && stderr.contains(" node containers, "),
        "{stderr}"
    );
    assert_nothing_left(pid)
}

/// A dist without a repository (or a bundle, for `--from bundle`), or a file that is not a bundle:
/// one line naming what is missing and the command that makes it, before any node exists.
#[test]
fn a_missing_repository_or_bundle_says_which_command_to_run() -> Result<()> {
    let empty = tempfile::tempdir()?;
    let text = empty.path().join("notes.txt");
    std::fs::write(&text, "not a bundle\n")?;
    for (extra, says) in [
        (
            vec!["--dist".into(), empty.path().display().to_string()],
            "no repository in",
        ),
        (
            vec![
                "--from".into(),
                "bundle".into(),
                "--dist".into(),
                empty.path().display().to_string(),
            ],
            "no bundle in",
        ),
        (
            vec![
                "--from".into(),
                "bundle".into(),
                "--bundle".into(),
                text.display().to_string(),
            ],
            "not a bundle built by `cargo xtask bundle`",
        ),
    ] {
        let out = Command::new(xtask()?)
            .args(["verify", "--inventory"])
            .arg(workspace().join("cluster.toml"))
            .args(&extra)
            .output()?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        ensure!(!out.status.success(), "{extra:?}: {stderr}");
        // One line of error; a sweep of what an earlier, killed run left may say so before it.
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|l| !l.starts_with("verify: swept what an earlier run left: "))
            .collect();
        ensure!(
            lines.len() == 1
                && stderr.contains(says)
                && stderr.contains("cargo xtask dist --closure"),
            "{extra:?}: {stderr}"
        );
    }
    Ok(())
}
