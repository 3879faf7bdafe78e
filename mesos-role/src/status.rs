//! `mesos-role status`: per installed role, what its files configure and what the services say,
//! as rows of a table (or JSON). The node is healthy when no row failed.

use std::time::Duration;

use anyhow::Result;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{Global, StatusArgs};
use crate::node::{self, AGENT_ROLE, MASTER_ROLE, Node};
use crate::probe::{self, Http};

#[derive(Serialize, Clone, Copy, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Ok,
    /// Works, but something deserves a look (e.g. a daemon running with an older configuration).
    Warn,
    Fail,
}

#[derive(Serialize)]
pub struct Check {
    pub name: String,
    pub state: State,
    pub detail: String,
}

#[derive(Serialize)]
pub struct Report {
    pub healthy: bool,
    pub root: String,
    pub roles: Vec<String>,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub master: Option<node::Master>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<node::Agent>,
}

pub fn run(global: &Global, args: &StatusArgs) -> Result<bool> {
    let report = report(
        &Node::new(&global.root),
        Duration::from_secs(global.timeout),
    );
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", table(&report));
    }
    Ok(report.healthy)
}

pub fn report(node: &Node, timeout: Duration) -> Report {
    let http = Http::new(timeout);
    let roles = node.roles();
    let mut checks = Vec::new();
    let (mut master, mut agent) = (None, None);
    if roles.is_empty() {
        checks.push(fail(
            "roles",
            "neither mesos-master-role nor mesos-agent-role is installed here: apt install one of them",
        ));
    }
    for role in &roles {
        if !node.configured(role) {
            checks.push(fail(
                role,
                format!(
                    "inert: no masters given, nothing rendered; echo \"{role} {role}/masters string 10.0.0.1,10.0.0.2,10.0.0.3\" | debconf-set-selections; dpkg-reconfigure -fnoninteractive {role}"
                ),
            ));
            continue;
        }
        if role == MASTER_ROLE {
            let config = node.master();
            checks.extend(master_checks(&config, &http, timeout));
            master = Some(config);
        } else if role == AGENT_ROLE {
            let config = node.agent();
            checks.extend(agent_checks(node, &config, &http, timeout));
            agent = Some(config);
        }
    }
    Report {
        healthy: checks.iter().all(|c| c.state != State::Fail),
        root: node.root().display().to_string(),
        roles,
        checks,
        master,
        agent,
    }
}

fn check(name: &str, state: State, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        state,
        detail: detail.into(),
    }
}

fn ok(name: &str, detail: impl Into<String>) -> Check {
    check(name, State::Ok, detail)
}

fn fail(name: &str, detail: impl Into<String>) -> Check {
    check(name, State::Fail, detail)
}

fn master_checks(config: &node::Master, http: &Http, timeout: Duration) -> Vec<Check> {
    let mut checks = Vec::new();
    let masters = config.zk.as_deref().map(node::zk_hosts).unwrap_or_default();
    let self_entry = config
        .zk_myid
        .as_ref()
        .and_then(|id| config.zk_servers.iter().find(|(i, _)| i == id))
        .map(|(id, host)| format!("{id}={host}"))
        .unwrap_or_else(|| "unknown (no myid)".into());
    checks.push(match &config.zk {
        None => fail(
            "configuration",
            "/etc/mesos/zk is missing: dpkg-reconfigure mesos-master-role",
        ),
        Some(zk) => ok(
            "configuration",
            format!(
                "master {self_entry} of {} ({zk}), quorum {}, cluster {}",
                masters.len(),
                config.quorum.as_deref().unwrap_or("unset"),
                config.cluster.as_deref().unwrap_or("unset")
            ),
        ),
    });
    checks.push(zookeeper(config, timeout));
    // Mesos binds --ip when it is given; ZooKeeper and Marathon listen on every address.
    let ip = config.ip.as_deref().unwrap_or("127.0.0.1");
    checks.push(mesos_master(config, http, ip));
    checks.push(marathon(config, http));
    checks
}

