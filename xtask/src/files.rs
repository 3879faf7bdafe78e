//! Files written whole or not at all, and the output directories of the steps.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

/// Writes `path` whole or not at all: a temporary file beside it, renamed into place.
pub fn write_whole(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    write_whole_with(path, |file| {
        file.write_all(contents)
            .with_context(|| format!("cannot write {}", path.display()))
    })
}

/// Like [`write_whole`] for a disk image that is mostly zeros: only the blocks that hold data are
/// written, so the file is sparse (a 1 MiB seed image takes a few KiB). The file gets `mode`
/// (0600 for an image that holds a secret: it has no other mode at any time).
pub fn write_whole_sparse(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    use std::io::{Seek, SeekFrom, Write};
    const BLOCK: usize = 4096;
    write_whole_mode(path, mode, |file| {
        file.set_len(contents.len() as u64)?;
        for (i, block) in contents.chunks(BLOCK).enumerate() {
            if block.iter().any(|&b| b != 0) {
                file.seek(SeekFrom::Start((i * BLOCK) as u64))?;
                file.write_all(block)?;
            }
        }
        Ok(())
    })
    .with_context(|| format!("cannot write {}", path.display()))
}

/// Like [`write_whole`] for a secret: the file is 0600 from its first byte (a temporary file is
/// created so) and stays so.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    write_whole_mode(path, 0o600, |file| {
        file.write_all(contents)
            .with_context(|| format!("cannot write {}", path.display()))
    })
}

/// Like [`write_whole`] for contents too large to hold in memory: `write` streams them into the
/// temporary file, which is renamed into place only if it succeeds.
pub fn write_whole_with(
    path: &Path,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    write_whole_mode(path, 0o644, write)
}

/// A directory readable by its owner only (0700 whatever the umask), made if missing.
pub fn create_private_dir(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} private", path.display()))
}

/// A temporary file beside `path` (tempfile makes it 0600), filled by `write`, given `mode`, then
/// renamed into place.
fn write_whole_mode(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut std::fs::File) -> Result<()>,
) -> Result<()> {
    let parent = path
        .parent()
        .with_context(|| format!("{} has no parent directory", path.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(parent)
        .with_context(|| format!("cannot create a temporary file in {}", parent.display()))?;
    write(tmp.as_file_mut())?;
    tmp.as_file()
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the new {} into place", path.display()))?;
    Ok(())
}

/// The file that marks a directory as written by `cargo xtask`: only such a directory (or an empty
/// or new one) is written into, so a mistyped `--out` never eats an operator's files.
pub const MARKER: &str = ".mesos-roles-output";
const MARKER_TEXT: &str =
    "Written by cargo xtask (mesos-roles). The next run replaces what it wrote here.\n";

/// An output directory a step may write: new, empty, or marked by an earlier run.
#[derive(Debug, Clone)]
pub struct OutDir {
    path: PathBuf,
}

impl OutDir {
    /// Checks `path` (`what` names it in the error: `--out`, or the dist directory). Nothing is
    /// written.
    pub fn check(path: PathBuf, what: &str) -> Result<Self> {
        // Absolute, without `.` components: `--out .` is the current directory by its name.
        let path = std::path::absolute(&path)
            .with_context(|| format!("{what} {}: cannot make it absolute", path.display()))?;
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => bail!("{what} {}: {e}", path.display()),
            Ok(meta) if !meta.is_dir() => bail!(
                "{what} {} is not a directory: give a directory (a new one is made)",
                path.display()
            ),
            Ok(_) if path.join(MARKER).is_file() => {}
            Ok(_) => {
                let mut entries = std::fs::read_dir(&path)
                    .with_context(|| format!("{what} {}: cannot read it", path.display()))?;
                if let Some(entry) = entries.next() {
                    let name = entry?.file_name();
                    bail!(
                        "{what} {} holds files cargo xtask did not write ({}): give a new or empty directory, or move them away",
                        path.display(),
                        name.to_string_lossy().escape_debug()
                    );
                }
            }
        }
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates the directory if needed and marks it as written by `cargo xtask`.
    pub fn claim(&self) -> Result<()> {
        std::fs::create_dir_all(&self.path)
            .with_context(|| format!("cannot create {}", self.path.display()))?;
        mark(&self.path)
    }
}

fn mark(dir: &Path) -> Result<()> {
    let marker = dir.join(MARKER);
    if !marker.is_file() {
        write_whole(&marker, MARKER_TEXT.as_bytes())?;
    }
    Ok(())
}

/// Makes the directory `out` whole or not at all: `fill` writes into a temporary directory beside
/// it, which then takes `out`'s place (the old one is removed). If `fill` fails, `out` is as it was
/// and the temporary directory is gone. `out` must pass [`OutDir::check`].
pub fn replace_dir(out: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let out = OutDir::check(out.to_path_buf(), "--out")?;
    let out = out.path();
    let parent = out
        .parent()
        .with_context(|| format!("--out {} has no parent directory", out.display()))?;
    std::fs::create_dir_all(parent)
        .with_context(|| format!("cannot create {}", parent.display()))?;
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let new = tempfile::Builder::new()
        .prefix(&format!(".{name}.new-"))
        .tempdir_in(parent)
        .with_context(|| {
            format!(
                "cannot create a temporary directory in {}",
                parent.display()
            )
        })?;
    fill(new.path())?;
    mark(new.path())?;
    let new = new.keep();
    let replaced = if out.exists() {
        let old = tempfile::Builder::new()
            .prefix(&format!(".{name}.old-"))
            .tempdir_in(parent)?;
        std::fs::rename(out, old.path().join(&*name))
            .with_context(|| format!("cannot move the old {} aside", out.display()))?;
        Some(old)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(&new, out) {
        if let Some(old) = &replaced {
            let _ = std::fs::rename(old.path().join(&*name), out);
        }
        let _ = std::fs::remove_dir_all(&new);
        bail!("cannot move the new {} into place: {e}", out.display());
    }
    Ok(())
}

/// Every regular file below `dir`, sorted; the output marker and stamps are not among them.
pub fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(current) = dirs.pop() {
        let entries = std::fs::read_dir(&current)
            .with_context(|| format!("cannot read {}", current.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if !is_bookkeeping(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Whether `path` is the output marker or a stamp beside it (`stamps.rs`): the pipeline's
/// bookkeeping, never an artifact or an input.
pub fn is_bookkeeping(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(MARKER))
}

/// A file's sha256, streamed (images are too large to hold in memory).
pub fn sha256_file(path: &Path) -> Result<String> {
    use sha2::Digest;
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}
