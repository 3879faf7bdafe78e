//! `cargo xtask test`: the README's test command. Installs the prerequisites (`setup`), then runs
//! every test binary of the workspace, as `cargo test --workspace` would, and ends with each
//! binary's wall and CPU time and the totals. Two lanes take binaries from one queue, longest
//! first: the VM tier (`BESIDE`) starts the second lane, the longest of the rest the first, and
//! whichever lane is free takes the next. `--one-lane` runs one binary at a time. `--quick` is
//! tier 1, in one lane: the unit tests and the tests that need neither root nor tools, in seconds.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::sync::Mutex;
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

/// Started first in the second lane: the VM tier (qemu TCG), the longest binary (1787 s wall,
/// 2006 s CPU in a cold run, its images baked from cold roots). Binaries share only what takes its own lock (the cached roots, images
/// and apt closures, the images' signing key), ports the kernel hands out, and names that carry
/// their process id (network namespaces, roots, scratch directories): none uses the host's apt
/// or dpkg, so any two may run side by side.
const BESIDE: [&str; 1] = ["boot"];

/// The queue's order after `BESIDE`: the longest binaries of the last measured run first, so
/// the lanes end close together (the rest follow in cargo's order: each under a minute). The
/// verify tier's bounds on failover times held with VMs and other clusters beside them at load
/// 10-15 on two cores (the switch-over's polls at most 1.6 s apart, the failovers within 20 s).
const LONGEST_FIRST: [&str; 8] = [
    "verify",
    "bundle",
    "piuparts",
    "lifecycle",
    "package_tier",
    "image",
    "bad_answers",
    "answers_differential",
];

/// One test binary (or the unit tests): how to ask cargo for it, and what to call it in the table.
struct Binary {
    selector: Vec<String>,
    name: String,
}

/// Which lane ran a binary.
#[derive(Clone, Copy, PartialEq)]
enum Lane {
    /// `--one-lane` (or `--quick`): one binary at a time.
    Only,
    First,
    Second,
}

/// What one binary's run came to.
struct Outcome {
    lane: Lane,
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
    // The tiers' base roots, made beside the build (rustc's serial phases leave a core idle):
    // on a cold machine the first binaries of both lanes would otherwise wait for mmdebstrap.
    let roots = (!quick).then(|| std::thread::spawn(crate::cluster::roots::prepare_tier_roots));
    eprintln!("==> build the {} test binaries", binaries.len());
    let status = Command::new(&cargo)
        .args(["test", "--workspace", "--no-run", "--quiet"])
        .status()
        .context("cannot run cargo test --no-run")?;
    if !status.success() {
        bail!("the tests do not build: see cargo's errors above");
    }
    let start = Instant::now();
    let two_lanes = !one_lane && !quick;
    let (first, mut rest): (Vec<usize>, Vec<usize>) = (0..binaries.len())
        .partition(|&i| two_lanes && BESIDE.contains(&binaries[i].name.as_str()));
    // A stable sort: the rest keep cargo's order.
    rest.sort_by_key(|&i| rank_in_queue(&binaries[i].name));
    let queue = Mutex::new(VecDeque::from(rest));
    let next = || queue.lock().expect("the queue's lock").pop_front();
    let mut outcomes: Vec<Option<Outcome>> = binaries.iter().map(|_| None).collect();
    std::thread::scope(|scope| -> Result<()> {
        // The second lane starts with `BESIDE`, then takes from the queue as the first does.
        let second = two_lanes.then(|| {
            let (binaries, cargo, next) = (&binaries, &cargo, &next);
            scope.spawn(move || -> Result<Vec<(usize, Outcome)>> {
                first
                    .into_iter()
                    .chain(std::iter::from_fn(next))
                    .map(|i| Ok((i, run_binary(cargo, &binaries[i], Lane::Second)?)))
                    .collect()
            })
        });
        let lane = if two_lanes { Lane::First } else { Lane::Only };
        while let Some(i) = next() {
            outcomes[i] = Some(run_binary(&cargo, &binaries[i], lane)?);
        }
        join(second, &mut outcomes)
    })?;
    let elapsed = start.elapsed();
    if let Some(roots) = roots {
        // A tier that needed a root that could not be made failed with the reason already.
        match roots.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("warning: the tiers' base roots: {error:#}"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    println!("\ntest binary                           wall      cpu   passed  failed");
    let (mut passed, mut failed, mut ignored) = (0u64, 0u64, 0u64);
    let (mut wall, mut user, mut system) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut failures = Vec::new();
    for (binary, outcome) in binaries.iter().zip(&outcomes) {
        let o = outcome.as_ref().context("a binary was never run")?;
        let mark = if o.ok { "" } else { "  FAILED" };
        let lane = match o.lane {
            Lane::Second => "  (lane 2)",
            Lane::First | Lane::Only => "",
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

type SecondLane<'scope> = std::thread::ScopedJoinHandle<'scope, Result<Vec<(usize, Outcome)>>>;

/// Waits for the second lane (if there is one) and files its outcomes.
fn join(lane: Option<SecondLane<'_>>, outcomes: &mut [Option<Outcome>]) -> Result<()> {
    if let Some(handle) = lane {
        let done = handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        for (i, outcome) in done? {
            outcomes[i] = Some(outcome);
        }
    }
    Ok(())
}

/// Where `name` stands in the queue: `LONGEST_FIRST`'s order, then the rest.
fn rank_in_queue(name: &str) -> usize {
    LONGEST_FIRST
        .iter()
        .position(|&n| n == name)
        .unwrap_or(LONGEST_FIRST.len())
}

/// Runs one binary's tests through cargo and waits for it with wait4 (its CPU time). Its output
/// goes on as it comes; in the second lane every line of it, stdout and stderr, is prefixed with
/// the binary's name (the first lane's stderr, cargo's and the tools', is not).
fn run_binary(cargo: &str, binary: &Binary, lane: Lane) -> Result<Outcome> {
    match lane {
        Lane::Second => eprintln!("==> {} (lane 2)", binary.name),
        Lane::First | Lane::Only => eprintln!("==> {}", binary.name),
    }
    let beside = lane == Lane::Second;
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
        lane,
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
