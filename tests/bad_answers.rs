//! Every bad answer, each in a real install on a booted node (the first by `apt-get install`, the
//! next by `dpkg --configure -a` of the package it left unconfigured): refused by the postinst with
//! one message that names the question and the fix (one line of printable ASCII, a control
//! character or non-ASCII byte of the answer shown as \xNN), exit status non-zero, nothing written
//! under /etc; after all of them, the answers fixed, `dpkg --configure -a` completes the install,
//! and purge gives /etc back as it was. On bookworm and trixie.

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
    ("zookeeper-purge-interval", "24"),
    ("zookeeper-snap-retain-count", "3"),
    ("zookeeper-heap", "auto"),
    ("marathon-heap", "auto"),
    ("marathon-mesos-role", "*"),
    ("marathon-framework-name", "marathon"),
    ("marathon-task-launch-timeout", "900000"),
    ("extra-flags", ""),
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
    ("isolation", "posix/cpu,posix/mem"),
    ("reconfiguration-policy", "additive"),
    ("docker-registries", ""),
    ("gc-delay", "2days"),
    ("docker-remove-delay", "1hrs"),
    ("extra-flags", ""),
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
    // Production settings (docs/debconf.md).
    ("zookeeper-purge-interval", "-1", "not a number"),
    ("zookeeper-snap-retain-count", "2", "out of range"),
    ("zookeeper-heap", "512", "not a heap size"),
    ("marathon-heap", "2t", "not a heap size"),
    ("marathon-mesos-role", "-apps", "not a valid Mesos role"),
    ("marathon-framework-name", "my marathon", "not a valid name"),
    ("marathon-task-launch-timeout", "5mins", "not a number"),
    ("extra-flags", "quorum=1", "set by the role"),
    (
        "extra-flags",
        "no_such_flag=1",
        "not a flag of the installed mesos-master",
    ),
    // Control characters, DEL and non-ASCII: refused in every answer, shown as \xNN. (Mid-value:
    // debconf-set-selections drops white space at the end of a line.)
    (
        "masters",
        "10.213.0.41\u{1b}[31m, 10.213.0.42, 10.213.0.43",
        r"10.213.0.41\x1b[31m",
    ),
    (
        "masters",
        "10.213.0.41\r 10.213.0.42 10.213.0.43",
        r"10.213.0.41\x0d 10.213.0.42",
    ),
    (
        "masters",
        "10.213.0.41\u{b}10.213.0.42\u{b}10.213.0.43",
        r"10.213.0.41\x0b10.213.0.42",
    ),
    (
        "masters",
        "10.213.0.41\u{c}10.213.0.42\u{c}10.213.0.43",
        r"\x0c",
    ),
    (
        "masters",
        "10.213.0.41\u{a0}10.213.0.42\u{a0}10.213.0.43",
        r"10.213.0.41\xc2\xa010.213.0.42",
    ),
    ("self", "10.213.0.41\u{7f}", r"10.213.0.41\x7f"),
    ("cluster-name", "prod\u{1}x", r"prod\x01x"),
    ("hostname", "master\rx", r"master\x0dx"),
    ("quorum", "2\u{1b}x", r"2\x1bx"),
    // Work dirs: absolute, normalised, not a system directory.
    ("work-dir", "/", "a system directory"),
    ("work-dir", "/etc", "a system directory"),
    ("work-dir", "/usr/lib/mesos", "a system directory"),
    ("work-dir", "/var/lib", "a system directory"),
    ("work-dir", "/var/lib/../../etc", "not a normalised path"),
    ("work-dir", "/var/lib/./mesos", "not a normalised path"),
    // Secrets: a configured node needs one; the message never repeats it.
    ("cluster-secret", "", "a configured node needs it"),
    ("cluster-secret", "hunter2-hunter2", "has 15 characters"),
    (
        "cluster-secret",
        "correct horse battery staple, long enough",
        "some of them others",
    ),
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
    // Production settings (docs/debconf.md).
    ("isolation", "posix/cpu,process", "deprecated"),
    ("isolation", "posix/gpu", "unknown isolator"),
    (
        "reconfiguration-policy",
        "additive-only",
        "not a reconfiguration policy",
    ),
    (
        "docker-registries",
        "registry.example.org=deploy",
        "not REGISTRY=USER:PASSWORD",
    ),
    ("gc-delay", "2 days", "not a valid duration"),
    ("docker-remove-delay", "1h", "not a valid duration"),
    ("extra-flags", "isolation=cgroups/cpu", "answer: isolation"),
    (
        "extra-flags",
        "not_a_slave_flag",
        "not a flag of the installed mesos-slave",
    ),
    // Control characters and non-ASCII would reach the flag files.
    ("attributes", "rack:r1\u{1b}[2J", r"rack:r1\x1b[2J"),
    ("attributes", "zone:a\u{a0}b", r"zone:a\xc2\xa0b"),
    ("resources", "cpus:4\u{1};mem:2048", r"cpus:4\x01"),
    ("ip", "10.213.\u{b}0.41", r"10.213.\x0b0.41"),
    (
        "hostname",
        "agent\u{1b}]0;title\u{7}x",
        r"agent\x1b]0;title\x07x",
    ),
    ("containerizers", "docker,\u{c}mesos", r"docker,\x0cmesos"),
    (
        "executor-registration-timeout",
        "10\u{a0}mins",
        r"10\xc2\xa0mins",
    ),
    ("masters", "10.213.0.41\r10.213.0.42 10.213.0.43", r"\x0d"),
    // Work dirs.
    (
        "work-dir",
        "/var/lib/mesos/../../../etc",
        "not a normalised path",
    ),
    ("work-dir", "/", "a system directory"),
    ("work-dir", "/etc", "a system directory"),
    ("work-dir", "/var/lib/dpkg/mesos", "a system directory"),
    (
        "work-dir",
        "/var/lib/mesos-roles/mesos-agent-role",
        "a system directory",
    ),
    ("agent-secret", "", "a configured node needs it"),
    (
        "agent-secret",
        "0123456789abcdef",
        "64 lower-case hex digits",
    ),
    (
        "agent-secret",
        "mesos-roles-tests-cluster-secret-0123456789",
        "cat /etc/mesos-roles/secrets/agent-secret",
    ),
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
    for (i, (question, bad, phrase)) in cases.iter().enumerate() {
        let case = format!("{package}/{question} = {bad:?}");
        let mut given: Vec<(&str, &str)> = answers.to_vec();
        given.retain(|(q, _)| q != question);
        given.push((question, bad));
        preseed(node, package, &given)?;

        // The first case installs; the package then stays unconfigured, and each next case is
        // refused by `dpkg --configure -a`, as an operator's next try would be.
        let (ok, out) = if i == 0 {
            try_install(node, &[deb])?
        } else {
            let out = node.output(&["dpkg", "--configure", "-a"])?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        };
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
        ensure!(
            message.bytes().all(|b| (b' '..=b'~').contains(&b)),
            "{case}: the message is not printable ASCII: {message:?}"
        );
        ensure!(
            !question.ends_with("-secret") || bad.len() < 4 || !message.contains(bad),
            "{case}: the message repeats the secret: {message}"
        );
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
    }
    // After every refusal, the answers fixed: `dpkg --configure -a` completes the install, and
    // purge gives /etc back as it was.
    preseed(node, package, answers)?;
    node.exec(
        &format!("{package}: complete the install"),
        &["dpkg", "--configure", "-a"],
    )?;
    // A master's ZooKeeper URL holds its digest, in a file of root's.
    let zk = match package {
        "mesos-master-role" => node.read("/etc/mesos-roles/secrets/mesos-zk")?,
        _ => node.read("/etc/mesos/zk")?,
    };
    ensure!(
        zk.contains("10.213.0.41:2181,"),
        "{package}: not configured after the fix: {zk}"
    );
    node.exec(
        &format!("{package}: purge"),
        &["apt-get", "purge", "-y", package],
    )?;
    same_etc(
        node,
        &etc_before,
        &format!("{package}: purge did not give /etc back as it was"),
    )?;
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
