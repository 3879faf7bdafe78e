//! One table of answer cases (`tests/cases/answers.toml`) drives both implementations of the answer
//! syntax: the POSIX shell library the packages run on the node (under dash, as /bin/sh on Debian)
//! and the Rust parser of the inventory. Every case must give the same result in both.

use std::process::Command;

use anyhow::{Context, Result};
use mesos_roles_tests::workspace;
use serde::Deserialize;
use xtask::inputs::answers;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    case: Vec<Case>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Case {
    #[serde(rename = "fn")]
    function: String,
    input: String,
    #[serde(default)]
    arg: Option<String>,
    ok: Option<String>,
    err: Option<String>,
}

fn table() -> Result<Vec<Case>> {
    let path = workspace().join("tests/cases/answers.toml");
    let text = std::fs::read_to_string(&path).context("cannot read the answer cases")?;
    let table: Table = toml::from_str(&text).context("tests/cases/answers.toml is malformed")?;
    for case in &table.case {
        assert!(
            case.ok.is_some() != case.err.is_some(),
            "{case:?}: give exactly one of ok and err"
        );
    }
    Ok(table.case)
}

/// The Rust result of a case: the normal form, or the error message.
fn rust(case: &Case) -> Result<String, String> {
    let arg = case.arg.as_deref().unwrap_or_default();
    match case.function.as_str() {
        "masters" => answers::masters(&case.input).map(|l| answers::masters_normal(&l)),
        "quorum" => answers::quorum(
            arg.parse().expect("quorum cases give the count in arg"),
            &case.input,
        )
        .map(|q| q.to_string()),
        "host" => answers::host(&case.input),
        "ipv4" => answers::ipv4(&case.input),
        "kv" => answers::kv(&case.input),
        "abs_path" => answers::abs_path(&case.input),
        "duration" => answers::duration(&case.input),
        "containerizers" => answers::containerizers(&case.input),
        "name" => answers::name(&case.input),
        "self" => {
            let list = answers::masters(arg).expect("self cases give a valid master list in arg");
            answers::self_id(&list, &case.input).map(|id| id.to_string())
        }
        other => panic!("unknown fn {other:?} in the answer table"),
    }
}

/// The shell result of a case: stdout on success, stderr on failure.
fn shell(case: &Case) -> Result<String, String> {
    let library = workspace().join("packaging/shared/answers.sh");
    let mut command = Command::new("dash");
    command
        .arg("-c")
        .arg(r#"set -e; . "$0"; f=$1; shift; "mr_$f" "$@""#)
        .arg(&library)
        .arg(&case.function);
    if let Some(arg) = &case.arg {
        command.arg(arg);
    }
    let out = command.arg(&case.input).output().expect("dash runs");
    let stdout = String::from_utf8_lossy(&out.stdout).trim_end().to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).trim_end().to_string();
    if out.status.success() {
        assert!(
            stderr.is_empty(),
            "{case:?}: success must be silent on stderr, got {stderr:?}"
        );
        Ok(stdout)
    } else {
        assert_eq!(
            stderr.lines().count(),
            1,
            "{case:?}: one message, got {stderr:?}"
        );
        Err(stderr)
    }
}

fn check(case: &Case, side: &str, result: Result<String, String>) -> Option<String> {
    match (result, &case.ok, &case.err) {
        (Ok(got), Some(want), _) if &got == want => None,
        (Err(message), _, Some(phrase)) if message.contains(phrase.as_str()) => None,
        (got, _, _) => Some(format!(
            "{side}: {}({:?}{}) gave {got:?}, want {}",
            case.function,
            case.input,
            case.arg
                .as_ref()
                .map(|a| format!(", arg {a:?}"))
                .unwrap_or_default(),
            case.ok
                .as_ref()
                .map(|o| format!("ok {o:?}"))
                .unwrap_or_else(|| format!(
                    "an error containing {:?}",
                    case.err.as_deref().unwrap_or_default()
                ))
        )),
    }
}

#[test]
fn shell_and_rust_agree_with_every_case_of_the_table() -> Result<()> {
    mesos_roles_tests::require_tools(&["dash"])?;
    let cases = table()?;
    assert!(
        cases.len() >= 60,
        "the table has only {} cases",
        cases.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .flat_map(|case| {
            [
                check(case, "rust", rust(case)),
                check(case, "shell", shell(case)),
            ]
        })
        .flatten()
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} checks failed:\n{}",
        failures.len(),
        2 * cases.len(),
        failures.join("\n")
    );
    eprintln!("{} cases, each checked in shell and in Rust", cases.len());
    Ok(())
}

#[test]
fn every_function_of_both_sides_has_valid_and_invalid_cases() -> Result<()> {
    let cases = table()?;
    for function in [
        "masters",
        "quorum",
        "host",
        "ipv4",
        "kv",
        "abs_path",
        "duration",
        "containerizers",
        "name",
        "self",
    ] {
        let of = |valid: bool| {
            cases
                .iter()
                .filter(|c| c.function == function && c.ok.is_some() == valid)
                .count()
        };
        assert!(
            of(true) > 0 && of(false) > 0,
            "{function}: the table needs valid and invalid cases"
        );
    }
    Ok(())
}
