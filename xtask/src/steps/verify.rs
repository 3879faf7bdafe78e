//! `cargo xtask verify --inventory cluster.toml`: boots the built artifacts as the inventory's
//! cluster and checks that it works. One systemd-nspawn container per node (`--boot`, real systemd)
//! in network namespaces joined by a bridge (`netns`), each an overlay of the cached base root,
//! with the signed repository bound read-only at /srv/mesos-roles (the repository's example source
//! and keyring, never `trusted=yes`) and its role installed with the node's inventory answers
//! preseeded, with mesos-role-tools. Then the checks, each timed, and a summary table. A node's
//! health is what `mesos-role status --json` says on it (the operator's own tool, asking the
//! daemons' public endpoints); verify adds only what needs the whole cluster: one ensemble, one
//! leader all agree on, the agents with it, the flags each master runs with (Mesos' `/flags`)
//! against the inventory, failovers and no split brain, and the security of docs/security.md through
//! public interfaces (Marathon's 401, ZooKeeper's NoAuth to an anonymous client, an agent with a
//! wrong secret left out; `--switch-over`: the switch to authentication in place keeps a leader).
//! Everything is torn down in order (nodes, then namespaces, then roots) also when a check fails or
//! on SIGINT/SIGTERM.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use crate::cluster::machine::Machine;
use crate::cluster::netns::Net;
use crate::cluster::nspawn::{INTERRUPTED, Node, interrupted};
use crate::inputs::inventory::{Inventory, Node as Entry, Role};
use crate::inputs::secrets::Secret;
use crate::progress::Step;

pub mod upgrade;

/// Where nodes see the repository (the example source's URI).
const REPO_INSIDE: &str = "/srv/mesos-roles";
/// Where nodes of `--from bundle` see the bundle (read-only; unpacked in /root).
const BUNDLE_INSIDE: &str = "/srv/mesos-roles-bundle.tar.gz";
/// How long a cluster may take to settle after a change before a check fails.
const SETTLE: Duration = Duration::from_secs(120);
/// The app the reference tutorial deploys.
const APP: &str = include_str!("../../data/verify-app.json");
/// The operator's tool on every node: its status is a node's health.
const TOOLS: &str = "mesos-role-tools";

#[derive(Clone)]
pub struct Options {
    pub inventory: PathBuf,
    /// What the nodes install from.
    pub source: Source,
    /// Test only: `(node, path, text)` written on a node after its install, and its Mesos
    /// restarted, to prove a broken build is caught.
    pub tamper: Vec<(String, String, String)>,
    pub mode: Mode,
    /// The table as JSON on stdout (`--json`).
    pub json: bool,
    /// `--from images`: qemu with KVM instead of TCG.
    pub kvm: bool,
    /// `--upgrade-from`: the older repository the cluster is installed from, before a rolling
    /// upgrade to the `Source::Repo` one (`upgrade.rs`).
    pub upgrade_from: Option<PathBuf>,
    /// `--keep`: after the checks, the cluster stays up, each node's shell printed, until
    /// interrupted.
    pub keep: bool,
}

/// What the nodes start from and install from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The signed repository bound into nodes whose base root holds the roles' Debian
    /// dependencies already: the quick path.
    Repo(PathBuf),
    /// The air-gapped bundle alone, unpacked and installed with its `install.sh` on nodes that
    /// start as a plain minbase root with an init (no apt lists, no route out): the dependency
    /// closure proven by a running cluster.
    Bundle(PathBuf),
    /// The golden images booted under qemu with each node's seed (rendered with this run's
    /// secret and SSH key), on a bridge of their own.
    Images { master: PathBuf, agent: PathBuf },
}

impl Source {
    fn describe(&self) -> &'static str {
        match self {
            Source::Repo(_) => "the signed repository",
            Source::Bundle(_) => "the air-gapped bundle",
            Source::Images { .. } => "the golden images and their seeds",
        }
    }
}

/// What a cluster of VMs needs besides the nodes: the taps on the bridge (one per node), the hub
/// namespace qemu runs in, and how to reach the VMs.
struct Vms {
    kvm: bool,
    taps: Vec<String>,
    hub: PathBuf,
    ssh: crate::cluster::vm::Ssh,
}

/// Memory of each VM.
const VM_MEMORY_MIB: u32 = 2048;

/// How the cluster is installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Authenticated from the start (the inventory's answers with this run's secret).
    Secure,
    /// Test only: installed open (no secret, `insecure` true) and left so.
    Insecure,
    /// Installed open, then switched to authentication in place (docs/security.md), one node at a
    /// time, with a leading master polled for throughout.
    SwitchOver,
}

/// The names of the security checks (tests look for them in the table).
pub const CHECK_MARATHON: &str = "Marathon: 401 without credentials, 200 with the node's";
pub const CHECK_ZOOKEEPER: &str = "anonymous ZooKeeper client cannot change the election nodes";
pub const CHECK_WRONG_AGENT: &str = "an agent with a wrong secret is not registered";
pub const CHECK_SWITCH_OVER: &str = "switch-over to authentication keeps a leading master";
/// The most time between two polls for a leading master while switching over.
const POLL: Duration = Duration::from_secs(1);
/// How long a cluster may be without a leader after the leading master itself restarts: Mesos
/// hands over no leadership, the old leader's ZooKeeper node lasts its session (Mesos'
/// `--zk_session_timeout`, 10 s), then the next contender leads.
const FAILOVER: Duration = Duration::from_secs(20);

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

/// The master and agent images the manifest of `dist` lists.
pub fn images_from_manifest(dist: &Path) -> Result<Source> {
    let missing = |role: &str| {
        anyhow!(
            "no {role} image in {}: run `cargo xtask dist --images` first",
            dist.display()
        )
    };
    let manifest = crate::formats::manifest::Manifest::read(dist).map_err(|_| missing("master"))?;
    let find = |role: &str| -> Result<PathBuf> {
        let prefix = format!("mesos-roles-{role}-");
        manifest
            .artifacts
            .iter()
            .filter(|a| a.kind == "image")
            .map(|a| dist.join(&a.path))
            .find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
                    && p.is_file()
            })
            .ok_or_else(|| missing(role))
    };
    Ok(Source::Images {
        master: find("master")?,
        agent: find("agent")?,
    })
}

/// The images to boot: `master` and `agent` where given (each checked to be a qcow2 image), else
/// the ones the manifest of `dist` lists.
pub fn images(dist: &Path, master: Option<PathBuf>, agent: Option<PathBuf>) -> Result<Source> {
    let listed = match (&master, &agent) {
        (Some(_), Some(_)) => None,
        _ => Some(images_from_manifest(dist)?),
    };
    let (listed_master, listed_agent) = match listed {
        Some(Source::Images { master, agent }) => (Some(master), Some(agent)),
        _ => (None, None),
    };
    let pick = |given: Option<PathBuf>, listed: Option<PathBuf>, flag: &str| -> Result<PathBuf> {
        match given {
            Some(path) => {
                crate::steps::packer::check_qcow2(
                    &path,
                    &format!("give {flag} the .qcow2 that `cargo xtask image` or Packer wrote"),
                )?;
                Ok(path)
            }
            None => listed.context("an image the manifest lists"),
        }
    };
    Ok(Source::Images {
        master: pick(master, listed_master, "--master-image")?,
        agent: pick(agent, listed_agent, "--agent-image")?,
    })
}

/// The air-gapped bundle the manifest of `dist` lists.
pub fn bundle_from_manifest(dist: &Path) -> Result<PathBuf> {
    let missing = || {
        anyhow!(
            "no bundle in {}: run `cargo xtask dist --closure` first (or give --bundle FILE)",
            dist.display()
        )
    };
    let manifest = crate::formats::manifest::Manifest::read(dist).map_err(|_| missing())?;
    let bundle = manifest
        .artifacts
        .iter()
        .find(|a| a.kind == "bundle")
        .ok_or_else(missing)?;
    let bundle = dist.join(&bundle.path);
    match bundle.is_file() {
        true => Ok(bundle),
        false => Err(missing()),
    }
}

