//! `cargo xtask setup`: installs the prerequisites of `xtask/prerequisites.toml` on this Debian
//! machine (apt packages, cargo tools), saying what it installs. What a machine happens to have
//! does not matter: packages of one family are taken from the host's own release.

use anyhow::{Result, bail};

use crate::inputs::prerequisites::Prerequisites;
use crate::progress::Step;
use crate::tool::Tools;

pub fn run(dry_run: bool) -> Result<()> {
    let prerequisites = Prerequisites::load()?;
    let tools = Tools::new()?;
    let release = crate::inputs::workspace::host_codename()?;
    let mut args: Vec<String> = prerequisites
        .apt_packages()
        .into_iter()
        .map(|name| {
            match prerequisites
                .same_release
                .packages
                .iter()
                .any(|p| p == name)
            {
                true => format!("{name}/{release}"),
                false => name.to_string(),
            }
        })
        .collect();
    args.sort();
    args.dedup();
    let step = Step::start(format!(
        "setup: {} apt packages, {} cargo tools",
        args.len(),
        prerequisites.cargo.len()
    ));
    step.note(format!("apt: {}", args.join(" ")));
    if dry_run {
        step.done();
        return Ok(());
    }
    if !is_root()? {
        bail!(
            "cargo xtask setup installs Debian packages and needs root: run it as root, or install the packages of {} yourself",
            Prerequisites::path().display()
        );
    }
    let lock = ["-o", "DPkg::Lock::Timeout=600"];
    let update = step.child("apt-get update");
    tools.run(
        "update apt's package lists",
        "apt-get",
        &[&["update", "-q"][..], &lock].concat(),
    )?;
    update.done();
    let install = step.child("apt-get install");
    let mut install_args: Vec<&str> = vec![
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        // A package of the same-release family that the image carries from backports is replaced.
        "--allow-downgrades",
    ];
    install_args.extend(lock);
    install_args.extend(args.iter().map(String::as_str));
    let env = [("DEBIAN_FRONTEND", "noninteractive")];
    let purpose = "install the prerequisites with apt-get";
    // A large install can fail once when downloaded .debs vanish between dpkg runs: once more.
    if tools
        .run_env(purpose, "apt-get", &install_args, &env)
        .is_err()
    {
        install.note("apt-get failed; trying once more");
        tools.run_env(purpose, "apt-get", &install_args, &env)?;
    }
    install.done();
    if !crate::steps::tools_deb::cargo_deb_installed(&tools) {
        crate::steps::tools_deb::install_cargo_deb(&tools)?;
    }
    step.done();
    println!(
        "setup: every prerequisite of {} is installed",
        Prerequisites::path().display()
    );
    Ok(())
}

/// Whether this process runs as root (`id -u`).
pub fn is_root() -> Result<bool> {
    Ok(Tools::new()?
        .read("ask for the user id", "id", &["-u"])?
        .trim()
        == "0")
}
