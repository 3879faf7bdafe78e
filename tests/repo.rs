//! The signed apt repository as apt, gpgv and sqv see it: built by the pipeline's own code from the role
//! packages and the test doubles of mesos and marathon (as the operator's `upstream/`), then read by
//! the real apt with a private state, verified, tampered with, and built twice.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};
use mesos_roles_tests::{Request, Target, doubles, output, pipeline, require_tools, run, scratch};
use xtask::formats::signing::KeySource;
use xtask::steps::repo::{KEYRING, SOURCES};

const EPOCH: u64 = 1_700_000_000;
const SUITE: &str = "bookworm";

/// The doubles under `dir/upstream`, and the request for a repository of them and the role
/// packages (built into `dir/debs`), written into `dir/repo`.
fn inputs(dir: &Path, key: &Path) -> Result<Request> {
    doubles::build_all(&dir.join("upstream"))?;
    Ok(Request {
        targets: vec![Target::Repo],
        version: Some("1.2.3-1".into()),
        suite: Some(SUITE.into()),
        source_date_epoch: Some(EPOCH),
        upstream: Some(dir.join("upstream")),
        signing_key: Some(KeySource::Development(key.to_path_buf())),
        debs_out: Some(dir.join("debs")),
        repo_out: Some(dir.join("repo")),
        roles_only: true,
        ..Request::default()
    })
}

/// The repository directory of a request.
fn out(request: &Request) -> PathBuf {
    request
        .repo_out
        .clone()
        .expect("every request here names its repository")
}

/// Builds the repository into `dir/repo` with the key at `key` (made on first use).
fn build(dir: &Path, key: &Path) -> Result<PathBuf> {
    let options = inputs(dir, key)?;
    pipeline(options.clone())?;
    Ok(out(&options))
}

/// apt with a state of its own: no host sources, no host keys, a dpkg status that has the roles'
/// Debian dependencies (zookeeperd, debconf, iproute2, python3, adduser) installed, so that only the
/// packages this repository holds are resolved and fetched.
struct Apt {
    dir: tempfile::TempDir,
}

