//! The cluster inventory (`cluster.toml`): the one description of a cluster that `seeds`, `image` and
//! `verify` read. It is checked as a whole before anything is built; every error names the file, the
//! entry and the field, and says how to fix it. The per-node debconf answers are derived here, once,
//! so the seeds and `verify` hand nodes the same answers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::inputs::answers;
use crate::inputs::secrets::{self, Secret};
use crate::inputs::workspace::{SUITES, check_suite};

/// The accounts a Debian system or the images' packages have (base-passwd's static users and the
/// daemons installed on the nodes): never the admin user.
const SYSTEM_USERS: [&str; 28] = [
    "root",
    "daemon",
    "bin",
    "sys",
    "sync",
    "games",
    "man",
    "lp",
    "mail",
    "news",
    "uucp",
    "proxy",
    "www-data",
    "backup",
    "list",
    "irc",
    "gnats",
    "nobody",
    "messagebus",
    "sshd",
    "zookeeper",
    "marathon",
    "mesos",
    "docker",
    "dockremap",
    "syslog",
    "tss",
    "polkitd",
];

/// The example inventory's stand-in for a real SSH key (a valid key line that no one holds).
pub const PLACEHOLDER_KEY: &str = "ExampleKeyReplaceWithYourOwnPublicKey";

/// Architectures the images and closures are built for.
pub const ARCHITECTURES: [&str; 2] = ["amd64", "arm64"];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    pub cluster: Cluster,
    #[serde(default)]
    pub network: Network,
    pub admin: Admin,
    #[serde(default)]
    pub masters: Vec<Master>,
    #[serde(default)]
    pub agents: Vec<Agent>,
    /// The cluster's answers to the roles' other questions (`[settings.master]`, `[settings.agent]`).
    #[serde(default)]
    pub settings: Settings,
    /// The directory the inventory was read from: `secret_file` is relative to it.
    #[serde(skip)]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    /// Mesos' `--cluster`.
    pub name: String,
    pub suite: String,
    pub architecture: String,
    /// A Debian mirror URL for the base system; default: the build host's apt configuration.
    pub mirror: Option<String>,
    /// The file holding the cluster secret, relative to the inventory: default `cluster.secret`.
    pub secret_file: Option<String>,
}

/// How nodes reach each other. The addresses are the nodes'; this is the rest of their network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Network {
    #[serde(default = "default_prefix_len")]
    pub prefix_len: u8,
    pub gateway: Option<String>,
    #[serde(default)]
    pub dns: Vec<String>,
    /// The name the nodes' kernel gives the NIC the seeds configure.
    #[serde(default = "default_interface")]
    pub interface: String,
}

impl Default for Network {
    fn default() -> Self {
        Self {
            prefix_len: default_prefix_len(),
            gateway: None,
            dns: Vec::new(),
            interface: default_interface(),
        }
    }
}

fn default_prefix_len() -> u8 {
    24
}

/// The first virtio NIC of a qemu `pc` machine at PCI slot 3 (libvirt's and qemu's usual place).
fn default_interface() -> String {
    "ens3".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    #[serde(default = "default_admin_user")]
    pub user: String,
    pub ssh_keys: Vec<String>,
}

fn default_admin_user() -> String {
    "admin".to_string()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Master {
    pub name: String,
    pub address: String,
    /// ZooKeeper's myid; default: the master's 1-based position in the list.
    pub id: Option<u32>,
    /// This master's own answers, over the cluster's `[settings.master]`.
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    pub name: String,
    pub address: String,
    #[serde(default)]
    pub attributes: String,
    #[serde(default)]
    pub resources: String,
    /// This agent's own answers, over the cluster's `[settings.agent]`.
    #[serde(default)]
    pub settings: BTreeMap<String, toml::Value>,
}

/// Answers to a role's questions for every node of that role, by question name: TOML strings (or
/// integers, for the numbers), each checked by the question's answer syntax and kept in its normal
/// form. A node's own `settings` override these; questions given nowhere keep the package's default.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub master: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub agent: BTreeMap<String, toml::Value>,
}

/// The master role's questions an inventory may answer, in the order the answers are given.
pub const MASTER_SETTINGS: [&str; 9] = [
    "work-dir",
    "zookeeper-purge-interval",
    "zookeeper-snap-retain-count",
    "zookeeper-heap",
    "marathon-heap",
    "marathon-mesos-role",
    "marathon-framework-name",
    "marathon-task-launch-timeout",
    "extra-flags",
];

/// The agent role's questions an inventory may answer, in the order the answers are given.
pub const AGENT_SETTINGS: [&str; 9] = [
    "work-dir",
    "containerizers",
    "executor-registration-timeout",
    "isolation",
    "reconfiguration-policy",
    "gc-delay",
    "docker-remove-delay",
    "docker-registries",
    "extra-flags",
];

/// The setting that holds passwords: a `password` answer, and an inventory only its owner reads.
pub const REGISTRIES: &str = "docker-registries";

/// The questions that take a number (a TOML integer is fine for them).
const NUMBER_SETTINGS: [&str; 3] = [
    "zookeeper-purge-interval",
    "zookeeper-snap-retain-count",
    "marathon-task-launch-timeout",
];

/// Checks one setting of `role` with its question's answer syntax: its normal form.
fn setting(role: Role, key: &str, value: &str) -> answers::Answer<String> {
    match (role, key) {
        (_, "work-dir") => answers::abs_path(value),
        (Role::Master, "zookeeper-purge-interval") => answers::number(value, 0, 8760),
        (Role::Master, "zookeeper-snap-retain-count") => answers::number(value, 3, 1000),
        (Role::Master, "zookeeper-heap" | "marathon-heap") => answers::heap(value),
        (Role::Master, "marathon-mesos-role") => answers::mesos_role(value),
        (Role::Master, "marathon-framework-name") => answers::name(value),
        (Role::Master, "marathon-task-launch-timeout") => answers::number(value, 1000, 86_400_000),
        (Role::Master, "extra-flags") => answers::extra_flags("master", value),
        (Role::Agent, "containerizers") => answers::containerizers(value),
        (Role::Agent, "executor-registration-timeout" | "gc-delay" | "docker-remove-delay") => {
            answers::duration(value)
        }
        (Role::Agent, "isolation") => answers::isolation(value),
        (Role::Agent, "reconfiguration-policy") => answers::policy(value),
        (Role::Agent, "docker-registries") => answers::registries(value),
        (Role::Agent, "extra-flags") => answers::extra_flags("agent", value),
        _ => unreachable!("{key} is one of the role's settings"),
    }
}

