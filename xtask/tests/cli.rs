//! The command line as an operator meets it: bad flags get one line naming the flag and the fix,
//! a failure exits non-zero, and nothing is written.

use std::process::Command;

fn xtask(args: &[&str]) -> (bool, String) {
    xtask_at("1700000000", args)
}

/// Runs xtask with `SOURCE_DATE_EPOCH=epoch`: (succeeded, stderr).
fn xtask_at(epoch: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", epoch)
        .output()
        .expect("xtask runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_version_is_one_line_naming_the_flag_and_nothing_is_written() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("debs");
    let (ok, stderr) = xtask(&["debs", "--version", "1 x", "--out", dir.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: --version \"1 x\" is not a Debian version"),
        "{stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn an_unsupported_suite_is_refused_before_anything_is_built() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("repo");
    let (ok, stderr) = xtask(&["repo", "--suite", "sid", "--out", dir.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("error: --suite \"sid\" is not supported: use one of bookworm, trixie"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("==> debs"),
        "the debs step ran first: {stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn a_bad_source_date_epoch_names_the_variable() {
    let (ok, stderr) = xtask_at("yesterday", &["debs"]);
    assert!(!ok);
    assert!(
        stderr.contains("SOURCE_DATE_EPOCH=\"yesterday\""),
        "{stderr}"
    );
}

#[test]
fn bundle_refuses_an_unsupported_suite_before_anything_is_built() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("bundles");
    let (ok, stderr) = xtask(&["bundle", "--suite", "sid", "--out", dir.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("error: --suite \"sid\" is not supported: use one of bookworm, trixie"),
        "{stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn image_names_the_roles_it_knows_and_refuses_a_bad_suite_before_building() {
    let (ok, stderr) = xtask(&["image", "--role", "worker"]);
    assert!(!ok);
    assert!(
        stderr.contains("invalid value 'worker' for '--role <ROLE>'")
            && stderr.contains("[possible values: base, master, agent]"),
        "{stderr}"
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("images");
    let (ok, stderr) = xtask(&[
        "image",
        "--role",
        "master",
        "--suite",
        "sid",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("error: --suite \"sid\" is not supported"),
        "{stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn a_bad_inventory_is_named_before_any_seed_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../cluster.toml")).unwrap();
    // Two agents at one address.
    let bad = example.replace("10.77.0.21", "10.77.0.13");
    let inventory = dir.path().join("cluster.toml");
    std::fs::write(&inventory, bad).unwrap();
    let seeds = dir.path().join("seeds");
    let (ok, stderr) = xtask(&[
        "seeds",
        "--inventory",
        inventory.to_str().unwrap(),
        "--out",
        seeds.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "agents[0] (agent-1).address: 10.77.0.13 is also the address of masters[2]: give each node its own address"
        ),
        "{stderr}"
    );
    assert!(!seeds.exists());
    // dist checks it before building anything.
    let (ok, stderr) = xtask(&["dist", "--inventory", inventory.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("agents[0] (agent-1).address"), "{stderr}");
    assert!(!stderr.contains("==> debs"), "{stderr}");
}
