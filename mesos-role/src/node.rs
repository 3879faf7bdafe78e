//! What this node is configured to be: the role packages installed (dpkg's status) and the files
//! they rendered from their debconf answers (docs/debconf.md, "What the answers become"), all read
//! under `--root`. The root-only files of docs/security.md are read only when mesos-role runs as
//! root, and nothing here keeps a secret: URLs are kept with their passwords masked.

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
    /// Runs as root: may read the node's secrets (`/etc/mesos-roles/secrets/`).
    privileged: bool,
}

/// The master role's rendered configuration.
#[derive(Serialize, Default)]
pub struct Master {
    /// Mesos' ZooKeeper URL, its password masked; the `file://` URL of /etc/mesos/zk when that
    /// file cannot be read (not root).
    pub zk: Option<String>,
    /// The masters' hosts of the ZooKeeper URL (none when it cannot be read).
    pub zk_hosts: Vec<String>,
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
    /// Marathon's ZooKeeper URL, its password masked (root only: it is in the secret env file).
    pub marathon_zk: Option<String>,
    pub marathon_port: u16,
    pub authentication: MasterAuthentication,
}

/// What a master requires (its Mesos flag files; docs/security.md, "What a node runs").
#[derive(Serialize, Default, Clone)]
pub struct MasterAuthentication {
    pub agents: bool,
    pub frameworks: bool,
    pub http_readwrite: bool,
    /// A credentials file is given (`--credentials`): credentials are offered, maybe not required.
    pub credentials: bool,
}

/// What an agent presents and requires.
#[derive(Serialize, Default, Clone)]
pub struct AgentAuthentication {
    /// `--credential`: the agent authenticates to the masters.
    pub credential: bool,
    pub http_readwrite: bool,
}

/// The agent role's rendered configuration.
#[derive(Serialize, Default)]
pub struct Agent {
    pub zk: Option<String>,
    pub ip: Option<String>,
    pub hostname: Option<String>,
    pub containerizers: Option<String>,
    pub port: u16,
    pub authentication: AgentAuthentication,
}

impl Node {
    /// The node under `root`, with the privileges this process has.
    pub fn new(root: &Path) -> Self {
        Self::with_privilege(root, running_as_root())
    }

    /// The node under `root`, read as root (`privileged`) or not.
    pub fn with_privilege(root: &Path, privileged: bool) -> Self {
        Self {
            root: root.to_path_buf(),
            privileged,
        }
    }

    pub fn privileged(&self) -> bool {
        self.privileged
    }

    /// A root-only file of the node's secrets; None when not root or absent.
    pub fn secret_text(&self, absolute: &str) -> Option<String> {
        if !self.privileged {
            return None;
        }
        std::fs::read_to_string(self.path(absolute)).ok()
    }

    /// Whether mesos-master-role is installed here.
    pub fn is_master(&self) -> bool {
        self.roles().iter().any(|r| r == MASTER_ROLE)
    }

    /// A flag file that holds `true`.
    fn flag_on(&self, absolute: &str) -> bool {
        self.value(absolute).as_deref() == Some("true")
    }

    /// /etc/mesos/zk: (the URL as shown, the hosts). A master's may be `file://` of a root-only
    /// file holding `zk://mesos:PASSWORD@hosts/mesos`, which is read when root.
    pub fn zk(&self) -> (Option<String>, Vec<String>) {
        let Some(zk) = self.value("/etc/mesos/zk") else {
            return (None, Vec::new());
        };
        let url = match zk.strip_prefix("file://") {
            Some(file) => match self.secret_text(file) {
                Some(text) => text.trim().to_string(),
                None => return (Some(zk), Vec::new()),
            },
            None => zk,
        };
        (Some(crate::credentials::mask(&url)), zk_hosts(&url))
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
        let text = crate::tools::dpkg_query(
            &self.root,
            "${Package} ${db:Status-Status}\n",
            &[MASTER_ROLE, AGENT_ROLE],
        );
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
        let (zk, zk_hosts) = self.zk();
        Master {
            zk,
            zk_hosts,
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
            marathon_master: get(&marathon, "MARATHON_MASTER")
                .map(|u| crate::credentials::mask(&u)),
            marathon_zk: get(&marathon, "MARATHON_ZK").map(|u| crate::credentials::mask(&u)),
            marathon_port: get(&marathon, "MARATHON_HTTP_PORT")
                .and_then(|p| p.parse().ok())
                .unwrap_or(8080),
            authentication: MasterAuthentication {
                agents: self.flag_on("/etc/mesos-master/authenticate_agents"),
                frameworks: self.flag_on("/etc/mesos-master/authenticate_frameworks"),
                http_readwrite: self.flag_on("/etc/mesos-master/authenticate_http_readwrite"),
                credentials: self.value("/etc/mesos-master/credentials").is_some(),
            },
        }
    }

