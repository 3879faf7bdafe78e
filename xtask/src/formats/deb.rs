//! The .deb format, in-process and deterministic: an `ar` archive of `debian-binary`, `control.tar.gz`
//! and `data.tar.gz`. Every header has uid/gid 0 (root), a fixed mode and the mtime given, members are
//! sorted, and gzip headers carry no time, so the same input gives the same bytes.
//!
//! Reading goes the other way for any .deb (ours, Debian's, Ubuntu's): [`read_control`] returns the
//! `control` file from `control.tar`, `.tar.gz`, `.tar.xz` or `.tar.zst`.

use std::io::{Read, Write};

use anyhow::{Context, Result, bail};
use flate2::{Compression, GzBuilder};
use md5::{Digest, Md5};

use crate::formats::archive::{self, Contents, Member, Members};

/// A regular file of the package: `path` is absolute in the installed system (`/usr/share/...`).
pub struct DataFile {
    pub path: String,
    pub mode: u32,
    pub contents: Vec<u8>,
}

/// A member of control.tar.gz (`control`, `md5sums`, `templates`, `config`, `postinst`...).
pub struct ControlFile {
    pub name: String,
    pub mode: u32,
    pub contents: Vec<u8>,
}

/// Writes the .deb. `control` must not include `md5sums`: it is computed here from `data`.
pub fn build(control: Vec<ControlFile>, data: &[DataFile], mtime: u64) -> Result<Vec<u8>> {
    let mut control = control;
    control.push(ControlFile {
        name: "md5sums".into(),
        mode: 0o644,
        contents: md5sums(data).into_bytes(),
    });
    let control_entries = control
        .into_iter()
        .map(|f| {
            let file = Member::File {
                mode: f.mode,
                contents: Contents::Bytes(f.contents),
            };
            (format!("./{}", f.name), file)
        })
        .collect();
    let control_tar = tar_gz(control_entries, mtime)?;
    let data_tar = tar_gz(with_directories(data)?, mtime)?;

    let mut deb = ar::Builder::new(Vec::new());
    for (name, bytes) in [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.gz", control_tar),
        ("data.tar.gz", data_tar),
    ] {
        let mut header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        header.set_mtime(mtime);
        header.set_mode(0o100644);
        deb.append(&header, bytes.as_slice())
            .context("cannot write an ar member")?;
    }
    deb.into_inner().context("cannot finish the ar archive")
}

/// The `md5sums` control file: one line per regular file, paths without the leading `/`.
pub fn md5sums(data: &[DataFile]) -> String {
    let mut files: Vec<&DataFile> = data.iter().collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
        .iter()
        .map(|f| {
            let digest = hex::encode(Md5::digest(&f.contents));
            format!("{digest}  {}\n", f.path.trim_start_matches('/'))
        })
        .collect()
}

/// `Installed-Size` in KiB, counted as dpkg-gencontrol does: each file rounded up, each directory 1.
pub fn installed_size_kib(data: &[DataFile]) -> Result<u64> {
    let dirs = with_directories(data)?
        .values()
        .filter(|entry| matches!(entry, Member::Dir))
        .count() as u64;
    let files: u64 = data
        .iter()
        .map(|f| (f.contents.len() as u64).div_ceil(1024))
        .sum();
    Ok(files + dirs)
}

/// The data members: every file plus each of its parent directories, `./` first.
fn with_directories(data: &[DataFile]) -> Result<Members> {
    let mut members = Members::new();
    members.insert("./".into(), Member::Dir);
    for file in data {
        let Some(relative) = file.path.strip_prefix('/') else {
            bail!("package path {:?} is not absolute", file.path);
        };
        let mut dir = String::from("./");
        let parts: Vec<&str> = relative.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            dir.push_str(part);
            dir.push('/');
            members.insert(dir.clone(), Member::Dir);
        }
        let name = format!("./{relative}");
        if members
            .insert(
                name.clone(),
                Member::File {
                    mode: file.mode,
                    contents: Contents::Bytes(file.contents.clone()),
                },
            )
            .is_some()
        {
            bail!("package path {name:?} is given twice");
        }
    }
    Ok(members)
}

fn tar_gz(members: Members, mtime: u64) -> Result<Vec<u8>> {
    let gz = GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), Compression::best());
    let gz = archive::write_tar(gz, members, mtime)?;
    let mut bytes = gz.finish().context("cannot finish gzip compression")?;
    bytes.flush()?;
    Ok(bytes)
}

