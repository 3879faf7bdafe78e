//! The role .debs as dpkg sees them: built by the pipeline's own code, unpacked and read back with
//! the real dpkg-deb, ar and tar.

use mesos_roles_tests::Target;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use mesos_roles_tests::{build_role_debs, host_arch, require_tools, run, scratch, unpack_control};
use sha2::{Digest, Sha256};

fn field(deb: &Path, name: &str) -> Result<String> {
    Ok(run(
        "read a control field",
        Command::new("dpkg-deb").arg("--field").arg(deb).arg(name),
    )?
    .trim()
    .to_string())
}

fn debs(dir: &Path) -> Result<Vec<PathBuf>> {
    build_role_debs(dir, "1.2.3-1")
}

#[test]
fn two_builds_give_the_same_bytes() -> Result<()> {
    let (a, b) = (scratch("deb-a")?, scratch("deb-b")?);
    let (first, second) = (debs(a.path())?, debs(b.path())?);
    assert_eq!(first.len(), 2);
    for (x, y) in first.iter().zip(&second) {
        assert_eq!(x.file_name(), y.file_name());
        assert!(
            std::fs::read(x)? == std::fs::read(y)?,
            "{} differs between two builds",
            x.display()
        );
    }
    Ok(())
}

/// mesos-role-tools (cargo-deb): two builds are byte-identical, for this host's architecture,
/// with the role packages in one output directory, and a build of another version replaces it.
#[test]
fn the_tools_package_is_reproducible_and_for_this_architecture() -> Result<()> {
    require_tools(&["cargo-deb", "dpkg-deb"])?;
    let (a, b) = (scratch("tools-a")?, scratch("tools-b")?);
    let build = |dir: &Path, version: &str| -> Result<Vec<PathBuf>> {
        mesos_roles_tests::build_shipped_debs(dir, version)
    };
    let (first, second) = (build(a.path(), "1.2.3-1")?, build(b.path(), "1.2.3-1")?);
    let arch = host_arch()?;
    let tools = format!("mesos-role-tools_1.2.3-1_{arch}.deb");
    let names: Vec<String> = first
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(names.contains(&tools), "{names:?}");
    for (x, y) in first.iter().zip(&second) {
        assert!(
            std::fs::read(x)? == std::fs::read(y)?,
            "{} differs between two builds",
            x.display()
        );
    }
    let deb = a.path().join(&tools);
    assert_eq!(field(&deb, "Package")?, "mesos-role-tools");
    assert_eq!(field(&deb, "Version")?, "1.2.3-1");
    assert_eq!(field(&deb, "Architecture")?, arch);
    assert!(field(&deb, "Depends")?.contains("libc6"));
    let listing = run(
        "list the data",
        Command::new("dpkg-deb").arg("--contents").arg(&deb),
    )?;
    for path in [
        "./usr/bin/mesos-role",
        "./usr/share/man/man1/mesos-role.1.gz",
        "./usr/share/doc/mesos-role-tools/changelog.Debian.gz",
        "./usr/share/doc/mesos-role-tools/copyright",
        "./usr/share/doc/mesos-role-tools/security.md",
        "./usr/share/doc/mesos-role-tools/examples/demo-app.json",
    ] {
        assert!(listing.contains(path), "{path} missing:\n{listing}");
    }
    for line in listing.lines() {
        assert!(
            line.contains(" 0/0 ") && line.contains(" 2023-11-14 "),
            "{line}"
        );
    }
    // The role packages recommend it.
    for role in ["mesos-master-role", "mesos-agent-role"] {
        let deb = a.path().join(format!("{role}_1.2.3-1_all.deb"));
        assert_eq!(field(&deb, "Recommends")?, "mesos-role-tools");
    }
    build(a.path(), "1.2.4-1")?;
    assert!(
        !deb.exists(),
        "the 1.2.3-1 tools package was left beside 1.2.4-1"
    );
    Ok(())
}

