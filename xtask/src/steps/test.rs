//! `cargo xtask test`: the README's test command. Installs the prerequisites (`setup`), then runs
//! every test binary of the workspace, as `cargo test --workspace` would, and ends with each
//! binary's wall and CPU time and the totals. The VM tier (`BESIDE`) runs in a second lane beside
//! the others, started first: it uses less than a core. `--one-lane` runs one binary at a
//! time. `--quick` is tier 1: the unit tests and the tests that need neither root nor tools, in
//! seconds.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// Tier 1 besides the unit tests: the integration tests that need no root and no installed tool.
const QUICK: [&str; 4] = [
    "cli",
    "answers_table",
    "answers_differential",
    "shipped_code",
];

/// Run in a second lane, beside the other binaries, and started first: the VM tier (qemu TCG) is
/// the longest binary and keeps about two thirds of a core busy (1271 s CPU in 1946 s in one
/// run), so the other core is free for the rest. It shares
/// with the other tiers only what takes its own lock (the cached roots, images and apt closures,
/// the images' signing key), ports the kernel hands out, and names that carry its process id
/// (the network namespaces and roots of its `verify --from images`): no host apt.
const BESIDE: [&str; 1] = ["boot"];

/// Started first in the other lane: the longest binary there, so that the two lanes end close
/// together. Its clusters run beside the VM tier: its bounds on failover times held with VMs and
/// other clusters beside them at load 10-15 on two cores (the switch-over's polls at most 1.6 s
/// apart, the failovers within 20 s).
const FIRST: [&str; 1] = ["verify"];

/// One test binary (or the unit tests): how to ask cargo for it, and what to call it in the table.
struct Binary {
    selector: Vec<String>,
    name: String,
}