/// Checks a table of settings of `role` found at `at` (`settings.agent`, `agents[0] (a1).settings`),
/// each value replaced by its normal form. Errors name `at.key`, the problem and the fix.
fn check_settings(role: Role, at: &str, table: &mut BTreeMap<String, toml::Value>) -> Result<()> {
    let (allowed, other, other_table, other_node) = match role {
        Role::Master => (&MASTER_SETTINGS, &AGENT_SETTINGS, "agent", "an agent"),
        Role::Agent => (&AGENT_SETTINGS, &MASTER_SETTINGS, "master", "a master"),
    };
    let role_name = match role {
        Role::Master => "master",
        Role::Agent => "agent",
    };
    for (key, value) in table.iter_mut() {
        let path = format!("{at}.{key}");
        if !allowed.contains(&key.as_str()) {
            let hint = if other.contains(&key.as_str()) {
                format!(
                    " (`{key}` is a question of the {other_table} role: answer it in [settings.{other_table}] or {other_node}'s settings)"
                )
            } else {
                String::new()
            };
            bail!(
                "{path}: `{key}` is not a setting of the {role_name} role{hint}: use one of {}",
                allowed.join(", ")
            );
        }
        let number = NUMBER_SETTINGS.contains(&key.as_str());
        let text = match value {
            toml::Value::String(text) => text.clone(),
            toml::Value::Integer(n) if number => n.to_string(),
            _ if number => bail!(
                "{path}: give a whole number or a string, as in {key} = 24 (not a {})",
                value.type_str()
            ),
            _ => bail!(
                "{path}: give a string, as in {key} = \"...\" (not a bare {})",
                value.type_str()
            ),
        };
        let normal = self::setting(role, key, &text).map_err(|e| field(&path, e))?;
        *value = toml::Value::String(normal);
    }
    Ok(())
}

/// Which role a node has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Master,
    Agent,
}

impl Role {
    /// The role's meta-package.
    pub fn package(self) -> &'static str {
        match self {
            Role::Master => "mesos-master-role",
            Role::Agent => "mesos-agent-role",
        }
    }

    /// The role as the bundle's `install.sh` names it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Agent => "agent",
        }
    }
}

/// One node of the inventory, whatever its role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub address: String,
    pub role: Role,
}

/// One debconf answer, as `debconf-set-selections` reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub question: String,
    /// debconf's type: `string`, or `password` for a secret (kept out of config.dat).
    pub kind: &'static str,
    pub value: String,
}

impl Inventory {
    /// Reads and checks `path`. The error names the file, the entry and the field.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the inventory {}", path.display()))?;
        let mut inventory =
            Self::parse(&text).with_context(|| format!("inventory {}", path.display()))?;
        if let Some(at) = inventory.registries_given().first() {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .with_context(|| format!("cannot read the inventory {}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o044 != 0 {
                bail!(
                    "inventory {shown}: {at}: holds passwords, but {shown} is readable by group or others (mode {:04o}): chmod 600 {shown}",
                    mode & 0o7777,
                    shown = path.display()
                );
            }
        }
        inventory.dir = path.parent().unwrap_or(Path::new("")).to_path_buf();
        Ok(inventory)
    }

    /// The cluster secret's file: `[cluster] secret_file` relative to the inventory's directory,
    /// `cluster.secret` beside it by default (docs/security.md, "Protecting the secret").
    pub fn secret_path(&self) -> PathBuf {
        let name = self
            .cluster
            .secret_file
            .as_deref()
            .unwrap_or(secrets::DEFAULT_FILE);
        self.dir.join(name)
    }

    /// Parses and checks an inventory's text.
    pub fn parse(text: &str) -> Result<Self> {
        let mut inventory: Inventory = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
        inventory.check()?;
        Ok(inventory)
    }

    /// The checks of an inventory whose seeds log someone in: the example's placeholder key would
    /// lock the admin out (password logins are off).
    pub fn check_logins(&self) -> Result<()> {
        for (i, key) in self.admin.ssh_keys.iter().enumerate() {
            if key.contains(PLACEHOLDER_KEY) {
                bail!(
                    "admin.ssh_keys[{i}]: this is the example's placeholder, not a key: put the contents of your ~/.ssh/id_ed25519.pub (or another public key) there, or nobody can log in to the nodes"
                );
            }
        }
        Ok(())
    }

