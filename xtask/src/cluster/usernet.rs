//! A golden image booted under qemu (TCG: no KVM needed) with its cloud-init seed, alone on qemu's
//! user-mode network and reached over SSH on 127.0.0.1 (`vm.rs` boots cluster nodes on a bridge). The VM's only network is qemu's user-mode one, restricted (`restrict=on`: the
//! guest reaches nothing outside), on the /24 of the node's address with qemu's host at `.2`, so the
//! seed's static address is the one the forwarded ports lead to. The boot tests (`tests/boot.rs`)
//! and `cargo xtask bench`'s boot rows use it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

use crate::cluster::login::Login;

/// How long a boot may take on a busy 2-core machine under TCG: a master under load 10-16
/// reached cloud-init final only after ~550 s, and ZooKeeper then missed a 600 s bound.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(900);

/// A free TCP port on the loopback.
pub fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// What to boot: the image (as a throwaway snapshot), the seed (a second disk), the node's
/// address from its seed, the admin's private key, guest ports to forward besides SSH, and a
/// directory for the serial console's and qemu's logs (`<name>.console.log`, `<name>.qemu.log`).
pub struct Spec<'a> {
    pub name: &'a str,
    pub image: &'a Path,
    pub seed: &'a Path,
    pub address: &'a str,
    pub key: &'a Path,
    pub forward: &'a [u16],
    pub logs: &'a Path,
}

/// A running VM; killed when dropped.
pub struct Vm {
    qemu: Child,
    pub started: Instant,
    /// ssh as the admin through the forwarded port.
    pub login: Login,
    forwards: Vec<(u16, u16)>,
    console: PathBuf,
    qemu_log: PathBuf,
}

