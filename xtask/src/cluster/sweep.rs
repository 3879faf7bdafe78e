//! What a killed run left behind (a verify or a test stopped by SIGKILL or the OOM killer): node
//! containers, network namespaces and unpacked roots. They are found by the names this project
//! gives them, which carry the id of the process that made them, and removed only when that
//! process is gone, so a run going on beside is never touched.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::tool::run_command as run;

/// How much was swept.
#[derive(Debug, Default, PartialEq)]
pub struct Swept {
    pub nodes: usize,
    pub namespaces: usize,
    pub roots: usize,
}

impl Swept {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl std::fmt::Display for Swept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} node containers, {} network namespaces, {} root directories",
            self.nodes, self.namespaces, self.roots
        )
    }
}

/// Sweeps what dead runs left: their nodes' cgroups (every process in them killed first), their
/// namespaces (`netns::Net`'s names), and their roots in `roots` (named `cluster-<pid>-...`).
pub fn leftovers(roots: &Path) -> Result<Swept> {
    let mut swept = Swept::default();
    for dir in crate::cluster::nspawn::cgroup_parents() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            // `<node>-<pid>-<n>`.
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut fields = name.rsplit('-');
            let pid = fields.nth(1).and_then(|p| p.parse::<u32>().ok());
            if path.is_dir()
                && pid.is_some_and(|pid| !alive(pid))
                && removed_here(kill_cgroup(&path), &path)?
            {
                swept.nodes += 1;
            }
        }
    }
    let namespaces = run(
        "list the network namespaces",
        Command::new("ip").args(["netns", "list"]),
    )?;
    for line in namespaces.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if let Some(pid) = crate::cluster::netns::owner(name)
            && !alive(pid)
        {
            let deleted = run(
                "delete a namespace an earlier run left",
                Command::new("ip").args(["netns", "delete", name]),
            );
            if removed_here(deleted.map(drop), &Path::new("/run/netns").join(name))? {
                swept.namespaces += 1;
            }
        }
    }
    for entry in std::fs::read_dir(roots).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let pid = name
            .strip_prefix("cluster-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !alive(pid)) {
            // The dead run's node roots are overlays (`roots::overlay`) still mounted, their
            // nodes killed above: unmounted first, so that only what the nodes wrote is deleted.
            crate::cluster::roots::unmount_below(&path)?;
            let removed = std::fs::remove_dir_all(&path)
                .with_context(|| format!("cannot remove {}", path.display()));
            if removed_here(removed, &path)? {
                swept.roots += 1;
            }
        }
    }
    Ok(swept)
}

/// Whether this sweep removed `path`: another run sweeping at the same time may have removed it
/// first (its removal then fails here), and gone is as good as removed; anything else fails.
fn removed_here(removal: Result<()>, path: &Path) -> Result<bool> {
    match removal {
        Ok(()) => Ok(true),
        Err(_) if !path.exists() => Ok(false),
        Err(error) => Err(error),
    }
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Kills every process in the cgroup `dir` and below, then removes the cgroups, deepest first.
pub fn kill_cgroup(dir: &Path) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let pids = procs_below(dir);
        if pids.is_empty() {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "cannot empty the cgroup {} an earlier run left: kill its processes ({}) by hand",
            dir.display(),
            pids.join(" ")
        );
        // A process may exit between the listing and the kill: the status does not matter.
        let _ = crate::tool::command_output(
            "kill what an earlier run left",
            Command::new("kill").arg("-KILL").args(&pids),
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // An emptied cgroup may stay busy for a moment on a cgroups v1 host: removed again until then.
    loop {
        let mut dirs = dirs_below(dir);
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        let removed = dirs.iter().try_for_each(std::fs::remove_dir);
        match removed {
            Ok(()) => return Ok(()),
            Err(error) if Instant::now() > deadline => {
                return Err(error)
                    .with_context(|| format!("cannot remove the cgroup {}", dir.display()));
            }
            Err(_) => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

fn dirs_below(dir: &Path) -> Vec<PathBuf> {
    let mut all = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < all.len() {
        let children: Vec<PathBuf> = std::fs::read_dir(&all[i])
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        all.extend(children);
        i += 1;
    }
    all
}

fn procs_below(dir: &Path) -> Vec<String> {
    dirs_below(dir)
        .iter()
        .flat_map(|d| {
            std::fs::read_to_string(d.join("cgroup.procs"))
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_leftover_another_sweep_removed_first_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("cluster-1-x");
        let failed = || Err(anyhow::anyhow!("cannot remove it"));
        assert!(!super::removed_here(failed(), &gone).unwrap());
        assert!(super::removed_here(Ok(()), &gone).unwrap());
        std::fs::create_dir(&gone).unwrap();
        assert!(super::removed_here(failed(), &gone).is_err());
    }
}
