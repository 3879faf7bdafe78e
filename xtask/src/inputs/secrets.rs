//! The cluster's secrets (docs/security.md): one cluster secret, every credential derived from it
//! by a one-way function that the packages compute too (`mr_derive` in packaging/shared/secrets.sh).
//!
//! A secret lives in memory as a [`Secret`], which no `{:?}` or message shows; on disk only in the
//! inventory's `[cluster] secret_file` (0600 from its creation) and in the seeds (0600). It never
//! goes into a process's arguments, a log line or a world-readable file.

use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The inventory field that names the secret file, as messages name it.
pub const FIELD: &str = "cluster.secret_file";
/// The secret file's name when the inventory names none: beside the inventory.
pub const DEFAULT_FILE: &str = "cluster.secret";
/// Longer than any valid secret file (a 1024-character secret and its newline): read no further.
const MAX_FILE_BYTES: u64 = 4096;

/// `D(secret, purpose)`: the lower-case hex SHA-256 of `mesos-roles:<purpose>:<secret>`.
pub fn derive(secret: &str, purpose: &str) -> String {
    hex::encode(Sha256::digest(format!("mesos-roles:{purpose}:{secret}")))
}

/// The agents' secret, as masters derive it from the cluster secret.
pub fn agent_secret(cluster_secret: &str) -> String {
    derive(cluster_secret, "agent")
}

/// A new cluster secret: 32 random bytes, in hex (64 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// A cluster secret in memory. `{:?}` shows `Secret(***)`; only [`Secret::expose`] gives the text,
/// for the few places that hand it to a node.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// A new random cluster secret ([`generate`]).
    pub fn generate() -> Self {
        Self(generate())
    }

    /// A cluster secret checked by the answer syntax (`answers::cluster_secret`); an empty one is
    /// refused (the inventory's clusters authenticate). One line's newline at the end (a file's)
    /// is not part of it. The error never shows the text.
    pub fn new(text: &str) -> Result<Self, String> {
        let text = text.strip_suffix('\n').unwrap_or(text);
        match crate::inputs::answers::cluster_secret(text)? {
            secret if secret.is_empty() => Err(
                "it is empty: put a cluster secret in it (head -c 32 /dev/urandom | base64), or remove the file and cargo xtask seeds makes one".into(),
            ),
            secret => Ok(Self(secret)),
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The agents' secret, `D(cluster, "agent")`.
    pub fn agent(&self) -> String {
        agent_secret(&self.0)
    }

    /// A value that changes with the secret and reveals nothing of it (stamps hash it).
    pub fn fingerprint(&self) -> String {
        derive(&self.0, "fingerprint")
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The inventory's secret file, as the plan found it.
#[derive(Debug, Clone)]
pub enum SecretFile {
    /// There, private, and a valid cluster secret.
    Existing { path: PathBuf, secret: Secret },
    /// Not there yet: `secret` is made in memory, and written (0600) by the step that needs it.
    Missing { path: PathBuf, secret: Secret },
}

impl SecretFile {
    /// Checks `path` without writing anything: a missing file (whose directory exists) gets a new
    /// secret; an existing one must be a regular file readable by its owner only, holding a valid
    /// cluster secret. Each error is one line naming the field and the fix, never the secret.
    pub fn check(path: &Path) -> Result<Self> {
        let shown = path.display();
        let meta = match std::fs::metadata(path) {
            Ok(meta) => meta,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if std::fs::symlink_metadata(path).is_ok() {
                    bail!(
                        "{FIELD}: {shown} is a symbolic link to nothing: remove it, or make it lead to the file that holds the cluster secret"
                    );
                }
                let parent = path.parent().unwrap_or(Path::new("."));
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                if !parent.is_dir() {
                    bail!(
                        "{FIELD}: {shown} cannot be made: {} is not a directory: create it, or name a file in an existing directory",
                        parent.display()
                    );
                }
                return Ok(Self::Missing {
                    path: path.to_path_buf(),
                    secret: Secret::generate(),
                });
            }
            Err(e) => {
                bail!("{FIELD}: cannot read {shown} ({e}): make it readable by you, mode 0600")
            }
        };
        if meta.is_dir() {
            bail!(
                "{FIELD}: {shown} is a directory: name the file that holds the cluster secret (default {DEFAULT_FILE} beside the inventory)"
            );
        }
        // Opened without blocking (a FIFO would hang the plan) and checked by what was opened, so a
        // symbolic link is judged by the file it leads to.
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(NONBLOCK)
            .open(path)
            .with_context(|| {
                format!("{FIELD}: cannot read {shown}: make it readable by you, mode 0600")
            })?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            bail!(
                "{FIELD}: {shown} is not a regular file: name a file holding the cluster secret, or a path where cargo xtask seeds may make one"
            );
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{FIELD}: {shown} is readable or writable by others (mode {mode:04o}): chmod 600 {shown}, and make a new secret if others may have read it"
            );
        }
        let mut bytes = Vec::new();
        (&mut file)
            .take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("{FIELD}: cannot read {shown}"))?;
        let text = String::from_utf8_lossy(&bytes);
        let secret = Secret::new(&text).map_err(|e| anyhow::anyhow!("{FIELD}: {shown}: {e}"))?;
        Ok(Self::Existing {
            path: path.to_path_buf(),
            secret,
        })
    }

    pub fn path(&self) -> &Path {
        match self {
            Self::Existing { path, .. } | Self::Missing { path, .. } => path,
        }
    }

    pub fn secret(&self) -> &Secret {
        match self {
            Self::Existing { secret, .. } | Self::Missing { secret, .. } => secret,
        }
    }

    /// Writes a missing file: created exclusively (a file that appeared since the plan is never
    /// overwritten) with mode 0600 from its creation, whatever the umask. Returns whether it wrote.
    pub fn create(&self) -> Result<bool> {
        let Self::Missing { path, secret } = self else {
            return Ok(false);
        };
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .with_context(|| {
                format!(
                    "{FIELD}: cannot create {} (did another run make it meanwhile? then run again)",
                    path.display()
                )
            })?;
        // The umask can only take bits away; this makes sure no other bit was added either.
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        file.write_all(format!("{}\n", secret.expose()).as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("{FIELD}: cannot write {}", path.display()))?;
        Ok(true)
    }
}

