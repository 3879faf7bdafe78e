//! piuparts on each role package and suite: the install/purge test and the upgrade test (the
//! previous version installed by apt from the project's signed repository, upgraded to the new
//! .deb, then purged), in one piuparts run. mesos and marathon are the test doubles, published in
//! that repository as the operator's `upstream/`; the repository is trusted through its keyring
//! (`signed-by`), never `trusted=yes`. Debian comes from the host's mirror.
//!
//! The base chroot is the node root of `roots::base` (minbase with systemd, zookeeperd, docker.io
//! and the roles' other Debian dependencies): piuparts then installs and purges only the role and
//! the doubles, and checks that nothing of those Debian packages is changed when it is done. Each
//! chroot piuparts makes is a copy (`--existing-chroot`: `cp -ax`, not `--hard-link`) of that
//! root's cached tree, the overlays' read-only lower layer: a copy costs a few seconds of the
//! kernel's time where `--basetgz` cost gzip and tar ~20 s of CPU per run.
//!
//! Each role runs inert (no answers: the golden-image case) and configured (answers preseeded by
//! a piuparts `pre_install` script before every install); a `post_install` script checks after
//! every install that the role is what it should be (tests/cases/piuparts/).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use mesos_roles_tests::{
    Target, build_role_debs, doubles, on_suites, output, require_root_and_tools, roots, scratch,
    workspace,
};
use xtask::formats::signing::KeySource;
use xtask::steps::repo::KEYRING;

/// The version in the repository, and the one piuparts upgrades it to.
const OLD: &str = "1.0.0-1";
const NEW: &str = "1.0.1-1";

fn master_inert(suite: &str) -> Result<()> {
    piuparts(suite, "mesos-master-role", None)
}

fn agent_inert(suite: &str) -> Result<()> {
    piuparts(suite, "mesos-agent-role", None)
}

fn master_configured(suite: &str) -> Result<()> {
    piuparts(suite, "mesos-master-role", Some("master.preseed"))
}

fn agent_configured(suite: &str) -> Result<()> {
    piuparts(suite, "mesos-agent-role", Some("agent.preseed"))
}

on_suites!(
    master_inert,
    agent_inert,
    master_configured,
    agent_configured
);

/// Runs piuparts on the new .deb of `role` and asserts that both tests passed.
fn piuparts(suite: &str, role: &str, preseed: Option<&str>) -> Result<()> {
    require_root_and_tools(&["piuparts", "mmdebstrap", "dpkg-deb"])?;
    let base = roots::tree(&roots::base(suite)?)?;
    let dir = scratch("piuparts")?;
    // apt reads the file: repository inside the chroot as `_apt`.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))?;
    let repo = signed_repo(dir.path(), suite)?;
    let deb = build_role_debs(&dir.path().join("new"), NEW)?
        .into_iter()
        .find(|d| file_name(d).starts_with(&format!("{role}_")))
        .with_context(|| format!("no {role} .deb built"))?;
    let log = dir.path().join("piuparts.log");
    let mirror = xtask::inputs::mirror::debian()?;
    let mut command = Command::new("piuparts");
    command
        .arg(format!("--existing-chroot={}", base.display()))
        .arg(format!("--distribution={suite}"))
        .arg(format!("--mirror={mirror} main"))
        // Snapshot mirrors serve Release files whose Valid-Until has passed.
        .arg("--no-check-valid-until")
        .arg(format!("--bindmount={}", repo.display()))
        .arg(format!(
            "--extra-repo=deb [signed-by={}] file:{} {suite} main",
            repo.join(KEYRING).display(),
            repo.display()
        ))
        .arg(format!("--tmpdir={}", dir.path().display()))
        .arg(format!("--log-file={}", log.display()))
        // adequate (run by piuparts after each install) finds broken symlinks, missing libraries...
        .arg("--fail-if-inadequate")
        // trixie's dpkg-preconfigure keeps its (empty) work directory for every package with a
        // config script; newer piuparts ignores it too.
        .arg("--ignore=/var/cache/debconf/tmp.ci/");
    command.arg(format!(
        "--scriptsdir={}",
        scripts(dir.path(), preseed)?.display()
    ));
    command.arg(&deb);
    let started = Instant::now();
    let out = output("run piuparts", &mut command)?;
    let took = started.elapsed().as_secs();
    // A piuparts that was killed leaves its chroot's mounts (/proc, /dev/pts, the repository).
    roots::unmount_below(dir.path())?;
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let verdict = text
        .lines()
        .filter(|l| l.contains("PASS:") || l.contains("FAIL:"))
        .collect::<Vec<_>>()
        .join("\n");
    let answers = preseed.unwrap_or("inert");
    eprintln!("piuparts {role} {suite} ({answers}) in {took} s:\n{verdict}");
    if !out.status.success() {
        let lines: Vec<&str> = text.lines().collect();
        let errors: Vec<&str> = lines
            .iter()
            .copied()
            .filter(|l| l.contains(" ERROR: "))
            .collect();
        let tail = lines[lines.len().saturating_sub(80)..].join("\n");
        bail!(
            "piuparts {role} on {suite} ({answers}) exited with {}\n--- its errors\n{}\n--- the tail of its log\n{tail}\n--- stderr\n{}",
            out.status,
            errors.join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for test in [
        "PASS: Installation and purging test.",
        "PASS: Installation, upgrade and purging tests.",
        "PASS: All tests.",
    ] {
        assert!(
            text.contains(test),
            "piuparts {role} on {suite} did not report {test:?}:\n{verdict}"
        );
    }
    // The upgrade test went from the repository's version to the new .deb.
    for version in [OLD, NEW] {
        let setup = format!("Setting up {role} ({version})");
        assert!(text.contains(&setup), "piuparts' log lacks {setup:?}");
    }
    Ok(())
}

/// The project's signed repository of both roles at the old version, with the doubles as
/// `upstream/`; returns its directory.
fn signed_repo(dir: &Path, suite: &str) -> Result<PathBuf> {
    let upstream = dir.join("upstream");
    doubles::build_all(&upstream)?;
    let out = dir.join("repo");
    mesos_roles_tests::pipeline(mesos_roles_tests::Request {
        targets: vec![Target::Repo],
        version: Some(OLD.into()),
        suite: Some(suite.into()),
        source_date_epoch: Some(1_700_000_000),
        upstream: Some(upstream),
        signing_key: Some(KeySource::Development(dir.join("key.asc"))),
        debs_out: Some(dir.join("old")),
        repo_out: Some(out.clone()),
        roles_only: true,
        ..Default::default()
    })?;
    Ok(out)
}

/// The piuparts scripts directory of a run (tests/cases/piuparts/; piuparts copies only `pre_*`
/// and `post_*` files): configured runs preseed the answers before each install; every run checks
/// after each install that the role rendered them (configured) or took nothing over (inert).
fn scripts(dir: &Path, preseed: Option<&str>) -> Result<PathBuf> {
    let cases = workspace().join("tests/cases/piuparts");
    let read = |name: &str| {
        let path = cases.join(name);
        std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
    };
    let mut files = vec![(
        "post_install_check",
        read(match preseed {
            Some(_) => "post_install_configured",
            None => "post_install_inert",
        })?,
    )];
    if let Some(preseed) = preseed {
        let script = read("pre_install_preseed")?.replace("@ANSWERS@", read(preseed)?.trim_end());
        files.push(("pre_install_preseed", script));
    }
    let scripts = dir.join("scripts");
    std::fs::create_dir_all(&scripts)?;
    for (name, text) in files {
        let path = scripts.join(name);
        std::fs::write(&path, text)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    }
    Ok(scripts)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}