    /// One variable of Marathon's environment (the last file that sets it wins).
    pub fn marathon_var(&self, name: &str) -> Option<String> {
        self.marathon_env()
            .into_iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    pub fn agent(&self) -> Agent {
        Agent {
            zk: self.value("/etc/mesos/zk"),
            ip: self.value("/etc/mesos-slave/ip"),
            hostname: self.value("/etc/mesos-slave/hostname"),
            containerizers: self.value("/etc/mesos-slave/containerizers"),
            port: self.mesos_port("slave", 5051),
            authentication: AgentAuthentication {
                credential: self.value("/etc/mesos-slave/credential").is_some(),
                http_readwrite: self.flag_on("/etc/mesos-slave/authenticate_http_readwrite"),
            },
        }
    }

    /// Marathon's environment as systemd gives it: /etc/default/marathon, then the role's file,
    /// then its root-only file (MARATHON_ZK, MARATHON_HTTP_CREDENTIALS; read as root only), each
    /// read after the one before and winning. It holds secrets: never show it whole.
    fn marathon_env(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for file in ["/etc/default/marathon", MARATHON_ENV] {
            let text = std::fs::read_to_string(self.path(file)).unwrap_or_default();
            pairs.extend(key_values(&text));
        }
        if let Some(text) = self.secret_text(crate::credentials::MARATHON_SECRET_ENV) {
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

/// Whether this process runs as root (its effective uid, from /proc/self/status).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
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
        let master = Node::with_privilege(&dir, true).master();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(master.marathon_port, 9090);
        assert_eq!(master.marathon_master.as_deref(), Some("zk://a:2181/mesos"));
        assert_eq!(master.mesos_port, 5050);
        assert_eq!(master.zk_client_port, 2181);
        assert_eq!(master.zk_four_letter_words, ["srvr"]);
    }

    #[test]
    fn secrets_are_read_as_root_only_and_never_kept_unmasked() {
        use crate::fixture::{self, OPERATOR_PASSWORD};
        let tree = fixture::master(1, true);
        let root = Node::with_privilege(tree.path(), true);
        let master = root.master();
        assert_eq!(
            master.zk.as_deref(),
            Some("zk://mesos:***@h1:2181,h2:2181,h3:2181/mesos")
        );
        assert_eq!(master.zk_hosts, ["h1", "h2", "h3"]);
        // The secret env file is read after the role's and wins.
        assert_eq!(
            master.marathon_zk.as_deref(),
            Some("zk://marathon:***@h1:2181,h2:2181,h3:2181/marathon")
        );
        assert!(master.authentication.agents && master.authentication.credentials);
        let json = serde_json::to_string(&master).unwrap();
        assert!(!fixture::shows_a_secret(&json), "{json}");
        let marathon = crate::credentials::Credentials::marathon(&root);
        assert_eq!(
            marathon.basic.map(|b| b.header()),
            Some(format!(
                "Basic {}",
                crate::credentials::tests::encode(&format!("operator:{OPERATOR_PASSWORD}"))
            ))
        );
        let mesos = crate::credentials::Credentials::mesos(&root, true);
        assert_eq!(mesos.basic.map(|b| b.user), Some("operator".into()));

        // Not root: the file:// URL as it is, no hosts from it, no credentials.
        let user = Node::with_privilege(tree.path(), false);
        let master = user.master();
        assert_eq!(
            master.zk.as_deref(),
            Some("file:///etc/mesos-roles/secrets/mesos-zk")
        );
        assert!(master.zk_hosts.is_empty());
        assert_eq!(
            master.marathon_zk.as_deref(),
            Some("zk://old:2181/marathon")
        );
        assert!(
            crate::credentials::Credentials::marathon(&user)
                .basic
                .is_none()
        );
        assert!(
            crate::credentials::Credentials::mesos(&user, true)
                .basic
                .is_none()
        );
    }
}
