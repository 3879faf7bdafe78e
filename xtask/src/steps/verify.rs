//! `cargo xtask verify --inventory cluster.toml`: boots the built artifacts as the inventory's
//! cluster and checks that it works. One systemd-nspawn container per node (`--boot`, real systemd)
//! in network namespaces joined by a bridge (`netns`), each unpacked from the cached base root,
//! with the signed repository bound read-only at /srv/mesos-roles (the repository's example source
//! and keyring, never `trusted=yes`) and its role installed with the node's inventory answers
//! preseeded. Then the checks, each timed, and a summary table. Everything is torn down in order
//! (nodes, then namespaces, then roots) also when a check fails or on SIGINT/SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::cluster::netns::Net;
use crate::cluster::nspawn::{INTERRUPTED, Node, interrupted};
use crate::inputs::inventory::{Inventory, Node as Entry, Role};
use crate::progress::Step;

/// Where nodes see the repository (the example source's URI).
const REPO_INSIDE: &str = "/srv/mesos-roles";
/// How long a cluster may take to settle after a change before a check fails.
const SETTLE: Duration = Duration::from_secs(120);
/// The app the reference tutorial deploys.
const APP: &str = include_str!("../../data/verify-app.json");

pub struct Options {
    pub inventory: PathBuf,
    /// The signed repository (with the dependency closure for nodes that have no route out).
    pub repo: PathBuf,
    /// Test only: `(node, path, text)` written on a node after its install, and its Mesos
    /// restarted, to prove a broken build is caught.
    pub tamper: Vec<(String, String, String)>,
}

/// The repository the manifest of `dist` lists (its keyring lies in the repository's directory).
pub fn repo_from_manifest(dist: &Path) -> Result<PathBuf> {
    let missing = || {
        anyhow!(
            "no repository in {}: run `cargo xtask dist --closure` first (or give --repo DIR)",
            dist.display()
        )
    };
    let manifest = crate::formats::manifest::Manifest::read(dist).map_err(|_| missing())?;
    let keyring = manifest
        .artifacts
        .iter()
        .find(|a| a.kind == "keyring")
        .ok_or_else(missing)?;
    let repo = dist.join(&keyring.path);
    let repo = repo.parent().ok_or_else(missing)?;
    if !repo.join("dists").is_dir() {
        return Err(missing());
    }
    Ok(repo.to_path_buf())
}

pub fn parse_tamper(text: &str) -> Result<(String, String, String)> {
    let (node, rest) = text.split_once(':').context("--tamper NODE:PATH=TEXT")?;
    let (path, value) = rest.split_once('=').context("--tamper NODE:PATH=TEXT")?;
    Ok((node.into(), path.into(), value.into()))
}

/// One line of the summary.
struct Check {
    name: String,
    outcome: Result<String>,
    took: Duration,
}

pub fn run(options: &Options) -> Result<()> {
    let inventory = Inventory::load(&options.inventory)?;
    for file in [crate::steps::repo::KEYRING, crate::steps::repo::SOURCES] {
        if !options.repo.join(file).is_file() {
            bail!(
                "{} is not a repository built by `cargo xtask repo` (no {file}): run `cargo xtask dist --closure`, or give --repo DIR",
                options.repo.display()
            );
        }
    }
    // Ctrl-C or SIGTERM: every wait below stops, and the cluster is torn down on the way out.
    ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst))
        .context("cannot handle SIGINT/SIGTERM")?;
    let step = Step::start(format!(
        "verify {} ({} nodes)",
        options.inventory.display(),
        inventory.nodes().len()
    ));
    let mut checks = Vec::new();
    let result = Cluster::up(&inventory, options, &step, &mut checks).and_then(|mut cluster| {
        let result = cluster.check(&mut checks);
        let teardown = step.child("teardown: power off, delete namespaces and roots");
        drop(cluster);
        teardown.done();
        result
    });
    // The cluster is gone here: only the table is left.
    print_table(&checks);
    step.done();
    result?;
    let failed: Vec<&str> = checks
        .iter()
        .filter(|c| c.outcome.is_err())
        .map(|c| c.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("verify failed: {}", failed.join("; "));
    }
    Ok(())
}

