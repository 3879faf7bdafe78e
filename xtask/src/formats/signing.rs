//! OpenPGP signing of the repository, in-process (rpgp): the key (given, or the project's development
//! key), the clear-signed `InRelease`, the detached `Release.gpg` and the public keyring apt's
//! `Signed-By` names.
//!
//! Signatures are v4 with SHA512 and only the subpackets apt's verifiers need (creation time, issuer
//! fingerprint and key id), created at SOURCE_DATE_EPOCH: Ed25519 and RSA PKCS#1 v1.5 signatures are
//! deterministic, so the same key, text and epoch give the same bytes. No salt or notation is added
//! (rpgp salts only v6 signatures).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use pgp::composed::{
    ArmorOptions, CleartextSignedMessage, Deserializable, DetachedSignature, KeyType,
    SecretKeyParamsBuilder, SignedPublicKey, SignedSecretKey,
};
use pgp::crypto::hash::HashAlgorithm;
use pgp::packet::{SignatureConfig, SignatureType, Subpacket, SubpacketData};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, Password, SigningKey, Timestamp};

/// The variable naming the signing key file when `--signing-key` is not given.
pub const KEY_VARIABLE: &str = "MESOS_ROLES_SIGNING_KEY";

/// The user id of a generated development key.
const DEVELOPMENT_USER_ID: &str =
    "mesos-roles development key (NOT for production) <dev@mesos-roles.invalid>";

/// Where the signing key comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum KeySource {
    /// An armored (or binary) OpenPGP secret key without a passphrase, given by the operator.
    File(PathBuf),
    /// The project's development key at this path: generated on first use, then reused.
    Development(PathBuf),
}

impl KeySource {
    /// `--signing-key FILE`, else `$MESOS_ROLES_SIGNING_KEY`, else the development key at
    /// `development`.
    pub fn resolve(flag: Option<PathBuf>, development: PathBuf) -> Self {
        match flag.or_else(|| std::env::var_os(KEY_VARIABLE).map(PathBuf::from)) {
            Some(path) => Self::File(path),
            None => Self::Development(development),
        }
    }
}

pub struct Signer {
    key: SignedSecretKey,
    /// Signatures are made no earlier than this: verifiers refuse a signature older than the key's
    /// newest self-signature (sqv) or the key itself (gpgv).
    not_before: u32,
    pub development: bool,
    pub path: PathBuf,
}

impl Signer {
    /// Checks the key can be loaded (a development key is generated if missing: milliseconds).
    pub fn check(source: &KeySource) -> Result<()> {
        Self::load(source).map(drop)
    }

