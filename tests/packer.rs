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

/// qemu's shutdown command is uploaded after clean.sh, which empties /tmp where it lives.
#[test]
fn the_shutdown_script_is_uploaded_after_the_clean() -> Result<()> {
    let dir = mesos_roles_tests::workspace().join("images/packer");
    let hcl = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| {
            p.extension().is_some_and(|e| e == "hcl") && !p.to_string_lossy().contains("pkrvars")
        })
        .expect("a template");
    let text = std::fs::read_to_string(&hcl)?;
    let clean = text
        .find("\"scripts/clean.sh\"")
        .expect("clean.sh is provisioned");
    let finish = text
        .find("\"scripts/finish.sh\"")
        .expect("finish.sh is uploaded");
    assert!(
        finish > clean,
        "finish.sh is uploaded before clean.sh empties /tmp"
    );
    Ok(())
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

/// Every path of a tree with its type and size (`d`, `l` or the byte count).
fn tree(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            let meta = std::fs::symlink_metadata(&path)?;
            let what = if meta.is_dir() {
                dirs.push(path.clone());
                "d".to_string()
            } else if meta.is_symlink() {
                "l".to_string()
            } else {
                meta.len().to_string()
            };
            out.push(format!("{} {what}", path.strip_prefix(root)?.display()));
        }
    }
    out.sort();
    Ok(out)
}

/// Packer's clean.sh and the native image's clean step both read images/clean.list, and clean a
/// tree holding everything it names to the same tree: the two paths make the same content.
#[test]
fn packer_and_native_images_are_cleaned_by_the_one_list() -> Result<()> {
    let cleaned = cleaned_alike(
        xtask::steps::image::CLEAN_LIST,
        xtask::steps::packer::CLEAN_LIST,
        "clean-list",
    )?;
    assert!(cleaned.contains(&"var/lib/apt/lists/partial d".to_string()));
    assert!(cleaned.contains(&"etc/machine-id 0".to_string()));
    assert!(cleaned.contains(&"var/log/sub d".to_string()));
    Ok(())
}

/// The same for images/inert.list: both paths remove the boot links of the daemons the role
/// starts once answered (the native configure step, Packer's clean.sh with that list), and
/// Packer runs it before the clean empties /tmp where the list is uploaded.
#[test]
fn packer_and_native_images_hold_the_roles_daemons_back_by_the_one_list() -> Result<()> {
    let cleaned = cleaned_alike(
        xtask::steps::image::INERT_LIST,
        xtask::steps::packer::INERT_LIST,
        "inert-list",
    )?;
    assert!(
        cleaned
            .iter()
            .any(|l| l == "etc/systemd/system/multi-user.target.wants d"),
        "{cleaned:#?}"
    );
    let hcl = std::fs::read_to_string(
        mesos_roles_tests::workspace().join("images/packer/mesos-roles.pkr.hcl"),
    )?;
    let inert = hcl
        .find("CLEAN_LIST=/tmp/mesos-roles-inert.list")
        .expect("clean.sh runs with the inert list");
    let clean = hcl
        .find("CLEAN_LIST=/tmp/mesos-roles-clean.list")
        .expect("clean.sh runs with the clean list");
    assert!(
        inert < clean,
        "the inert list is applied after /tmp is emptied"
    );
    Ok(())
}

/// Applies the workspace's list `relative` to a tree holding something at each of its paths, by
/// the native step and by Packer's clean.sh: the same tree comes out, without the build's files;
/// the templates carry the list as `carried`. Returns that tree (`tree`'s lines).
fn cleaned_alike(relative: &str, carried: &str, name: &str) -> Result<Vec<String>> {
    let workspace = mesos_roles_tests::workspace();
    let list_path = workspace.join(relative);
    let list = std::fs::read_to_string(&list_path)?;
    let dir = scratch(name)?;
    // A root with something at every path of the list, and a file nothing names.
    let model = dir.path().join("model");
    let mut entries = 0;
    for line in list
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (action, path) = line.split_once(char::is_whitespace).unwrap();
        let path = model.join(path.trim().trim_end_matches('*'));
        match action {
            "empty" | "remove" => {
                let file = match line.ends_with('*') {
                    true => path.with_file_name(format!(
                        "{}key",
                        path.file_name().unwrap().to_string_lossy()
                    )),
                    false => path,
                };
                std::fs::create_dir_all(file.parent().unwrap())?;
                std::fs::write(&file, "the build's")?;
            }
            "clear" | "clear-files" => {
                std::fs::create_dir_all(path.join("sub"))?;
                std::fs::write(path.join("sub/file"), "the build's")?;
                std::fs::write(path.join("file"), "the build's")?;
            }
            "mkdir" => {}
            other => panic!("unknown action {other}"),
        }
        entries += 1;
    }
    assert!(entries > 5, "the list names {entries} paths");
    std::fs::create_dir_all(model.join("etc"))?;
    std::fs::write(model.join("etc/keep"), "the image's")?;
    let (native, packer) = (dir.path().join("native"), dir.path().join("packer"));
    for copy in [&native, &packer] {
        run(
            "copy the model root",
            Command::new("cp").arg("-a").arg(&model).arg(copy),
        )?;
    }
    xtask::steps::image::scrub(&native, &list)?;
    run(
        "clean a tree with Packer's clean.sh",
        Command::new("sh")
            .arg(workspace.join("images/packer/scripts/clean.sh"))
            .env("ROOT", &packer)
            .env("CLEAN_LIST", &list_path),
    )?;
    let cleaned = tree(&native)?;
    assert_eq!(cleaned, tree(&packer)?, "the two paths clean differently");
    assert!(cleaned.contains(&"etc/keep 11".to_string()));
    assert!(
        !cleaned
            .iter()
            .any(|l| l.ends_with(" 11") && l != "etc/keep 11"),
        "the build's files are left: {cleaned:#?}"
    );
    // And the templates carry the list for clean.sh.
    let templates = dir.path().join("templates");
    let artifacts = write_templates(&templates)?;
    let carried = templates.join("packer").join(carried);
    assert!(artifacts.iter().any(|a| a.path == carried));
    assert_eq!(std::fs::read_to_string(carried)?, list);
    Ok(cleaned)
}

