//! The doubles of Mesos and Marathon (tests/doubles/) hold to the real daemons' public interfaces:
//! they refuse every flag the real ones do not know and list theirs with --help, Marathon exits
//! 112 when the machine's own name does not resolve, and the HTTP endpoints answer with the real
//! status codes (a Mesos master that does not lead: 307 with an empty body and the leader in
//! Location, 503 with none; a standby Marathon proxies to the leader). Run from their source tree
//! against Debian's ZooKeeper as local processes; no root.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use mesos_roles_tests::local::{
    self, Daemon, MARATHON, MESOS_AGENT, MESOS_MASTER, double, eventually, free_port, get, get_as,
    post, post_as, standalone_zookeeper,
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
    master_with(
        dir,
        port,
        &[
            format!("--zk=zk://127.0.0.1:{zk_port}/mesos"),
            // A real flag by its deprecated name: /flags shows it by that name.
            "--slave_ping_timeout=20secs".into(),
        ],
    )
}

fn marathon(dir: &Path, port: u16, zk_port: u16) -> Result<Daemon> {
    start_marathon(
        dir,
        port,
        &mut local::marathon(port, zk_port, &dir.join(format!("run-{port}"))),
    )
}

/// Starts the Marathon `command` listening on `port`, its log in `dir`.
fn start_marathon(dir: &Path, port: u16, command: &mut Command) -> Result<Daemon> {
    let mut daemon = Daemon::start(
        "marathon (double)",
        command,
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

// -- Authentication -------------------------------------------------------------------------

/// Secrets no log, `/flags` or answer may show.
const AGENT_SECRET: &str = "agent-secret-5e1f";
const MARATHON_SECRET: &str = "marathon-secret-9c2d";
const OPERATOR_SECRET: &str = "operator-secret-3a7b";
const ZK_PASSWORD: &str = "zk-password-8d4e";

/// Writes `text` to `dir/name`, readable by its owner only; returns the path.
fn secret_file(dir: &Path, name: &str, text: &str) -> Result<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(path)
}

/// The master's `--credentials`, as the role writes them: agent, marathon and operator.
fn credentials(dir: &Path) -> Result<std::path::PathBuf> {
    secret_file(
        dir,
        "mesos-credentials",
        &serde_json::json!({"credentials": [
            {"principal": "agent", "secret": AGENT_SECRET},
            {"principal": "marathon", "secret": MARATHON_SECRET},
            {"principal": "operator", "secret": OPERATOR_SECRET},
        ]})
        .to_string(),
    )
}

/// A master of the double on 127.0.0.1:`port` with `flags` besides the usual ones.
fn master_with(dir: &Path, port: u16, flags: &[String]) -> Result<Daemon> {
    let mut daemon = start_master(dir, port, flags)?;
    daemon.wait_for(port)?;
    Ok(daemon)
}

/// [`master_with`], not waiting for it to listen.
fn start_master(dir: &Path, port: u16, flags: &[String]) -> Result<Daemon> {
    Daemon::start(
        "mesos-master (double)",
        double(MESOS_MASTER)
            .arg("--quorum=1")
            .arg(format!(
                "--work_dir={}",
                dir.join(port.to_string()).display()
            ))
            .args(["--ip=127.0.0.1", "--hostname=127.0.0.1"])
            .arg(format!("--port={port}"))
            .args(flags)
            .env("TEST_DOUBLE_RUN_DIR", dir.join(format!("run-{port}"))),
        &dir.join(format!("mesos-master-{port}.log")),
    )
}

/// An agent of the double on 127.0.0.1:`port` following the masters in ZooKeeper, anonymously.
fn agent_with(dir: &Path, port: u16, zk_port: u16, flags: &[String]) -> Result<Daemon> {
    let mut daemon = start_agent(dir, port, &mesos_in(zk_port, "mesos"), flags)?;
    daemon.wait_for(port)?;
    Ok(daemon)
}

/// The masters electing under `/path` of the ZooKeeper on `zk_port`, anonymously.
fn mesos_in(zk_port: u16, path: &str) -> String {
    format!("zk://127.0.0.1:{zk_port}/{path}")
}

/// An agent of the double following the masters of `master` (a `--master`), not waiting for it to
/// listen.
fn start_agent(dir: &Path, port: u16, master: &str, flags: &[String]) -> Result<Daemon> {
    Daemon::start(
        "mesos-slave (double)",
        double(MESOS_AGENT)
            .arg(format!("--master={master}"))
            .arg(format!(
                "--work_dir={}",
                dir.join(format!("agent-{port}")).display()
            ))
            .arg("--ip=127.0.0.1")
            .arg(format!("--port={port}"))
            .args(flags)
            .env("TEST_DOUBLE_RUN_DIR", dir.join(format!("run-{port}"))),
        &dir.join(format!("mesos-slave-{port}.log")),
    )
}

fn log_of(dir: &Path, name: &str) -> Result<String> {
    std::fs::read_to_string(dir.join(name)).with_context(|| format!("no log {name}"))
}

/// `answer` is the 401 of HTTP Basic in `realm` (`scheme` as the daemon's library writes it).
fn unauthorized(answer: &local::Answer, scheme: &str, realm: &str) -> Result<()> {
    ensure!(answer.status == 401, "{} {}", answer.status, answer.body);
    let challenge = format!("{scheme} realm=\"{realm}\"");
    ensure!(
        answer.header("www-authenticate") == Some(challenge.as_str()),
        "{:?}",
        answer.headers
    );
    Ok(())
}

/// The pids of the agents the master at `port` has registered.
fn registered_agents(port: u16) -> Result<Vec<String>> {
    let state = get_as(port, "/master/state", ("operator", OPERATOR_SECRET))?.json()?;
    Ok(state["slaves"]
        .as_array()
        .context("slaves")?
        .iter()
        .filter_map(|s| s["pid"].as_str().map(str::to_string))
        .collect())
}

#[test]
fn mesos_credentials_are_json_only() -> Result<()> {
    require_tools(&["python3"])?;
    let dir = scratch("double-credentials")?;
    // The text form of Mesos before 1.11 ("principal secret" lines) is refused.
    let text = secret_file(dir.path(), "text", &format!("operator {OPERATOR_SECRET}\n"))?;
    let out = output(
        "start a master with text credentials",
        double(MESOS_MASTER)
            .args(["--ip=127.0.0.1", "--registry=in_memory"])
            .arg(format!("--port={}", free_port()?))
            .arg(format!("--credentials=file://{}", text.display()))
            .env("TEST_DOUBLE_RUN_DIR", dir.path()),
    )?;
    ensure!(out.status.code() == Some(1), "{out:?}");
    ensure!(
        stderr(&out).contains("Invalid json format") && !stderr(&out).contains(OPERATOR_SECRET),
        "{}",
        stderr(&out)
    );
    // A realm that must authenticate needs credentials to check against.
    let out = output(
        "start a master that must authenticate HTTP without credentials",
        double(MESOS_MASTER)
            .args([
                "--ip=127.0.0.1",
                "--registry=in_memory",
                "--authenticate_http_readwrite",
            ])
            .arg(format!("--port={}", free_port()?))
            .env("TEST_DOUBLE_RUN_DIR", dir.path()),
    )?;
    ensure!(out.status.code() == Some(1), "{out:?}");
    ensure!(
        stderr(&out).contains("No credentials provided for the default 'basic' HTTP authenticator for realm 'mesos-master-readwrite'"),
        "{}",
        stderr(&out)
    );
    Ok(())
}

#[test]
fn mesos_authenticates_http_agents_and_zookeeper() -> Result<()> {
    require_tools(&["python3", "java"])?;
    let dir = scratch("double-mesos-auth")?;
    let dir = dir.path();
    let (_zookeeper, zk_port) = standalone_zookeeper(dir)?;
    let credentials = credentials(dir)?;
    let zk = secret_file(
        dir,
        "mesos-zk",
        &format!("zk://mesos:{ZK_PASSWORD}@127.0.0.1:{zk_port}/mesos"),
    )?;
    let port = free_port()?;
    let zk_flag = format!("--zk=file://{}", zk.display());
    let _master = master_with(
        dir,
        port,
        &[
            zk_flag.clone(),
            format!("--credentials=file://{}", credentials.display()),
            "--authenticate_agents".into(),
            "--authenticate_frameworks".into(),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
        ],
    )?;
    let operator = ("operator", OPERATOR_SECRET);
    let wrong = ("operator", "not-the-secret");
    eventually(Duration::from_secs(30), || {
        ensure!(get_as(port, "/master/state", operator)?.status == 200);
        Ok(())
    })?;

    // Read-only endpoints: 401 without or with wrong credentials, 200 with the right ones.
    for path in [
        "/master/state",
        "/state",
        "/flags",
        "/master/flags",
        "/metrics/snapshot",
    ] {
        unauthorized(&get(port, path)?, "Basic", "mesos-master-readonly")
            .with_context(|| format!("{path} without credentials"))?;
        unauthorized(
            &get_as(port, path, wrong)?,
            "Basic",
            "mesos-master-readonly",
        )
        .with_context(|| format!("{path} with a wrong secret"))?;
        let answer = get_as(port, path, operator)?;
        ensure!(answer.status == 200, "{path}: {}", answer.status);
    }
    // Never authenticated.
    ensure!(get(port, "/health")?.status == 200);
    ensure!(get(port, "/version")?.status == 200);
    ensure!(get(port, "/redirect")?.status == 307);
    // Write endpoints: their own realm; past it, the endpoint's own answer.
    for path in [
        "/master/teardown",
        "/master/maintenance/schedule",
        "/master/api/v1",
    ] {
        for credentials in [None, Some(wrong)] {
            let answer = post_as(port, path, "application/json", "{}", credentials)?;
            unauthorized(&answer, "Basic", "mesos-master-readwrite")
                .with_context(|| format!("POST {path} with {credentials:?}"))?;
        }
    }
    let answer = post_as(
        port,
        "/master/teardown",
        "application/x-www-form-urlencoded",
        "frameworkId=none",
        Some(operator),
    )?;
    ensure!(
        answer.status == 400 && answer.body == "No framework found with specified ID",
        "{} {}",
        answer.status,
        answer.body
    );
    let answer = post_as(
        port,
        "/master/api/v1",
        "application/json",
        r#"{"type":"GET_HEALTH"}"#,
        Some(operator),
    )?;
    ensure!(answer.status == 200, "{} {}", answer.status, answer.body);
    ensure!(
        answer.json()?["get_health"]["healthy"] == true,
        "{}",
        answer.body
    );
    // /flags shows the paths given, no secret.
    let flags = get_as(port, "/flags", operator)?;
    let shown = flags.json()?;
    ensure!(
        shown["flags"]["zk"] == format!("file://{}", zk.display()).as_str()
            && shown["flags"]["credentials"] == credentials.display().to_string().as_str(),
        "{shown}"
    );

    // Agents: a right credential registers; a wrong one is refused and the agent exits 1; none
    // is ignored while the master requires one.
    let agent_credential = |name: &str, secret: &str| {
        secret_file(
            dir,
            name,
            &serde_json::json!({"principal": "agent", "secret": secret}).to_string(),
        )
    };
    let right = agent_credential("agent-credential", AGENT_SECRET)?;
    let bad = agent_credential("agent-credential-bad", "not-the-agent-secret")?;
    let http = secret_file(
        dir,
        "agent-http-credentials",
        &serde_json::json!({"credentials": [{"principal": "operator", "secret": OPERATOR_SECRET}]})
            .to_string(),
    )?;
    let (good_port, bad_port, none_port) = (free_port()?, free_port()?, free_port()?);
    let _good = agent_with(
        dir,
        good_port,
        zk_port,
        &[
            format!("--credential=file://{}", right.display()),
            format!("--http_credentials={}", http.display()),
            "--authenticate_http_readonly".into(),
            "--authenticate_http_readwrite".into(),
        ],
    )?;
    let mut refused = start_agent(
        dir,
        bad_port,
        &mesos_in(zk_port, "mesos"),
        &[format!("--credential={}", bad.display())],
    )?;
    let mut anonymous = agent_with(dir, none_port, zk_port, &[])?;
    let good_pid = format!("slave(1)@127.0.0.1:{good_port}");
    eventually(Duration::from_secs(30), || {
        let agents = registered_agents(port)?;
        ensure!(agents.contains(&good_pid), "{agents:?}");
        Ok(())
    })?;
    ensure!(
        local::exit_code(&mut refused, Duration::from_secs(30))? == Some(1),
        "the refused agent did not exit 1"
    );
    let refused_log = log_of(dir, &format!("mesos-slave-{bad_port}.log"))?;
    ensure!(
        refused_log.contains(&format!(
            "Master master@127.0.0.1:{port} refused authentication"
        )),
        "{refused_log}"
    );
    // The anonymous agent keeps trying, unregistered.
    eventually(Duration::from_secs(30), || {
        let log = log_of(dir, &format!("mesos-master-{port}.log"))?;
        ensure!(log.contains(&format!(
            "Refusing registration of agent at slave(1)@127.0.0.1:{none_port} because it is not authenticated"
        )));
        Ok(())
    })?;
    ensure!(
        anonymous.child.try_wait()?.is_none(),
        "the anonymous agent exited"
    );
    let agents = registered_agents(port)?;
    ensure!(agents == [good_pid.clone()], "{agents:?}");
    let metrics = get(none_port, "/metrics/snapshot")?.json()?;
    ensure!(metrics["slave/registered"] == 0.0, "{metrics}");
    // The agent's own endpoints, in its realms.
    unauthorized(&get(good_port, "/state")?, "Basic", "mesos-agent-readonly")?;
    unauthorized(
        &get_as(good_port, "/state", wrong)?,
        "Basic",
        "mesos-agent-readonly",
    )?;
    ensure!(get_as(good_port, "/state", operator)?.status == 200);
    unauthorized(
        &post_as(good_port, "/api/v1", "application/json", "{}", None)?,
        "Basic",
        "mesos-agent-readwrite",
    )?;
    let answer = post_as(
        good_port,
        "/api/v1",
        "application/json",
        r#"{"type":"GET_HEALTH"}"#,
        Some(operator),
    )?;
    ensure!(answer.status == 200, "{} {}", answer.status, answer.body);
    ensure!(get(good_port, "/health")?.status == 200);

    // ZooKeeper: the master's node is readable by anyone and writable by nobody else.
    let script = format!(
        r#"
import zk_double as z
s = z.Session([("127.0.0.1", {zk_port})], 10000)
node = "/mesos/" + min(c for c in s.get_children("/mesos") if c.startswith("json.info_"))
print("read", b"master@127.0.0.1:{port}" in s.get_data(node))
for name, op in (("set_data", lambda: s.set_data(node, b"{{}}")), ("delete", lambda: s.delete(node))):
    try:
        op()
        print(name, "done")
    except z.ZkError as error:
        print(name, error.code)
"#
    );
    let out = local::run_python(&script)?;
    ensure!(
        String::from_utf8_lossy(&out.stdout) == "read True\nset_data -102\ndelete -102\n",
        "{out:?}"
    );
    // A master whose ZooKeeper credentials do not match the nodes' cannot contend: it exits.
    let wrong_zk = secret_file(
        dir,
        "mesos-zk-wrong",
        &format!("zk://mesos:not-the-password@127.0.0.1:{zk_port}/mesos"),
    )?;
    let other = free_port()?;
    let mut intruder = start_master(dir, other, &[format!("--zk=file://{}", wrong_zk.display())])?;
    ensure!(
        local::exit_code(&mut intruder, Duration::from_secs(30))? == Some(1),
        "a master with wrong ZooKeeper credentials did not exit 1"
    );
    let log = log_of(dir, &format!("mesos-master-{other}.log"))?;
    ensure!(
        log.contains("Failed to contend") && log.contains("not authenticated"),
        "{log}"
    );
    ensure!(get_as(port, "/master/state", operator)?.status == 200);

    // A master without --credentials cannot check a credential: it refuses every one (Mesos'
    // crammd5 authenticator with none), and the agent exits 1.
    let open_port = free_port()?;
    let _open = master_with(
        dir,
        open_port,
        &[format!("--zk={}", mesos_in(zk_port, "mesos-open"))],
    )?;
    let agent_port = free_port()?;
    let mut agent = start_agent(
        dir,
        agent_port,
        &mesos_in(zk_port, "mesos-open"),
        &[format!("--credential={}", right.display())],
    )?;
    ensure!(
        local::exit_code(&mut agent, Duration::from_secs(30))? == Some(1),
        "an agent with a credential was not refused by a master without credentials"
    );
    let log = log_of(dir, &format!("mesos-slave-{agent_port}.log"))?;
    ensure!(
        log.contains(&format!(
            "Master master@127.0.0.1:{open_port} refused authentication"
        )),
        "{log}"
    );

    // No secret in any log or in /flags.
    let mut texts = vec![flags.body];
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "log") && !path.ends_with("zookeeper.log") {
            texts.push(std::fs::read_to_string(&path)?);
        }
    }
    for text in &texts {
        for secret in [AGENT_SECRET, OPERATOR_SECRET, MARATHON_SECRET, ZK_PASSWORD] {
            ensure!(!text.contains(secret), "{secret} shown:\n{text}");
        }
    }
    Ok(())
}

