//! The apt repository's index files, as apt 2.6 reads them: `Packages` stanzas (a .deb's control
//! fields plus where it is and its hashes), `Packages.gz`/`.xz`, the per-architecture `Release` and the
//! suite's `Release` (dated SOURCE_DATE_EPOCH, no Valid-Until, SHA256 of every index). Pure functions of
//! their inputs: the same packages and epoch give the same bytes.

use std::io::Write;

use anyhow::{Context, Result, bail};
use flate2::{Compression, GzBuilder};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc2822;

/// The fields of one control paragraph in file order; each value keeps its continuation lines as
/// written (`"first line\n second line"`), so a stanza is reproduced exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// Parses one deb822 paragraph (a .deb's `control` file).
    pub fn parse(text: &str) -> Result<Self> {
        let mut fields: Vec<(String, String)> = Vec::new();
        // Blank lines after the paragraph end it (cargo-deb's control files have one), as dpkg reads it.
        for (number, line) in text.trim_end().lines().enumerate() {
            if line.trim().is_empty() {
                if fields.is_empty() {
                    continue;
                }
                bail!(
                    "line {}: a blank line inside the control paragraph",
                    number + 1
                );
            }
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = fields.last_mut() else {
                    bail!("line {}: a continuation line before any field", number + 1);
                };
                value.push('\n');
                value.push_str(line);
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                bail!("line {}: {line:?} is not `Field: value`", number + 1);
            };
            if name.is_empty() || name.contains(char::is_whitespace) {
                bail!("line {}: {name:?} is not a field name", number + 1);
            }
            if fields.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                bail!("line {}: field {name} is given twice", number + 1);
            }
            fields.push((name.to_string(), value.trim().to_string()));
        }
        Ok(Self(fields))
    }

    /// A field's value (first line and continuations), by case-insensitive name.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// A single-line field that must be present.
    pub fn required(&self, name: &str) -> Result<&str> {
        match self.get(name) {
            Some(value) if !value.is_empty() && !value.contains('\n') => Ok(value),
            _ => bail!("its control file has no (single-line) {name} field"),
        }
    }
}

/// Where a package is in the pool, and its size and hashes.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolEntry {
    /// Relative to the repository root: `pool/main/m/mesos/mesos_1.11.0-1_amd64.deb`.
    pub filename: String,
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
}

impl PoolEntry {
    pub fn new(filename: String, bytes: &[u8]) -> Self {
        Self {
            filename,
            size: bytes.len() as u64,
            md5: hex::encode(Md5::digest(bytes)),
            sha1: hex::encode(Sha1::digest(bytes)),
            sha256: hex::encode(Sha256::digest(bytes)),
        }
    }
}

/// The pool path of a package, as Debian lays it out: `pool/main/<prefix>/<source>/` where the
/// prefix is the source's first letter, or its first four for `lib*` sources; the file name is
/// `<package>_<version without epoch>_<architecture>.deb`.
pub fn pool_path(control: &Fields) -> Result<String> {
    let package = control.required("Package")?;
    let version = control.required("Version")?;
    let arch = control.required("Architecture")?;
    let source = control
        .get("Source")
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or(package);
    for (field, value) in [
        ("Package", package),
        ("Source", source),
        ("Version", version),
        ("Architecture", arch),
    ] {
        let ok = value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+-~:".contains(c));
        if !ok {
            bail!("its {field} {value:?} has characters Debian does not allow there");
        }
    }
    let prefix = if source.starts_with("lib") && source.len() > 3 {
        &source[..4]
    } else {
        &source[..1]
    };
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    Ok(format!(
        "pool/main/{prefix}/{source}/{package}_{version}_{arch}.deb"
    ))
}

/// One `Packages` stanza: the control fields in their order, then Filename, Size and the hashes,
/// with Description last (as dpkg-scanpackages does). Ends with a newline, no blank line.
pub fn stanza(control: &Fields, pool: &PoolEntry) -> String {
    const OURS: [&str; 5] = ["Filename", "Size", "MD5sum", "SHA1", "SHA256"];
    let mut text = String::new();
    let mut field = |name: &str, value: &str| {
        text.push_str(name);
        text.push(':');
        if !value.starts_with('\n') {
            text.push(' ');
        }
        text.push_str(value);
        text.push('\n');
    };
    let keep = |name: &str| {
        !OURS.iter().any(|o| o.eq_ignore_ascii_case(name))
            && !name.eq_ignore_ascii_case("Description")
    };
    for (name, value) in control.0.iter().filter(|(n, _)| keep(n)) {
        field(name, value);
    }
    field("Filename", &pool.filename);
    field("Size", &pool.size.to_string());
    field("MD5sum", &pool.md5);
    field("SHA1", &pool.sha1);
    field("SHA256", &pool.sha256);
    if let Some(description) = control.get("Description") {
        field("Description", description);
    }
    text
}

/// `Packages`, `Packages.gz` and `Packages.xz` of the given stanzas (in the order given), as
/// (file name, bytes).
pub fn packages_files(stanzas: &[String]) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let plain = stanzas.join("\n").into_bytes();
    let mut gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    gz.write_all(&plain)?;
    let gz = gz.finish().context("cannot gzip Packages")?;
    let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&plain)?;
    let xz = xz.finish().context("cannot xz-compress Packages")?;
    Ok(vec![
        ("Packages", plain),
        ("Packages.gz", gz),
        ("Packages.xz", xz),
    ])
}

