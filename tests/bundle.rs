//! The air-gapped bundle: built by the pipeline's own code (role packages, the test doubles of mesos
//! and marathon as the operator's `upstream/`, the dependency closure resolved by apt from the host's
//! Debian mirror), then unpacked and installed in a plain minbase root of the suite that has no
//! network at all (a new network namespace: only `lo`, down), for each role and both suites. Also:
//! two builds are byte-identical, a missing mesos is named with the `upstream/` fix, and the
//! installer's usage errors.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use mesos_roles_tests::{
    Request, Target, doubles, on_suites, output, pipeline, require_root_and_tools, require_tools,
    roots, run, scratch, workspace,
};
use xtask::formats::signing::KeySource;
use xtask::steps::bundle;

const EPOCH: u64 = 1_700_000_000;
const VERSION: &str = "1.0.0-1";
const MASTERS: &str = "10.213.0.11, 10.213.0.12, 10.213.0.13";
const ZK: &str = "zk://10.213.0.11:2181,10.213.0.12:2181,10.213.0.13:2181/mesos\n";

/// The request for the role packages (and mesos-role-tools, which they recommend) and `upstream`
/// (doubles named there) under `dir`: a repository in `dir/repo`.
fn repo_options(dir: &Path, suite: &str, upstream: &[&str], closure: bool) -> Result<Request> {
    let up = dir.join("upstream");
    std::fs::create_dir_all(&up)?;
    for name in upstream {
        doubles::build(name, doubles::VERSION, &up)?;
    }
    Ok(Request {
        targets: vec![Target::Repo],
        version: Some(VERSION.into()),
        suite: Some(suite.into()),
        source_date_epoch: Some(EPOCH),
        upstream: Some(up),
        signing_key: Some(KeySource::Development(dir.join("key.asc"))),
        repo_out: Some(dir.join("repo")),
        closure,
        ..Request::default()
    })
}

/// `cargo xtask bundle` with the inputs of `options`, into `out`.
fn build_bundle(options: &Request, out: &Path) -> Result<PathBuf> {
    let summary = pipeline(Request {
        targets: vec![Target::Bundle],
        bundle_out: Some(out.to_path_buf()),
        ..options.clone()
    })?;
    Ok(summary
        .artifacts
        .into_iter()
        .find(|a| a.kind == "bundle")
        .context("no bundle made")?
        .path)
}

#[test]
fn two_bundle_builds_are_byte_identical_with_deterministic_headers() -> Result<()> {
    require_tools(&["dpkg-deb", "tar", "sha256sum"])?;
    let dir = scratch("bundle-twice")?;
    // The same input files, built into two repositories and two bundles.
    let mut options = repo_options(dir.path(), "bookworm", &["mesos", "marathon"], false)?;
    let first = build_bundle(&options, &dir.path().join("first"))?;
    options.repo_out = Some(dir.path().join("repo2"));
    let second = build_bundle(&options, &dir.path().join("second"))?;
    let name = format!(
        "mesos-roles-{VERSION}-bookworm-{}",
        mesos_roles_tests::host_arch()?
    );
    assert_eq!(first.file_name().unwrap(), &*format!("{name}.tar.gz"));
    ensure!(
        std::fs::read(&first)? == std::fs::read(&second)?,
        "two bundles of the same inputs, key and epoch differ"
    );

    // Every member under one top directory, owned by root, dated SOURCE_DATE_EPOCH, sorted.
    let listing = run(
        "list the bundle",
        Command::new("tar")
            .args(["--numeric-owner", "--full-time", "-tvzf"])
            .arg(&first),
    )?;
    let names: Vec<&str> = listing
        .lines()
        .map(|l| l.split_whitespace().last().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "members are not sorted");
    for line in listing.lines() {
        assert!(line.contains(" 0/0 "), "{line}");
        assert!(line.contains(" 2023-11-14 22:13:20 "), "{line}");
        assert!(
            line.split_whitespace()
                .last()
                .unwrap()
                .starts_with(&format!("{name}/")),
            "{line}"
        );
    }
    assert!(
        listing.contains("-rwxr-xr-x 0/0") && listing.contains("/install.sh"),
        "{listing}"
    );
    for wanted in [
        "SHA256SUMS",
        "repo/mesos-roles-archive-keyring.gpg",
        "repo/dists/bookworm/InRelease",
        "repo/pool/main/m/mesos/mesos_1.11.0-0double1_all.deb",
    ] {
        assert!(
            names.contains(&format!("{name}/{wanted}").as_str()),
            "no {wanted}:\n{listing}"
        );
    }

    // SHA256SUMS covers every other file and sha256sum agrees.
    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir_all(&unpacked)?;
    run(
        "unpack the bundle",
        Command::new("tar")
            .arg("-C")
            .arg(&unpacked)
            .arg("-xzf")
            .arg(&first),
    )?;
    let top = unpacked.join(&name);
    run(
        "check the bundle's checksums",
        Command::new("sha256sum")
            .args(["--strict", "-c", "SHA256SUMS"])
            .current_dir(&top),
    )?;
    let sums = std::fs::read_to_string(top.join("SHA256SUMS"))?;
    let files = names.iter().filter(|n| !n.ends_with('/')).count();
    assert_eq!(sums.lines().count(), files - 1, "{sums}");
    // The installer is the data file, unchanged.
    assert_eq!(
        std::fs::read(top.join("install.sh"))?,
        std::fs::read(workspace().join(bundle::INSTALLER))?
    );
    Ok(())
}

