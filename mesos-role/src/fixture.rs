//! Test fixtures: a node's files in a scratch tree, and an HTTP server that answers 401 to every
//! request and keeps the requests' heads (to see which credentials were sent).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The passwords the fixtures' secret files hold: no output may show them.
pub const ZK_PASSWORD: &str = "zkpw0123456789abcdef";
pub const MARATHON_ZK_PASSWORD: &str = "mzkpw0123456789abcdef";
pub const OPERATOR_PASSWORD: &str = "operatorpw0123456789abcdef";
pub const AGENT_OPERATOR_PASSWORD: &str = "agentoperatorpw0123456789";

/// A scratch tree, removed when dropped.
pub struct Tree(pub PathBuf);

impl Tree {
    pub fn new(name: &str) -> Self {
        static COUNT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("mesos-role-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    pub fn write(&self, absolute: &str, text: &str) -> &Self {
        let path = self.0.join(absolute.trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        self
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A master as mesos-master-role renders it with authentication (docs/security.md), its Mesos
/// and Marathon on `port` (the 401 server), its ZooKeeper on a port nothing listens on.
pub fn master(port: u16, authenticated: bool) -> Tree {
    let tree = Tree::new("master");
    tree.write(
        "/var/lib/dpkg/status",
        "Package: mesos-master-role\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n",
    )
    .write("/etc/mesos-master/ip", "127.0.0.1")
    .write("/etc/mesos-master/port", &port.to_string())
    .write("/etc/mesos-master/quorum", "2")
    .write(
        "/etc/zookeeper/conf_mesos-roles/zoo.cfg",
        "clientPort=1\nserver.1=h1:2888:3888\nserver.2=h2:2888:3888\nserver.3=h3:2888:3888\n",
    )
    .write("/etc/zookeeper/conf_mesos-roles/myid", "1")
    .write(
        "/etc/mesos-roles/marathon.env",
        &format!("MARATHON_MASTER=zk://h1:2181,h2:2181,h3:2181/mesos\nMARATHON_ZK=zk://old:2181/marathon\nMARATHON_HTTP_PORT={port}\n"),
    )
    .write(
        "/etc/mesos-roles/secrets/mesos-zk",
        &format!("zk://mesos:{ZK_PASSWORD}@h1:2181,h2:2181,h3:2181/mesos\n"),
    )
    .write(
        "/etc/mesos-roles/secrets/marathon.env",
        &format!(
            "MARATHON_ZK=zk://marathon:{MARATHON_ZK_PASSWORD}@h1:2181,h2:2181,h3:2181/marathon\nMARATHON_HTTP_CREDENTIALS=operator:{OPERATOR_PASSWORD}\n"
        ),
    )
    .write(
        "/etc/mesos-roles/secrets/mesos-credentials",
        &format!(
            r#"{{"credentials":[{{"principal":"agent","secret":"a"}},{{"principal":"marathon","secret":"m"}},{{"principal":"operator","secret":"{OPERATOR_PASSWORD}"}}]}}"#
        ),
    );
    if authenticated {
        tree.write("/etc/mesos/zk", "file:///etc/mesos-roles/secrets/mesos-zk")
            .write("/etc/mesos-master/authenticate_agents", "true")
            .write("/etc/mesos-master/authenticate_frameworks", "true")
            .write("/etc/mesos-master/authenticate_http_readwrite", "true")
            .write(
                "/etc/mesos-master/credentials",
                "/etc/mesos-roles/secrets/mesos-credentials",
            );
    } else {
        tree.write("/etc/mesos/zk", "zk://h1:2181,h2:2181,h3:2181/mesos");
    }
    tree
}

/// An agent, its Mesos on `port`, authenticated or as an older version left it.
pub fn agent(port: u16, authenticated: bool) -> Tree {
    let tree = Tree::new("agent");
    tree.write(
        "/var/lib/dpkg/status",
        "Package: mesos-agent-role\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n\n",
    )
    .write("/etc/mesos/zk", "zk://h1:2181,h2:2181,h3:2181/mesos")
    .write("/etc/mesos-slave/ip", "127.0.0.1")
    .write("/etc/mesos-slave/port", &port.to_string())
    .write(
        "/etc/mesos-roles/secrets/agent-http-credentials",
        &format!(
            r#"{{"credentials":[{{"principal":"operator","secret":"{AGENT_OPERATOR_PASSWORD}"}}]}}"#
        ),
    );
    if authenticated {
        tree.write(
            "/etc/mesos-slave/credential",
            "/etc/mesos-roles/secrets/agent-credential",
        )
        .write("/etc/mesos-slave/authenticate_http_readwrite", "true");
    }
    tree
}

/// An HTTP server on 127.0.0.1 that answers 401 to everything; the heads of its requests.
pub struct Refuser {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl Refuser {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                seen.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&head).into_owned());
                let _ = stream.write_all(
                    b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"x\"\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
                );
            }
        });
        Self { port, requests }
    }

    /// The `Authorization` headers the server was sent, one per request (None: without).
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.requests
            .lock()
            .unwrap()
            .iter()
            .map(|head| {
                head.lines()
                    .find_map(|l| {
                        l.strip_prefix("authorization: ")
                            .or_else(|| l.strip_prefix("Authorization: "))
                    })
                    .map(str::to_string)
            })
            .collect()
    }
}

/// Whether `text` shows any of the fixtures' passwords.
pub fn shows_a_secret(text: &str) -> bool {
    [
        ZK_PASSWORD,
        MARATHON_ZK_PASSWORD,
        OPERATOR_PASSWORD,
        AGENT_OPERATOR_PASSWORD,
    ]
    .iter()
    .any(|p| text.contains(p))
}
