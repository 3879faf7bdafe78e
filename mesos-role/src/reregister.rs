//! `mesos-role reregister` (on an agent, as root): the agent gives up its id. Mesos recovers an
//! agent from `WORK_DIR/meta/slaves/latest` (a symbolic link to `meta/slaves/<agent id>`), and
//! refuses to start when the agent's attributes or resources changed in a way its
//! `--reconfiguration_policy` does not permit; without `latest` it registers as a new agent.
//! mesos-agent-role holds such a change back while `latest` exists. So, once the agent is drained
//! (its own `/state` lists no executor; `--force` skips asking), `latest` is renamed (never
//! deleted: the old agent's directory stays for a look) to `latest.retired-<UTC time>`, and
//! `dpkg-reconfigure -fnoninteractive mesos-agent-role` lets the role's postinst apply what it held
//! back and restart the agent.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;

use crate::cli::{Global, ReregisterArgs};
use crate::credentials::Credentials;
use crate::node::{AGENT_ROLE, Node};
use crate::probe::Http;

/// Where mesos-agent-role renders the agent's work directory (a Mesos flag file).
pub const WORK_DIR_FILE: &str = "/etc/mesos-slave/work_dir";

pub fn run(global: &Global, args: &ReregisterArgs) -> Result<bool> {
    let node = Node::new(&global.root);
    let checkpoint = prepare(&node)?;
    if args.force {
        println!("not asking the agent whether it runs executors (--force)");
    } else {
        drained(
            &node,
            Duration::from_secs(args.wait),
            Duration::from_secs(global.timeout),
        )?;
    }
    let now = crate::utc::now_nanos() / 1_000_000_000;
    let retired = checkpoint.retire(now)?;
    println!(
        "retired agent {}: {} renamed to {}",
        checkpoint.agent_id,
        checkpoint.latest.display(),
        retired.display()
    );
    if let Err(error) = crate::tools::dpkg_reconfigure(node.root(), AGENT_ROLE) {
        bail!(
            "{error:#}; the old agent is retired ({}); run dpkg-reconfigure -fnoninteractive {AGENT_ROLE} again once it is fixed",
            retired.display()
        );
    }
    println!(
        "the agent registers with a new id (no longer {}) once its machine is up: on a master, as root: mesos-role drain --up {}",
        checkpoint.agent_id,
        agent_name(&node)
    );
    Ok(true)
}

/// The agent's checkpoint: its `latest` link and the agent id it names.
#[derive(Debug)]
struct Checkpoint {
    latest: PathBuf,
    agent_id: String,
}

impl Checkpoint {
    /// Renames `latest` to `latest.retired-<stamp>`; never replaces anything.
    fn retire(&self, seconds: i64) -> Result<PathBuf> {
        let retired = self
            .latest
            .with_file_name(format!("latest.retired-{}", crate::utc::stamp(seconds)));
        if std::fs::symlink_metadata(&retired).is_ok() {
            bail!(
                "{} already exists: wait a second and run again",
                retired.display()
            );
        }
        std::fs::rename(&self.latest, &retired).map_err(|e| {
            anyhow::anyhow!(
                "cannot rename {} to {}: {e}",
                self.latest.display(),
                retired.display()
            )
        })?;
        Ok(retired)
    }
}

