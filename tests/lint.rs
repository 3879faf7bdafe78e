//! lintian (the host's, bookworm's on a bookworm builder, and trixie's in a trixie root) and
//! shellcheck on the packages exactly as built.

use std::path::Path;
use std::process::Command;

use anyhow::Result;
use mesos_roles_tests::{
    LINTIAN_FLAGS, build_role_debs, lintian_clean, lintian_clean_by, output,
    require_root_and_tools, require_tools, roots, scratch, unpack_control,
};

#[test]
fn lintian_reports_no_error_and_no_warning() -> Result<()> {
    require_tools(&["lintian"])?;
    let dir = scratch("lintian")?;
    for deb in build_role_debs(dir.path(), "1.0.0-1")? {
        lintian_clean(&deb)?;
    }
    Ok(())
}

/// trixie's lintian (newer tags and checks than the host's), run in a cached minbase trixie root
/// with lintian installed.
#[test]
fn trixie_lintian_reports_no_error_and_no_warning() -> Result<()> {
    require_root_and_tools(&["mmdebstrap", "chroot", "tar"])?;
    let root = scratch("lintian-trixie")?;
    roots::unpack_tarball(&roots::lintian()?, root.path())?;
    for deb in build_role_debs(&root.path().join("tmp/debs"), "1.0.0-1")? {
        let inside = Path::new("/tmp/debs").join(deb.file_name().unwrap_or_default());
        let mut lintian = Command::new("chroot");
        lintian
            .arg(root.path())
            .arg("lintian")
            .args(LINTIAN_FLAGS)
            .arg(&inside)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("LANG", "C.UTF-8");
        lintian_clean_by(&deb, &mut lintian)?;
    }
    Ok(())
}

#[test]
fn shellcheck_finds_nothing_in_the_maintainer_scripts() -> Result<()> {
    require_tools(&["shellcheck", "dpkg-deb"])?;
    let dir = scratch("shellcheck")?;
    let mut checked = 0;
    for deb in build_role_debs(dir.path(), "1.0.0-1")? {
        let control = unpack_control(&deb)?;
        for script in ["config", "preinst", "postinst", "prerm", "postrm"] {
            let path = control.path().join(script);
            if !path.exists() {
                continue;
            }
            let out = output(
                "run shellcheck",
                Command::new("shellcheck")
                    .args(["--shell=sh", "--severity=style"])
                    .arg(&path),
            )?;
            assert!(
                out.status.success(),
                "shellcheck on {}/{script}:\n{}",
                deb.display(),
                String::from_utf8_lossy(&out.stdout)
            );
            checked += 1;
        }
    }
    assert!(checked >= 6, "only {checked} scripts checked");
    Ok(())
}