pub fn parse_tamper(text: &str) -> Result<(String, String, String)> {
    let (node, rest) = text.split_once(':').context("--tamper NODE:PATH=TEXT")?;
    let (path, value) = rest.split_once('=').context("--tamper NODE:PATH=TEXT")?;
    // An absolute path of plain components: nothing that climbs out of where it names.
    let plain = path.starts_with('/')
        && std::path::Path::new(path)
            .components()
            .skip(1)
            .all(|c| matches!(c, std::path::Component::Normal(_)));
    if !plain {
        bail!(
            "--tamper {node}:{path:?}: give an absolute path inside the node without . or .. components"
        );
    }
    Ok((node.into(), path.into(), value.into()))
}

/// Where the nodes' roots are mounted: `target/verify/cluster-<pid>-...`.
pub fn roots_dir() -> PathBuf {
    crate::inputs::workspace::root().join("target/verify")
}

/// A new cluster's scratch directory in [`roots_dir`] (verify's, and the tests' clusters), named
/// with the creating process's id: if the process is killed, the next [`sweep`] stops its
/// containers, unmounts its roots and removes it.
pub fn cluster_dir() -> Result<tempfile::TempDir> {
    let scratch = roots_dir();
    std::fs::create_dir_all(&scratch)?;
    Ok(tempfile::Builder::new()
        .prefix(&format!("cluster-{}-", std::process::id()))
        .tempdir_in(&scratch)?)
}

/// Sweeps what an earlier, killed verify (or test) left, saying so in one line.
pub fn sweep() -> Result<()> {
    let swept = crate::cluster::sweep::leftovers(&roots_dir())?;
    if !swept.is_empty() {
        eprintln!("verify: swept what an earlier run left: {swept}");
    }
    Ok(())
}

