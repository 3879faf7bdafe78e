//! The doubles of Mesos and Marathon (tests/doubles/) hold to the real daemons' public interfaces:
//! they refuse every flag the real ones do not know and list theirs with --help, Marathon exits
//! 112 when the machine's own name does not resolve, and the HTTP endpoints answer with the real
//! status codes (a Mesos master that does not lead: 307 with an empty body and the leader in
//! Location, 503 with none; a standby Marathon proxies to the leader). Run from their source tree
//! against Debian's ZooKeeper as local processes; no root.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use mesos_roles_tests::local::{
    self, Daemon, MARATHON, MESOS_AGENT, MESOS_MASTER, double, eventually, free_port, get, post,
    standalone_zookeeper,
};
use mesos_roles_tests::{output, require_tools, scratch, workspace};

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The flag names of a table in tests/doubles (read from the real daemon's sources).
fn table(path: &str) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(workspace().join(path))?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split('\t').next().unwrap_or_default().to_string())
        .collect())
}

#[test]
fn mesos_refuses_every_flag_mesos_does_not_know_and_lists_its_own() -> Result<()> {
    require_tools(&["python3"])?;
    let dir = scratch("double-flags")?;
    for (launcher, known) in [
        (MESOS_MASTER, "--quorum=1"),
        (MESOS_AGENT, "--master=10.0.0.1:5050"),
    ] {
        // stout's message, then the usage; nothing started.
        for unknown in [
            "--no_such_flag=1",
            "--no-no_such_flag",
            "--quorum.ucf-old=2",
            "--hostname_lookups",
        ] {
            let out = output(
                "start a Mesos double with an unknown flag",
                double(launcher)
                    .arg(known)
                    .arg(unknown)
                    .env("TEST_DOUBLE_RUN_DIR", dir.path()),
            )?;
            let name = unknown
                .trim_start_matches("--no-")
                .trim_start_matches("--")
                .split('=')
                .next()
                .unwrap();
            ensure!(
                out.status.code() == Some(1),
                "{launcher} {unknown}: {out:?}"
            );
            ensure!(
                stderr(&out).starts_with(&format!("Failed to load unknown flag '{name}'")),
                "{launcher} {unknown}: {}",
                stderr(&out)
            );
        }
        let out = output("ask for help", double(launcher).arg("--help"))?;
        ensure!(out.status.success(), "{out:?}");
        let help = String::from_utf8_lossy(&out.stdout);
        let listed: Vec<&str> = help
            .lines()
            .filter_map(|l| l.trim().strip_prefix("--"))
            .map(|l| l.trim_start_matches("[no-]").split('=').next().unwrap())
            .collect();
        let table = table(&format!(
            "tests/doubles/mesos/usr/lib/mesos-double/flags/{}.tsv",
            if launcher == MESOS_MASTER {
                "mesos-master"
            } else {
                "mesos-agent"
            }
        ))?;
        let mut sorted = table.clone();
        sorted.sort();
        ensure!(listed == sorted, "{launcher} --help lists {listed:?}");
    }
    // A deprecated alias is a real flag; the same flag twice (by both names) is refused.
    let out = output(
        "give a flag by its name and its alias",
        double(MESOS_MASTER)
            .args(["--agent_ping_timeout=10secs", "--work_dir=/nonexistent"])
            .env("MESOS_SLAVE_PING_TIMEOUT", "20secs"),
    )?;
    ensure!(
        stderr(&out).starts_with(
            "Flag 'slave_ping_timeout' is already loaded via name 'agent_ping_timeout'"
        ),
        "{}",
        stderr(&out)
    );
    Ok(())
}

