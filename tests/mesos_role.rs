//! `mesos-role` (the mesos-role-tools package) as an operator meets it: the binary taken from the
//! .deb the pipeline builds, run against a real ZooKeeper (Debian's, a local process on a loopback
//! port with a scratch data dir) and the Mesos and Marathon test doubles (local processes on
//! 127.0.0.1), reading a node's rendered files from a scratch `--root`. And lintian on the .deb.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use mesos_roles_tests::{lintian_clean, output, require_tools, run, scratch, workspace};

/// The tools package, built once per test run by the pipeline's code, and unpacked.
struct Package {
    deb: PathBuf,
    tree: PathBuf,
}

fn package() -> Result<&'static Package> {
    static PACKAGE: OnceLock<Result<Package, String>> = OnceLock::new();
    PACKAGE
        .get_or_init(|| build_package().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow::anyhow!("cannot build mesos-role-tools: {e}"))
}

fn build_package() -> Result<Package> {
    require_tools(&["cargo-deb", "dpkg-deb", "dpkg-query", "java"])?;
    let dir = scratch("mesos-role-deb")?.keep();
    let deb = mesos_roles_tests::build_shipped_debs(&dir.join("debs"), "1.2.3-1")?
        .into_iter()
        .find(|p| p.to_string_lossy().contains("mesos-role-tools_"))
        .context("the debs step wrote no mesos-role-tools package")?;
    let tree = dir.join("tree");
    run(
        "unpack mesos-role-tools",
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&tree),
    )?;
    Ok(Package { deb, tree })
}