fn zookeeper(config: &node::Master, timeout: Duration) -> Check {
    let port = config.zk_client_port;
    let srvr = match probe::four_letter_word("127.0.0.1", port, "srvr", timeout) {
        Ok(text) => text,
        Err(e) => {
            return fail(
                "zookeeper",
                format!("{e:#}: is it running? (systemctl status zookeeper)"),
            );
        }
    };
    let Some(mode) = probe::field(&srvr, "Mode") else {
        return fail(
            "zookeeper",
            format!("127.0.0.1:{port} is not serving: {}", srvr.trim()),
        );
    };
    let version = probe::field(&srvr, "Zookeeper version")
        .and_then(|v| v.split([',', '-']).next())
        .unwrap_or("?");
    let ensemble = config.zk_servers.len().max(1);
    let mut detail = format!("{mode}, version {version}, ensemble of {ensemble}");
    if config.zk_four_letter_words.iter().any(|w| w == "mntr") {
        match probe::four_letter_word("127.0.0.1", port, "mntr", timeout) {
            Ok(mntr) => {
                if let Some(synced) = probe::field(&mntr, "zk_synced_followers") {
                    detail.push_str(&format!(", {synced} of {} followers synced", ensemble - 1));
                    let quorum = ensemble / 2 + 1;
                    if synced.parse::<usize>().unwrap_or(0) + 1 < quorum {
                        return fail(
                            "zookeeper",
                            format!("{detail}: below the quorum of {quorum}"),
                        );
                    }
                } else if probe::field(&mntr, "zk_server_state").is_none() {
                    detail.push_str(&format!("; mntr: {}", mntr.trim()));
                    return check("zookeeper", State::Warn, detail);
                }
            }
            Err(e) => return check("zookeeper", State::Warn, format!("{detail}; mntr: {e:#}")),
        }
    }
    match mode {
        "leader" | "follower" | "standalone" => ok("zookeeper", detail),
        _ => fail("zookeeper", detail),
    }
}

/// Mesos answers `/master/state` itself only on the elected master; the others redirect (307) to
/// it, and with no leader elected it answers 503.
fn mesos_master(config: &node::Master, http: &Http, ip: &str) -> Check {
    let url = format!("http://{ip}:{}/master/state", config.mesos_port);
    let answer = match http.get(&url) {
        Ok(answer) => answer,
        Err(e) => {
            return fail(
                "mesos-master",
                format!("{e:#}: is it running? (systemctl status mesos-master)"),
            );
        }
    };
    match answer.status {
        200 => {
            let state = match answer.json(&url) {
                Ok(state) => state,
                Err(e) => return fail("mesos-master", format!("{e:#}")),
            };
            let pid = text(&state, "pid");
            let leader = state.get("leader").and_then(Value::as_str).unwrap_or(&pid);
            let mut detail = if leader == pid {
                format!("leading ({pid})")
            } else {
                format!("following; leader {leader}")
            };
            let flags = state.get("flags").cloned().unwrap_or(Value::Null);
            let mut stale = Vec::new();
            for (flag, configured) in [("zk", &config.zk), ("quorum", &config.quorum)] {
                if let (Some(configured), Some(running)) =
                    (configured, flags.get(flag).and_then(Value::as_str))
                    && configured != running
                {
                    stale.push(format!("--{flag}={running} (configured {configured})"));
                }
            }
            if !stale.is_empty() {
                detail.push_str(&format!(
                    "; running with {}: systemctl restart mesos-master",
                    stale.join(", ")
                ));
                return check("mesos-master", State::Warn, detail);
            }
            ok("mesos-master", detail)
        }
        301 | 302 | 307 => ok(
            "mesos-master",
            format!(
                "following; leader {}",
                answer.location.as_deref().map_or("unnamed", redirect_host)
            ),
        ),
        503 => fail(
            "mesos-master",
            format!(
                "no leading master elected ({url}: 503 {}): check ZooKeeper and the quorum",
                answer.body.trim()
            ),
        ),
        status => fail(
            "mesos-master",
            format!("{url} answered {status}: {}", answer.body.trim()),
        ),
    }
}

fn marathon(config: &node::Master, http: &Http) -> Check {
    let url = format!("http://127.0.0.1:{}/v2/info", config.marathon_port);
    let info = match http.get(&url).and_then(|a| {
        if a.status != 200 {
            anyhow::bail!("{url} answered {}: {}", a.status, a.body.trim());
        }
        a.json(&url)
    }) {
        Ok(info) => info,
        Err(e) => {
            return fail(
                "marathon",
                format!("{e:#}: is it running? (systemctl status marathon)"),
            );
        }
    };
    let version = text(&info, "version");
    let mut detail = format!("version {version}");
    let mut state = State::Ok;
    // Marathon names its leader ("host:port", null while none is elected) and whether it is it.
    match info.get("leader") {
        Some(Value::String(leader)) => {
            let this = info.get("elected").and_then(Value::as_bool) == Some(true);
            detail.push_str(&format!(
                ", leader {leader}{}",
                if this { " (this node)" } else { "" }
            ));
        }
        Some(_) => {
            detail.push_str(", no leader elected");
            state = State::Fail;
        }
        None => detail.push_str(", leader not reported"),
    }
    let running = info
        .pointer("/marathon_config/master")
        .and_then(Value::as_str);
    if let (Some(configured), Some(running)) = (&config.marathon_master, running)
        && configured != running
    {
        detail.push_str(&format!(
            "; running with --master {running} (configured {configured}): systemctl restart marathon"
        ));
        if state == State::Ok {
            state = State::Warn;
        }
    }
    check("marathon", state, detail)
}