/// A Marathon of the double authenticating as `marathon` with the secret in `secret_file` (None:
/// no framework authentication), its API behind the operator's credentials; elected under its own
/// `zk_path`.
fn secure_marathon(
    dir: &Path,
    port: u16,
    zk_port: u16,
    zk_path: &str,
    secret_file: Option<&Path>,
) -> Result<Daemon> {
    let mut command = local::marathon(port, zk_port, &dir.join(format!("run-{port}")));
    command
        .env(
            "MARATHON_ZK",
            format!("zk://marathon:{ZK_PASSWORD}@127.0.0.1:{zk_port}/{zk_path}"),
        )
        .env(
            "MARATHON_HTTP_CREDENTIALS",
            format!("operator:{OPERATOR_SECRET}"),
        );
    if let Some(secret_file) = secret_file {
        command
            .env("MARATHON_MESOS_AUTHENTICATION", "")
            .env("MARATHON_MESOS_AUTHENTICATION_PRINCIPAL", "marathon")
            .env("MARATHON_MESOS_AUTHENTICATION_SECRET_FILE", secret_file);
    }
    start_marathon(dir, port, &mut command)
}

#[test]
fn marathon_needs_http_credentials_and_authenticates_as_a_framework() -> Result<()> {
    require_tools(&["python3", "java"])?;
    let dir = scratch("double-marathon-auth")?;
    let dir = dir.path();
    let (_zookeeper, zk_port) = standalone_zookeeper(dir)?;
    let credentials = credentials(dir)?;
    let master_port = free_port()?;
    let _master = master_with(
        dir,
        master_port,
        &[
            format!("--zk=zk://127.0.0.1:{zk_port}/mesos"),
            format!("--credentials={}", credentials.display()),
            "--authenticate_frameworks".into(),
        ],
    )?;
    eventually(Duration::from_secs(30), || {
        ensure!(get(master_port, "/master/state")?.status == 200);
        Ok(())
    })?;
    // Marathon reads the secret file byte for byte: a newline at its end is part of the secret.
    let right = secret_file(dir, "marathon-secret", MARATHON_SECRET)?;
    let newline = secret_file(dir, "marathon-secret-nl", &format!("{MARATHON_SECRET}\n"))?;
    let wrong = secret_file(dir, "marathon-secret-wrong", "not-the-marathon-secret")?;
    let port = free_port()?;
    let _marathon = secure_marathon(dir, port, zk_port, "marathon", Some(&right))?;
    let mut refused = Vec::new();
    for (path, secret) in [
        ("marathon-nl", Some(newline.as_path())),
        ("marathon-wrong", Some(wrong.as_path())),
        ("marathon-none", None),
    ] {
        let other = free_port()?;
        refused.push((
            other,
            secret_file_name(secret),
            secure_marathon(dir, other, zk_port, path, secret)?,
        ));
    }

    // Every path needs the operator's credentials, /ping included.
    let operator = ("operator", OPERATOR_SECRET);
    for path in ["/ping", "/v2/info", "/v2/apps", "/no/such/path"] {
        unauthorized(&get(port, path)?, "basic", "Mesosphere")
            .with_context(|| format!("{path} without credentials"))?;
        unauthorized(
            &get_as(port, path, ("operator", "not-the-secret"))?,
            "basic",
            "Mesosphere",
        )
        .with_context(|| format!("{path} with a wrong password"))?;
    }
    let ping = eventually(Duration::from_secs(30), || {
        let answer = get_as(port, "/ping", operator)?;
        ensure!(answer.status == 200, "{}", answer.status);
        Ok(answer)
    })?;
    ensure!(ping.body == "pong", "{}", ping.body);

    // The leading Marathon registers with the leading master as the framework `marathon`.
    let framework_id = eventually(Duration::from_secs(30), || {
        let info = get_as(port, "/v2/info", operator)?.json()?;
        info["frameworkId"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("no frameworkId: {info}"))
    })?;
    let state = get(master_port, "/master/state")?.json()?;
    let frameworks = state["frameworks"].as_array().context("frameworks")?;
    ensure!(
        frameworks.len() == 1
            && frameworks[0]["id"] == framework_id.as_str()
            && frameworks[0]["name"] == "marathon"
            && frameworks[0]["principal"] == "marathon",
        "{frameworks:?}"
    );

    // A wrong secret, the right one with a newline, or none: the master refuses, Marathon exits
    // 106 (a scheduler error).
    for (other, what, daemon) in &mut refused {
        ensure!(
            local::exit_code(daemon, Duration::from_secs(30))? == Some(106),
            "Marathon with {what} did not exit 106"
        );
        let log = log_of(dir, &format!("marathon-{other}.log"))?;
        ensure!(
            log.contains("refused authentication") || log.contains("is not authenticated"),
            "{what}: {log}"
        );
    }

    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "log") && !path.ends_with("zookeeper.log") {
            let text = std::fs::read_to_string(&path)?;
            for secret in [MARATHON_SECRET, OPERATOR_SECRET, ZK_PASSWORD] {
                ensure!(!text.contains(secret), "{secret} in {}", path.display());
            }
        }
    }
    Ok(())
}