    /// Checks every field and normalises the ones with a normal form (DNS names in lower case,
    /// `k:v;k:v`), so everything derived from the inventory is in normal form.
    fn check(&mut self) -> Result<()> {
        let cluster = &mut self.cluster;
        cluster.name = answers::name(&cluster.name).map_err(|e| field("cluster.name", e))?;
        if check_suite(&cluster.suite).is_err() {
            bail!(
                "cluster.suite: `{}` is not supported: use one of {}",
                cluster.suite,
                SUITES.join(", ")
            );
        }
        if !ARCHITECTURES.contains(&cluster.architecture.as_str()) {
            bail!(
                "cluster.architecture: `{}` is not supported: use one of {}",
                cluster.architecture,
                ARCHITECTURES.join(", ")
            );
        }
        if let Some(mirror) = &cluster.mirror
            && mirror.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            bail!(
                "cluster.mirror: {:?} has white space or a control character, which would write lines into the images' apt sources: give the URL alone, percent-encoded",
                mirror
            );
        }
        if let Some(mirror) = &cluster.mirror
            && !["http://", "https://", "file:/"]
                .iter()
                .any(|scheme| mirror.starts_with(scheme))
        {
            bail!(
                "cluster.mirror: `{mirror}` is not a mirror URL: give an http://, https:// or file:/ URL of a Debian mirror, or leave it out to use this host's apt configuration"
            );
        }
        if let Some(file) = &cluster.secret_file {
            secret_file(file).map_err(|e| field(secrets::FIELD, e))?;
        }
        self.check_network()?;
        self.check_admin()?;
        self.check_nodes()
    }

    fn check_network(&mut self) -> Result<()> {
        let network = &mut self.network;
        if !(8..=30).contains(&network.prefix_len) {
            bail!(
                "network.prefix_len: {} is out of range: give the nodes' subnet prefix length, 8 to 30 (24 for a /24)",
                network.prefix_len
            );
        }
        if let Some(gateway) = &mut network.gateway {
            *gateway = answers::ipv4(gateway).map_err(|e| field("network.gateway", e))?;
        }
        if network.interface == "lo" {
            bail!(
                "network.interface: `lo` is the loopback, not a NIC: give the name of the nodes' network card (ens3 for qemu's first virtio NIC)"
            );
        }
        for (i, dns) in network.dns.iter_mut().enumerate() {
            *dns = answers::ipv4(dns).map_err(|e| field(&format!("network.dns[{i}]"), e))?;
        }
        // The kernel's rule for interface names: 1-15 bytes, no `/`, `:` or white space.
        let name_ok = (1..=15).contains(&network.interface.len())
            && network
                .interface
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        if !name_ok {
            bail!(
                "network.interface: `{}` is not an interface name: give the name the nodes' kernel gives their NIC (1-15 letters, digits, `-`, `_`, `.`; ens3 for qemu's first virtio NIC, eth0 with net.ifnames=0)",
                network.interface
            );
        }
        Ok(())
    }

    fn check_admin(&mut self) -> Result<()> {
        let admin = &mut self.admin;
        let user_ok = admin
            .user
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
            && admin.user.len() <= 32
            && admin
                .user
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b));
        if !user_ok || admin.user == "root" {
            bail!(
                "admin.user: `{}` is not a usable user name: use lower-case letters, digits, `_` and `-`, starting with a letter, and not root",
                admin.user
            );
        }
        // The seeds create this user with sudo: an account the system or a package already has
        // (base-passwd's static users, `_apt`, `systemd-*`, the daemons of the images) must not get it.
        let system = SYSTEM_USERS.contains(&admin.user.as_str())
            || admin.user.starts_with('_')
            || admin.user.starts_with("systemd-");
        if system {
            bail!(
                "admin.user: `{}` is a system account on Debian: give the admin their own user name (admin, ops, ...)",
                admin.user
            );
        }
        if admin.ssh_keys.is_empty() {
            bail!(
                "admin.ssh_keys: no key given: list at least one SSH public key line (the contents of a ~/.ssh/id_*.pub file) so the admin user can log in"
            );
        }
        for (i, key) in admin.ssh_keys.iter_mut().enumerate() {
            *key = ssh_key(key).map_err(|e| field(&format!("admin.ssh_keys[{i}]"), e))?;
        }
        Ok(())
    }

    fn check_nodes(&mut self) -> Result<()> {
        if self.masters.is_empty() {
            bail!(
                "masters: no master given: add one [[masters]] entry per master (1, 3 or 5 of them), each with a name and an address"
            );
        }
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        let mut addresses: BTreeMap<String, String> = BTreeMap::new();
        let entries = self
            .masters
            .iter_mut()
            .map(|m| (&mut m.name, &mut m.address))
            .enumerate()
            .map(|(i, e)| (format!("masters[{i}]"), e))
            .chain(
                self.agents
                    .iter_mut()
                    .map(|a| (&mut a.name, &mut a.address))
                    .enumerate()
                    .map(|(i, e)| (format!("agents[{i}]"), e)),
            );
        for (entry, (name, address)) in entries {
            *name = node_name(name).map_err(|e| field(&format!("{entry}.name"), e))?;
            let at = format!("{entry} ({name})");
            *address = answers::ipv4(address).map_err(|e| field(&format!("{at}.address"), e))?;
            if let Some(other) = names.insert(name.clone(), entry.clone()) {
                bail!(
                    "{at}.name: `{name}` is also the name of {other}: give each node its own name"
                );
            }
            if let Some(other) = addresses.insert(address.clone(), entry.clone()) {
                bail!(
                    "{at}.address: {address} is also the address of {other}: give each node its own address"
                );
            }
        }
        self.check_subnet()?;
        for (i, master) in self.masters.iter().enumerate() {
            if let Some(id) = master.id
                && !(1..=255).contains(&id)
            {
                bail!(
                    "masters[{i}] ({}).id: {id} is out of range: give an id from 1 to 255, or leave it out to number masters by position",
                    master.name
                );
            }
        }
        // The list as the packages will read it: ids, duplicates and the odd count are checked there.
        answers::masters(&self.masters_answer()).map_err(|e| field("masters", e))?;
        for (i, agent) in self.agents.iter_mut().enumerate() {
            let at = format!("agents[{i}] ({})", agent.name);
            agent.attributes = answers::kv(&agent.attributes)
                .map_err(|e| field(&format!("{at}.attributes"), e))?;
            agent.resources =
                answers::kv(&agent.resources).map_err(|e| field(&format!("{at}.resources"), e))?;
            check_settings(Role::Agent, &format!("{at}.settings"), &mut agent.settings)?;
        }
        check_settings(Role::Master, "settings.master", &mut self.settings.master)?;
        check_settings(Role::Agent, "settings.agent", &mut self.settings.agent)?;
        for (i, master) in self.masters.iter_mut().enumerate() {
            let at = format!("masters[{i}] ({}).settings", master.name);
            check_settings(Role::Master, &at, &mut master.settings)?;
        }
        Ok(())
    }

    /// Where the inventory gives Docker registry passwords (a non-empty `docker-registries`): the
    /// field paths, the cluster's first.
    fn registries_given(&self) -> Vec<String> {
        let given = |table: &BTreeMap<String, toml::Value>| {
            table
                .get(REGISTRIES)
                .and_then(toml::Value::as_str)
                .is_some_and(|v| !v.is_empty())
        };
        let cluster = given(&self.settings.agent).then(|| format!("settings.agent.{REGISTRIES}"));
        let agents = self
            .agents
            .iter()
            .enumerate()
            .filter(|(_, a)| given(&a.settings))
            .map(|(i, a)| format!("agents[{i}] ({}).settings.{REGISTRIES}", a.name));
        cluster.into_iter().chain(agents).collect()
    }

    /// The answers `node` gets from the settings: its own over its role's, in the order of
    /// [`MASTER_SETTINGS`] or [`AGENT_SETTINGS`], only the questions answered somewhere.
    fn settings_of(&self, node: &Node) -> Vec<(&'static str, String)> {
        let (keys, cluster, own) = match node.role {
            Role::Master => (
                &MASTER_SETTINGS,
                &self.settings.master,
                self.masters
                    .iter()
                    .find(|m| m.name == node.name)
                    .map(|m| &m.settings),
            ),
            Role::Agent => (
                &AGENT_SETTINGS,
                &self.settings.agent,
                self.agents
                    .iter()
                    .find(|a| a.name == node.name)
                    .map(|a| &a.settings),
            ),
        };
        keys.iter()
            .filter_map(|key| {
                let value = own
                    .and_then(|own| own.get(*key))
                    .or_else(|| cluster.get(*key))?;
                Some((*key, value.as_str().unwrap_or_default().to_string()))
            })
            .collect()
    }

    /// Every node and the gateway in one subnet (the seeds give each node only its address and the
    /// prefix), and no address that is the subnet's own, its broadcast, or the loopback.
    fn check_subnet(&self) -> Result<()> {
        let prefix = u32::from(self.network.prefix_len);
        let mask = u32::MAX << (32 - prefix);
        let ip = |a: &str| -> u32 { a.parse::<std::net::Ipv4Addr>().map(u32::from).unwrap_or(0) };
        let nodes: Vec<(String, &str)> = self
            .masters
            .iter()
            .enumerate()
            .map(|(i, m)| (format!("masters[{i}] ({})", m.name), m.address.as_str()))
            .chain(
                self.agents
                    .iter()
                    .enumerate()
                    .map(|(i, a)| (format!("agents[{i}] ({})", a.name), a.address.as_str())),
            )
            .collect();
        let (first_at, first) = &nodes[0];
        let subnet = ip(first) & mask;
        let subnet_text = format!("{}/{prefix}", std::net::Ipv4Addr::from(subnet));
        for (at, address) in &nodes {
            let a = ip(address);
            if a >> 24 == 127 || a >> 28 == 14 || a == 0 {
                bail!(
                    "{at}.address: {address} is a loopback, multicast or unspecified address: give the node's address on the cluster's network"
                );
            }
            if a & mask != subnet {
                bail!(
                    "{at}.address: {address} is not in {subnet_text} (the subnet of {first_at}): put every node in one subnet, or widen network.prefix_len"
                );
            }
            if a == subnet || a == subnet | !mask {
                bail!(
                    "{at}.address: {address} is the subnet's own or broadcast address in {subnet_text}: give the node a host address"
                );
            }
        }
        if let Some(gateway) = &self.network.gateway
            && ip(gateway) & mask != subnet
        {
            bail!(
                "network.gateway: {gateway} is not in the nodes' subnet {subnet_text}: give a router on that subnet, or leave the gateway out on an isolated network"
            );
        }
        Ok(())
    }

    /// The master list in the packages' normal form (`id=address ...`).
    fn masters_answer(&self) -> String {
        self.masters
            .iter()
            .enumerate()
            .map(|(i, m)| format!("{}={}", m.id.unwrap_or(i as u32 + 1), m.address))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Every node, masters first, in inventory order.
    pub fn nodes(&self) -> Vec<Node> {
        let masters = self.masters.iter().map(|m| Node {
            name: m.name.clone(),
            address: m.address.clone(),
            role: Role::Master,
        });
        let agents = self.agents.iter().map(|a| Node {
            name: a.name.clone(),
            address: a.address.clone(),
            role: Role::Agent,
        });
        masters.chain(agents).collect()
    }

    /// The node called `name`, or an error listing the names there are.
    pub fn node(&self, name: &str) -> Result<Node> {
        let nodes = self.nodes();
        nodes
            .iter()
            .find(|n| n.name == name)
            .cloned()
            .with_context(|| {
                let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                format!(
                    "no node `{name}` in the inventory: use one of {}",
                    names.join(", ")
                )
            })
    }

    /// The debconf answers of `node`'s role package (docs/debconf.md). Masters are listed by
    /// address; hostnames are left empty so the packages advertise the address. A master gets the
    /// cluster secret, an agent only the agent secret derived from it (docs/security.md). Then the
    /// settings the inventory gives for the node (its own over its role's), `docker-registries` as a
    /// `password`; the questions it leaves out keep the package's default.
    pub fn answers(&self, node: &Node, secret: &Secret) -> Vec<Answer> {
        let package = node.role.package();
        let answer = |question: &str, kind: &'static str, value: &str| Answer {
            question: format!("{package}/{question}"),
            kind,
            value: value.to_string(),
        };
        let masters = self.masters_answer();
        let mut answers = match node.role {
            Role::Master => vec![
                answer("masters", "string", &masters),
                answer("self", "string", &node.address),
                answer("cluster-name", "string", &self.cluster.name),
                answer("cluster-secret", "password", secret.expose()),
            ],
            Role::Agent => {
                let agent = self
                    .agents
                    .iter()
                    .find(|a| a.name == node.name)
                    .expect("an agent node comes from the agents list");
                vec![
                    answer("masters", "string", &masters),
                    answer("ip", "string", &node.address),
                    answer("attributes", "string", &agent.attributes),
                    answer("resources", "string", &agent.resources),
                    answer("agent-secret", "password", &secret.agent()),
                ]
            }
        };
        for (key, value) in self.settings_of(node) {
            let kind = if key == REGISTRIES {
                "password"
            } else {
                "string"
            };
            answers.push(answer(key, kind, &value));
        }
        answers
    }

    /// `node`'s answers as `debconf-set-selections` input, one line per question. The secrets
    /// are of type `password`, which debconf keeps in its root-only passwords.dat.
    pub fn selections(&self, node: &Node, secret: &Secret) -> String {
        self.answers(node, secret)
            .iter()
            .map(|a| {
                format!(
                    "{} {} {} {}\n",
                    node.role.package(),
                    a.question,
                    a.kind,
                    a.value
                )
            })
            .collect()
    }
}

