//! A booted Debian node: a root directory run by `systemd-nspawn --boot` (real systemd as PID 1) in
//! its own network namespace. Commands run inside through `nsenter` into all its namespaces.
//! Dropping a `Node` powers it off and waits for it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::tool::{command_output as output, run_command as run};

/// The environment of commands run inside a node: nothing of the test process leaks in.
const ENV: &[&str] = &[
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG=C.UTF-8",
    "DEBIAN_FRONTEND=noninteractive",
];

pub struct Node {
    pub name: String,
    pub root: PathBuf,
    nspawn: Child,
    init_pid: u32,
    cgroups: Vec<PathBuf>,
}

impl Node {
    /// Boots `root` in the network namespace at `netns` and waits until systemd has finished
    /// starting up.
    pub fn boot(name: &str, root: &Path, netns: &Path) -> Result<Self> {
        Self::boot_with(name, root, netns, &[])
    }

    /// Like [`Node::boot`] with more systemd-nspawn options (`--bind-ro=...`).
    pub fn boot_with(name: &str, root: &Path, netns: &Path, options: &[String]) -> Result<Self> {
        std::fs::write(root.join("etc/hostname"), format!("{name}\n"))?;
        let (mut nspawn, cgroups) = in_own_cgroups(name)?;
        let log = std::fs::File::create(root.with_extension("console.log"))?;
        let nspawn = nspawn
            // Docker inside the node needs a writable /proc/sys/net, a pure cgroup2 hierarchy,
            // CAP_NET_ADMIN (for iptables) and the keyring and bpf system calls.
            .env("SYSTEMD_NSPAWN_API_VFS_WRITABLE", "network")
            .env("SYSTEMD_NSPAWN_UNIFIED_HIERARCHY", "1")
            .arg("systemd-nspawn")
            .arg("--quiet")
            .arg("--directory")
            .arg(root)
            .arg(format!("--machine={name}"))
            .args(["--boot", "--register=no", "--keep-unit", "--console=pipe"])
            .args([
                "--capability=CAP_NET_ADMIN",
                "--system-call-filter=@keyring bpf",
            ])
            .arg(format!("--network-namespace-path={}", netns.display()))
            .args(options)
            // Its own process group: a Ctrl-C at the terminal reaches the caller, which powers
            // the node off in order, and not nspawn directly.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("cannot start systemd-nspawn")?;
        let mut node = Self {
            name: name.into(),
            root: root.into(),
            init_pid: 0,
            nspawn,
            cgroups,
        };
        node.init_pid = node.wait_for_init()?;
        // Generous: nodes booting side by side on two busy cores take minutes.
        node.wait_until_started(Duration::from_secs(300))?;
        Ok(node)
    }

