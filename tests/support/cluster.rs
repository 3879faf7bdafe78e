//! A test cluster: booted nodes on one private network with the role packages and the doubles
//! copied in, and the apt and debconf steps the tests drive on them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use anyhow::{Context, Result, ensure};

use crate::net::Net;
use crate::node::{self, Node};
use crate::{build_role_debs, doubles, require_root_and_tools, roots};

/// Booted nodes on one private network. Field order is drop order: nodes power off before their
/// network and their roots go (`Drop` unmounts the roots first).
pub struct Cluster {
    pub nodes: Vec<Node>,
    _net: Net,
    debs: Vec<String>,
    dir: tempfile::TempDir,
}

pub fn boot(tag: &str, suite: &str, addresses: &[&str]) -> Result<Cluster> {
    require_root_and_tools(&["mmdebstrap", "systemd-nspawn", "nsenter", "ip", "dpkg-deb"])?;
    // As verify's clusters: what a killed run left is swept (its containers stopped, its roots
    // unmounted and removed), and this one's directory carries the process id for the next sweep.
    xtask::steps::verify::sweep()?;
    let dir = xtask::steps::verify::cluster_dir()?;
    let debs_dir = dir.path().join("debs");
    let mut debs: Vec<PathBuf> = build_role_debs(&debs_dir, "1.0.0-1")?;
    debs.extend(doubles::build_all(&debs_dir)?);
    let mut net = Net::new()?;
    let mut nodes = Vec::new();
    let names: Vec<String> = (0..addresses.len()).map(|i| format!("{tag}{i}")).collect();
    // Every node's name resolves, as on seeded nodes (Marathon exits when its own does not).
    let hosts: Vec<(&str, &str)> = names
        .iter()
        .map(String::as_str)
        .zip(addresses.iter().copied())
        .collect();
    for (name, address) in names.iter().zip(addresses) {
        let root = dir.path().join(name);
        roots::unpack(suite, &root)?;
        node::write_hosts(&root, &hosts)?;
        let netns = net.add_node(address)?;
        let node = Node::boot(name, &root, &netns)?;
        node.copy_in(&debs, "/root/debs")?;
        nodes.push(node);
    }
    let debs = debs
        .iter()
        .map(|d| format!("/root/debs/{}", d.file_name().unwrap().to_string_lossy()))
        .collect();
    Ok(Cluster {
        nodes,
        _net: net,
        debs,
        dir,
    })
}

impl Drop for Cluster {
    /// The nodes power off first; then their roots' overlays (`roots::overlay`) are unmounted, so
    /// that the scratch directory, dropped after, deletes only what the nodes wrote.
    fn drop(&mut self) {
        self.nodes.clear();
        let _ = roots::unmount_below(self.dir.path());
    }
}

impl Cluster {
    /// The path inside the nodes of the .deb whose file name starts with `package_`.
    pub fn deb(&self, package: &str) -> &str {
        self.debs
            .iter()
            .find(|d| {
                d.rsplit('/')
                    .next()
                    .unwrap()
                    .starts_with(&format!("{package}_"))
            })
            .expect("built")
    }
}

/// The cluster secret of the tests' clusters (docs/security.md).
pub const CLUSTER_SECRET: &str = "mesos-roles-tests-cluster-secret-0123456789";

/// `answers` as `debconf-set-selections` lines for `package`. Unless the answers speak of
/// authentication themselves (a `*-secret` or `insecure` question), the node gets what its role
/// holds: a master the cluster secret, an agent the agent secret derived from it.
pub fn selections(package: &str, answers: &[(&str, &str)]) -> String {
    let agent_secret = xtask::inputs::secrets::agent_secret(CLUSTER_SECRET);
    let mut answers = answers.to_vec();
    if !answers
        .iter()
        .any(|(q, _)| q.ends_with("-secret") || *q == "insecure")
    {
        match package {
            "mesos-master-role" => answers.push(("cluster-secret", CLUSTER_SECRET)),
            _ => answers.push(("agent-secret", agent_secret.as_str())),
        }
    }
    answers
        .iter()
        .map(|(q, v)| {
            let kind = match *q {
                q if q.ends_with("-secret") || q == "docker-registries" => "password",
                "insecure" => "boolean",
                _ => "string",
            };
            format!("{package} {package}/{q} {kind} {v}\n")
        })
        .collect()
}

/// Preseeds `answers` (question suffix, value) for `package` on `node`, with the secret its role
/// holds unless they name one (see [`selections`]).
pub fn preseed(node: &Node, package: &str, answers: &[(&str, &str)]) -> Result<()> {
    let text = selections(package, answers);
    std::fs::write(node.path("/root/preseed"), text)?;
    node.exec("preseed", &["debconf-set-selections", "/root/preseed"])?;
    Ok(())
}