/// Prefixes an answer-syntax error with the field it was found in.
fn field(name: &str, message: String) -> anyhow::Error {
    anyhow::anyhow!("{name}: {message}")
}

/// `[cluster] secret_file`: a relative path to a file, in plain characters (it is shown in
/// messages and joined to the inventory's directory).
fn secret_file(input: &str) -> answers::Answer<()> {
    let shown = input.escape_debug();
    if input.trim().is_empty() {
        return Err(
            "it is empty: name the cluster secret's file relative to the inventory, or leave the field out for cluster.secret beside it".into(),
        );
    }
    if input.chars().any(char::is_control) {
        return Err(format!(
            "\"{shown}\" has a control character: name the cluster secret's file with plain characters, relative to the inventory (cluster.secret)"
        ));
    }
    if input.starts_with('/') || input.starts_with('~') {
        return Err(format!(
            "`{shown}` is not relative: give the path relative to the inventory's directory (e.g. cluster.secret or ../secrets/lab.secret)"
        ));
    }
    let last = Path::new(input).components().next_back();
    if input.ends_with('/') || !matches!(last, Some(std::path::Component::Normal(_))) {
        return Err(format!(
            "`{shown}` names a directory: name the file that holds the cluster secret (e.g. cluster.secret)"
        ));
    }
    Ok(())
}