    /// Loads the key, generating the development key first if it does not exist yet.
    pub fn load(source: &KeySource) -> Result<Self> {
        let (path, development) = match source {
            KeySource::File(path) => (path, false),
            KeySource::Development(path) => {
                if !path.exists() {
                    generate_development_key(path)?;
                }
                (path, true)
            }
        };
        if path.exists() {
            check_private(path)?;
        }
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow!(
                "cannot read the signing key {}: {e}; give an existing secret key file with --signing-key or {KEY_VARIABLE}, or unset both to use the development key",
                path.display()
            )
        })?;
        let key = parse_secret_key(&bytes).with_context(|| {
            format!(
                "{} is not an OpenPGP secret key: export one with `gpg --export-secret-keys --armor KEYID > FILE`",
                path.display()
            )
        })?;
        key.verify_bindings().with_context(|| {
            format!(
                "the signing key {} has invalid self-signatures: export it again",
                path.display()
            )
        })?;
        let self_signatures = key
            .details
            .users
            .iter()
            .flat_map(|u| &u.signatures)
            .chain(&key.details.direct_signatures)
            .chain(key.secret_subkeys.iter().flat_map(|s| &s.signatures));
        let not_before = self_signatures
            .filter_map(|s| s.created())
            .map(Timestamp::as_secs)
            .chain([key.primary_key.created_at().as_secs()])
            .max()
            .unwrap_or(0);
        let signer = Self {
            key,
            not_before,
            development,
            path: path.clone(),
        };
        signer.signing_key()?;
        Ok(signer)
    }

    /// The key's fingerprint in upper-case hex, as gpg prints it.
    pub fn fingerprint(&self) -> String {
        hex::encode_upper(self.key.fingerprint().as_bytes())
    }

    /// The public key as a binary keyring (what `Signed-By: /usr/share/keyrings/*.gpg` wants).
    pub fn public_keyring(&self) -> Result<Vec<u8>> {
        let public = SignedPublicKey::from(self.key.clone());
        let mut bytes = Vec::new();
        public
            .to_writer(&mut bytes)
            .context("cannot serialise the public key")?;
        Ok(bytes)
    }

    /// A clear-signed copy of `text` (InRelease). Trailing spaces and tabs are stripped from every line
    /// first: verifiers ignore them, rpgp's signer does not, so they would give a BAD signature. The
    /// last line break is left out of the signed text, as gpg does (it is the armor's separator).
    pub fn clearsign(&self, text: &str, epoch: u64) -> Result<String> {
        let text = text
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n");
        let key = self.signing_key()?;
        let config = self.config(SignatureType::Text, epoch, *key)?;
        let message = CleartextSignedMessage::new(&text, config, &key, &Password::empty())
            .map_err(|e| self.sign_error(e))?;
        message
            .to_armored_string(ArmorOptions::default())
            .context("cannot armor the clear-signed message")
    }

    /// An armored detached signature of `bytes` (Release.gpg).
    pub fn detach_sign(&self, bytes: &[u8], epoch: u64) -> Result<String> {
        let key = self.signing_key()?;
        let config = self.config(SignatureType::Binary, epoch, *key)?;
        let signature = config
            .sign(&key, &Password::empty(), bytes)
            .map_err(|e| self.sign_error(e))?;
        DetachedSignature::new(signature)
            .to_armored_string(ArmorOptions::default())
            .context("cannot armor the detached signature")
    }

    /// The key that signs: the first subkey bound for signing, else the primary key. Boxed because
    /// rpgp implements `SigningKey` for `Box<&dyn SigningKey>`, not for the bare reference.
    #[allow(clippy::redundant_allocation)]
    fn signing_key(&self) -> Result<Box<&dyn SigningKey>> {
        let flags_sign =
            |sigs: &[pgp::packet::Signature]| sigs.iter().any(|s| s.key_flags().sign());
        if let Some(sub) = self
            .key
            .secret_subkeys
            .iter()
            .find(|s| flags_sign(&s.signatures))
        {
            return Ok(Box::new(&sub.key));
        }
        let primary_signs = self
            .key
            .details
            .users
            .iter()
            .any(|u| flags_sign(&u.signatures))
            || flags_sign(&self.key.details.direct_signatures);
        if !primary_signs {
            bail!(
                "the key in {} cannot sign (no signing subkey, and the primary key lacks the sign flag): give a key made for signing",
                self.path.display()
            );
        }
        Ok(Box::new(&self.key.primary_key))
    }

    fn config(
        &self,
        typ: SignatureType,
        epoch: u64,
        key: &dyn SigningKey,
    ) -> Result<SignatureConfig> {
        let epoch = u32::try_from(epoch)
            .context("SOURCE_DATE_EPOCH is past 2106, which OpenPGP cannot date")?;
        let created = Timestamp::from_secs(epoch.max(self.not_before));
        let mut config = SignatureConfig::v4(typ, key.algorithm(), HashAlgorithm::Sha512);
        config.hashed_subpackets = vec![
            Subpacket::regular(SubpacketData::SignatureCreationTime(created))?,
            Subpacket::regular(SubpacketData::IssuerFingerprint(key.fingerprint()))?,
        ];
        config.unhashed_subpackets = vec![Subpacket::regular(SubpacketData::IssuerKeyId(
            key.legacy_key_id(),
        ))?];
        Ok(config)
    }

    fn sign_error(&self, e: pgp::errors::Error) -> anyhow::Error {
        anyhow!(
            "cannot sign with the key in {}: {e}; a passphrase-protected key must be exported without its passphrase for the build",
            self.path.display()
        )
    }
}

