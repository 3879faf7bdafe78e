//! `mesos-role status`: per installed role, what its files configure and what the services say,
//! as rows of a table (or JSON). The node is healthy when no row failed.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Result, bail};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{Global, StatusArgs};
use crate::credentials::{Credentials, mask, mask_flag};
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
    /// What the services said, for programs (`cargo xtask verify` reads it on every node).
    pub live: Live,
    /// The change to the agent's attributes or resources mesos-agent-role holds back (its reason,
    /// from [`PENDING_AGENT_CHANGE`]): applied once the agent is drained and reregistered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_agent_change: Option<String>,
}

/// Written by mesos-agent-role's postinst while it holds back a change the agent's Mesos would
/// refuse to recover with (one line: why); removed once the change applies.
pub const PENDING_AGENT_CHANGE: &str = "/etc/mesos-roles/pending-agent-change";
/// The most of it that is read: one line of reason.
const PENDING_CAP: u64 = 4096;

/// What the services said, each part absent when the service did not answer.
#[derive(Serialize, Default)]
pub struct Live {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zookeeper: Option<ZooKeeperLive>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesos_master: Option<MasterLive>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marathon: Option<MarathonLive>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mesos_slave: Option<AgentLive>,
}

#[derive(Serialize)]
pub struct ZooKeeperLive {
    /// `srvr`'s Mode: leader, follower or standalone.
    pub mode: String,
}

#[derive(Serialize, Default)]
pub struct MasterLive {
    /// This master answered `/master/state` itself: it is the elected leader.
    pub leading: bool,
    /// The leader's `host:port` as Mesos names it (its redirects' Location); None while none is
    /// elected.
    pub leader: Option<String>,
    /// On the leader, the agents it counts as active (their pids).
    pub agents: Vec<String>,
    /// The flags the daemon runs with, from `/flags` (which every master answers).
    pub flags: BTreeMap<String, String>,
}

#[derive(Serialize)]
pub struct MarathonLive {
    /// The leading Marathon's `host:port`.
    pub leader: Option<String>,
    /// This node's Marathon answered itself: it leads (a standby proxies every request to the
    /// leader and says so in `X-Marathon-Via`).
    pub this_node: bool,
    /// The Mesos master the leading Marathon is registered with.
    pub mesos_leader_ui_url: Option<String>,
}

#[derive(Serialize)]
pub struct AgentLive {
    pub pid: String,
    /// The agent's `slave/registered` metric; None when it has no metrics.
    pub registered: Option<bool>,
    /// The master the agent found, by the name its address resolves to.
    pub master_hostname: Option<String>,
    /// The flags the daemon runs with, from `/flags`.
    pub flags: BTreeMap<String, String>,
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
    let mut live = Live::default();
    let (mut master, mut agent) = (None, None);
    let mut pending_agent_change = None;
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
            let auth = Auth {
                mesos: Credentials::mesos(node, true),
                marathon: Credentials::marathon(node),
            };
            checks.extend(master_checks(&config, &http, &auth, timeout, &mut live));
            master = Some(config);
        } else if role == AGENT_ROLE {
            let config = node.agent();
            let mesos = Credentials::mesos(node, false);
            checks.extend(agent_checks(
                node, &config, &http, &mesos, timeout, &mut live,
            ));
            if let Some((check, reason)) = pending_change(node, &config) {
                checks.push(check);
                pending_agent_change = reason;
            }
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
        live,
        pending_agent_change,
    }
}

