//! `xtask/prerequisites.toml`: the one list of what building and testing need on a Debian machine.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prerequisites {
    pub apt: Vec<AptGroup>,
    pub same_release: SameRelease,
    pub cargo: Vec<CargoTool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AptGroup {
    pub packages: Vec<String>,
    #[serde(rename = "for")]
    pub reason: String,
}

/// Packages that must come from the host's own release (see the file).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SameRelease {
    pub packages: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CargoTool {
    pub name: String,
    pub version: String,
    #[serde(rename = "for")]
    pub reason: String,
}

impl Prerequisites {
    pub fn path() -> PathBuf {
        crate::inputs::workspace::root().join("xtask/prerequisites.toml")
    }

    pub fn load() -> Result<Self> {
        let path = Self::path();
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// Every apt package, in file order.
    pub fn apt_packages(&self) -> Vec<&str> {
        self.apt
            .iter()
            .flat_map(|g| g.packages.iter().map(String::as_str))
            .collect()
    }

    /// The version requirement of a cargo tool.
    pub fn cargo_version(&self, name: &str) -> Result<&str> {
        self.cargo
            .iter()
            .find(|t| t.name == name)
            .map(|t| t.version.as_str())
            .with_context(|| format!("{name} is not in {}", Self::path().display()))
    }
}