impl Apt {
    fn new(repo: &Path) -> Result<Self> {
        let dir = scratch("apt")?;
        for sub in [
            "state/lists/partial",
            "cache/archives/partial",
            "parts",
            "trusted",
        ] {
            std::fs::create_dir_all(dir.path().join(sub))?;
        }
        let arch = mesos_roles_tests::host_arch()?;
        let installed = [
            ("zookeeperd", "3.8.0-11", "all"),
            ("debconf", "1.5.82", "all"),
            ("iproute2", "6.1.0-3", arch.as_str()),
            ("logrotate", "3.21.0-1", arch.as_str()),
            ("python3", "3.11.2-1", arch.as_str()),
            ("adduser", "3.134", "all"),
        ];
        let status: Vec<String> = installed
            .iter()
            .map(|(name, version, arch)| {
                format!(
                    "Package: {name}\nStatus: install ok installed\nVersion: {version}\nArchitecture: {arch}\nMaintainer: stand-in <tests@mesos-roles.invalid>\nDescription: stand-in for the test\n"
                )
            })
            .collect();
        std::fs::write(dir.path().join("status"), status.join("\n"))?;
        // The example source as shipped, pointed at this repository and its keyring.
        let example = std::fs::read_to_string(repo.join(SOURCES))?;
        let source: String = example
            .lines()
            .map(|line| {
                if line.starts_with("URIs:") {
                    format!("URIs: file:{}\n", repo.display())
                } else if line.starts_with("Signed-By:") {
                    format!("Signed-By: {}\n", repo.join(KEYRING).display())
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        std::fs::write(dir.path().join("parts/mesos-roles.sources"), source)?;
        Ok(Self { dir })
    }

    fn command(&self, program: &str, extra: &[&str]) -> Command {
        let d = self.dir.path().display();
        let mut command = Command::new(program);
        for option in [
            format!("Dir::State={d}/state"),
            format!("Dir::State::status={d}/status"),
            format!("Dir::Cache={d}/cache"),
            "Dir::Etc::SourceList=/dev/null".into(),
            format!("Dir::Etc::SourceParts={d}/parts"),
            "Dir::Etc::Trusted=/dev/null".into(),
            format!("Dir::Etc::TrustedParts={d}/trusted"),
            // The scratch directory may not be readable by `_apt`; this is not about signatures.
            "APT::Sandbox::User=root".into(),
            "Debug::NoLocking=1".into(),
        ] {
            command.arg("-o").arg(option);
        }
        command.args(extra);
        command
    }

    /// `apt-get update` (with extra options): (succeeded, stdout + stderr).
    fn update(&self, extra: &[&str]) -> Result<(bool, String)> {
        let mut args = extra.to_vec();
        args.push("update");
        let out = output("update apt's lists", &mut self.command("apt-get", &args))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    fn download_role(&self) -> Result<(bool, String)> {
        let out = output(
            "download the master role and its dependencies",
            &mut self.command(
                "apt-get",
                &["install", "--download-only", "-y", "mesos-master-role"],
            ),
        )?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }
}

/// Compressed index formats apt would otherwise prefer, turned off so that it reads `keep`.
fn only_compression(keep: &str) -> Vec<String> {
    ["xz", "gz", "bz2", "lzma", "lz4", "zst"]
        .iter()
        .filter(|c| **c != keep)
        .flat_map(|c| {
            [
                "-o".to_string(),
                format!("Acquire::CompressionTypes::{c}=false"),
            ]
        })
        .collect()
}

#[test]
fn apt_accepts_the_repository_through_signed_by_and_resolves_a_role() -> Result<()> {
    require_tools(&["apt-get", "apt-cache", "dpkg-deb"])?;
    let dir = scratch("repo-apt")?;
    let repo = build(dir.path(), &dir.path().join("key.asc"))?;
    let example = std::fs::read_to_string(repo.join(SOURCES))?;
    assert!(example.contains(&format!("\nSigned-By: /usr/share/keyrings/{KEYRING}\n")));
    assert!(example.contains("\nSuites: bookworm\nComponents: main\n"));
    assert!(!example.contains("trusted"), "{example}");

    let apt = Apt::new(&repo)?;
    let (ok, text) = apt.update(&[])?;
    assert!(ok, "apt-get update failed:\n{text}");
    for bad in ["W:", "E:", "GPG", "NO_PUBKEY", "not signed", "insecure"] {
        assert!(!text.contains(bad), "apt-get update said {bad:?}:\n{text}");
    }
    let policy = run(
        "ask apt where the role comes from",
        &mut apt.command("apt-cache", &["policy", "mesos-master-role"]),
    )?;
    assert!(policy.contains("Candidate: 1.2.3-1"), "{policy}");
    assert!(
        policy.contains(&format!("file:{} bookworm/main", repo.display())),
        "{policy}"
    );
    let (ok, text) = apt.download_role()?;
    assert!(ok, "apt-get install --download-only failed:\n{text}");
    assert!(
        text.contains("NEW packages will be installed:\n  marathon mesos mesos-master-role\n"),
        "{text}"
    );
    assert!(text.contains("Download complete"), "{text}");
    Ok(())
}

#[test]
fn gpgv_and_sqv_verify_inrelease_and_release_gpg() -> Result<()> {
    require_tools(&["gpgv", "sqv", "dpkg-deb"])?;
    let dir = scratch("repo-verify")?;
    let repo = build(dir.path(), &dir.path().join("key.asc"))?;
    let keyring = repo.join(KEYRING);
    let dists = repo.join("dists").join(SUITE);
    let inrelease = std::fs::read_to_string(dists.join("InRelease"))?;
    let release = std::fs::read_to_string(dists.join("Release"))?;

    run(
        "verify InRelease with gpgv",
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&keyring)
            .arg(dists.join("InRelease")),
    )?;
    run(
        "verify Release.gpg with gpgv",
        Command::new("gpgv")
            .arg("--keyring")
            .arg(&keyring)
            .arg(dists.join("Release.gpg"))
            .arg(dists.join("Release")),
    )?;
    run(
        "verify Release.gpg with sqv",
        Command::new("sqv")
            .arg("--keyring")
            .arg(&keyring)
            .arg(dists.join("Release.gpg"))
            .arg(dists.join("Release")),
    )?;
    // sqv 1.1 takes detached signatures only: split InRelease as apt does (the signed text ends
    // before the line break that precedes the signature block).
    let Some((_, rest)) = inrelease.split_once("\n\n") else {
        bail!("InRelease has no armor header:\n{inrelease}");
    };
    let Some((text, signature)) = rest.split_once("\n-----BEGIN PGP SIGNATURE-----") else {
        bail!("InRelease has no signature block:\n{inrelease}");
    };
    assert_eq!(
        format!("{text}\n"),
        release,
        "InRelease signs the Release text"
    );
    let split = scratch("inrelease")?;
    std::fs::write(split.path().join("text"), text)?;
    std::fs::write(
        split.path().join("text.asc"),
        format!("-----BEGIN PGP SIGNATURE-----{signature}"),
    )?;
    run(
        "verify InRelease's signature with sqv",
        Command::new("sqv")
            .arg("--keyring")
            .arg(&keyring)
            .arg(split.path().join("text.asc"))
            .arg(split.path().join("text")),
    )?;

    // Another key's keyring does not verify it.
    let other = scratch("repo-other-key")?;
    let other_repo = build(other.path(), &other.path().join("key.asc"))?;
    let refused = output(
        "verify InRelease with the wrong keyring",
        Command::new("gpgv")
            .arg("--keyring")
            .arg(other_repo.join(KEYRING))
            .arg(dists.join("InRelease")),
    )?;
    assert!(!refused.status.success(), "gpgv accepted another key");
    Ok(())
}

/// One tampering: a byte changed in `file` (at the end of `at`, else in the middle); apt, run with
/// `options`, must fail at `fails_at` (`update` or `download`) and say `expected`.
struct Tamper {
    file: String,
    at: Option<&'static str>,
    options: Vec<String>,
    fails_at: &'static str,
    expected: &'static str,
}

#[test]
fn apt_refuses_a_changed_byte_in_inrelease_packages_or_a_pool_deb() -> Result<()> {
    require_tools(&["apt-get", "dpkg-deb"])?;
    let dir = scratch("repo-tamper")?;
    let key = dir.path().join("key.asc");
    let clean = build(dir.path(), &key)?;
    let arch = mesos_roles_tests::host_arch()?;
    let packages = format!("dists/{SUITE}/main/binary-{arch}");
    let case = |file: String, at, options, fails_at, expected| Tamper {
        file,
        at,
        options,
        fails_at,
        expected,
    };
    let cases = [
        case(
            format!("dists/{SUITE}/InRelease"),
            Some("Label: mesos-roles"),
            vec![],
            "update",
            "BADSIG",
        ),
        case(
            format!("{packages}/Packages"),
            Some("Description: TEST DOUBLE"),
            only_compression("none"),
            "update",
            "Hash Sum mismatch",
        ),
        case(
            format!("{packages}/Packages.gz"),
            None,
            only_compression("gz"),
            "update",
            "Hash Sum mismatch",
        ),
        case(
            format!("{packages}/Packages.xz"),
            None,
            vec![],
            "update",
            "Hash Sum mismatch",
        ),
        case(
            "pool/main/m/mesos/mesos_1.11.0-0double1_all.deb".into(),
            None,
            vec![],
            "download",
            "Hash Sum mismatch",
        ),
    ];
    for Tamper {
        file,
        at,
        options,
        fails_at,
        expected,
    } in cases
    {
        let copy = scratch("tampered")?;
        let repo = copy.path().join("repo");
        run(
            "copy the repository",
            Command::new("cp").arg("-a").arg(&clean).arg(&repo),
        )?;
        let path = repo.join(&file);
        let mut bytes = std::fs::read(&path)?;
        let index = match at {
            Some(text) => bytes
                .windows(text.len())
                .position(|w| w == text.as_bytes())
                .map(|i| i + text.len() - 1)
                .unwrap_or_else(|| panic!("{file} has no {text:?}")),
            None => bytes.len() / 2,
        };
        bytes[index] ^= 0x01;
        std::fs::write(&path, bytes)?;

        let apt = Apt::new(&repo)?;
        let options: Vec<&str> = options.iter().map(String::as_str).collect();
        let (updated, text) = apt.update(&options)?;
        let (ok, text) = if fails_at == "update" {
            (updated, text)
        } else {
            assert!(updated, "update failed before the download:\n{text}");
            apt.download_role()?
        };
        assert!(!ok, "apt accepted {file} with a changed byte:\n{text}");
        assert!(
            text.contains(expected),
            "{file}: apt failed but did not say {expected:?}:\n{text}"
        );
    }
    Ok(())
}

#[test]
fn two_runs_give_the_same_indices_and_signatures() -> Result<()> {
    require_tools(&["dpkg-deb"])?;
    // The same input files (dpkg-deb dates the doubles' ar members with the time of the build),
    // indexed twice into two directories.
    let dir = scratch("repo-twice")?;
    let key = dir.path().join("key.asc");
    let mut options = inputs(dir.path(), &key)?;
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    for out in [&first, &second] {
        options.repo_out = Some(out.clone());
        pipeline(options.clone())?;
    }
    let arch = mesos_roles_tests::host_arch()?;
    let mut compared = 0;
    for arch in [arch.as_str(), "all"] {
        for name in ["Packages", "Packages.gz", "Packages.xz", "Release"] {
            let file = format!("dists/{SUITE}/main/binary-{arch}/{name}");
            same(&first, &second, &file)?;
            compared += 1;
        }
    }
    for name in ["Release", "InRelease", "Release.gpg"] {
        same(&first, &second, &format!("dists/{SUITE}/{name}"))?;
        compared += 1;
    }
    for file in [KEYRING, SOURCES] {
        same(&first, &second, file)?;
        compared += 1;
    }
    assert_eq!(compared, 13);
    // Another epoch is another Date, so another Release.
    options.repo_out = Some(dir.path().join("later"));
    options.source_date_epoch = Some(EPOCH + 86_400);
    pipeline(options.clone())?;
    let release = std::fs::read_to_string(out(&options).join("dists/bookworm/Release"))?;
    assert!(
        release.contains("\nDate: Wed, 15 Nov 2023 22:13:20 +0000\n"),
        "{release}"
    );
    Ok(())
}

fn same(a: &Path, b: &Path, file: &str) -> Result<()> {
    if std::fs::read(a.join(file))? != std::fs::read(b.join(file))? {
        bail!("{file} differs between two runs with the same inputs, key and epoch");
    }
    Ok(())
}

#[test]
fn a_bad_upstream_file_is_named_and_nothing_is_half_written() -> Result<()> {
    require_tools(&["dpkg-deb"])?;
    let dir = scratch("repo-bad")?;
    let options = inputs(dir.path(), &dir.path().join("key.asc"))?;
    pipeline(options.clone())?;
    let inrelease = out(&options).join("dists/bookworm/InRelease");
    let before = std::fs::read(&inrelease)?;
    let listing = |dir: &Path| -> Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<Result<_, _>>()?;
        names.sort();
        Ok(names)
    };
    let entries_before = listing(dir.path())?;

    let upstream = dir.path().join("upstream");
    for (name, contents, says) in [
        ("NOTES.txt", &b"remember the milk"[..], "is not a .deb"),
        (
            "broken_1.0_all.deb",
            &b"!<arch>\nnot really"[..],
            "is not a usable .deb",
        ),
    ] {
        let bad = upstream.join(name);
        std::fs::write(&bad, contents)?;
        let err = format!("{:#}", pipeline(options.clone()).unwrap_err());
        assert!(
            err.contains(&bad.display().to_string()) && err.contains(says),
            "the error does not name {name}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one message: {err}");
        std::fs::remove_file(&bad)?;
        // The old repository is untouched and no temporary directory is left behind.
        assert!(
            std::fs::read(&inrelease)? == before,
            "{name}: InRelease changed"
        );
        assert_eq!(listing(dir.path())?, entries_before, "{name}");
    }

    // Into a new --out: nothing appears.
    std::fs::write(upstream.join("NOTES.txt"), "x")?;
    let fresh = Request {
        repo_out: Some(dir.path().join("fresh")),
        ..options
    };
    assert!(pipeline(fresh.clone()).is_err());
    assert!(!out(&fresh).exists());
    assert_eq!(listing(dir.path())?, entries_before);
    Ok(())
}

#[test]
fn an_unsupported_suite_is_refused() -> Result<()> {
    let dir = scratch("repo-suite")?;
    let options = Request {
        targets: vec![Target::Repo],
        suite: Some("buster".into()),
        repo_out: Some(dir.path().join("repo")),
        signing_key: Some(KeySource::Development(dir.path().join("key.asc"))),
        roles_only: true,
        ..Request::default()
    };
    let err = pipeline(options.clone()).unwrap_err().to_string();
    assert!(err.contains("--suite \"buster\""), "{err}");
    assert!(!out(&options).exists());
    Ok(())
}

#[test]
fn debs_with_xz_and_zstd_members_are_indexed_like_dpkg_reads_them() -> Result<()> {
    require_tools(&["dpkg-deb"])?;
    let dir = scratch("repo-zstd")?;
    // The mesos double as Debian (xz) and Ubuntu (zstd) compress their packages.
    let tree = dir.path().join("tree");
    let plain = doubles::build("mesos", "2.0-1", &dir.path().join("plain"))?;
    run(
        "unpack the double",
        Command::new("dpkg-deb").arg("-R").arg(&plain).arg(&tree),
    )?;
    let upstream = dir.path().join("upstream");
    std::fs::create_dir_all(&upstream)?;
    for (compression, version) in [("xz", "2.0-1"), ("zstd", "2.0-2")] {
        let control = tree.join("DEBIAN/control");
        let text = std::fs::read_to_string(&control)?;
        let old = text.lines().find(|l| l.starts_with("Version:")).unwrap();
        std::fs::write(&control, text.replace(old, &format!("Version: {version}")))?;
        run(
            &format!("build a {compression} .deb"),
            Command::new("dpkg-deb")
                .arg(format!("-Z{compression}"))
                .args(["--build", "--root-owner-group"])
                .arg(&tree)
                .arg(upstream.join(format!("mesos_{version}_all.deb"))),
        )?;
    }
    let options = Request {
        targets: vec![Target::Repo],
        suite: Some(SUITE.into()),
        source_date_epoch: Some(EPOCH),
        upstream: Some(upstream.clone()),
        signing_key: Some(KeySource::Development(dir.path().join("key.asc"))),
        debs_out: Some(dir.path().join("debs")),
        repo_out: Some(dir.path().join("repo")),
        roles_only: true,
        ..Request::default()
    };
    pipeline(options.clone())?;
    let packages = std::fs::read_to_string(
        out(&options).join(format!("dists/{SUITE}/main/binary-all/Packages")),
    )?;
    for version in ["2.0-1", "2.0-2"] {
        let deb = upstream.join(format!("mesos_{version}_all.deb"));
        let control = run(
            "read the control file with dpkg-deb",
            Command::new("dpkg-deb").arg("--field").arg(&deb),
        )?;
        let stanza = packages
            .split("\n\n")
            .find(|s| s.contains(&format!("\nVersion: {version}\n")))
            .unwrap_or_else(|| panic!("no stanza for {version}:\n{packages}"));
        for line in control.lines().filter(|l| !l.is_empty()) {
            assert!(
                stanza.lines().any(|s| s == line),
                "{version}: {line:?} is not in the stanza:\n{stanza}"
            );
        }
        assert!(stanza.contains(&format!(
            "\nFilename: pool/main/m/mesos/mesos_{version}_all.deb\n"
        )));
    }
    Ok(())
}
