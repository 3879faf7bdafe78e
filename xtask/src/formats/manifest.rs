//! `target/dist/manifest.json`: every artifact the pipeline produced, with its sha256. Later steps,
//! tests and users find artifacts through it.

use std::path::{Path, PathBuf};

use anyhow::Result;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Artifact {
    pub kind: String,
    /// Relative to the manifest's directory once written; absolute while steps run.
    pub path: PathBuf,
    pub sha256: String,
}

impl Artifact {
    pub fn new(kind: &str, path: PathBuf, contents: &[u8]) -> Self {
        Self {
            kind: kind.into(),
            path,
            sha256: hex::encode(Sha256::digest(contents)),
        }
    }
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Manifest {
    pub version: String,
    pub source_date_epoch: u64,
    pub artifacts: Vec<Artifact>,
}

impl Manifest {
    /// Writes the manifest into `dir`, with artifact paths made relative to it.
    pub fn write(mut self, dir: &Path) -> Result<PathBuf> {
        for artifact in &mut self.artifacts {
            if let Ok(relative) = artifact.path.strip_prefix(dir) {
                artifact.path = relative.to_path_buf();
            }
        }
        self.artifacts.sort_by(|a, b| a.path.cmp(&b.path));
        let path = dir.join("manifest.json");
        let mut json = serde_json::to_string_pretty(&self)?;
        json.push('\n');
        // The same list is not written again (a run with nothing to do rewrites no file).
        if std::fs::read(&path).ok().as_deref() != Some(json.as_bytes()) {
            crate::files::write_whole(&path, json.as_bytes())?;
        }
        Ok(path)
    }

    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read {}: {e}; run `cargo xtask dist` first",
                path.display()
            )
        })?;
        Ok(serde_json::from_str(&text)?)
    }
}
