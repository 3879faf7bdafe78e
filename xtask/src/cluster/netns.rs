//! A private network for nodes (`verify`'s cluster, the tests' nodes): a hub network namespace holding a bridge, and one namespace per
//! node joined to it by a veth pair. Nothing is created in the host's own namespace, traffic never
//! leaves these namespaces, and dropping the `Net` deletes all of it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;

use crate::tool::run_command as run;

/// The nodes' subnet. It only exists inside the namespaces of one `Net`.
pub const PREFIX_LEN: u8 = 24;

pub struct Net {
    hub: String,
    nodes: Vec<String>,
    taps: usize,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Net {
    pub fn new() -> Result<Self> {
        // Names unique per process and net, carrying the process id (see [`owner`]).
        let tag = format!(
            "mr{}x{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        let net = Self {
            hub: format!("{tag}h"),
            nodes: Vec::new(),
            taps: 0,
        };
        ip(&["netns", "add", &net.hub])?;
        ip(&["-n", &net.hub, "link", "set", "lo", "up"])?;
        ip(&["-n", &net.hub, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &net.hub, "link", "set", "br0", "up"])?;
        Ok(net)
    }

    /// A new node namespace with `address` on its `eth0`; returns the namespace's path for
    /// `systemd-nspawn --network-namespace-path`.
    pub fn add_node(&mut self, address: &str) -> Result<PathBuf> {
        let index = self.nodes.len();
        let ns = format!("{}n{index}", self.hub.trim_end_matches('h'));
        let hub_end = format!("v{index}");
        ip(&["netns", "add", &ns])?;
        self.nodes.push(ns.clone());
        ip(&["-n", &ns, "link", "set", "lo", "up"])?;
        ip(&[
            "-n", &self.hub, "link", "add", &hub_end, "type", "veth", "peer", "name", "eth0",
            "netns", &ns,
        ])?;
        ip(&[
            "-n", &self.hub, "link", "set", &hub_end, "master", "br0", "up",
        ])?;
        let cidr = format!("{address}/{PREFIX_LEN}");
        ip(&["-n", &ns, "addr", "add", &cidr, "dev", "eth0"])?;
        ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        Ok(PathBuf::from("/run/netns").join(ns))
    }
}

impl Net {
    /// A new tap device on the bridge, for a VM's NIC; returns its name. qemu opens it from the
    /// hub namespace ([`Net::hub`]); it goes with that namespace.
    pub fn add_tap(&mut self) -> Result<String> {
        let tap = format!("t{}", self.taps);
        self.taps += 1;
        ip(&["-n", &self.hub, "tuntap", "add", "dev", &tap, "mode", "tap"])?;
        ip(&["-n", &self.hub, "link", "set", &tap, "master", "br0", "up"])?;
        Ok(tap)
    }

    /// The hub namespace's path (where the bridge and the taps are).
    pub fn hub(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.hub)
    }
}

/// The id of the process that made the namespace `name` (`mr<pid>x<n>h`, `mr<pid>x<n>n<i>`), if a
/// `Net` made it.
pub fn owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix("mr")?;
    let (pid, rest) = rest.split_once('x')?;
    let tail = rest.trim_start_matches(|c: char| c.is_ascii_digit());
    let node = tail
        .strip_prefix('n')
        .map(|i| !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()));
    (tail == "h" || node == Some(true)).then(|| pid.parse().ok())?
}

impl Drop for Net {
    fn drop(&mut self) {
        // Deleting a namespace deletes its interfaces, and so the veth pairs and the bridge.
        for ns in self.nodes.iter().chain([&self.hub]) {
            let _ = ip(&["netns", "delete", ns]);
        }
    }
}

/// The host's `args` run in the network namespace at `netns` (only its network: the host's files
/// and tools). A client of the cluster needs nothing installed on the nodes this way.
pub fn command_in(netns: &Path, args: &[&str]) -> Command {
    let argv = argv_in(netns, args);
    let mut command = Command::new(&argv[0]);
    command.args(&argv[1..]);
    command
}

/// The command line of [`command_in`]: what an operator types for the same.
pub fn argv_in(netns: &Path, args: &[&str]) -> Vec<String> {
    let entry = [
        "nsenter".into(),
        format!("--net={}", netns.display()),
        "--".into(),
    ];
    entry
        .into_iter()
        .chain(args.iter().map(|a| a.to_string()))
        .collect()
}

fn ip(args: &[&str]) -> Result<String> {
    run(
        "set up the nodes' private network",
        Command::new("ip").args(args),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_namespace_names_the_process_that_made_it() {
        assert_eq!(super::owner("mr4242x0h"), Some(4242));
        assert_eq!(super::owner("mr4242x13n2"), Some(4242));
        for other in [
            "mr4242x0",
            "mr4242x0hx",
            "mrx0h",
            "docker",
            "mr12x0n",
            "mr1x0nn",
        ] {
            assert_eq!(super::owner(other), None, "{other}");
        }
    }
}
