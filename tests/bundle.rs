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
    let err = format!(
        "{:#}",
        build_bundle(&options, &dir.path().join("out")).unwrap_err()
    );
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
    let out = offline_output(root, script)?;
    ensure!(
        out.status.success(),
        "a script in the root without network exited with {}:\n{script}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`offline`], whatever the script's exit status.
fn offline_output(root: &Path, script: &str) -> Result<std::process::Output> {
    output(
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
    // Read under the cache's lock: a closure resolved beside this test empties the status first.
    let cache = xtask::steps::closure::cache_for(suite, &mesos_roles_tests::host_arch()?);
    let resolved = {
        let _lock = xtask::steps::closure::lock(&cache)?;
        std::fs::read_to_string(cache.join("status"))?
    };
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
    let preseed = mesos_roles_tests::cluster::selections(question, &answers);
    std::fs::write(root.join("root/answers.preseed"), preseed)?;
    // A chroot has no init: daemons must not start (on the host).
    let policy = root.join("usr/sbin/policy-rc.d");
    std::fs::write(
        &policy,
        "#!/bin/sh\n# No daemons in the test's chroot.\nexit 101\n",
    )?;
    std::fs::set_permissions(&policy, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;

    // Unpacked below a directory whose name has a space and a newline, with CDPATH exported.
    let under = "/root/bundles dir\nTrusted: yes";
    let log = offline(
        &root,
        &format!(
            "cat /proc/net/dev > /root/net.before
mkdir -p {dir}
cd {dir}
tar -xzf /root/{name}.tar.gz
export CDPATH=/:/usr
./{name}/install.sh {role} --preseed /root/answers.preseed
./{name}/install.sh {role} --preseed /root/answers.preseed > /root/second.log 2>&1
cat /proc/net/dev > /root/net.after",
            dir = sh_quote(under)
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
    // A master's ZooKeeper URL holds its digest, in a file of root's (docs/security.md).
    match role {
        "master" => {
            assert_eq!(
                read("/etc/mesos/zk")?,
                "file:///etc/mesos-roles/secrets/mesos-zk\n"
            );
            let zk = read("/etc/mesos-roles/secrets/mesos-zk")?;
            assert!(
                zk.ends_with(&format!("@{}", &ZK["zk://".len()..ZK.len() - 1])),
                "{zk}"
            );
        }
        _ => assert_eq!(read("/etc/mesos/zk")?, ZK),
    }
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
    assert_eq!(
        source,
        expected_source(&format!("{under}/{name}/repo"), suite)
    );
    Ok(())
}

/// `text` in single quotes for sh.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// A path as the installer writes it in a `file:` URI: every byte but letters, digits and
/// `/._~-` percent-encoded.
fn uri_path(path: &str) -> String {
    path.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'.' | b'_' | b'~' | b'-' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The whole apt source the installer writes for the repository at `repo`: these lines, no other.
fn expected_source(repo: &str, suite: &str) -> String {
    let uri = uri_path(repo);
    format!(
        "# Added by the install.sh of the mesos-roles bundle at file:{uri}
Types: deb
URIs: file:{uri}
Suites: {suite}
Components: main
Signed-By: /usr/share/keyrings/mesos-roles-archive-keyring.gpg
"
    )
}

fn master_installs_offline_from_the_bundle(suite: &str) -> Result<()> {
    installs_offline(suite, "master")
}

fn agent_installs_offline_from_the_bundle(suite: &str) -> Result<()> {
    installs_offline(suite, "agent")
}

// ---------------------------------------------------------------------------------------------
// The installer against odd directories, a failing apt-get update and an interruption, in a plain
// minbase root without network. What is tested is how it handles the source and the keyring, so
// the test's apt-get downloads the role instead of installing it (the offline installs above
// install it for real); update is apt's own.

const KEYRING: &str = "/usr/share/keyrings/mesos-roles-archive-keyring.gpg";
const SOURCE: &str = "/etc/apt/sources.list.d/mesos-roles.sources";

/// PATH's first apt-get in the root: `install` downloads the role instead; with /root/interrupt
/// present, `update` sends the installer SIGTERM first, as a Ctrl-C in the middle would.
const APT_GET_WRAPPER: &str = r#"#!/bin/sh
case " $* " in
*" install "*) cd /root/downloads && exec /usr/bin/apt-get download mesos-master-role ;;
*" update "*) [ ! -e /root/interrupt ] || kill -TERM "$PPID" ;;
esac
exec /usr/bin/apt-get "$@"
"#;

/// Paths, types, modes and SHA-256 of everything under /etc and /usr/share/keyrings.
fn etc_and_keyrings(root: &Path) -> Result<String> {
    offline(
        root,
        r#"find /etc /usr/share/keyrings -printf '%p %y %m\n' | LC_ALL=C sort
find /etc /usr/share/keyrings -type f -exec sha256sum {} + | LC_ALL=C sort -k 2"#,
    )
}

/// The lines of `after` not in `before` and those of `before` not in `after`, with their paths.
fn changed_paths(before: &str, after: &str) -> Vec<String> {
    let path = |l: &str| {
        l.rsplit_once("  ")
            .map(|(_, p)| p.to_string())
            .unwrap_or_else(|| l.rsplitn(3, ' ').nth(2).unwrap_or(l).to_string())
    };
    let mut paths: Vec<String> = after
        .lines()
        .filter(|l| !before.lines().any(|b| b == *l))
        .chain(before.lines().filter(|l| !after.lines().any(|a| a == *l)))
        .map(path)
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

struct InstallerCase {
    what: &'static str,
    /// The directory the bundle is unpacked in (below /root).
    dir: &'static str,
    /// The keyring and source before the run: none, ours from an earlier run, or a stranger keyring.
    before: Before,
    /// The bundle's keyring is another key's: apt-get update fails on the signature.
    wrong_key: bool,
    interrupt: bool,
    status: i32,
    says: &'static str,
}

#[derive(Clone, Copy, PartialEq)]
enum Before {
    Nothing,
    EarlierRun,
    OtherKeyring,
}

const INSTALLER_CASES: &[InstallerCase] = &[
    InstallerCase {
        what: "a space in the path",
        dir: "bundle dir",
        before: Before::Nothing,
        wrong_key: false,
        interrupt: false,
        status: 0,
        says: "install.sh: mesos-master-role installed from file:/root/bundle%20dir/",
    },
    InstallerCase {
        what: "a newline and a source field in the path",
        dir: "x\nTrusted: yes\nSigned-By: /dev/null\n",
        before: Before::Nothing,
        wrong_key: false,
        interrupt: false,
        status: 0,
        says: "file:/root/x%0ATrusted%3A%20yes%0ASigned-By%3A%20/dev/null%0A/",
    },
    InstallerCase {
        what: "percent signs, quotes, a hash and non-ASCII in the path",
        dir: "100%25 'q\"#\u{e9}",
        before: Before::Nothing,
        wrong_key: false,
        interrupt: false,
        status: 0,
        says: "file:/root/100%2525%20%27q%22%23%C3%A9/",
    },
    InstallerCase {
        what: "a different keyring in place",
        dir: "bundle",
        before: Before::OtherKeyring,
        wrong_key: false,
        interrupt: false,
        status: 0,
        says: "install.sh: replacing /usr/share/keyrings/mesos-roles-archive-keyring.gpg with this bundle's keyring",
    },
    InstallerCase {
        what: "apt-get update fails on a first run",
        dir: "bundle",
        before: Before::Nothing,
        wrong_key: true,
        interrupt: false,
        status: 1,
        says: "install.sh: apt-get update failed on the bundle's repository (see above): put back the apt source and keyring as they were",
    },
    InstallerCase {
        what: "apt-get update fails over an earlier run",
        dir: "bundle 2",
        before: Before::EarlierRun,
        wrong_key: true,
        interrupt: false,
        status: 1,
        says: "install.sh: apt-get update failed on the bundle's repository",
    },
    InstallerCase {
        what: "interrupted during apt-get update",
        dir: "bundle",
        before: Before::Nothing,
        wrong_key: false,
        interrupt: true,
        status: 1,
        says: "install.sh: interrupted: put back the apt source and keyring as they were",
    },
    InstallerCase {
        what: "interrupted over an earlier run",
        dir: "bundle 2",
        before: Before::EarlierRun,
        wrong_key: false,
        interrupt: true,
        status: 1,
        says: "install.sh: interrupted: put back",
    },
];

/// Unpacks `bundle` into `dir` (created) with the host's tar; `keyring`, if given, replaces the
/// bundle's keyring and its line in SHA256SUMS, so that only apt's signature check can tell.
fn unpack_bundle(bundle: &Path, dir: &Path, keyring: Option<&Path>) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    run(
        "unpack the bundle",
        Command::new("tar")
            .arg("-C")
            .arg(dir)
            .args(["--strip-components=1", "-xzf"])
            .arg(bundle),
    )?;
    if let Some(keyring) = keyring {
        let member = "repo/mesos-roles-archive-keyring.gpg";
        std::fs::copy(keyring, dir.join(member))?;
        let sum = run(
            "hash the other keyring",
            Command::new("sha256sum").arg(member).current_dir(dir),
        )?;
        let sums: String = std::fs::read_to_string(dir.join("SHA256SUMS"))?
            .lines()
            .map(|l| {
                if l.ends_with(member) {
                    sum.clone()
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        std::fs::write(dir.join("SHA256SUMS"), sums)?;
    }
    Ok(())
}

fn the_installer_survives_odd_directories_and_failures_and_leaves_apt_as_it_was(
    suite: &str,
) -> Result<()> {
    require_root_and_tools(&["mmdebstrap", "unshare", "chroot", "apt-get", "dpkg-deb"])?;
    let dir = scratch(&format!("installer-{suite}"))?;
    let options = repo_options(dir.path(), suite, &["mesos", "marathon"], false)?;
    let bundle = build_bundle(&options, &dir.path().join("out"))?;
    // Another key's keyring: a repository signed by a second development key.
    let other_repo = dir.path().join("other-repo");
    pipeline(Request {
        repo_out: Some(other_repo.clone()),
        signing_key: Some(KeySource::Development(dir.path().join("other-key.asc"))),
        ..repo_options(dir.path(), suite, &[], false)?
    })?;
    let other_keyring = other_repo.join("mesos-roles-archive-keyring.gpg");

    let tarball = roots::minbase(suite)?;
    for (i, case) in INSTALLER_CASES.iter().enumerate() {
        let what = format!("{suite}: {}", case.what);
        let root = dir.path().join(format!("root{i}"));
        roots::unpack_tarball(&tarball, &root)?;
        std::fs::create_dir_all(root.join("usr/local/sbin"))?;
        std::fs::create_dir_all(root.join("root/downloads"))?;
        let wrapper = root.join("usr/local/sbin/apt-get");
        std::fs::write(&wrapper, APT_GET_WRAPPER)?;
        std::fs::set_permissions(
            &wrapper,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )?;
        let run_installer = |dir: &str| {
            offline_output(
                &root,
                &format!(
                    "export PATH=/usr/local/sbin:$PATH CDPATH=/:/usr
cd /
exec {}/install.sh master",
                    sh_quote(&format!("/root/{dir}"))
                ),
            )
        };
        match case.before {
            Before::Nothing => {}
            Before::OtherKeyring => {
                std::fs::copy(&other_keyring, root.join(&KEYRING[1..]))?;
            }
            Before::EarlierRun => {
                unpack_bundle(&bundle, &root.join("root/bundle"), None)?;
                let out = run_installer("bundle")?;
                ensure!(
                    out.status.success(),
                    "{what}: the earlier run failed: {out:?}"
                );
            }
        }
        unpack_bundle(
            &bundle,
            &root.join("root").join(case.dir),
            case.wrong_key.then_some(other_keyring.as_path()),
        )?;
        if case.interrupt {
            std::fs::write(root.join("root/interrupt"), "")?;
        }
        let before = etc_and_keyrings(&root)?;
        let out = run_installer(case.dir)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = format!("{stdout}{stderr}");
        ensure!(
            out.status.code() == Some(case.status),
            "{what}: exit {:?}, want {}:\n{said}",
            out.status.code(),
            case.status
        );
        ensure!(
            said.contains(case.says),
            "{what}: no {:?} in:\n{said}",
            case.says
        );
        // Said exactly when a keyring in place differs from the bundle's.
        let replaces = case.before == Before::OtherKeyring
            || (case.before == Before::EarlierRun && case.wrong_key);
        ensure!(
            said.contains("install.sh: replacing ") == replaces,
            "{what}: the keyring replacement is said exactly when it replaces another:\n{said}"
        );

        // What changed under /etc and the keyrings: the source and the keyring on success,
        // nothing at all on failure (an earlier run's source and keyring are back, byte for byte).
        let after = etc_and_keyrings(&root)?;
        let changed = changed_paths(&before, &after);
        let mut allowed: Vec<String> = vec![];
        if case.status == 0 {
            allowed.push(KEYRING.into());
            allowed.push(SOURCE.into());
        }
        ensure!(
            changed.iter().all(|p| allowed.contains(p)),
            "{what}: changed {changed:?}, only {allowed:?} may change"
        );
        ensure!(
            !after.contains(".mesos-roles"),
            "{what}: a temporary file stayed:\n{after}"
        );
        if case.status == 0 {
            let source = std::fs::read_to_string(root.join(&SOURCE[1..]))?;
            let repo = format!("/root/{}/repo", case.dir);
            ensure!(
                source == expected_source(&repo, suite),
                "{what}: the source is\n{source}"
            );
            let bundled = root
                .join("root")
                .join(case.dir)
                .join("repo/mesos-roles-archive-keyring.gpg");
            ensure!(
                std::fs::read(root.join(&KEYRING[1..]))? == std::fs::read(bundled)?,
                "{what}: the keyring is not the bundle's"
            );
            // apt read the source: the role came from the bundle's pool.
            let downloads: Vec<_> = std::fs::read_dir(root.join("root/downloads"))?
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            ensure!(
                downloads == [format!("mesos-master-role_{VERSION}_all.deb")],
                "{what}: downloaded {downloads:?}\n{said}"
            );
        }
        std::fs::remove_dir_all(&root)?;
    }
    eprintln!("{suite}: {} installer cases", INSTALLER_CASES.len());
    Ok(())
}

on_suites!(
    master_installs_offline_from_the_bundle,
    agent_installs_offline_from_the_bundle,
    the_installer_survives_odd_directories_and_failures_and_leaves_apt_as_it_was,
);
