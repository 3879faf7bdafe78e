//! The cluster's secrets (docs/security.md): one cluster secret, every credential derived from it
//! by a one-way function that the packages compute too (`mr_derive` in packaging/shared/secrets.sh).

use rand::RngCore;
use sha2::{Digest, Sha256};

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
}
