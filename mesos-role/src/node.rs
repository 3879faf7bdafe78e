//! What this node is configured to be: the role packages installed (dpkg's status) and the files
//! they rendered from their debconf answers (docs/debconf.md, "What the answers become"), all read
//! under `--root`.

use std::path::{Path, PathBuf};

use serde::Serialize;

pub const MASTER_ROLE: &str = "mesos-master-role";
pub const AGENT_ROLE: &str = "mesos-agent-role";
pub const ZOO_CFG: &str = "/etc/zookeeper/conf_mesos-roles/zoo.cfg";
pub const ZOO_MYID: &str = "/etc/zookeeper/conf_mesos-roles/myid";
pub const MARATHON_ENV: &str = "/etc/mesos-roles/marathon.env";
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";

pub struct Node {
    root: PathBuf,
}

/// The master role's rendered configuration.
#[derive(Serialize, Default)]
pub struct Master {
    pub zk: Option<String>,
    pub quorum: Option<String>,
    pub cluster: Option<String>,
    pub hostname: Option<String>,
    pub ip: Option<String>,
    pub mesos_port: u16,
    pub zk_client_port: u16,
    /// `server.<id>=<host>` of zoo.cfg, in file order.
    pub zk_servers: Vec<(String, String)>,
    pub zk_myid: Option<String>,
    /// `4lw.commands.whitelist`: the four-letter words ZooKeeper answers.
    pub zk_four_letter_words: Vec<String>,
    pub marathon_master: Option<String>,
    pub marathon_zk: Option<String>,
    pub marathon_port: u16,
}

/// The agent role's rendered configuration.
#[derive(Serialize, Default)]
pub struct Agent {
    pub zk: Option<String>,
    pub ip: Option<String>,
    pub hostname: Option<String>,
    pub containerizers: Option<String>,
    pub port: u16,
}

impl Node {
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// An absolute path of the node, under the root.
    pub fn path(&self, absolute: &str) -> PathBuf {
        self.root.join(absolute.trim_start_matches('/'))
    }

