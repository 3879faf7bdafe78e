//! The shell and Rust checkers of the answer syntax compared on generated strings (tier 1): per
//! check, strings made of that answer's alphabet (digits, dots, separators, keywords...) and of
//! hostile bytes (control characters, DEL, a no-break space, CR, VT, FF, newline, `..`, other
//! non-ASCII). Both must give the same verdict and the same normal form, every message must be one
//! line of printable ASCII, and any input with a byte outside printable ASCII and tab is refused
//! by both with that byte shown as \xNN. The table (`answers_table.rs`) says what is right; this
//! says the two sides agree on what nobody wrote down.

use std::time::Instant;

use anyhow::Result;
use mesos_roles_tests::answers::{self, Call, FUNCTIONS, SECRETS, one_printable_line};

/// Strings per check. 19 checks, so 11,400 calls of each side.
const PER_FUNCTION: usize = 600;

/// Bytes no answer may hold (tab is a blank and allowed), and `..`, which paths refuse.
const HOSTILE: &[&str] = &[
    "\u{1b}", "\u{1}", "\u{7f}", "\u{a0}", "\r", "\u{b}", "\u{c}", "\n", "\u{0}", "\u{85}",
    "\u{2028}", "é", "..",
];

/// The alphabet of each check: the tokens its valid answers are made of, and near misses.
fn alphabet(function: &str) -> &'static [&'static str] {
    match function {
        "masters" => &[
            "10.0.0.1",
            "10.0.0.2",
            "10.0.0.3",
            "1=",
            "2=",
            "3=",
            "0=",
            "256=",
            "01=",
            "=",
            ",",
            ", ",
            " ",
            "\t",
            "mesos-1",
            "Mesos-2",
            ".example.org",
            "-",
            ":",
            ":2181",
            "::1",
            "x",
            "255",
            ".",
        ],
        "quorum" => &[
            "auto", "AUTO", "1", "2", "3", "4", "0", "00", " ", "\t", "-", "99999",
        ],
        "host" => &[
            "a", "Z", "1", "0", "-", ".", "10.0.0.1", ":", "5050", "_", "mesos", " ", "\t", "255",
            "org",
        ],
        "ipv4" => &[
            "0", "1", "9", "10", "255", "256", "010", ".", ":", " ", "\t", "a",
        ],
        "kv" => &[
            "rack",
            ":",
            ";",
            "r1",
            "-",
            ".",
            "_",
            "a",
            "[31000-32000]",
            " ",
            "\t",
            "=",
            "cpus",
            "4",
        ],
        "abs_path" => &[
            "/",
            "//",
            "var",
            "lib",
            "mesos",
            "etc",
            "usr",
            ".",
            "tmp",
            "srv",
            "dpkg",
            "mesos-roles",
            " ",
            "\t",
            "x",
            "home",
        ],
        "duration" => &[
            "10", ".", "5", "mins", "secs", "ns", "hrs", "m", " ", "\t", "weeks", "0",
        ],
        "containerizers" => &["docker", "mesos", ",", " ", "\t", "Docker", "rkt"],
        "name" => &["prod", "_", "-", ".", "A", "1", " ", "\t", "/", "eu"],
        "self" => &[
            "10.0.0.1",
            "MESOS-2",
            "mesos-2",
            ".example.org",
            "10.0.0.3",
            " ",
            "\t",
            "10.0.0.9",
            "2",
            ".",
            "-",
        ],
        "cluster_secret" => &[
            "0123456789abcdef",
            "ABCDEFGH",
            "+/=",
            "._~-",
            " ",
            "\t",
            "\"",
            "$",
            "\\",
            "x",
        ],
        "agent_secret" => &["0123456789abcdef", "0", "f", "F", "g", " ", "\t"],
        "number" => &[
            "0",
            "1",
            "3",
            "9",
            "24",
            "1000",
            "8760",
            "86400000",
            "00",
            "-",
            "+",
            " ",
            "\t",
            "x",
            "99999999999999999999",
        ],
        "heap" => &[
            "auto", "AUTO", "1", "2", "64", "512", "1024", "0", "m", "M", "g", "G", "k", " ", "\t",
            "-",
        ],
        "mesos_role" => &[
            "*", "a", "Z", "1", "_", ".", "-", "/", " ", "\t", "marathon", "prod", "x",
        ],
        "policy" => &["additive", "equal", "Equal", "add", " ", "\t", "x"],
        "isolation" => &[
            "cgroups/cpu",
            "cgroups/mem",
            "filesystem/linux",
            "posix/cpu",
            "docker/runtime",
            "network/cni",
            ",",
            ", ",
            " ",
            "\t",
            "cgroups",
            "process",
            "posix/disk",
            "/",
            "CGROUPS/CPU",
        ],
        "extra_flags" => &[
            "max_completed_frameworks",
            "offer_timeout",
            "=",
            "10",
            "30secs",
            ";",
            "; ",
            " ",
            "\t",
            "hostname",
            "port",
            "a",
            "_",
            "-",
            "--",
            "A",
        ],
        "registries" => &[
            "reg.example.org",
            "Hub.IO",
            "=",
            "ann",
            ":",
            "s3cr3t",
            "p@ss",
            " ",
            "\t",
            ":5000",
            ":0",
            "-",
            ".",
            "x=y",
        ],
        other => panic!("no alphabet for {other}"),
    }
}

