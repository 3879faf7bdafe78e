//! Indexing benchmark (not a test): the repository step's indexer against `apt-ftparchive packages`
//! and `dpkg-scanpackages` over the same .debs, with `sha256sum` over the same files as the floor
//! (every indexer must at least read and hash every byte). Interleaved rounds in one process tree,
//! the first round a warm-up (the page cache then holds the files for every contender alike);
//! the median of the rest is reported.
//!
//!     cargo bench -p xtask --bench index [-- DIR] [ROUNDS]
//!
//! DIR defaults to the closure cache's downloads for this host's suite
//! (`cargo xtask repo --closure` fills it): a few hundred real Debian packages.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use xtask::tool::Tools;

fn main() -> Result<()> {
    // cargo passes `--bench` to harness-less benches.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let tools = Tools::new()?;
    let arch = xtask::inputs::workspace::host_arch(&tools)?;
    let dir = match args.first() {
        Some(dir) => PathBuf::from(dir),
        None => xtask::steps::closure::cache_for(&xtask::inputs::workspace::host_suite()?, &arch)
            .join("cache/archives"),
    };
    let rounds: usize = args.get(1).map_or(Ok(5), |r| r.parse())?;
    let debs = debs_in(&dir)?;
    let bytes: u64 = debs
        .iter()
        .map(|d| std::fs::metadata(d).map(|m| m.len()).unwrap_or(0))
        .sum();
    println!(
        "{} .debs, {:.1} MB in {}; {rounds} rounds after a warm-up",
        debs.len(),
        bytes as f64 / 1e6,
        dir.display()
    );
    let deb_args: Vec<&str> = debs.iter().map(|d| d.to_str().unwrap()).collect();
    let dir_arg = dir.to_str().context("a non-UTF-8 directory")?;
    let mut sha256sum_args = vec!["--"];
    sha256sum_args.extend(&deb_args);

    type Contender<'a> = (&'a str, Box<dyn Fn() -> Result<usize> + 'a>);
    let contenders: Vec<Contender> = vec![
        (
            "sha256sum (floor)",
            Box::new(|| {
                Ok(tools
                    .read("hash the files", "sha256sum", &sha256sum_args)?
                    .len())
            }),
        ),
        (
            "mesos-roles indexer",
            Box::new(|| Ok(xtask::steps::repo::packages_index(&debs, &arch)?.len())),
        ),
        (
            "apt-ftparchive packages",
            Box::new(|| {
                Ok(tools
                    .read(
                        "index with apt-ftparchive",
                        "apt-ftparchive",
                        &["packages", dir_arg],
                    )?
                    .len())
            }),
        ),
        (
            "dpkg-scanpackages",
            Box::new(|| {
                Ok(tools
                    .read(
                        "index with dpkg-scanpackages",
                        "dpkg-scanpackages",
                        &["--multiversion", dir_arg, "/dev/null"],
                    )?
                    .len())
            }),
        ),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for round in 0..=rounds {
        for (i, (name, run)) in contenders.iter().enumerate() {
            let start = Instant::now();
            let out = run().with_context(|| format!("{name} failed"))?;
            let took = start.elapsed();
            if out == 0 {
                bail!("{name} produced nothing");
            }
            if round > 0 {
                times[i].push(took);
            }
        }
    }
    let median = |t: &[Duration]| {
        let mut t = t.to_vec();
        t.sort();
        t[t.len() / 2].as_secs_f64()
    };
    let floor = median(&times[0]);
    let ours = median(&times[1]);
    println!(
        "{:<26} {:>9} {:>9} {:>10}",
        "", "median s", "MB/s", "x floor"
    );
    for (i, (name, _)) in contenders.iter().enumerate() {
        let m = median(&times[i]);
        println!(
            "{name:<26} {m:>9.3} {:>9.0} {:>10.2}",
            bytes as f64 / 1e6 / m,
            m / floor
        );
    }
    let apt = median(&times[2]);
    println!(
        "indexer / apt-ftparchive = {:.2} (target < 1), indexer / sha256sum = {:.2} (target <= 1.5)",
        ours / apt,
        ours / floor
    );
    Ok(())
}

fn debs_in(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut debs: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| {
            format!(
                "cannot read {}: run cargo xtask repo --closure first, or give a directory of .debs",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    debs.sort();
    if debs.is_empty() {
        bail!("no .debs in {}", dir.display());
    }
    Ok(debs)
}