fn agent_checks(node: &Node, config: &node::Agent, http: &Http, timeout: Duration) -> Vec<Check> {
    let mut checks = vec![match &config.zk {
        None => fail(
            "configuration",
            "/etc/mesos/zk is missing: dpkg-reconfigure mesos-agent-role",
        ),
        Some(zk) => ok(
            "configuration",
            format!(
                "agent {} ({}), masters {zk}, containerizers {}",
                config.ip.as_deref().unwrap_or("?"),
                config.hostname.as_deref().unwrap_or("?"),
                config.containerizers.as_deref().unwrap_or("mesos")
            ),
        ),
    }];
    let ip = config.ip.as_deref().unwrap_or("127.0.0.1");
    checks.push(mesos_agent(http, ip, config.port));
    let uses_docker = config
        .containerizers
        .as_deref()
        .is_some_and(|c| c.split(',').any(|c| c == "docker"));
    if uses_docker {
        checks.push(
            match probe::docker_ping(&node.path(node::DOCKER_SOCKET), timeout) {
                Ok(()) => ok("docker", "the daemon answers /_ping"),
                Err(e) => fail(
                    "docker",
                    format!("{e:#}: is it running? (systemctl status docker)"),
                ),
            },
        );
    }
    checks
}

/// Registered: the agent's `slave/registered` metric is 1 (its /state names the master it found,
/// which older agents and the test double also show).
fn mesos_agent(http: &Http, ip: &str, port: u16) -> Check {
    let base = format!("http://{ip}:{port}");
    let state_url = format!("{base}/state");
    let state = match http.get(&state_url).and_then(|a| a.json(&state_url)) {
        Ok(state) => state,
        Err(e) => {
            return fail(
                "mesos-slave",
                format!("{e:#}: is it running? (systemctl status mesos-slave)"),
            );
        }
    };
    let metrics_url = format!("{base}/metrics/snapshot");
    let registered = http
        .get(&metrics_url)
        .ok()
        .filter(|a| a.status == 200)
        .and_then(|a| a.json(&metrics_url).ok())
        .and_then(|m| m.get("slave/registered").and_then(Value::as_f64));
    let master = state.get("master_hostname").and_then(Value::as_str);
    match (registered, master) {
        (Some(r), _) if r < 1.0 => fail(
            "mesos-slave",
            "up, but not registered with a master: check /etc/mesos/zk and the masters",
        ),
        (_, Some(master)) => ok(
            "mesos-slave",
            format!(
                "registered with the master on {master} ({})",
                text(&state, "pid")
            ),
        ),
        (Some(_), None) => ok(
            "mesos-slave",
            format!("registered ({})", text(&state, "pid")),
        ),
        (None, None) => fail(
            "mesos-slave",
            format!(
                "up ({}), but no master found: check /etc/mesos/zk and the masters",
                text(&state, "pid")
            ),
        ),
    }
}

/// `host:port` of a redirect's Location (Mesos writes `//10.0.0.1:5050/master/state`).
fn redirect_host(location: &str) -> &str {
    let rest = location.split_once("//").map_or(location, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "?".into(),
        Some(other) => other.to_string(),
    }
}

/// The readable table: one row per check, then the verdict.
pub fn table(report: &Report) -> String {
    let roles = if report.roles.is_empty() {
        "no role".to_string()
    } else {
        report.roles.join(", ")
    };
    let mut out = format!("mesos-role status: {roles}");
    if report.root != "/" {
        out.push_str(&format!(" (files under {})", report.root));
    }
    out.push('\n');
    let width = report
        .checks
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(5)
        .max(5);
    out.push_str(&format!("{:width$}  {:5}  DETAIL\n", "CHECK", "STATE"));
    for c in &report.checks {
        let state = match c.state {
            State::Ok => "ok",
            State::Warn => "warn",
            State::Fail => "FAIL",
        };
        out.push_str(&format!("{:width$}  {state:5}  {}\n", c.name, c.detail));
    }
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| c.state == State::Fail)
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() {
        out.push_str("healthy\n");
    } else {
        out.push_str(&format!("NOT healthy: {}\n", failed.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_what_failed() {
        let report = Report {
            healthy: false,
            root: "/".into(),
            roles: vec![MASTER_ROLE.into()],
            checks: vec![
                ok("zookeeper", "standalone"),
                fail("marathon", "cannot reach http://127.0.0.1:8080/v2/info"),
            ],
            master: None,
            agent: None,
        };
        let text = table(&report);
        assert!(text.contains("marathon   FAIL   cannot reach"), "{text}");
        assert!(text.ends_with("NOT healthy: marathon\n"), "{text}");
    }

    #[test]
    fn the_leader_of_a_redirect() {
        assert_eq!(
            redirect_host("//10.0.0.1:5050/master/state"),
            "10.0.0.1:5050"
        );
        assert_eq!(redirect_host("http://m1:5050/master/state"), "m1:5050");
    }

    #[test]
    fn a_node_without_a_role_is_not_healthy() {
        let dir = std::env::temp_dir().join(format!("mesos-role-empty-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let report = report(&Node::new(&dir), Duration::from_secs(1));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!report.healthy);
        assert_eq!(report.checks[0].name, "roles");
    }
}