    /// A one-value file (a Mesos flag file), trimmed; None when absent or empty.
    pub fn value(&self, absolute: &str) -> Option<String> {
        let text = std::fs::read_to_string(self.path(absolute)).ok()?;
        let value = text.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    /// The role packages dpkg has installed (unpacked, configured or half-way), in a fixed order.
    /// Asked of dpkg-query with `--root`, so that an image's own database answers.
    pub fn roles(&self) -> Vec<String> {
        let out = std::process::Command::new("dpkg-query")
            .arg(format!("--root={}", self.root.display()))
            .args([
                "-W",
                "-f",
                "${Package} ${db:Status-Status}\n",
                MASTER_ROLE,
                AGENT_ROLE,
            ])
            .stderr(std::process::Stdio::null())
            .output();
        // dpkg-query exits 1 when one of the two is unknown: its output still holds the other.
        let text = out
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default();
        installed_roles(&text)
    }

    /// Whether `role` rendered its files: an inert install (no masters given) renders none.
    pub fn configured(&self, role: &str) -> bool {
        match role {
            MASTER_ROLE => self.path(ZOO_CFG).exists() || self.path(MARATHON_ENV).exists(),
            _ => self.path("/etc/mesos-slave/ip").exists(),
        }
    }

    pub fn master(&self) -> Master {
        let zoo = std::fs::read_to_string(self.path(ZOO_CFG)).unwrap_or_default();
        let zoo = key_values(&zoo);
        let marathon = self.marathon_env();
        let get = |pairs: &[(String, String)], key: &str| {
            pairs
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        Master {
            zk: self.value("/etc/mesos/zk"),
            quorum: self.value("/etc/mesos-master/quorum"),
            cluster: self.value("/etc/mesos-master/cluster"),
            hostname: self.value("/etc/mesos-master/hostname"),
            ip: self.value("/etc/mesos-master/ip"),
            mesos_port: self.mesos_port("master", 5050),
            zk_client_port: get(&zoo, "clientPort")
                .and_then(|p| p.parse().ok())
                .unwrap_or(2181),
            zk_servers: zoo
                .iter()
                .filter_map(|(k, v)| {
                    let id = k.strip_prefix("server.")?;
                    Some((id.to_string(), v.split(':').next().unwrap_or(v).to_string()))
                })
                .collect(),
            zk_myid: self.value(ZOO_MYID),
            zk_four_letter_words: get(&zoo, "4lw.commands.whitelist")
                .map(|v| v.split(',').map(|w| w.trim().to_string()).collect())
                .unwrap_or_else(|| vec!["srvr".into()]),
            marathon_master: get(&marathon, "MARATHON_MASTER"),
            marathon_zk: get(&marathon, "MARATHON_ZK"),
            marathon_port: get(&marathon, "MARATHON_HTTP_PORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(8080),
        }
    }

    pub fn agent(&self) -> Agent {
        Agent {
            zk: self.value("/etc/mesos/zk"),
            ip: self.value("/etc/mesos-slave/ip"),
            hostname: self.value("/etc/mesos-slave/hostname"),
            containerizers: self.value("/etc/mesos-slave/containerizers"),
            port: self.mesos_port("slave", 5051),
        }
    }

    /// Marathon's environment as systemd gives it: /etc/default/marathon, then the role's file,
    /// which is read after it and wins.
    fn marathon_env(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for file in ["/etc/default/marathon", MARATHON_ENV] {
            let text = std::fs::read_to_string(self.path(file)).unwrap_or_default();
            pairs.extend(key_values(&text));
        }
        pairs
    }

    /// The daemon's port: a `port` flag file, else PORT in /etc/default/mesos-<daemon>, else Mesos'
    /// default.
    fn mesos_port(&self, daemon: &str, default: u16) -> u16 {
        if let Some(port) = self.value(&format!("/etc/mesos-{daemon}/port")) {
            return port.parse().unwrap_or(default);
        }
        let text = std::fs::read_to_string(self.path(&format!("/etc/default/mesos-{daemon}")))
            .unwrap_or_default();
        key_values(&text)
            .into_iter()
            .rev()
            .find(|(k, _)| k == "PORT")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(default)
    }
}

/// The running system's host name (the kernel's, as gethostname(2) gives it).
pub fn own_hostname() -> anyhow::Result<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_err(|e| anyhow::anyhow!("cannot read this system's host name: {e}"))?;
    Ok(name.trim().to_string())
}

/// The hosts of a `zk://h1:2181,h2:2181/path` URL.
pub fn zk_hosts(url: &str) -> Vec<String> {
    let rest = url.strip_prefix("zk://").unwrap_or(url);
    let hosts = rest.split('/').next().unwrap_or_default();
    let hosts = hosts.rsplit('@').next().unwrap_or_default();
    hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|h| h.split(':').next().unwrap_or(h).to_string())
        .collect()
}

/// `key=value` lines (zoo.cfg, environment files); comments and other lines are skipped, quotes
/// around a value dropped.
fn key_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// The role packages of dpkg-query's `<package> <status>` lines whose status is not
/// "not-installed" or "config-files" (removed, not purged).
fn installed_roles(lines: &str) -> Vec<String> {
    let mut roles: Vec<String> = lines
        .lines()
        .filter_map(|line| line.split_once(' '))
        .filter(|(package, state)| {
            [MASTER_ROLE, AGENT_ROLE].contains(package)
                && !matches!(state.trim(), "not-installed" | "config-files")
        })
        .map(|(package, _)| package.to_string())
        .collect();
    roles.sort_by_key(|r| r != MASTER_ROLE);
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_roles_from_dpkg_query() {
        let lines = "mesos-master-role config-files\nmesos-agent-role half-configured\n";
        assert_eq!(installed_roles(lines), ["mesos-agent-role"]);
        let lines = "mesos-agent-role installed\nmesos-master-role installed\n";
        assert_eq!(
            installed_roles(lines),
            ["mesos-master-role", "mesos-agent-role"]
        );
        assert!(installed_roles("mesos installed\n").is_empty());
    }

    #[test]
    fn zk_hosts_of_a_url() {
        assert_eq!(
            zk_hosts("zk://10.0.0.1:2181,m2.example.org:2181/mesos"),
            ["10.0.0.1", "m2.example.org"]
        );
        assert_eq!(zk_hosts("zk://user:pw@h:2181/mesos"), ["h"]);
    }

    #[test]
    fn the_role_file_overrides_marathons_defaults() {
        let dir = std::env::temp_dir().join(format!("mesos-role-node-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("etc/default")).unwrap();
        std::fs::create_dir_all(dir.join("etc/mesos-roles")).unwrap();
        std::fs::write(
            dir.join("etc/default/marathon"),
            "MARATHON_HTTP_PORT=9090\nMARATHON_MASTER=x\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("etc/mesos-roles/marathon.env"),
            "# c\nMARATHON_MASTER=zk://a:2181/mesos\n",
        )
        .unwrap();
        let master = Node::new(&dir).master();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(master.marathon_port, 9090);
        assert_eq!(master.marathon_master.as_deref(), Some("zk://a:2181/mesos"));
        assert_eq!(master.mesos_port, 5050);
        assert_eq!(master.zk_client_port, 2181);
        assert_eq!(master.zk_four_letter_words, ["srvr"]);
    }
}