/// A package name as Debian Policy 5.6.1 allows it: at least two characters, lower-case letters,
/// digits, `+`, `-` and `.`, starting with a letter or digit.
pub fn check_package_name(name: &str) -> std::result::Result<(), String> {
    let ok = name.len() >= 2
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+-.".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(format!(
            "{:?} is not a Debian package name (Policy 5.6.1: two or more lower-case letters, digits, `+`, `-` or `.`, starting with a letter or digit)",
            name
        )),
    }
}

/// A version as Debian Policy 5.6.12 and dpkg allow it: `[epoch:]upstream[-revision]`, the epoch a
/// number dpkg can hold, upstream starting with a digit, no part empty.
pub fn check_version(version: &str) -> std::result::Result<(), String> {
    let rule = "Policy 5.6.12: [epoch:]upstream[-revision], upstream starting with a digit and made of letters, digits, `.`, `+`, `~` (and `-` when there is a revision)";
    let bad = |why: &str| {
        Err(format!(
            "{version:?} is not a Debian version: {why} ({rule})"
        ))
    };
    let (epoch, rest) = match version.split_once(':') {
        Some((epoch, rest)) => (Some(epoch), rest),
        None => (None, version),
    };
    if let Some(epoch) = epoch {
        if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) {
            return bad("the epoch before `:` is not a number");
        }
        if epoch.parse::<i32>().is_err() {
            return bad("the epoch is too big for dpkg");
        }
    }
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((upstream, revision)) => (upstream, Some(revision)),
        None => (rest, None),
    };
    if upstream.is_empty() {
        return bad("the upstream version is empty");
    }
    if !upstream.starts_with(|c: char| c.is_ascii_digit()) {
        return bad("the upstream version does not start with a digit");
    }
    let allowed = |b: u8, extra: &[u8]| {
        b.is_ascii_alphanumeric() || b".+~".contains(&b) || extra.contains(&b)
    };
    if !upstream.bytes().all(|b| allowed(b, b"-")) {
        return bad("the upstream version has a character Debian does not allow");
    }
    if let Some(revision) = revision {
        if revision.is_empty() {
            return bad("the revision after `-` is empty");
        }
        if !revision.bytes().all(|b| allowed(b, b"")) {
            return bad("the revision has a character Debian does not allow");
        }
    }
    Ok(())
}