impl Vm {
    pub fn boot(spec: &Spec) -> Result<Self> {
        crate::tool::require(&["qemu-system-x86_64", "ssh"])?;
        let octets: Vec<&str> = spec.address.split('.').collect();
        ensure!(
            octets.len() == 4,
            "{} is not an IPv4 address: give the node's address from its seed",
            spec.address
        );
        let net = octets[..3].join(".");
        let ssh_port = free_port()?;
        let mut forwards = Vec::new();
        let mut netdev = format!(
            "user,id=n0,net={net}.0/24,host={net}.2,restrict=on,hostfwd=tcp:127.0.0.1:{ssh_port}-{}:22",
            spec.address
        );
        for guest in spec.forward {
            let host = free_port()?;
            netdev.push_str(&format!(
                ",hostfwd=tcp:127.0.0.1:{host}-{}:{guest}",
                spec.address
            ));
            forwards.push((*guest, host));
        }
        std::fs::create_dir_all(spec.logs)?;
        let console = spec.logs.join(format!("{}.console.log", spec.name));
        let qemu_log = spec.logs.join(format!("{}.qemu.log", spec.name));
        // Emptied before qemu starts: qemu truncates it only once it runs, and a wait for a line
        // that reads it before then would find the last boot's (the bench boots a name again).
        std::fs::File::create(&console)?;
        let started = Instant::now();
        let qemu = Command::new("qemu-system-x86_64")
            .args([
                "-accel", "tcg", "-m", "2048", "-smp", "2", "-display", "none",
            ])
            .arg("-serial")
            .arg(format!("file:{}", console.display()))
            .arg("-drive")
            .arg(format!(
                "file={},if=virtio,format=qcow2,snapshot=on",
                spec.image.display()
            ))
            .arg("-drive")
            .arg(format!(
                "file={},if=virtio,format=raw,readonly=on",
                spec.seed.display()
            ))
            .args(["-netdev", &netdev])
            // PCI slot 3: the kernel names it ens3, the inventory's default interface.
            .args(["-device", "virtio-net-pci,netdev=n0,addr=0x3"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // qemu's own messages (a signal that ended it, say) go beside the console.
            .stderr(std::fs::File::create(&qemu_log)?)
            .spawn()
            .context("cannot start qemu-system-x86_64")?;
        Ok(Self {
            qemu,
            started,
            login: Login::new(
                [
                    &[
                        "ssh".to_string(),
                        "-i".into(),
                        spec.key.display().to_string(),
                    ][..],
                    &["-p".to_string(), ssh_port.to_string()][..],
                    &crate::cluster::vm::SSH_OPTIONS.map(String::from)[..],
                    &["admin@127.0.0.1".to_string()][..],
                ]
                .concat(),
            ),
            forwards,
            console,
            qemu_log,
        })
    }

    /// The loopback port that leads to `guest`, one of the spec's `forward` ports.
    pub fn host_port(&self, guest: u16) -> u16 {
        self.forwards
            .iter()
            .find(|(g, _)| *g == guest)
            .map(|(_, host)| *host)
            .expect("a port the spec forwards")
    }

    /// Fails when qemu has exited or the boot took longer than [`BOOT_TIMEOUT`], saying `what`.
    pub fn check_alive(&mut self, what: &str) -> Result<()> {
        if let Some(status) = self.qemu.try_wait()? {
            let said = std::fs::read_to_string(&self.qemu_log).unwrap_or_default();
            bail!("qemu exited ({status}): {said}\n{}", self.console_tail());
        }
        ensure!(
            self.started.elapsed() < BOOT_TIMEOUT,
            "{what} after {BOOT_TIMEOUT:?}:\n{}",
            self.console_tail()
        );
        Ok(())
    }

    /// Waits for SSH, then for cloud-init to finish; returns the time since qemu started.
    pub fn wait_for_cloud_init(&mut self) -> Result<Duration> {
        loop {
            self.check_alive("no SSH")?;
            if self.login.try_ssh("true", None)?.0 {
                break;
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        // sshd may restart under us while cloud-init configures it: retry until an answer comes.
        let status = loop {
            let (_, out) = self
                .login
                .try_ssh("cloud-init status --wait --long", None)?;
            if out.contains("status:") {
                break out;
            }
            self.check_alive(&format!("no answer from cloud-init status ({out})"))?;
            std::thread::sleep(Duration::from_secs(2));
        };
        let at = self.started.elapsed();
        ensure!(
            status.contains("status: done"),
            "cloud-init did not finish cleanly:\n{status}\n{}",
            self.login
                .ssh("sudo tail -n 40 /var/log/cloud-init-output.log; true")?
        );
        Ok(at)
    }

    /// Waits until the serial console shows a line with every one of `needles`; returns the time
    /// since qemu started.
    pub fn wait_for_console(&mut self, needles: &[&str]) -> Result<Duration> {
        loop {
            let text = std::fs::read_to_string(&self.console).unwrap_or_default();
            if text
                .lines()
                .any(|line| needles.iter().all(|n| line.contains(n)))
            {
                return Ok(self.started.elapsed());
            }
            self.check_alive(&format!("no {needles:?} on the console"))?;
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Waits until `ready` says yes (asked every half second); returns the time since qemu
    /// started.
    pub fn wait_until(
        &mut self,
        what: &str,
        mut ready: impl FnMut(&Vm) -> bool,
    ) -> Result<Duration> {
        loop {
            if ready(self) {
                return Ok(self.started.elapsed());
            }
            self.check_alive(&format!("not {what}"))?;
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// The serial console's last 40 lines.
    pub fn console_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.console).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

/// ZooKeeper's `srvr` answer on a loopback port, or None while it does not serve.
pub fn srvr(port: u16) -> Option<String> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(b"srvr").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    answer.contains("Zookeeper version").then_some(answer)
}

/// The status code of an HTTP GET of `path` on a loopback port, or None while nothing answers
/// (any status counts as an answer: a follower's 307, a 401 without credentials).
pub fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream =
        TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(5)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    // One write: `write!` sends each piece of the format on its own, and a server may read the
    // first alone.
    let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    let line = std::str::from_utf8(&head).ok()?;
    line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_status_reads_the_status_line_and_none_without_a_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 256];
            let n = stream.read(&mut request).unwrap();
            assert!(
                std::str::from_utf8(&request[..n])
                    .unwrap()
                    .starts_with("GET /x HTTP/1.0")
            );
            stream
                .write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
                .unwrap();
        });
        assert_eq!(http_status(port, "/x"), Some(401));
        server.join().unwrap();
        // Nothing listens there any more.
        assert_eq!(http_status(port, "/x"), None);
        assert_eq!(srvr(port), None);
    }
}
