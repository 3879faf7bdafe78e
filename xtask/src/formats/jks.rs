//! Java KeyStores (JKS), redated: ca-certificates-java writes `/etc/ssl/certs/java/cacerts` with
//! every entry dated by the build's clock, the only bytes that made two cold image builds differ.
//! [`redate`] sets every entry's date to one time and seals the store again, so the keystore
//! depends on the certificates alone.
//!
//! The format (big-endian): magic `FEEDFEED`, version (1 or 2), entry count; per entry a tag (1: a
//! private key, 2: a trusted certificate), the alias (u16-length UTF-8), the date (u64, ms since
//! 1970), then the key and its chain or the one certificate (v2: each with its type's name); at the
//! end SHA-1 over the password as UTF-16BE, "Mighty Aphrodite" and everything before it.

use anyhow::{Context, Result, bail, ensure};
use sha1::{Digest, Sha1};

const MAGIC: u32 = 0xFEED_FEED;
/// The password of Debian's `cacerts` (ca-certificates-java's default), which seals it.
pub const CACERTS_PASSWORD: &str = "changeit";

/// `store` with every entry dated `millis`, sealed with `password` (which must have sealed it).
pub fn redate(store: &[u8], password: &str, millis: u64) -> Result<Vec<u8>> {
    ensure!(store.len() >= 32, "too short for a Java keystore");
    let (body, digest) = store.split_at(store.len() - 20);
    ensure!(
        seal(password, body)[..] == *digest,
        "the keystore's digest does not match: not a JKS store, or not sealed with this password"
    );
    let mut out = body.to_vec();
    let mut reader = Reader { bytes: body, at: 0 };
    ensure!(reader.u32()? == MAGIC, "not a Java keystore (no FEEDFEED)");
    let version = reader.u32()?;
    ensure!(version == 1 || version == 2, "JKS version {version}");
    for _ in 0..reader.u32()? {
        let tag = reader.u32()?;
        reader.utf()?;
        out[reader.at..reader.at + 8].copy_from_slice(&millis.to_be_bytes());
        reader.skip(8)?;
        let certificates = match tag {
            1 => {
                let key = reader.u32()? as usize;
                reader.skip(key)?;
                reader.u32()?
            }
            2 => 1,
            other => bail!("unknown JKS entry tag {other}"),
        };
        for _ in 0..certificates {
            if version == 2 {
                reader.utf()?;
            }
            let length = reader.u32()? as usize;
            reader.skip(length)?;
        }
    }
    ensure!(reader.at == body.len(), "bytes after the last JKS entry");
    let digest = seal(password, &out);
    out.extend_from_slice(&digest);
    Ok(out)
}

fn seal(password: &str, body: &[u8]) -> [u8; 20] {
    let mut hash = Sha1::new();
    for unit in password.encode_utf16() {
        hash.update(unit.to_be_bytes());
    }
    hash.update(b"Mighty Aphrodite");
    hash.update(body);
    hash.finalize().into()
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn skip(&mut self, n: usize) -> Result<&[u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let end = end.context("the Java keystore ends inside an entry")?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_be_bytes(self.skip(4)?.try_into()?))
    }

    fn utf(&mut self) -> Result<()> {
        let n = u16::from_be_bytes(self.skip(2)?.try_into()?) as usize;
        self.skip(n).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v2 store of one trusted "certificate" dated `millis`.
    fn store(millis: u64) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend(MAGIC.to_be_bytes());
        body.extend(2u32.to_be_bytes());
        body.extend(1u32.to_be_bytes());
        body.extend(2u32.to_be_bytes());
        body.extend(5u16.to_be_bytes());
        body.extend(b"alias");
        body.extend(millis.to_be_bytes());
        body.extend(5u16.to_be_bytes());
        body.extend(b"X.509");
        body.extend(3u32.to_be_bytes());
        body.extend(b"der");
        let digest = seal(CACERTS_PASSWORD, &body);
        body.extend(digest);
        body
    }

    #[test]
    fn stores_that_differ_in_their_dates_only_come_out_the_same() {
        let a = redate(&store(1_700_000_000_123), CACERTS_PASSWORD, 42_000).unwrap();
        let b = redate(&store(1_800_000_000_456), CACERTS_PASSWORD, 42_000).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, store(42_000));
    }

    #[test]
    fn a_wrong_password_or_a_changed_byte_is_refused() {
        assert!(redate(&store(1), "other", 2).is_err());
        let mut bad = store(1);
        bad[20] ^= 1;
        assert!(redate(&bad, CACERTS_PASSWORD, 2).is_err());
    }
}
