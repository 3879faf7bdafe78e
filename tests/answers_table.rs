//! One table of answer cases (`tests/cases/answers.toml`) drives both implementations of the answer
//! syntax: the POSIX shell library the packages run on the node (under dash, as /bin/sh on Debian)
//! and the Rust parser of the inventory. Every case must give the same result in both, and every
//! message must be one line of printable ASCII.

use anyhow::{Context, Result};
use mesos_roles_tests::answers::{self, Call, FUNCTIONS, one_printable_line};
use mesos_roles_tests::workspace;
use serde::Deserialize;

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

impl Case {
    fn call(&self) -> Call {
        Call {
            function: self.function.clone(),
            arg: self.arg.clone(),
            input: self.input.clone(),
        }
    }
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
    let calls: Vec<Call> = cases.iter().map(Case::call).collect();
    let shell = answers::shell(&calls)?;
    let mut failures = Vec::new();
    for (case, out) in cases.iter().zip(&shell) {
        let rust = answers::rust(&case.call());
        if let Err(message) = &rust
            && !one_printable_line(message.as_bytes())
        {
            failures.push(format!(
                "rust: {case:?}: not one printable line: {message:?}"
            ));
        }
        if out.success && !out.stderr.is_empty() {
            failures.push(format!("shell: {case:?}: success is not silent: {out:?}"));
        }
        if !out.success && !one_printable_line(&out.stderr) {
            failures.push(format!("shell: {case:?}: not one printable line: {out:?}"));
        }
        failures.extend(check(case, "rust", rust));
        failures.extend(check(case, "shell", out.result()));
    }
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

/// The Rust side alone (no shell needed): every case, every message one printable line.
#[test]
fn rust_agrees_with_every_case_of_the_table() -> Result<()> {
    let mut failures = Vec::new();
    for case in table()? {
        let rust = answers::rust(&case.call());
        if let Err(message) = &rust
            && !one_printable_line(message.as_bytes())
        {
            failures.push(format!(
                "rust: {case:?}: not one printable line: {message:?}"
            ));
        }
        failures.extend(check(&case, "rust", rust));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn every_function_of_both_sides_has_valid_and_invalid_cases() -> Result<()> {
    let cases = table()?;
    for function in FUNCTIONS {
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
