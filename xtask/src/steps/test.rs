//! `cargo xtask test`: the README's test command. Installs the prerequisites (`setup`), then runs
//! every test binary of the workspace one after the other, as `cargo test --workspace` would, and
//! ends with each binary's time and the totals. `--quick` is tier 1: the unit tests and the tests
//! that need neither root nor tools, in seconds.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// Tier 1 besides the unit tests: the integration tests that need no root and no installed tool.
const QUICK: [&str; 4] = [
    "cli",
    "answers_table",
    "answers_differential",
    "shipped_code",
];

/// One test binary (or the unit tests): how to ask cargo for it, and what to call it in the table.
struct Binary {
    selector: Vec<String>,
    name: String,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
    #[serde(default = "yes")]
    test: bool,
}

fn yes() -> bool {
    true
}

pub fn run(quick: bool, no_setup: bool) -> Result<()> {
    if !quick && !no_setup {
        crate::steps::setup::run(false)?;
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let binaries = binaries(&cargo, quick)?;
    eprintln!("==> build the {} test binaries", binaries.len());
    let status = Command::new(&cargo)
        .args(["test", "--workspace", "--no-run", "--quiet"])
        .status()
        .context("cannot run cargo test --no-run")?;
    if !status.success() {
        bail!("the tests do not build: see cargo's errors above");
    }
    let mut rows = Vec::new();
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    for binary in &binaries {
        eprintln!("==> {}", binary.name);
        let start = Instant::now();
        let mut child = Command::new(&cargo)
            .args(["test", "--quiet", "--workspace"])
            .args(&binary.selector)
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot run the tests of {}", binary.name))?;
        let (mut p, mut f, mut i) = (0, 0, 0);
        for line in BufReader::new(child.stdout.take().context("no stdout")?).lines() {
            let line = line?;
            println!("{line}");
            if let Some(counts) = line.strip_prefix("test result: ") {
                p += count(counts, " passed");
                f += count(counts, " failed");
                i += count(counts, " ignored");
            }
        }
        let ok = child.wait()?.success();
        // A binary that failed without a result line (it did not start) counts as one failure.
        if !ok && f == 0 {
            f = 1;
        }
        passed += p;
        failed += f;
        ignored += i;
        rows.push((binary.name.clone(), start.elapsed().as_secs_f64(), p, f, ok));
    }
    println!("\ntest binary                          time   passed  failed");
    let mut total = 0.0;
    for (name, seconds, p, f, ok) in &rows {
        total += seconds;
        let mark = if *ok { "" } else { "  FAILED" };
        println!("{name:<34} {seconds:>7.1}s {p:>7} {f:>7}{mark}");
    }
    println!("{:<34} {total:>7.1}s", "all");
    if ignored > 0 {
        println!("{ignored} ignored");
    }
    println!("tests: {passed} passed, {failed} failed");
    if failed > 0 {
        let names: Vec<&str> = rows.iter().filter(|r| !r.4).map(|r| r.0.as_str()).collect();
        bail!("failed: {}", names.join(", "));
    }
    Ok(())
}

/// `N passed` (or failed, ignored) in cargo's result line.
fn count(counts: &str, word: &str) -> u64 {
    counts
        .split([';', '.'])
        .find_map(|part| part.trim().strip_suffix(word.trim_start()))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// The workspace's test binaries in the order cargo runs them: per package, the library, the
/// binaries, then the integration tests by name.
fn binaries(cargo: &str, quick: bool) -> Result<Vec<Binary>> {
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .context("cannot run cargo metadata")?;
    if !output.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let metadata: Metadata = serde_json::from_slice(&output.stdout)?;
    let mut packages: Vec<&Package> = metadata
        .packages
        .iter()
        .filter(|p| metadata.workspace_members.contains(&p.id))
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    // Every run selects the whole workspace: a run of one package would resolve its dependencies'
    // features anew and rebuild them.
    let mut binaries = vec![Binary {
        name: "unit tests (every crate)".into(),
        selector: vec!["--lib".into(), "--bins".into()],
    }];
    let mut tests: Vec<String> = packages
        .iter()
        .flat_map(|p| &p.targets)
        .filter(|t| t.test && rank(t) == 2)
        .map(|t| t.name.clone())
        .filter(|name| !quick || QUICK.contains(&name.as_str()))
        .collect();
    tests.sort();
    for name in tests {
        binaries.push(Binary {
            selector: vec!["--test".into(), name.clone()],
            name,
        });
    }
    Ok(binaries)
}

fn rank(target: &Target) -> u8 {
    match target.kind.first().map(String::as_str) {
        Some("lib") => 0,
        Some("bin") => 1,
        Some("test") => 2,
        _ => 3,
    }
}
