//! Stamps: what a step's outputs were made from, so that a run with the same inputs skips it.
//!
//! Beside the output marker, `<out>/.mesos-roles-output.<step>` records a hash of the step's
//! inputs and every file the step wrote (size, mtime, sha256). The step is skipped when the hash is
//! the same and every file is still there with its sha256. A file with the recorded size and mtime
//! is taken to be unchanged (as make and git take it), so a run with nothing to do does not read
//! gigabytes of images; any other file is hashed again.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::files::MARKER;
use crate::formats::manifest::Artifact;

/// A hash of a step's inputs, fed field by field.
pub struct Inputs(Sha256);

impl Inputs {
    /// Starts with the step's name and the running pipeline itself (the executable's size and
    /// mtime): a change to the code that writes the outputs makes them again.
    pub fn new(step: &str) -> Result<Self> {
        // An executable replaced while it runs (a rebuild) matches no stamp: the code changed.
        let pipeline = std::env::current_exe()
            .map_err(anyhow::Error::from)
            .and_then(|exe| {
                let (bytes, mtime) = size_and_mtime(&exe)?;
                Ok(format!("{} {bytes} {mtime}", exe.display()))
            })
            .unwrap_or_else(|_| format!("replaced while running ({})", std::process::id()));
        Ok(Self(Sha256::new())
            .text("step", step)
            .text("pipeline", pipeline))
    }

    pub fn text(mut self, name: &str, value: impl std::fmt::Display) -> Self {
        // Length-prefixed, so no two sequences of fields hash alike.
        for part in [name.to_string(), value.to_string()] {
            self.0.update((part.len() as u64).to_le_bytes());
            self.0.update(part.as_bytes());
        }
        self
    }

    /// A file's contents (or that it is absent).
    pub fn file(self, path: &Path) -> Result<Self> {
        let value = match std::fs::read(path) {
            Ok(bytes) => hex::encode(Sha256::digest(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => "absent".into(),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Ok(self.text(&path.to_string_lossy(), value))
    }

    /// Every file below `dir` (its path relative to `dir`, and its contents); none if `dir` is
    /// absent. The outputs' own bookkeeping (marker, stamps) is not an input.
    pub fn dir(mut self, dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Ok(self.text(&dir.to_string_lossy(), "absent"));
        }
        for file in crate::files::files_below(dir)? {
            let relative = file.strip_prefix(dir)?.to_string_lossy().into_owned();
            self = self.file(&file)?.text("as", relative);
        }
        Ok(self)
    }

    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

#[derive(Serialize, Deserialize)]
struct Stamp {
    inputs: String,
    /// The step makes the whole directory (repository, seeds): a file it did not write there means
    /// it must run again (and so removes it).
    whole: bool,
    files: Vec<File>,
}

#[derive(Serialize, Deserialize)]
struct File {
    kind: String,
    /// Relative to the output directory.
    path: PathBuf,
    sha256: String,
    bytes: u64,
    mtime: u128,
}

fn stamp_path(out: &Path, step: &str) -> PathBuf {
    out.join(format!("{MARKER}.{step}"))
}

/// The artifacts `step` made in `out` from the same `inputs`, if they are all still there as made.
pub fn fresh(out: &Path, step: &str, inputs: &str) -> Option<Vec<Artifact>> {
    let text = std::fs::read_to_string(stamp_path(out, step)).ok()?;
    let stamp: Stamp = serde_json::from_str(&text).ok()?;
    if stamp.inputs != inputs {
        return None;
    }
    if stamp.whole && !only(out, &stamp.files)? {
        return None;
    }
    let mut artifacts = Vec::new();
    for file in stamp.files {
        let path = out.join(&file.path);
        let (bytes, mtime) = size_and_mtime(&path).ok()?;
        let same = (bytes, mtime) == (file.bytes, file.mtime)
            || crate::files::sha256_file(&path).ok()? == file.sha256;
        if !same {
            return None;
        }
        artifacts.push(Artifact {
            kind: file.kind,
            path,
            sha256: file.sha256,
        });
    }
    Some(artifacts)
}

/// Whether `out` holds nothing but `files` and their directories (and the bookkeeping).
fn only(out: &Path, files: &[File]) -> Option<bool> {
    let mut named = std::collections::HashSet::new();
    for file in files {
        named.extend(file.path.ancestors().map(Path::to_path_buf));
    }
    let mut dirs = vec![out.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).ok()? {
            let path = entry.ok()?.path();
            if crate::files::is_bookkeeping(&path) {
                continue;
            }
            if !named.contains(path.strip_prefix(out).ok()?) {
                return Some(false);
            }
            if path.is_dir() && !path.is_symlink() {
                dirs.push(path);
            }
        }
    }
    Some(true)
}

/// Records that `step` made `artifacts` (all below `out`; all of `out` when `whole`) from
/// `inputs`.
pub fn record(
    out: &Path,
    step: &str,
    inputs: &str,
    whole: bool,
    artifacts: &[Artifact],
) -> Result<()> {
    let mut files = Vec::new();
    for artifact in artifacts {
        let (bytes, mtime) = size_and_mtime(&artifact.path)?;
        files.push(File {
            kind: artifact.kind.clone(),
            path: artifact
                .path
                .strip_prefix(out)
                .with_context(|| {
                    format!("{} is not in {}", artifact.path.display(), out.display())
                })?
                .to_path_buf(),
            sha256: artifact.sha256.clone(),
            bytes,
            mtime,
        });
    }
    let stamp = Stamp {
        inputs: inputs.to_string(),
        whole,
        files,
    };
    crate::files::write_whole(
        &stamp_path(out, step),
        serde_json::to_string_pretty(&stamp)?.as_bytes(),
    )
}

/// Forgets what `step` made in `out` (before it writes there again: a failed run leaves no stamp
/// that vouches for half-written outputs).
pub fn forget(out: &Path, step: &str) -> Result<()> {
    match std::fs::remove_file(stamp_path(out, step)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.into()),
        _ => Ok(()),
    }
}

fn size_and_mtime(path: &Path) -> Result<(u64, u128)> {
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mtime = meta
        .modified()?
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    Ok((meta.len(), mtime))
}