/// The change mesos-agent-role holds back, as a warning with the next steps (the agent runs on,
/// with its old attributes and resources): the row, and the reason when it could be shown. The
/// file is read with care: at most [`PENDING_CAP`] bytes, its first line, printable ASCII only.
fn pending_change(node: &Node, config: &node::Agent) -> Option<(Check, Option<String>)> {
    const NAME: &str = "pending-change";
    let path = node.path(PENDING_AGENT_CHANGE);
    let metadata = std::fs::symlink_metadata(&path).ok()?;
    let agent = config
        .hostname
        .as_deref()
        .or(config.ip.as_deref())
        .unwrap_or("THIS-AGENT");
    let steps = format!(
        "the agent runs on with its old attributes and resources until it re-registers: on a master, as root: mesos-role drain {agent}; then here, as root: mesos-role reregister"
    );
    let unreadable = |why: String| {
        Some((
            check(
                NAME,
                State::Warn,
                format!("{PENDING_AGENT_CHANGE} {why}; {steps}"),
            ),
            None,
        ))
    };
    if !metadata.is_file() {
        return unreadable("is not a regular file".into());
    }
    let mut bytes = Vec::new();
    use std::io::Read;
    if let Err(e) =
        std::fs::File::open(&path).and_then(|f| f.take(PENDING_CAP).read_to_end(&mut bytes))
    {
        return unreadable(format!("cannot be read ({e})"));
    }
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if metadata.len() > PENDING_CAP {
        return unreadable(format!("is larger than {PENDING_CAP} bytes: not shown"));
    }
    if line.is_empty() || !line.iter().all(|b| (0x20..0x7f).contains(b)) {
        return unreadable(
            "does not hold one line of printable ASCII: not shown (cat -v it)".into(),
        );
    }
    let reason = String::from_utf8_lossy(line).trim().to_string();
    Some((
        check(
            NAME,
            State::Warn,
            format!("mesos-agent-role holds back a change: {reason}; {steps}"),
        ),
        Some(mask(&reason)),
    ))
}

/// This node's credentials for the services a master runs.
struct Auth {
    mesos: Credentials,
    marathon: Credentials,
}

/// Where an operator learns to turn authentication on.
const SWITCH_OVER: &str =
    "see \"Switching a running cluster to authentication\" in mesos-roles' docs/security.md";

/// A row; its detail passes through [`mask`], so no URL's password is ever shown.
fn check(name: &str, state: State, detail: impl Into<String>) -> Check {
    Check {
        name: name.into(),
        state,
        detail: mask(&detail.into()),
    }
}

fn ok(name: &str, detail: impl Into<String>) -> Check {
    check(name, State::Ok, detail)
}

fn fail(name: &str, detail: impl Into<String>) -> Check {
    check(name, State::Fail, detail)
}

/// A service that does not answer: the error and where to look; one that refused this node's
/// credentials (401): what that means.
fn down(name: &str, unit: &str, error: &anyhow::Error) -> Check {
    if let Some(refused) = error.downcast_ref::<crate::credentials::Unauthorized>() {
        return fail(name, refused.to_string());
    }
    fail(
        name,
        format!("{error:#}: is it running? (systemctl status {unit})"),
    )
}

/// The node's own name must resolve: Marathon exits at start when it does not
/// (`java.net.UnknownHostException`), and Mesos when it has no `--ip`. The name is the running
/// system's, whatever `--root` says.
fn hostname(required: bool, ip: Option<&str>) -> Check {
    let name = match node::own_hostname() {
        Ok(name) => name,
        Err(e) => return fail("hostname", format!("{e:#}")),
    };
    match probe::resolve(&name) {
        Ok(addresses) => ok(
            "hostname",
            format!("{name} resolves to {}", addresses.join(", ")),
        ),
        Err(e) => check(
            "hostname",
            if required { State::Fail } else { State::Warn },
            format!(
                "{e:#}: {}; add \"{} {name}\" to /etc/hosts or to DNS (cloud-init: manage_etc_hosts: true)",
                if required {
                    "Marathon exits at start (java.net.UnknownHostException) and Mesos needs it without --ip"
                } else {
                    "Mesos needs it without --ip, and tools on the node may"
                },
                ip.unwrap_or("<this node's address>")
            ),
        ),
    }
}

