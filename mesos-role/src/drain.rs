//! `mesos-role drain AGENT` (on a master, as root): Mesos' maintenance primitives
//! (docs/maintenance.md of Mesos). The agent's machine, its MachineID (the host name the agent
//! registered with and the IP of its pid, as the leading master lists it in `/master/slaves`), gets
//! a window starting now in the maintenance schedule (the windows of other machines are kept), and
//! is brought DOWN (`/master/machine/down`): the master shuts its agent down, and refuses it while
//! the machine is down. `--up` posts `/master/machine/up`, which also takes the machine out of the
//! schedule. Every request goes to the leading master (a master that does not lead answers 307 to
//! it) with this master's operator credentials, in a header.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::cli::{DrainArgs, Global};
use crate::credentials::Credentials;
use crate::node::Node;
use crate::probe::{Answer, Http};

pub fn run(global: &Global, args: &DrainArgs) -> Result<bool> {
    let node = Node::new(&global.root);
    if !node.is_master() {
        bail!(
            "drain runs on a master (only masters hold the operator's Mesos credentials, docs/security.md): run it there as root: mesos-role drain {}",
            args.agent
        );
    }
    let config = node.master();
    let mut master = Leader {
        http: Http::new(Duration::from_secs(global.timeout)),
        auth: Credentials::mesos(&node, true),
        base: format!(
            "http://{}:{}",
            config.ip.as_deref().unwrap_or("127.0.0.1"),
            config.mesos_port
        ),
    };
    // Every error names the command and the agent: `drain a1: <what and the fix>`.
    let result = if args.up {
        up(&mut master, &args.agent)
    } else {
        duration_nanos(&args.duration)
            .and_then(|nanos| down(&mut master, &args.agent, &args.duration, nanos))
    };
    let command = if args.up { "drain --up" } else { "drain" };
    result.map_err(|e| e.context(format!("{command} {}", args.agent)))?;
    Ok(true)
}

/// The leading Mesos master, found by following redirects from this node's own.
struct Leader {
    http: Http,
    auth: Credentials,
    /// `http://host:port` of the master asked last (the leader once one answered).
    base: String,
}

impl Leader {
    /// GET or POST (JSON) `path` on the leader: its answer, whatever the status but 307 (followed),
    /// 503 (no leader) and 401 (an error that says what to do).
    fn call(&mut self, path: &str, body: Option<&str>) -> Result<Answer> {
        for _ in 0..4 {
            let url = format!("{}{path}", self.base);
            let basic = self.auth.basic.as_ref();
            let answer = match body {
                Some(body) => self.http.post_json_as(&url, body.as_bytes(), basic)?,
                None => self.http.get_as(&url, basic)?,
            };
            match answer.status {
                307 => {
                    let location = answer
                        .header("location")
                        .with_context(|| format!("{url} answered 307 without a Location"))?;
                    self.base = format!("http://{}", host_of(location));
                }
                503 => bail!(
                    "no leading Mesos master elected ({url}: 503 {}): check ZooKeeper and the masters (mesos-role status)",
                    answer.body.trim()
                ),
                401 => return Err(self.auth.refused()),
                _ => return Ok(answer),
            }
        }
        bail!(
            "the masters keep redirecting {path} (last to {}): the election is changing; try again",
            self.base
        )
    }

    /// GET `path` as JSON, which must be answered 200.
    fn json(&mut self, path: &str) -> Result<Value> {
        let answer = self.call(path, None)?;
        let url = format!("{}{path}", self.base);
        if answer.status != 200 {
            bail!("{url} answered {}: {}", answer.status, answer.body.trim());
        }
        answer.json(&url)
    }

    /// POST `body` to `path`; Mesos answers 200 when done, 400 with its reason otherwise.
    fn post(&mut self, path: &str, body: &Value) -> Result<()> {
        let answer = self.call(path, Some(&body.to_string()))?;
        if answer.status != 200 {
            bail!(
                "the leading master {} refused {path} ({} {})",
                self.leader(),
                answer.status,
                answer.body.trim()
            );
        }
        Ok(())
    }

    fn leader(&self) -> &str {
        host_of(&self.base)
    }
}

