//! Asking services how they are: HTTP (ureq), ZooKeeper's four-letter words and Docker's socket.
//! Every call has a time limit, and an error says what was asked where.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};

use crate::credentials::Basic;

/// An HTTP answer, whatever its status.
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self, url: &str) -> Result<serde_json::Value> {
        serde_json::from_str(&self.body).with_context(|| {
            format!(
                "{url} answered {} with something that is not JSON",
                self.status
            )
        })
    }
}

pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    /// A client that neither follows redirects (a Mesos master that does not lead redirects to
    /// the one that does, which is the answer) nor treats 4xx/5xx as errors (their bodies say why).
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .max_redirects(0)
            .http_status_as_error(false)
            .build();
        Self {
            agent: config.into(),
        }
    }

    pub fn get(&self, url: &str) -> Result<Answer> {
        self.get_as(url, None)
    }

    /// GET with HTTP Basic credentials when given (in a header: never in the URL).
    pub fn get_as(&self, url: &str, auth: Option<&Basic>) -> Result<Answer> {
        let mut request = self.agent.get(url);
        if let Some(auth) = auth {
            request = request.header("Authorization", auth.header());
        }
        let response = request.call().map_err(|e| unreachable(url, &e))?;
        answer(url, response)
    }

    pub fn post_json_as(&self, url: &str, body: &[u8], auth: Option<&Basic>) -> Result<Answer> {
        let mut request = self
            .agent
            .post(url)
            .header("Content-Type", "application/json");
        if let Some(auth) = auth {
            request = request.header("Authorization", auth.header());
        }
        let response = request.send(body).map_err(|e| unreachable(url, &e))?;
        answer(url, response)
    }
}

fn unreachable(url: &str, error: &ureq::Error) -> anyhow::Error {
    match error {
        ureq::Error::Timeout(_) => anyhow!("no answer from {url} in time ({error})"),
        ureq::Error::Io(io) => anyhow!("cannot reach {url}: {io}"),
        other => anyhow!("cannot ask {url}: {other}"),
    }
}

fn answer(url: &str, mut response: ureq::http::Response<ureq::Body>) -> Result<Answer> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(n, v)| Some((n.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let body = response
        .body_mut()
        .read_to_string()
        .with_context(|| format!("cannot read the answer of {url}"))?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// A ZooKeeper four-letter word (`srvr`, `mntr`, `ruok`): the server's whole answer.
pub fn four_letter_word(host: &str, port: u16, word: &str, timeout: Duration) -> Result<String> {
    let where_ = format!("{host}:{port}");
    let address = (host, port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {where_}"))?
        .next()
        .with_context(|| format!("{where_} has no address"))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout)
        .with_context(|| format!("cannot reach ZooKeeper at {where_}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream
        .write_all(word.as_bytes())
        .with_context(|| format!("cannot send {word} to ZooKeeper at {where_}"))?;
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .with_context(|| format!("no answer to {word} from ZooKeeper at {where_} in time"))?;
    Ok(text)
}

/// The addresses `name` resolves to, as every program on the node resolves it (getaddrinfo: the
/// hosts file, DNS, whatever nsswitch.conf says).
pub fn resolve(name: &str) -> Result<Vec<String>> {
    let mut addresses: Vec<String> = (name, 0)
        .to_socket_addrs()
        .with_context(|| format!("{name} does not resolve"))?
        .map(|a| a.ip().to_string())
        .collect();
    addresses.dedup();
    if addresses.is_empty() {
        bail!("{name} resolves to no address");
    }
    Ok(addresses)
}

/// `key<TAB>value` (mntr) or `Key: value` (srvr) lines.
pub fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?;
        let rest = rest.strip_prefix(':').unwrap_or(rest);
        (rest.starts_with([' ', '\t'])).then(|| rest.trim())
    })
}

/// Docker's `GET /_ping` on its socket: Ok when the daemon answers `OK`.
pub fn docker_ping(socket: &Path, timeout: Duration) -> Result<()> {
    let mut stream = UnixStream::connect(socket)
        .with_context(|| format!("cannot reach the docker daemon at {}", socket.display()))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    // HTTP/1.0: the daemon closes the connection after its answer.
    stream.write_all(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")?;
    let mut text = String::new();
    stream.read_to_string(&mut text).with_context(|| {
        format!(
            "no answer from the docker daemon at {} in time",
            socket.display()
        )
    })?;
    let status = text.lines().next().unwrap_or_default();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default().trim();
    if !status.contains(" 200 ") || body != "OK" {
        bail!(
            "the docker daemon at {} answered {status:?} {body:?} to /_ping",
            socket.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_srvr_and_mntr() {
        let srvr = "Zookeeper version: 3.8.0-debian, built on 2023-01-01\nLatency min/avg/max: 0/0.0/0\nMode: follower\nNode count: 5\n";
        assert_eq!(field(srvr, "Mode"), Some("follower"));
        assert_eq!(
            field(srvr, "Zookeeper version"),
            Some("3.8.0-debian, built on 2023-01-01")
        );
        let mntr = "zk_version\t3.8.0\nzk_server_state\tleader\nzk_synced_followers\t2\n";
        assert_eq!(field(mntr, "zk_server_state"), Some("leader"));
        assert_eq!(field(mntr, "zk_synced_followers"), Some("2"));
        assert_eq!(field(mntr, "zk_synced"), None);
    }
}
