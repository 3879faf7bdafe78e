//! The package lifecycle on booted nodes (real systemd, real dpkg, apt and debconf): reconfigure
//! (noninteractive after new answers, and interactive on a terminal) restarts exactly the services
//! whose configuration changed; an admin's edits become the offered defaults and survive
//! re-renders and upgrades (merged, or kept with the new version beside them); upgrades of the
//! role, of mesos (whose postinst enables both units again) and of zookeeper keep the node as
//! configured; remove keeps it running; purge gives the whole root back. On bookworm and trixie.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use mesos_roles_tests::cluster::{Cluster, boot, etc_listing, install, preseed, units};
use mesos_roles_tests::node::Node;
use mesos_roles_tests::{build_role_debs, doubles, on_suites, run, scratch, workspace};

const MASTER: &str = "mesos-master-role";
const AGENT: &str = "mesos-agent-role";
const MASTER_UNITS: [&str; 4] = ["zookeeper", "mesos-master", "marathon", "mesos-slave"];
const AGENT_UNITS: [&str; 4] = ["mesos-slave", "docker", "zookeeper", "mesos-master"];

/// Three masters, the first being the node under test: the others need not exist, as nothing
/// here needs the ensemble to form, only the daemons to run with what was rendered.
fn masters(node: &str) -> String {
    format!("{node}, 10.213.1.52, 10.213.1.53")
}

fn master_answers(node: &str) -> Vec<(&'static str, String)> {
    vec![("masters", masters(node)), ("self", node.into())]
}

fn agent_answers(node: &str) -> Vec<(&'static str, String)> {
    vec![("masters", masters("10.213.1.51")), ("ip", node.into())]
}

fn seed(node: &Node, package: &str, answers: &[(&str, String)]) -> Result<()> {
    let pairs: Vec<(&str, &str)> = answers.iter().map(|(q, v)| (*q, v.as_str())).collect();
    preseed(node, package, &pairs)
}

/// Everything a command printed, stdout then stderr.
fn printed(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// `dpkg-reconfigure -fnoninteractive`; returns what it printed.
fn reconfigure(node: &Node, package: &str) -> Result<String> {
    let out = node.output(&["dpkg-reconfigure", "-fnoninteractive", package])?;
    let text = printed(&out);
    ensure!(
        out.status.success(),
        "{}: reconfigure failed:\n{text}",
        node.name
    );
    Ok(text)
}

/// Each unit's InvocationID: systemd gives a unit a new one each time it starts, so a changed id
/// is a (re)start and an unchanged one is none.
fn invocations(node: &Node, units: &[&str]) -> Result<BTreeMap<String, String>> {
    units
        .iter()
        .map(|u| {
            let id = node.exec(
                "read a unit's invocation",
                &["systemctl", "show", "-p", "InvocationID", "--value", u],
            )?;
            Ok((u.to_string(), id.trim().to_string()))
        })
        .collect()
}

/// The units among `units` that were (re)started between `before` and now.
fn restarted(
    node: &Node,
    units: &[&str],
    before: &BTreeMap<String, String>,
) -> Result<Vec<String>> {
    let after = invocations(node, units)?;
    Ok(units
        .iter()
        .filter(|u| after[**u] != before[**u])
        .map(|u| u.to_string())
        .collect())
}

/// The role's answers as debconf holds them (`debconf-show`), sorted.
fn answers(node: &Node, package: &str) -> Result<String> {
    let text = node.exec("show the answers", &["debconf-show", package])?;
    let mut lines: Vec<&str> = text
        .lines()
        .map(|l| l.trim_start_matches(['*', ' ']))
        .collect();
    lines.sort();
    Ok(lines.join("\n"))
}

fn answer(node: &Node, package: &str, question: &str) -> Result<String> {
    let all = answers(node, package)?;
    let key = format!("{package}/{question}:");
    Ok(all
        .lines()
        .find_map(|l| l.strip_prefix(&key))
        .with_context(|| format!("no {key} in {all}"))?
        .trim()
        .to_string())
}

/// The lines of `out` the role printed (they start with its name).
fn said<'a>(out: &'a str, package: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.starts_with(&format!("{package}: ")))
        .collect()
}

/// Everything a master renders, with its text.
fn master_files(node: &Node) -> Result<BTreeMap<String, String>> {
    let mut files = node.files_in("/etc/mesos-master")?;
    for path in [
        "/etc/mesos/zk",
        "/etc/zookeeper/conf/zoo.cfg",
        "/etc/zookeeper/conf/myid",
        "/etc/mesos-roles/marathon.env",
        "/etc/marathon/conf/hostname",
    ] {
        files.insert(path.into(), node.read(path)?);
    }
    Ok(files)
}

fn copy_debs(node: &Node, debs: &[PathBuf]) -> Result<Vec<String>> {
    node.copy_in(debs, "/root/debs")
}

/// The role packages at a later version, in the node.
fn role_v2(node: &Node) -> Result<(tempfile::TempDir, Vec<String>)> {
    let dir = scratch("rolev2")?;
    let debs = build_role_debs(dir.path(), "1.0.1-1")?;
    let inside = copy_debs(node, &debs)?;
    Ok((dir, inside))
}

/// A newer mesos double whose shipped conffiles changed and whose postinst enables both units
/// by force (`reenable`: an admin's or a role's disable does not survive it), in the node.
fn hostile_mesos_upgrade(node: &Node) -> Result<(tempfile::TempDir, String)> {
    let dir = scratch("mesosv2")?;
    let deb = doubles::build_edited("mesos", "1.11.1-0double1", dir.path(), |root: &Path| {
        std::fs::write(root.join("etc/mesos/zk"), "zk://127.0.0.1:2181/mesos-v2\n")?;
        std::fs::write(root.join("etc/mesos-master/quorum"), "2\n")?;
        let default = root.join("etc/default/mesos");
        let text = std::fs::read_to_string(&default)?;
        std::fs::write(&default, format!("{text}# changed in 1.11.1\n"))?;
        let postinst = root.join("DEBIAN/postinst");
        let text = std::fs::read_to_string(&postinst)?;
        ensure!(
            text.contains("deb-systemd-helper enable"),
            "the double's postinst changed"
        );
        std::fs::write(
            &postinst,
            text.replace("deb-systemd-helper enable", "deb-systemd-helper reenable"),
        )?;
        Ok(())
    })?;
    let inside = copy_debs(node, &[deb])?.remove(0);
    Ok((dir, inside))
}