fn secret_file_name(secret: Option<&Path>) -> String {
    secret.map_or("no credential".into(), |p| p.display().to_string())
}

/// The agent `port`'s `latest` link (under the work directory [`start_agent`] gives it): the
/// agent id it names.
fn latest_agent(dir: &Path, port: u16) -> Result<String> {
    let latest = dir.join(format!("agent-{port}/meta/slaves/latest"));
    let target = std::fs::read_link(&latest).with_context(|| format!("no {}", latest.display()))?;
    ensure!(
        target.is_absolute() && target.join("slave.info").is_file(),
        "{} -> {}",
        latest.display(),
        target.display()
    );
    Ok(target.file_name().unwrap().to_string_lossy().into_owned())
}

/// The agents the master at `port` lists (`/master/slaves`): (id, hostname, attributes).
fn listed_agents(port: u16) -> Result<Vec<(String, String, serde_json::Value)>> {
    let slaves = get_as(port, "/master/slaves", ("operator", OPERATOR_SECRET))?.json()?;
    Ok(slaves["slaves"]
        .as_array()
        .context("slaves")?
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or_default().to_string(),
                s["hostname"].as_str().unwrap_or_default().to_string(),
                s["attributes"].clone(),
            )
        })
        .collect())
}

/// Mesos checkpoints a registered agent under WORK_DIR/meta/slaves/<id> with `latest` linked to
/// it, and recovers from it at the next start: with the same id when its SlaveInfo is compatible
/// under `--reconfiguration_policy` (`additive`: added attributes and grown resources; `equal`,
/// the default: nothing changed), else it exits 1 with Mesos' message and remedy; without
/// `latest` it registers as a new agent.
#[test]
fn an_agent_recovers_its_id_as_its_reconfiguration_policy_permits() -> Result<()> {
    require_tools(&["python3", "java"])?;
    let dir = scratch("double-agent-recovery")?;
    let dir = dir.path();
    let (_zookeeper, zk_port) = standalone_zookeeper(dir)?;
    let master_port = free_port()?;
    let _master = master(dir, master_port, zk_port)?;
    let port = free_port()?;
    let agent = |flags: &[&str]| -> Result<Daemon> {
        let mut all = vec!["--hostname=agent-a".to_string()];
        all.extend(flags.iter().map(|f| f.to_string()));
        start_agent(dir, port, &mesos_in(zk_port, "mesos"), &all)
    };
    let registered = |id: Option<&str>| -> Result<(String, serde_json::Value)> {
        eventually(Duration::from_secs(30), || {
            let agents = listed_agents(master_port)?;
            let (found, _, attributes) = agents.first().context("no agent registered")?;
            if let Some(id) = id {
                ensure!(found == id, "{found} registered, not {id}");
            }
            Ok((found.clone(), attributes.clone()))
        })
    };

    // The agent checkpoints once the master's answer reaches it, a moment after the master
    // lists it.
    let checkpointed = |id: &str, attribute: &str| -> Result<()> {
        eventually(Duration::from_secs(10), || {
            ensure!(latest_agent(dir, port)? == id);
            let info = std::fs::read_to_string(
                dir.join(format!("agent-{port}/meta/slaves/{id}/slave.info")),
            )?;
            ensure!(info.contains(attribute), "{info}");
            Ok(())
        })
    };
    let mut first = agent(&["--attributes=rack:r1", "--resources=cpus:2"])?;
    let (id, _) = registered(None)?;
    checkpointed(&id, "rack")?;
    first.stop();

    // additive: an attribute added and a resource grown keep the id.
    let mut second = agent(&[
        "--reconfiguration_policy=additive",
        "--attributes=rack:r1;zone:z1",
        "--resources=cpus:3",
    ])?;
    second.wait_for(port)?;
    assert_eq!(get(port, "/state")?.json()?["id"], id.as_str());
    eventually(Duration::from_secs(30), || {
        let (_, attributes) = registered(Some(&id))?;
        ensure!(attributes["zone"] == "z1", "{attributes}");
        Ok(())
    })?;
    checkpointed(&id, "zone")?;
    second.stop();

    let latest = dir.join(format!("agent-{port}/meta/slaves/latest"));
    for (flags, said) in [
        (
            vec!["--reconfiguration_policy=additive", "--attributes=rack:r2;zone:z1", "--resources=cpus:3"],
            "Failed to perform recovery: Configuration change not permitted under 'additive' policy: Value of text attribute 'rack' changed from r1 to r2".to_string(),
        ),
        (
            vec!["--reconfiguration_policy=additive", "--attributes=rack:r1;zone:z1", "--resources=cpus:1"],
            "Configuration change not permitted under 'additive' policy: Value of scalar resource 'cpus' decreased from 3 to 1".into(),
        ),
        (
            vec!["--reconfiguration_policy=additive", "--attributes=zone:z1", "--resources=cpus:3"],
            "Configuration change not permitted under 'additive' policy: Couldn't find attribute rack:r1".into(),
        ),
        // equal (the default): even an added attribute.
        (
            vec!["--attributes=rack:r1;zone:z1;row:3", "--resources=cpus:3"],
            "Failed to perform recovery: Incompatible agent info detected. ".into(),
        ),
        (
            vec!["--reconfiguration_policy=newest"],
            "Unknown option for 'reconfiguration_policy' flag newest.".into(),
        ),
    ] {
        let mut refused = agent(&flags)?;
        assert_eq!(
            local::exit_code(&mut refused, Duration::from_secs(20))?,
            Some(1),
            "{flags:?}"
        );
        let log = log_of(dir, &format!("mesos-slave-{port}.log"))?;
        assert!(log.contains(&said), "{flags:?}:\n{log}");
        if !said.starts_with("Unknown") {
            assert!(
                log.contains(&format!("rm -f {}", latest.display())),
                "{log}"
            );
        }
        // Nothing changed: the same agent is still checkpointed.
        assert_eq!(latest_agent(dir, port)?, id);
    }

    // `latest` gone: a new agent, a new id; the old agent's directory stays.
    std::fs::remove_file(&latest)?;
    let _third = agent(&["--attributes=rack:r2", "--resources=cpus:1"])?;
    let (new_id, attributes) = eventually(Duration::from_secs(30), || {
        let agents = listed_agents(master_port)?;
        let found = agents
            .iter()
            .find(|(found, _, _)| *found != id)
            .context("no new agent yet")?;
        Ok((found.0.clone(), found.2.clone()))
    })?;
    assert_eq!(attributes["rack"], "r2");
    checkpointed(&new_id, "r2")?;
    assert!(
        dir.join(format!("agent-{port}/meta/slaves/{id}/slave.info"))
            .is_file()
    );
    Ok(())
}