#[test]
fn marathon_refuses_what_marathon_refuses_with_112() -> Result<()> {
    require_tools(&["python3", "unshare"])?;
    let dir = scratch("double-marathon")?;
    let marathon = || {
        let mut command = double(MARATHON);
        command
            .env("MARATHON_MASTER", "zk://127.0.0.1:2181/mesos")
            .env("TEST_DOUBLE_RUN_DIR", dir.path());
        command
    };
    for (variable, value, message) in [
        (
            "MARATHON_NO_SUCH_OPTION",
            "1",
            "[scallop] Error: Unknown option 'no_such_option'",
        ),
        (
            "MARATHON_HA",
            "true",
            "[scallop] Error: Excess arguments provided: 'true'",
        ),
        // Known to Marathon 1.4, removed since: refused.
        (
            "MARATHON_EVENT_SUBSCRIBER",
            "http_callback",
            "[scallop] Error: Unknown option 'event_subscriber'",
        ),
        (
            "MARATHON_DEFAULT_ACCEPTED_RESOURCE_ROLES",
            "*",
            "[scallop] Error: --default_accepted_resource_roles has been removed",
        ),
    ] {
        let out = output(
            "start the Marathon double with a bad option",
            marathon().env(variable, value),
        )?;
        ensure!(out.status.code() == Some(112), "{variable}: {out:?}");
        ensure!(
            stderr(&out).starts_with(message),
            "{variable}: {}",
            stderr(&out)
        );
    }
    // The machine's own name must resolve, whatever --hostname says.
    let out = output(
        "start the Marathon double on a host whose name does not resolve",
        local::on_unresolvable_host("python3")
            .arg("-B")
            .arg(workspace().join(MARATHON))
            .env("PYTHONPATH", workspace().join("tests/doubles/shared"))
            .env("MARATHON_MASTER", "zk://127.0.0.1:2181/mesos")
            .env("MARATHON_HOSTNAME", "127.0.0.1")
            .env("TEST_DOUBLE_RUN_DIR", dir.path()),
    )?;
    ensure!(out.status.code() == Some(112), "{out:?}");
    ensure!(
        stderr(&out)
            .contains("java.net.UnknownHostException: no-such-node.invalid: no-such-node.invalid:"),
        "{}",
        stderr(&out)
    );
    let out = output("ask Marathon for help", marathon().arg("--help"))?;
    ensure!(out.status.success(), "{out:?}");
    let help = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--master  <arg>",
        "--disable_ha",
        "--mesos_authentication_principal  <arg>",
    ] {
        ensure!(help.contains(option), "--help lacks {option}:\n{help}");
    }
    Ok(())
}

/// A master of the double, on 127.0.0.1 at `port` with ZooKeeper at `zk_port`.
fn master(dir: &Path, port: u16, zk_port: u16) -> Result<Daemon> {
    let mut daemon = Daemon::start(
        "mesos-master (double)",
        double(MESOS_MASTER)
            .arg(format!("--zk=zk://127.0.0.1:{zk_port}/mesos"))
            .arg("--quorum=1")
            .arg(format!(
                "--work_dir={}",
                dir.join(port.to_string()).display()
            ))
            .args(["--ip=127.0.0.1", "--hostname=127.0.0.1"])
            .arg(format!("--port={port}"))
            // A real flag by its deprecated name: /flags shows it by that name.
            .arg("--slave_ping_timeout=20secs")
            .env("TEST_DOUBLE_RUN_DIR", dir.join(format!("run-{port}"))),
        &dir.join(format!("mesos-master-{port}.log")),
    )?;
    daemon.wait_for(port)?;
    Ok(daemon)
}

fn marathon(dir: &Path, port: u16, zk_port: u16) -> Result<Daemon> {
    let mut daemon = Daemon::start(
        "marathon (double)",
        &mut local::marathon(port, zk_port, &dir.join(format!("run-{port}"))),
        &dir.join(format!("marathon-{port}.log")),
    )?;
    daemon.wait_for(port)?;
    Ok(daemon)
}

