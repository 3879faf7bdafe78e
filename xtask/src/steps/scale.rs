//! The bench's `scale` row (`cargo xtask bench --only scale`): `cargo xtask verify` (nspawn) on
//! clusters of 1+1, 3+1 and 5+3 nodes, each run's wall time, its cluster-up time, its checks and
//! the peak memory of its nodes' cgroups, so that the cost of verification is known before someone
//! tries 7 masters. Not among the default rows: it takes many minutes.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::inputs::workspace::{self, Build};
use crate::plan::{Request, Target};

/// (masters, agents) of each run.
pub const SIZES: [(usize, usize); 3] = [(1, 1), (3, 1), (5, 3)];

/// How often the nodes' memory is read.
const SAMPLE: Duration = Duration::from_millis(500);

pub fn run(build: &Build, upstream: Option<std::path::PathBuf>, dir: &Path) -> Result<()> {
    let dist = dir.join("dist");
    Request {
        command: "dist".into(),
        targets: vec![Target::Debs, Target::Repo, Target::Manifest],
        upstream,
        dist: Some(dist.clone()),
        keep_repo: true,
        ..Request::default()
    }
    .plan(build)?
    .execute(build)?;
    let repo = crate::steps::verify::repo_from_manifest(&dist)?;
    let example =
        crate::inputs::inventory::Inventory::load(&workspace::root().join("cluster.toml"))?;
    let mut rows = Vec::new();
    for (masters, agents) in SIZES {
        let inventory = dir.join(format!("cluster-{masters}+{agents}.toml"));
        std::fs::write(
            &inventory,
            inventory_text(
                &example.cluster.suite,
                &example.cluster.architecture,
                masters,
                agents,
            ),
        )?;
        eprintln!("bench scale: verify {masters} masters + {agents} agents");
        let out = dir.join(format!("verify-{masters}+{agents}.json"));
        let start = Instant::now();
        let mut child = Command::new(std::env::current_exe()?)
            .arg("verify")
            .arg("--inventory")
            .arg(&inventory)
            .arg("--repo")
            .arg(&repo)
            .arg("--json")
            .stdout(std::fs::File::create(&out)?)
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start cargo xtask verify")?;
        let mut peak = 0u64;
        let status = loop {
            peak = peak.max(nodes_memory(child.id()));
            if let Some(status) = child.try_wait()? {
                break status;
            }
            std::thread::sleep(SAMPLE);
        };
        let wall = start.elapsed();
        let summary: Value = serde_json::from_slice(&std::fs::read(&out)?)
            .with_context(|| format!("verify's summary {} is not JSON", out.display()))?;
        let checks = summary["checks"].as_array().cloned().unwrap_or_default();
        let up = checks
            .iter()
            .find(|c| {
                c["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("cluster up"))
            })
            .and_then(|c| c["seconds"].as_f64())
            .unwrap_or(0.0);
        let passed = checks.iter().filter(|c| c["ok"] == true).count();
        if !status.success() {
            bail!(
                "verify of {masters}+{agents} failed ({passed} of {} checks passed): see {}",
                checks.len(),
                out.display()
            );
        }
        rows.push((masters, agents, wall, up, checks.len(), peak));
    }
    println!("\nverify as the cluster grows (nspawn, one run each)");
    println!(
        "  {:<10} {:>8} {:>14} {:>8} {:>16}",
        "nodes", "wall s", "cluster up s", "checks", "peak memory MiB"
    );
    for (masters, agents, wall, up, checks, peak) in rows {
        println!(
            "  {:<10} {:>8.1} {:>14.1} {:>8} {:>16}",
            format!("{masters}+{agents}"),
            wall.as_secs_f64(),
            up,
            checks,
            peak >> 20
        );
    }
    Ok(())
}

/// An inventory of `masters` masters and `agents` agents on the example's subnet.
fn inventory_text(suite: &str, architecture: &str, masters: usize, agents: usize) -> String {
    let mut text = format!(
        "[cluster]\nname = \"scale\"\nsuite = \"{suite}\"\narchitecture = \"{architecture}\"\n\
         [network]\nprefix_len = 24\ninterface = \"ens3\"\n\
         [admin]\nssh_keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchmarkKeyOfNoOneAtAllForScaleOnly00 bench\"]\n"
    );
    for i in 1..=masters {
        text.push_str(&format!(
            "[[masters]]\nname = \"master-{i}\"\naddress = \"10.77.0.{}\"\n",
            10 + i
        ));
    }
    for i in 1..=agents {
        text.push_str(&format!(
            "[[agents]]\nname = \"agent-{i}\"\naddress = \"10.77.0.{}\"\n",
            20 + i
        ));
    }
    text
}

/// The memory charged now to the node cgroups of the verify run `pid` (its containers, their
/// page cache included), in bytes.
fn nodes_memory(pid: u32) -> u64 {
    let tag = format!("-{pid}-");
    crate::cluster::nspawn::cgroup_parents()
        .into_iter()
        .filter_map(|parent| std::fs::read_dir(parent).ok())
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(&tag))
        .filter_map(|e| std::fs::read_to_string(e.path().join("memory.current")).ok())
        .filter_map(|text| text.trim().parse::<u64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    #[test]
    fn each_size_is_an_inventory_that_loads() {
        for (masters, agents) in super::SIZES {
            let inventory = crate::inputs::inventory::Inventory::parse(&super::inventory_text(
                "bookworm", "amd64", masters, agents,
            ))
            .unwrap();
            assert_eq!(inventory.nodes().len(), masters + agents);
        }
    }
}
