//! `cargo xtask verify` on the example inventory, against a scratch dist whose repository and
//! air-gapped bundle hold the role packages and the test doubles (never target/dist): the cluster
//! installed from the bundle alone passes every check, so does the one from the repository switched
//! over to authentication, and the one upgraded node by node from an older scratch dist; a broken
//! one fails with the check that caught it named, an interrupted run tears down, and nothing is
//! left behind (namespaces, mounts, nspawn processes, cgroups, roots).
//!
//! The harness's two threads run two clusters at a time: a cluster mostly waits (settling,
//! failovers), and each run has its own namespaces, roots and scratch (named by its pid).

use mesos_roles_tests::Target;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use mesos_roles_tests::cluster::assert_check_failed;
use mesos_roles_tests::{Once, doubles, require_root_and_tools, run, run_scratch, workspace};

/// The checks after the cluster is up, on the example inventory (three masters, one agent).
const EVERY_CHECK: &[&str] = &[
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
];

/// A scratch dist (debs, signed repository with the doubles and the closure, the bundle, manifest),
/// built once per run.
fn dist() -> Result<&'static Path> {
    static DIST: Once<PathBuf> = Once::new();
    DIST.get_or_build(|| built("verify-dist", NEWER, false))
        .map(PathBuf::as_path)
}

/// The dist an upgrade starts from: the same pipeline at an older version, signed by a key of its
/// own (two releases need not share a key: each repository is installed with its own keyring).
fn older_dist() -> Result<&'static Path> {
    static DIST: Once<PathBuf> = Once::new();
    DIST.get_or_build(|| built("verify-older-dist", OLDER, true))
        .map(PathBuf::as_path)
}

/// The role packages' version in [`older_dist`].
const OLDER: &str = "0.9.0-1";
/// The role packages' version in [`dist`].
const NEWER: &str = "1.0.0-1";

/// The dist of `version` in a scratch directory `name...`; an `older` one has the repository
/// alone (no closure, no bundle), signed by a development key made for it alone.
fn built(name: &str, version: &str, older: bool) -> Result<PathBuf> {
    require_root_and_tools(&["mmdebstrap", "systemd-nspawn", "nsenter", "ip", "dpkg-deb"])?;
    let dir = run_scratch(name)?;
    let upstream = dir.join("upstream");
    doubles::build_all(&upstream)?;
    mesos_roles_tests::pipeline(mesos_roles_tests::Request {
        targets: match older {
            // Only what an upgrade installs first: the repository.
            true => vec![Target::Debs, Target::Repo, Target::Manifest],
            false => vec![Target::Debs, Target::Repo, Target::Bundle, Target::Manifest],
        },
        version: Some(version.into()),
        source_date_epoch: Some(1_700_000_000),
        dist: Some(dir.join("dist")),
        suite: Some("bookworm".into()),
        upstream: Some(upstream),
        keep_repo: true,
        signing_key: older
            .then(|| xtask::formats::signing::KeySource::Development(dir.join("signing-key.asc"))),
        closure: !older,
        ..Default::default()
    })?;
    Ok(dir)
}

/// `xtask verify` on the example inventory and the scratch dist.
fn verify_command() -> Result<Command> {
    let mut command = Command::new(mesos_roles_tests::xtask_binary()?);
    command
        .arg("verify")
        .arg("--inventory")
        .arg(workspace().join("cluster.toml"))
        .arg("--dist")
        .arg(dist()?.join("dist"));
    Ok(command)
}

