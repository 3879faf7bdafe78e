//! Daemons run as local processes on 127.0.0.1 by a test: Debian's ZooKeeper and the doubles from
//! their source tree, each killed when the test ends; free ports; and plain HTTP GETs that show a
//! redirect as it is (no client follows it).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::workspace;

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A daemon started by a test, killed when the test ends (whatever its outcome).
pub struct Daemon {
    pub name: &'static str,
    pub child: Child,
    /// Where its output goes.
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `command` with its output in `log`.
    pub fn start(name: &'static str, command: &mut Command, log: &Path) -> Result<Self> {
        let file = std::fs::File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("cannot start {name}: {command:?}"))?;
        Ok(Self {
            name,
            child,
            log: log.to_path_buf(),
        })
    }

    /// Waits until `port` on 127.0.0.1 accepts connections (or the daemon exits).
    pub fn wait_for(&mut self, port: u16) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} before listening on {port}:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("{} did not listen on {port} within 60 s", self.name)
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Debian's ZooKeeper with the zoo.cfg at `config`, as its init script runs it; its log in
/// `log_dir`. Returns once it listens on `port` (the config's clientPort).
pub fn zookeeper(config: &Path, log_dir: &Path, port: u16) -> Result<Daemon> {
    let mut zk = Daemon::start(
        "zookeeper",
        Command::new("java")
            .arg("-cp")
            .arg("/usr/share/java/zookeeper.jar:/etc/zookeeper/conf_example")
            .arg(format!("-Dzookeeper.log.dir={}", log_dir.display()))
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(config),
        &log_dir.join("zookeeper.log"),
    )?;
    zk.wait_for(port)?;
    Ok(zk)
}

/// A standalone ZooKeeper in `dir` on a free port: (daemon, port).
pub fn standalone_zookeeper(dir: &Path) -> Result<(Daemon, u16)> {
    let port = free_port()?;
    let data = dir.join("zookeeper");
    std::fs::create_dir_all(&data)?;
    let config = dir.join("zoo.cfg");
    std::fs::write(
        &config,
        format!(
            "tickTime=2000\ndataDir={}\nclientPort={port}\nadmin.enableServer=false\n4lw.commands.whitelist=srvr\n",
            data.display()
        ),
    )?;
    Ok((zookeeper(&config, dir, port)?, port))
}

/// A double run from its source tree, as its package would run it: the shared ZooKeeper client
/// (`tests/doubles/shared/`, copied beside the doubles when they are packaged) on the module path.
pub fn double(launcher: &str) -> Command {
    let mut command = Command::new("python3");
    command
        .arg("-B")
        .arg(workspace().join(launcher))
        .env("PYTHONPATH", workspace().join("tests/doubles/shared"));
    command
}

/// The Marathon double on 127.0.0.1:`port` as `127.0.0.1:port`, with ZooKeeper on `zk_port`: the
/// environment marathon.service gives it from the role's file; its record in `run_dir`.
pub fn marathon(port: u16, zk_port: u16, run_dir: &Path) -> Command {
    let mut command = double(MARATHON);
    command
        .env("MARATHON_MASTER", format!("zk://127.0.0.1:{zk_port}/mesos"))
        .env("MARATHON_ZK", format!("zk://127.0.0.1:{zk_port}/marathon"))
        .env("MARATHON_HOSTNAME", "127.0.0.1")
        .env("MARATHON_HTTP_PORT", port.to_string())
        .env("MARATHON_HTTP_ADDRESS", "127.0.0.1")
        .env("TEST_DOUBLE_RUN_DIR", run_dir);
    command
}

/// A host name no resolver knows.
pub const UNRESOLVABLE: &str = "no-such-node.invalid";