#[test]
fn the_leader_answers_the_others_redirect_and_with_no_leader_503() -> Result<()> {
    require_tools(&["python3", "java"])?;
    let dir = scratch("double-http")?;
    let dir = dir.path();
    let (mut zookeeper, zk_port) = standalone_zookeeper(dir)?;
    let (first, second) = (free_port()?, free_port()?);
    let _first = master(dir, first, zk_port)?;
    eventually(Duration::from_secs(30), || {
        ensure!(get(first, "/master/state")?.status == 200);
        Ok(())
    })?;
    let _second = master(dir, second, zk_port)?;
    let agent_port = free_port()?;
    let mut agent = Daemon::start(
        "mesos-slave (double)",
        double(MESOS_AGENT)
            .arg(format!("--master=zk://127.0.0.1:{zk_port}/mesos"))
            .arg(format!("--work_dir={}", dir.join("agent").display()))
            .arg("--ip=127.0.0.1")
            .arg(format!("--port={agent_port}"))
            .env("TEST_DOUBLE_RUN_DIR", dir.join("run-agent")),
        &dir.join("mesos-slave.log"),
    )?;
    agent.wait_for(agent_port)?;

    // The leader answers its state; the follower redirects with an empty body, for the
    // delegated /state too.
    let state = get(first, "/master/state")?;
    ensure!(state.status == 200, "leader: {}", state.status);
    let state = state.json()?;
    ensure!(state["pid"] == format!("master@127.0.0.1:{first}").as_str());
    ensure!(state["leader"] == state["pid"] && state["elected_time"].is_number());
    for path in ["/master/state", "/state"] {
        let answer = eventually(Duration::from_secs(30), || {
            let answer = get(second, path)?;
            ensure!(answer.status == 307, "{path}: {}", answer.status);
            Ok(answer)
        })?;
        ensure!(answer.body.is_empty(), "307 with a body: {}", answer.body);
        ensure!(
            answer.header("location") == Some(format!("//127.0.0.1:{first}/master/state").as_str()),
            "{:?}",
            answer.headers
        );
    }
    ensure!(
        get(second, "/redirect")?.header("location")
            == Some(format!("//127.0.0.1:{first}").as_str())
    );
    // What every master answers, leading or not.
    for port in [first, second] {
        ensure!(get(port, "/health")?.status == 200);
        ensure!(get(port, "/version")?.json()?["version"] == "1.11.0");
        let flags = get(port, "/flags")?.json()?;
        ensure!(
            flags["flags"]["port"] == port.to_string().as_str(),
            "{flags}"
        );
        ensure!(flags["flags"]["slave_ping_timeout"] == "20secs", "{flags}");
        ensure!(
            flags["flags"]["registry_max_agent_age"] == "2weeks",
            "{flags}"
        );
        ensure!(get(port, "/master/flags")?.json()? == flags);
        // Removed in Mesos 1.8.
        ensure!(get(port, "/master/state.json")?.status == 404);
    }
    // The agent registers with the leader; its own state and metrics say so.
    eventually(Duration::from_secs(30), || {
        let metrics = get(agent_port, "/metrics/snapshot")?.json()?;
        ensure!(metrics["slave/registered"] == 1.0, "{metrics}");
        Ok(())
    })?;
    let agent_state = get(agent_port, "/state")?.json()?;
    let pid = format!("slave(1)@127.0.0.1:{agent_port}");
    ensure!(agent_state["pid"] == pid.as_str(), "{agent_state}");
    let slaves = get(first, "/master/state")?.json()?["slaves"].clone();
    ensure!(
        slaves
            .as_array()
            .context("slaves")?
            .iter()
            .any(|s| s["pid"] == pid.as_str() && s["id"] == agent_state["id"]),
        "{slaves}"
    );
    // The doubles' registration is libprocess messaging, no HTTP endpoint: a plain POST is 404.
    let answer = post(first, "/master/mesos.internal.RegisterSlaveMessage", "{}")?;
    ensure!(answer.status == 404, "{}", answer.status);

    // Marathon: the leader answers with X-Marathon-Leader, the standby proxies to it.
    let (leading, standby) = (free_port()?, free_port()?);
    let _leading = marathon(dir, leading, zk_port)?;
    eventually(Duration::from_secs(30), || {
        ensure!(get(leading, "/v2/leader")?.status == 200);
        Ok(())
    })?;
    let _standby = marathon(dir, standby, zk_port)?;
    let answer = get(standby, "/v2/leader")?;
    ensure!(answer.status == 200, "{}", answer.body);
    ensure!(answer.json()?["leader"] == format!("127.0.0.1:{leading}").as_str());
    ensure!(answer.header("x-marathon-via") == Some(format!("1.1 127.0.0.1:{standby}").as_str()));
    ensure!(
        answer.header("x-marathon-leader") == Some(format!("http://127.0.0.1:{leading}").as_str())
    );
    let info = get(standby, "/v2/info")?.json()?;
    ensure!(
        info["elected"] == true && info["version"] == "1.10.26",
        "{info}"
    );
    ensure!(
        info["marathon_config"]["mesos_leader_ui_url"]
            == format!("http://127.0.0.1:{first}/").as_str(),
        "{info}"
    );

    // No ZooKeeper, no leader: Mesos answers 503 "No leader elected", Marathon 503 too.
    zookeeper.stop();
    for port in [first, second] {
        let answer = eventually(Duration::from_secs(30), || {
            let answer = get(port, "/master/state")?;
            ensure!(answer.status == 503, "{port}: {}", answer.status);
            Ok(answer)
        })?;
        ensure!(answer.body == "No leader elected", "{}", answer.body);
    }
    eventually(Duration::from_secs(30), || {
        let metrics = get(agent_port, "/metrics/snapshot")?.json()?;
        ensure!(metrics["slave/registered"] == 0.0, "{metrics}");
        Ok(())
    })?;
    for port in [leading, standby] {
        let answer = eventually(Duration::from_secs(30), || {
            let answer = get(port, "/v2/info")?;
            ensure!(answer.status == 503, "{port}: {}", answer.status);
            Ok(answer)
        })?;
        ensure!(answer.body == "Could not determine the current leader");
    }
    Ok(())
}