/// Sends SIGTERM to the verify `child` and waits for it to end.
fn terminate(child: &mut std::process::Child) -> Result<std::process::ExitStatus> {
    run(
        "send SIGTERM",
        Command::new("kill").args(["-TERM", &child.id().to_string()]),
    )?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        ensure!(
            Instant::now() < deadline,
            "verify did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn verify(extra: &[&str]) -> Result<(Output, u32)> {
    let mut command = verify_command()?;
    command.args(extra);
    mesos_roles_tests::cluster::run_verify(command, None)
}

/// Every node starts as a minbase root with an init and no route out, receives the bundle alone
/// and installs with its install.sh: the dependency closure proven by a running cluster.
#[test]
fn the_example_cluster_from_the_bundle_passes_every_check() -> Result<()> {
    let (out, pid) = verify(&["--from", "bundle"])?;
    let table = String::from_utf8_lossy(&out.stdout);
    mesos_roles_tests::cluster::assert_checks_passed(
        &table,
        &["cluster up (boot + install from the air-gapped bundle)"],
    )?;
    mesos_roles_tests::cluster::assert_checks_passed(&table, EVERY_CHECK)?;
    ensure!(
        out.status.success(),
        "verify failed:\n{table}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    mesos_roles_tests::cluster::assert_nothing_left(pid)
}

/// One cluster, two faults (a cluster costs minutes): a wrong ZooKeeper path on one master, and the
/// whole cluster installed open (no secret, `insecure` true), which the security checks catch.
#[test]
fn a_broken_build_fails_the_checks_that_caught_it() -> Result<()> {
    let wrong = "master-2:/etc/mesos/zk=zk://10.77.0.11:2181,10.77.0.12:2181,10.77.0.13:2181/wrong";
    let (out, pid) = verify(&["--tamper", wrong, "--insecure"])?;
    let table = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "a broken build passed:\n{table}");
    // Caught from what the running master says (Mesos' /flags), not from any file of a double.
    for says in ["master-2: mesos-master runs with --zk=", "/wrong (/flags)"] {
        assert_check_failed(
            &table,
            &stderr,
            "every master's received flags as rendered",
            says,
        )?;
    }
    // An open Marathon answers without credentials; an open ZooKeeper takes anyone's writes.
    assert_check_failed(
        &table,
        &stderr,
        xtask::steps::verify::CHECK_MARATHON,
        "answers 200 without credentials",
    )?;
    assert_check_failed(
        &table,
        &stderr,
        xtask::steps::verify::CHECK_ZOOKEEPER,
        "lets an anonymous client setData /mesos/json.info_",
    )?;
    mesos_roles_tests::cluster::assert_nothing_left(pid)
}

/// From the bundle too, a broken node is named by the checks that caught it: the agent pointed at
/// a ZooKeeper path no master uses never registers, and its own status says so.
#[test]
fn a_broken_node_from_the_bundle_is_named_by_the_checks_that_caught_it() -> Result<()> {
    let [tamper, wrong] = mesos_roles_tests::cluster::broken_agent("10.77.0.11");
    let (out, pid) = verify(&["--from", "bundle", &tamper, &wrong])?;
    mesos_roles_tests::cluster::assert_broken_agent_named(&out, pid)
}

/// `--switch-over`: the cluster installed open is switched to authentication as docs/security.md
/// says, a master leading at every poll; then it passes every check of an authenticated cluster.
/// The summary as JSON (`--json`) names the same checks. With `--keep`, the shell printed for each
/// node reaches that node; SIGTERM then ends the run, and nothing is left.
#[test]
fn the_switch_over_keeps_a_leader_and_ends_authenticated() -> Result<()> {
    // Kept up after the checks: each node's shell (nsenter into its namespaces) reaches the node
    // with its own role installed.
    let inspect = |nodes: &mesos_roles_tests::cluster::Kept| -> Result<()> {
        let names: Vec<&str> = nodes.keys().map(String::as_str).collect();
        ensure!(
            names == ["agent-1", "master-1", "master-2", "master-3"],
            "verify --keep printed shells for {names:?}"
        );
        for (name, shell) in nodes {
            let role = match name.starts_with("master") {
                true => "mesos-master-role",
                false => "mesos-agent-role",
            };
            let mut words = shlex::split(shell).context("a shell line of words")?;
            words.extend(["dpkg-query", "-W", "-f", "${Status}", role].map(String::from));
            let said = run(
                &format!("ask {name} through its kept shell"),
                Command::new(&words[0]).args(&words[1..]),
            )?;
            ensure!(said == "install ok installed", "{name}: {role}: {said}");
        }
        Ok(())
    };
    let mut command = verify_command()?;
    command.args(["--switch-over", "--json"]);
    let (out, pid) = mesos_roles_tests::cluster::run_verify(command, Some(&inspect))?;
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
    mesos_roles_tests::cluster::assert_nothing_left(pid)
}

/// `--upgrade-from`: the cluster installed from an older dist is upgraded node by node (the
/// agent, the masters that do not lead, the leading master last), each node at the new version and
/// the cluster settled with its app after each; then every usual check passes.
#[test]
fn a_rolling_upgrade_goes_node_by_node_and_passes_every_check() -> Result<()> {
    let older = older_dist()?.join("dist");
    let keyring = |dist: &Path| {
        std::fs::read(dist.join("repo").join(xtask::steps::repo::KEYRING))
            .with_context(|| format!("no keyring in {}", dist.display()))
    };
    ensure!(
        keyring(&older)? != keyring(&dist()?.join("dist"))?,
        "both dists are signed by one key: the test would not show that each keyring is taken"
    );
    let (out, pid) = verify(&["--upgrade-from", &older.to_string_lossy()])?;
    let table = String::from_utf8_lossy(&out.stdout);
    let inventory =
        xtask::inputs::inventory::Inventory::load(&workspace().join("cluster.toml"))?.nodes();
    // The nodes' lines in the order they were upgraded: (name, what it was).
    let upgraded: Vec<(&str, &str)> = table
        .lines()
        .filter_map(|l| l.strip_prefix(xtask::steps::verify::upgrade::CHECK_NODE))
        .filter_map(|l| {
            let (name, rest) = l.split_once(" (")?;
            Some((name, rest.split_once(')')?.0))
        })
        .collect();
    let mut names: Vec<&str> = upgraded.iter().map(|(n, _)| *n).collect();
    names.sort();
    let mut want: Vec<&str> = inventory.iter().map(|n| n.name.as_str()).collect();
    want.sort();
    ensure!(
        names == want,
        "nodes upgraded {upgraded:?}, want each of {want:?} once:\n{table}"
    );
    let agents = inventory
        .iter()
        .filter(|n| n.role == xtask::inputs::inventory::Role::Agent)
        .count();
    let kinds: Vec<&str> = upgraded.iter().map(|(_, k)| *k).collect();
    let mut order = vec!["agent"; agents];
    order.extend(vec!["follower"; inventory.len() - agents - 1]);
    order.push("leading master");
    ensure!(
        kinds == order,
        "upgraded in the order {upgraded:?}, want {order:?}"
    );
    for (name, _) in &upgraded {
        let line = table
            .lines()
            .find(|l| l.starts_with(&format!("upgrade {name} (")))
            .context("no line")?;
        ensure!(
            line.contains(" ok: ") && line.contains(&format!("-role {OLDER} -> {NEWER} in ")),
            "{name} not upgraded from {OLDER} to {NEWER}: {line}"
        );
    }
    mesos_roles_tests::cluster::assert_checks_passed(
        &table,
        &[
            xtask::steps::verify::upgrade::CHECK_BEFORE,
            "cluster up (boot + install from the signed repository)",
        ],
    )?;
    mesos_roles_tests::cluster::assert_checks_passed(&table, EVERY_CHECK)?;
    ensure!(!table.contains(" FAILED"), "a check failed:\n{table}");
    ensure!(
        out.status.success(),
        "verify --upgrade-from failed:\n{table}"
    );
    mesos_roles_tests::cluster::assert_nothing_left(pid)
}

/// A node whose upgrade fails (apt on master-2 made to refuse every dpkg run): its line names it and
/// the step, the nodes after it are not upgraded, the usual checks do not run, and nothing is left.
#[test]
fn a_node_whose_upgrade_fails_is_named_with_its_step() -> Result<()> {
    let older = older_dist()?.join("dist");
    let broken = r#"master-2:/etc/apt/apt.conf.d/99verify-broken=DPkg::Pre-Invoke { "false"; };"#;
    let (out, pid) = verify(&[
        "--upgrade-from",
        &older.to_string_lossy(),
        "--tamper",
        broken,
    ])?;
    let table = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "a broken upgrade passed:\n{table}");
    let lines: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with(xtask::steps::verify::upgrade::CHECK_NODE))
        .collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with("upgrade master-2 ("))
        .with_context(|| format!("no line for master-2 in:\n{table}"))?;
    ensure!(
        lines[at].contains("FAILED")
            && lines[at].contains("master-2: apt-get install mesos-master-role mesos-role-tools"),
        "{}",
        lines[at]
    );
    ensure!(
        lines[..at].iter().all(|l| l.contains(" ok: "))
            && lines[at + 1..].iter().all(|l| l.contains("not run")),
        "the nodes before master-2 upgraded, none after:\n{table}"
    );
    ensure!(lines.len() == 4, "a line per node:\n{table}");
    ensure!(
        !table.contains("one leading master"),
        "the usual checks ran on a half-upgraded cluster:\n{table}"
    );
    ensure!(
        stderr.contains("verify failed: ") && stderr.contains("upgrade master-2 ("),
        "{stderr}"
    );
    mesos_roles_tests::cluster::assert_nothing_left(pid)
}

