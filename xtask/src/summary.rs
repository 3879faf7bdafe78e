//! What a run made, said once at its end on stdout (progress stays on stderr): each artifact with
//! its path and size, the warnings that matter, and the next command for each use. `--json` gives
//! the same as data.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::formats::manifest::Artifact;

#[derive(Debug, Serialize)]
pub struct Summary {
    pub command: String,
    pub items: Vec<Item>,
    pub manifest: Option<PathBuf>,
    pub warnings: Vec<String>,
    /// What the operator must know of what was made (a secret made, seeds that carry secrets).
    pub notes: Vec<String>,
    pub next: Vec<String>,
    pub seconds: f64,
    /// Every file made, as the manifest lists them (for the tests and callers that go on).
    #[serde(skip)]
    pub artifacts: Vec<Artifact>,
}

/// One thing made: a file (a .deb, the bundle, an image) or a directory (the repository, the
/// seeds, the Packer templates) with its size and number of files.
#[derive(Debug, Serialize)]
pub struct Item {
    pub kind: String,
    pub path: PathBuf,
    pub bytes: u64,
    pub files: usize,
    /// Its step was skipped: same inputs, and the files as the last run left them.
    pub unchanged: bool,
}

impl Summary {
    pub fn new(command: &str, warnings: Vec<String>) -> Self {
        Self {
            command: command.to_string(),
            items: Vec::new(),
            manifest: None,
            warnings,
            notes: Vec::new(),
            next: Vec::new(),
            seconds: 0.0,
            artifacts: Vec::new(),
        }
    }

    /// Adds the artifacts of the steps, the files of one directory artifact as one item;
    /// `unchanged` are the paths of those whose step was skipped.
    pub fn add_artifacts(&mut self, artifacts: &[Artifact], unchanged: &[PathBuf]) -> Result<()> {
        self.artifacts.extend_from_slice(artifacts);
        let mut dirs: BTreeMap<(String, PathBuf), (u64, usize, bool)> = BTreeMap::new();
        for artifact in artifacts {
            let bytes = std::fs::metadata(&artifact.path)
                .with_context(|| format!("{} was not written", artifact.path.display()))?
                .len();
            let same = unchanged.contains(&artifact.path);
            match group(artifact) {
                Some((kind, dir)) => {
                    let entry = dirs.entry((kind.to_string(), dir)).or_insert((0, 0, true));
                    entry.0 += bytes;
                    entry.1 += 1;
                    entry.2 &= same;
                }
                None => self.items.push(Item {
                    kind: artifact.kind.clone(),
                    path: artifact.path.clone(),
                    bytes,
                    files: 1,
                    unchanged: same,
                }),
            }
        }
        for ((kind, path), (bytes, files, unchanged)) in dirs {
            self.items.push(Item {
                kind,
                path,
                bytes,
                files,
                unchanged,
            });
        }
        self.items
            .sort_by(|a, b| (&a.kind, &a.path).cmp(&(&b.kind, &b.path)));
        Ok(())
    }

    /// The summary as an operator reads it.
    pub fn text(&self) -> String {
        let unchanged = match self.items.iter().filter(|i| i.unchanged).count() {
            0 => String::new(),
            n => format!(" ({n} unchanged)"),
        };
        let mut out = format!(
            "cargo xtask {}: made {}{unchanged} in {:.1} s\n",
            self.command,
            match self.items.len() {
                1 => "1 thing".to_string(),
                n => format!("{n} things"),
            },
            self.seconds
        );
        let cwd = std::env::current_dir().unwrap_or_default();
        for item in &self.items {
            let path = item.path.strip_prefix(&cwd).unwrap_or(&item.path);
            let files = match item.files {
                1 => String::new(),
                n => format!(", {n} files"),
            };
            let unchanged = if item.unchanged { ", unchanged" } else { "" };
            out.push_str(&format!(
                "  {:<7} {}  ({}{files}{unchanged})\n",
                item.kind,
                path.display(),
                size(item.bytes)
            ));
        }
        if let Some(manifest) = &self.manifest {
            let path = manifest.strip_prefix(&cwd).unwrap_or(manifest);
            out.push_str(&format!(
                "  {:<7} {}  (every file with its sha256)\n",
                "list",
                path.display()
            ));
        }
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        for warning in &self.warnings {
            out.push_str(&format!("warning: {warning}\n"));
        }
        for next in &self.next {
            out.push_str(&format!("next: {next}\n"));
        }
        out
    }

    pub fn json(&self) -> Result<String> {
        Ok(serde_json::to_string_pretty(self)? + "\n")
    }
}

/// The directory artifact a file belongs to, by its kind: the repository (the directory of its
/// keyring), the seeds, the Packer templates.
fn group(artifact: &Artifact) -> Option<(&'static str, PathBuf)> {
    let parent = |levels: usize| {
        let mut path: &Path = &artifact.path;
        for _ in 0..levels {
            path = path.parent()?;
        }
        Some(path.to_path_buf())
    };
    match artifact.kind.as_str() {
        "keyring" | "apt-source" => Some(("repo", parent(1)?)),
        "repo-deb" | "repo-index" | "repo-signature" => Some(("repo", repo_root(&artifact.path)?)),
        "seed-image" => Some(("seeds", parent(1)?)),
        "seed" => Some(("seeds", parent(2)?)),
        "packer" => packer_root(&artifact.path).map(|p| ("packer", p)),
        _ => None,
    }
}

/// The repository's root: the directory holding `dists/` or `pool/`.
fn repo_root(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .find(|a| a.file_name().is_some_and(|n| n == "dists" || n == "pool"))
        .and_then(Path::parent)
        .map(Path::to_path_buf)
}

/// The templates' root: the directory holding the variables file.
fn packer_root(path: &Path) -> Option<PathBuf> {
    path.ancestors()
        .skip(1)
        .find(|a| a.join(crate::steps::packer::VARIABLES).is_file())
        .map(Path::to_path_buf)
}

/// Bytes as an operator reads them.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / 1e9),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1 << 10 => format!("{:.1} kB", b as f64 / 1e3),
        b => format!("{b} bytes"),
    }
}
