//! Every bad answer, each in a real install on a booted node: refused by the postinst with one
//! message that names the question and the fix, exit status non-zero, nothing written under /etc;
//! then the answer fixed and `dpkg --configure -a` completes the install, and purge gives /etc back
//! as it was. On bookworm and trixie.

use anyhow::{Result, ensure};
use mesos_roles_tests::cluster::{boot, etc_listing, preseed, try_install};
use mesos_roles_tests::node::Node;
use mesos_roles_tests::on_suites;

const NODE: &str = "10.213.0.41";
const MASTERS: &str = "10.213.0.41, 10.213.0.42, 10.213.0.43";

/// Valid answers for every question of a role; each case replaces one of them.
const MASTER_ANSWERS: &[(&str, &str)] = &[
    ("masters", MASTERS),
    ("self", NODE),
    ("cluster-name", "mesos"),
    ("hostname", ""),
    ("quorum", "auto"),
    ("work-dir", "/var/lib/mesos"),
];
const AGENT_ANSWERS: &[(&str, &str)] = &[
    ("masters", MASTERS),
    ("ip", NODE),
    ("hostname", ""),
    ("containerizers", "docker,mesos"),
    ("executor-registration-timeout", "10mins"),
    ("attributes", ""),
    ("resources", ""),
    ("work-dir", "/var/lib/mesos"),
];

/// (question, bad answer, a phrase the message must contain).
const MASTER_CASES: &[(&str, &str, &str)] = &[
    ("masters", "999.1.1.1", "not a valid IPv4 address"),
    (
        "masters",
        "10.213.0.41, -x, 10.213.0.43",
        "not a valid host",
    ),
    (
        "masters",
        "10.213.0.41 10.213.0.41 10.213.0.43",
        "duplicate host",
    ),
    (
        "masters",
        "1=10.213.0.41 1=10.213.0.42 10.213.0.43",
        "duplicate id",
    ),
    ("masters", "0=10.213.0.41", "id out of range"),
    ("masters", "256=10.213.0.41", "id out of range"),
    ("masters", "x=10.213.0.41", "not a number"),
    (
        "masters",
        "10.213.0.41, 10.213.0.42",
        "odd number of masters",
    ),
    ("masters", "fe80::1", "IPv6 addresses are not supported"),
    ("self", "10.213.0.99", "not in the master list"),
    ("quorum", "1", "quorum must be"),
    ("quorum", "4", "quorum must be"),
    ("work-dir", "var/lib/mesos", "not an absolute path"),
    ("hostname", "host name", "not a valid host"),
    ("cluster-name", "my cluster", "not a valid name"),
];
const AGENT_CASES: &[(&str, &str, &str)] = &[
    (
        "masters",
        "10.213.0.41 10.213.0.42 10.213.0.43 10.213.0.44",
        "odd number of masters",
    ),
    ("ip", "999.1.1.1", "not a valid IPv4 address"),
    ("hostname", "-x", "not a valid host"),
    ("attributes", "rack=r1", "not of the form k:v"),
    ("resources", "cpus:2;cpus:3", "duplicate key"),
    ("containerizers", "docker,lxc", "unknown containerizer"),
    (
        "executor-registration-timeout",
        "10 minutes",
        "not a valid duration",
    ),
    ("work-dir", "relative", "not an absolute path"),
];

/// Fails with `what` and the lines that differ when /etc is not as listed in `before`.
fn same_etc(node: &Node, before: &str, what: &str) -> Result<()> {
    let after = etc_listing(node)?;
    let gone: Vec<&str> = before
        .lines()
        .filter(|l| !after.lines().any(|a| a == *l))
        .collect();
    let new: Vec<&str> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .collect();
    ensure!(
        gone.is_empty() && new.is_empty(),
        "{what}:\n  gone: {gone:?}\n  new: {new:?}"
    );
    Ok(())
}

/// Runs every case of `package` on `node`, which has the doubles installed and not the role.
fn refuse_each(
    node: &Node,
    package: &str,
    deb: &str,
    answers: &[(&str, &str)],
    cases: &[(&str, &str, &str)],
) -> Result<()> {
    let etc_before = etc_listing(node)?;
    for (question, bad, phrase) in cases {
        let case = format!("{package}/{question} = {bad:?}");
        let mut given: Vec<(&str, &str)> = answers.to_vec();
        given.retain(|(q, _)| q != question);
        given.push((question, bad));
        preseed(node, package, &given)?;

        let (ok, out) = try_install(node, &[deb])?;
        ensure!(!ok, "{case}: the install succeeded:\n{out}");
        let said: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with(&format!("{package}: ")))
            .collect();
        ensure!(
            said.len() == 1,
            "{case}: want one message, got {said:?} in:\n{out}"
        );
        let message = said[0];
        for needed in [
            format!("{package}/{question}"),
            phrase.to_string(),
            "debconf-set-selections".into(),
            "dpkg --configure -a".into(),
        ] {
            ensure!(
                message.contains(&needed),
                "{case}: the message lacks {needed:?}: {message}"
            );
        }
        same_etc(
            node,
            &etc_before,
            &format!("{case}: a refused answer changed /etc"),
        )?;

        preseed(node, package, answers)?;
        node.exec(
            &format!("{case}: complete the install"),
            &["dpkg", "--configure", "-a"],
        )?;
        let zk = node.read("/etc/mesos/zk")?;
        ensure!(
            zk.starts_with("zk://10.213.0.41:2181,"),
            "{case}: not configured after the fix: {zk}"
        );
        node.exec(
            &format!("{case}: purge"),
            &["apt-get", "purge", "-y", package],
        )?;
        same_etc(
            node,
            &etc_before,
            &format!("{case}: purge did not give /etc back as it was"),
        )?;
    }
    eprintln!("{package}: {} bad answers refused", cases.len());
    Ok(())
}

fn every_bad_answer_is_refused_with_one_message_and_nothing_written(suite: &str) -> Result<()> {
    let cluster = boot(&format!("bad{}", &suite[..1]), suite, &[NODE])?;
    let node = &cluster.nodes[0];
    let (mesos, marathon) = (cluster.deb("mesos"), cluster.deb("marathon"));
    mesos_roles_tests::cluster::install(node, &[mesos, marathon])?;
    refuse_each(
        node,
        "mesos-master-role",
        cluster.deb("mesos-master-role"),
        MASTER_ANSWERS,
        MASTER_CASES,
    )?;
    refuse_each(
        node,
        "mesos-agent-role",
        cluster.deb("mesos-agent-role"),
        AGENT_ANSWERS,
        AGENT_CASES,
    )?;
    Ok(())
}

on_suites!(every_bad_answer_is_refused_with_one_message_and_nothing_written);