/// Starts `cargo xtask verify` on the example inventory and returns once it boots its first node
/// (namespaces, roots and containers all exist then).
fn start_and_wait_for_a_node() -> Result<(std::process::Child, u32)> {
    let mut child = verify_command()?
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
    let (mut child, pid) = start_and_wait_for_a_node()?;
    let status = terminate(&mut child)?;
    ensure!(!status.success(), "an interrupted verify exited 0");
    mesos_roles_tests::cluster::assert_nothing_left(pid)
}

/// SIGTERM while the nodes are being upgraded (once the cluster settled with its app, as the first
/// node's upgrade begins): the run stops there, tears the cluster down (the new repository linked
/// into the roots included) and leaves nothing.
#[test]
fn sigterm_during_the_upgrade_leaves_nothing() -> Result<()> {
    use std::io::BufRead;
    let older = older_dist()?.join("dist");
    let mut child = verify_command()?
        .arg("--upgrade-from")
        .arg(&older)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let stderr = child.stderr.take().context("no stderr")?;
    let (lines, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let before = format!("{}: ok", xtask::steps::verify::upgrade::CHECK_BEFORE);
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut said = Vec::new();
    loop {
        let line = receive
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .with_context(|| format!("the upgrade never began:\n{}", said.join("\n")))?;
        let began = line.contains(&before);
        said.push(line);
        if began {
            break;
        }
    }
    let status = terminate(&mut child)?;
    said.extend(receive.try_iter());
    let said = said.join("\n");
    ensure!(!status.success(), "an interrupted verify exited 0:\n{said}");
    ensure!(
        !said.contains("ZooKeeper ensemble formed (srvr)"),
        "the usual checks ran after SIGTERM:\n{said}"
    );
    mesos_roles_tests::cluster::assert_nothing_left(pid)
}

/// A verify killed with SIGKILL (or by the OOM killer) tears nothing down; the next verify sweeps
/// what it left (its nodes, namespaces and roots, found by name) and says so in one line.
#[test]
fn what_a_killed_verify_left_is_swept_by_the_next() -> Result<()> {
    let (mut child, pid) = start_and_wait_for_a_node()?;
    child.kill()?;
    child.wait()?;
    ensure!(
        mesos_roles_tests::cluster::assert_nothing_left(pid).is_err(),
        "a killed verify left nothing: the test would prove nothing"
    );
    // The next verify sweeps before anything else, also when its own input is bad.
    let out = Command::new(mesos_roles_tests::xtask_binary()?)
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
    mesos_roles_tests::cluster::assert_nothing_left(pid)
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
        let out = Command::new(mesos_roles_tests::xtask_binary()?)
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