/// What one binary's run came to.
struct Outcome {
    wall: Duration,
    /// User and system CPU time of the binary and everything it waited for (cargo, the test
    /// binary, its tools, VMs and containers), from wait4.
    user: Duration,
    system: Duration,
    passed: u64,
    failed: u64,
    ignored: u64,
    ok: bool,
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

pub fn run(quick: bool, no_setup: bool, one_lane: bool) -> Result<()> {
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
    let start = Instant::now();
    let (beside, mut pending): (Vec<usize>, Vec<usize>) = (0..binaries.len())
        .partition(|&i| !one_lane && BESIDE.contains(&binaries[i].name.as_str()));
    let two_lanes = !beside.is_empty();
    let mut outcomes: Vec<Option<Outcome>> = binaries.iter().map(|_| None).collect();
    std::thread::scope(|scope| -> Result<()> {
        let mut lane = (!beside.is_empty()).then(|| {
            let (binaries, cargo) = (&binaries, &cargo);
            scope.spawn(move || -> Result<Vec<(usize, Outcome)>> {
                beside
                    .into_iter()
                    .map(|i| Ok((i, run_binary(cargo, &binaries[i], true)?)))
                    .collect()
            })
        });
        // A stable sort: the rest keep cargo's order.
        pending.sort_by_key(|&i| !FIRST.contains(&binaries[i].name.as_str()));
        for i in pending {
            let outcome = run_binary(&cargo, &binaries[i], false)?;
            outcomes[i] = Some(outcome);
        }
        join(&mut lane, &mut outcomes)
    })?;
    let elapsed = start.elapsed();
    println!("\ntest binary                           wall      cpu   passed  failed");
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    let (mut wall, mut user, mut system) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut failures = Vec::new();
    for (binary, outcome) in binaries.iter().zip(&outcomes) {
        let o = outcome.as_ref().context("a binary was never run")?;
        let mark = if o.ok { "" } else { "  FAILED" };
        let lane = if beside_of(binary, one_lane) {
            "  (beside)"
        } else {
            ""
        };
        println!(
            "{:<34} {:>7.1}s {:>7.1}s {:>7} {:>7}{mark}{lane}",
            binary.name,
            o.wall.as_secs_f64(),
            (o.user + o.system).as_secs_f64(),
            o.passed,
            o.failed
        );
        passed += o.passed;
        failed += o.failed;
        ignored += o.ignored;
        wall += o.wall;
        user += o.user;
        system += o.system;
        if !o.ok {
            failures.push(binary.name.as_str());
        }
    }
    println!(
        "{:<34} {:>7.1}s {:>7.1}s (user {:.1}s, sys {:.1}s)",
        "all",
        wall.as_secs_f64(),
        (user + system).as_secs_f64(),
        user.as_secs_f64(),
        system.as_secs_f64()
    );
    println!(
        "{:<34} {:>7.1}s",
        if two_lanes {
            "elapsed (two lanes)"
        } else {
            "elapsed (one lane)"
        },
        elapsed.as_secs_f64()
    );
    if ignored > 0 {
        println!("{ignored} ignored");
    }
    println!("tests: {passed} passed, {failed} failed");
    if !failures.is_empty() {
        bail!("failed: {}", failures.join(", "));
    }
    Ok(())
}

type Lane<'scope> = std::thread::ScopedJoinHandle<'scope, Result<Vec<(usize, Outcome)>>>;

/// Waits for the second lane (if it still runs) and files its outcomes.
fn join(lane: &mut Option<Lane<'_>>, outcomes: &mut [Option<Outcome>]) -> Result<()> {
    if let Some(handle) = lane.take() {
        let done = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        for (i, outcome) in done? {
            outcomes[i] = Some(outcome);
        }
    }
    Ok(())
}

fn beside_of(binary: &Binary, one_lane: bool) -> bool {
    !one_lane && BESIDE.contains(&binary.name.as_str())
}

/// Runs one binary's tests through cargo and waits for it with wait4 (its CPU time). Its output
/// goes on as it comes; in the second lane (`beside`) every line of it, stdout and stderr, is
/// prefixed with the binary's name.
fn run_binary(cargo: &str, binary: &Binary, beside: bool) -> Result<Outcome> {
    if beside {
        eprintln!("==> {} (beside the others)", binary.name);
    } else {
        eprintln!("==> {}", binary.name);
    }
    let start = Instant::now();
    let mut command = Command::new(cargo);
    command
        .args(["test", "--quiet", "--workspace"])
        .args(&binary.selector)
        .stdout(Stdio::piped());
    if beside {
        command.stderr(Stdio::piped());
    }
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot run the tests of {}", binary.name))?;
    let prefix = if beside {
        format!("[{}] ", binary.name)
    } else {
        String::new()
    };
    let stderr = child.stderr.take().map(|stderr| {
        let prefix = prefix.clone();
        std::thread::spawn(move || copy_lines(stderr, |line| eprintln!("{prefix}{line}")))
    });
    let (mut passed, mut failed, mut ignored) = (0, 0, 0);
    let stdout = child.stdout.take().context("no stdout")?;
    copy_lines(stdout, |line| {
        println!("{prefix}{line}");
        if let Some(counts) = line.strip_prefix("test result: ") {
            passed += count(counts, " passed");
            failed += count(counts, " failed");
            ignored += count(counts, " ignored");
        }
    })?;
    if let Some(thread) = stderr {
        thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    }
    let (ok, user, system) = wait4(child.id())?;
    // A binary that failed without a result line (it did not start) counts as one failure.
    if !ok && failed == 0 {
        failed = 1;
    }
    let wall = start.elapsed();
    // Each binary's times as it ends, so a run cut short still says what it measured.
    eprintln!(
        "==> {} {}: {:.1} s wall, {:.1} s CPU (user {:.1} s, sys {:.1} s)",
        binary.name,
        if ok { "passed" } else { "FAILED" },
        wall.as_secs_f64(),
        (user + system).as_secs_f64(),
        user.as_secs_f64(),
        system.as_secs_f64()
    );
    Ok(Outcome {
        wall,
        user,
        system,
        passed,
        failed,
        ignored,
        ok,
    })
}

/// Hands every line of `from` to `each` (bytes that are not UTF-8 replaced).
fn copy_lines(from: impl Read, mut each: impl FnMut(&str)) -> Result<()> {
    let mut reader = BufReader::new(from);
    let mut line = Vec::new();
    while reader.read_until(b'\n', &mut line)? > 0 {
        let text = String::from_utf8_lossy(&line);
        each(text.trim_end_matches('\n'));
        line.clear();
    }
    Ok(())
}

/// Reaps child `pid`: (exited 0, user CPU, system CPU) of it and of every process it waited for.
fn wait4(pid: u32) -> Result<(bool, Duration, Duration)> {
    let pid = libc::pid_t::try_from(pid)?;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain data that wait4 fills in; both pointers outlive the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own child, not yet reaped (std's Child never waited for it).
        let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if got == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(error).context("cannot wait for cargo test");
        }
    }
    let time = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    Ok((ok, time(usage.ru_utime), time(usage.ru_stime)))
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
