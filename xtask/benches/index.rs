//! Indexing benchmark (not a test): the repository step's indexer against `apt-ftparchive packages`
//! and `dpkg-scanpackages` over the same .debs, with `sha256sum` over the same files as the floor
//! (every indexer must at least read and hash every byte). Interleaved rounds after a warm-up (the
//! page cache then holds the files for every contender alike); the medians are reported. The row
//! `index` of `cargo xtask bench` runs the same code (`steps/bench.rs`).
//!
//!     cargo bench -p xtask --bench index [-- DIR] [ROUNDS]
//!
//! DIR defaults to the closure cache's downloads for this host's suite
//! (`cargo xtask repo --closure` fills it): a few hundred real Debian packages.

use std::path::PathBuf;

use anyhow::Result;

fn main() -> Result<()> {
    // cargo passes `--bench` to harness-less benches.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let tools = xtask::tool::Tools::new()?;
    let rounds: usize = args.get(1).map_or(Ok(5), |r| r.parse())?;
    xtask::steps::bench::index(&tools, args.first().map(PathBuf::from), rounds)?;
    Ok(())
}
