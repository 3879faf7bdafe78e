//! The package tier: the role packages installed for real in booted Debian nodes (systemd-nspawn
//! --boot, each in a network namespace holding its address), next to Debian's real zookeeperd and
//! docker.io and the test doubles of mesos and marathon. Asserts the rendered files, the service
//! states, ZooKeeper's ensemble and the flags and environment the doubles actually received.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Result, ensure};
use mesos_roles_tests::{
    build_role_debs, doubles, net::Net, node::Node, require_root_and_tools, roots, scratch,
};
use serde_json::Value;

const SUITE: &str = "bookworm";
const MASTERS: [&str; 3] = ["10.213.0.11", "10.213.0.12", "10.213.0.13"];
const AGENT: &str = "10.213.0.21";
/// The master list as an operator may type it: mixed separators, extra spaces.
const MASTER_ANSWER: &str = "10.213.0.11, 10.213.0.12   10.213.0.13,";
const ZK: &str = "zk://10.213.0.11:2181,10.213.0.12:2181,10.213.0.13:2181";

/// Booted nodes on one private network. Field order is drop order: nodes power off before their
/// network and their roots go.
struct Cluster {
    nodes: Vec<Node>,
    _net: Net,
    debs: Vec<String>,
    _dir: tempfile::TempDir,
}

fn boot(tag: &str, addresses: &[&str]) -> Result<Cluster> {
    require_root_and_tools(&["mmdebstrap", "systemd-nspawn", "nsenter", "ip", "dpkg-deb"])?;
    let dir = scratch(tag)?;
    let debs_dir = dir.path().join("debs");
    let mut debs: Vec<PathBuf> = build_role_debs(&debs_dir, "1.0.0-1")?;
    debs.extend(doubles::build_all(&debs_dir)?);
    let mut net = Net::new()?;
    let mut nodes = Vec::new();
    for (i, address) in addresses.iter().enumerate() {
        let root = dir.path().join(format!("{tag}{i}"));
        roots::unpack(SUITE, &root)?;
        let netns = net.add_node(address)?;
        let node = Node::boot(&format!("{tag}{i}"), &root, &netns)?;
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
        _dir: dir,
    })
}

impl Cluster {
    /// The path inside the nodes of the .deb whose file name starts with `package_`.
    fn deb(&self, package: &str) -> &str {
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

/// Preseeds `answers` (question suffix, value) for `package` on `node`.
fn preseed(node: &Node, package: &str, answers: &[(&str, &str)]) -> Result<()> {
    let text: String = answers
        .iter()
        .map(|(q, v)| format!("{package} {package}/{q} string {v}\n"))
        .collect();
    std::fs::write(node.path("/root/preseed"), text)?;
    node.exec("preseed", &["debconf-set-selections", "/root/preseed"])?;
    Ok(())
}

/// apt-get install of local .debs; returns everything apt and the scripts printed.
fn install(node: &Node, debs: &[&str]) -> Result<String> {
    let mut args = vec!["apt-get", "install", "-y", "--no-install-recommends"];
    args.extend(debs);
    let out = node.output(&args)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.status.success(),
        "{}: apt-get install failed:\n{text}",
        node.name
    );
    Ok(text)
}

fn expected(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), format!("{v}\n")))
        .collect()
}

/// The JSON record a double writes when it has accepted its flags and started serving.
fn record(node: &Node, path: &str) -> Result<Value> {
    node.wait_for(
        &format!("{path} to be written"),
        &["test", "-s", path],
        Duration::from_secs(60),
    )?;
    Ok(serde_json::from_str(&node.read(path)?)?)
}

fn flag<'a>(record: &'a Value, name: &str) -> &'a str {
    record["flags"][name]
        .as_str()
        .unwrap_or_else(|| panic!("flag {name} missing in {record}"))
}

/// A listing of /etc (paths, types, sizes, link targets): what an inert install must not change.
fn etc_listing(node: &Node) -> Result<String> {
    node.exec("list /etc", &["find", "/etc", "-printf", "%p %y %s %l\n"])
}

fn units(node: &Node, units: &[&str]) -> Result<BTreeMap<String, (String, String)>> {
    units
        .iter()
        .map(|u| Ok((u.to_string(), node.unit_state(u)?)))
        .collect()
}

fn state(enabled: &str, active: &str) -> (String, String) {
    (enabled.to_string(), active.to_string())
}

/// `srvr`'s `Mode:` line, once ZooKeeper serves.
fn zookeeper_mode(node: &Node) -> Result<String> {
    let out = node.wait_for(
        "ZooKeeper to serve",
        &[
            "sh",
            "-c",
            "echo srvr | nc -q1 -w2 127.0.0.1 2181 | grep '^Mode: '",
        ],
        Duration::from_secs(120),
    )?;
    Ok(out.trim().trim_start_matches("Mode: ").to_string())
}