/// The text of the `control` file of the .deb `bytes`. Errors say what is wrong with the archive; the
/// caller adds which file it is.
pub fn read_control(deb: impl Read) -> Result<String> {
    // Streamed: the control member comes second, so a large package is not read to find it.
    let mut archive = ar::Archive::new(deb);
    let mut first = true;
    while let Some(member) = archive.next_entry() {
        let mut member = member.context("not an ar archive (a .deb is one)")?;
        let name = String::from_utf8_lossy(member.header().identifier()).into_owned();
        if first {
            first = false;
            let mut version = String::new();
            member.read_to_string(&mut version)?;
            if name != "debian-binary" || !version.starts_with("2.") {
                bail!(
                    "not a Debian binary package (its first member is {name:?}, not debian-binary 2.x)"
                );
            }
            continue;
        }
        let tar: Box<dyn Read> = match name.as_str() {
            "control.tar" => Box::new(member),
            "control.tar.gz" => Box::new(flate2::read::GzDecoder::new(member)),
            "control.tar.xz" => Box::new(liblzma::read::XzDecoder::new(member)),
            "control.tar.zst" => Box::new(
                zstd::stream::read::Decoder::new(member)
                    .context("cannot start reading control.tar.zst")?,
            ),
            _ if name.starts_with("control.tar") => {
                bail!("its control member {name} is compressed in a way dpkg does not use")
            }
            _ => continue,
        };
        let mut tar = tar::Archive::new(tar);
        for entry in tar
            .entries()
            .with_context(|| format!("cannot read {name}"))?
        {
            let mut entry = entry.with_context(|| format!("cannot read {name}"))?;
            let path = entry.path()?.into_owned();
            if path.as_os_str() == "control" || path.as_os_str() == "./control" {
                let mut control = String::new();
                entry
                    .read_to_string(&mut control)
                    .with_context(|| format!("the control file in {name} is not UTF-8 text"))?;
                return Ok(control);
            }
        }
        bail!("{name} has no control file");
    }
    if first {
        bail!("an empty archive is not a .deb");
    }
    bail!("no control.tar member: not a .deb")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<DataFile> {
        vec![
            DataFile {
                path: "/usr/share/doc/p/copyright".into(),
                mode: 0o644,
                contents: b"c\n".to_vec(),
            },
            DataFile {
                path: "/usr/share/doc/p/changelog.gz".into(),
                mode: 0o644,
                contents: vec![0; 2000],
            },
        ]
    }

    #[test]
    fn md5sums_are_sorted_and_relative() {
        let sums = md5sums(&sample());
        let lines: Vec<&str> = sums.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].ends_with("  usr/share/doc/p/changelog.gz"));
        assert_eq!(
            lines[1],
            "2cd6ee2c70b0bde53fbe6cac3c8b8bb1  usr/share/doc/p/copyright"
        );
    }

    #[test]
    fn installed_size_counts_files_rounded_up_and_directories() {
        // 1 KiB + 2 KiB of files, and ./ usr/ share/ doc/ p/ as directories.
        assert_eq!(installed_size_kib(&sample()).unwrap(), 3 + 5);
    }

    #[test]
    fn same_input_same_bytes_and_mtime_changes_them() {
        let control = || {
            vec![ControlFile {
                name: "control".into(),
                mode: 0o644,
                contents: b"Package: p\n".to_vec(),
            }]
        };
        let a = build(control(), &sample(), 1_700_000_000).unwrap();
        let b = build(control(), &sample(), 1_700_000_000).unwrap();
        let c = build(control(), &sample(), 1_700_000_001).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.starts_with(b"!<arch>\ndebian-binary   "));
    }

    #[test]
    fn the_reader_returns_the_control_file_of_a_built_package() {
        let control = vec![ControlFile {
            name: "control".into(),
            mode: 0o644,
            contents: b"Package: p\nVersion: 1\n".to_vec(),
        }];
        let deb = build(control, &sample(), 0).unwrap();
        assert_eq!(
            read_control(deb.as_slice()).unwrap(),
            "Package: p\nVersion: 1\n"
        );
        let err = read_control(&b"PK\x03\x04 a zip"[..])
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an ar archive"), "{err}");
    }

    #[test]
    fn relative_and_duplicate_paths_are_refused() {
        let relative = [DataFile {
            path: "usr/x".into(),
            mode: 0o644,
            contents: vec![],
        }];
        assert!(build(vec![], &relative, 0).is_err());
        let mut twice = sample();
        twice.push(DataFile {
            path: "/usr/share/doc/p/copyright".into(),
            mode: 0o644,
            contents: vec![],
        });
        let err = build(vec![], &twice, 0).unwrap_err().to_string();
        assert!(err.contains("given twice"), "{err}");
    }

    /// Debian's rules for versions and names, with dpkg's limits: each refusal names the rule.
    #[test]
    fn versions_and_names_follow_policy() {
        for good in [
            "1.0",
            "1:2.3-4",
            "0.1.0",
            "1.2.3-1",
            "2.0~rc1-0double1",
            "1.0+dfsg-2+b1",
            "7:1",
        ] {
            check_version(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for (bad, why) in [
            ("1:", "the upstream version is empty"),
            ("1-", "the revision after `-` is empty"),
            ("12345678901234567890:1.0", "the epoch is too big for dpkg"),
            (":1.0", "the epoch before `:` is not a number"),
            ("a1.0", "does not start with a digit"),
            ("1.0 beta", "a character Debian does not allow"),
            ("1.0_1", "a character Debian does not allow"),
            ("1.0-a_b", "the revision has a character"),
            ("1:2:3", "a character Debian does not allow"),
        ] {
            let error = check_version(bad).unwrap_err();
            assert!(
                error.contains(why) && error.contains("Policy 5.6.12"),
                "{bad}: {error}"
            );
        }
        for good in ["mesos", "zookeeperd", "libc6", "g++", "a0"] {
            check_package_name(good).unwrap();
        }
        for bad in ["..", ".", "Mesos", "m", "-x", "mesos_x", "mesos/x"] {
            let error = check_package_name(bad).unwrap_err();
            assert!(error.contains("Policy 5.6.1"), "{bad}: {error}");
        }
    }
}