/// Valid answers of each check, which the generator mutates (so that about half stay valid).
fn seeds(function: &str) -> &'static [&'static str] {
    match function {
        "masters" => &[
            "10.0.0.1, 10.0.0.2, 10.0.0.3",
            "1=mesos-1.example.org 2=mesos-2 3=10.0.0.3",
            "10.0.0.1",
            "7=10.0.0.7,10.0.0.2\t10.0.0.3",
        ],
        "quorum" => &["auto", "2", " 3 ", ""],
        "host" => &["10.0.0.1", "Mesos-1.Example.org", "a1.b-2.c3", "localhost"],
        "ipv4" => &["10.0.0.21", " 192.168.1.255 ", "0.0.0.0", "255.255.255.255"],
        "kv" => &[
            "rack:r1;zone:a",
            "cpus:4; mem:2048 ;",
            "ports:[31000-32000]",
            "",
        ],
        "abs_path" => &[
            "/var/lib/mesos",
            "/srv//mesos/",
            "/tmp/mesos",
            "/home/m/work",
        ],
        "duration" => &["10mins", "1.5hrs", "90secs", "2weeks"],
        "containerizers" => &["docker,mesos", " mesos , docker ", "docker", "mesos,mesos"],
        "name" => &["mesos", "Prod_eu-1.a", " prod "],
        "self" => &["10.0.0.1", "MESOS-2.example.org", " 10.0.0.3 "],
        "cluster_secret" => &[
            "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXU=",
            "abcdefghijklmnopqrstuvwxyz0123456789",
            " 0123456789abcdef0123456789abcdef ",
            "",
        ],
        "agent_secret" => &[
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            " ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff ",
            "",
        ],
        "number" => &["0", "24", " 5 ", "1000", "86400000", "8760", "300000"],
        "heap" => &["auto", "512m", "2g", " 1G ", "1048576m", "64M"],
        "mesos_role" => &["*", "marathon", "_a.b-c", "1", " prod "],
        "policy" => &["additive", "equal", " equal "],
        "isolation" => &[
            "cgroups/cpu,cgroups/mem",
            "filesystem/linux, docker/runtime ,",
            "posix/cpu,posix/mem,posix/cpu",
            "network/cni",
        ],
        "extra_flags" => &[
            "max_completed_frameworks=10",
            "registry_strict ; image_providers= docker ;",
            "",
            "offer_timeout=30secs;allocation_interval=2secs",
        ],
        "registries" => &[
            "reg.example.org=ann:s3cr3t",
            "Hub.IO:5000=a@b.c:p=w:d other.io=ann:p@ss",
            "",
            " r=ann:x\ts=ann:y ",
        ],
        other => panic!("no seeds for {other}"),
    }
}