#[test]
fn dpkg_reads_the_packages_as_built() -> Result<()> {
    require_tools(&["dpkg-deb", "ar", "tar", "md5sum"])?;
    let dir = scratch("deb-read")?;
    for deb in debs(dir.path())? {
        let name = deb.file_name().unwrap().to_string_lossy().into_owned();
        let package = name.split('_').next().unwrap().to_string();
        assert_eq!(name, format!("{package}_1.2.3-1_all.deb"));
        assert_eq!(field(&deb, "Package")?, package);
        assert_eq!(field(&deb, "Version")?, "1.2.3-1");
        assert_eq!(field(&deb, "Architecture")?, "all");
        let depends = field(&deb, "Depends")?;
        for needed in ["debconf", "mesos", "iproute2"] {
            assert!(
                depends.contains(needed),
                "{package} Depends {depends:?} lacks {needed}"
            );
        }
        // ar members in dpkg's order, with the build's mtime.
        let members = run("list ar members", Command::new("ar").arg("tv").arg(&deb))?;
        let names: Vec<&str> = members
            .lines()
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(names, ["debian-binary", "control.tar.gz", "data.tar.gz"]);
        // Control area: the debconf interface and the scripts, executable.
        let control = unpack_control(&deb)?;
        for file in [
            "control",
            "md5sums",
            "templates",
            "config",
            "postinst",
            "postrm",
        ] {
            assert!(
                control.path().join(file).exists(),
                "{package} has no {file}"
            );
        }
        for script in ["config", "postinst", "postrm"] {
            let mode = std::os::unix::fs::PermissionsExt::mode(
                &std::fs::metadata(control.path().join(script))?.permissions(),
            );
            assert_eq!(mode & 0o777, 0o755, "{package}/{script} mode");
            let text = std::fs::read_to_string(control.path().join(script))?;
            assert!(
                !text.contains("#INCLUDE"),
                "{package}/{script} has an unexpanded include"
            );
        }
        // Data: root-owned, dated SOURCE_DATE_EPOCH, and md5sums that match.
        let listing = run(
            "list the data",
            Command::new("dpkg-deb").arg("--contents").arg(&deb),
        )?;
        for line in listing.lines() {
            assert!(line.contains(" root/root "), "{package}: {line}");
            assert!(
                line.contains(" 2023-11-14 "),
                "{package}: not dated 1700000000: {line}"
            );
        }
        assert!(listing.contains(&format!("./usr/share/doc/{package}/copyright")));
        assert!(listing.contains(&format!("./usr/share/doc/{package}/changelog.Debian.gz")));
        assert!(listing.contains(&format!("./usr/share/doc/{package}/security.md")));
        let data = scratch("data")?;
        run(
            "unpack the data",
            Command::new("dpkg-deb")
                .arg("-x")
                .arg(&deb)
                .arg(data.path()),
        )?;
        run(
            "check md5sums",
            Command::new("md5sum")
                .arg("--check")
                .arg("--quiet")
                .arg(control.path().join("md5sums"))
                .current_dir(data.path()),
        )?;
    }
    Ok(())
}

