//! The Packer templates (`cargo xtask packer`): written with this build's variables, `packer fmt
//! -check` and `packer validate` pass for both roles with Debian's packer (1.6.6 in bookworm), the
//! build-time seed is valid cloud-config, the scripts pass shellcheck, and a missing base image is
//! named with its fix and writes nothing. The real `packer build` is in `boot.rs`.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use mesos_roles_tests::{Request, Target, pipeline, require_tools, run, scratch};

/// `cargo xtask packer` for `base` and `bundle` into `dir/packer`.
fn packer_step(
    dir: &Path,
    base: &Path,
    bundle: &Path,
) -> Result<Vec<xtask::formats::manifest::Artifact>> {
    Ok(pipeline(Request {
        targets: vec![Target::Packer],
        version: Some("0.9.0".into()),
        suite: Some("bookworm".into()),
        base_image: Some(base.to_path_buf()),
        bundle: Some(bundle.to_path_buf()),
        packer_out: Some(dir.join("packer")),
        ..Request::default()
    })?
    .artifacts)
}

/// Writes the templates into `dir/packer` with stand-ins for the base image and bundle (validate
/// only checks that the provisioned files exist; the step checks their first bytes).
fn write_templates(dir: &Path) -> Result<Vec<xtask::formats::manifest::Artifact>> {
    std::fs::create_dir_all(dir.join("images"))?;
    std::fs::write(
        dir.join("images/base.qcow2"),
        b"QFI\xfb\0\0\0\x03 a stand-in",
    )?;
    std::fs::write(dir.join("bundle.tar.gz"), b"\x1f\x8b a stand-in")?;
    packer_step(
        dir,
        &dir.join("images/base.qcow2"),
        &dir.join("bundle.tar.gz"),
    )
}

fn packer(dir: &Path, args: &[&str]) -> Result<String> {
    run(
        &format!("run packer {}", args.join(" ")),
        Command::new("packer")
            .args(args)
            .arg(".")
            .current_dir(dir)
            // No telemetry, no plugin downloads: nothing leaves the machine.
            .env("CHECKPOINT_DISABLE", "1"),
    )
}

#[test]
fn the_templates_are_formatted_and_valid_for_both_roles() -> Result<()> {
    require_tools(&["packer", "cloud-init", "shellcheck"])?;
    let dir = scratch("packer")?;
    let artifacts = write_templates(dir.path())?;
    let out = dir.path().join("packer");
    let mut kinds: Vec<&str> = artifacts.iter().map(|a| a.kind.as_str()).collect();
    kinds.dedup();
    assert_eq!(kinds, ["packer"]);
    let variables = std::fs::read_to_string(out.join(xtask::steps::packer::VARIABLES))?;
    assert!(
        variables.contains("bundle              = \"../bundle.tar.gz\""),
        "{variables}"
    );
    assert!(
        variables.contains("base_image          = \"../images/base.qcow2\""),
        "{variables}"
    );
    // sha256 of "not really an image".
    let checksum = run(
        "hash the stand-in base image",
        Command::new("sha256sum").arg(dir.path().join("images/base.qcow2")),
    )?;
    let checksum = checksum.split_whitespace().next().unwrap_or_default();
    assert!(
        variables.contains(&format!("\"sha256:{checksum}\"")),
        "{variables}"
    );
    assert!(
        variables.contains("debian_ami_name     = \"debian-12-amd64-*\""),
        "{variables}"
    );

    packer(&out, &["fmt", "-check"])?;
    for role in ["master", "agent"] {
        let said = packer(&out, &["validate", "-var", &format!("role={role}")])?;
        assert!(!said.contains("Error"), "{said}");
    }
    // Without a role it is refused: the role is not guessed.
    let refused = mesos_roles_tests::output(
        "run packer validate without a role",
        Command::new("packer")
            .args(["validate", "."])
            .current_dir(&out)
            .env("CHECKPOINT_DISABLE", "1"),
    )?;
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stdout).contains("Unset variable \"role\""));

    let schema = run(
        "check the build-time seed",
        Command::new("cloud-init")
            .args(["schema", "-c"])
            .arg(out.join("seed/user-data")),
    )?;
    assert!(schema.contains("Valid cloud-config"), "{schema}");
    for script in ["provision.sh", "clean.sh", "finish.sh"] {
        let path = out.join("scripts").join(script);
        run(
            "shellcheck a provisioning script",
            Command::new("shellcheck").args(["--shell=sh"]).arg(&path),
        )?;
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path)?.permissions());
        assert_eq!(mode & 0o777, 0o755, "{script}");
    }
    Ok(())
}

#[test]
fn a_missing_base_image_is_named_and_nothing_is_written() -> Result<()> {
    let dir = scratch("packer-missing")?;
    std::fs::write(dir.path().join("bundle.tar.gz"), b"\x1f\x8b a stand-in")?;
    let error = packer_step(
        dir.path(),
        &dir.path().join("no-such.qcow2"),
        &dir.path().join("bundle.tar.gz"),
    )
    .unwrap_err();
    let message = format!("{error:#}");
    assert!(
        message.contains(
            "no-such.qcow2 does not exist: build it with `cargo xtask image --role base`"
        ),
        "{message}"
    );
    assert!(!dir.path().join("packer").exists());
    Ok(())
}

/// Packer's inputs are what they claim to be: a text file is neither a base image nor a bundle.
#[test]
fn a_text_file_is_refused_as_base_image_or_bundle() -> Result<()> {
    let dir = scratch("packer-text")?;
    let (text, image, bundle) = (
        dir.path().join("notes.txt"),
        dir.path().join("base.qcow2"),
        dir.path().join("bundle.tar.gz"),
    );
    std::fs::write(&text, "remember the milk")?;
    std::fs::write(&image, b"QFI\xfb\0\0\0\x03 a stand-in")?;
    std::fs::write(&bundle, b"\x1f\x8b a stand-in")?;
    for (base, bundle, says) in [
        (
            &text,
            &bundle,
            "notes.txt is not a qcow2 image: build it with `cargo xtask image --role base`",
        ),
        (
            &image,
            &text,
            "notes.txt is not a bundle (.tar.gz): build it with `cargo xtask bundle`",
        ),
    ] {
        let message = format!("{:#}", packer_step(dir.path(), base, bundle).unwrap_err());
        assert!(message.contains(says), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(!dir.path().join("packer").exists());
    }
    Ok(())
}
