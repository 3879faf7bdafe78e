//! The role packages as data: reads `packaging/` (see its README.md) into what the .deb writer needs.
//! Nothing about a particular role is written here.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::formats::deb::ControlFile;

/// The roles `cargo xtask debs` builds, in build order.
pub const ROLES: [&str; 2] = ["mesos-master-role", "mesos-agent-role"];

/// Maintainer scripts a package may have, in the order dpkg documents them.
const SCRIPTS: [&str; 5] = ["config", "preinst", "postinst", "prerm", "postrm"];

/// `packaging/project.toml`: what every package shares.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    pub maintainer: String,
    pub homepage: Option<String>,
}

/// `packaging/<package>/package.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definition {
    pub section: String,
    pub priority: String,
    #[serde(default)]
    pub depends: Vec<String>,
    #[serde(default)]
    pub recommends: Vec<String>,
    #[serde(default)]
    pub conflicts: Vec<String>,
    pub summary: String,
    pub description: String,
}

/// One package, read and checked: its control fields and its control-area files.
pub struct Package {
    pub name: String,
    pub definition: Definition,
    /// templates and maintainer scripts, with `#INCLUDE` lines expanded.
    pub control_files: Vec<ControlFile>,
}

pub fn dir() -> PathBuf {
    crate::inputs::workspace::root().join("packaging")
}

pub fn read_project(packaging: &Path) -> Result<Project> {
    read_toml(&packaging.join("project.toml"))
}

pub fn read_package(packaging: &Path, name: &str) -> Result<Package> {
    let pkg_dir = packaging.join(name);
    let definition: Definition = read_toml(&pkg_dir.join("package.toml"))?;
    let mut control_files = Vec::new();
    // Data files of the control area: debconf templates, dpkg triggers.
    for data in ["templates", "triggers"] {
        let path = pkg_dir.join(data);
        if path.exists() {
            control_files.push(ControlFile {
                name: data.into(),
                mode: 0o644,
                contents: read(&path)?.into_bytes(),
            });
        }
    }
    for script in SCRIPTS {
        let path = pkg_dir.join(script);
        if path.exists() {
            control_files.push(ControlFile {
                name: script.into(),
                mode: 0o755,
                contents: expand_includes(packaging, &path)?.into_bytes(),
            });
        }
    }
    Ok(Package {
        name: name.into(),
        definition,
        control_files,
    })
}

/// Replaces each line `#INCLUDE <path>` (path relative to `packaging/`) with that file's text. The
/// config script runs before the package is unpacked, so shared shell code must be inlined, not sourced.
pub fn expand_includes(packaging: &Path, script: &Path) -> Result<String> {
    let text = read(script)?;
    let mut out = String::with_capacity(text.len());
    for (number, line) in text.lines().enumerate() {
        match line.strip_prefix("#INCLUDE ") {
            Some(fragment) => {
                let fragment_path = packaging.join(fragment.trim());
                let body = read(&fragment_path).with_context(|| {
                    format!("{}:{}: included here", script.display(), number + 1)
                })?;
                if body.lines().any(|l| l.starts_with("#INCLUDE ")) {
                    bail!(
                        "{}: fragments cannot include others: inline it in the script instead",
                        fragment_path.display()
                    );
                }
                out.push_str(&body);
                if !body.ends_with('\n') {
                    out.push('\n');
                }
            }
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    Ok(out)
}

/// The `control` file of `package` at `version`.
pub fn control(
    project: &Project,
    package: &Package,
    version: &str,
    installed_size_kib: u64,
) -> String {
    let d = &package.definition;
    let mut fields = vec![
        ("Package", package.name.clone()),
        ("Version", version.to_string()),
        ("Architecture", "all".to_string()),
        ("Maintainer", project.maintainer.clone()),
        ("Installed-Size", installed_size_kib.to_string()),
    ];
    for (name, list) in [
        ("Depends", &d.depends),
        ("Recommends", &d.recommends),
        ("Conflicts", &d.conflicts),
    ] {
        if !list.is_empty() {
            fields.push((name, list.join(", ")));
        }
    }
    fields.push(("Section", d.section.clone()));
    fields.push(("Priority", d.priority.clone()));
    if let Some(homepage) = &project.homepage {
        fields.push(("Homepage", homepage.clone()));
    }
    fields.push(("Description", description(&d.summary, &d.description)));
    fields
        .into_iter()
        .map(|(name, value)| format!("{name}: {value}\n"))
        .collect()
}

/// Debian's Description format: the summary, then each line indented by one space and blank lines as ` .`.
fn description(summary: &str, long: &str) -> String {
    let mut out = summary.trim().to_string();
    for line in long.trim().lines() {
        out.push('\n');
        if line.trim().is_empty() {
            out.push_str(" .");
        } else {
            out.push(' ');
            out.push_str(line.trim_end());
        }
    }
    out
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_toml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    toml::from_str(&read(path)?)
        .with_context(|| format!("{} is not valid: fix the field named above", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn description_is_folded_with_paragraph_dots() {
        assert_eq!(
            description("Short", "First line\nsecond\n\nNext paragraph\n"),
            "Short\n First line\n second\n .\n Next paragraph"
        );
    }

    #[test]
    fn includes_are_expanded_and_nesting_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path();
        fs::create_dir(p.join("shared")).unwrap();
        fs::write(p.join("shared/a.sh"), "a() { :; }").unwrap();
        fs::write(p.join("script"), "#!/bin/sh\n#INCLUDE shared/a.sh\na\n").unwrap();
        assert_eq!(
            expand_includes(p, &p.join("script")).unwrap(),
            "#!/bin/sh\na() { :; }\na\n"
        );
        fs::write(p.join("shared/b.sh"), "#INCLUDE shared/a.sh\n").unwrap();
        fs::write(p.join("nested"), "#INCLUDE shared/b.sh\n").unwrap();
        let err = expand_includes(p, &p.join("nested"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot include others"), "{err}");
        fs::write(p.join("missing"), "#INCLUDE shared/none.sh\n").unwrap();
        let err = format!("{:#}", expand_includes(p, &p.join("missing")).unwrap_err());
        assert!(err.contains("missing:1: included here"), "{err}");
    }
}