/// `program` run with the host name [`UNRESOLVABLE`], in a user and UTS namespace of its own (no
/// root needed, the host's name unchanged); add its arguments.
pub fn on_unresolvable_host(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut command = Command::new("unshare");
    command
        .args(["--user", "--map-root-user", "--uts", "sh", "-c"])
        .arg(format!(r#"hostname {UNRESOLVABLE} && exec "$@""#))
        .arg("sh")
        .arg(program);
    command
}

/// Runs a Python `script` with the doubles' shared modules (zk_double, libprocess_double) on its
/// path: a client of what the doubles speak, for a test.
pub fn run_python(script: &str) -> Result<std::process::Output> {
    Command::new("python3")
        .args(["-B", "-c", script])
        .env("PYTHONPATH", workspace().join("tests/doubles/shared"))
        .output()
        .context("cannot run python3")
}

pub const MESOS_MASTER: &str = "tests/doubles/mesos/usr/sbin/mesos-master";
pub const MESOS_AGENT: &str = "tests/doubles/mesos/usr/sbin/mesos-slave";
pub const MARATHON: &str = "tests/doubles/marathon/usr/share/marathon/bin/marathon";

/// An HTTP answer as it came: status, headers (names in lower case), body.
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body)
            .with_context(|| format!("not JSON ({}): {}", self.status, self.body))
    }
}

/// `GET path` from 127.0.0.1:`port`.
pub fn get(port: u16, path: &str) -> Result<Answer> {
    request(port, &format!("GET {path} HTTP/1.0\r\n"), "")
}

/// HTTP Basic credentials: (user or principal, password or secret).
pub type Basic<'a> = (&'a str, &'a str);

/// `GET path` from 127.0.0.1:`port` with HTTP Basic credentials.
pub fn get_as(port: u16, path: &str, credentials: Basic) -> Result<Answer> {
    request(
        port,
        &format!("GET {path} HTTP/1.0\r\n{}", authorization(credentials)),
        "",
    )
}

/// `POST path` of `body` as `content_type` to 127.0.0.1:`port`, with HTTP Basic credentials if
/// given.
pub fn post_as(
    port: u16,
    path: &str,
    content_type: &str,
    body: &str,
    credentials: Option<Basic>,
) -> Result<Answer> {
    request(
        port,
        &format!(
            "POST {path} HTTP/1.0\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{}",
            body.len(),
            credentials.map(authorization).unwrap_or_default()
        ),
        body,
    )
}

/// The `Authorization` header line of HTTP Basic (RFC 7617): base64 of `user:password`.
fn authorization((user, password): Basic) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let bytes = format!("{user}:{password}").into_bytes();
    let mut encoded = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            encoded.push(if i <= chunk.len() {
                char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize])
            } else {
                '='
            });
        }
    }
    format!("Authorization: Basic {encoded}\r\n")
}

/// `POST path` of a JSON `body` to 127.0.0.1:`port`, with no other header.
pub fn post(port: u16, path: &str, body: &str) -> Result<Answer> {
    request(
        port,
        &format!(
            "POST {path} HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ),
        body,
    )
}

/// One request (HTTP/1.0: the server closes after its answer), the answer as it came.
fn request(port: u16, head: &str, body: &str) -> Result<Answer> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .with_context(|| format!("cannot reach 127.0.0.1:{port}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(stream, "{head}Host: 127.0.0.1:{port}\r\n\r\n{body}")?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .with_context(|| format!("no answer to {head:?} from 127.0.0.1:{port}"))?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not HTTP: {text}"))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_string(),
    })
}

/// Waits up to `timeout` for `daemon` to exit by itself; its exit code (None: killed by a signal).
pub fn exit_code(daemon: &mut Daemon, timeout: Duration) -> Result<Option<i32>> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(status) = daemon.child.try_wait()? {
            return Ok(status.code());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("{} still runs after {timeout:?}", daemon.name)
}

/// Polls `probe` every half second until it passes or `timeout` is over (its last error then).
pub fn eventually<T>(timeout: Duration, mut probe: impl FnMut() -> Result<T>) -> Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        match probe() {
            Ok(value) => return Ok(value),
            Err(error) if Instant::now() > deadline => {
                return Err(error.context(format!("still so after {timeout:?}")));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}