#[test]
fn three_masters_render_their_config_form_an_ensemble_and_run_mesos_and_marathon() -> Result<()> {
    let cluster = boot("mst", &MASTERS)?;
    let (mesos, marathon, role) = (
        cluster.deb("mesos"),
        cluster.deb("marathon"),
        cluster.deb("mesos-master-role"),
    );

    // Master 3 first installs with no answers (the golden-image case): inert.
    let third = &cluster.nodes[2];
    install(third, &[mesos, marathon])?;
    let (etc_before, units_before) = (
        etc_listing(third)?,
        units(
            third,
            &["zookeeper", "mesos-master", "mesos-slave", "marathon"],
        )?,
    );
    let out = install(third, &[role])?;
    let inert: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("mesos-master-role: "))
        .collect();
    assert_eq!(
        inert.len(),
        1,
        "one line about the inert install, got {inert:?} in:\n{out}"
    );
    assert!(
        inert[0].contains("dpkg-reconfigure -fnoninteractive mesos-master-role"),
        "{}",
        inert[0]
    );
    assert_eq!(
        etc_listing(third)?,
        etc_before,
        "an inert install changed /etc"
    );
    assert_eq!(
        units(
            third,
            &["zookeeper", "mesos-master", "mesos-slave", "marathon"]
        )?,
        units_before
    );

    // Masters 1 and 2 install preseeded; master 1 names itself, master 2 relies on the default
    // (its local address in the list). Master 3 is then configured by dpkg-reconfigure.
    let common = [("masters", MASTER_ANSWER), ("cluster-name", "pkgtier")];
    preseed(
        &cluster.nodes[0],
        "mesos-master-role",
        &[
            common[0],
            common[1],
            ("self", MASTERS[0]),
            ("hostname", "master-1.example.org"),
        ],
    )?;
    preseed(&cluster.nodes[1], "mesos-master-role", &common)?;
    std::thread::scope(|s| {
        let jobs: Vec<_> = cluster.nodes[..2]
            .iter()
            .map(|n| s.spawn(|| install(n, &[mesos, marathon, role])))
            .collect();
        jobs.into_iter()
            .try_for_each(|j| j.join().expect("install thread").map(drop))
    })?;
    preseed(third, "mesos-master-role", &common)?;
    third.exec(
        "reconfigure the inert master",
        &["dpkg-reconfigure", "-fnoninteractive", "mesos-master-role"],
    )?;

    let mut leaders = 0;
    for (i, node) in cluster.nodes.iter().enumerate() {
        let (id, address) = (i + 1, MASTERS[i]);
        let hostname = if i == 0 {
            "master-1.example.org"
        } else {
            address
        };

        // Mesos: the zk URL in list order and exactly the flags the role owns, nothing else.
        assert_eq!(
            node.read("/etc/mesos/zk")?,
            format!("{ZK}/mesos\n"),
            "{}",
            node.name
        );
        assert_eq!(
            node.files_in("/etc/mesos-master")?,
            expected(&[
                ("quorum", "2"),
                ("ip", address),
                ("hostname", hostname),
                ("cluster", "pkgtier"),
                ("work_dir", "/var/lib/mesos")
            ]),
            "{}: /etc/mesos-master",
            node.name
        );
        // ZooKeeper: the effective config (through the zookeeper-conf alternative) and myid.
        let zoo = node.read("/etc/zookeeper/conf/zoo.cfg")?;
        for line in [
            "dataDir=/var/lib/zookeeper".to_string(),
            "server.1=10.213.0.11:2888:3888".into(),
            "server.2=10.213.0.12:2888:3888".into(),
            "server.3=10.213.0.13:2888:3888".into(),
            "4lw.commands.whitelist=srvr,ruok,mntr".into(),
            "admin.enableServer=false".into(),
        ] {
            assert!(
                zoo.lines().any(|l| l == line),
                "{}: zoo.cfg lacks {line}:\n{zoo}",
                node.name
            );
        }
        assert_eq!(zoo.lines().filter(|l| l.starts_with("server.")).count(), 3);
        assert_eq!(
            node.read("/var/lib/zookeeper/myid")?.trim(),
            id.to_string(),
            "{} myid",
            node.name
        );
        // Older Marathon reads /etc/marathon/conf.
        assert_eq!(
            node.read("/etc/marathon/conf/hostname")?,
            format!("{hostname}\n")
        );

        // Services.
        assert_eq!(
            units(
                node,
                &["zookeeper", "mesos-master", "marathon", "mesos-slave"]
            )?,
            BTreeMap::from([
                ("zookeeper".into(), state("enabled", "active")),
                ("mesos-master".into(), state("enabled", "active")),
                ("marathon".into(), state("enabled", "active")),
                ("mesos-slave".into(), state("disabled", "inactive")),
            ]),
            "{} unit states",
            node.name
        );

        // What the doubles received: flags through the wrapper, Marathon's environment.
        let master = record(node, "/run/mesos-double/mesos-master.json")?;
        for (name, want) in [
            ("zk", format!("{ZK}/mesos")),
            ("quorum", "2".into()),
            ("ip", address.into()),
            ("hostname", hostname.into()),
            ("cluster", "pkgtier".into()),
            ("work_dir", "/var/lib/mesos".into()),
            ("port", "5050".into()),
        ] {
            assert_eq!(
                flag(&master, name),
                want,
                "{}: mesos-master --{name}",
                node.name
            );
        }
        let marathon = record(node, "/run/marathon/marathon-double.json")?;
        let env = &marathon["environment"];
        assert_eq!(
            env["MARATHON_MASTER"],
            format!("{ZK}/mesos").as_str(),
            "{}: {marathon}",
            node.name
        );
        assert_eq!(
            env["MARATHON_ZK"],
            format!("{ZK}/marathon").as_str(),
            "{}",
            node.name
        );
        assert_eq!(env["MARATHON_HOSTNAME"], hostname, "{}", node.name);

        let mode = zookeeper_mode(node)?;
        assert!(
            mode == "leader" || mode == "follower",
            "{}: ZooKeeper mode {mode}",
            node.name
        );
        leaders += usize::from(mode == "leader");
    }
    assert_eq!(leaders, 1, "the ensemble has one leader");
    Ok(())
}