/// Mesos' maintenance primitives on the master: the schedule (validated as Mesos does, behind the
/// readwrite realm), `/master/machine/down` only for a DRAINING machine of the schedule (400 with
/// Mesos' message otherwise), which shuts its agent down (the agent exits 0) and refuses it while
/// down; `/master/machine/up` takes the machine out of the schedule; `/master/maintenance/status`.
#[test]
fn the_master_takes_scheduled_machines_down_and_up() -> Result<()> {
    require_tools(&["python3", "java"])?;
    let dir = scratch("double-maintenance")?;
    let dir = dir.path();
    let (_zookeeper, zk_port) = standalone_zookeeper(dir)?;
    let credentials = credentials(dir)?;
    let port = free_port()?;
    let _master = master_with(
        dir,
        port,
        &[
            format!("--zk={}", mesos_in(zk_port, "mesos")),
            format!("--credentials=file://{}", credentials.display()),
            "--authenticate_http_readwrite".into(),
        ],
    )?;
    let operator = ("operator", OPERATOR_SECRET);
    let post_json = |path: &str, body: serde_json::Value| {
        post_as(
            port,
            path,
            "application/json",
            &body.to_string(),
            Some(operator),
        )
    };
    let refused = |answer: local::Answer, said: &str| -> Result<()> {
        ensure!(
            answer.status == 400 && answer.body == said,
            "{} {:?}, not 400 {said:?}",
            answer.status,
            answer.body
        );
        Ok(())
    };
    let agent_port = free_port()?;
    let agent_flags = ["--hostname=agent-a".to_string()];
    let mut agent = agent_with(dir, agent_port, zk_port, &agent_flags)?;
    let agent_id = eventually(Duration::from_secs(30), || {
        let agents = listed_agents(port)?;
        Ok(agents.first().context("no agent")?.0.clone())
    })?;

    unauthorized(
        &get(port, "/master/maintenance/schedule")?,
        "Basic",
        "mesos-master-readwrite",
    )?;
    unauthorized(
        &post(port, "/master/machine/down", "[]")?,
        "Basic",
        "mesos-master-readwrite",
    )?;
    let schedule = |body| post_json("/master/maintenance/schedule", body);
    let read_schedule = || -> Result<serde_json::Value> {
        get_as(port, "/master/maintenance/schedule", operator)?.json()
    };
    assert_eq!(read_schedule()?, serde_json::json!({}));
    let this = serde_json::json!({"hostname": "agent-a", "ip": "127.0.0.1"});
    let other = serde_json::json!({"hostname": "other", "ip": "10.0.0.9"});
    let window = |ids: serde_json::Value| {
        serde_json::json!({"machine_ids": ids,
            "unavailability": {"start": {"nanoseconds": 1}, "duration": {"nanoseconds": 3_600_000_000_000u64}}})
    };
    refused(
        schedule(serde_json::json!({"windows": [window(serde_json::json!([]))]}))?,
        "List of machines in the maintenance window is empty",
    )?;
    refused(
        schedule(serde_json::json!({"windows": [window(serde_json::json!([{}]))]}))?,
        "Both 'hostname' and 'ip' for a machine are empty",
    )?;
    refused(
        schedule(
            serde_json::json!({"windows": [window(serde_json::json!([other])), window(serde_json::json!([other]))]}),
        )?,
        r#"Machine '{"hostname":"other","ip":"10.0.0.9"}' appears more than once in the schedule"#,
    )?;
    let down = |ids: serde_json::Value| post_json("/master/machine/down", ids);
    let up = |ids: serde_json::Value| post_json("/master/machine/up", ids);
    refused(
        down(serde_json::json!([other]))?,
        r#"Machine '{"hostname":"other","ip":"10.0.0.9"}' is not part of a maintenance schedule"#,
    )?;
    // The machine of a registered agent is known to the master, UP.
    refused(
        down(serde_json::json!([this]))?,
        r#"Machine '{"hostname":"agent-a","ip":"127.0.0.1"}' is not in DRAINING mode and cannot be brought down"#,
    )?;
    refused(down(serde_json::json!([]))?, "List of machines is empty")?;
    let get_down = get_as(port, "/master/machine/down", operator)?;
    assert_eq!(get_down.status, 405, "{}", get_down.body);

    // Host names compare without case.
    let shouted = serde_json::json!({"hostname": "AGENT-A", "ip": "127.0.0.1"});
    let both = serde_json::json!({"windows": [window(serde_json::json!([other, shouted]))]});
    assert_eq!(schedule(both.clone())?.status, 200);
    assert_eq!(read_schedule()?, both);
    let status = get(port, "/master/maintenance/status")?.json()?;
    assert_eq!(
        status["draining_machines"].as_array().map(Vec::len),
        Some(2),
        "{status}"
    );
    assert_eq!(down(serde_json::json!([this]))?.status, 200);
    assert_eq!(
        local::exit_code(&mut agent, Duration::from_secs(20))?,
        Some(0)
    );
    let log = log_of(dir, &format!("mesos-slave-{agent_port}.log"))?;
    assert!(
        log.contains(&format!(
            "Agent asked to shut down by master@127.0.0.1:{port} because 'Operator initiated 'Machine DOWN''"
        )),
        "{log}"
    );
    assert!(listed_agents(port)?.is_empty());
    let status = get(port, "/master/maintenance/status")?.json()?;
    assert_eq!(
        status["down_machines"],
        serde_json::json!([this]),
        "{status}"
    );
    refused(
        schedule(serde_json::json!({"windows": [window(serde_json::json!([other]))]}))?,
        r#"Machine '{"hostname":"agent-a","ip":"127.0.0.1"}' is deactivated and cannot be removed from the schedule"#,
    )?;

    // While the machine is down the master refuses its agent, which exits (systemd restarts it).
    let mut agent = start_agent(dir, agent_port, &mesos_in(zk_port, "mesos"), &agent_flags)?;
    assert_eq!(
        local::exit_code(&mut agent, Duration::from_secs(20))?,
        Some(0)
    );
    let log = log_of(dir, &format!("mesos-slave-{agent_port}.log"))?;
    assert!(log.contains("because 'Machine is `DOWN`'"), "{log}");

    assert_eq!(up(serde_json::json!([this]))?.status, 200);
    assert_eq!(
        read_schedule()?,
        serde_json::json!({"windows": [window(serde_json::json!([other]))]})
    );
    refused(
        up(serde_json::json!([this]))?,
        r#"Machine '{"hostname":"agent-a","ip":"127.0.0.1"}' is not in DOWN mode and cannot be brought up"#,
    )?;
    let _agent = agent_with(dir, agent_port, zk_port, &agent_flags)?;
    eventually(Duration::from_secs(30), || {
        let agents = listed_agents(port)?;
        ensure!(agents.iter().any(|a| a.0 == agent_id), "{agents:?}");
        Ok(())
    })?;
    Ok(())
}