/// splitmix64: a fixed sequence, so a failure is the same on every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Half the strings are up to seven tokens of the alphabet, half a valid answer with up to two
/// edits (a token inserted, a character dropped); about a third get a hostile string somewhere.
fn generate(function: &str, random: &mut Random) -> Vec<Call> {
    let tokens = alphabet(function);
    let valid = seeds(function);
    (0..PER_FUNCTION)
        .map(|_| {
            let mut input = String::new();
            if random.below(2) == 0 {
                for _ in 0..random.below(8) {
                    input.push_str(tokens[random.below(tokens.len())]);
                }
            } else {
                input.push_str(valid[random.below(valid.len())]);
                for _ in 0..random.below(3) {
                    let at = random.below(input.len() + 1);
                    if random.below(2) == 0 {
                        input.insert_str(at, tokens[random.below(tokens.len())]);
                    } else if at < input.len() {
                        input.remove(at);
                    }
                }
            }
            if random.below(3) == 0 {
                let at = random.below(input.len() + 1);
                let at = (0..=at).rev().find(|i| input.is_char_boundary(*i)).unwrap();
                input.insert_str(at, HOSTILE[random.below(HOSTILE.len())]);
            }
            let arg = match function {
                "quorum" => Some(["1", "3", "5", "7"][random.below(4)].to_string()),
                "self" => Some("1=10.0.0.1 2=mesos-2.example.org 3=10.0.0.3".to_string()),
                // The three ranges the roles use: purge interval, snapshots kept, launch timeout.
                "number" => {
                    Some(["0 8760", "3 1000", "1000 86400000"][random.below(3)].to_string())
                }
                "extra_flags" => Some(["master", "agent"][random.below(2)].to_string()),
                _ => None,
            };
            Call {
                function: function.to_string(),
                arg,
                input,
            }
        })
        .collect()
}

/// A byte outside printable ASCII and tab: every check must refuse an answer with one.
fn hostile_byte(b: &u8) -> bool {
    *b != b'\t' && !(b' '..=b'~').contains(b)
}

fn hostile(input: &str) -> bool {
    input.bytes().any(|b| hostile_byte(&b))
}

/// The first such byte as both sides print it.
fn first_hostile_escape(input: &str) -> String {
    let b = input.bytes().find(hostile_byte).expect("a hostile input");
    format!("\\x{b:02x}")
}

/// Every generated call, the same on every run: NULs dropped after generating (an argument, a
/// debconf value and a TOML string cannot hold one), so that the sequence stays the same.
fn calls() -> Vec<Call> {
    let mut random = Random(12);
    let mut calls: Vec<Call> = FUNCTIONS
        .iter()
        .flat_map(|f| generate(f, &mut random))
        .collect();
    calls.retain(|c| !c.input.contains('\0'));
    calls
}