/// A node name: a host name (one DNS label, or dotted labels), in lower case.
fn node_name(input: &str) -> answers::Answer<String> {
    let looks_numeric = input.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    // A node's name is its host name: Linux holds at most 64 bytes, one DNS label 63.
    if input.len() > 63 {
        return Err(format!(
            "`{}...` is {} characters long: give a host name of at most 63 (the rest of a domain goes in DNS, not here)",
            input.chars().take(20).collect::<String>(),
            input.len()
        ));
    }
    if input.trim().is_empty() || looks_numeric {
        return Err(format!(
            "`{input}` is not a node name: give a host name (letters, digits and `-`, as in master-1); the address goes in `address`"
        ));
    }
    answers::host(input)
}

/// An OpenSSH public key line: `<type> <base64> [comment]`.
fn ssh_key(input: &str) -> answers::Answer<String> {
    const TYPES: [&str; 6] = [
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
    ];
    let mut fields = input.split_whitespace();
    let kind = fields.next().unwrap_or_default();
    let body = fields.next().unwrap_or_default();
    let body_ok = body.len() >= 16
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
    if !TYPES.contains(&kind) || !body_ok {
        return Err(format!(
            "`{}` is not an SSH public key line: paste the whole line of a ~/.ssh/id_*.pub file, as in `ssh-ed25519 AAAAC3... admin@example`",
            input.chars().take(40).collect::<String>()
        ));
    }
    Ok(input.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A TOML syntax or type error on one line: where it is (line and field), what is wrong, the fix.
fn toml_error(text: &str, error: &toml::de::Error) -> anyhow::Error {
    let message = error.message().trim().replace('\n', "; ");
    let Some(span) = error.span() else {
        return anyhow::anyhow!(
            "{message}: fix the TOML (cluster.toml at the workspace root documents every field)"
        );
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    // The field: the table header above the line, and the key on it.
    let mut table = String::new();
    let mut key = String::new();
    for (n, l) in text.lines().enumerate().take(line) {
        let l = l.trim();
        if l.starts_with('[') {
            table = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            key.clear();
        } else if n + 1 == line {
            key = l.split('=').next().unwrap_or("").trim().to_string();
        }
    }
    let field = match (table.is_empty(), key.is_empty() || key.starts_with('#')) {
        (true, true) => String::new(),
        (false, true) => format!(" ({table})"),
        (true, false) => format!(" ({key})"),
        (false, false) => format!(" ({table}.{key})"),
    };
    anyhow::anyhow!(
        "line {line}{field}: {message}: fix that line (cluster.toml at the workspace root documents every field)"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm9Ukl3bWx0ZXN0a2V5b25seWZvcnRlc3Rz admin@example";

    fn inventory(masters: &str, agents: &str) -> String {
        format!(
            "[cluster]\nname = \"lab\"\nsuite = \"bookworm\"\narchitecture = \"amd64\"\n\
             [admin]\nssh_keys = [\"{KEY}\"]\n{masters}{agents}"
        )
    }

    fn master(name: &str, address: &str) -> String {
        format!("[[masters]]\nname = \"{name}\"\naddress = \"{address}\"\n")
    }

    fn error(text: &str) -> String {
        format!("{:#}", Inventory::parse(text).unwrap_err())
    }

    #[test]
    fn the_example_inventory_is_valid() {
        let example = crate::inputs::workspace::root().join("cluster.toml");
        let inventory = Inventory::load(&example).unwrap();
        assert_eq!(inventory.masters.len(), 3);
        assert_eq!(inventory.agents.len(), 1);
    }

    /// The example's commented settings, uncommented, are valid and reach the nodes.
    #[test]
    fn the_example_inventorys_commented_settings_are_valid() {
        let example = crate::inputs::workspace::root().join("cluster.toml");
        let text = std::fs::read_to_string(example).unwrap();
        let uncommented: String = text
            .lines()
            .map(|line| {
                let code = line.split("  #").next().unwrap_or_default().trim_end();
                match code.strip_prefix("# ") {
                    Some(rest)
                        if rest.starts_with("[settings.")
                            || rest.starts_with("settings = ")
                            || rest.split(" = ").next().is_some_and(|key| {
                                MASTER_SETTINGS.contains(&key) || AGENT_SETTINGS.contains(&key)
                            }) =>
                    {
                        format!("{rest}\n")
                    }
                    _ => format!("{line}\n"),
                }
            })
            .collect();
        let inventory = Inventory::parse(&uncommented).unwrap();
        assert_eq!(inventory.settings.master.len(), 2, "{uncommented}");
        assert_eq!(inventory.settings.agent.len(), 2, "{uncommented}");
        let agent = selections_of(&inventory, "agent-1");
        assert!(agent.contains("/gc-delay string 2days\n"), "{agent}");
        assert!(
            agent.contains("/docker-registries password registry.example.org=ann:PASSWORD\n"),
            "{agent}"
        );
        let master = selections_of(&inventory, "master-1");
        assert!(master.contains("/zookeeper-heap string 1g\n"), "{master}");
    }

    #[test]
    fn answers_follow_the_inventory() {
        let text = inventory(
            &(master("m1", "10.1.0.1") + &master("M2", "10.1.0.2") + &master("m3", "10.1.0.3")),
            "[[agents]]\nname = \"a1\"\naddress = \"10.1.0.9\"\nattributes = \" rack:r1 ; \"\n",
        );
        let inventory = Inventory::parse(&text).unwrap();
        let secret = Secret::new("0123456789abcdef0123456789abcdef").unwrap();
        let agent_secret = secrets::agent_secret(secret.expose());
        let m2 = inventory.node("m2").unwrap();
        assert_eq!(
            inventory.selections(&m2, &secret),
            "mesos-master-role mesos-master-role/masters string 1=10.1.0.1 2=10.1.0.2 3=10.1.0.3\n\
             mesos-master-role mesos-master-role/self string 10.1.0.2\n\
             mesos-master-role mesos-master-role/cluster-name string lab\n\
             mesos-master-role mesos-master-role/cluster-secret password 0123456789abcdef0123456789abcdef\n"
        );
        let a1 = inventory.node("a1").unwrap();
        let selections = inventory.selections(&a1, &secret);
        assert_eq!(
            selections,
            format!(
                "mesos-agent-role mesos-agent-role/masters string 1=10.1.0.1 2=10.1.0.2 3=10.1.0.3\n\
                 mesos-agent-role mesos-agent-role/ip string 10.1.0.9\n\
                 mesos-agent-role mesos-agent-role/attributes string rack:r1\n\
                 mesos-agent-role mesos-agent-role/resources string \n\
                 mesos-agent-role mesos-agent-role/agent-secret password {agent_secret}\n"
            )
        );
        assert!(!selections.contains(secret.expose()));
    }

    #[test]
    fn the_secret_file_is_relative_to_the_inventory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.toml");
        let text = inventory(&master("m1", "10.1.0.1"), "");
        std::fs::write(&path, &text).unwrap();
        assert_eq!(
            Inventory::load(&path).unwrap().secret_path(),
            dir.path().join("cluster.secret")
        );
        let named = text.replace(
            "architecture = \"amd64\"\n",
            "architecture = \"amd64\"\nsecret_file = \"../s/lab.secret\"\n",
        );
        std::fs::write(&path, named).unwrap();
        assert_eq!(
            Inventory::load(&path).unwrap().secret_path(),
            dir.path().join("../s/lab.secret")
        );
        for (value, says) in [
            ("/etc/shadow", "is not relative"),
            ("~/lab.secret", "is not relative"),
            ("", "it is empty"),
            ("a\\nb", "has a control character"),
            ("secrets/", "names a directory"),
            ("secrets/..", "names a directory"),
        ] {
            let text = text.replace(
                "architecture = \"amd64\"\n",
                &format!("architecture = \"amd64\"\nsecret_file = \"{value}\"\n"),
            );
            let message = error(&text);
            assert!(
                message.contains("cluster.secret_file: ") && message.contains(says),
                "{value}: {message}"
            );
            assert_eq!(message.lines().count(), 1, "{message}");
        }
    }

    #[test]
    fn bad_inventories_name_the_entry_and_field() {
        let one = master("m1", "10.1.0.1");
        let cases = [
            (
                inventory(&(one.clone() + &master("m2", "10.1.0.2")), ""),
                "masters: 2 masters given: use an odd number",
            ),
            (
                inventory(
                    &(one.clone() + &master("m1", "10.1.0.2") + &master("m3", "10.1.0.3")),
                    "",
                ),
                "masters[1] (m1).name: `m1` is also the name of masters[0]",
            ),
            (
                inventory(&one, "[[agents]]\nname = \"a1\"\naddress = \"10.1.0.1\"\n"),
                "agents[0] (a1).address: 10.1.0.1 is also the address of masters[0]",
            ),
            (
                inventory(&master("m1", "10.1.0.300"), ""),
                "masters[0] (m1).address: `10.1.0.300` is not a valid IPv4 address",
            ),
            (
                inventory(
                    "[[masters]]\nname = \"m1\"\naddress = \"10.1.0.1\"\nid = 0\n",
                    "",
                ),
                "masters[0] (m1).id: 0 is out of range",
            ),
            (
                inventory(
                    "[[masters]]\nname = \"m1\"\naddress = \"10.1.0.1\"\nid = 2\n",
                    &(master("m2", "10.1.0.2") + &master("m3", "10.1.0.3")),
                ),
                "masters: duplicate id 2",
            ),
            (
                inventory("[[masters]]\nname = \"m1\"\nadress = \"10.1.0.1\"\n", ""),
                "unknown field `adress`",
            ),
            (
                inventory(
                    &one,
                    "[[agents]]\nname = \"a1\"\naddress = \"10.1.0.9\"\nresources = \"cpus=4\"\n",
                ),
                "agents[0] (a1).resources: `cpus=4` is not of the form k:v",
            ),
            (inventory("", ""), "masters: no master given"),
            (
                inventory(&one, "").replace(KEY, "not a key"),
                "admin.ssh_keys[0]: `not a key` is not an SSH public key line",
            ),
            (
                inventory(&one, "").replace("bookworm", "buster"),
                "cluster.suite: `buster` is not supported",
            ),
            (
                inventory(&one, "") + "[network]\ninterface = \"eth0:1\"\n",
                "network.interface: `eth0:1` is not an interface name",
            ),
        ];
        for (text, expected) in cases {
            let message = error(&text);
            assert!(
                message.contains(expected),
                "expected `{expected}` in `{message}`"
            );
        }
    }

    fn three_masters_one_agent(master_settings: &str, agent_settings: &str) -> String {
        inventory(
            &(master("m1", "10.1.0.1")
                + &master("m2", "10.1.0.2")
                + &format!(
                    "{}settings = {{ {master_settings} }}\n",
                    master("m3", "10.1.0.3")
                )),
            &format!(
                "[[agents]]\nname = \"a1\"\naddress = \"10.1.0.9\"\nsettings = {{ {agent_settings} }}\n\
                 [[agents]]\nname = \"a2\"\naddress = \"10.1.0.10\"\n"
            ),
        )
    }

    fn selections_of(inventory: &Inventory, node: &str) -> String {
        let secret = Secret::new("0123456789abcdef0123456789abcdef").unwrap();
        inventory.selections(&inventory.node(node).unwrap(), &secret)
    }

    /// The cluster's settings reach every node of the role, in normal form; a node's own override
    /// them for that node only; a question given nowhere is no answer at all.
    #[test]
    fn settings_reach_the_nodes_and_a_nodes_own_override_the_clusters() {
        let text = three_masters_one_agent(
            "zookeeper-heap = \"2G\", marathon-task-launch-timeout = 600000",
            "isolation = \"posix/cpu\", docker-registries = \"Reg.IO=ann:pw\"",
        ) + "[settings.master]\nzookeeper-heap = \" 512M \"\nzookeeper-purge-interval = 24\n\
             extra-flags = \"max_completed_frameworks= 10 ;\"\n\
             [settings.agent]\nisolation = \"cgroups/cpu, cgroups/mem\"\ngc-delay = \"2days\"\n";
        let inventory = Inventory::parse(&text).unwrap();
        let m1 = selections_of(&inventory, "m1");
        let m3 = selections_of(&inventory, "m3");
        let a1 = selections_of(&inventory, "a1");
        let a2 = selections_of(&inventory, "a2");
        let master_tail = "mesos-master-role mesos-master-role/zookeeper-purge-interval string 24\n\
                           mesos-master-role mesos-master-role/zookeeper-heap string ";
        assert!(
            m1.ends_with(&format!(
                "{master_tail}512m\n\
                 mesos-master-role mesos-master-role/extra-flags string max_completed_frameworks=10\n"
            )),
            "{m1}"
        );
        assert!(
            m3.ends_with(&format!(
                "{master_tail}2g\n\
                 mesos-master-role mesos-master-role/marathon-task-launch-timeout string 600000\n\
                 mesos-master-role mesos-master-role/extra-flags string max_completed_frameworks=10\n"
            )),
            "{m3}"
        );
        assert!(
            a1.ends_with(
                "mesos-agent-role mesos-agent-role/isolation string posix/cpu\n\
                 mesos-agent-role mesos-agent-role/gc-delay string 2days\n\
                 mesos-agent-role mesos-agent-role/docker-registries password reg.io=ann:pw\n"
            ),
            "{a1}"
        );
        assert!(
            a2.ends_with(
                "mesos-agent-role mesos-agent-role/isolation string cgroups/cpu,cgroups/mem\n\
                 mesos-agent-role mesos-agent-role/gc-delay string 2days\n"
            ),
            "{a2}"
        );
        assert!(!a2.contains("docker-registries"), "{a2}");
        // Without settings, the answers are the inventory's alone (the package defaults apply).
        let plain = Inventory::parse(&three_masters_one_agent("", "")).unwrap();
        assert_eq!(selections_of(&plain, "m3").lines().count(), 4);
        assert_eq!(selections_of(&plain, "a1").lines().count(), 5);
    }

    /// A bad value, an unknown key, a wrong type: one line naming the field's path and the fix.
    #[test]
    fn bad_settings_are_refused_naming_their_path() {
        let cases = [
            (
                three_masters_one_agent("zookeeper-heap = \"2t\"", ""),
                "masters[2] (m3).settings.zookeeper-heap: `2t` is not a heap size",
            ),
            (
                three_masters_one_agent("", "reconfiguration-policy = \"Equal\""),
                "agents[0] (a1).settings.reconfiguration-policy: `Equal` is not a reconfiguration policy",
            ),
            (
                three_masters_one_agent("", "")
                    + "[settings.master]\nzookeeper-snap-retain-count = 2\n",
                "settings.master.zookeeper-snap-retain-count: `2` is out of range: give a number from 3 to 1000",
            ),
            (
                three_masters_one_agent("", "")
                    + "[settings.master]\nzookeeper-purge-interval = -1\n",
                "settings.master.zookeeper-purge-interval: `-1` is not a number",
            ),
            (
                three_masters_one_agent("", "") + "[settings.agent]\nisolation = \"cgroups\"\n",
                "settings.agent.isolation: isolator `cgroups` is deprecated: write cgroups/cpu,cgroups/mem instead",
            ),
            (
                three_masters_one_agent("", "")
                    + "[settings.agent]\nextra-flags = \"work_dir=/srv/m\"\n",
                "settings.agent.extra-flags: flag `work_dir` is set by the agent role: answer work-dir instead",
            ),
            (
                three_masters_one_agent("marathon-mesos-role = \"-x\"", ""),
                "masters[2] (m3).settings.marathon-mesos-role: `-x` is not a valid Mesos role",
            ),
            (
                three_masters_one_agent("", "work-dir = \"/etc/mesos\""),
                "agents[0] (a1).settings.work-dir: `/etc/mesos` is a system directory",
            ),
            (
                three_masters_one_agent("zookeeper-heapsize = \"1g\"", ""),
                "masters[2] (m3).settings.zookeeper-heapsize: `zookeeper-heapsize` is not a setting of the master role: use one of work-dir, zookeeper-purge-interval,",
            ),
            (
                three_masters_one_agent("", "") + "[settings.master]\nisolation = \"posix/cpu\"\n",
                "settings.master.isolation: `isolation` is not a setting of the master role (`isolation` is a question of the agent role: answer it in [settings.agent]",
            ),
            (
                three_masters_one_agent("", "gc-delay = 5"),
                "agents[0] (a1).settings.gc-delay: give a string, as in gc-delay = \"...\" (not a bare integer)",
            ),
            (
                three_masters_one_agent("zookeeper-purge-interval = 1.5", ""),
                "masters[2] (m3).settings.zookeeper-purge-interval: give a whole number or a string, as in zookeeper-purge-interval = 24 (not a float)",
            ),
            (
                three_masters_one_agent("", "") + "[settings.cluster]\nwork-dir = \"/srv/m\"\n",
                "unknown field `cluster`, expected `master` or `agent`",
            ),
        ];
        for (text, expected) in cases {
            let message = error(&text);
            assert!(
                message.contains(expected),
                "expected `{expected}` in `{message}`"
            );
            assert_eq!(message.lines().count(), 1, "{message}");
        }
        // A bad password is never shown.
        let message = error(&three_masters_one_agent(
            "",
            "docker-registries = \"reg.io=ann:s3cr3t reg.io=bob:hunter22\"",
        ));
        assert!(
            message.contains("agents[0] (a1).settings.docker-registries: docker registries: registry `reg.io` is given twice"),
            "{message}"
        );
        assert!(
            !message.contains("s3cr3t") && !message.contains("hunter22"),
            "{message}"
        );
    }

    /// Registry passwords in an inventory others may read are refused, naming the fix; the same
    /// file made private is read; an inventory without them may be readable by all.
    #[test]
    fn registry_passwords_need_an_inventory_only_its_owner_reads() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.toml");
        let set_mode = |mode: u32| {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap()
        };
        let with = three_masters_one_agent("", "")
            + "[settings.agent]\ndocker-registries = \"reg.io=ann:s3cr3t\"\n";
        std::fs::write(&path, &with).unwrap();
        for mode in [0o644, 0o640, 0o604] {
            set_mode(mode);
            let message = format!("{:#}", Inventory::load(&path).unwrap_err());
            assert!(
                message.contains(&format!(
                    "settings.agent.docker-registries: holds passwords, but {} is readable by group or others (mode {mode:04o}): chmod 600 {}",
                    path.display(),
                    path.display()
                )),
                "{message}"
            );
            assert!(!message.contains("s3cr3t"), "{message}");
            assert_eq!(message.lines().count(), 1, "{message}");
        }
        set_mode(0o600);
        let inventory = Inventory::load(&path).unwrap();
        assert!(
            selections_of(&inventory, "a2")
                .contains("docker-registries password reg.io=ann:s3cr3t\n")
        );
        // A node's own registries count too.
        std::fs::write(
            &path,
            three_masters_one_agent("", "docker-registries = \"reg.io=ann:s3cr3t\""),
        )
        .unwrap();
        set_mode(0o644);
        let message = format!("{:#}", Inventory::load(&path).unwrap_err());
        assert!(
            message.contains("agents[0] (a1).settings.docker-registries: holds passwords"),
            "{message}"
        );
        // Without passwords (none, or an empty list), anyone may read it.
        for text in [
            three_masters_one_agent("", ""),
            three_masters_one_agent("", "docker-registries = \"\""),
        ] {
            std::fs::write(&path, text).unwrap();
            set_mode(0o644);
            Inventory::load(&path).unwrap();
        }
    }

    /// The network and name rules of a cluster: each hostile entry refused naming its field.
    #[test]
    fn hostile_network_and_names_are_refused_naming_the_field() {
        let master =
            |address: &str| format!("[[masters]]\nname = \"m1\"\naddress = \"{address}\"\n");
        let agent = "[[agents]]\nname = \"a1\"\naddress = \"10.0.0.21\"\n";
        let long = "n".repeat(64);
        let cases: Vec<(String, &str)> = vec![
            (
                inventory(&master("127.0.0.1"), ""),
                "masters[0] (m1).address: 127.0.0.1 is a loopback",
            ),
            (
                inventory(&master("10.0.0.255"), ""),
                "is the subnet's own or broadcast address",
            ),
            (
                inventory(&master("10.0.0.0"), ""),
                "is the subnet's own or broadcast address",
            ),
            (
                inventory(&master("10.0.1.11"), agent),
                "agents[0] (a1).address: 10.0.0.21 is not in 10.0.1.0/24",
            ),
            (
                inventory(
                    &format!("[[masters]]\nname = \"{long}\"\naddress = \"10.0.0.11\"\n"),
                    "",
                ),
                "masters[0].name: `nnnnnnnnnnnnnnnnnnnn...` is 64 characters long",
            ),
            (
                inventory(&master("10.0.0.11"), "")
                    .replace("[admin]\n", "[admin]\nuser = \"daemon\"\n"),
                "admin.user: `daemon` is a system account",
            ),
            (
                inventory(&master("10.0.0.11"), "")
                    .replace("[admin]\n", "[admin]\nuser = \"_apt\"\n"),
                "admin.user: `_apt` is a system account",
            ),
            (
                inventory(&master("10.0.0.11"), "").replace(
                    "architecture = \"amd64\"\n",
                    "architecture = \"amd64\"\nmirror = \"http://m/debian\\nTrusted: yes\"\n",
                ),
                "cluster.mirror: \"http://m/debian\\nTrusted: yes\" has white space or a control character",
            ),
            (
                inventory(&master("10.0.0.11"), "")
                    .replace("[admin]\n", "[network]\ninterface = \"lo\"\n[admin]\n"),
                "network.interface: `lo` is the loopback",
            ),
        ];
        for (text, says) in &cases {
            let error = format!("{:#}", Inventory::parse(text).unwrap_err());
            assert!(error.contains(says), "{says}: {error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
        Inventory::parse(&inventory(&master("10.0.0.11"), agent)).unwrap();
    }
}
