//! A golden image booted as a cluster node under qemu: TCG, or KVM when asked (a host's /dev/kvm
//! may open and still not run a kernel: a nested host's does not here, though a probe of a few
//! instructions passes, so it is never guessed). The node's disk is a qcow2 overlay of the image
//! (kept across a stop and a start, as a machine's disk is), its cloud-init seed a second,
//! read-only disk, its one NIC a tap device on the bridge of a `netns::Net` (qemu runs in that
//! hub namespace: nothing is routed anywhere else), its serial console a file. Commands run over SSH as the seed's admin user with sudo,
//! with a key made for the run, from a namespace on the same bridge, all of them through one
//! connection per VM (ssh's connection sharing): under TCG a new connection (key exchange, sshd's
//! fork, PAM) costs the guest about a second of CPU, a shared one a tenth of that, and verify
//! polls its nodes every second.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::cluster::login::Login;
use crate::cluster::machine::Machine;
use crate::cluster::nspawn::interrupted;
use crate::tool::run_command as run;

/// How long a VM may take to boot and finish cloud-init: nodes booting side by side under TCG on
/// two busy cores take minutes.
const BOOT_TIMEOUT: Duration = Duration::from_secs(900);

/// How the run reaches its VMs: the key the seeds authorised, the admin user, and the namespace
/// ssh runs in.
#[derive(Clone)]
pub struct Ssh {
    pub key: PathBuf,
    pub user: String,
    pub netns: PathBuf,
    /// Where each VM's shared connection has its socket: the run's own directory (0700).
    pub sockets: PathBuf,
}

/// The longest socket path ssh can bind: a Unix socket's path holds 107 bytes, and ssh binds a
/// temporary name (the path and 17 more) first. Beyond it, a VM's commands each connect anew.
const SOCKET_PATH_MAX: usize = 90;

/// One VM to boot.
pub struct Spec<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub image: &'a Path,
    pub seed: &'a Path,
    /// The overlay: made on the first boot, booted again as it is after a stop.
    pub disk: &'a Path,
    /// The tap device on the bridge, in `hub`.
    pub tap: &'a str,
    pub hub: &'a Path,
    /// The NIC's MAC address: unique on the bridge.
    pub mac: String,
    pub memory_mib: u32,
    pub kvm: bool,
    pub ssh: Ssh,
}

pub struct Vm {
    name: String,
    address: String,
    qemu: Child,
    cgroups: Vec<PathBuf>,
    ssh: Ssh,
    console: PathBuf,
    qemu_log: PathBuf,
}

impl Vm {
    /// Boots the VM and waits until SSH answers and cloud-init has finished (`status: done`).
    pub fn boot(spec: &Spec) -> Result<Self> {
        let mut vm = Self::start(spec)?;
        vm.wait_for_cloud_init()?;
        Ok(vm)
    }