#[test]
fn a_missing_mesos_is_named_with_the_upstream_fix_and_nothing_is_written() -> Result<()> {
    require_tools(&["apt-get", "dpkg-deb"])?;
    let dir = scratch("bundle-missing")?;
    let options = repo_options(dir.path(), "bookworm", &["marathon"], true)?;
    let started = std::time::Instant::now();
    let err = format!("{:#}", build_bundle(&options, dir.path()).unwrap_err());
    // Named by the plan, before any package is built.
    assert!(started.elapsed().as_secs() < 30, "{:?}", started.elapsed());
    assert!(err.contains("the roles depend on mesos, which"), "{err}");
    let upstream = options.upstream.as_ref().unwrap().display().to_string();
    assert!(
        err.contains(&upstream) && err.contains("upstream/"),
        "{err}"
    );
    assert!(!err.contains("marathon"), "{err}");
    assert_eq!(err.lines().count(), 1, "one message: {err}");
    assert!(
        !dir.path().join("repo").exists(),
        "a repository was written"
    );
    Ok(())
}

#[test]
fn the_installer_passes_shellcheck_and_explains_bad_usage() -> Result<()> {
    require_tools(&["shellcheck", "dash"])?;
    let installer = workspace().join(bundle::INSTALLER);
    run(
        "shellcheck the installer",
        Command::new("shellcheck").arg("--shell=sh").arg(&installer),
    )?;
    for (args, status, says) in [
        (&[][..], 2, "usage: "),
        (&["worker"][..], 2, "unknown argument: worker"),
        (&["master", "agent"][..], 2, "usage: "),
        (&["master", "--preseed"][..], 2, "usage: "),
        (
            &["agent", "--preseed", "/nonexistent/answers"][..],
            1,
            "cannot read the preseed file /nonexistent/answers",
        ),
    ] {
        let out = output(
            "run the installer with bad arguments",
            Command::new("dash").arg(&installer).args(args),
        )?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(status), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    Ok(())
}

#[test]
fn dist_with_closure_adds_the_closure_and_the_bundle_to_the_manifest() -> Result<()> {
    require_tools(&["apt-get", "dpkg-deb"])?;
    let dir = scratch("bundle-dist")?;
    let upstream = dir.path().join("upstream");
    doubles::build_all(&upstream)?;
    let out = dir.path().join("dist");
    pipeline(Request {
        targets: vec![Target::Debs, Target::Repo, Target::Bundle, Target::Manifest],
        version: Some(VERSION.into()),
        source_date_epoch: Some(EPOCH),
        dist: Some(out.clone()),
        suite: Some("bookworm".into()),
        upstream: Some(upstream),
        signing_key: Some(KeySource::Development(dir.path().join("key.asc"))),
        closure: true,
        keep_repo: true,
        ..Request::default()
    })?;
    let manifest = xtask::formats::manifest::Manifest::read(&out)?;
    let of_kind = |kind: &str| -> Vec<&xtask::formats::manifest::Artifact> {
        manifest
            .artifacts
            .iter()
            .filter(|a| a.kind == kind)
            .collect()
    };
    let bundles = of_kind("bundle");
    assert_eq!(bundles.len(), 1);
    assert_eq!(
        bundles[0].path,
        PathBuf::from(format!(
            "mesos-roles-{VERSION}-bookworm-{}.tar.gz",
            mesos_roles_tests::host_arch()?
        ))
    );
    let sha256 = run(
        "hash the bundle",
        Command::new("sha256sum").arg(out.join(&bundles[0].path)),
    )?;
    assert!(sha256.starts_with(&bundles[0].sha256), "{sha256}");
    // The closure is in the repository: Debian's packages beside the roles and the doubles.
    let pool: Vec<String> = of_kind("repo-deb")
        .iter()
        .map(|a| a.path.display().to_string())
        .collect();
    for wanted in [
        "/zookeeperd_",
        "/docker.io_",
        "/mesos_",
        "/mesos-master-role_",
        "/mesos-role-tools_",
    ] {
        assert!(
            pool.iter().any(|p| p.contains(wanted)),
            "no {wanted} in {pool:?}"
        );
    }
    assert!(pool.len() > 200, "{} pool files", pool.len());
    Ok(())
}

/// Runs `script` with /bin/sh in the root `root`, in new network, mount and pid namespaces: the
/// network namespace has only `lo` (down), so nothing can reach any host.
fn offline(root: &Path, script: &str) -> Result<String> {
    run(
        "run a script in the root without network",
        Command::new("unshare")
            .args(["--net", "--mount", "--pid", "--fork", "--kill-child"])
            .args(["--propagation", "private", "sh", "-ec"])
            .arg(
                r#"mount -t proc proc "$1/proc"
mkdir -p "$1/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$1/dev/pts"
exec chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 /bin/sh -ec "$2""#,
            )
            .arg("sh")
            .arg(root)
            .arg(script),
    )
}

/// The interfaces in a `/proc/net/dev` listing.
fn interfaces(net_dev: &str) -> Vec<String> {
    net_dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split_once(':').map(|(name, _)| name.trim().to_string()))
        .collect()
}