fn master_checks(
    config: &node::Master,
    http: &Http,
    auth: &Auth,
    timeout: Duration,
    live: &mut Live,
) -> Vec<Check> {
    let mut checks = Vec::new();
    // The hosts of a URL only root may read are those of zoo.cfg's ensemble.
    let masters = match config.zk_hosts.len() {
        0 => config.zk_servers.len(),
        n => n,
    };
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
                "master {self_entry} of {masters} ({zk}), quorum {}, cluster {}",
                config.quorum.as_deref().unwrap_or("unset"),
                config.cluster.as_deref().unwrap_or("unset")
            ),
        ),
    });
    checks.push(hostname(true, config.ip.as_deref()));
    checks.push(zookeeper(config, timeout, live));
    // Mesos binds --ip when it is given; ZooKeeper and Marathon listen on every address.
    let ip = config.ip.as_deref().unwrap_or("127.0.0.1");
    checks.push(mesos_master(config, http, &auth.mesos, ip, live));
    checks.push(master_authentication(
        &config.authentication,
        live.mesos_master.as_ref().map(|m| &m.flags),
    ));
    checks.push(marathon(config, http, &auth.marathon, live));
    checks
}

/// Whether this master requires authentication (docs/security.md, "Modes"), and runs so.
fn master_authentication(
    auth: &node::MasterAuthentication,
    running: Option<&BTreeMap<String, String>>,
) -> Check {
    const NAME: &str = "authentication";
    if auth.agents {
        let mut required = vec!["agents"];
        if auth.frameworks {
            required.push("frameworks");
        }
        if auth.http_readwrite {
            required.push("HTTP writes");
        }
        let detail = format!("required of {}", required.join(", "));
        if let Some(running) = running.and_then(|f| f.get("authenticate_agents"))
            && running != "true"
        {
            return check(
                NAME,
                State::Warn,
                format!(
                    "{detail} by the configuration, but mesos-master runs with --authenticate_agents={running}: systemctl restart mesos-master"
                ),
            );
        }
        return ok(NAME, detail);
    }
    if auth.credentials {
        return check(
            NAME,
            State::Warn,
            format!(
                "credentials offered but not required (insecure true: a switch-over's step); finish it with insecure false: {SWITCH_OVER}"
            ),
        );
    }
    check(
        NAME,
        State::Warn,
        format!(
            "off: this master requires no credentials (insecure, or configured by a version before authentication): {SWITCH_OVER}"
        ),
    )
}

/// Whether this agent authenticates to the masters and requires credentials of its HTTP writers.
fn agent_authentication(auth: &node::AgentAuthentication) -> Check {
    const NAME: &str = "authentication";
    match (auth.credential, auth.http_readwrite) {
        (true, true) => ok(
            NAME,
            "the agent authenticates to the masters; its HTTP writes require credentials",
        ),
        (true, false) => check(
            NAME,
            State::Warn,
            format!(
                "the agent authenticates to the masters, but its HTTP writes require no credentials: {SWITCH_OVER}"
            ),
        ),
        (false, _) => check(
            NAME,
            State::Warn,
            format!(
                "off: this agent presents no credentials (insecure, or configured by a version before authentication): {SWITCH_OVER}"
            ),
        ),
    }
}

