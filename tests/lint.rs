//! lintian (the host's, which is the target suite's on a bookworm builder) and shellcheck on the
//! packages exactly as built.

use std::process::Command;

use anyhow::Result;
use mesos_roles_tests::{
    build_role_debs, lintian_clean, output, require_tools, scratch, unpack_control,
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
