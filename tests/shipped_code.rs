//! Tier 1: what ships relies on the real daemons' public interfaces only. No name, path, port
//! override or private channel of a test double appears in the code and data that build or run
//! the shipped artifacts (xtask, mesos-role, the packages, the image files): with real Mesos and
//! Marathon none of them exists, so anything that read one would fail for an operator.

use std::path::{Path, PathBuf};

use anyhow::{Result, ensure};
use mesos_roles_tests::workspace;

/// Where the shipped code and data live.
const SHIPPED: &[&str] = &[
    "xtask/src",
    "xtask/data",
    "xtask/Cargo.toml",
    "mesos-role/src",
    "mesos-role/debian",
    "mesos-role/Cargo.toml",
    "packaging",
    "images",
    "overlays",
];

/// The doubles' own names and paths (tests/doubles/README.md), and their private channel.
const DOUBLES: &[&str] = &[
    "mesos-double",
    "mesos_double",
    "marathon-double",
    "zk_double",
    "libprocess_double",
    "TEST_DOUBLE_",
    "tests/doubles",
    "mesos.internal.",
];

fn files(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_dir() {
        for entry in std::fs::read_dir(path)? {
            files(&entry?.path(), out)?;
        }
    } else {
        out.push(path.to_path_buf());
    }
    Ok(())
}

#[test]
fn no_double_is_named_in_the_shipped_code() -> Result<()> {
    let mut all = Vec::new();
    for place in SHIPPED {
        let path = workspace().join(place);
        ensure!(path.exists(), "{place} is gone: update SHIPPED");
        files(&path, &mut all)?;
    }
    ensure!(all.len() > 50, "only {} files found", all.len());
    let mut found = Vec::new();
    for file in &all {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue; // not text (an image's binary file): nothing a program reads by name
        };
        for (number, line) in text.lines().enumerate() {
            for name in DOUBLES {
                if line.contains(name) {
                    found.push(format!(
                        "{}:{}: {name}: {}",
                        file.strip_prefix(workspace())?.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    ensure!(
        found.is_empty(),
        "test doubles named in shipped code (use the daemons' public endpoints instead):\n{}",
        found.join("\n")
    );
    Ok(())
}

/// The test above would pass in silence if it looked for names nobody uses: each one is a real
/// name of the doubles.
#[test]
fn every_name_looked_for_is_a_doubles_name() -> Result<()> {
    let mut all = Vec::new();
    files(&workspace().join("tests/doubles"), &mut all)?;
    files(&workspace().join("tests/support"), &mut all)?;
    let texts: Vec<String> = all
        .iter()
        .filter_map(|f| std::fs::read_to_string(f).ok())
        .collect();
    for name in DOUBLES {
        ensure!(
            texts.iter().any(|t| t.contains(name)),
            "{name} is not used by the doubles"
        );
    }
    Ok(())
}