/// zookeeperd rebuilt from the node's own at a higher version and installed over it.
fn upgrade_zookeeperd(node: &Node) -> Result<String> {
    node.copy_in(&[workspace().join("tests/scripts/repack.sh")], "/root")?;
    node.exec(
        "repack zookeeperd",
        &[
            "sh",
            "/root/repack.sh",
            "zookeeperd",
            "+lifecycle1",
            "/root/debs",
        ],
    )?;
    install(node, &["/root/debs/zookeeperd.deb"])
}

fn state(enabled: &str, active: &str) -> (String, String) {
    (enabled.to_string(), active.to_string())
}

fn unit_states(node: &Node, want: &[(&str, &str, &str)]) -> Result<()> {
    let names: Vec<&str> = want.iter().map(|(u, _, _)| *u).collect();
    let expected: BTreeMap<String, (String, String)> = want
        .iter()
        .map(|(u, e, a)| (u.to_string(), state(e, a)))
        .collect();
    let got = units(node, &names)?;
    ensure!(
        got == expected,
        "{}: unit states {got:?}, want {expected:?}",
        node.name
    );
    Ok(())
}

fn master_running(node: &Node) -> Result<()> {
    unit_states(
        node,
        &[
            ("zookeeper", "enabled", "active"),
            ("mesos-master", "enabled", "active"),
            ("marathon", "enabled", "active"),
            ("mesos-slave", "disabled", "inactive"),
        ],
    )
}

fn agent_running(node: &Node) -> Result<()> {
    unit_states(
        node,
        &[
            ("mesos-slave", "enabled", "active"),
            ("docker", "enabled", "active"),
            ("zookeeper", "disabled", "inactive"),
            ("mesos-master", "disabled", "inactive"),
        ],
    )
}

fn cluster_debs(cluster: &Cluster) -> (&str, &str) {
    (cluster.deb("mesos"), cluster.deb("marathon"))
}

// ---------------------------------------------------------------------------------------------
// Reconfigure.

/// Drives `dpkg-reconfigure -freadline` on a terminal through tests/scripts/pty-answers.py.
fn reconfigure_on_a_terminal(node: &Node, package: &str, steps: &[(&str, &str)]) -> Result<String> {
    node.copy_in(&[workspace().join("tests/scripts/pty-answers.py")], "/root")?;
    let text: String = steps.iter().map(|(p, a)| format!("{p}\t{a}\n")).collect();
    std::fs::write(node.path("/root/steps"), text)?;
    // A tall terminal: debconf would page long texts with [More].
    node.exec(
        "reconfigure on a terminal",
        &[
            "env",
            // DEBIAN_FRONTEND (set for every command in a node) would win over -f.
            "DEBIAN_FRONTEND=readline",
            "LINES=500",
            "COLUMNS=200",
            "python3",
            "/root/pty-answers.py",
            "/root/steps",
            "dpkg-reconfigure",
            package,
        ],
    )
}