/// Runs the packaged `mesos-role` with `args`.
fn mesos_role(args: &[&str]) -> Result<Output> {
    let binary = package()?.tree.join("usr/bin/mesos-role");
    let out = output("run mesos-role", Command::new(&binary).args(args))?;
    eprintln!(
        "$ mesos-role {}\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(out)
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A daemon started by a test, killed when the test ends (whatever its outcome).
struct Daemon {
    name: &'static str,
    child: Child,
}

impl Daemon {
    fn start(name: &'static str, command: &mut Command, log: &Path) -> Result<Self> {
        let log = std::fs::File::create(log)?;
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {name}: {command:?}"))?;
        Ok(Self { name, child })
    }

    /// Waits until `port` on 127.0.0.1 accepts connections (or the daemon exits).
    fn wait_for(&mut self, port: u16) -> Result<()> {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited with {status} before listening on {port}",
                    self.name
                );
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("{} did not listen on {port} within 60 s", self.name)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A master node: its files under `root`, as mesos-master-role renders them (docs/debconf.md)
/// for the single master 127.0.0.1, with the test's ports; and its services.
struct Master {
    _dir: tempfile::TempDir,
    root: PathBuf,
    zk_port: u16,
    mesos_port: u16,
    marathon_port: u16,
    zookeeper: Option<Daemon>,
    mesos: Option<Daemon>,
    marathon: Option<Daemon>,
}

impl Master {
    fn new() -> Result<Self> {
        let dir = scratch("mesos-role-node")?;
        let root = dir.path().join("root");
        let (zk_port, mesos_port, marathon_port) = (free_port()?, free_port()?, free_port()?);
        let zk = format!("zk://127.0.0.1:{zk_port}/mesos");
        let data = dir.path().join("zookeeper");
        std::fs::create_dir_all(&data)?;
        let files = [
            ("var/lib/dpkg/status", dpkg_status("mesos-master-role")),
            ("etc/mesos/zk", zk.clone()),
            ("etc/mesos-master/quorum", "1".into()),
            (
                "etc/mesos-master/work_dir",
                dir.path().join("mesos").display().to_string(),
            ),
            ("etc/mesos-master/cluster", "test".into()),
            ("etc/mesos-master/hostname", "127.0.0.1".into()),
            ("etc/mesos-master/ip", "127.0.0.1".into()),
            // Not rendered by the role: an operator's flag file, here the test's port.
            ("etc/mesos-master/port", mesos_port.to_string()),
            (
                "etc/zookeeper/conf_mesos-roles/zoo.cfg",
                format!(
                    "# Generated by mesos-master-role from its debconf answers; dpkg-reconfigure mesos-master-role changes it.\n\
                     tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir={}\nclientPort={zk_port}\n\
                     server.1=127.0.0.1:2888:3888\n4lw.commands.whitelist=srvr,ruok,mntr\nadmin.enableServer=false",
                    data.display()
                ),
            ),
            ("etc/zookeeper/conf_mesos-roles/myid", "1".into()),
            (
                "etc/mesos-roles/marathon.env",
                format!(
                    "# Generated by mesos-master-role from its debconf answers; dpkg-reconfigure mesos-master-role changes it.\n\
                     MARATHON_MASTER={zk}\nMARATHON_ZK=zk://127.0.0.1:{zk_port}/marathon\nMARATHON_HOSTNAME=127.0.0.1"
                ),
            ),
            // marathon's own defaults file, where an operator would move its port.
            (
                "etc/default/marathon",
                format!("MARATHON_HTTP_PORT={marathon_port}"),
            ),
        ];
        write_files(&root, &files)?;
        Ok(Self {
            _dir: dir,
            root,
            zk_port,
            mesos_port,
            marathon_port,
            zookeeper: None,
            mesos: None,
            marathon: None,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.root.parent().unwrap().join(name)
    }

    /// Debian's ZooKeeper with the node's zoo.cfg, as its init script runs it.
    fn start_zookeeper(&mut self) -> Result<()> {
        let mut zk = Daemon::start(
            "zookeeper",
            Command::new("java")
                .arg("-cp")
                .arg("/usr/share/java/zookeeper.jar:/etc/zookeeper/conf_example")
                .arg(format!(
                    "-Dzookeeper.log.dir={}",
                    self.path("zookeeper").display()
                ))
                .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
                .arg(self.root.join("etc/zookeeper/conf_mesos-roles/zoo.cfg")),
            &self.path("zookeeper.log"),
        )?;
        zk.wait_for(self.zk_port)?;
        self.zookeeper = Some(zk);
        Ok(())
    }

    fn start_mesos(&mut self) -> Result<()> {
        let flags = |name: &str| -> Result<String> {
            Ok(
                std::fs::read_to_string(self.root.join("etc/mesos-master").join(name))?
                    .trim()
                    .to_string(),
            )
        };
        let mut mesos = Daemon::start(
            "mesos-master (double)",
            double("tests/doubles/mesos/usr/sbin/mesos-master")
                .arg(format!(
                    "--zk={}",
                    std::fs::read_to_string(self.root.join("etc/mesos/zk"))?.trim()
                ))
                .arg(format!("--quorum={}", flags("quorum")?))
                .arg(format!("--work_dir={}", flags("work_dir")?))
                .arg(format!("--cluster={}", flags("cluster")?))
                .arg(format!("--ip={}", flags("ip")?))
                .arg(format!("--port={}", self.mesos_port))
                .env("TEST_DOUBLE_RUN_DIR", self.path("run")),
            &self.path("mesos-master.log"),
        )?;
        mesos.wait_for(self.mesos_port)?;
        self.mesos = Some(mesos);
        Ok(())
    }

    fn start_marathon(&mut self) -> Result<()> {
        let mut marathon = Daemon::start(
            "marathon (double)",
            &mut marathon_command(self.marathon_port, self.zk_port, &self.path("run")),
            &self.path("marathon.log"),
        )?;
        marathon.wait_for(self.marathon_port)?;
        self.marathon = Some(marathon);
        Ok(())
    }

    fn start_all(&mut self) -> Result<()> {
        self.start_zookeeper()?;
        self.start_mesos()?;
        self.start_marathon()
    }

    fn root(&self) -> String {
        self.root.display().to_string()
    }
}

/// A node's files, each ending with a newline as the roles write them.
fn write_files(root: &Path, files: &[(&str, String)]) -> Result<()> {
    for (path, content) in files {
        let path = root.join(path);
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(&path, format!("{content}\n"))?;
    }
    Ok(())
}

/// dpkg's status with `role` installed, for `dpkg-query --root`.
fn dpkg_status(role: &str) -> String {
    format!(
        "Package: {role}\nStatus: install ok installed\nVersion: 1.2.3-1\nArchitecture: all\nMaintainer: test\nDescription: test\n"
    )
}

/// The Marathon double with the environment marathon.service gives it.
fn marathon_command(port: u16, zk_port: u16, run_dir: &Path) -> Command {
    let mut command = double("tests/doubles/marathon/usr/share/marathon/bin/marathon");
    command
        .env("MARATHON_MASTER", format!("zk://127.0.0.1:{zk_port}/mesos"))
        .env("MARATHON_ZK", format!("zk://127.0.0.1:{zk_port}/marathon"))
        .env("MARATHON_HTTP_PORT", port.to_string())
        .env("MARATHON_HTTP_ADDRESS", "127.0.0.1")
        .env("TEST_DOUBLE_RUN_DIR", run_dir);
    command
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The table's row of `check`: (state, detail).
fn row(out: &Output, check: &str) -> Option<(String, String)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next()? == check).then(|| {
                let state = words.next().unwrap_or_default().to_string();
                (state, words.collect::<Vec<_>>().join(" "))
            })
        })
}

#[test]
fn status_of_a_healthy_master_exits_0() -> Result<()> {
    let mut node = Master::new()?;
    node.start_all()?;
    let out = mesos_role(&["--root", &node.root(), "status"])?;
    assert!(out.status.success(), "{}", text(&out));
    let (state, detail) = row(&out, "zookeeper").context("no zookeeper row")?;
    assert_eq!(state, "ok");
    assert!(detail.starts_with("standalone, version 3."), "{detail}");
    let (state, detail) = row(&out, "mesos-master").context("no mesos-master row")?;
    assert_eq!(state, "ok");
    assert!(
        detail.contains(&format!("master@127.0.0.1:{}", node.mesos_port)),
        "{detail}"
    );
    let (state, _) = row(&out, "marathon").context("no marathon row")?;
    assert_eq!(state, "ok");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("healthy\n"));

    let out = mesos_role(&["--root", &node.root(), "status", "--json"])?;
    assert!(out.status.success(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    assert_eq!(report["healthy"], true);
    assert_eq!(report["roles"], serde_json::json!(["mesos-master-role"]));
    assert_eq!(report["master"]["zk_client_port"], node.zk_port);
    assert_eq!(report["master"]["marathon_port"], node.marathon_port);
    let names: Vec<&str> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["configuration", "zookeeper", "mesos-master", "marathon"]
    );
    Ok(())
}

#[test]
fn status_of_a_degraded_master_names_what_is_down() -> Result<()> {
    let mut node = Master::new()?;
    node.start_all()?;
    node.marathon.as_mut().unwrap().stop();
    let out = mesos_role(&["--root", &node.root(), "--timeout", "2", "status"])?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (state, detail) = row(&out, "marathon").context("no marathon row")?;
    assert_eq!(state, "FAIL");
    assert!(
        detail.contains(&format!("127.0.0.1:{}", node.marathon_port))
            && detail.contains("systemctl status marathon"),
        "{detail}"
    );
    assert_eq!(row(&out, "zookeeper").unwrap().0, "ok");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("NOT healthy: marathon\n"));

    node.zookeeper.as_mut().unwrap().stop();
    let out = mesos_role(&["--root", &node.root(), "--timeout", "2", "status"])?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (state, detail) = row(&out, "zookeeper").context("no zookeeper row")?;
    assert_eq!(state, "FAIL");
    assert!(
        detail.contains(&format!("127.0.0.1:{}", node.zk_port)),
        "{detail}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("NOT healthy: zookeeper, marathon\n"));
    Ok(())
}

/// An agent whose daemon runs but found no master (no ZooKeeper here), with the docker
/// containerizer and no docker daemon: both named, exit 1.
#[test]
fn status_of_an_agent_names_its_missing_master_and_docker() -> Result<()> {
    let dir = scratch("mesos-role-agent")?;
    let root = dir.path().join("root");
    let (port, zk_port) = (free_port()?, free_port()?);
    let zk = format!("zk://127.0.0.1:{zk_port}/mesos");
    write_files(
        &root,
        &[
            ("var/lib/dpkg/status", dpkg_status("mesos-agent-role")),
            ("etc/mesos/zk", zk.clone()),
            ("etc/mesos-slave/ip", "127.0.0.1".into()),
            ("etc/mesos-slave/hostname", "127.0.0.1".into()),
            ("etc/mesos-slave/containerizers", "docker,mesos".into()),
            ("etc/mesos-slave/port", port.to_string()),
        ],
    )?;
    let mut agent = Daemon::start(
        "mesos-slave (double)",
        double("tests/doubles/mesos/usr/sbin/mesos-slave")
            .arg(format!("--master={zk}"))
            .arg(format!("--work_dir={}", dir.path().join("work").display()))
            .arg("--ip=127.0.0.1")
            .arg(format!("--port={port}"))
            .arg("--containerizers=docker,mesos")
            .env("TEST_DOUBLE_RUN_DIR", dir.path().join("run")),
        &dir.path().join("mesos-slave.log"),
    )?;
    agent.wait_for(port)?;
    let root = root.display().to_string();
    let out = mesos_role(&["--root", &root, "--timeout", "2", "status"])?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(
        row(&out, "configuration")
            .context("no configuration row")?
            .0,
        "ok"
    );
    let (state, detail) = row(&out, "mesos-slave").context("no mesos-slave row")?;
    assert_eq!(state, "FAIL");
    assert!(
        detail.contains(&format!("slave(1)@127.0.0.1:{port}"))
            && detail.contains("no master found"),
        "{detail}"
    );
    let (state, detail) = row(&out, "docker").context("no docker row")?;
    assert_eq!(state, "FAIL");
    assert!(
        detail.contains(&format!("{root}/var/run/docker.sock")),
        "{detail}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("NOT healthy: mesos-slave, docker\n"));
    Ok(())
}

#[test]
fn status_of_an_inert_role_says_how_to_configure_it() -> Result<()> {
    let node = Master::new()?;
    for file in [
        "etc/zookeeper/conf_mesos-roles/zoo.cfg",
        "etc/mesos-roles/marathon.env",
    ] {
        std::fs::remove_file(node.root.join(file))?;
    }
    let out = mesos_role(&["--root", &node.root(), "status"])?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let (state, detail) = row(&out, "mesos-master-role").context("no role row")?;
    assert_eq!(state, "FAIL");
    assert!(
        detail.starts_with("inert") && detail.contains("dpkg-reconfigure"),
        "{detail}"
    );
    Ok(())
}

#[test]
fn deploy_of_the_tutorial_app_follows_it_until_it_runs() -> Result<()> {
    let mut node = Master::new()?;
    node.start_marathon()?;
    // The tutorial's app with straight quotes, as the package ships it.
    let app = package()?
        .tree
        .join("usr/share/doc/mesos-role-tools/examples/demo-app.json");
    let app = app.display().to_string();
    // No --marathon: this master's Marathon, at the port of its files.
    let out = mesos_role(&["--root", &node.root(), "deploy", &app, "--wait", "60"])?;
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "/demo: accepted by Marathon at http://127.0.0.1:{}",
            node.marathon_port
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("/demo: 0 of 1 running, 1 staged"),
        "{stdout}"
    );
    assert!(
        stdout.contains("/demo: running (1 instance) after"),
        "{stdout}"
    );

    // The same id again: Marathon's 409, said with the fix.
    let url = format!("http://127.0.0.1:{}", node.marathon_port);
    let out = mesos_role(&["deploy", &app, "--marathon", &url])?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("already has an app /demo (409 Conflict): change \"id\""),
        "{stderr}"
    );
    Ok(())
}

#[test]
fn deploy_refuses_the_tutorials_typographic_quotes_with_line_and_column() -> Result<()> {
    let mut node = Master::new()?;
    node.start_marathon()?;
    let app = workspace().join("tests/cases/apps/tutorial-definition.json");
    let app = app.display().to_string();
    let url = format!("http://127.0.0.1:{}", node.marathon_port);
    let out = mesos_role(&["deploy", &app, "--marathon", &url])?;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "{app}:3:18: not valid JSON: line 3 ends inside a string (its closing \" is missing)"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("has 4 typographic quotes where JSON needs a straight \" (U+0022)"),
        "{stderr}"
    );
    for (line, column) in [(3, 16), (5, 32), (8, 41), (9, 12)] {
        assert!(
            stderr.contains(&format!(
                "{app}:{line}:{column}: \u{201D} U+201D RIGHT DOUBLE QUOTATION MARK"
            )),
            "{line}:{column} not named:\n{stderr}"
        );
    }
    // Nothing was sent.
    let apps = run(
        "list Marathon's apps",
        Command::new("python3").arg("-c").arg(format!(
            "import urllib.request; print(urllib.request.urlopen('{url}/v2/apps').read().decode())"
        )),
    )?;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&apps)?["apps"],
        serde_json::json!([])
    );
    Ok(())
}

#[test]
fn lintian_passes_the_tools_package() -> Result<()> {
    require_tools(&["lintian"])?;
    lintian_clean(&package()?.deb)
}

/// A double run from its source tree, as its package would run it: the shared ZooKeeper client
/// (`tests/doubles/shared/`, copied beside the doubles when they are packaged) on the module path.
fn double(launcher: &str) -> Command {
    let mut command = Command::new("python3");
    command
        .arg("-B")
        .arg(workspace().join(launcher))
        .env("PYTHONPATH", workspace().join("tests/doubles/shared"));
    command
}