#[test]
fn an_agent_installs_inert_then_reconfigures_into_a_running_agent() -> Result<()> {
    let cluster = boot("agt", &[AGENT])?;
    let node = &cluster.nodes[0];
    let watched = ["mesos-slave", "docker", "zookeeper", "mesos-master"];
    install(node, &[cluster.deb("mesos")])?;
    let (etc_before, units_before) = (etc_listing(node)?, units(node, &watched)?);
    let out = install(node, &[cluster.deb("mesos-agent-role")])?;
    let inert: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("mesos-agent-role: "))
        .collect();
    assert_eq!(
        inert.len(),
        1,
        "one line about the inert install, got {inert:?} in:\n{out}"
    );
    assert!(
        inert[0].contains("dpkg-reconfigure -fnoninteractive mesos-agent-role"),
        "{}",
        inert[0]
    );
    assert_eq!(
        etc_listing(node)?,
        etc_before,
        "an inert install changed /etc"
    );
    assert_eq!(units(node, &watched)?, units_before);

    // ip is left to its default: the source address of the route to the first master.
    preseed(
        node,
        "mesos-agent-role",
        &[
            ("masters", MASTER_ANSWER),
            ("attributes", "rack:r1; zone:a;"),
            ("resources", "cpus:2"),
        ],
    )?;
    node.exec(
        "reconfigure the agent",
        &["dpkg-reconfigure", "-fnoninteractive", "mesos-agent-role"],
    )?;

    assert_eq!(node.read("/etc/mesos/zk")?, format!("{ZK}/mesos\n"));
    assert_eq!(
        node.files_in("/etc/mesos-slave")?,
        expected(&[
            ("ip", AGENT),
            ("hostname", AGENT),
            ("containerizers", "docker,mesos"),
            ("executor_registration_timeout", "10mins"),
            ("work_dir", "/var/lib/mesos"),
        ])
    );
    assert_eq!(
        node.files_in("/etc/mesos-slave/attributes")?,
        expected(&[("rack", "r1"), ("zone", "a")])
    );
    assert_eq!(
        node.files_in("/etc/mesos-slave/resources")?,
        expected(&[("cpus", "2")])
    );
    assert_eq!(
        units(node, &watched)?,
        BTreeMap::from([
            ("mesos-slave".into(), state("enabled", "active")),
            ("docker".into(), state("enabled", "active")),
            ("zookeeper".into(), state("disabled", "inactive")),
            ("mesos-master".into(), state("disabled", "inactive")),
        ])
    );
    let agent = record(node, "/run/mesos-double/mesos-slave.json")?;
    for (name, want) in [
        ("master", format!("{ZK}/mesos")),
        ("ip", AGENT.into()),
        ("hostname", AGENT.into()),
        ("containerizers", "docker,mesos".into()),
        ("executor_registration_timeout", "10mins".into()),
        ("work_dir", "/var/lib/mesos".into()),
        ("attributes", "rack:r1;zone:a".into()),
        ("resources", "cpus:2".into()),
        ("port", "5051".into()),
    ] {
        assert_eq!(flag(&agent, name), want, "mesos-slave --{name}");
    }
    node.exec(
        "ask the Docker daemon",
        &["docker", "info", "--format", "{{.ServerVersion}}"],
    )?;
    Ok(())
}