/// The rules one side's result must keep, whatever the other side says: a message is one line of
/// printable ASCII; a secret's check never repeats what may be a secret, nor takes a hostile byte;
/// every other check refuses a hostile byte, showing it as \xNN.
fn side_failures(
    what: &str,
    side: &str,
    call: &Call,
    result: &Result<String, String>,
) -> Vec<String> {
    let mut failures = Vec::new();
    if let Err(m) = result
        && !one_printable_line(m.as_bytes())
    {
        failures.push(format!(
            "{what}: {side} message not one printable line: {m:?}"
        ));
    }
    if SECRETS.contains(&call.function.as_str()) {
        // A secret is never shown, hostile or not.
        let parts = answers::secret_parts(&call.function, &call.input);
        let repeats = |m: &str| parts.iter().any(|p| p.len() >= 4 && m.contains(p.as_str()));
        if hostile(&call.input) && result.is_ok() {
            failures.push(format!("{what}: {side} took a secret with a hostile byte"));
        }
        if result.as_ref().is_err_and(|m| repeats(m)) {
            failures.push(format!(
                "{what}: a {side} message repeats the secret: {result:?}"
            ));
        }
    } else if hostile(&call.input) {
        let shown = first_hostile_escape(&call.input);
        let shows = |m: &str| m.contains("not printable ASCII") && m.contains(&shown);
        if !result.as_ref().is_err_and(|m| shows(m)) {
            failures.push(format!(
                "{what}: {side} must refuse a hostile byte showing {shown}: {result:?}"
            ));
        }
    }
    failures
}

fn describe(call: &Call) -> String {
    format!("{}({:?}, arg {:?})", call.function, call.input, call.arg)
}

fn report(mut failures: Vec<String>) {
    failures.truncate(40);
    assert!(
        failures.is_empty(),
        "the checkers disagree (first {}):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn shell_and_rust_give_the_same_verdict_and_normal_form_on_generated_strings() -> Result<()> {
    mesos_roles_tests::require_tools(&["dash"])?;
    let calls = calls();

    let started = Instant::now();
    // Two dash processes: the machine has two cores.
    let (first, second) = calls.split_at(calls.len() / 2);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| answers::shell(first));
        let b = s.spawn(|| answers::shell(second));
        (a.join().unwrap(), b.join().unwrap())
    });
    let shell: Vec<_> = a?.into_iter().chain(b?).collect();
    let rust: Vec<_> = calls.iter().map(answers::rust).collect();
    let elapsed = started.elapsed();

    let mut failures = Vec::new();
    for ((call, sh), rs) in calls.iter().zip(&shell).zip(&rust) {
        let what = describe(call);
        match (sh.result(), rs) {
            (Ok(s), Ok(r)) if &s == r => {}
            (Err(_), Err(_)) => {}
            (s, r) => failures.push(format!("{what}: shell {s:?}, rust {r:?}")),
        }
        if sh.success && !sh.stderr.is_empty() {
            failures.push(format!(
                "{what}: the shell succeeded with a message: {sh:?}"
            ));
        }
        if !sh.success && !one_printable_line(&sh.stderr) {
            failures.push(format!(
                "{what}: shell message not one printable line: {sh:?}"
            ));
        }
        failures.extend(side_failures(&what, "shell", call, &sh.result()));
        failures.extend(side_failures(&what, "rust", call, rs));
    }
    report(failures);
    let hostile_count = calls.iter().filter(|c| hostile(&c.input)).count();
    eprintln!(
        "{} generated strings ({hostile_count} with a hostile byte), both checkers in {:.2} s",
        calls.len(),
        elapsed.as_secs_f64()
    );
    Ok(())
}

/// The Rust side alone on the same strings (no shell needed): its own rules kept, and both verdicts
/// of every check exercised, or the agreement of the two sides says little.
#[test]
fn the_generated_strings_exercise_both_verdicts_of_every_rust_check() {
    let calls = calls();
    let rust: Vec<_> = calls.iter().map(answers::rust).collect();
    let failures: Vec<String> = calls
        .iter()
        .zip(&rust)
        .flat_map(|(call, rs)| side_failures(&describe(call), "rust", call, rs))
        .collect();
    report(failures);
    for function in FUNCTIONS {
        let (of, ok) = calls
            .iter()
            .zip(&rust)
            .filter(|(c, _)| c.function == function)
            .fold((0, 0), |(n, ok), (_, r)| (n + 1, ok + r.is_ok() as usize));
        assert!(
            ok * 20 >= of && (of - ok) * 20 >= of,
            "{function}: {ok} of {of} generated strings valid: the alphabet needs work"
        );
    }
}