#[test]
fn dist_writes_a_manifest_with_every_artifact_and_its_sha256() -> Result<()> {
    let out = scratch("dist")?;
    let key = scratch("dist-key")?;
    let arch = host_arch()?;
    let empty = scratch("dist-upstream")?;
    // The tools package is built for this host: the repository's architecture.
    let summary = mesos_roles_tests::pipeline(mesos_roles_tests::Request {
        targets: vec![Target::Debs, Target::Repo, Target::Seeds, Target::Manifest],
        version: Some("0.9.0".into()),
        source_date_epoch: Some(1_700_000_000),
        dist: Some(out.path().to_path_buf()),
        suite: Some("bookworm".into()),
        upstream: Some(empty.path().to_path_buf()),
        signing_key: Some(xtask::formats::signing::KeySource::Development(
            key.path().join("key.asc"),
        )),
        inventory: Some(mesos_roles_tests::example_inventory(key.path())?),
        keep_repo: true,
        ..Default::default()
    })?;
    // Honest about what the repository lacks, and the summary lists what was made.
    assert!(
        summary
            .warnings
            .iter()
            .any(|w| w.contains("lacks mesos and marathon")),
        "{:?}",
        summary.warnings
    );
    let text = summary.text();
    for kind in ["deb", "repo", "seeds"] {
        assert!(text.contains(&format!("  {kind:<7} ")), "{text}");
    }
    let manifest = xtask::formats::manifest::Manifest::read(out.path())?;
    assert_eq!(manifest.version, "0.9.0");
    let paths = |kind: &str| -> Vec<String> {
        manifest
            .artifacts
            .iter()
            .filter(|a| a.kind == kind)
            .map(|a| a.path.display().to_string())
            .collect()
    };
    assert_eq!(
        paths("deb"),
        [
            "debs/mesos-agent-role_0.9.0_all.deb".to_string(),
            "debs/mesos-master-role_0.9.0_all.deb".into(),
            format!("debs/mesos-role-tools_0.9.0_{arch}.deb"),
        ]
    );
    assert_eq!(
        paths("repo-deb"),
        [
            "repo/pool/main/m/mesos-agent-role/mesos-agent-role_0.9.0_all.deb".to_string(),
            "repo/pool/main/m/mesos-master-role/mesos-master-role_0.9.0_all.deb".into(),
            format!("repo/pool/main/m/mesos-role-tools/mesos-role-tools_0.9.0_{arch}.deb"),
        ]
    );
    assert_eq!(
        paths("repo-signature"),
        [
            "repo/dists/bookworm/InRelease",
            "repo/dists/bookworm/Release.gpg"
        ]
    );
    assert_eq!(paths("keyring"), ["repo/mesos-roles-archive-keyring.gpg"]);
    assert_eq!(paths("apt-source"), ["repo/mesos-roles.sources"]);
    assert!(paths("repo-index").contains(&"repo/dists/bookworm/Release".to_string()));
    assert_eq!(paths("repo-index").len(), 9);
    // With --inventory: each node's seed files and image.
    assert_eq!(
        paths("seed-image"),
        [
            "seeds/agent-1.cidata.img",
            "seeds/master-1.cidata.img",
            "seeds/master-2.cidata.img",
            "seeds/master-3.cidata.img"
        ]
    );
    assert_eq!(paths("seed").len(), 12);
    assert!(paths("seed").contains(&"seeds/master-1/user-data".to_string()));
    for artifact in &manifest.artifacts {
        let bytes = std::fs::read(out.path().join(&artifact.path))?;
        assert_eq!(artifact.sha256, hex::encode(Sha256::digest(&bytes)));
    }
    Ok(())
}

#[test]
fn a_bad_version_is_refused_and_nothing_is_written() -> Result<()> {
    let out = scratch("bad-version")?;
    let err = build_role_debs(out.path(), "1.0 beta")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("--version") && err.contains("not a Debian version"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(out.path())?.count(), 0);
    Ok(())
}

#[test]
fn a_build_replaces_the_packages_of_another_version() -> Result<()> {
    let out = scratch("stale")?;
    build_role_debs(out.path(), "1.0-1")?;
    build_role_debs(out.path(), "1.1-1")?;
    let mut names: Vec<String> = std::fs::read_dir(out.path())?
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    // Beside the marker, the stamp of what the step made.
    assert_eq!(
        names,
        [
            xtask::files::MARKER,
            &format!("{}.debs", xtask::files::MARKER),
            "mesos-agent-role_1.1-1_all.deb",
            "mesos-master-role_1.1-1_all.deb"
        ]
    );
    Ok(())
}
