//! Deterministic tar archives, for the .deb members and the bundle: members sorted by name, uid/gid 0
//! with `root` names, the modes given, mtime = SOURCE_DATE_EPOCH, GNU headers. The same members give
//! the same bytes; compression is the caller's (gzip for the .debs and the bundle).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};

/// A member of an archive.
pub enum Member {
    Dir,
    File { mode: u32, contents: Contents },
}

/// A file's bytes: in memory, or streamed from a file on disk (large pool .debs).
pub enum Contents {
    Bytes(Vec<u8>),
    Path(PathBuf),
}

/// Members by their name in the archive; a `BTreeMap`, so always written sorted.
pub type Members = BTreeMap<String, Member>;

/// Writes `members` as a tar stream into `out` and returns `out` (to finish its compression).
/// Names are written as given (dpkg's `./` prefix is kept); a name longer than the header's 100
/// bytes gets GNU's long-name member, whose header is deterministic too.
pub fn write_tar<W: Write>(out: W, members: Members, mtime: u64) -> Result<W> {
    let mut tar = tar::Builder::new(out);
    for (name, member) in members {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root")?;
        header.set_groupname("root")?;
        let (size, reader): (u64, Box<dyn Read>) = match member {
            Member::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                (0, Box::new(std::io::empty()))
            }
            Member::File { mode, contents } => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(mode);
                match contents {
                    Contents::Bytes(bytes) => {
                        (bytes.len() as u64, Box::new(std::io::Cursor::new(bytes)))
                    }
                    Contents::Path(path) => {
                        let file = std::fs::File::open(&path)
                            .with_context(|| format!("cannot read {}", path.display()))?;
                        let size = file.metadata()?.len();
                        // Exactly `size` bytes, even if the file grows meanwhile.
                        (size, Box::new(file.take(size)))
                    }
                }
            }
        };
        header.set_size(size);
        let raw = &mut header.as_old_mut().name;
        if name.len() <= raw.len() {
            // The raw name keeps dpkg's `./` prefix, which `Header::set_path` would normalise away.
            raw.fill(0);
            raw[..name.len()].copy_from_slice(name.as_bytes());
            header.set_cksum();
            tar.append(&header, reader)
        } else {
            tar.append_data(&mut header, &name, reader)
        }
        .with_context(|| format!("cannot add {name} to the archive"))?;
    }
    tar.into_inner().context("cannot finish the tar archive")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Members {
        let mut members = Members::new();
        members.insert("./".into(), Member::Dir);
        members.insert(
            "./a".into(),
            Member::File {
                mode: 0o644,
                contents: Contents::Bytes(b"a\n".to_vec()),
            },
        );
        members.insert(
            format!("./{}/long", "d".repeat(120)),
            Member::File {
                mode: 0o755,
                contents: Contents::Bytes(b"#!/bin/sh\n".to_vec()),
            },
        );
        members
    }

    #[test]
    fn same_members_same_bytes_and_names_read_back() {
        let a = write_tar(Vec::new(), sample(), 1_700_000_000).unwrap();
        let b = write_tar(Vec::new(), sample(), 1_700_000_000).unwrap();
        assert_eq!(a, b);
        let mut archive = tar::Archive::new(a.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                assert_eq!(e.header().mtime().unwrap(), 1_700_000_000);
                assert_eq!(e.header().uid().unwrap(), 0);
                e.path().unwrap().display().to_string()
            })
            .collect();
        assert_eq!(names.len(), 3);
        assert!(
            names[2].ends_with("/long") && names[2].len() > 120,
            "{names:?}"
        );
    }
}