fn zookeeper(config: &node::Master, timeout: Duration, live: &mut Live) -> Check {
    let port = config.zk_client_port;
    let srvr = match probe::four_letter_word("127.0.0.1", port, "srvr", timeout) {
        Ok(text) => text,
        Err(e) => {
            return down("zookeeper", "zookeeper", &e);
        }
    };
    let Some(mode) = probe::field(&srvr, "Mode") else {
        return fail(
            "zookeeper",
            format!("127.0.0.1:{port} is not serving: {}", srvr.trim()),
        );
    };
    live.zookeeper = Some(ZooKeeperLive { mode: mode.into() });
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

/// The running flags from `/flags`, which every master and agent answers; their values masked
/// (Mesos reads a `file://` flag's file in: `--zk` carries a password).
fn running_flags(http: &Http, base: &str, auth: &Credentials) -> Result<BTreeMap<String, String>> {
    let url = format!("{base}/flags");
    let answer = http.get_as(&url, auth.basic.as_ref())?;
    if answer.status == 401 {
        return Err(auth.refused());
    }
    if answer.status != 200 {
        bail!("{url} answered {}: {}", answer.status, answer.body.trim());
    }
    let flags = answer.json(&url)?;
    Ok(flags
        .get("flags")
        .and_then(Value::as_object)
        .map(|f| {
            f.iter()
                .map(|(k, v)| {
                    let value = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                    (k.clone(), mask_flag(k, &value))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Mesos answers `/master/state` itself only on the elected master; the others redirect (307,
/// empty body) to it, and with no leader elected it answers 503.
fn mesos_master(
    config: &node::Master,
    http: &Http,
    auth: &Credentials,
    ip: &str,
    live: &mut Live,
) -> Check {
    let base = format!("http://{ip}:{}", config.mesos_port);
    let flags = match running_flags(http, &base, auth) {
        Ok(flags) => flags,
        Err(e) => {
            return down("mesos-master", "mesos-master", &e);
        }
    };
    let url = format!("{base}/master/state");
    let answer = match http.get_as(&url, auth.basic.as_ref()) {
        Ok(answer) => answer,
        Err(e) => {
            return down("mesos-master", "mesos-master", &e);
        }
    };
    let mut master = MasterLive::default();
    let result = match answer.status {
        200 => answer.json(&url).map(|state| {
            let pid = text(&state, "pid");
            master.leading = true;
            master.leader = leader_of(&state, &flags);
            master.agents = state
                .get("slaves")
                .and_then(Value::as_array)
                .map(|agents| {
                    agents
                        .iter()
                        .filter(|a| a.get("active").and_then(Value::as_bool) != Some(false))
                        .filter_map(|a| a.get("pid").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            format!("leading ({pid}), {} agent(s) active", master.agents.len())
        }),
        301 | 302 | 307 => {
            let leader = answer.header("location").map(redirect_host);
            master.leader = leader.map(str::to_string);
            Ok(format!("following; leader {}", leader.unwrap_or("unnamed")))
        }
        503 => Err(anyhow::anyhow!(
            "no leading master elected ({url}: 503 {}): check ZooKeeper and the quorum",
            answer.body.trim()
        )),
        401 => Err(anyhow::anyhow!("{}", auth.unauthorized())),
        status => Err(anyhow::anyhow!(
            "{url} answered {status}: {}",
            answer.body.trim()
        )),
    };
    let mut stale = Vec::new();
    // Both sides masked; a URL in a file only root reads is not compared.
    for (flag, configured) in [("zk", &config.zk), ("quorum", &config.quorum)] {
        if let (Some(configured), Some(running)) = (configured, flags.get(flag))
            && !configured.starts_with("file://")
            && configured != running
        {
            stale.push(format!("--{flag}={running} (configured {configured})"));
        }
    }
    master.flags = flags;
    live.mesos_master = Some(master);
    match result {
        Err(e) => fail("mesos-master", format!("{e:#}")),
        Ok(detail) if !stale.is_empty() => check(
            "mesos-master",
            State::Warn,
            format!(
                "{detail}; running with {}: systemctl restart mesos-master",
                stale.join(", ")
            ),
        ),
        Ok(detail) => ok("mesos-master", detail),
    }
}

/// The leader's `host:port` as its redirects name it: its MasterInfo's hostname and port.
fn leader_of(state: &Value, flags: &BTreeMap<String, String>) -> Option<String> {
    let info = state.get("leader_info").unwrap_or(state);
    let host = info.get("hostname").and_then(Value::as_str)?;
    let port = match info.get("port") {
        Some(Value::Number(port)) => port.to_string(),
        _ => flags.get("port")?.clone(),
    };
    Some(format!("{host}:{port}"))
}

/// A standby Marathon proxies every request to the leader (`X-Marathon-Via` in the answer), so
/// `/v2/info` is the leader's; it answers 503 while no leader is known, 502 when the leader
/// cannot be reached.
fn marathon(config: &node::Master, http: &Http, auth: &Credentials, live: &mut Live) -> Check {
    let url = format!("http://127.0.0.1:{}/v2/info", config.marathon_port);
    let answer = match http.get_as(&url, auth.basic.as_ref()) {
        Ok(answer) => answer,
        Err(e) => {
            return down("marathon", "marathon", &e);
        }
    };
    match answer.status {
        200 => {}
        401 => return fail("marathon", auth.unauthorized()),
        503 => {
            return fail(
                "marathon",
                format!(
                    "no Marathon leader elected ({url}: 503 {}): check ZooKeeper",
                    answer.body.trim()
                ),
            );
        }
        502 | 504 => {
            return fail(
                "marathon",
                format!(
                    "a standby that cannot reach the leader ({url}: {} {})",
                    answer.status,
                    answer.body.trim()
                ),
            );
        }
        status => {
            return fail(
                "marathon",
                format!("{url} answered {status}: {}", answer.body.trim()),
            );
        }
    }
    let info = match answer.json(&url) {
        Ok(info) => info,
        Err(e) => return fail("marathon", format!("{e:#}")),
    };
    let this_node = answer.header("x-marathon-via").is_none();
    let leader = info
        .get("leader")
        .and_then(Value::as_str)
        .map(str::to_string);
    live.marathon = Some(MarathonLive {
        leader: leader.clone(),
        this_node,
        mesos_leader_ui_url: info
            .pointer("/marathon_config/mesos_leader_ui_url")
            .and_then(Value::as_str)
            .map(str::to_string),
    });
    let version = text(&info, "version");
    let Some(leader) = leader else {
        return fail("marathon", format!("version {version}, no leader elected"));
    };
    if !this_node {
        return ok(
            "marathon",
            format!("version {version}, standby; leader {leader}"),
        );
    }
    let detail = format!("version {version}, leader {leader} (this node)");
    // Only the leader's own configuration is visible: a standby's answers are the leader's.
    let running = info
        .pointer("/marathon_config/master")
        .and_then(Value::as_str)
        .map(mask);
    if let (Some(configured), Some(running)) = (&config.marathon_master, running)
        && *configured != running
    {
        return check(
            "marathon",
            State::Warn,
            format!(
                "{detail}; running with --master {running} (configured {configured}): systemctl restart marathon"
            ),
        );
    }
    ok("marathon", detail)
}

fn agent_checks(
    node: &Node,
    config: &node::Agent,
    http: &Http,
    auth: &Credentials,
    timeout: Duration,
    live: &mut Live,
) -> Vec<Check> {
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
    checks.push(hostname(config.ip.is_none(), config.ip.as_deref()));
    let ip = config.ip.as_deref().unwrap_or("127.0.0.1");
    checks.push(mesos_agent(http, auth, ip, config.port, live));
    checks.push(agent_authentication(&config.authentication));
    let uses_docker = config
        .containerizers
        .as_deref()
        .is_some_and(|c| c.split(',').any(|c| c == "docker"));
    if uses_docker {
        checks.push(
            match probe::docker_ping(&node.path(node::DOCKER_SOCKET), timeout) {
                Ok(()) => ok("docker", "the daemon answers /_ping"),
                Err(e) => down("docker", "docker", &e),
            },
        );
    }
    checks
}

/// Registered: the agent's `slave/registered` metric is 1. Its /state names the master it found
/// (`master_hostname`, the name that master's address resolves to).
fn mesos_agent(http: &Http, auth: &Credentials, ip: &str, port: u16, live: &mut Live) -> Check {
    let base = format!("http://{ip}:{port}");
    let state_url = format!("{base}/state");
    let basic = auth.basic.as_ref();
    let state = match http.get_as(&state_url, basic).and_then(|a| match a.status {
        401 => Err(auth.refused()),
        _ => a.json(&state_url),
    }) {
        Ok(state) => state,
        Err(e) => {
            return down("mesos-slave", "mesos-slave", &e);
        }
    };
    let metrics_url = format!("{base}/metrics/snapshot");
    let registered = http
        .get_as(&metrics_url, basic)
        .ok()
        .filter(|a| a.status == 200)
        .and_then(|a| a.json(&metrics_url).ok())
        .and_then(|m| m.get("slave/registered").and_then(Value::as_f64))
        .map(|r| r >= 1.0);
    let master = state
        .get("master_hostname")
        .and_then(Value::as_str)
        .map(str::to_string);
    let pid = text(&state, "pid");
    live.mesos_slave = Some(AgentLive {
        pid: pid.clone(),
        registered,
        master_hostname: master.clone(),
        flags: running_flags(http, &base, auth).unwrap_or_default(),
    });
    match (registered, master) {
        (Some(true), Some(master)) => ok(
            "mesos-slave",
            format!("registered with the master on {master} ({pid})"),
        ),
        (Some(true), None) => ok("mesos-slave", format!("registered ({pid})")),
        (Some(false), Some(master)) => fail(
            "mesos-slave",
            format!(
                "up ({pid}), but not registered with the master on {master}: check that master and the agent's --ip"
            ),
        ),
        (None, Some(master)) => ok(
            "mesos-slave",
            format!("found the master on {master} ({pid})"),
        ),
        (_, None) => fail(
            "mesos-slave",
            format!("up ({pid}), but no master found: check /etc/mesos/zk and the masters"),
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
            live: Live::default(),
            pending_agent_change: None,
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

    fn row<'a>(report: &'a Report, name: &str) -> &'a Check {
        report
            .checks
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name} row: {}", table(report)))
    }

    /// Everything status shows, as text and JSON.
    fn shown(report: &Report) -> String {
        format!(
            "{}{}",
            table(report),
            serde_json::to_string(report).unwrap()
        )
    }

    #[test]
    fn a_master_authenticates_with_its_own_credentials_as_root() {
        use crate::fixture::{self, OPERATOR_PASSWORD, Refuser};
        let server = Refuser::start();
        let tree = fixture::master(server.port, true);
        let timeout = Duration::from_secs(2);
        let report = report(&Node::with_privilege(tree.path(), true), timeout);
        let all = shown(&report);
        assert!(!fixture::shows_a_secret(&all), "{all}");
        assert!(
            all.contains("zk://mesos:***@h1:2181,h2:2181,h3:2181/mesos"),
            "{all}"
        );
        let auth = row(&report, "authentication");
        assert_eq!(auth.state, State::Ok, "{all}");
        assert_eq!(auth.detail, "required of agents, frameworks, HTTP writes");
        let marathon = row(&report, "marathon");
        assert_eq!(marathon.state, State::Fail);
        assert!(
            marathon.detail.starts_with(
                "Marathon answered 401 to this node's credentials (user operator from /etc/mesos-roles/secrets/marathon.env)"
            ),
            "{}",
            marathon.detail
        );
        assert!(
            row(&report, "mesos-master")
                .detail
                .starts_with("Mesos answered 401 to this node's credentials"),
            "{all}"
        );
        // Every request carried the operator's credentials, in a header.
        let sent = server.authorizations();
        let want = format!(
            "Basic {}",
            crate::credentials::tests::encode(&format!("operator:{OPERATOR_PASSWORD}"))
        );
        assert!(!sent.is_empty());
        assert!(
            sent.iter().all(|a| a.as_deref() == Some(want.as_str())),
            "{sent:?}"
        );

        // Not root: nothing sent, and the one line that says why.
        let server = Refuser::start();
        let tree = fixture::master(server.port, true);
        let report = report_of(&tree, false, timeout);
        assert_eq!(
            row(&report, "marathon").detail,
            "Marathon answered 401: run as root so mesos-role can use this node's credentials"
        );
        assert_eq!(
            row(&report, "mesos-master").detail,
            "Mesos answered 401: run as root so mesos-role can use this node's credentials"
        );
        assert!(server.authorizations().iter().all(Option::is_none));
        assert!(
            row(&report, "configuration")
                .detail
                .contains("master 1=h1 of 3 (file:///etc/mesos-roles/secrets/mesos-zk)"),
            "{}",
            shown(&report)
        );
    }

    #[test]
    fn a_held_back_agent_change_is_a_warning_with_the_next_steps() {
        use crate::fixture::{self, Refuser};
        let server = Refuser::start();
        let timeout = Duration::from_secs(2);
        let tree = fixture::agent(server.port, true);
        tree.write("/etc/mesos-slave/hostname", "agent1.example.org");
        let report = report_of(&tree, true, timeout);
        assert!(report.checks.iter().all(|c| c.name != "pending-change"));
        assert_eq!(report.pending_agent_change, None);
        tree.write(
            PENDING_AGENT_CHANGE,
            "attributes: rack:r1 -> rack:r2 is not additive\n",
        );
        let report = report_of(&tree, true, timeout);
        let row_ = row(&report, "pending-change");
        assert_eq!(row_.state, State::Warn);
        assert_eq!(
            row_.detail,
            "mesos-agent-role holds back a change: attributes: rack:r1 -> rack:r2 is not additive; the agent runs on with its old attributes and resources until it re-registers: on a master, as root: mesos-role drain agent1.example.org; then here, as root: mesos-role reregister"
        );
        assert_eq!(
            report.pending_agent_change.as_deref(),
            Some("attributes: rack:r1 -> rack:r2 is not additive")
        );
        // Hostile content: control characters, too long, not a file; never shown.
        for (content, said) in [
            ("rack\u{1b}[2J\n".to_string(), "printable ASCII"),
            ("x".repeat(5000), "larger than 4096 bytes"),
            (String::new(), "printable ASCII"),
        ] {
            tree.write(PENDING_AGENT_CHANGE, &content);
            let report = report_of(&tree, true, timeout);
            let row_ = row(&report, "pending-change");
            assert_eq!(row_.state, State::Warn);
            assert!(row_.detail.contains(said), "{}", row_.detail);
            assert!(!row_.detail.contains('\u{1b}'));
            assert_eq!(report.pending_agent_change, None);
        }
        std::fs::remove_file(
            tree.path()
                .join(PENDING_AGENT_CHANGE.trim_start_matches('/')),
        )
        .unwrap();
        std::fs::create_dir_all(
            tree.path()
                .join(PENDING_AGENT_CHANGE.trim_start_matches('/')),
        )
        .unwrap();
        let report = report_of(&tree, true, timeout);
        assert!(
            row(&report, "pending-change")
                .detail
                .contains("is not a regular file")
        );
    }

    fn report_of(tree: &crate::fixture::Tree, root: bool, timeout: Duration) -> Report {
        report(&Node::with_privilege(tree.path(), root), timeout)
    }

    #[test]
    fn a_node_without_authentication_gets_a_warning_row() {
        use crate::fixture::{self, Refuser};
        let server = Refuser::start();
        let timeout = Duration::from_secs(2);
        let master = report_of(&fixture::master(server.port, false), true, timeout);
        let row_ = row(&master, "authentication");
        assert_eq!(row_.state, State::Warn);
        assert!(
            row_.detail
                .starts_with("off: this master requires no credentials")
                && row_.detail.contains(SWITCH_OVER),
            "{}",
            row_.detail
        );
        let tree = fixture::master(server.port, false);
        tree.write(
            "/etc/mesos-master/credentials",
            "/etc/mesos-roles/secrets/mesos-credentials",
        );
        let offered = report_of(&tree, true, timeout);
        assert!(
            row(&offered, "authentication")
                .detail
                .starts_with("credentials offered but not required")
        );
        let agent = report_of(&fixture::agent(server.port, false), true, timeout);
        let row_ = row(&agent, "authentication");
        assert_eq!(row_.state, State::Warn);
        assert!(row_.detail.contains(SWITCH_OVER), "{}", row_.detail);
        let agent = report_of(&fixture::agent(server.port, true), true, timeout);
        assert_eq!(row(&agent, "authentication").state, State::Ok);
        // An agent's own endpoints get its operator credentials; none is ever shown.
        assert!(server.authorizations().iter().any(Option::is_some));
        assert!(!fixture::shows_a_secret(&shown(&agent)));
    }
}