/// apt-get install of local .debs; returns everything apt and the scripts printed.
pub fn install(node: &Node, debs: &[&str]) -> Result<String> {
    let (ok, text) = try_install(node, debs)?;
    ensure!(ok, "{}: apt-get install failed:\n{text}", node.name);
    Ok(text)
}

/// apt-get install of local .debs whatever the outcome: (succeeded, everything printed).
pub fn try_install(node: &Node, debs: &[&str]) -> Result<(bool, String)> {
    let mut args = vec!["apt-get", "install", "-y", "--no-install-recommends"];
    args.extend(debs);
    let out = node.output(&args)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok((out.status.success(), text))
}

/// A listing of /etc: paths, types and sizes, and for links their targets, with merged /usr's two
/// spellings made one (`/lib/x` is `/usr/lib/x`, and tools differ in which they write).
pub fn etc_listing(node: &Node) -> Result<String> {
    node.sh(
        "list /etc",
        r#"find /etc ! -type l -printf '%p %y %s\n'
           find /etc -type l -printf '%p -> %l\n' | sed -E 's#-> /(lib|bin|sbin)/#-> /usr/\1/#'"#,
    )
}

pub fn units(node: &Node, units: &[&str]) -> Result<BTreeMap<String, (String, String)>> {
    units
        .iter()
        .map(|u| Ok((u.to_string(), node.unit_state(u)?)))
        .collect()
}

/// Every check named (a prefix of its line) has a passing line in verify's table.
pub fn assert_checks_passed(table: &str, checks: &[&str]) -> Result<()> {
    for check in checks {
        ensure!(
            table
                .lines()
                .any(|l| l.starts_with(check) && l.contains(" ok: ")),
            "no passing line for {check:?} in:\n{table}"
        );
    }
    Ok(())
}

/// The check named (a prefix of its line) failed saying `says` (the node it names, the cause),
/// and verify's error on stderr names it.
pub fn assert_check_failed(table: &str, stderr: &str, check: &str, says: &str) -> Result<()> {
    let line = table
        .lines()
        .find(|l| l.starts_with(check))
        .with_context(|| format!("no line {check:?} in:\n{table}"))?;
    ensure!(
        line.contains("FAILED") && line.contains(says),
        "{check:?} should have failed saying {says:?}: {line}"
    );
    // verify's last word, `verify failed: CHECK; CHECK...`, not merely its progress lines.
    let error = stderr
        .lines()
        .find_map(|l| l.split_once("verify failed: ").map(|(_, names)| names))
        .with_context(|| format!("no \"verify failed:\" line in: {stderr}"))?;
    ensure!(
        error.split("; ").any(|name| name.starts_with(check)),
        "{check:?} not named in verify's error: {error}"
    );
    Ok(())
}

/// The arguments that break agent-1 of a cluster whose first master is at `master`: its
/// `/etc/mesos/zk` names a ZooKeeper path no master uses.
pub fn broken_agent(master: &str) -> [String; 2] {
    [
        "--tamper".into(),
        format!("agent-1:/etc/mesos/zk=zk://{master}:2181/wrong"),
    ]
}

/// verify's run `out` (process `pid`) of a cluster with [`broken_agent`] failed naming agent-1 in
/// the checks that caught it (it never registers, its own status says so), the masters passed,
/// the failovers say why they did not run, and the run left nothing behind.
pub fn assert_broken_agent_named(out: &std::process::Output, pid: u32) -> Result<()> {
    let table = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    ensure!(!out.status.success(), "a broken node passed:\n{table}");
    assert_check_failed(
        &table,
        &stderr,
        "the agent registered with it",
        "agent-1 is not registered with a master",
    )?;
    assert_check_failed(
        &table,
        &stderr,
        "every node healthy (mesos-role status)",
        "agent-1 (",
    )?;
    assert_checks_passed(&table, &["ZooKeeper ensemble formed", "one leading master"])?;
    assert_check_failed(&table, &stderr, "failover", "not run")?;
    assert_nothing_left(pid)
}

/// The shells `verify --keep` printed for its nodes: node name to command line.
pub type Kept = BTreeMap<String, String>;
/// What a test asks of the nodes `verify --keep` holds.
pub type Inspect<'a> = &'a dyn Fn(&Kept) -> Result<()>;

