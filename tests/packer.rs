//! The Packer templates (`cargo xtask packer`): written with this build's variables, `packer fmt
//! -check` and `packer validate` pass for both roles with Debian's packer (1.6.6 in bookworm), the
//! build-time seed is valid cloud-config, the scripts pass shellcheck, and a missing base image is
//! named with its fix and writes nothing. The real `packer build` is in `boot.rs`.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use mesos_roles_tests::{require_tools, run, scratch};

/// Writes the templates into `dir/packer` with stand-ins for the base image and bundle (validate
/// only checks that the provisioned files exist).
fn write_templates(dir: &Path) -> Result<Vec<xtask::formats::manifest::Artifact>> {
    std::fs::create_dir_all(dir.join("images"))?;
    std::fs::write(dir.join("images/base.qcow2"), b"not really an image")?;
    std::fs::write(dir.join("bundle.tar.gz"), b"not really a bundle")?;
    xtask::steps::packer::run(&xtask::steps::packer::Options {
        version: "0.9.0".into(),
        suite: "bookworm".into(),
        arch: "amd64".into(),
        base_image: dir.join("images/base.qcow2"),
        bundle: dir.join("bundle.tar.gz"),
        out: dir.join("packer"),
    })
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
    let error = xtask::steps::packer::run(&xtask::steps::packer::Options {
        version: "0.9.0".into(),
        suite: "bookworm".into(),
        arch: "amd64".into(),
        base_image: dir.path().join("no-such.qcow2"),
        bundle: dir.path().join("bundle.tar.gz"),
        out: dir.path().join("packer"),
    })
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