    /// The container's PID 1, seen from the host: the child of the nspawn process running systemd.
    fn wait_for_init(&mut self) -> Result<u32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let children = format!("/proc/{0}/task/{0}/children", self.nspawn.id());
        while Instant::now() < deadline {
            interrupted()?;
            if let Some(status) = self.nspawn.try_wait()? {
                bail!(
                    "{}: systemd-nspawn exited with {status} before booting; see {}",
                    self.name,
                    self.console_log().display()
                );
            }
            // nspawn's first child may be its short-lived outer child, not the container's init:
            // wait for the child that runs systemd.
            let text = std::fs::read_to_string(&children).unwrap_or_default();
            for pid in text.split_whitespace() {
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
                if matches!(comm.trim(), "systemd" | "init") {
                    return Ok(pid.parse()?);
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "{}: the container's init did not appear within 30s",
            self.name
        )
    }

    fn wait_until_started(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            interrupted()?;
            let state = self.output(&["systemctl", "is-system-running"])?;
            let state = String::from_utf8_lossy(&state.stdout).trim().to_string();
            match state.as_str() {
                "running" | "degraded" => return Ok(()),
                _ if Instant::now() > deadline => bail!(
                    "{}: systemd did not finish starting within {timeout:?} (state {state:?})",
                    self.name
                ),
                _ => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    pub fn console_log(&self) -> PathBuf {
        self.root.with_extension("console.log")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("nsenter");
        command
            .arg("--target")
            .arg(self.init_pid.to_string())
            .args(["--all", "--", "env", "-i"])
            .args(ENV)
            .args(args);
        command
    }

    /// Runs `args` inside the node; fails unless it exits 0.
    pub fn exec(&self, purpose: &str, args: &[&str]) -> Result<String> {
        run(
            &format!("{} on {}", purpose, self.name),
            &mut self.command(args),
        )
    }

    /// Runs `args` inside the node and returns its output whatever its exit status.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        output(
            &format!("run {args:?} on {}", self.name),
            &mut self.command(args),
        )
    }

    /// Starts `args` inside the node with its standard input and output as a byte stream (a
    /// client's connection through `nc`, a request on stdin): nothing passes through arguments.
    pub fn pipe(&self, args: &[&str]) -> Result<Pipe> {
        Pipe::spawn(self.command(args), &format!("{args:?} on {}", self.name))
    }

    /// Runs a shell script inside the node; fails unless it exits 0.
    pub fn sh(&self, purpose: &str, script: &str) -> Result<String> {
        self.exec(purpose, &["sh", "-ec", script])
    }

    /// A path inside the node, seen from the host: for writing test inputs only. Reading goes
    /// through the node (`read`), since its absolute symlinks would resolve on the host, and /run
    /// and /tmp are the node's own tmpfs.
    pub fn path(&self, inside: &str) -> PathBuf {
        self.root.join(inside.trim_start_matches('/'))
    }

    /// The text of a file, read inside the node.
    pub fn read(&self, inside: &str) -> Result<String> {
        self.exec(&format!("read {inside}"), &["cat", "--", inside])
    }

    /// Everything but directories directly in `dir` inside the node (files, and links a daemon
    /// would follow), with their text.
    pub fn files_in(&self, dir: &str) -> Result<std::collections::BTreeMap<String, String>> {
        let names = self.exec(
            &format!("list {dir}"),
            &[
                "find",
                dir,
                "-mindepth",
                "1",
                "-maxdepth",
                "1",
                "!",
                "-type",
                "d",
                "-printf",
                "%f\\n",
            ],
        )?;
        names
            .lines()
            .map(|name| Ok((name.to_string(), self.read(&format!("{dir}/{name}"))?)))
            .collect()
    }

    /// Copies host files into `dir` inside the node (not /tmp: the node mounts a tmpfs there).
    pub fn copy_in(&self, files: &[PathBuf], dir: &str) -> Result<Vec<String>> {
        let target = self.path(dir);
        std::fs::create_dir_all(&target)?;
        files
            .iter()
            .map(|file| {
                let name = file.file_name().context("file without a name")?;
                std::fs::copy(file, target.join(name)).with_context(|| {
                    format!("cannot copy {} into {}", file.display(), self.name)
                })?;
                Ok(format!(
                    "{}/{}",
                    dir.trim_end_matches('/'),
                    name.to_string_lossy()
                ))
            })
            .collect()
    }

    /// `systemctl is-enabled` and `is-active` of a unit, e.g. `("enabled", "active")`.
    pub fn unit_state(&self, unit: &str) -> Result<(String, String)> {
        let word = |verb: &str| -> Result<String> {
            let out = self.output(&["systemctl", verb, unit])?;
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        };
        Ok((word("is-enabled")?, word("is-active")?))
    }

    /// Polls `check` inside the node until it exits 0 or `timeout` passes.
    pub fn wait_for(&self, what: &str, args: &[&str], timeout: Duration) -> Result<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output(args)?;
            if out.status.success() {
                return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: {what} did not happen within {timeout:?}; last try said: {}{}",
                    self.name,
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

impl Node {
    /// Asks the node to power off without waiting (dropping it waits): several nodes then shut
    /// down side by side.
    pub fn power_off_soon(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.nspawn.id().to_string()])
            .status();
    }

    /// The host's PID of the node's systemd.
    pub fn init_pid(&self) -> u32 {
        self.init_pid
    }
}

impl crate::cluster::machine::Machine for Node {
    fn name(&self) -> &str {
        &self.name
    }
    fn exec(&self, purpose: &str, args: &[&str]) -> Result<String> {
        Node::exec(self, purpose, args)
    }
    fn exec_input(&self, purpose: &str, args: &[&str], input: &[u8]) -> Result<String> {
        crate::tool::run_command_input(
            &format!("{purpose} on {}", self.name),
            &mut self.command(args),
            input,
        )
    }
    fn output(&self, args: &[&str]) -> Result<Output> {
        Node::output(self, args)
    }
    /// Every namespace of the node's systemd: its root, its network, its processes.
    fn shell(&self) -> String {
        format!("nsenter --target {} --all", self.init_pid)
    }
    fn power_off_soon(&self) {
        Node::power_off_soon(self)
    }
    fn read(&self, path: &str) -> Result<String> {
        Node::read(self, path)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // SIGTERM makes nspawn ask the container's systemd to power off cleanly.
        let _ = Command::new("kill")
            .args(["-TERM", &self.nspawn.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut exited = false;
        while !exited && Instant::now() < deadline {
            exited = matches!(self.nspawn.try_wait(), Ok(Some(_)));
            if !exited {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        if !exited {
            let _ = self.nspawn.kill();
            let _ = self.nspawn.wait();
        }
        remove_cgroups(&self.cgroups);
    }
}

/// Writes the root's `/etc/hosts` so that every node's name resolves on every node: real
/// Marathon exits at start when the machine's own name does not resolve, and Mesos without
/// `--ip` does too. The seeds do the same with cloud-init's `manage_etc_hosts`; a node here has no
/// DNS. `nodes` are (name, address).
pub fn write_hosts(root: &Path, nodes: &[(&str, &str)]) -> Result<()> {
    let mut text = String::from(
        "# Every node of the cluster by name (mesos-roles, before the first boot).\n\
         127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    for (name, address) in nodes {
        text.push_str(&format!("{address}\t{name}\n"));
    }
    let hosts = root.join("etc/hosts");
    // Not through a symbolic link of the root, which would resolve on the host.
    let _ = std::fs::remove_file(&hosts);
    std::fs::write(&hosts, text).with_context(|| format!("cannot write {}", hosts.display()))
}

/// Set on SIGINT/SIGTERM (by `verify`): every wait for a node gives up, so callers unwind and
/// their drops power the nodes off.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// An error once [`INTERRUPTED`] is set.
pub fn interrupted() -> Result<()> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        bail!("interrupted: tearing down");
    }
    Ok(())
}

/// The host cgroup under which every node gets its own.
pub const CGROUP_PARENT: &str = "mesos-roles";

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The directories under which every node's cgroups are made, one per hierarchy nspawn uses.
pub fn cgroup_parents() -> Vec<PathBuf> {
    hierarchies()
        .into_iter()
        .map(|h| h.join(CGROUP_PARENT))
        .collect()
}

fn hierarchies() -> Vec<PathBuf> {
    let base = Path::new("/sys/fs/cgroup");
    if base.join("cgroup.controllers").exists() {
        vec![base.into()]
    } else {
        ["unified", "systemd"]
            .iter()
            .map(|h| base.join(h))
            .filter(|h| h.join("cgroup.procs").exists())
            .collect()
    }
}

/// A cgroup of the node's own in each hierarchy nspawn uses: the unified one alone on a pure
/// cgroup2 host, or the unified and the named systemd one on a hybrid host.
/// A command that moves itself into new cgroups of node `name` (under [`CGROUP_PARENT`]) and then
/// execs the program and arguments the caller adds: a host without systemd would leave it in the
/// root cgroup, where two nodes collide, and the cgroups let a later run sweep it by name
/// (`sweep.rs`). Returns the cgroups too, for [`remove_cgroups`].
pub fn in_own_cgroups(name: &str) -> Result<(Command, Vec<PathBuf>)> {
    let cgroups = own_cgroups(name)?;
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"for d in $CGROUPS; do echo $$ > "$d/cgroup.procs"; done; exec "$@""#)
        .arg("sh")
        .env(
            "CGROUPS",
            cgroups
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(" "),
        );
    Ok((command, cgroups))
}

/// Removes a node's cgroups once nspawn (or qemu) is gone: whatever of the node is still in them
/// (a container's last processes may outlive nspawn for seconds) is killed first, as a later
/// run's sweep would; then the shared parent goes when the last node has gone.
pub fn remove_cgroups(cgroups: &[PathBuf]) {
    for dir in cgroups {
        if dir.exists() {
            let _ = crate::cluster::sweep::kill_cgroup(dir);
        }
    }
    for dir in cgroups {
        if let Some(parent) = dir.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

fn own_cgroups(name: &str) -> Result<Vec<PathBuf>> {
    // Unique per process and node: two runs may boot nodes of the same name. The same name in
    // every hierarchy: nspawn makes its payload/ and supervisor/ in the systemd one under the
    // path it finds in the unified one, and those must be the ones removed.
    let unique = format!(
        "{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    hierarchies()
        .into_iter()
        .map(|h| {
            let dir = h.join(CGROUP_PARENT).join(&unique);
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create the cgroup {}", dir.display()))?;
            Ok(dir)
        })
        .collect()
}

/// A command as a stream (inside a node, or a host tool in a node's network): writes go to its standard input, reads come from
/// its standard output. Dropping it kills the command.
pub struct Pipe {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    stdout: std::process::ChildStdout,
}

impl Pipe {
    /// Starts `command` (`what` names it in an error) with its standard input and output piped.
    pub fn spawn(mut command: Command, what: &str) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot run {what}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("no stdout")?;
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// Closes the command's standard input (the end of a request).
    pub fn close_input(&mut self) {
        self.stdin = None;
    }
}

impl std::io::Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl std::io::Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match &mut self.stdin {
            Some(stdin) => stdin.write(buf),
            None => Err(std::io::ErrorKind::BrokenPipe.into()),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match &mut self.stdin {
            Some(stdin) => stdin.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.stdin = None;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