/// A URL without its `user:password@` (the digest credentials of a ZooKeeper URL).
fn without_userinfo(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

/// One line of the summary.
struct Check {
    name: String,
    outcome: Result<String>,
    took: Duration,
}

pub fn run(options: &Options) -> Result<()> {
    let inventory = Inventory::load(&options.inventory)?;
    match &options.source {
        Source::Repo(repo) => {
            for file in [crate::steps::repo::KEYRING, crate::steps::repo::SOURCES] {
                if !repo.join(file).is_file() {
                    bail!(
                        "{} is not a repository built by `cargo xtask repo` (no {file}): run `cargo xtask dist --closure`, or give --repo DIR",
                        repo.display()
                    );
                }
            }
        }
        Source::Images { .. } if options.mode != Mode::Secure => {
            bail!(
                "--switch-over needs --from repo or --from bundle: the images' seeds install authenticated"
            )
        }
        Source::Images { .. } => {
            crate::tool::require(&["qemu-system-x86_64", "qemu-img", "ssh", "ssh-keygen"])?;
            let meminfo =
                std::fs::read_to_string("/proc/meminfo").context("cannot read /proc/meminfo")?;
            enough_memory(&meminfo, inventory.nodes().len())?;
        }
        Source::Bundle(bundle) => {
            if bundle_name(bundle).is_none() {
                bail!(
                    "--bundle {}: not a bundle built by `cargo xtask bundle` (a file mesos-roles-VERSION-SUITE-ARCH.tar.gz): run `cargo xtask dist --closure`",
                    bundle.display()
                );
            }
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
    let mut reported = false;
    let first = upgrade::installed_first(options);
    let installed = first.as_ref().unwrap_or(options);
    let result = Cluster::up(&inventory, installed, &step, &mut checks).and_then(|mut cluster| {
        let result = match options.upgrade_from {
            Some(_) => upgrade::rolling(&mut cluster, options, &mut checks),
            None => Ok(true),
        }
        .and_then(|upgraded| match upgraded {
            true => cluster.check(&mut checks),
            false => Ok(()),
        });
        if options.keep && result.is_ok() {
            report(&checks, options.json)?;
            reported = true;
            cluster.keep();
        }
        let teardown = step.child("teardown: power off, delete namespaces and roots");
        drop(cluster);
        teardown.done();
        result
    });
    // The cluster is gone here: only the table is left (unless `--keep` showed it already).
    if !reported {
        report(&checks, options.json)?;
    }
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

/// Fails unless the host has memory for `nodes` VMs (`/proc/meminfo`'s MemAvailable against
/// `VM_MEMORY_MIB` each): a host that runs out mid-boot kills a VM or swaps the run to a crawl.
fn enough_memory(meminfo: &str, nodes: usize) -> Result<()> {
    let available_mib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemAvailable:"))
        .and_then(|rest| rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .context("no MemAvailable in /proc/meminfo")?
        / 1024;
    let needed_mib = nodes as u64 * u64::from(VM_MEMORY_MIB);
    if available_mib < needed_mib {
        bail!(
            "--from images boots {nodes} VMs of {VM_MEMORY_MIB} MiB: {needed_mib} MiB, and this host has {available_mib} MiB available: free memory, or verify a smaller inventory (or use --from bundle)"
        );
    }
    Ok(())
}

/// The highest address of the inventory's subnet that no node has (nor the gateway): where the
/// run's clients sit beside a cluster of VMs.
fn client_address(inventory: &Inventory) -> Result<String> {
    use std::net::Ipv4Addr;
    let nodes = inventory.nodes();
    let used: Vec<Ipv4Addr> = nodes
        .iter()
        .map(|n| n.address.as_str())
        .chain(inventory.network.gateway.as_deref())
        .filter_map(|a| a.parse().ok())
        .collect();
    let first = used.first().context("no node with an IPv4 address")?;
    let bits = u32::from(inventory.network.prefix_len.min(32));
    let mask = u32::MAX.checked_shl(32 - bits).unwrap_or(0);
    let network = u32::from(*first) & mask;
    let broadcast = network | !mask;
    (network + 1..broadcast)
        .rev()
        .map(Ipv4Addr::from)
        .find(|a| !used.contains(a))
        .map(|a| a.to_string())
        .context("the inventory's subnet has no address left for verify's client")
}

/// A throwaway SSH key in `dir` (the run's own, 0700), and every node's seed image rendered with
/// the run's secret and that key added to the admin's: how the run reaches its VMs.
fn seeds(
    inventory: &Inventory,
    secret: &Secret,
    dir: &Path,
    client: &Path,
) -> Result<crate::cluster::vm::Ssh> {
    let (key, public) = crate::cluster::vm::throwaway_key(dir, "mesos-roles-verify")?;
    let mut inventory = inventory.clone();
    inventory.admin.ssh_keys.push(public);
    let epoch = crate::inputs::workspace::Build::from_env()?.source_date_epoch;
    for seed in crate::steps::seeds::render(&inventory, secret, epoch)? {
        crate::files::write_private(
            &dir.join(crate::steps::seeds::image_name(&seed.node)),
            &seed.image,
        )?;
    }
    Ok(crate::cluster::vm::Ssh {
        key,
        user: inventory.admin.user.clone(),
        netns: client.to_path_buf(),
        sockets: dir.to_path_buf(),
    })
}

/// The directory a bundle unpacks into (its file name without `.tar.gz`), if `bundle` is named as
/// `cargo xtask bundle` names one.
fn bundle_name(bundle: &Path) -> Option<String> {
    let name = bundle.file_name()?.to_str()?.strip_suffix(".tar.gz")?;
    let plain = name.starts_with("mesos-roles-")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._+~".contains(&b));
    plain.then(|| name.to_string())
}

/// The table of checks on stdout, as text or JSON.
fn report(checks: &[Check], json: bool) -> Result<()> {
    match json {
        true => print_json(checks),
        false => {
            print_table(checks);
            Ok(())
        }
    }
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

/// The table as JSON: `{command, checks: [{name, ok, detail, seconds}]}`.
fn print_json(checks: &[Check]) -> Result<()> {
    let checks: Vec<Value> = checks
        .iter()
        .map(|c| {
            let (ok, detail) = match &c.outcome {
                Ok(detail) => (true, detail.clone()),
                Err(error) => (false, format!("{error:#}")),
            };
            serde_json::json!({
                "name": c.name,
                "ok": ok,
                "detail": detail,
                "seconds": c.took.as_secs_f64(),
            })
        })
        .collect();
    let all = serde_json::json!({"command": "verify", "checks": checks});
    println!("{}", serde_json::to_string_pretty(&all)?);
    Ok(())
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

/// The ids of the agents at `address` a master's `/master/state` lists active: the `slaves`
/// entries whose pid is at that address.
pub fn active_agents_at(state: &Value, address: &str) -> Vec<String> {
    let at = format!("@{address}:");
    state["slaves"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["active"] != false && s["pid"].as_str().is_some_and(|pid| pid.contains(&at)))
        .map(|s| s["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Polls `probe` until it gives a value or `timeout` passes; the error is its last one.
pub(crate) fn until<T>(timeout: Duration, mut probe: impl FnMut() -> Result<T>) -> Result<T> {
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
    nodes: Vec<Option<Box<dyn Machine>>>,
    _net: Net,
    entries: Vec<Entry>,
    netns: Vec<PathBuf>,
    inventory: Inventory,
    /// This run's cluster secret: made afresh, kept in memory; nodes get it (or the agent secret)
    /// through a 0600 file in their private roots, removed once debconf has it.
    secret: Secret,
    mode: Mode,
    source: Source,
    vms: Option<Vms>,
    dir: tempfile::TempDir,
}

impl Drop for Cluster {
    /// Nodes power off side by side, then their roots are unmounted and what each node wrote is
    /// deleted side by side (a node of the bundle writes its whole install); the namespaces and
    /// the scratch directory follow as fields.
    fn drop(&mut self) {
        for node in self.nodes.iter().flatten() {
            node.power_off_soon();
        }
        let nodes: Vec<Box<dyn Machine>> = self.nodes.drain(..).flatten().collect();
        std::thread::scope(|s| {
            for node in nodes {
                s.spawn(move || drop(node));
            }
        });
        // The nspawn nodes' roots are overlays: unmounted, then what each node wrote is deleted.
        let _ = crate::cluster::roots::unmount_below(self.dir.path());
        std::thread::scope(|s| {
            for i in 0..self.entries.len() {
                let root = self.root(i);
                s.spawn(move || {
                    let _ = std::fs::remove_dir_all(&root);
                    let _ = std::fs::remove_dir_all(crate::cluster::roots::layer(&root));
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
        let suite = &inventory.cluster.suite;
        // The root the nspawn nodes unpack (VMs boot their images instead).
        let base = match &options.source {
            Source::Repo(_) => Some(crate::cluster::roots::base(suite)?),
            Source::Bundle(_) => Some(crate::cluster::roots::bootable(suite)?),
            Source::Images { .. } => None,
        };
        let dir = cluster_dir()?;
        let mut net = Net::new()?;
        let entries = inventory.nodes();
        let secret = Secret::generate();
        let (netns, vms) = match &options.source {
            Source::Images { .. } => {
                // The VMs hold the nodes' addresses; the run's clients (ssh, curl, nc) have one
                // namespace of their own on the bridge, at an address no node has.
                let client = net.add_node(&client_address(inventory)?)?;
                let taps = entries
                    .iter()
                    .map(|_| net.add_tap())
                    .collect::<Result<Vec<_>>>()?;
                let ssh = seeds(inventory, &secret, dir.path(), &client)?;
                let vms = Vms {
                    kvm: options.kvm,
                    taps,
                    hub: net.hub(),
                    ssh,
                };
                (vec![client; entries.len()], Some(vms))
            }
            _ => (
                entries
                    .iter()
                    .map(|e| net.add_node(&e.address))
                    .collect::<Result<Vec<_>>>()?,
                None,
            ),
        };
        let mut cluster = Self {
            nodes: Vec::new(),
            _net: net,
            entries,
            netns,
            inventory: inventory.clone(),
            secret,
            mode: options.mode,
            source: options.source.clone(),
            vms,
            dir,
        };
        let up = step.child("cluster up: unpack, boot and install every node");
        let mut failure = None;
        let start = Instant::now();
        // In parallel: each node unpacks, boots and installs on its own.
        let booted: Vec<Result<Box<dyn Machine>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..cluster.entries.len())
                .map(|i| {
                    let cluster = &cluster;
                    let base = base.as_deref();
                    s.spawn(move || match (&cluster.source, base) {
                        (Source::Repo(repo), Some(base)) => cluster.install(i, base, repo),
                        (Source::Bundle(bundle), Some(base)) => {
                            cluster.install_bundle(i, base, bundle)
                        }
                        // VMs: the seed installs the node's answers at first boot.
                        _ => cluster.boot(i),
                    })
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
            name: format!(
                "cluster up (boot + install from {})",
                cluster.source.describe()
            ),
            outcome: match failure {
                None => Ok(match (&cluster.vms, options.kvm) {
                    (Some(_), true) => format!("{} VMs (KVM)", cluster.entries.len()),
                    (Some(_), false) => format!("{} VMs (TCG)", cluster.entries.len()),
                    (None, _) => format!("{} nodes", cluster.entries.len()),
                }),
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
    fn boot(&self, i: usize) -> Result<Box<dyn Machine>> {
        interrupted()?;
        let bind = match &self.source {
            Source::Repo(repo) => format!("--bind-ro={}:{REPO_INSIDE}", repo.display()),
            Source::Bundle(bundle) => format!("--bind-ro={}:{BUNDLE_INSIDE}", bundle.display()),
            Source::Images { master, agent } => return self.boot_vm(i, master, agent),
        };
        Ok(Box::new(Node::boot_with(
            &self.entries[i].name,
            &self.root(i),
            &self.netns[i],
            &[bind],
        )?))
    }

    /// Boots node `i` from its role's image with its seed (its disk kept after a stop).
    fn boot_vm(&self, i: usize, master: &Path, agent: &Path) -> Result<Box<dyn Machine>> {
        let vms = self.vms.as_ref().context("no VMs")?;
        let entry = &self.entries[i];
        let image = match entry.role {
            Role::Master => master,
            Role::Agent => agent,
        };
        Ok(Box::new(crate::cluster::vm::Vm::boot(
            &crate::cluster::vm::Spec {
                name: &entry.name,
                address: &entry.address,
                image,
                seed: &self.dir.path().join(crate::steps::seeds::image_name(entry)),
                disk: &self.root(i).with_extension("qcow2"),
                tap: &vms.taps[i],
                hub: &vms.hub,
                mac: format!("52:54:00:6d:72:{i:02x}"),
                memory_mib: VM_MEMORY_MIB,
                kvm: vms.kvm,
                ssh: vms.ssh.clone(),
            },
        )?))
    }

    /// Unpacks, boots and installs node `i`: only the repository as apt source, every node's name
    /// in /etc/hosts, the node's answers preseeded, then its role package and mesos-role-tools
    /// (a Recommends of the roles, which `--no-install-recommends` would leave out).
    fn install(&self, i: usize, base: &Path, repo: &Path) -> Result<Box<dyn Machine>> {
        let entry = &self.entries[i];
        let root = self.root(i);
        crate::cluster::roots::overlay(base, &root)?;
        // No route out: the base root's Debian sources would only fail apt-get update.
        let apt = root.join("etc/apt");
        let _ = std::fs::remove_file(apt.join("sources.list"));
        for source in std::fs::read_dir(apt.join("sources.list.d"))? {
            std::fs::remove_file(source?.path())?;
        }
        std::fs::copy(
            repo.join(crate::steps::repo::SOURCES),
            apt.join("sources.list.d").join(crate::steps::repo::SOURCES),
        )?;
        std::fs::create_dir_all(root.join("usr/share/keyrings"))?;
        std::fs::copy(
            repo.join(crate::steps::repo::KEYRING),
            root.join("usr/share/keyrings")
                .join(crate::steps::repo::KEYRING),
        )?;
        let selections = self.prepare(i)?;
        let node = self.boot(i)?;
        interrupted()?;
        node.exec("update apt from the repository", &["apt-get", "update"])?;
        node.exec(
            "preseed the inventory's answers",
            &["debconf-set-selections", "/root/selections"],
        )?;
        // debconf keeps the secrets in its root-only passwords.dat: no second copy stays.
        std::fs::remove_file(&selections)
            .with_context(|| format!("cannot remove {}", selections.display()))?;
        interrupted()?;
        node.exec(
            &format!("install {} and {TOOLS}", entry.role.package()),
            &[
                "apt-get",
                "install",
                "-y",
                "--no-install-recommends",
                entry.role.package(),
                TOOLS,
            ],
        )?;
        Ok(node)
    }

    /// What every node gets before its first boot: every node's name in /etc/hosts (real
    /// Marathon resolves its own at start), and its answers in a private file; returns that file.
    fn prepare(&self, i: usize) -> Result<PathBuf> {
        let root = self.root(i);
        let hosts: Vec<(&str, &str)> = self
            .entries
            .iter()
            .map(|e| (e.name.as_str(), e.address.as_str()))
            .collect();
        crate::cluster::nspawn::write_hosts(&root, &hosts)?;
        // Private: the roots' directory is the run's own (0700) and the file 0600.
        let selections = root.join("root/selections");
        crate::files::write_private(&selections, self.selections(&self.entries[i]).as_bytes())?;
        Ok(selections)
    }

    /// Unpacks a minbase root with an init, boots it with the bundle bound read-only and no route
    /// out, unpacks the bundle and installs node `i`'s role with `install.sh ROLE --preseed` as
    /// README's air-gapped use says (mesos-role-tools comes as the roles' Recommends).
    fn install_bundle(&self, i: usize, base: &Path, bundle: &Path) -> Result<Box<dyn Machine>> {
        let entry = &self.entries[i];
        let root = self.root(i);
        crate::cluster::roots::overlay(base, &root)?;
        let selections = self.prepare(i)?;
        let name = bundle_name(bundle).context("not a bundle")?;
        let node = self.boot(i)?;
        interrupted()?;
        node.exec(
            "unpack the bundle",
            &["tar", "-xzf", BUNDLE_INSIDE, "-C", "/root"],
        )?;
        interrupted()?;
        let role = entry.role.name();
        node.exec(
            &format!("install.sh {role} from the bundle"),
            &[
                &format!("/root/{name}/install.sh"),
                role,
                "--preseed",
                "/root/selections",
            ],
        )?;
        // debconf keeps the secrets in its root-only passwords.dat: no second copy stays.
        std::fs::remove_file(&selections)
            .with_context(|| format!("cannot remove {}", selections.display()))?;
        Ok(node)
    }

    fn tamper(&self, name: &str, path: &str, text: &str) -> Result<()> {
        let i = self.index(name)?;
        let node = self.node(i)?;
        // Written inside the node, so its symlinks resolve there and never on this host.
        node.exec(
            &format!("write {path}"),
            &[
                "sh",
                "-c",
                "printf '%s\\n' \"$1\" > \"$2\"",
                "sh",
                text,
                path,
            ],
        )?;
        node.sh(
            "restart Mesos after tampering",
            // try-restart: only what runs (a master's mesos-slave stays stopped). It returns once
            // the old daemon is gone, so every later answer is the new one's.
            "systemctl try-restart mesos-master.service mesos-slave.service",
        )?;
        Ok(())
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .with_context(|| format!("no node {name} in the inventory"))
    }

    fn node(&self, i: usize) -> Result<&dyn Machine> {
        self.nodes[i]
            .as_deref()
            .with_context(|| format!("{} is stopped", self.entries[i].name))
    }

    fn name(&self, i: usize) -> &str {
        &self.entries[i].name
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

    fn running(&self) -> Vec<usize> {
        (0..self.entries.len())
            .filter(|&i| self.nodes[i].is_some())
            .collect()
    }

    /// `mesos-role status --json` on node `i`: the node's health as the operator sees it. Its
    /// exit status says whether the node is healthy; the JSON says what each service answered.
    fn status(&self, i: usize) -> Result<Value> {
        let out = self
            .node(i)?
            .output(&["mesos-role", "--timeout", "5", "status", "--json"])?;
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "{}: mesos-role status said no JSON: {}",
                self.name(i),
                String::from_utf8_lossy(&out.stderr).trim()
            )
        })
    }

    /// The statuses of `nodes`, asked side by side (each may wait for a service's time limit).
    fn statuses(&self, nodes: &[usize]) -> Result<Vec<Value>> {
        std::thread::scope(|s| {
            let asks: Vec<_> = nodes
                .iter()
                .map(|&i| s.spawn(move || self.status(i)))
                .collect();
            asks.into_iter()
                .map(|a| {
                    a.join()
                        .unwrap_or_else(|_| bail!("a status thread panicked"))
                })
                .collect()
        })
    }

    /// Every running node is healthy by its own `mesos-role status`; the error names each node
    /// that is not and its failed rows.
    fn healthy(&self) -> Result<String> {
        let nodes = self.running();
        let mut sick = Vec::new();
        for (&i, status) in nodes.iter().zip(self.statuses(&nodes)?) {
            if status["healthy"] != true {
                let failed: Vec<String> = status["checks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["state"] == "fail")
                    .map(|c| format!("{}: {}", text(&c["name"]), text(&c["detail"])))
                    .collect();
                sick.push(format!("{} ({})", self.name(i), failed.join("; ")));
            }
        }
        if !sick.is_empty() {
            bail!("not healthy: {}", sick.join("; "));
        }
        Ok(format!("{} nodes", nodes.len()))
    }

    /// The ensemble of the running masters: one leader and the rest followers (ZooKeeper's
    /// `srvr`, through mesos-role).
    fn ensemble(&self) -> Result<String> {
        let masters = self.running_masters();
        let statuses = self.statuses(&masters)?;
        let modes: Vec<(String, String)> = masters
            .iter()
            .zip(&statuses)
            .map(|(&i, s)| {
                let mode = s
                    .pointer("/live/zookeeper/mode")
                    .and_then(Value::as_str)
                    .unwrap_or("not serving");
                (self.name(i).to_string(), mode.to_string())
            })
            .collect();
        let leaders: Vec<&str> = modes
            .iter()
            .filter(|(_, m)| m == "leader")
            .map(|(n, _)| n.as_str())
            .collect();
        if let ([(name, mode)], 1) = (modes.as_slice(), self.masters().len()) {
            // One master in the inventory: its ZooKeeper serves alone.
            return match mode.as_str() {
                "standalone" => Ok(format!("{name} standalone")),
                _ => bail!("{name}: ZooKeeper is {mode}, want standalone (one master)"),
            };
        }
        let followers = modes.iter().filter(|(_, m)| m == "follower").count();
        if leaders.len() != 1 || followers + 1 != masters.len() {
            bail!("modes {modes:?}: want one leader and the rest followers");
        }
        Ok(format!("leader {}, {followers} followers", leaders[0]))
    }

    /// The running master whose ZooKeeper leads the ensemble.
    fn zookeeper_leader(&self) -> Result<usize> {
        let masters = self.running_masters();
        let statuses = self.statuses(&masters)?;
        masters
            .iter()
            .zip(&statuses)
            .find(|(_, s)| s.pointer("/live/zookeeper/mode") == Some(&Value::from("leader")))
            .map(|(&i, _)| i)
            .context("no ZooKeeper leader")
    }

    /// The leading master: exactly one running master answers `/master/state` itself, and every
    /// running master names it (its redirects' Location). Returns its index and the statuses.
    fn leader(&self) -> Result<(usize, Vec<(usize, Value)>)> {
        let masters = self.running_masters();
        let statuses = self.statuses(&masters)?;
        let leading: Vec<usize> = masters
            .iter()
            .zip(&statuses)
            .filter(|(_, s)| s.pointer("/live/mesos_master/leading") == Some(&Value::Bool(true)))
            .map(|(&i, _)| i)
            .collect();
        let [leader] = leading[..] else {
            let names: Vec<&str> = leading.iter().map(|&i| self.name(i)).collect();
            bail!("masters leading: {names:?}; want exactly one");
        };
        let named = |s: &Value| s.pointer("/live/mesos_master/leader").cloned();
        let want = named(&statuses[masters.iter().position(|&i| i == leader).unwrap()]);
        for (&i, status) in masters.iter().zip(&statuses) {
            let theirs = named(status);
            if theirs != want {
                bail!(
                    "{} names {} as leader, {} leads as {}",
                    self.name(i),
                    theirs.unwrap_or(Value::Null),
                    self.name(leader),
                    want.clone().unwrap_or(Value::Null)
                );
            }
        }
        Ok((leader, masters.into_iter().zip(statuses).collect()))
    }

    /// Every agent is registered (its own metrics) with the leading master, which counts it.
    fn registered(&self, leader: usize, statuses: &[(usize, Value)]) -> Result<String> {
        let leader_status = &statuses
            .iter()
            .find(|(i, _)| *i == leader)
            .context("no status of the leader")?
            .1;
        let counted = leader_status
            .pointer("/live/mesos_master/agents")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let agents = self.agents();
        for (&i, status) in agents.iter().zip(self.statuses(&agents)?) {
            let agent = status
                .pointer("/live/mesos_slave")
                .with_context(|| format!("{}: the agent does not answer", self.name(i)))?;
            if agent["registered"] != true {
                bail!(
                    "{} is not registered with a master (master found: {})",
                    self.name(i),
                    agent["master_hostname"]
                );
            }
            if !counted.contains(&agent["pid"]) {
                bail!(
                    "{} ({}) is not among the agents of the leader {}",
                    self.name(i),
                    agent["pid"],
                    self.name(leader)
                );
            }
        }
        Ok(format!(
            "{} agent(s) with {}",
            counted.len(),
            self.name(leader)
        ))
    }

    /// The leading master and the agents with it, within `SETTLE`.
    fn settled(&self) -> Result<(usize, String)> {
        until(SETTLE, || {
            let (leader, statuses) = self.leader()?;
            let agents = self.registered(leader, &statuses)?;
            Ok((leader, agents))
        })
    }

    /// `--keep`: the nodes the checks stopped (failovers, split brain) started again, so the whole
    /// cluster is there to inspect; each node's shell on stderr; then the cluster stays up until
    /// Ctrl-C or SIGTERM.
    fn keep(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].is_none() && interrupted().is_ok() {
                eprintln!("verify: {} started again for --keep", self.name(i));
                if let Err(error) = self.rejoin(i) {
                    eprintln!("verify: {} did not rejoin: {error:#}", self.name(i));
                }
            }
        }
        eprintln!("verify: the cluster is kept up (--keep); a shell on each node:");
        for (i, node) in self.nodes.iter().enumerate() {
            match node {
                Some(node) => eprintln!("  {}: {}", node.name(), node.shell()),
                None => eprintln!("  {} is not running", self.name(i)),
            }
        }
        eprintln!(
            "verify: Ctrl-C, or SIGTERM to process {}, tears it down",
            std::process::id()
        );
        while interrupted().is_ok() {
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    fn check(&mut self, checks: &mut Vec<Check>) -> Result<()> {
        let masters = self.masters();
        let n = masters.len();
        if self.mode == Mode::SwitchOver {
            timed(checks, CHECK_SWITCH_OVER, || {
                until(SETTLE, || self.ensemble()).context("the open cluster")?;
                self.settled().context("the open cluster")?;
                self.switch_over()
            });
        }
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
                        self.name(i),
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
            let (i, _) = until(SETTLE, || self.leader())?;
            leader = Some(i);
            Ok(self.name(i).to_string())
        });
        let registered = elected
            && timed(checks, "the agent registered with it", || {
                until(SETTLE, || {
                    let (leader, statuses) = self.leader()?;
                    self.registered(leader, &statuses)
                })
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
        timed(
            checks,
            "Marathon accepts the app (mesos-role deploy)",
            || self.marathon_accepts_app(),
        );
        let every_node = timed(checks, "every node healthy (mesos-role status)", || {
            until(SETTLE, || self.healthy())
        });
        timed(checks, CHECK_MARATHON, || self.marathon_needs_credentials());
        timed(checks, CHECK_ZOOKEEPER, || {
            // The masters' timer closes the ACLs once ZooKeeper serves (docs/security.md).
            until(SETTLE, || self.zookeeper_refuses_anonymous())
        });
        if !self.agents().is_empty() {
            match registered {
                true => {
                    timed(checks, CHECK_WRONG_AGENT, || self.wrong_agent_secret());
                }
                false => checks.push(Check {
                    name: CHECK_WRONG_AGENT.into(),
                    outcome: Err(anyhow!("not run: the agent did not register")),
                    took: Duration::ZERO,
                }),
            }
        }
        if !(healthy && elected && registered && every_node) {
            checks.push(Check {
                name: "failover".into(),
                outcome: Err(anyhow!("not run: the cluster is not healthy")),
                took: Duration::ZERO,
            });
            return Ok(());
        }
        let leading = leader.expect("elected");
        if n == 1 {
            // Nothing to fail over to: the master is stopped and started again instead.
            let name = self.name(leading).to_string();
            timed(
                checks,
                &format!(
                    "restart: the only master ({name}) stopped and started: leads again, agent re-registered"
                ),
                || {
                    drop(self.nodes[leading].take());
                    self.rejoin(leading)
                },
            );
            return interrupted();
        }
        self.failover(checks, "leading master", leading)?;
        match until(SETTLE, || self.zookeeper_leader()) {
            Ok(i) => self.failover(checks, "ZooKeeper leader", i)?,
            Err(error) => checks.push(Check {
                name: "failover: stop the ZooKeeper leader".into(),
                outcome: Err(error),
                took: Duration::ZERO,
            }),
        }
        self.split_brain(checks)
    }

    /// The flags each running master runs with (Mesos' `/flags`, through mesos-role) against
    /// its rendered files and the inventory (all masters in the zk URL, the `/mesos` path).
    fn flags_as_rendered(&self) -> Result<String> {
        let hosts: Vec<String> = self
            .masters()
            .iter()
            .map(|&i| format!("{}:2181", self.entries[i].address))
            .collect();
        let zk = format!("zk://{}/mesos", hosts.join(","));
        for i in self.masters() {
            let node = self.node(i)?;
            let flags = until(SETTLE, || {
                let status = self.status(i)?;
                status
                    .pointer("/live/mesos_master/flags")
                    .cloned()
                    .with_context(|| format!("{}: the Mesos master does not answer", self.name(i)))
            })?;
            // An authenticated master runs with `--zk=file://` of a root-only file that holds the
            // URL with Mesos' digest user (docs/security.md); /flags shows the flag as given, so
            // the URL is the file's, read where the master reads it. Its hosts and path are the
            // inventory's all the same.
            let given = text(&flags["zk"]);
            let running_zk = match given.strip_prefix("file://") {
                Some(file) => without_userinfo(node.read(file)?.trim()),
                None => without_userinfo(&given),
            };
            if running_zk != zk {
                let shown = match given.starts_with("file://") {
                    true => format!("{given} (holding {running_zk})"),
                    false => given,
                };
                bail!(
                    "{}: mesos-master runs with --zk={shown} (/flags), want {zk}",
                    self.name(i),
                );
            }
            let mut want = Vec::new();
            for name in ["quorum", "work_dir", "cluster", "hostname", "ip"] {
                let text = node.read(&format!("/etc/mesos-master/{name}"))?;
                want.push((name.to_string(), text.trim().to_string()));
            }
            for (name, value) in want {
                if flags[&name] != value.as_str() {
                    bail!(
                        "{}: mesos-master runs with --{name}={} (/flags), want {value}",
                        self.name(i),
                        text(&flags[&name])
                    );
                }
            }
            // docs/security.md: /etc/mesos/zk names the root-only file that holds the URL.
            let mut rendered_zk = node.read("/etc/mesos/zk")?.trim().to_string();
            if let Some(file) = rendered_zk.strip_prefix("file://") {
                rendered_zk = without_userinfo(node.read(file)?.trim());
            }
            if rendered_zk != zk {
                bail!(
                    "{}: /etc/mesos/zk gives {rendered_zk:?}, the inventory gives {zk}",
                    self.name(i),
                );
            }
        }
        Ok(format!("zk {zk}"))
    }

    /// Every running master's Marathon names the same leader, one of them is it, and it is
    /// registered with the leading Mesos master.
    fn marathon_sees_leader(&self) -> Result<String> {
        let (leader, statuses) = self.leader()?;
        let want = format!("http://{}:5050/", self.entries[leader].address);
        let mut leaders = Vec::new();
        let mut this_node = Vec::new();
        for (i, status) in &statuses {
            let marathon = status
                .pointer("/live/marathon")
                .with_context(|| format!("Marathon on {} does not answer", self.name(*i)))?;
            let seen = &marathon["mesos_leader_ui_url"];
            if seen != want.as_str() {
                bail!(
                    "Marathon on {} sees the Mesos leader at {seen}, want {want}",
                    self.name(*i)
                );
            }
            leaders.push(marathon["leader"].clone());
            if marathon["this_node"] == true {
                this_node.push(self.name(*i));
            }
        }
        leaders.dedup();
        if leaders.len() != 1 || leaders[0].is_null() || this_node.len() != 1 {
            bail!(
                "Marathons name the leaders {leaders:?} and {this_node:?} lead; want one leader everywhere"
            );
        }
        Ok(format!("{want}; Marathon leader {}", this_node[0]))
    }

    /// The tutorial's app posted by `mesos-role deploy` on the first running master (to its
    /// Marathon, which proxies to the leader when it is a standby).
    fn marathon_accepts_app(&self) -> Result<String> {
        let i = *self.running_masters().first().context("no master")?;
        let node = self.node(i)?;
        node.exec(
            "write the app definition",
            &["sh", "-c", "printf '%s' \"$1\" > /root/app.json", "sh", APP],
        )?;
        let answer = node.exec(
            "deploy the tutorial's app with mesos-role",
            &["mesos-role", "deploy", "/root/app.json", "--no-wait"],
        )?;
        Ok(answer.trim().to_string())
    }

    /// Stops node `i` (`what` it was), checks that the rest settle, restarts it and checks that
    /// it rejoins.
    fn failover(&mut self, checks: &mut Vec<Check>, what: &str, i: usize) -> Result<()> {
        let name = self.name(i).to_string();
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
                    self.name(leader),
                    down.elapsed().as_secs_f64()
                ))
            },
        );
        timed(
            checks,
            &format!("failover: {name} rejoins after restart"),
            || self.rejoin(i),
        );
        interrupted()
    }

    /// Boots the stopped node `i` again and waits for the cluster to settle with it.
    fn rejoin(&mut self, i: usize) -> Result<String> {
        self.nodes[i] = Some(self.boot(i)?);
        let ensemble = until(SETTLE, || self.ensemble())?;
        let (leader, agents) = self.settled()?;
        Ok(format!(
            "{} leads, {agents}; ZooKeeper: {ensemble}",
            self.name(leader)
        ))
    }

    /// Two of three masters down: ZooKeeper has no quorum, and no master may claim to lead or
    /// name a leader (Mesos answers 503 everywhere).
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
                    for (&i, status) in survivors.iter().zip(self.statuses(&survivors)?) {
                        let master = status.pointer("/live/mesos_master").with_context(|| {
                            format!("{}: the Mesos master does not answer", self.name(i))
                        })?;
                        if master["leading"] == true || !master["leader"].is_null() {
                            bail!(
                                "{} still claims a leader: {}",
                                self.name(i),
                                master["leader"]
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
                let names: Vec<&str> = survivors.iter().map(|&i| self.name(i)).collect();
                Ok(format!("{names:?} name no leader for 10s"))
            },
        );
        Ok(())
    }
}

/// A debconf answer to preseed: question (without the package), type, value.
type Answer<'a> = (&'a str, &'a str, &'a str);

/// The security checks of issue 13 (docs/security.md), through public interfaces only: HTTP status
/// codes and JSON, and ZooKeeper's wire protocol, asked from inside the cluster's network.
impl Cluster {
    /// Node `entry`'s debconf answers: the inventory's, or open ones (no secret, `insecure` true)
    /// for a cluster that starts open.
    fn selections(&self, entry: &Entry) -> String {
        let secure = self.inventory.selections(entry, &self.secret);
        if self.mode == Mode::Secure {
            return secure;
        }
        let package = entry.role.package();
        let secret = match entry.role {
            Role::Master => "cluster-secret",
            Role::Agent => "agent-secret",
        };
        let mut text: String = secure
            .lines()
            .filter(|l| !l.contains(&format!("/{secret} ")))
            .map(|l| format!("{l}\n"))
            .collect();
        text.push_str(&format!("{package} {package}/{secret} password \n"));
        text.push_str(&format!("{package} {package}/insecure boolean true\n"));
        text
    }

    /// Preseeds `answers` (question, type, value) on node `i` through a 0600 file that is gone
    /// once debconf has them, then reconfigures its role as an operator does.
    fn reconfigure(&self, i: usize, answers: &[Answer]) -> Result<()> {
        let package = self.entries[i].role.package();
        let node = self.node(i)?;
        let text: String = answers
            .iter()
            .map(|(question, kind, value)| {
                format!("{package} {package}/{question} {kind} {value}\n")
            })
            .collect();
        // On its standard input: secrets never pass through an argument or a file.
        node.exec_input(
            "preseed new answers",
            &["debconf-set-selections"],
            text.as_bytes(),
        )?;
        node.exec(
            &format!("reconfigure {package}"),
            &["dpkg-reconfigure", "-fnoninteractive", package],
        )?;
        Ok(())
    }

    /// The node asking as a client of the cluster: an agent (it holds none of the masters'
    /// credentials), else a master.
    fn client(&self) -> Result<usize> {
        self.agents()
            .into_iter()
            .chain(self.masters())
            .find(|&i| self.nodes[i].is_some())
            .context("no running node")
    }

    /// The host's `args` (curl, nc, sh) run in node `from`'s network: a client where that node
    /// is, which needs no client tool installed on the nodes (a node from the bundle has none).
    fn client_command(&self, from: usize, args: &[&str]) -> std::process::Command {
        crate::cluster::netns::command_in(&self.netns[from], args)
    }

    /// A client's byte stream from node `from`'s network (see [`Cluster::client_command`]).
    fn client_pipe(&self, from: usize, args: &[&str]) -> Result<crate::cluster::nspawn::Pipe> {
        crate::cluster::nspawn::Pipe::spawn(
            self.client_command(from, args),
            &format!("{args:?} from {}'s network", self.name(from)),
        )
    }

    /// An HTTP GET from node `from`'s network with curl: the status and the body. Credentials
    /// (`principal:secret`) go on curl's standard input as its configuration, never into an
    /// argument. Redirects are followed (a Mesos master that does not lead answers 307).
    fn get(&self, from: usize, url: &str, user: Option<&str>) -> Result<(u16, String)> {
        use std::io::{Read, Write};
        let mut pipe = self.client_pipe(
            from,
            &[
                "curl",
                "-sS",
                "-L",
                "--max-time",
                "5",
                "-w",
                "\n%{http_code}",
                "-K",
                "-",
                url,
            ],
        )?;
        if let Some(user) = user {
            writeln!(pipe, "user = \"{user}\"")?;
        }
        pipe.close_input();
        let mut out = String::new();
        pipe.read_to_string(&mut out)?;
        let (body, code) = out.rsplit_once('\n').unwrap_or(("", out.as_str()));
        match code.trim().parse::<u16>() {
            Ok(code) if code != 0 => Ok((code, body.to_string())),
            _ => bail!("{url} does not answer (from {})", self.name(from)),
        }
    }

    /// Every running master's Marathon: 401 without credentials and with a wrong password, 200
    /// with the operator's credentials the node derives from the cluster secret.
    fn marathon_needs_credentials(&self) -> Result<String> {
        let from = self.client()?;
        let operator = format!(
            "operator:{}",
            crate::inputs::secrets::derive(self.secret.expose(), "operator")
        );
        let wrong = format!(
            "operator:{}",
            crate::inputs::secrets::derive(Secret::generate().expose(), "operator")
        );
        let masters = self.running_masters();
        for &i in &masters {
            let url = format!("http://{}:8080/v2/info", self.entries[i].address);
            for (what, user, want) in [
                ("without credentials", None, 401),
                ("with a wrong password", Some(wrong.as_str()), 401),
                ("with the node's credentials", Some(operator.as_str()), 200),
            ] {
                let (code, _) = until(SETTLE, || {
                    let (code, body) = self.get(from, &url, user)?;
                    // A Marathon without a leader yet answers 503 for a while.
                    match code {
                        503 => bail!("{url} {what}: 503 {}", body.trim()),
                        _ => Ok((code, body)),
                    }
                })?;
                if code != want {
                    bail!(
                        "Marathon on {} answers {code} {what} (GET /v2/info from {}), want {want}",
                        self.name(i),
                        self.name(from)
                    );
                }
            }
        }
        Ok(format!(
            "{} Marathons asked from {}: 401, 401 (wrong password), 200",
            masters.len(),
            self.name(from)
        ))
    }

    /// An anonymous ZooKeeper session (no AuthPacket) to a running master's ZooKeeper, through
    /// the host's `nc` in the client node's network.
    fn anonymous_zookeeper(
        &self,
    ) -> Result<(
        crate::cluster::zk::Session<crate::cluster::nspawn::Pipe>,
        String,
    )> {
        let from = self.client()?;
        let master = *self
            .running_masters()
            .first()
            .context("no running master")?;
        let address = &self.entries[master].address;
        let pipe = self.client_pipe(from, &["nc", address, "2181"])?;
        let session = crate::cluster::zk::Session::connect(pipe, 10_000).with_context(|| {
            format!(
                "ZooKeeper on {} from {}",
                self.name(master),
                self.name(from)
            )
        })?;
        Ok((
            session,
            format!("{}'s ZooKeeper from {}", self.name(master), self.name(from)),
        ))
    }

    /// An anonymous ZooKeeper client reads the leader-election nodes of Mesos (`/mesos/json.info_*`)
    /// and of Marathon (`/marathon/leader/*`) but ZooKeeper refuses it (NoAuth) to set their data
    /// or to delete them. Asked with a version the node does not have: ZooKeeper checks the ACL
    /// first, so an allowed write answers BadVersion and changes nothing (a delete would depose a
    /// leader).
    fn zookeeper_refuses_anonymous(&self) -> Result<String> {
        use crate::cluster::zk::{BAD_VERSION, NO_AUTH, code_name};
        /// No node of a fresh cluster has been written this often.
        const NO_SUCH_VERSION: i32 = i32::MAX;
        let (mut zk, whom) = self.anonymous_zookeeper()?;
        let mut refused = Vec::new();
        // Every write allowed, and the ACLs that allow them.
        let mut allowed = Vec::new();
        let mut acls = Vec::new();
        for (parent, prefix, required) in [
            ("/mesos", "json.info_", true),
            ("/marathon/leader", "", false),
        ] {
            let children = match zk.children(parent)? {
                Ok(children) => children,
                // Not even listable by anyone: Marathon's nodes are its own (CREATOR_ALL).
                Err(NO_AUTH) if !required => {
                    refused.push(format!("{parent} unreadable"));
                    continue;
                }
                Err(code) => bail!("{whom}: getChildren {parent}: {}", code_name(code)),
            };
            let nodes: Vec<String> = children
                .iter()
                .filter(|c| c.starts_with(prefix))
                .map(|c| format!("{parent}/{c}"))
                .collect();
            if required && nodes.is_empty() {
                bail!("{whom}: no {prefix}* node under {parent}: nobody contends");
            }
            let mut verdicts = Vec::new();
            for node in &nodes {
                verdicts.push((
                    "setData",
                    node.clone(),
                    zk.set_data(node, b"verify", NO_SUCH_VERSION)?,
                    node.clone(),
                ));
                verdicts.push((
                    "delete",
                    node.clone(),
                    zk.delete(node, NO_SUCH_VERSION)?,
                    parent.to_string(),
                ));
            }
            // The ACL that decides (a node's own for setData, its parent's for delete), named
            // in the failure.
            let mut acl = |path: &str| -> Result<String> {
                Ok(match zk.acl(path)? {
                    Ok(entries) => format!("ACL of {path}: {}", entries.join(",")),
                    Err(code) => format!("ACL of {path}: {}", code_name(code)),
                })
            };
            for (what, node, answer, decides) in verdicts {
                match answer {
                    Err(NO_AUTH) if what == "delete" => refused.push(node),
                    Err(NO_AUTH) => {}
                    Err(BAD_VERSION) | Ok(()) => {
                        let acl = acl(&decides)?;
                        if !acls.contains(&acl) {
                            acls.push(acl);
                        }
                        allowed.push(format!("{what} {node}"));
                    }
                    Err(code) => {
                        allowed.push(format!("{what} {node}: {}, want NoAuth", code_name(code)))
                    }
                }
            }
        }
        let _ = zk.close();
        if !allowed.is_empty() {
            bail!(
                "{whom}: ZooKeeper lets an anonymous client {} (BadVersion, not NoAuth; {})",
                allowed.join(", "),
                acls.join("; ")
            );
        }
        Ok(format!(
            "NoAuth on setData and delete of {} ({whom})",
            refused.join(", ")
        ))
    }

    /// The leading master's `/master/state` (asked of the running masters in turn, a standby's
    /// redirect followed) from node `from`.
    fn master_state(&self, from: usize) -> Result<Value> {
        let mut answers = Vec::new();
        for i in self.running_masters() {
            let url = format!("http://{}:5050/master/state", self.entries[i].address);
            match self.get(from, &url, None) {
                Ok((200, body)) => {
                    return serde_json::from_str(&body).with_context(|| format!("{url}: not JSON"));
                }
                Ok((code, body)) => {
                    answers.push(format!("{}: {code} {}", self.name(i), body.trim()))
                }
                Err(error) => answers.push(format!("{}: {error:#}", self.name(i))),
            }
        }
        bail!(
            "no leading master answers /master/state ({})",
            answers.join("; ")
        )
    }

    /// The first agent reconfigured with a wrong agent secret: the leading master stops listing
    /// it and never lists it again for longer than the agent takes to retry (systemd restarts a
    /// refused agent after 20 s); then its own secret again, and it registers.
    fn wrong_agent_secret(&self) -> Result<String> {
        let i = *self.agents().first().context("no agent in the inventory")?;
        let name = self.name(i).to_string();
        let address = self.entries[i].address.clone();
        let from = *self
            .running_masters()
            .first()
            .context("no running master")?;
        let wrong = Secret::generate().agent();
        self.reconfigure(
            i,
            &[
                ("agent-secret", "password", &wrong),
                ("insecure", "boolean", "false"),
            ],
        )?;
        let changed = Instant::now();
        // The old registration goes once the master stops hearing the old agent; then nothing
        // may list it for QUIET in a row.
        const QUIET: Duration = Duration::from_secs(30);
        let mut quiet_since: Option<Instant> = None;
        let outcome = loop {
            interrupted()?;
            let state = self.master_state(from);
            match state {
                Ok(state) if !active_agents_at(&state, &address).is_empty() => {
                    if quiet_since.is_some() {
                        break Err(anyhow!(
                            "the leading master lists {name} ({address}) with a wrong agent secret, {:.1}s after the reconfigure",
                            changed.elapsed().as_secs_f64()
                        ));
                    }
                    if changed.elapsed() > SETTLE {
                        break Err(anyhow!(
                            "the leading master still lists {name} {SETTLE:?} after its secret changed"
                        ));
                    }
                }
                Ok(_) => {
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= QUIET {
                        break Ok(());
                    }
                }
                Err(error) if changed.elapsed() > SETTLE + QUIET => break Err(error),
                Err(_) => {}
            }
            std::thread::sleep(Duration::from_secs(1));
        };
        // Its own secret again (or the open answers of an open cluster): it registers.
        let restore: [Answer; 2] = match self.mode {
            Mode::Insecure => [
                ("agent-secret", "password", ""),
                ("insecure", "boolean", "true"),
            ],
            _ => [
                ("agent-secret", "password", &self.secret.agent()),
                ("insecure", "boolean", "false"),
            ],
        };
        let restored = self.reconfigure(i, &restore).and_then(|()| self.settled());
        outcome?;
        let (leader, agents) =
            restored.context("the agent did not register again with its own secret")?;
        Ok(format!(
            "{name} unlisted for {}s in a row; with its own secret again {agents} ({} leads)",
            QUIET.as_secs(),
            self.name(leader)
        ))
    }

    /// docs/security.md's switch-over, node by node: masters with the secret and `insecure`
    /// true, agents with the agent secret, masters with `insecure` false; each waits for the
    /// cluster to settle. Meanwhile a thread asks at least every second, from the client node,
    /// whether a master leads (`/master/state` answered 200, redirects followed); the check fails
    /// naming the first moment none did, and the step in progress.
    fn switch_over(&self) -> Result<String> {
        use std::sync::Mutex;
        use std::sync::atomic::AtomicBool;
        let from = self.client()?;
        let addresses: Vec<String> = self
            .masters()
            .iter()
            .map(|&i| self.entries[i].address.clone())
            .collect();
        // The leader is the master whose answer is the 200 (after a standby's redirect): the
        // host of curl's effective URL.
        let script = format!(
            "for a in {}; do r=$(curl -s -L -o /dev/null -w '%{{http_code}} %{{url_effective}}' --max-time 0.8 http://$a:5050/master/state); case \"$r\" in '200 http://'*) u=${{r#200 http://}}; echo \"${{u%%:*}}\"; exit 0;; esac; done; exit 1",
            addresses.join(" ")
        );
        let step = Mutex::new(String::from("before the first step"));
        // Each master's reconfigures: (address, began, ended) in seconds since the start.
        let restarts: Mutex<Vec<(String, f64, f64)>> = Mutex::new(Vec::new());
        let done = AtomicBool::new(false);
        let start = Instant::now();
        // (seconds since start, step, leader's address or None)
        let polls: Mutex<Vec<(f64, String, Option<String>)>> = Mutex::new(Vec::new());
        let switched = std::thread::scope(|s| {
            s.spawn(|| {
                while !done.load(Ordering::SeqCst) && interrupted().is_ok() {
                    let asked = Instant::now();
                    let leader = self
                        .client_command(from, &["sh", "-c", &script])
                        .stdin(std::process::Stdio::null())
                        .stderr(std::process::Stdio::null())
                        .output()
                        .ok()
                        .filter(|out| out.status.success())
                        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string());
                    let at = start.elapsed().as_secs_f64();
                    let step = step.lock().map(|s| s.clone()).unwrap_or_default();
                    if let Ok(mut polls) = polls.lock() {
                        polls.push((at, step, leader));
                    }
                    std::thread::sleep(POLL.saturating_sub(asked.elapsed()));
                }
            });
            let result = (|| -> Result<()> {
                let secret = self.secret.expose().to_string();
                let agent_secret = self.secret.agent();
                let mut steps: Vec<(usize, &str, Vec<Answer>)> = Vec::new();
                for i in self.masters() {
                    steps.push((
                        i,
                        "1",
                        vec![
                            ("cluster-secret", "password", &secret),
                            ("insecure", "boolean", "true"),
                        ],
                    ));
                }
                for i in self.agents() {
                    steps.push((
                        i,
                        "2",
                        vec![
                            ("agent-secret", "password", &agent_secret),
                            ("insecure", "boolean", "false"),
                        ],
                    ));
                }
                for i in self.masters() {
                    steps.push((i, "3", vec![("insecure", "boolean", "false")]));
                }
                for (i, number, answers) in steps {
                    if let Ok(mut step) = step.lock() {
                        *step = format!("step {number}: reconfigure {}", self.name(i));
                    }
                    let began = start.elapsed().as_secs_f64();
                    self.reconfigure(i, &answers)?;
                    if self.entries[i].role == Role::Master
                        && let Ok(mut restarts) = restarts.lock()
                    {
                        restarts.push((
                            self.entries[i].address.clone(),
                            began,
                            start.elapsed().as_secs_f64(),
                        ));
                    }
                    if let Ok(mut step) = step.lock() {
                        *step = format!("step {number}: settle after {}", self.name(i));
                    }
                    until(SETTLE, || self.healthy())
                        .with_context(|| format!("step {number}: {} reconfigured", self.name(i)))?;
                    self.settled()
                        .with_context(|| format!("step {number}: {} reconfigured", self.name(i)))?;
                }
                Ok(())
            })();
            // One more poll after the last step.
            std::thread::sleep(POLL);
            done.store(true, Ordering::SeqCst);
            result
        });
        let took = start.elapsed().as_secs_f64();
        switched?;
        let polls = polls
            .into_inner()
            .map_err(|_| anyhow!("a poll thread panicked"))?;
        let restarts = restarts
            .into_inner()
            .map_err(|_| anyhow!("a step panicked"))?;
        // Each stretch of polls without a leader: allowed only right after the master that led
        // at the poll before was itself reconfigured (a failover), and no longer than FAILOVER.
        let name = |address: Option<&str>| {
            address
                .and_then(|a| self.entries.iter().find(|e| e.address == a))
                .map_or("none".to_string(), |e| e.name.clone())
        };
        let mut failovers = Vec::new();
        let mut k = 0;
        while k < polls.len() {
            if polls[k].2.is_some() {
                k += 1;
                continue;
            }
            let (at, step) = (polls[k].0, &polls[k].1);
            let before = k.checked_sub(1).and_then(|p| polls[p].2.as_deref());
            let back = polls[k..].iter().position(|p| p.2.is_some()).map(|n| k + n);
            let gap = back.map(|b| polls[b].0 - at);
            // The last master reconfigured before the gap opened is the one that led, and not long
            // before: its node in ZooKeeper lasts its old session, so the gap may open later.
            let last = restarts.iter().rev().find(|(_, began, _)| *began <= at);
            let restarted_leader = before.is_some_and(|leader| {
                last.is_some_and(|(address, _, ended)| {
                    address == leader && at <= ended + FAILOVER.as_secs_f64()
                })
            });
            match (back, gap) {
                (Some(b), Some(gap)) if restarted_leader && gap <= FAILOVER.as_secs_f64() => {
                    failovers.push(format!(
                        "{at:.1}s-{:.1}s ({step}; {} led, restarted, {} after)",
                        polls[b].0,
                        name(before),
                        name(polls[b].2.as_deref())
                    ));
                    k = b;
                }
                _ => bail!(
                    "no leading master at {at:.1}s of the switch-over ({step}; {} led before){}; masters reconfigured at {}; failovers before: {}",
                    name(before),
                    match gap {
                        Some(gap) => format!(", a leader again {gap:.1}s later"),
                        None => ", none again".to_string(),
                    },
                    restarts
                        .iter()
                        .map(|(a, began, ended)| format!(
                            "{} {began:.1}-{ended:.1}s",
                            name(Some(a))
                        ))
                        .collect::<Vec<_>>()
                        .join(", "),
                    match failovers.is_empty() {
                        true => "none".to_string(),
                        false => failovers.join(", "),
                    }
                ),
            }
        }
        let longest = polls
            .windows(2)
            .map(|w| w[1].0 - w[0].0)
            .fold(0.0, f64::max);
        let mut leaders: Vec<&str> = polls.iter().filter_map(|(_, _, l)| l.as_deref()).collect();
        leaders.dedup();
        Ok(format!(
            "{} polls in {took:.0}s, at most {longest:.1}s apart; a leader at each but in the failover after the leading master's own restart (at most {}s): {}; leaders in turn: {}",
            polls.len(),
            FAILOVER.as_secs(),
            match failovers.is_empty() {
                true => "none".to_string(),
                false => failovers.join(", "),
            },
            leaders.join(" -> ")
        ))
    }
}

/// A JSON value as text: strings without their quotes.
fn text(value: &Value) -> String {
    value
        .as_str()
        .map_or_else(|| value.to_string(), str::to_string)
}

#[cfg(test)]
mod tests {
    #[test]
    fn images_need_memory_for_every_vm() {
        let meminfo = |kib: u64| format!("MemTotal: 1 kB\nMemAvailable:   {kib} kB\n");
        assert!(super::enough_memory(&meminfo(4 * 2048 * 1024), 4).is_ok());
        let said = super::enough_memory(&meminfo(6 * 1024 * 1024), 4)
            .unwrap_err()
            .to_string();
        assert!(
            said.contains("boots 4 VMs of 2048 MiB: 8192 MiB, and this host has 6144 MiB"),
            "{said}"
        );
        assert!(super::enough_memory("MemTotal: 1 kB\n", 1).is_err());
    }

    use super::*;

    #[test]
    fn a_zookeeper_url_without_its_credentials() {
        assert_eq!(
            without_userinfo("zk://mesos:***@10.0.0.1:2181,10.0.0.2:2181/mesos"),
            "zk://10.0.0.1:2181,10.0.0.2:2181/mesos"
        );
        assert_eq!(without_userinfo("zk://h:2181/a@b"), "zk://h:2181/a@b");
        assert_eq!(without_userinfo("plain"), "plain");
    }
}