/// `O_NONBLOCK` on Linux (all architectures the pipeline runs on).
const NONBLOCK: i32 = 0o4000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_the_documented_sha256() {
        // printf 'mesos-roles:agent:%s' secret | sha256sum
        assert_eq!(
            derive("0123456789abcdef0123456789abcdef", "agent"),
            hex::encode(Sha256::digest(
                b"mesos-roles:agent:0123456789abcdef0123456789abcdef"
            ))
        );
        assert_ne!(derive("s", "agent"), derive("s", "marathon"));
        assert_eq!(agent_secret("s"), derive("s", "agent"));
    }

    #[test]
    fn a_generated_secret_is_a_valid_cluster_secret() {
        let secret = generate();
        assert_eq!(secret.len(), 64);
        assert_eq!(
            crate::inputs::answers::cluster_secret(&secret).as_deref(),
            Ok(secret.as_str())
        );
        assert_ne!(secret, generate());
    }

    #[test]
    fn a_secret_is_never_shown_by_debug() {
        let secret = Secret::generate();
        let shown = format!("{secret:?} {:?}", Some(&secret));
        assert!(!shown.contains(secret.expose()), "{shown}");
        assert_eq!(secret.agent(), agent_secret(secret.expose()));
        assert!(!secret.fingerprint().contains(secret.expose()));
    }

    #[test]
    fn a_secret_file_is_made_private_then_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.secret");
        let missing = SecretFile::check(&path).unwrap();
        assert!(matches!(missing, SecretFile::Missing { .. }));
        assert!(!path.exists(), "the check writes nothing");
        assert!(missing.create().unwrap());
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let existing = SecretFile::check(&path).unwrap();
        assert_eq!(existing.secret(), missing.secret());
        assert!(!existing.create().unwrap(), "an existing file is kept");
        // A file that appeared since the plan is never overwritten.
        let error = missing.create().unwrap_err();
        assert!(format!("{error:#}").contains("cannot create"), "{error:#}");
        // A link to nothing is named, not followed to a new file.
        let link = dir.path().join("link.secret");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
        let error = SecretFile::check(&link).unwrap_err().to_string();
        assert!(error.contains("is a symbolic link to nothing"), "{error}");
        let error = SecretFile::check(&dir.path().join("no/such.secret"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a directory: create it"), "{error}");
    }
}