/// The templates carry overlays/ (the unit that applies a node's seed among them), which
/// provision.sh lays on any source (amazon-ebs's Debian AMI has none of it): a tar of every
/// overlay file with its bytes, root's, mode 0644.
#[test]
fn the_templates_carry_the_overlays_for_provision() -> Result<()> {
    let dir = scratch("packer-overlays")?;
    write_templates(dir.path())?;
    let tar = dir
        .path()
        .join("packer")
        .join(xtask::steps::packer::OVERLAYS);
    let listing = run(
        "list the overlays tar",
        Command::new("tar").arg("-tvf").arg(&tar),
    )?;
    let overlays = mesos_roles_tests::workspace().join("overlays");
    let mut count = 0;
    for file in xtask::files::files_below(&overlays)? {
        let name = file.strip_prefix(&overlays)?.to_string_lossy().into_owned();
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name} is not in the overlays tar:\n{listing}"));
        assert!(line.starts_with("-rw-r--r-- root/root"), "{line}");
        let bytes = run(
            "read a member of the overlays tar",
            Command::new("tar").arg("-xOf").arg(&tar).arg(&name),
        )?;
        assert_eq!(bytes.as_bytes(), std::fs::read(&file)?, "{name}");
        count += 1;
    }
    assert!(
        listing.contains(" all/etc/systemd/system/mesos-roles-seed.service"),
        "{listing}"
    );
    assert_eq!(listing.lines().count(), count, "{listing}");
    let provision = std::fs::read_to_string(
        mesos_roles_tests::workspace().join("images/packer/scripts/provision.sh"),
    )?;
    assert!(provision.contains("tar -xf \"$OVERLAYS\""));
    Ok(())
}

/// The build VM is throwaway, so its disk trades durability for time under TCG: qemu ignores the
/// guest's flushes and passes its discards on; finish.sh trims every filesystem before the
/// power-off (so the compressed qcow2 leaves out the blocks of removed files); dpkg skips its
/// fsyncs while provisioning, and that setting is gone before the image is saved. (`packer
/// validate` above checks that Debian's Packer 1.6.6 knows the options.)
#[test]
fn the_throwaway_build_vm_skips_flushes_and_trims_its_disk() -> Result<()> {
    let dir = mesos_roles_tests::workspace().join("images/packer");
    let template = std::fs::read_to_string(dir.join("mesos-roles.pkr.hcl"))?;
    let setting = |name: &str| {
        template.lines().find_map(|l| {
            let (key, value) = l.split_once('=')?;
            (key.trim() == name).then(|| value.trim().to_string())
        })
    };
    assert_eq!(setting("disk_cache").as_deref(), Some("\"unsafe\""));
    assert_eq!(setting("disk_discard").as_deref(), Some("\"unmap\""));
    assert_eq!(setting("disk_compression").as_deref(), Some("true"));

    let finish = std::fs::read_to_string(dir.join("scripts/finish.sh"))?;
    let trim = finish.find("fstrim --all").expect("finish.sh trims");
    let off = finish
        .find("shutdown -P now")
        .expect("finish.sh powers off");
    assert!(trim < off, "{finish}");
    assert!(trim > finish.find("userdel").expect("userdel"), "{finish}");

    let provision = std::fs::read_to_string(dir.join("scripts/provision.sh"))?;
    let set = provision
        .find("printf 'force-unsafe-io\\n' >\"$unsafe_io\"")
        .expect("provision.sh sets force-unsafe-io");
    let install = provision
        .find("sh \"$top/install.sh\"")
        .expect("provision.sh installs");
    let unset = provision
        .find("rm -f \"$no_recommends\" \"$unsafe_io\"")
        .expect("provision.sh removes force-unsafe-io");
    assert!(set < install && install < unset, "{provision}");
    assert!(
        provision.contains("unsafe_io=/etc/dpkg/dpkg.cfg.d/"),
        "{provision}"
    );
    Ok(())
}