fn parse_secret_key(bytes: &[u8]) -> Result<SignedSecretKey> {
    let key = if bytes.starts_with(b"-----BEGIN") {
        SignedSecretKey::from_armor_single(bytes)?.0
    } else {
        SignedSecretKey::from_bytes(bytes)?
    };
    Ok(key)
}

/// Generates the development key at `path` (armored, no passphrase): an Ed25519 ("legacy", v4) key
/// that certifies and signs, which gpgv 2.2 and sqv both accept. It signs only development builds.
pub fn generate_development_key(path: &Path) -> Result<()> {
    let mut params = SecretKeyParamsBuilder::default();
    params
        .key_type(KeyType::Ed25519Legacy)
        .can_certify(true)
        .can_sign(true)
        .primary_user_id(DEVELOPMENT_USER_ID.into())
        .preferred_hash_algorithms([HashAlgorithm::Sha512, HashAlgorithm::Sha256][..].into());
    let key = params
        .build()
        .context("cannot set up the development key")?
        .generate(rand::thread_rng())
        .context("cannot generate the development key")?;
    let armored = key
        .to_armored_string(ArmorOptions::default())
        .context("cannot armor the development key")?;
    crate::files::write_private(path, armored.as_bytes())
}

/// A secret key readable by anyone but its owner is refused, as ssh refuses such keys.
fn check_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        bail!(
            "the signing key {} is readable by others (mode {:04o}): chmod 600 it (a development key: or delete it, and a new one is made)",
            path.display(),
            mode & 0o7777
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_deterministic_and_dated_no_earlier_than_the_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.asc");
        let signer = Signer::load(&KeySource::Development(path.clone())).unwrap();
        assert!(signer.development);
        let again = Signer::load(&KeySource::Development(path)).unwrap();
        assert_eq!(signer.fingerprint(), again.fingerprint());
        let text = "Origin: x  \nLabel:\ty\t\n";
        let a = signer.clearsign(text, 1_700_000_000).unwrap();
        assert_eq!(a, again.clearsign(text, 1_700_000_000).unwrap());
        assert!(
            a.contains("\nOrigin: x\nLabel:\ty\n-----BEGIN PGP SIGNATURE-----"),
            "{a}"
        );
        let (message, _) = CleartextSignedMessage::from_string(&a).unwrap();
        let public = SignedPublicKey::from(signer.key.clone());
        let signature = message.verify(&public.primary_key).unwrap();
        // The key was made now, so the signature is dated no earlier than its self-signature.
        assert!(signature.created().unwrap().as_secs() >= signer.not_before);
        let d = signer.detach_sign(b"bytes", 1_700_000_000).unwrap();
        assert_eq!(d, signer.detach_sign(b"bytes", 1_700_000_000).unwrap());
        assert!(d.starts_with("-----BEGIN PGP SIGNATURE-----"));
    }

    #[test]
    fn a_file_that_is_not_a_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.asc");
        crate::files::write_private(&path, b"hello").unwrap();
        let err = format!("{:#}", Signer::load(&KeySource::File(path)).err().unwrap());
        assert!(
            err.contains("key.asc is not an OpenPGP secret key"),
            "{err}"
        );
    }

    /// A development key is 0600 from its first byte; a key others can read is refused.
    #[test]
    fn keys_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dev.asc");
        Signer::load(&KeySource::Development(path.clone())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = format!(
            "{:#}",
            Signer::load(&KeySource::File(path.clone())).err().unwrap()
        );
        assert!(
            error.contains("is readable by others (mode 0644): chmod 600 it"),
            "{error}"
        );
    }
}