fn print_table(checks: &[Check]) {
    let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
    println!("\n{:<width$}  {:>7}  result", "check", "time");
    for check in checks {
        let (word, detail) = match &check.outcome {
            Ok(detail) => ("ok", detail.clone()),
            Err(error) => ("FAILED", format!("{error:#}").replace('\n', " ")),
        };
        println!(
            "{:<width$}  {:>6.1}s  {word}: {detail}",
            check.name,
            check.took.as_secs_f64()
        );
    }
}

/// Times `f` and records it as a line of the table; returns whether it passed.
fn timed(checks: &mut Vec<Check>, name: &str, f: impl FnOnce() -> Result<String>) -> bool {
    let start = Instant::now();
    let outcome = f();
    let ok = outcome.is_ok();
    eprintln!(
        "    {name}: {}",
        match &outcome {
            Ok(d) => format!("ok ({d})"),
            Err(e) => format!("FAILED: {e:#}"),
        }
    );
    checks.push(Check {
        name: name.into(),
        outcome,
        took: start.elapsed(),
    });
    ok
}

/// Polls `probe` until it gives a value or `timeout` passes; the error is its last one.
fn until<T>(timeout: Duration, mut probe: impl FnMut() -> Result<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        interrupted()?;
        match probe() {
            Ok(value) => return Ok(value),
            Err(error) if Instant::now() > deadline => {
                return Err(error.context(format!("still so after {timeout:?}")));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

/// The booted cluster. Field order is drop order: nodes power off before their namespaces go,
/// and those before the roots are deleted.
struct Cluster {
    nodes: Vec<Option<Node>>,
    _net: Net,
    entries: Vec<Entry>,
    netns: Vec<PathBuf>,
    inventory: Inventory,
    repo: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Cluster {
    /// Nodes power off side by side, then their roots are deleted side by side (a root is
    /// half a gigabyte of small files); the namespaces and the scratch directory follow as fields.
    fn drop(&mut self) {
        for node in self.nodes.iter().flatten() {
            node.power_off_soon();
        }
        let nodes: Vec<Node> = self.nodes.drain(..).flatten().collect();
        std::thread::scope(|s| {
            for node in nodes {
                s.spawn(move || drop(node));
            }
        });
        std::thread::scope(|s| {
            for i in 0..self.entries.len() {
                let root = self.root(i);
                s.spawn(move || {
                    let _ = std::fs::remove_dir_all(&root);
                });
            }
        });
    }
}

impl Cluster {
    fn up(
        inventory: &Inventory,
        options: &Options,
        step: &Step,
        checks: &mut Vec<Check>,
    ) -> Result<Self> {
        let base = crate::cluster::roots::base(&inventory.cluster.suite)?;
        let scratch = crate::inputs::workspace::root().join("target/verify");
        std::fs::create_dir_all(&scratch)?;
        let dir = tempfile::Builder::new()
            .prefix("cluster")
            .tempdir_in(&scratch)?;
        let mut net = Net::new()?;
        let entries = inventory.nodes();
        let netns = entries
            .iter()
            .map(|e| net.add_node(&e.address))
            .collect::<Result<Vec<_>>>()?;
        let mut cluster = Self {
            nodes: Vec::new(),
            _net: net,
            entries,
            netns,
            inventory: inventory.clone(),
            repo: options.repo.clone(),
            dir,
        };
        let up = step.child("cluster up: unpack, boot and install every node");
        let mut failure = None;
        let start = Instant::now();
        // In parallel: each node unpacks, boots and installs on its own.
        let booted: Vec<Result<Node>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..cluster.entries.len())
                .map(|i| {
                    let cluster = &cluster;
                    let base = &base;
                    s.spawn(move || cluster.install(i, base))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow!("a node's thread panicked")))
                })
                .collect()
        });
        for node in booted {
            match node {
                Ok(node) => cluster.nodes.push(Some(node)),
                Err(error) => {
                    cluster.nodes.push(None);
                    // Node errors name the node already.
                    failure.get_or_insert(error);
                }
            }
        }
        if failure.is_none() {
            for (name, path, text) in &options.tamper {
                if let Err(error) = cluster.tamper(name, path, text) {
                    failure = Some(error);
                }
            }
        }
        up.done();
        let took = start.elapsed();
        let ok = failure.is_none();
        checks.push(Check {
            name: "cluster up (boot + install from the signed repository)".into(),
            outcome: match failure {
                None => Ok(format!("{} nodes", cluster.entries.len())),
                Some(error) => Err(error),
            },
            took,
        });
        if !ok {
            bail!("the cluster did not come up (see the table)");
        }
        Ok(cluster)
    }

    fn root(&self, i: usize) -> PathBuf {
        self.dir.path().join(&self.entries[i].name)
    }

    /// Boots node `i` from its root (unpacked already, or again after a stop).
    fn boot(&self, i: usize) -> Result<Node> {
        interrupted()?;
        Node::boot_with(
            &self.entries[i].name,
            &self.root(i),
            &self.netns[i],
            &[format!("--bind-ro={}:{REPO_INSIDE}", self.repo.display())],
        )
    }

    /// Unpacks, boots and installs node `i`: only the repository as apt source, the node's
    /// answers preseeded, then its role package.
    fn install(&self, i: usize, base: &Path) -> Result<Node> {
        let entry = &self.entries[i];
        let root = self.root(i);
        crate::cluster::roots::unpack_tarball(base, &root)?;
        // No route out: the base root's Debian sources would only fail apt-get update.
        let apt = root.join("etc/apt");
        let _ = std::fs::remove_file(apt.join("sources.list"));
        for source in std::fs::read_dir(apt.join("sources.list.d"))? {
            std::fs::remove_file(source?.path())?;
        }
        std::fs::copy(
            self.repo.join(crate::steps::repo::SOURCES),
            apt.join("sources.list.d").join(crate::steps::repo::SOURCES),
        )?;
        std::fs::create_dir_all(root.join("usr/share/keyrings"))?;
        std::fs::copy(
            self.repo.join(crate::steps::repo::KEYRING),
            root.join("usr/share/keyrings")
                .join(crate::steps::repo::KEYRING),
        )?;
        std::fs::write(
            root.join("root/selections"),
            self.inventory.selections(entry),
        )?;
        let node = self.boot(i)?;
        interrupted()?;
        node.exec("update apt from the repository", &["apt-get", "update"])?;
        node.exec(
            "preseed the inventory's answers",
            &["debconf-set-selections", "/root/selections"],
        )?;
        interrupted()?;
        node.exec(
            &format!("install {}", entry.role.package()),
            &[
                "apt-get",
                "install",
                "-y",
                "--no-install-recommends",
                entry.role.package(),
            ],
        )?;
        Ok(node)
    }

    fn tamper(&self, name: &str, path: &str, text: &str) -> Result<()> {
        let i = self.index(name)?;
        let node = self.node(i)?;
        std::fs::write(node.path(path), format!("{text}\n"))?;
        node.sh(
            "restart Mesos after tampering",
            // try-restart: only what runs (a master's mesos-slave stays stopped).
            "rm -f /run/mesos-double/*.json; systemctl try-restart mesos-master.service mesos-slave.service",
        )?;
        Ok(())
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .with_context(|| format!("no node {name} in the inventory"))
    }

    fn node(&self, i: usize) -> Result<&Node> {
        self.nodes[i]
            .as_ref()
            .with_context(|| format!("{} is stopped", self.entries[i].name))
    }

    fn masters(&self) -> Vec<usize> {
        (0..self.entries.len())
            .filter(|&i| self.entries[i].role == Role::Master)
            .collect()
    }

    fn running_masters(&self) -> Vec<usize> {
        self.masters()
            .into_iter()
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    fn agents(&self) -> Vec<usize> {
        (0..self.entries.len())
            .filter(|&i| self.entries[i].role == Role::Agent)
            .collect()
    }

    /// A URL fetched inside node `i` (curl in the base root): the body when it answers 2xx.
    fn get(&self, i: usize, url: &str) -> Result<Value> {
        let out = self
            .node(i)?
            .output(&["curl", "-sf", "--max-time", "5", url])?;
        if !out.status.success() {
            bail!("{}: no answer from {url}", self.entries[i].name);
        }
        serde_json::from_slice(&out.stdout)
            .with_context(|| format!("{}: {url} is not JSON", self.entries[i].name))
    }

    fn master_state(&self, i: usize) -> Result<Value> {
        let address = &self.entries[i].address;
        self.get(i, &format!("http://{address}:5050/master/state"))
    }

    /// ZooKeeper's mode on master `i` (`srvr`, allowed by the rendered 4lw whitelist).
    fn zk_mode(&self, i: usize) -> Result<String> {
        let out = self.node(i)?.sh(
            "ask ZooKeeper srvr",
            "echo srvr | nc -q 2 -w 5 127.0.0.1 2181",
        )?;
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .map(str::to_string)
            .with_context(|| format!("{}: srvr said {out:?}", self.entries[i].name))
    }

    /// The ensemble of the running masters: one leader and the rest followers.
    fn ensemble(&self) -> Result<String> {
        let masters = self.running_masters();
        let modes = masters
            .iter()
            .map(|&i| Ok((self.entries[i].name.clone(), self.zk_mode(i)?)))
            .collect::<Result<Vec<_>>>()?;
        let leaders: Vec<&str> = modes
            .iter()
            .filter(|(_, m)| m == "leader")
            .map(|(n, _)| n.as_str())
            .collect();
        let followers = modes.iter().filter(|(_, m)| m == "follower").count();
        if leaders.len() != 1 || followers + 1 != masters.len() {
            bail!("modes {modes:?}: want one leader and the rest followers");
        }
        Ok(format!("leader {}, {followers} followers", leaders[0]))
    }

    /// The leading master: exactly one running master says it was elected, and every running
    /// master names it as leader. Returns its index.
    fn leader(&self) -> Result<usize> {
        let masters = self.running_masters();
        let states = masters
            .iter()
            .map(|&i| self.master_state(i))
            .collect::<Result<Vec<_>>>()?;
        let claiming: Vec<usize> = masters
            .iter()
            .zip(&states)
            .filter(|(_, s)| s.get("elected_time").is_some())
            .map(|(&i, _)| i)
            .collect();
        let [leader] = claiming[..] else {
            let names: Vec<&str> = claiming
                .iter()
                .map(|&i| self.entries[i].name.as_str())
                .collect();
            bail!("masters claiming to lead: {names:?}; want exactly one");
        };
        let pid = states[masters.iter().position(|&i| i == leader).unwrap()]["pid"].clone();
        for (&i, state) in masters.iter().zip(&states) {
            if state["leader"] != pid {
                bail!(
                    "{} names {} as leader, {} leads",
                    self.entries[i].name,
                    state["leader"],
                    pid
                );
            }
        }
        Ok(leader)
    }

    /// Every agent is registered with the leading master, and says so itself.
    fn registered(&self, leader: usize) -> Result<String> {
        let state = self.master_state(leader)?;
        let pid = state["pid"].as_str().unwrap_or_default().to_string();
        let slaves = state["slaves"].as_array().cloned().unwrap_or_default();
        for i in self.agents() {
            let address = &self.entries[i].address;
            let agent = self.get(i, &format!("http://{address}:5051/state"))?;
            if !slaves.iter().any(|s| s["id"] == agent["id"]) {
                bail!(
                    "{} is not among the slaves of the leader {pid}",
                    self.entries[i].name
                );
            }
            if agent["master"] != pid.as_str() {
                bail!(
                    "{} says its master is {}, the leader is {pid}",
                    self.entries[i].name,
                    agent["master"]
                );
            }
        }
        Ok(format!(
            "{} agent(s) with {}",
            state["activated_slaves"], self.entries[leader].name
        ))
    }

    /// The leading master and the agents with it, within `SETTLE`.
    fn settled(&self) -> Result<(usize, String)> {
        until(SETTLE, || {
            let leader = self.leader()?;
            let agents = self.registered(leader)?;
            Ok((leader, agents))
        })
    }

    fn check(&mut self, checks: &mut Vec<Check>) -> Result<()> {
        let masters = self.masters();
        let n = masters.len();
        let healthy = timed(checks, "ZooKeeper ensemble formed (srvr)", || {
            until(SETTLE, || self.ensemble())
        });
        timed(checks, "quorum = floor(n/2)+1 as rendered", || {
            let want = n / 2 + 1;
            for &i in &masters {
                let node = self.node(i)?;
                let quorum = node.read("/etc/mesos-master/quorum")?;
                let servers = node
                    .read("/etc/zookeeper/conf/zoo.cfg")?
                    .lines()
                    .filter(|l| l.starts_with("server."))
                    .count();
                if quorum.trim() != want.to_string() || servers != n {
                    bail!(
                        "{}: quorum {} and {servers} ZooKeeper servers; want {want} and {n}",
                        self.entries[i].name,
                        quorum.trim()
                    );
                }
            }
            Ok(format!("{want} of {n}"))
        });
        timed(checks, "every master's received flags as rendered", || {
            self.flags_as_rendered()
        });
        let mut leader = None;
        let elected = timed(checks, "one leading master", || {
            let i = until(SETTLE, || self.leader())?;
            leader = Some(i);
            Ok(self.entries[i].name.clone())
        });
        let registered = elected
            && timed(checks, "the agent registered with it", || {
                until(SETTLE, || self.registered(self.leader()?))
            });
        if elected {
            timed(checks, "Marathon sees the leading master", || {
                until(SETTLE, || self.marathon_sees_leader())
            });
        } else {
            for name in [
                "the agent registered with it",
                "Marathon sees the leading master",
            ] {
                checks.push(Check {
                    name: name.into(),
                    outcome: Err(anyhow!("not run: no single leading master")),
                    took: Duration::ZERO,
                });
            }
        }
        timed(checks, "Marathon accepts the app", || {
            self.marathon_accepts_app()
        });
        if !(healthy && elected && registered) {
            checks.push(Check {
                name: "failover".into(),
                outcome: Err(anyhow!("not run: the cluster is not healthy")),
                took: Duration::ZERO,
            });
            return Ok(());
        }
        let leading = leader.expect("elected");
        self.failover(checks, "leading master", leading)?;
        let zk_leader = until(SETTLE, || {
            self.running_masters()
                .into_iter()
                .find(|&i| self.zk_mode(i).is_ok_and(|m| m == "leader"))
                .context("no ZooKeeper leader")
        });
        match zk_leader {
            Ok(i) => self.failover(checks, "ZooKeeper leader", i)?,
            Err(error) => checks.push(Check {
                name: "failover: stop the ZooKeeper leader".into(),
                outcome: Err(error),
                took: Duration::ZERO,
            }),
        }
        self.split_brain(checks)
    }

    /// What each running master was started with, against its rendered files and the
    /// inventory (all masters in the zk URL, the `/mesos` path).
    fn flags_as_rendered(&self) -> Result<String> {
        let hosts: Vec<String> = self
            .masters()
            .iter()
            .map(|&i| format!("{}:2181", self.entries[i].address))
            .collect();
        let zk = format!("zk://{}/mesos", hosts.join(","));
        for i in self.masters() {
            let node = self.node(i)?;
            let record = until(SETTLE, || {
                node.read("/run/mesos-double/mesos-master.json")
                    .and_then(|t| Ok(serde_json::from_str::<Value>(&t)?))
            })?;
            let flags = &record["flags"];
            let mut want = vec![("zk".to_string(), zk.clone())];
            for name in ["quorum", "work_dir", "cluster", "hostname", "ip"] {
                let text = node.read(&format!("/etc/mesos-master/{name}"))?;
                want.push((name.to_string(), text.trim().to_string()));
            }
            let rendered_zk = node.read("/etc/mesos/zk")?;
            if rendered_zk.trim() != zk {
                bail!(
                    "{}: /etc/mesos/zk is {:?}, the inventory gives {zk}",
                    self.entries[i].name,
                    rendered_zk.trim()
                );
            }
            for (name, value) in want {
                if flags[&name] != value.as_str() {
                    bail!(
                        "{}: mesos-master got --{name}={}, want {value}",
                        self.entries[i].name,
                        flags[&name]
                    );
                }
            }
        }
        Ok(format!("zk {zk}"))
    }

    fn marathon_sees_leader(&self) -> Result<String> {
        let leader = self.leader()?;
        let want = format!("http://{}:5050/", self.entries[leader].address);
        let mut elected = Vec::new();
        for i in self.running_masters() {
            let address = &self.entries[i].address;
            let info = self.get(i, &format!("http://{address}:8080/v2/info"))?;
            let seen = &info["marathon_config"]["mesos_leader_ui_url"];
            if seen != want.as_str() {
                bail!(
                    "Marathon on {} sees the Mesos leader at {seen}, want {want}",
                    self.entries[i].name
                );
            }
            if info["elected"] == true {
                elected.push(self.entries[i].name.clone());
            }
        }
        if elected.len() != 1 {
            bail!("Marathons elected: {elected:?}; want exactly one");
        }
        Ok(format!("{want}; Marathon leader {}", elected[0]))
    }

    fn marathon_accepts_app(&self) -> Result<String> {
        let i = *self.running_masters().first().context("no master")?;
        let node = self.node(i)?;
        std::fs::write(node.path("/root/app.json"), APP)?;
        let address = &self.entries[i].address;
        let status = node.exec(
            "POST the tutorial's app to Marathon",
            &[
                "curl",
                "-s",
                "-o",
                "/root/app.answer",
                "-w",
                "%{http_code}",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@/root/app.json",
                &format!("http://{address}:8080/v2/apps"),
            ],
        )?;
        if status.trim() != "201" {
            let answer = node.read("/root/app.answer").unwrap_or_default();
            bail!(
                "POST /v2/apps answered {}: {}",
                status.trim(),
                answer.trim()
            );
        }
        Ok("201 Created".into())
    }

    /// Stops node `i` (`what` it was), checks that the rest settle, restarts it and checks that
    /// it rejoins.
    fn failover(&mut self, checks: &mut Vec<Check>, what: &str, i: usize) -> Result<()> {
        let name = self.entries[i].name.clone();
        timed(
            checks,
            &format!("failover: stop the {what} ({name}): new leader, agent re-registered"),
            || {
                drop(self.nodes[i].take());
                // From the moment the node is down (powering off took part of the time).
                let down = Instant::now();
                let ensemble = until(SETTLE, || self.ensemble())?;
                let (leader, agents) = self.settled()?;
                Ok(format!(
                    "{} leads, {agents} {:.1}s after {name} was down; ZooKeeper: {ensemble}",
                    self.entries[leader].name,
                    down.elapsed().as_secs_f64()
                ))
            },
        );
        timed(
            checks,
            &format!("failover: {name} rejoins after restart"),
            || {
                self.nodes[i] = Some(self.boot(i)?);
                let ensemble = until(SETTLE, || {
                    if self.running_masters().contains(&i) {
                        self.zk_mode(i)?;
                    }
                    self.ensemble()
                })?;
                let (leader, agents) = self.settled()?;
                Ok(format!(
                    "{} leads, {agents}; ZooKeeper: {ensemble}",
                    self.entries[leader].name
                ))
            },
        );
        interrupted()
    }

    /// Two of three masters down: ZooKeeper has no quorum, and no master may claim to lead.
    fn split_brain(&mut self, checks: &mut Vec<Check>) -> Result<()> {
        let masters = self.masters();
        let n = masters.len();
        let down = n - n / 2;
        if down >= n {
            return Ok(());
        }
        timed(
            checks,
            &format!("{down} of {n} masters down: nothing claims to lead"),
            || {
                for &i in masters.iter().take(down) {
                    drop(self.nodes[i].take());
                }
                let survivors = self.running_masters();
                let quiet = || -> Result<()> {
                    for &i in &survivors {
                        let state = self.master_state(i)?;
                        if state.get("elected_time").is_some() || state.get("leader").is_some() {
                            bail!(
                                "{} still claims a leader: {}",
                                self.entries[i].name,
                                state["leader"]
                            );
                        }
                    }
                    Ok(())
                };
                // A survivor may name the old leader until its ZooKeeper session is gone (or
                // briefly between reconnects): within SETTLE, nothing may claim a leader for 10
                // seconds in a row. A split brain claims on and fails.
                let deadline = Instant::now() + SETTLE;
                let mut quiet_since: Option<Instant> = None;
                loop {
                    interrupted()?;
                    match quiet() {
                        Ok(()) => {
                            let since = *quiet_since.get_or_insert_with(Instant::now);
                            if since.elapsed() >= Duration::from_secs(10) {
                                break;
                            }
                        }
                        Err(claim) if Instant::now() >= deadline => return Err(claim),
                        Err(_) => quiet_since = None,
                    }
                    std::thread::sleep(Duration::from_secs(1));
                }
                let names: Vec<&str> = survivors
                    .iter()
                    .map(|&i| self.entries[i].name.as_str())
                    .collect();
                Ok(format!("{names:?} name no leader for 10s"))
            },
        );
        Ok(())
    }
}