/// `host:port` of a Location (`//10.0.0.1:5050/master/state`) or a base URL.
fn host_of(location: &str) -> &str {
    let rest = location.split_once("//").map_or(location, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// A machine as Mesos names it (MachineID), and the agent the master knows on it.
#[derive(Debug, Clone, PartialEq)]
struct Machine {
    hostname: String,
    ip: String,
    agent_id: Option<String>,
}

impl Machine {
    fn id(&self) -> Value {
        json!({"hostname": self.hostname, "ip": self.ip})
    }

    /// Mesos compares MachineIDs' host names without case, their IPs exactly.
    fn is(&self, id: &Value) -> bool {
        let field = |name: &str| id.get(name).and_then(Value::as_str).unwrap_or_default();
        field("hostname").eq_ignore_ascii_case(&self.hostname) && field("ip") == self.ip
    }

    /// Whether the operator's AGENT names it: its host name (any case) or its IP.
    fn named(&self, agent: &str) -> bool {
        self.hostname.eq_ignore_ascii_case(agent) || self.ip == agent
    }

    fn shown(&self) -> String {
        format!("{} ({})", self.hostname, self.ip)
    }

    fn from_id(id: &Value) -> Self {
        let field = |name: &str| {
            id.get(name)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Self {
            hostname: field("hostname"),
            ip: field("ip"),
            agent_id: None,
        }
    }
}

/// The agents the leading master lists (`/master/slaves`): their machines.
fn agents(master: &mut Leader) -> Result<Vec<Machine>> {
    let slaves = master.json("/master/slaves")?;
    Ok(slaves
        .get("slaves")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|slave| {
            let text = |name: &str| {
                slave
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            // A pid is `slave(1)@10.0.0.4:5051`.
            let pid = text("pid");
            let ip = pid
                .split_once('@')
                .and_then(|(_, address)| address.rsplit_once(':'))
                .map(|(ip, _)| ip.to_string())
                .unwrap_or_default();
            Machine {
                hostname: text("hostname"),
                ip,
                agent_id: Some(text("id")),
            }
        })
        .collect())
}

/// The machines of `/master/maintenance/status`: (draining, down).
fn maintenance(master: &mut Leader) -> Result<(Vec<Machine>, Vec<Machine>)> {
    let status = master.json("/master/maintenance/status")?;
    let list = |key: &str, id: &dyn Fn(&Value) -> Option<Value>| -> Vec<Machine> {
        status
            .get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|m| id(m).map(|id| Machine::from_id(&id)))
            .collect()
    };
    Ok((
        list("draining_machines", &|m| m.get("id").cloned()),
        list("down_machines", &|m| Some(m.clone())),
    ))
}

fn down(master: &mut Leader, agent: &str, duration: &str, nanos: i64) -> Result<()> {
    let known = agents(master)?;
    let Some(machine) = known.iter().find(|m| m.named(agent)).cloned() else {
        let (_, down) = maintenance(master)?;
        if let Some(machine) = down.iter().find(|m| m.named(agent)) {
            println!(
                "{agent}: the machine {} is already DOWN (the leading master {} refuses its agent)",
                machine.shown(),
                master.leader()
            );
            next_steps(machine);
            return Ok(());
        }
        bail!("{}", unknown(agent, master.leader(), &known));
    };
    let mut schedule = master.json("/master/maintenance/schedule")?;
    let start = crate::utc::now_nanos();
    let windows = windows_with(&mut schedule, &machine, start, nanos);
    master.post(
        "/master/maintenance/schedule",
        &json!({ "windows": windows }),
    )?;
    println!(
        "{agent}: maintenance window for the machine {} from {} for {duration} posted to the leading master {} ({} window(s) in the schedule)",
        machine.shown(),
        crate::utc::text(start / 1_000_000_000),
        master.leader(),
        windows.len()
    );
    master.post("/master/machine/down", &json!([machine.id()]))?;
    println!(
        "{agent}: the machine is DOWN: the master shut down agent {} and its tasks, and refuses it until the machine is up",
        machine.agent_id.as_deref().unwrap_or("?")
    );
    next_steps(&machine);
    Ok(())
}

fn next_steps(machine: &Machine) {
    println!(
        "next: on {}, as root: mesos-role reregister (the agent gets a new id and the change mesos-agent-role held back); then on a master, as root: mesos-role drain --up {}",
        machine.hostname, machine.hostname
    );
}

/// The schedule's windows with `machine` in a window of its own from `start` for `nanos`: taken
/// out of any other window first (Mesos refuses a machine twice), every other machine kept.
fn windows_with(schedule: &mut Value, machine: &Machine, start: i64, nanos: i64) -> Vec<Value> {
    let mut windows: Vec<Value> = schedule
        .get_mut("windows")
        .and_then(Value::as_array_mut)
        .map(std::mem::take)
        .unwrap_or_default();
    for window in &mut windows {
        if let Some(ids) = window.get_mut("machine_ids").and_then(Value::as_array_mut) {
            ids.retain(|id| !machine.is(id));
        }
    }
    windows.retain(|w| {
        w.get("machine_ids")
            .and_then(Value::as_array)
            .is_some_and(|ids| !ids.is_empty())
    });
    windows.push(json!({
        "machine_ids": [machine.id()],
        "unavailability": {
            "start": {"nanoseconds": start},
            "duration": {"nanoseconds": nanos},
        },
    }));
    windows
}

fn up(master: &mut Leader, agent: &str) -> Result<()> {
    let (draining, down) = maintenance(master)?;
    let Some(machine) = down.iter().find(|m| m.named(agent)).cloned() else {
        if let Some(machine) = draining.iter().find(|m| m.named(agent)) {
            bail!(
                "the machine {} is in the maintenance schedule of the leading master {} but not DOWN: bring it down with mesos-role drain {agent}, or remove its window from the schedule",
                machine.shown(),
                master.leader()
            );
        }
        let shown: Vec<String> = down.iter().map(Machine::shown).collect();
        bail!(
            "no DOWN machine named {agent} at the leading master {} ({}): give the host name or IP it was drained by",
            master.leader(),
            if shown.is_empty() {
                "none is down".to_string()
            } else {
                format!("down: {}", shown.join(", "))
            }
        );
    };
    master.post("/master/machine/up", &json!([machine.id()]))?;
    println!(
        "{agent}: the machine {} is UP and out of the maintenance schedule of the leading master {}: its agent registers at its next start (systemd restarts mesos-slave)",
        machine.shown(),
        master.leader()
    );
    Ok(())
}

/// An agent the leading master does not list: the ones it lists.
fn unknown(agent: &str, leader: &str, known: &[Machine]) -> String {
    if known.is_empty() {
        return format!(
            "the leading master {leader} lists no agent: is the agent registered? (mesos-role status on it)"
        );
    }
    let names: Vec<String> = known.iter().map(Machine::shown).collect();
    format!(
        "no agent {agent} at the leading master {leader}; it lists {}: give one of these host names or IPs",
        names.join(", ")
    )
}

/// Mesos' duration syntax (a number and a unit: `90secs`, `1hrs`, `2days`) in nanoseconds.
fn duration_nanos(text: &str) -> Result<i64> {
    const UNITS: [(&str, f64); 8] = [
        ("ns", 1.0),
        ("us", 1e3),
        ("ms", 1e6),
        ("secs", 1e9),
        ("mins", 60e9),
        ("hrs", 3600e9),
        ("days", 86_400e9),
        ("weeks", 604_800e9),
    ];
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor = UNITS.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f);
    match (number.parse::<f64>(), factor) {
        (Ok(n), Some(f)) if n > 0.0 && n * f < 9e18 => Ok((n * f) as i64),
        _ => bail!(
            "--for {text:?}: give a positive number and one of Mesos' units ns, us, ms, secs, mins, hrs, days, weeks (e.g. 30mins, 1hrs)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(hostname: &str, ip: &str) -> Machine {
        Machine {
            hostname: hostname.into(),
            ip: ip.into(),
            agent_id: None,
        }
    }

    #[test]
    fn durations_in_mesos_units() {
        assert_eq!(duration_nanos("1hrs").unwrap(), 3_600_000_000_000);
        assert_eq!(duration_nanos("30mins").unwrap(), 1_800_000_000_000);
        assert_eq!(duration_nanos("1.5secs").unwrap(), 1_500_000_000);
        for bad in ["1h", "hrs", "0secs", "-1hrs", "", "1 hrs"] {
            let error = duration_nanos(bad).unwrap_err().to_string();
            assert!(error.contains("ns, us, ms, secs"), "{bad}: {error}");
        }
    }

    #[test]
    fn a_new_window_keeps_the_other_machines() {
        let mut schedule = json!({"windows": [
            {"machine_ids": [{"hostname": "A1", "ip": "10.0.0.1"}, {"hostname": "a2", "ip": "10.0.0.2"}],
             "unavailability": {"start": {"nanoseconds": 1}}},
            {"machine_ids": [{"hostname": "a1", "ip": "10.0.0.1"}],
             "unavailability": {"start": {"nanoseconds": 2}}},
        ]});
        let windows = windows_with(&mut schedule, &machine("a1", "10.0.0.1"), 5, 7);
        assert_eq!(windows.len(), 2, "{windows:?}");
        assert_eq!(
            windows[0]["machine_ids"],
            json!([{"hostname": "a2", "ip": "10.0.0.2"}])
        );
        assert_eq!(
            windows[1],
            json!({"machine_ids": [{"hostname": "a1", "ip": "10.0.0.1"}],
                   "unavailability": {"start": {"nanoseconds": 5}, "duration": {"nanoseconds": 7}}})
        );
        assert_eq!(
            windows_with(&mut json!({}), &machine("b", "1.1.1.1"), 1, 1).len(),
            1
        );
    }

    #[test]
    fn an_unknown_agent_lists_the_known_ones() {
        let said = unknown(
            "a9",
            "m1:5050",
            &[machine("a1", "10.0.0.1"), machine("a2", "10.0.0.2")],
        );
        assert_eq!(
            said,
            "no agent a9 at the leading master m1:5050; it lists a1 (10.0.0.1), a2 (10.0.0.2): give one of these host names or IPs"
        );
        assert!(machine("Agent1", "10.0.0.1").named("agent1"));
        assert!(machine("agent1", "10.0.0.1").named("10.0.0.1"));
        assert!(!machine("agent1", "10.0.0.1").named("10.0.0.2"));
        assert_eq!(host_of("//10.0.0.1:5050/master/slaves"), "10.0.0.1:5050");
        assert_eq!(host_of("http://m1:5050"), "m1:5050");
    }
}