/// The checks before anything is asked or changed: an agent, root, a work directory with a
/// `latest` link to an agent's directory beside it.
fn prepare(node: &Node) -> Result<Checkpoint> {
    if !node.roles().iter().any(|r| r == AGENT_ROLE) {
        bail!(
            "reregister runs on an agent: {AGENT_ROLE} is not installed under {}",
            node.root().display()
        );
    }
    if !node.configured(AGENT_ROLE) {
        bail!(
            "{AGENT_ROLE} is inert here (no masters given): no agent registered, nothing to retire"
        );
    }
    if !node.privileged() {
        bail!(
            "reregister must run as root: it renames the agent's checkpoint and reconfigures {AGENT_ROLE} (sudo mesos-role reregister)"
        );
    }
    let Some(work_dir) = node.value(WORK_DIR_FILE) else {
        bail!(
            "{WORK_DIR_FILE} is missing or empty: the agent's work directory is unknown; dpkg-reconfigure {AGENT_ROLE}"
        );
    };
    if !work_dir.starts_with('/') {
        bail!(
            "{WORK_DIR_FILE} holds {work_dir:?}, not an absolute path: fix it, or dpkg-reconfigure {AGENT_ROLE}"
        );
    }
    let work = node.path(&work_dir);
    if !work.is_dir() {
        bail!(
            "the agent's work directory {} (from {WORK_DIR_FILE}) does not exist: the agent never ran here, nothing to retire",
            work.display()
        );
    }
    let slaves = work.join("meta/slaves");
    let latest = slaves.join("latest");
    let metadata = match std::fs::symlink_metadata(&latest) {
        Ok(metadata) => metadata,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "{} does not exist: the agent has no id to retire (it registers as a new agent at its next start); a change {AGENT_ROLE} held back applies with dpkg-reconfigure -fnoninteractive {AGENT_ROLE}",
            latest.display()
        ),
        Err(e) => bail!("cannot read {}: {e}", latest.display()),
    };
    if !metadata.file_type().is_symlink() {
        bail!(
            "{} is not a symbolic link (Mesos makes it one, to the agent's directory): look at it and move it away yourself",
            latest.display()
        );
    }
    let target = std::fs::read_link(&latest)?;
    match agent_of(&target) {
        Some(agent_id) if slaves.join(&agent_id).is_dir() => Ok(Checkpoint { latest, agent_id }),
        _ => bail!(
            "{} points to {}, not to an agent's directory in {}: look at it and move it away yourself",
            latest.display(),
            target.display(),
            slaves.display()
        ),
    }
}

/// The agent id a `latest` link names: Mesos links it to `<work dir>/meta/slaves/<agent id>`
/// (absolute as the agent saw its work directory, which may be mounted elsewhere here), or a
/// relative `<agent id>` beside it. Anything else (`..`, another directory) is no agent's.
fn agent_of(target: &Path) -> Option<String> {
    let id = target.file_name()?.to_str()?;
    let parent = target.parent()?;
    let beside = parent.as_os_str().is_empty();
    (valid_agent_id(id) && (beside || parent.ends_with("meta/slaves"))).then(|| id.to_string())
}

/// Mesos' agent ids: `<uuid>-S<n>`; anything printable without a slash or a leading dot here.
fn valid_agent_id(id: &str) -> bool {
    !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.')
}