/// In a minbase root of `suite` with no network and only the bundle copied in, `install.sh ROLE
/// --preseed FILE` installs and configures the role; running it again changes nothing.
fn installs_offline(suite: &str, role: &str) -> Result<()> {
    require_root_and_tools(&["mmdebstrap", "unshare", "chroot", "apt-get", "dpkg-deb"])?;
    let dir = scratch(&format!("bundle-{suite}-{role}"))?;
    let options = repo_options(dir.path(), suite, &["mesos", "marathon"], true)?;
    let bundle = build_bundle(&options, &dir.path().join("out"))?;
    let file = bundle.file_name().context("bundle without a name")?;
    let name = file
        .to_string_lossy()
        .trim_end_matches(".tar.gz")
        .to_string();

    let root = dir.path().join("root");
    roots::unpack_tarball(&roots::minbase(suite)?, &root)?;
    let lists = root.join("var/lib/apt/lists");
    let cached_lists = std::fs::read_dir(&lists)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .count()
        })
        .unwrap_or(0);
    ensure!(
        cached_lists <= 1,
        "the minbase root has apt lists: it would not show that the bundle is enough"
    );
    // The closure's idea of a minbase root (the dpkg status apt resolved the roles against) is the
    // real one, package for package.
    let names = |status: &str| -> Vec<String> {
        let mut names: Vec<String> = status
            .lines()
            .filter_map(|l| l.strip_prefix("Package: ").map(String::from))
            .collect();
        names.sort();
        names
    };
    let resolved = std::fs::read_to_string(
        xtask::steps::closure::cache_for(suite, &mesos_roles_tests::host_arch()?).join("status"),
    )?;
    let real = std::fs::read_to_string(root.join("var/lib/dpkg/status"))?;
    assert_eq!(names(&resolved), names(&real), "the closure's minbase set");
    std::fs::copy(&bundle, root.join("root").join(file))?;
    let (question, answers) = match role {
        "master" => (
            "mesos-master-role",
            vec![("masters", MASTERS), ("self", "10.213.0.12")],
        ),
        _ => (
            "mesos-agent-role",
            vec![("masters", MASTERS), ("ip", "10.213.0.21")],
        ),
    };
    let preseed: String = answers
        .iter()
        .map(|(q, a)| format!("{question} {question}/{q} string {a}\n"))
        .collect();
    std::fs::write(root.join("root/answers.preseed"), preseed)?;
    // A chroot has no init: daemons must not start (on the host).
    let policy = root.join("usr/sbin/policy-rc.d");
    std::fs::write(
        &policy,
        "#!/bin/sh\n# No daemons in the test's chroot.\nexit 101\n",
    )?;
    std::fs::set_permissions(&policy, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;

    let log = offline(
        &root,
        &format!(
            "cat /proc/net/dev > /root/net.before
cd /root
tar -xzf {name}.tar.gz
./{name}/install.sh {role} --preseed /root/answers.preseed
./{name}/install.sh {role} --preseed /root/answers.preseed > /root/second.log 2>&1
cat /proc/net/dev > /root/net.after"
        ),
    )?;
    for when in ["before", "after"] {
        let net = std::fs::read_to_string(root.join(format!("root/net.{when}")))?;
        assert_eq!(interfaces(&net), ["lo"], "{when} the install:\n{net}");
    }
    assert!(
        log.contains(&format!("install.sh: {question} installed")),
        "{log}"
    );
    let second = std::fs::read_to_string(root.join("root/second.log"))?;
    assert!(second.contains("is installed already"), "{second}");

    let read = |path: &str| offline(&root, &format!("cat {path}"));
    // What was installed: the role, and the doubles it depends on (an agent has no marathon).
    let doubles = doubles::VERSION;
    let mut expected = vec![
        format!("mesos install ok installed {doubles}"),
        format!("{question} install ok installed {VERSION}"),
    ];
    // mesos-role-tools through the role's Recommends.
    expected.push(format!("mesos-role-tools install ok installed {VERSION}"));
    let mut packages = format!("mesos {question} mesos-role-tools");
    if role == "master" {
        expected.insert(0, format!("marathon install ok installed {doubles}"));
        packages.push_str(" marathon");
    }
    let status = offline(
        &root,
        &format!("dpkg-query -W -f '${{Package}} ${{Status}} ${{Version}}\\n' {packages}"),
    )?;
    assert_eq!(status.lines().collect::<Vec<_>>(), expected);
    assert_eq!(read("/etc/mesos/zk")?, ZK);
    // The tool runs on the suite's libc and reads the role it finds (no service runs here).
    let report = offline(&root, "mesos-role --timeout 1 status --json || true")?;
    let report: serde_json::Value = serde_json::from_str(&report)
        .with_context(|| format!("mesos-role status --json: {report}"))?;
    assert_eq!(report["roles"], serde_json::json!([question]), "{report}");
    assert_eq!(report["healthy"], false, "{report}");
    match role {
        "master" => {
            assert_eq!(read("/etc/mesos-master/ip")?, "10.213.0.12\n");
            assert_eq!(read("/etc/mesos-master/quorum")?, "2\n");
            let zoo = read("/etc/zookeeper/conf/zoo.cfg")?;
            assert!(zoo.contains("server.2=10.213.0.12:2888:3888\n"), "{zoo}");
        }
        _ => {
            assert_eq!(read("/etc/mesos-slave/ip")?, "10.213.0.21\n");
            offline(&root, "command -v docker dockerd")?;
        }
    }
    // The source the installer added: this bundle only, through its keyring.
    let source = read("/etc/apt/sources.list.d/mesos-roles.sources")?;
    assert!(
        source.contains(&format!("URIs: file:/root/{name}/repo\n"))
            && source.contains(&format!("Suites: {suite}\n"))
            && source.contains("Signed-By: /usr/share/keyrings/mesos-roles-archive-keyring.gpg\n")
            && !source.contains("trusted"),
        "{source}"
    );
    Ok(())
}

fn master_installs_offline_from_the_bundle(suite: &str) -> Result<()> {
    installs_offline(suite, "master")
}

fn agent_installs_offline_from_the_bundle(suite: &str) -> Result<()> {
    installs_offline(suite, "agent")
}

on_suites!(
    master_installs_offline_from_the_bundle,
    agent_installs_offline_from_the_bundle,
);