fn reconfigure_restarts_exactly_the_services_whose_config_changed(suite: &str) -> Result<()> {
    const NODE: &str = "10.213.1.12";
    let cluster = boot(&format!("rcf{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    let (mesos, marathon) = cluster_debs(&cluster);
    seed(node, MASTER, &master_answers(NODE))?;
    install(node, &[mesos, marathon, cluster.deb(MASTER)])?;
    master_running(node)?;
    let watched = &MASTER_UNITS[..3];

    // Nothing changed: nothing restarts, nothing is written.
    let (ids, etc) = (invocations(node, watched)?, etc_listing(node)?);
    reconfigure(node, MASTER)?;
    assert_eq!(
        restarted(node, watched, &ids)?,
        Vec::<String>::new(),
        "no change"
    );
    assert_eq!(
        etc_listing(node)?,
        etc,
        "a reconfigure without change wrote to /etc"
    );

    // A new hostname: Mesos and Marathon read it, ZooKeeper does not.
    seed(node, MASTER, &[("hostname", "master-a.example.org".into())])?;
    let ids = invocations(node, watched)?;
    reconfigure(node, MASTER)?;
    assert_eq!(
        node.read("/etc/mesos-master/hostname")?,
        "master-a.example.org\n"
    );
    assert_eq!(
        restarted(node, watched, &ids)?,
        ["mesos-master", "marathon"],
        "hostname"
    );

    // A new master list: all three.
    seed(
        node,
        MASTER,
        &[("masters", format!("{NODE} 10.213.1.52 10.213.1.54"))],
    )?;
    let ids = invocations(node, watched)?;
    reconfigure(node, MASTER)?;
    assert_eq!(restarted(node, watched, &ids)?, watched, "masters");

    // Interactively: a bad answer is explained and asked again; the cluster name, which only
    // mesos-master reads, changes.
    let ids = invocations(node, watched)?;
    let session = reconfigure_on_a_terminal(
        node,
        MASTER,
        &[
            (
                "Mesos masters \\(the ZooKeeper ensemble\\):",
                &format!("{NODE} 10.213.1.52 10.213.1.54"),
            ),
            ("This master, as written in the list of masters:", NODE),
            ("Mesos cluster name:", "lifecycle"),
            ("Host name advertised by Mesos and Marathon:", "host name"),
            (
                "Answer refused: mesos-master-role/hostname[\\s\\S]*not a valid host[\\s\\S]*Host name advertised by Mesos and Marathon:",
                "master-a.example.org",
            ),
            ("Quorum of the Mesos replicated log:", "auto"),
            ("Work directory of the Mesos master:", "/var/lib/mesos"),
            // The production settings (docs/debconf.md), kept as they are.
            (
                "Hours between ZooKeeper's purges of old snapshots and logs:",
                "24",
            ),
            ("Snapshots ZooKeeper keeps when it purges:", "3"),
            ("Maximum Java heap of ZooKeeper:", "auto"),
            ("Maximum Java heap of Marathon:", "auto"),
            ("Mesos role of Marathon:", "*"),
            ("Framework name of Marathon:", "marathon"),
            ("Milliseconds Marathon waits for a task to start:", "900000"),
            ("More Mesos master flags:", ""),
            // Enter keeps the secret debconf has (it is never shown).
            ("Cluster secret:", ""),
            ("Run without requiring authentication\\?", "no"),
        ],
    )?;
    assert_eq!(
        session.matches("Answer refused").count(),
        1,
        "one refusal:\n{session}"
    );
    assert_eq!(answer(node, MASTER, "cluster-name")?, "lifecycle");
    assert_eq!(answer(node, MASTER, "hostname")?, "master-a.example.org");
    assert_eq!(node.read("/etc/mesos-master/cluster")?, "lifecycle\n");
    assert_eq!(
        restarted(node, watched, &ids)?,
        ["mesos-master"],
        "interactive:\n{session}"
    );
    master_running(node)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Local edits and upgrades.

/// A ZooKeeper setting the role does not render: the admin's.
const MAX_CLIENTS: &str = "maxClientCnxns=100";

fn master_edits_survive_reconfigures_and_upgrades_of_the_role_mesos_and_zookeeper(
    suite: &str,
) -> Result<()> {
    const NODE: &str = "10.213.1.13";
    let cluster = boot(&format!("edm{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    let (mesos, marathon) = cluster_debs(&cluster);
    seed(node, MASTER, &master_answers(NODE))?;
    install(node, &[mesos, marathon, cluster.deb(MASTER)])?;
    assert_eq!(node.read("/etc/mesos-master/quorum")?, "2\n");

    // The admin edits two generated files. The edited quorum becomes the answer; the extra
    // ZooKeeper setting stays, and the server lines read back are the list as it was.
    node.sh(
        "edit generated files",
        &format!(
            "echo {MAX_CLIENTS} >> /etc/zookeeper/conf/zoo.cfg; echo 3 > /etc/mesos-master/quorum"
        ),
    )?;
    let out = reconfigure(node, MASTER)?;
    assert_eq!(answer(node, MASTER, "quorum")?, "3", "{out}");
    // The answer now agrees with the edit: nothing to merge, nothing to say.
    assert_eq!(said(&out, MASTER), Vec::<&str>::new(), "{out}");
    assert_eq!(
        answer(node, MASTER, "masters")?,
        format!("1={NODE} 2=10.213.1.52 3=10.213.1.53")
    );
    assert_eq!(node.read("/etc/mesos-master/quorum")?, "3\n");
    let zoo = node.read("/etc/zookeeper/conf/zoo.cfg")?;
    assert!(
        zoo.ends_with(&format!("autopurge.snapRetainCount=3\n{MAX_CLIENTS}\n")),
        "{zoo}"
    );

    // An edited server line becomes the master list, and every file naming the masters follows.
    node.sh(
        "edit a server line",
        "sed -i 's/^server\\.3=.*/server.3=10.213.1.55:2888:3888/' /etc/zookeeper/conf/zoo.cfg",
    )?;
    let out = reconfigure(node, MASTER)?;
    assert_eq!(
        answer(node, MASTER, "masters")?,
        format!("1={NODE} 2=10.213.1.52 3=10.213.1.55"),
        "{out}"
    );
    // The ZooKeeper URLs hold the digests: they are in files of root's.
    assert!(
        node.read("/etc/mesos-roles/secrets/mesos-zk")?
            .ends_with(&format!(
                "@{NODE}:2181,10.213.1.52:2181,10.213.1.55:2181/mesos"
            ))
    );
    assert!(
        node.read("/etc/mesos-roles/secrets/marathon.env")?
            .contains("10.213.1.55:2181/marathon\n")
    );
    let zoo = node.read("/etc/zookeeper/conf/zoo.cfg")?;
    assert!(zoo.ends_with(&format!("{MAX_CLIENTS}\n")), "{zoo}");
    assert_eq!(said(&out, MASTER), Vec::<&str>::new(), "{out}");

    // Upgrade of the role: answers, files (the edit too), services as they were; no restart.
    let (answers_v1, files_v1) = (answers(node, MASTER)?, master_files(node)?);
    let ids = invocations(node, &MASTER_UNITS[..3])?;
    let (_v2, v2) = role_v2(node)?;
    let v2_master = v2.iter().find(|d| d.contains(MASTER)).unwrap();
    let out = install(node, &[v2_master])?;
    assert!(out.contains("1.0.1-1"), "{out}");
    assert_eq!(
        answers(node, MASTER)?,
        answers_v1,
        "answers after the upgrade"
    );
    assert_eq!(master_files(node)?, files_v1, "files after the upgrade");
    assert_eq!(
        restarted(node, &MASTER_UNITS[..3], &ids)?,
        Vec::<String>::new()
    );
    master_running(node)?;

    // A new ensemble merges with the edit: new server lines, the admin's line kept, and said.
    seed(
        node,
        MASTER,
        &[("masters", format!("{NODE} 10.213.1.52 10.213.1.54"))],
    )?;
    let out = reconfigure(node, MASTER)?;
    let zoo = node.read("/etc/zookeeper/conf/zoo.cfg")?;
    assert!(zoo.contains("server.3=10.213.1.54:2888:3888\n"), "{zoo}");
    assert!(!zoo.contains("10.213.1.53"), "{zoo}");
    assert!(zoo.ends_with(&format!("{MAX_CLIENTS}\n")), "{zoo}");
    let lines = said(&out, MASTER);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("/etc/zookeeper/conf_mesos-roles/zoo.cfg") && lines[0].contains("merged"),
        "{}",
        lines[0]
    );

    // An edit on the very line the new answers change: the admin's file stays, the new version
    // waits under the role's state directory, and one line names both.
    node.sh(
        "edit marathon.env",
        "sed -i 's/^MARATHON_HOSTNAME=.*/MARATHON_HOSTNAME=admin.example.org/' /etc/mesos-roles/marathon.env",
    )?;
    seed(node, MASTER, &[("hostname", "master-b.example.org".into())])?;
    let out = reconfigure(node, MASTER)?;
    let proposed = "/var/lib/mesos-roles/mesos-master-role/proposed/etc/mesos-roles/marathon.env";
    let lines = said(&out, MASTER);
    assert_eq!(lines.len(), 1, "{out}");
    assert!(
        lines[0].contains("/etc/mesos-roles/marathon.env") && lines[0].contains(proposed),
        "{}",
        lines[0]
    );
    assert!(
        node.read("/etc/mesos-roles/marathon.env")?
            .contains("MARATHON_HOSTNAME=admin.example.org\n")
    );
    assert!(
        node.read(proposed)?
            .contains("MARATHON_HOSTNAME=master-b.example.org\n")
    );
    assert_eq!(
        node.read("/etc/mesos-master/hostname")?,
        "master-b.example.org\n"
    );

    // Upgrade of mesos: its new conffiles go to the diverted originals, /etc/mesos/zk stays as
    // rendered, nothing new appears in the flag directory, and mesos-slave stays disabled.
    let files = master_files(node)?;
    let (_m2, mesos_v2) = hostile_mesos_upgrade(node)?;
    install(node, &[&mesos_v2])?;
    assert_eq!(master_files(node)?, files, "files after the mesos upgrade");
    assert_eq!(
        node.read("/etc/mesos-roles/diverted/etc/mesos/zk")?,
        "zk://127.0.0.1:2181/mesos-v2\n"
    );
    master_running(node)?;

    // Upgrade of zookeeper: the ensemble configuration stays in force.
    upgrade_zookeeperd(node)?;
    assert_eq!(
        node.exec(
            "resolve the conf",
            &["readlink", "-f", "/etc/zookeeper/conf"]
        )?
        .trim(),
        "/etc/zookeeper/conf_mesos-roles"
    );
    assert_eq!(
        master_files(node)?,
        files,
        "files after the zookeeper upgrade"
    );
    master_running(node)?;
    Ok(())
}

fn agent_edits_become_defaults_and_mesos_and_zookeeper_upgrades_keep_the_agent(
    suite: &str,
) -> Result<()> {
    const NODE: &str = "10.213.1.14";
    let cluster = boot(&format!("eda{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    seed(node, AGENT, &agent_answers(NODE))?;
    install(node, &[cluster.deb("mesos"), cluster.deb(AGENT)])?;
    agent_running(node)?;
    let watched = &AGENT_UNITS[..2];

    // The admin's hostname becomes the answer; nothing restarts (the flag is what it was).
    node.sh(
        "edit the agent's hostname",
        "echo agent-x.example.org > /etc/mesos-slave/hostname",
    )?;
    let ids = invocations(node, watched)?;
    reconfigure(node, AGENT)?;
    assert_eq!(answer(node, AGENT, "hostname")?, "agent-x.example.org");
    assert_eq!(
        node.read("/etc/mesos-slave/hostname")?,
        "agent-x.example.org\n"
    );
    assert_eq!(restarted(node, watched, &ids)?, Vec::<String>::new());

    // A new containerizer list restarts the agent and not Docker.
    seed(node, AGENT, &[("containerizers", "mesos".into())])?;
    reconfigure(node, AGENT)?;
    assert_eq!(node.read("/etc/mesos-slave/containerizers")?, "mesos\n");
    assert_eq!(restarted(node, watched, &ids)?, ["mesos-slave"]);

    let zk = node.read("/etc/mesos/zk")?;
    let (_m2, mesos_v2) = hostile_mesos_upgrade(node)?;
    install(node, &[&mesos_v2])?;
    assert_eq!(node.read("/etc/mesos/zk")?, zk);
    agent_running(node)?;
    upgrade_zookeeperd(node)?;
    agent_running(node)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Hostile edits of generated files: read back only as answers the question accepts.

/// An admin's edit that `config` must not import: (what, file, shell that edits it, question
/// whose answer stays, a phrase of the one line that says why).
type Refused = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

const MASTER_REFUSED: &[Refused] = &[
    (
        "a fourth server line",
        "/etc/zookeeper/conf_mesos-roles/zoo.cfg",
        "echo server.4=10.213.1.54:2888:3888 >> /etc/zookeeper/conf/zoo.cfg",
        "masters",
        "4 masters given",
    ),
    (
        "a duplicate server id",
        "/etc/zookeeper/conf_mesos-roles/zoo.cfg",
        "echo server.1=10.213.1.59:2888:3888 >> /etc/zookeeper/conf/zoo.cfg",
        "masters",
        "duplicate id 1",
    ),
    (
        "a second line",
        "/etc/mesos-master/quorum",
        "printf '3\\n# changed\\n' > /etc/mesos-master/quorum",
        "quorum",
        "it has 2 lines",
    ),
    (
        "a debconf command on a second line",
        "/etc/mesos-master/work_dir",
        "printf '/var/lib/mesos\\nSET mesos-master-role/work-dir /etc\\n' > /etc/mesos-master/work_dir",
        "work-dir",
        "it has 2 lines",
    ),
    (
        "a name Mesos takes and the role does not",
        "/etc/mesos-master/hostname",
        "echo master_1.lab > /etc/mesos-master/hostname",
        "hostname",
        "\"master_1.lab\": not a valid host",
    ),
    (
        "an escape sequence",
        "/etc/mesos-master/cluster",
        "printf 'prod\\033[31m\\n' > /etc/mesos-master/cluster",
        "cluster-name",
        r#""prod\x1b[31m": not printable ASCII"#,
    ),
    (
        "a system directory",
        "/etc/mesos-master/work_dir",
        "echo /etc > /etc/mesos-master/work_dir",
        "work-dir",
        "a system directory",
    ),
    (
        "a NUL byte",
        "/etc/mesos-master/quorum",
        "printf '3\\000\\n' > /etc/mesos-master/quorum",
        "quorum",
        "it has a NUL byte",
    ),
];

const AGENT_REFUSED: &[Refused] = &[
    (
        "a second line",
        "/etc/mesos-slave/ip",
        "printf '10.213.1.22\\n# changed\\n' > /etc/mesos-slave/ip",
        "ip",
        "it has 2 lines",
    ),
    (
        "a debconf command on a second line",
        "/etc/mesos-slave/hostname",
        "printf 'agent-1\\nSET mesos-agent-role/work-dir /etc\\n' > /etc/mesos-slave/hostname",
        "hostname",
        "it has 2 lines",
    ),
    (
        "a name Mesos takes and the role does not",
        "/etc/mesos-slave/hostname",
        "echo agent_1.lab > /etc/mesos-slave/hostname",
        "hostname",
        "\"agent_1.lab\": not a valid host",
    ),
    (
        "four masters",
        "/etc/mesos/zk",
        "echo zk://10.213.1.51:2181,10.213.1.52:2181,10.213.1.53:2181,10.213.1.54:2181/mesos > /etc/mesos/zk",
        "masters",
        "4 masters given",
    ),
    (
        "a port the role does not use",
        "/etc/mesos/zk",
        "echo zk://10.213.1.51:2182,10.213.1.52:2181,10.213.1.53:2181/mesos > /etc/mesos/zk",
        "masters",
        "leave out the port",
    ),
    (
        "a carriage return",
        "/etc/mesos-slave/containerizers",
        "printf 'docker,mesos\\r\\n' > /etc/mesos-slave/containerizers",
        "containerizers",
        r#""docker,mesos\x0d": not printable ASCII"#,
    ),
    (
        "a no-break space",
        "/etc/mesos-slave/executor_registration_timeout",
        "printf '10\\302\\240mins\\n' > /etc/mesos-slave/executor_registration_timeout",
        "executor-registration-timeout",
        r#""10\xc2\xa0mins": not printable ASCII"#,
    ),
    (
        "dot components",
        "/etc/mesos-slave/work_dir",
        "echo /var/lib/../../etc > /etc/mesos-slave/work_dir",
        "work-dir",
        "not a normalised path",
    ),
];

/// Each edit in turn on a configured node: `dpkg-reconfigure` succeeds, says in one line which
/// answer it kept and why, keeps every answer and leaves /etc as the admin left it (the edited
/// file included); then the file is put back as the role wrote it.
fn refuse_edits(node: &Node, package: &str, cases: &[Refused]) -> Result<()> {
    for (what, file, edit, question, phrase) in cases {
        let case = format!("{package}: {what} in {file}");
        let answers_before = answers(node, package)?;
        node.sh(&format!("{case}: edit"), edit)?;
        let etc = etc_listing(node)?;
        let edited = node.read(file)?;
        let out = node.output(&["dpkg-reconfigure", "-fnoninteractive", package])?;
        let text = printed(&out);
        ensure!(out.status.success(), "{case}: reconfigure failed:\n{text}");
        let lines = said(&text, package);
        let kept = format!("{package}: kept {package}/{question} = ");
        ensure!(
            lines.len() == 1 && lines[0].starts_with(&kept),
            "{case}: want one line {kept:?}..., got {lines:?}"
        );
        for needed in [format!("your edit of {file}"), phrase.to_string()] {
            ensure!(
                lines[0].contains(&needed),
                "{case}: no {needed:?} in {}",
                lines[0]
            );
        }
        ensure!(
            lines[0].bytes().all(|b| (b' '..=b'~').contains(&b)),
            "{case}: not printable ASCII: {:?}",
            lines[0]
        );
        ensure!(
            answers(node, package)? == answers_before,
            "{case}: the answers changed"
        );
        ensure!(node.read(file)? == edited, "{case}: the edit was not kept");
        ensure!(etc_listing(node)? == etc, "{case}: /etc changed");
        node.sh(
            &format!("{case}: put the file back"),
            &format!("cp /var/lib/mesos-roles/{package}/written{file} {file}"),
        )?;
    }
    Ok(())
}

/// The server lines of a zoo.cfg, as `id host:ports` pairs, in order.
fn server_lines(zoo: &str) -> Vec<(String, String)> {
    zoo.lines()
        .filter_map(|l| l.strip_prefix("server."))
        .filter_map(|l| l.split_once('='))
        .map(|(id, rest)| (id.to_string(), rest.to_string()))
        .collect()
}

fn master_edits_that_are_no_answers_are_kept_and_never_imported(suite: &str) -> Result<()> {
    const NODE: &str = "10.213.1.15";
    let cluster = boot(&format!("hem{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    let (mesos, marathon) = cluster_debs(&cluster);
    seed(node, MASTER, &master_answers(NODE))?;
    install(node, &[mesos, marathon, cluster.deb(MASTER)])?;
    refuse_edits(node, MASTER, MASTER_REFUSED)?;

    // An observer is the admin's line: not a master (quorum, zk and Marathon as they were).
    let files = master_files(node)?;
    let observer = "server.4=10.213.1.60:2888:3888:observer";
    node.sh(
        "add an observer",
        &format!("echo {observer} >> /etc/zookeeper/conf/zoo.cfg"),
    )?;
    let out = reconfigure(node, MASTER)?;
    assert_eq!(said(&out, MASTER), Vec::<&str>::new(), "{out}");
    assert_eq!(
        answer(node, MASTER, "masters")?,
        format!("1={NODE} 2=10.213.1.52 3=10.213.1.53")
    );
    let mut with_observer = files.clone();
    with_observer.insert(
        "/etc/zookeeper/conf/zoo.cfg".into(),
        format!("{}{observer}\n", files["/etc/zookeeper/conf/zoo.cfg"]),
    );
    assert_eq!(
        master_files(node)?,
        with_observer,
        "an observer changed files"
    );

    // An edit Mesos takes and the role refuses no longer blocks an upgrade of the role.
    node.sh(
        "edit the hostname",
        "echo master_1.lab > /etc/mesos-master/hostname",
    )?;
    let (_v2, v2) = role_v2(node)?;
    let v2_master = v2.iter().find(|d| d.contains(MASTER)).unwrap();
    let out = install(node, &[v2_master])?;
    assert!(out.contains("kept mesos-master-role/hostname"), "{out}");
    assert_eq!(node.read("/etc/mesos-master/hostname")?, "master_1.lab\n");
    master_running(node)?;

    // Five masters: the fourth takes id 4, which the observer has. The merge would name
    // server.4 twice, so the admin's file stays and the new one waits beside it.
    seed(
        node,
        MASTER,
        &[(
            "masters",
            format!("{NODE} 10.213.1.52 10.213.1.53 10.213.1.54 10.213.1.55"),
        )],
    )?;
    let out = reconfigure(node, MASTER)?;
    let lines = said(&out, MASTER);
    assert!(
        lines.len() == 2
            && lines
                .iter()
                .any(|l| l.contains("kept mesos-master-role/hostname"))
            && lines
                .iter()
                .any(|l| l.contains("the merge would have two server.4 lines")),
        "{out}"
    );
    let zoo = node.read("/etc/zookeeper/conf/zoo.cfg")?;
    let servers = server_lines(&zoo);
    let mut ids: Vec<&String> = servers.iter().map(|(id, _)| id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), servers.len(), "duplicate server ids:\n{zoo}");
    assert!(zoo.ends_with(&format!("{observer}\n")), "{zoo}");
    let proposed = node.read(
        "/var/lib/mesos-roles/mesos-master-role/proposed/etc/zookeeper/conf_mesos-roles/zoo.cfg",
    )?;
    assert!(
        proposed.contains("server.4=10.213.1.54:2888:3888\n") && !proposed.contains(observer),
        "{proposed}"
    );
    Ok(())
}

fn agent_edits_that_are_no_answers_are_kept_and_never_imported(suite: &str) -> Result<()> {
    const NODE: &str = "10.213.1.16";
    let cluster = boot(&format!("hea{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    seed(node, AGENT, &agent_answers(NODE))?;
    install(node, &[cluster.deb("mesos"), cluster.deb(AGENT)])?;
    refuse_edits(node, AGENT, AGENT_REFUSED)?;
    agent_running(node)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Permissions: the role's own umask, its state root's alone, and deletions checked.

/// Files and directories of the role and its state that others could write, with their modes.
fn writable_by_others(node: &Node) -> Result<String> {
    node.sh(
        "find what others could write",
        "find /var/lib/mesos-roles /etc/mesos-roles /etc/mesos-slave /etc/mesos \\
            \\( -perm /022 -o ! -user root \\) ! -type l -printf '%p %m %u\\n'",
    )
}

fn agent_state_is_roots_alone_under_any_umask_and_lists_cannot_name_foreign_paths(
    suite: &str,
) -> Result<()> {
    const NODE: &str = "10.213.1.17";
    let cluster = boot(&format!("prm{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    install(node, &[cluster.deb("mesos")])?;
    // Files the role never wrote, in places its lists name: they must outlive every run.
    node.sh(
        "plant canaries",
        "umask 022; echo canary > /etc/canary; chmod 0664 /etc/canary; mkdir /etc/canary.d
        echo canary > /etc/mesos-slave/canary",
    )?;
    let before = root_listing(node)?;
    // Purge gives back enablement (it starts and stops nothing): compare that.
    let enablement = |node: &Node| -> Result<Vec<String>> {
        Ok(units(node, &["systemd-networkd", "mesos-slave", "docker"])?
            .into_values()
            .map(|(enabled, _)| enabled)
            .collect())
    };
    let services_before = enablement(node)?;

    // Under umask 000 and 077: the files as dpkg would have made them, the state root's alone.
    seed(node, AGENT, &agent_answers(NODE))?;
    install(node, &[cluster.deb(AGENT)])?;
    for (umask, attributes) in [("000", "rack:r1"), ("077", "rack:r2;zone:a")] {
        seed(node, AGENT, &[("attributes", attributes.into())])?;
        node.sh(
            "reconfigure under a umask",
            &format!("umask {umask}; dpkg-reconfigure -fnoninteractive {AGENT}"),
        )?;
        assert_eq!(writable_by_others(node)?, "", "umask {umask}");
        let modes = node.sh(
            "read modes",
            "stat -c '%a %n' /etc/mesos-slave/ip /etc/mesos-slave/attributes /etc/mesos-slave/attributes/rack \\
                /var/lib/mesos-roles/mesos-agent-role/files /var/lib/mesos-roles/mesos-agent-role/written",
        )?;
        assert_eq!(
            modes,
            "644 /etc/mesos-slave/ip\n755 /etc/mesos-slave/attributes\n644 /etc/mesos-slave/attributes/rack\n\
             644 /var/lib/mesos-roles/mesos-agent-role/files\n755 /var/lib/mesos-roles/mesos-agent-role/written\n",
            "umask {umask}"
        );
    }

    // A state an earlier version left open to everyone (a local user added a symbolic link, and
    // a hard link to a file whose mode a recursive chmod would change), and lists that name paths
    // the role never wrote: said, put right, left alone.
    node.sh(
        "open the state and add foreign entries",
        "cd /var/lib/mesos-roles
        chmod -R a+w .
        ln -s /etc mesos-agent-role/written/evil
        ln /etc/canary mesos-agent-role/written/hard
        echo 'mesos-slave /etc/canary' >> mesos-agent-role/files
        echo 'mesos-slave /etc/mesos-slave/canary' >> mesos-agent-role/files
        echo 'mesos-slave /etc/mesos-slave/attributes/../canary' >> mesos-agent-role/files
        echo /etc/canary.d >> mesos-agent-role/dirs
        echo 'unit:systemd-networkd.service enabled' >> services",
    )?;
    seed(node, AGENT, &[("attributes", "rack:r3".into())])?;
    let out = reconfigure(node, AGENT)?;
    let warnings = said(&out, AGENT);
    for needed in [
        "/var/lib/mesos-roles was open to others",
        "removed \"/var/lib/mesos-roles/mesos-agent-role/written/evil\" from the roles' state",
        "removed \"/var/lib/mesos-roles/mesos-agent-role/written/hard\" from the roles' state",
        "files lists \"/etc/canary\", which mesos-agent-role does not write: left it alone",
        "files lists \"/etc/mesos-slave/canary\"",
        "files lists \"/etc/mesos-slave/attributes/../canary\"",
        // The canary in the flag directory would be an unknown flag: no restart into it.
        "mesos-slave not (re)started, it keeps running on its old flags: \"/etc/mesos-slave/canary\" is not a flag",
    ] {
        ensure!(
            warnings.iter().filter(|l| l.contains(needed)).count() == 1,
            "no one line {needed:?} in {warnings:?}"
        );
    }
    ensure!(warnings.len() == 7, "{warnings:?}");
    assert_eq!(writable_by_others(node)?, "", "after the repair");
    assert_eq!(node.read("/etc/mesos-slave/attributes/rack")?, "r3\n");
    ensure!(
        !node.path("/etc/mesos-slave/attributes/zone").exists(),
        "a key no longer given stays"
    );

    // Purge: the foreign entries are said and left; the root is as it was, canaries included.
    node.sh(
        "add foreign entries again",
        "echo 'mesos-slave /etc/canary' >> /var/lib/mesos-roles/mesos-agent-role/files",
    )?;
    let out = node.output(&["apt-get", "purge", "-y", AGENT])?;
    ensure!(out.status.success(), "purge failed: {out:?}");
    let out = printed(&out);
    let warnings = said(&out, AGENT);
    for needed in [
        "files lists \"/etc/canary\"",
        "dirs lists \"/etc/canary.d\"",
        "services lists \"unit:systemd-networkd.service enabled\"",
    ] {
        ensure!(
            warnings.iter().any(|l| l.contains(needed)),
            "purge: no {needed:?} in {out}"
        );
    }
    same_root(&before, &root_listing(node)?).context("after the purge")?;
    assert_eq!(enablement(node)?, services_before);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Remove and purge.

/// Paths left out of the root listing, each with the reason.
const VOLATILE: &[(&str, &str)] = &[
    ("proc", "kernel file systems and tmpfs of the booted node"),
    ("sys", "kernel file systems and tmpfs of the booted node"),
    ("dev", "kernel file systems and tmpfs of the booted node"),
    ("run", "kernel file systems and tmpfs of the booted node"),
    ("tmp", "kernel file systems and tmpfs of the booted node"),
    ("var/tmp", "temporary files (systemd's PrivateTmp)"),
    ("var/log", "logs"),
    (
        "var/cache/apt",
        "apt's package cache, rebuilt on every apt run",
    ),
    (
        "var/lib/apt",
        "apt's state (lists, extended_states), rewritten on every apt run",
    ),
    (
        "var/cache/debconf",
        "debconf's database: the role's answers are checked with debconf-show",
    ),
    (
        "var/lib/dpkg/status",
        "dpkg's package states: the role's is checked with dpkg-query",
    ),
    ("var/lib/dpkg/status-old", "dpkg's backup of the above"),
    ("var/lib/dpkg/available", "dpkg's package states"),
    (
        "var/lib/dpkg/diversions-old",
        "dpkg-divert's backup; the diversions themselves are compared",
    ),
    ("var/lib/dpkg/triggers", "dpkg's pending triggers and lock"),
    ("var/lib/dpkg/lock", "dpkg's lock"),
    ("var/lib/dpkg/lock-frontend", "dpkg's lock"),
    ("var/lib/systemd/timers", "systemd's timer stamps"),
    ("var/lib/systemd/random-seed", "systemd's random seed"),
    (
        "var/lib/zookeeper/version-2",
        "ZooKeeper's data, written by the running daemon",
    ),
    (
        "var/lib/mesos",
        "the Mesos work dir, written by the running daemons",
    ),
    (
        "var/lib/docker",
        "Docker's data, written by the running daemon",
    ),
    (
        "var/lib/containerd",
        "containerd's data, written by the running daemon",
    ),
    ("root", "the test's own inputs (.debs, preseed files)"),
];

/// Every path of the node's root (read on the host: the node's mounts are not seen there) with
/// its type, mode, owner, link target and, for files, a SHA-256 of the content.
fn root_listing(node: &Node) -> Result<BTreeMap<String, String>> {
    let prune: Vec<String> = VOLATILE
        .iter()
        .map(|(p, _)| format!("-path ./{p}"))
        .collect();
    let script = format!(
        r#"cd "$1"
        find . \( {} \) -prune -o -printf '%p\t%y %m %U:%G %l\n' >"$2/list"
        find . \( {} \) -prune -o -type f -print0 | xargs -0 -r sha256sum >"$2/sums""#,
        prune.join(" -o "),
        prune.join(" -o ")
    );
    let dir = scratch("listing")?;
    run(
        "list the node's root",
        Command::new("sh")
            .args(["-ec", &script, "sh"])
            .arg(&node.root)
            .arg(dir.path()),
    )?;
    let mut listing: BTreeMap<String, String> = std::fs::read_to_string(dir.path().join("list"))?
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(p, rest)| (p.to_string(), merged_usr(rest)))
        .collect();
    for line in std::fs::read_to_string(dir.path().join("sums"))?.lines() {
        let (sum, path) = line.split_once("  ").context("sha256sum line")?;
        if let Some(entry) = listing.get_mut(path) {
            entry.push(' ');
            entry.push_str(sum);
        }
    }
    Ok(listing)
}

/// A link target with merged /usr's two spellings made one: deb-systemd-helper writes a unit link
/// as /usr/lib/... or /lib/... depending on the verb, and both name the same file.
fn merged_usr(entry: &str) -> String {
    match entry.strip_prefix("l ") {
        Some(_) => ["lib", "bin", "sbin"]
            .iter()
            .fold(entry.to_string(), |e, dir| {
                e.replace(&format!(" /{dir}/"), &format!(" /usr/{dir}/"))
            }),
        None => entry.to_string(),
    }
}

fn same_root(before: &BTreeMap<String, String>, after: &BTreeMap<String, String>) -> Result<()> {
    let mut diff = Vec::new();
    for (path, was) in before {
        match after.get(path) {
            None => diff.push(format!("gone: {path} {was}")),
            Some(now) if now != was => diff.push(format!("changed: {path} {was} -> {now}")),
            _ => {}
        }
    }
    for (path, now) in after {
        if !before.contains_key(path) {
            diff.push(format!("new: {path} {now}"));
        }
    }
    ensure!(diff.is_empty(), "the root differs:\n{}", diff.join("\n"));
    Ok(())
}

/// A role as the purge test drives it.
struct PurgeCase<'a> {
    package: &'a str,
    deb: &'a str,
    answers: Vec<(&'static str, String)>,
    /// An admin's edit of a generated file (shell), and an answer that changes the same line.
    edit: &'a str,
    change: (&'a str, &'a str),
    running: fn(&Node) -> Result<()>,
}

/// Installs the role, makes it write state of every kind (an edit kept with the proposal beside
/// it), removes it (the node keeps running as configured), purges it, and compares the whole root
/// with `before`.
fn remove_then_purge(
    node: &Node,
    case: PurgeCase,
    before: &BTreeMap<String, String>,
) -> Result<()> {
    let PurgeCase {
        package,
        deb,
        answers: answers_given,
        edit,
        change,
        running,
    } = case;
    seed(node, package, &answers_given)?;
    install(node, &[deb])?;
    node.sh("edit a generated file", edit)?;
    seed(node, package, &[(change.0, change.1.into())])?;
    let out = reconfigure(node, package)?;
    ensure!(
        said(&out, package).len() == 1,
        "{package}: the edit was not reported: {out}"
    );

    let etc = etc_listing(node)?;
    node.exec("remove", &["apt-get", "remove", "-y", package])?;
    assert_eq!(etc_listing(node)?, etc, "{package}: remove changed /etc");
    running(node)?;

    node.exec("purge", &["apt-get", "purge", "-y", package])?;
    same_root(before, &root_listing(node)?).with_context(|| format!("after purging {package}"))?;
    let left = node.exec("show the answers", &["debconf-show", package])?;
    ensure!(
        left.trim().is_empty(),
        "{package}: debconf answers left: {left}"
    );
    let status = node.output(&["dpkg-query", "-W", "-f=${Status}", package])?;
    let status = String::from_utf8_lossy(&status.stdout);
    ensure!(
        status.is_empty() || status.contains("not-installed"),
        "{package}: dpkg still knows it: {status}"
    );
    Ok(())
}

fn remove_keeps_the_node_running_and_purge_gives_the_whole_root_back(suite: &str) -> Result<()> {
    const NODE: &str = "10.213.1.11";
    let cluster = boot(&format!("prg{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    let (mesos, marathon) = cluster_debs(&cluster);
    install(node, &[mesos, marathon])?;
    let before = root_listing(node)?;

    remove_then_purge(
        node,
        PurgeCase {
            package: MASTER,
            deb: cluster.deb(MASTER),
            answers: master_answers(NODE),
            edit: "sed -i 's/^MARATHON_HOSTNAME=.*/MARATHON_HOSTNAME=admin.example.org/' /etc/mesos-roles/marathon.env",
            change: ("hostname", "master-c.example.org"),
            running: master_running,
        },
        &before,
    )?;
    remove_then_purge(
        node,
        PurgeCase {
            package: AGENT,
            deb: cluster.deb(AGENT),
            answers: agent_answers(NODE),
            edit: "echo 5mins > /etc/mesos-slave/executor_registration_timeout",
            change: ("executor-registration-timeout", "20mins"),
            running: agent_running,
        },
        &before,
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Authentication modes (docs/security.md).

/// The names of the files in /etc/mesos-roles/secrets, sorted; empty when there is none.
fn secret_names(node: &Node) -> Result<String> {
    node.sh(
        "list the secrets",
        "ls /etc/mesos-roles/secrets 2>/dev/null | tr '\\n' ' '; true",
    )
}

/// A master configured by a version before authentication (no secret answered, no mode in its
/// state) is upgraded: it keeps running open and says once how to switch. Insecure with a secret
/// offers credentials and requires none; then required; then a lab's open mode drops them all.
fn modes_of_authentication_and_a_node_configured_before_it(suite: &str) -> Result<()> {
    const NODE: &str = "10.213.1.62";
    let cluster = boot(&format!("aut{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    let (mesos, marathon) = cluster_debs(&cluster);
    install(node, &[mesos, marathon])?;
    let required = [
        "authenticate_agents",
        "authenticate_frameworks",
        "authenticate_http_readwrite",
    ];
    let flags = |node: &Node| -> Result<Vec<String>> {
        Ok(node.files_in("/etc/mesos-master")?.into_keys().collect())
    };

    // What an older version leaves: the node configured, no secret, no mode in the role's state.
    let mut answers = master_answers(NODE);
    answers.push(("insecure", "true".into()));
    seed(node, MASTER, &answers)?;
    install(node, &[cluster.deb(MASTER)])?;
    node.sh(
        "forget the mode, as a version before authentication never wrote it",
        "rm /var/lib/mesos-roles/mesos-master-role/auth; echo 'mesos-master-role mesos-master-role/insecure boolean false' | debconf-set-selections",
    )?;
    let (_v2, debs) = role_v2(node)?;
    let v2 = debs
        .iter()
        .find(|d| d.contains(MASTER))
        .context("v2 of the master role")?;
    let out = install(node, &[v2])?;
    let switch: Vec<&str> = said(&out, MASTER)
        .into_iter()
        .filter(|l| l.contains("configured before authentication"))
        .collect();
    ensure!(
        switch.len() == 1 && switch[0].contains("security.md"),
        "the upgrade must say once how to switch: {out}"
    );
    master_running(node)?;
    ensure!(
        secret_names(node)?.trim().is_empty(),
        "a legacy node holds no secret"
    );
    ensure!(
        !flags(node)?.iter().any(|f| required.contains(&f.as_str())),
        "a legacy node requires nothing: {:?}",
        flags(node)?
    );
    assert_eq!(
        node.read("/etc/mesos/zk")?,
        format!("zk://{NODE}:2181,10.213.1.52:2181,10.213.1.53:2181/mesos\n")
    );

    // Step 1 of a switch-over: the secret, insecure: credentials offered, none required.
    seed(
        node,
        MASTER,
        &[
            (
                "cluster-secret",
                mesos_roles_tests::cluster::CLUSTER_SECRET.into(),
            ),
            ("insecure", "true".into()),
        ],
    )?;
    reconfigure(node, MASTER)?;
    master_running(node)?;
    assert_eq!(
        secret_names(node)?,
        "agent-secret marathon-secret marathon.env mesos-credentials mesos-zk "
    );
    let have = flags(node)?;
    ensure!(
        have.contains(&"credentials".to_string())
            && !have.iter().any(|f| required.contains(&f.as_str())),
        "offered, not required: {have:?}"
    );
    ensure!(
        !node
            .read("/etc/mesos-roles/secrets/marathon.env")?
            .contains("MARATHON_HTTP_CREDENTIALS"),
        "Marathon's API stays open while nothing is required"
    );

    // Step 3: required.
    seed(node, MASTER, &[("insecure", "false".into())])?;
    reconfigure(node, MASTER)?;
    master_running(node)?;
    let have = flags(node)?;
    ensure!(
        required.iter().all(|f| have.contains(&f.to_string())),
        "required: {have:?}"
    );
    ensure!(
        node.read("/etc/mesos-roles/secrets/marathon.env")?
            .contains("MARATHON_HTTP_CREDENTIALS=operator:"),
        "Marathon's API requires the operator's credentials"
    );

    // Removing the secret now is a bad answer: the node has been authenticated.
    seed(node, MASTER, &[("cluster-secret", String::new())])?;
    let out = node.output(&["dpkg-reconfigure", "-fnoninteractive", MASTER])?;
    ensure!(!out.status.success(), "an emptied secret must be refused");
    ensure!(
        printed(&out).contains("refused mesos-master-role/cluster-secret"),
        "{}",
        printed(&out)
    );

    // A lab: insecure without a secret; every credential goes.
    seed(node, MASTER, &[("insecure", "true".into())])?;
    reconfigure(node, MASTER)?;
    master_running(node)?;
    ensure!(
        secret_names(node)?.trim().is_empty(),
        "an open node keeps no secret file"
    );
    let have = flags(node)?;
    ensure!(
        !have.contains(&"credentials".to_string())
            && !have.iter().any(|f| required.contains(&f.as_str())),
        "open: {have:?}"
    );
    Ok(())
}

on_suites!(
    reconfigure_restarts_exactly_the_services_whose_config_changed,
    master_edits_survive_reconfigures_and_upgrades_of_the_role_mesos_and_zookeeper,
    agent_edits_become_defaults_and_mesos_and_zookeeper_upgrades_keep_the_agent,
    remove_keeps_the_node_running_and_purge_gives_the_whole_root_back,
    master_edits_that_are_no_answers_are_kept_and_never_imported,
    agent_edits_that_are_no_answers_are_kept_and_never_imported,
    agent_state_is_roots_alone_under_any_umask_and_lists_cannot_name_foreign_paths,
    modes_of_authentication_and_a_node_configured_before_it,
);