    /// Starts qemu and returns at once: the VM is booting.
    pub fn start(spec: &Spec) -> Result<Self> {
        if !spec.disk.exists() {
            run(
                &format!("make {}'s disk over the image", spec.name),
                Command::new("qemu-img")
                    .args(["create", "-q", "-f", "qcow2", "-F", "qcow2", "-b"])
                    .arg(spec.image)
                    .arg(spec.disk),
            )?;
        }
        let console = spec.disk.with_extension("console.log");
        let qemu_log = spec.disk.with_extension("qemu.log");
        let accel = if spec.kvm { "kvm" } else { "tcg" };
        let (mut qemu, cgroups) = crate::cluster::nspawn::in_own_cgroups(spec.name)?;
        let qemu = qemu
            .arg("nsenter")
            .arg(format!("--net={}", spec.hub.display()))
            .args(["--", "qemu-system-x86_64"])
            .args(["-accel", accel, "-smp", "2", "-display", "none"])
            .args(["-m", &spec.memory_mib.to_string()])
            // Appended to: a restarted VM's console follows its first boot's.
            .arg("-chardev")
            .arg(format!(
                "file,id=console,append=on,path={}",
                console.display()
            ))
            .args(["-serial", "chardev:console"])
            .arg("-drive")
            .arg(format!(
                "file={},if=virtio,format=qcow2",
                spec.disk.display()
            ))
            .arg("-drive")
            .arg(format!(
                "file={},if=virtio,format=raw,readonly=on",
                spec.seed.display()
            ))
            .arg("-netdev")
            .arg(format!(
                "tap,id=n0,ifname={},script=no,downscript=no",
                spec.tap
            ))
            // PCI slot 3: the kernel names it ens3, the example inventory's interface.
            .arg("-device")
            .arg(format!(
                "virtio-net-pci,netdev=n0,addr=0x3,mac={}",
                spec.mac
            ))
            // Its own process group: a Ctrl-C at the terminal reaches the caller, which powers
            // the VM off in order.
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&qemu_log)?)
            .spawn()
            .context("cannot start qemu-system-x86_64")?;
        Ok(Self {
            name: spec.name.into(),
            address: spec.address.into(),
            qemu,
            cgroups,
            ssh: spec.ssh.clone(),
            console,
            qemu_log,
        })
    }

    /// Fails with qemu's last words and the console's end if qemu has exited, or at a Ctrl-C.
    pub fn still_running(&mut self) -> Result<()> {
        interrupted()?;
        if let Some(status) = self.qemu.try_wait()? {
            let said = std::fs::read_to_string(&self.qemu_log).unwrap_or_default();
            bail!(
                "{}: qemu exited ({status}): {said}\n{}",
                self.name,
                self.console_tail()
            );
        }
        Ok(())
    }

    fn wait_for_cloud_init(&mut self) -> Result<()> {
        let started = Instant::now();
        loop {
            self.still_running()?;
            if started.elapsed() > BOOT_TIMEOUT {
                bail!(
                    "{}: no answer over SSH within {BOOT_TIMEOUT:?}; the console ends:\n{}",
                    self.name,
                    self.console_tail()
                );
            }
            // Asked again every 2 s, never with --wait: a VM that hangs must not hold the run past
            // BOOT_TIMEOUT or a SIGTERM. sshd may restart under us while cloud-init configures it.
            let out = self.output(&["cloud-init", "status"]);
            if let Ok(out) = out {
                let said = String::from_utf8_lossy(&out.stdout);
                if said.contains("status: done") {
                    return Ok(());
                }
                if said.contains("status: error") {
                    bail!(
                        "{}: cloud-init failed: {said}; its log ends:\n{}",
                        self.name,
                        self.output(&["tail", "-n", "40", "/var/log/cloud-init-output.log"])
                            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                            .unwrap_or_default()
                    );
                }
            }
            std::thread::sleep(Duration::from_secs(2));
        }
    }

    fn console_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.console).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The socket of the VM's shared connection, unless the run's directory is too deep for one.
    fn control_socket(&self) -> Option<String> {
        let path = self.ssh.sockets.join(format!("{}.ssh", self.name));
        let path = path.to_str()?.to_string();
        (path.len() <= SOCKET_PATH_MAX).then_some(path)
    }

    /// ssh to the admin from the run's namespace: the command line without the remote command.
    /// The first command opens the VM's shared connection; it ends 60 s after its last command,
    /// or when the VM is dropped.
    pub fn login(&self) -> Login {
        let key = self.ssh.key.display().to_string();
        let target = format!("{}@{}", self.ssh.user, self.address);
        let shared = self
            .control_socket()
            .map(|socket| {
                [
                    "-o".to_string(),
                    "ControlMaster=auto".into(),
                    "-o".into(),
                    format!("ControlPath={socket}"),
                    "-o".into(),
                    "ControlPersist=60".into(),
                ]
                .to_vec()
            })
            .unwrap_or_default();
        let ssh: Vec<String> = ["ssh", "-i", &key]
            .iter()
            .chain(SSH_OPTIONS.iter())
            .map(|a| a.to_string())
            .chain(shared)
            .chain([target])
            .collect();
        let ssh: Vec<&str> = ssh.iter().map(String::as_str).collect();
        Login::new(crate::cluster::netns::argv_in(&self.ssh.netns, &ssh))
    }

    /// `args` as root on the VM: ssh from the run's namespace, sudo, a clean environment. The
    /// remote shell gets the arguments as shell words.
    fn command(&self, args: &[&str]) -> Result<Command> {
        let words = shlex::try_join(args.iter().copied())
            .with_context(|| format!("a NUL byte in {args:?}"))?;
        Ok(self.login().command(&format!(
            "sudo -n env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
             LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive {words}"
        )))
    }
}

/// ssh's options for a throwaway VM: its host key is new every boot and trusted blindly (the VM is
/// reached only on the run's own network or the loopback), no prompt, only the key given.
pub const SSH_OPTIONS: [&str; 12] = [
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "LogLevel=ERROR",
    "-o",
    "ConnectTimeout=10",
    "-o",
    "BatchMode=yes",
    "-o",
    "IdentitiesOnly=yes",
];

/// A throwaway ed25519 key without a passphrase at `dir/id_ed25519` (commented `comment`) for
/// reaching VMs; returns its path and the public key's line.
pub fn throwaway_key(dir: &Path, comment: &str) -> Result<(PathBuf, String)> {
    let key = dir.join("id_ed25519");
    run(
        "make a throwaway SSH key for the VMs",
        Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
            .arg(&key),
    )?;
    let public = std::fs::read_to_string(key.with_extension("pub"))?;
    Ok((key, public.trim().to_string()))
}

impl Machine for Vm {
    fn name(&self) -> &str {
        &self.name
    }
    fn exec(&self, purpose: &str, args: &[&str]) -> Result<String> {
        run(
            &format!("{purpose} on {}", self.name),
            self.command(args)?.stdin(Stdio::null()),
        )
    }
    fn exec_input(&self, purpose: &str, args: &[&str], input: &[u8]) -> Result<String> {
        crate::tool::run_command_input(
            &format!("{purpose} on {}", self.name),
            &mut self.command(args)?,
            input,
        )
    }
    fn output(&self, args: &[&str]) -> Result<Output> {
        crate::tool::command_output(
            &format!("run {args:?} on {}", self.name),
            self.command(args)?.stdin(Stdio::null()),
        )
    }
    fn shell(&self) -> String {
        self.login().line()
    }
    /// qemu ends at SIGTERM at once: to the node, a power cut.
    fn power_off_soon(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.qemu.id().to_string()])
            .status();
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        // The shared connection's ssh runs detached: ended here, not left to its 60 s.
        if let Some(socket) = self.control_socket() {
            let _ = crate::tool::command_output(
                &format!("end the SSH connection to {}", self.name),
                Command::new("ssh")
                    .args(["-o", &format!("ControlPath={socket}"), "-O", "exit"])
                    .arg(&self.address)
                    .stdin(Stdio::null()),
            );
        }
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
        crate::cluster::nspawn::remove_cgroups(&self.cgroups);
    }
}