/// The agent's own `/state` lists no executor. A drained agent may be down for a while (its
/// master shut it down and systemd starts it again after 20 s): it is asked until `wait` is over.
fn drained(node: &Node, wait: Duration, timeout: Duration) -> Result<()> {
    let config = node.agent();
    let url = format!(
        "http://{}:{}/state",
        config.ip.as_deref().unwrap_or("127.0.0.1"),
        config.port
    );
    let auth = Credentials::mesos(node, false);
    let http = Http::new(timeout);
    let deadline = Instant::now() + wait;
    let state = loop {
        match http.get_as(&url, auth.basic.as_ref()) {
            Ok(answer) if answer.status == 401 => return Err(auth.refused()),
            Ok(answer) if answer.status == 200 => break answer.json(&url)?,
            Ok(answer) => bail!(
                "{url} answered {}: {}: cannot see whether the agent is drained",
                answer.status,
                answer.body.trim()
            ),
            Err(error) if Instant::now() >= deadline => bail!(
                "the agent does not answer ({error:#}) after {} s: cannot see that it is drained; once systemctl status mesos-slave shows no executor, run mesos-role reregister --force",
                wait.as_secs()
            ),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    };
    let running = executors(&state);
    if !running.is_empty() {
        let hostname = agent_name(node);
        bail!(
            "the agent is not drained: it runs {} executor(s) ({}): on a master, as root: mesos-role drain {hostname}; then run this again (or --force)",
            running.len(),
            running.join(", ")
        );
    }
    println!("the agent runs no executor ({url})");
    Ok(())
}

/// The agent's name for the master's commands: its rendered host name, else its IP.
fn agent_name(node: &Node) -> String {
    let config = node.agent();
    config
        .hostname
        .or(config.ip)
        .unwrap_or_else(|| "THIS-AGENT".into())
}

/// `framework/executor` of every executor the agent's `/state` lists.
fn executors(state: &Value) -> Vec<String> {
    let list = |value: &Value, key: &str| -> Vec<Value> {
        value
            .get(key)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let text = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    list(state, "frameworks")
        .iter()
        .flat_map(|framework| {
            let name = text(framework, "name");
            list(framework, "executors")
                .into_iter()
                .map(move |executor| format!("{name}/{}", text(&executor, "id")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn agent_tree() -> fixture::Tree {
        let tree = fixture::agent(1, true);
        tree.write(WORK_DIR_FILE, "/var/lib/mesos\n");
        std::fs::create_dir_all(tree.path().join("var/lib/mesos/meta/slaves/abc-S0")).unwrap();
        tree
    }

    fn refused(node: &Node) -> String {
        format!("{:#}", prepare(node).unwrap_err())
    }

    #[test]
    fn it_needs_root_and_a_latest_link_to_an_agents_directory() {
        let tree = agent_tree();
        let slaves = tree.path().join("var/lib/mesos/meta/slaves");
        let user = Node::with_privilege(tree.path(), false);
        assert!(refused(&user).starts_with("reregister must run as root"));
        let root = Node::with_privilege(tree.path(), true);
        assert!(refused(&root).ends_with("does not exist: the agent has no id to retire (it registers as a new agent at its next start); a change mesos-agent-role held back applies with dpkg-reconfigure -fnoninteractive mesos-agent-role"));
        // The absolute target Mesos writes, read under --root.
        std::os::unix::fs::symlink("/var/lib/mesos/meta/slaves/abc-S0", slaves.join("latest"))
            .unwrap();
        let checkpoint = prepare(&root).unwrap();
        assert_eq!(checkpoint.agent_id, "abc-S0");
        let retired = checkpoint.retire(1_796_006_700).unwrap();
        assert_eq!(
            retired,
            slaves.join("latest.retired-20261130T024500Z"),
            "{retired:?}"
        );
        assert!(std::fs::symlink_metadata(slaves.join("latest")).is_err());
        assert!(
            slaves.join("abc-S0").is_dir(),
            "the agent's directory stays"
        );
        // Odd links and files: one line each, nothing touched.
        std::os::unix::fs::symlink("../../../../../etc", slaves.join("latest")).unwrap();
        assert!(
            refused(&root).contains("points to ../../../../../etc, not to an agent's directory")
        );
        std::fs::remove_file(slaves.join("latest")).unwrap();
        std::os::unix::fs::symlink("gone-S1", slaves.join("latest")).unwrap();
        assert!(refused(&root).contains("points to gone-S1"));
        std::fs::remove_file(slaves.join("latest")).unwrap();
        std::fs::write(slaves.join("latest"), "x").unwrap();
        assert!(refused(&root).contains("is not a symbolic link"));
        for message in [refused(&root), refused(&user)] {
            assert_eq!(message.lines().count(), 1, "{message}");
        }
        std::fs::remove_dir_all(tree.path().join("var/lib/mesos")).unwrap();
        assert!(refused(&root).contains("does not exist: the agent never ran here"));
        tree.write(WORK_DIR_FILE, "var/lib/mesos");
        assert!(refused(&root).contains("not an absolute path"));
    }

    #[test]
    fn executors_are_named_by_framework() {
        let state = serde_json::json!({"frameworks": [
            {"name": "marathon", "executors": [{"id": "web.1"}, {"id": "web.2"}]},
            {"name": "idle", "executors": []},
        ]});
        assert_eq!(executors(&state), ["marathon/web.1", "marathon/web.2"]);
        assert!(executors(&serde_json::json!({"frameworks": []})).is_empty());
        let id = |t: &str| agent_of(Path::new(t));
        assert_eq!(
            id("/var/lib/mesos/meta/slaves/a-S0").as_deref(),
            Some("a-S0")
        );
        assert_eq!(
            id("/mnt/image/var/lib/mesos/meta/slaves/a-S0").as_deref(),
            Some("a-S0")
        );
        assert_eq!(id("a-S0").as_deref(), Some("a-S0"));
        assert_eq!(id("/etc"), None);
        assert_eq!(id("../slaves/a-S0"), None);
        assert_eq!(id("meta/slaves/.."), None);
        assert!(valid_agent_id("5b7e-4c1a-S12"));
        assert!(!valid_agent_id(".."));
        assert!(!valid_agent_id("a/b"));
    }
}