/// What the Release files say about the repository.
pub struct Suite<'a> {
    pub origin: &'a str,
    pub label: &'a str,
    /// Written as both Suite and Codename (`bookworm`), so either in a source matches.
    pub suite: &'a str,
    /// The architectures with a `binary-<arch>/` directory, `all` last.
    pub architectures: &'a [String],
    pub source_date_epoch: u64,
}

/// `dists/<suite>/main/binary-<arch>/Release`.
pub fn arch_release(suite: &Suite, arch: &str) -> String {
    format!(
        "Archive: {}\nOrigin: {}\nLabel: {}\nComponent: main\nArchitecture: {arch}\n",
        suite.suite, suite.origin, suite.label
    )
}

/// `dists/<suite>/Release`: `files` are (path relative to `dists/<suite>/`, bytes), listed with
/// their SHA256 and size in path order. SHA256 only: apt 2.6 refuses MD5-only Releases as weak and
/// uses the strongest hash it knows, so MD5Sum/SHA1 lines would be dead weight.
pub fn release(suite: &Suite, files: &[(String, Vec<u8>)]) -> Result<String> {
    let mut files: Vec<&(String, Vec<u8>)> = files.iter().collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = format!(
        "Origin: {}\nLabel: {}\nSuite: {}\nCodename: {}\nDate: {}\nArchitectures: {}\nComponents: main\nDescription: {} packages for {}\nSHA256:\n",
        suite.origin,
        suite.label,
        suite.suite,
        suite.suite,
        release_date(suite.source_date_epoch)?,
        suite.architectures.join(" "),
        suite.label,
        suite.suite,
    );
    for (path, bytes) in files {
        text.push_str(&format!(
            " {} {} {path}\n",
            hex::encode(Sha256::digest(bytes)),
            bytes.len()
        ));
    }
    Ok(text)
}

/// The Release `Date`: `Tue, 14 Nov 2023 22:13:20 +0000` (apt wants exactly this form, in UTC).
pub fn release_date(epoch: u64) -> Result<String> {
    let date = OffsetDateTime::from_unix_timestamp(epoch as i64)
        .context("SOURCE_DATE_EPOCH is out of range")?;
    // RFC 2822 in UTC is exactly apt's `%a, %d %b %Y %H:%M:%S +0000`.
    Ok(date.format(&Rfc2822)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTROL: &str = "Package: libfoo1\nSource: libfoo (1.0-1)\nVersion: 2:1.0-1+b1\nArchitecture: amd64\nDepends: libc6\nDescription: a library\n more text\n .\n end\nSection: libs\n";

    #[test]
    fn stanza_keeps_the_control_fields_and_adds_where_and_hashes() {
        let fields = Fields::parse(CONTROL).unwrap();
        let pool = PoolEntry::new(pool_path(&fields).unwrap(), b"x");
        assert_eq!(
            pool.filename,
            "pool/main/libf/libfoo/libfoo1_1.0-1+b1_amd64.deb"
        );
        let text = stanza(&fields, &pool);
        assert_eq!(
            text,
            "Package: libfoo1\nSource: libfoo (1.0-1)\nVersion: 2:1.0-1+b1\nArchitecture: amd64\nDepends: libc6\nSection: libs\n\
             Filename: pool/main/libf/libfoo/libfoo1_1.0-1+b1_amd64.deb\nSize: 1\n\
             MD5sum: 9dd4e461268c8034f5c8564e155c67a6\nSHA1: 11f6ad8ec52a2984abaafd7c3b516503785c2072\n\
             SHA256: 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881\n\
             Description: a library\n more text\n .\n end\n"
        );
    }

    #[test]
    fn bad_control_files_are_refused_with_the_line() {
        let err = Fields::parse("Package: a\nnonsense\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        let fields = Fields::parse("Package: a\nVersion: 1\n").unwrap();
        let err = pool_path(&fields).unwrap_err().to_string();
        assert!(err.contains("Architecture"), "{err}");
        let fields = Fields::parse("Package: ../x\nVersion: 1\nArchitecture: all\n").unwrap();
        assert!(pool_path(&fields).is_err());
    }

    #[test]
    fn release_lists_every_file_with_sha256_and_the_date_in_utc() {
        let archs = ["amd64".to_string(), "all".to_string()];
        let suite = Suite {
            origin: "o",
            label: "l",
            suite: "bookworm",
            architectures: &archs,
            source_date_epoch: 1_700_000_000,
        };
        let files = vec![
            ("main/binary-amd64/Packages".to_string(), b"".to_vec()),
            ("main/binary-all/Release".to_string(), b"x".to_vec()),
        ];
        let text = release(&suite, &files).unwrap();
        assert!(
            text.contains("\nDate: Tue, 14 Nov 2023 22:13:20 +0000\n"),
            "{text}"
        );
        assert!(text.contains("\nArchitectures: amd64 all\n"));
        assert!(!text.contains("Valid-Until"));
        assert!(text.ends_with(
            "SHA256:\n 2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881 1 main/binary-all/Release\n \
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages\n"
        ));
    }

    #[test]
    fn compressed_indices_are_reproducible_and_decompress_to_the_plain_one() {
        let stanzas = vec!["Package: a\n".to_string(), "Package: b\n".to_string()];
        let a = packages_files(&stanzas).unwrap();
        assert_eq!(a, packages_files(&stanzas).unwrap());
        assert_eq!(a[0].1, b"Package: a\n\nPackage: b\n");
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&a[1].1[..]), &mut plain)
            .unwrap();
        assert_eq!(plain.as_bytes(), a[0].1);
    }
}