/// Runs `verify` (the command with its arguments) to its end, its stderr read as it comes: its
/// output and process id, both streams printed with its time. With `inspect`, `--keep` is added:
/// once the checks are done, `inspect` gets the nodes' shells it printed, and the run is then
/// ended with SIGTERM, as an operator's Ctrl-C would end it.
pub fn run_verify(mut verify: Command, inspect: Option<Inspect>) -> Result<(Output, u32)> {
    use std::io::BufRead;
    let started = std::time::Instant::now();
    let mut child = verify
        .args(inspect.map(|_| "--keep"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    // The kept nodes' shells are sent on once verify says how to end the run.
    let stderr = child.stderr.take().context("verify's stderr")?;
    let (shells, kept) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let mut nodes = Kept::new();
        let mut listing = false;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if line.starts_with("verify: the cluster is kept up") {
                listing = true;
            } else if line.contains("tears it down") {
                listing = false;
                let _ = shells.send(std::mem::take(&mut nodes));
            } else if listing && let Some((name, shell)) = line.trim().split_once(": ") {
                nodes.insert(name.to_string(), shell.to_string());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let inspected = match inspect {
        None => Ok(()),
        Some(inspect) => match kept.recv() {
            Ok(nodes) => {
                let inspected = inspect(&nodes);
                crate::run(
                    "end verify --keep",
                    Command::new("kill").args(["-TERM", &pid.to_string()]),
                )?;
                inspected
            }
            Err(_) => Err(anyhow::anyhow!(
                "verify --keep ended without keeping its cluster"
            )),
        },
    };
    let mut out = child.wait_with_output()?;
    out.stderr = reader
        .join()
        .map_err(|_| anyhow::anyhow!("the stderr reader panicked"))?
        .into_bytes();
    eprintln!(
        "--- verify ({:.0} s) stderr\n{}\n--- verify stdout\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    inspected?;
    Ok((out, pid))
}

/// Nothing of the run of process `pid` is left: its namespaces (and so its bridge and veths),
/// nodes' processes (nspawn or qemu), mounts of its roots, its cgroups and its roots.
pub fn assert_nothing_left(pid: u32) -> Result<()> {
    let tag = format!("mr{pid}x");
    let netns = crate::run(
        "list namespaces",
        Command::new("ip").args(["netns", "list"]),
    )?;
    ensure!(
        !netns.lines().any(|l| l.starts_with(&tag)),
        "namespaces left: {netns}"
    );
    // Only this run's: another run (the other lane's clusters, the boot tier's VMs) may be going
    // on beside.
    let run_dir = crate::workspace()
        .join("target/verify")
        .join(format!("cluster-{pid}-"));
    let run_dir = run_dir.to_string_lossy();
    let mounts = std::fs::read_to_string("/proc/mounts")?;
    ensure!(
        !mounts.contains(run_dir.as_ref()),
        "mounts left under {run_dir}*:\n{mounts}"
    );
    for entry in std::fs::read_dir("/proc")? {
        let cmdline = std::fs::read(entry?.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        ensure!(
            !cmdline.contains(run_dir.as_ref()),
            "process left (a node's nspawn or qemu): {cmdline}"
        );
    }
    // Every hierarchy the nodes' cgroups are made in (two on a cgroups v1 host).
    for cgroups in xtask::cluster::nspawn::cgroup_parents() {
        if let Ok(dir) = std::fs::read_dir(&cgroups) {
            for entry in dir {
                let name = entry?.file_name().to_string_lossy().into_owned();
                ensure!(
                    !name.contains(&format!("-{pid}-")),
                    "cgroup left: {}/{name}",
                    cgroups.display()
                );
            }
        }
    }
    if let Ok(dir) = std::fs::read_dir(crate::workspace().join("target/verify")) {
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

#[cfg(test)]
mod tests {
    use super::assert_check_failed;

    const TABLE: &str = "check  time  result\n\
        one leading master  0.1s  ok: master-3\n\
        failover  0.0s  FAILED: not run: the cluster is not healthy\n";

    /// A failed check counts only when verify's final error names it: a progress line that
    /// mentions the check is not enough.
    #[test]
    fn a_failed_check_must_be_named_in_verifys_error() {
        let named =
            "    failover: FAILED\nerror: verify failed: the agent registered with it; failover\n";
        assert!(assert_check_failed(TABLE, named, "failover", "not run").is_ok());
        let progress_only =
            "    failover: FAILED\nerror: verify failed: the agent registered with it\n";
        assert!(assert_check_failed(TABLE, progress_only, "failover", "not run").is_err());
        assert!(assert_check_failed(TABLE, named, "one leading master", "master-3").is_err());
    }
}
