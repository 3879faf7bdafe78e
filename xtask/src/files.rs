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

/// Like [`write_whole`] for contents too large to hold in memory: `write` streams them into the
/// temporary file, which is renamed into place only if it succeeds.
pub fn write_whole_with(
    path: &Path,
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
        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    tmp.persist(path)
        .with_context(|| format!("cannot move the new {} into place", path.display()))?;
    Ok(())
}

/// Makes the directory `out` whole or not at all: `fill` writes into a temporary directory beside
/// it, which then takes `out`'s place (the old one is removed). If `fill` fails, `out` is as it was.
pub fn replace_dir(out: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
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

/// Every regular file below `dir`, sorted.
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
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}
