//! A bootable BIOS disk from a root directory, without loop devices, mounts or grub-install: a raw
//! file partitioned by sfdisk (one partition from 1 MiB), the ext4 root written into that partition by
//! `mkfs.ext4 -d` at an offset, GRUB's boot sector in the MBR and its core image in the gap before the
//! partition. The disk's templates are data files in `images/disk/`.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::tool::Tools;

/// The MBR disk identifier: fixed, so the root's PARTUUID (and the bytes) do not change per build.
pub const LABEL_ID: &str = "0x6d657372";
/// How the kernel and fstab find the root: partition 1 of the disk `LABEL_ID`.
pub const ROOT: &str = "PARTUUID=6d657372-01";
/// The ext4 UUID and directory hash seed: fixed for the same reason.
const FS_UUID: &str = "6d657372-6f6c-6573-2d72-6f6f74000001";
/// The partition starts at 1 MiB; GRUB's core image lives in the sectors before it.
const OFFSET: u64 = 1 << 20;
const SECTOR: u64 = 512;
/// GRUB for BIOS machines, from the build host's grub-pc-bin.
const GRUB_DIR: &str = "/usr/lib/grub/i386-pc";
/// What the core image carries, so that it needs no module directory on the disk: the disk, the
/// partition table and ext4, the serial console, and what grub.cfg uses.
const GRUB_MODULES: &[&str] = &[
    "biosdisk",
    "part_msdos",
    "ext2",
    "normal",
    "configfile",
    "linux",
    "boot",
    "serial",
    "terminal",
    "echo",
    "test",
];

/// The files the root needs for this disk: `/boot/grub/grub.cfg` and `/etc/fstab`.
pub fn boot_files(templates: &Path) -> Result<Vec<(&'static str, String)>> {
    Ok(vec![
        ("boot/grub/grub.cfg", template(templates, "grub.cfg")?),
        ("etc/fstab", template(templates, "fstab")?),
    ])
}

fn template(templates: &Path, name: &str) -> Result<String> {
    let path = templates.join(name);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(text.replace("@ROOT@", ROOT).replace("@LABEL_ID@", LABEL_ID))
}

/// Writes a raw disk image of `root` to `raw`; returns the filesystem's size in bytes.
/// `templates` holds `partitions.sfdisk`.
pub fn make(
    tools: &Tools,
    root: &Path,
    raw: &Path,
    source_date_epoch: u64,
    templates: &Path,
) -> Result<u64> {
    let fs_bytes = fs_size(tools, root)?;
    let file =
        std::fs::File::create(raw).with_context(|| format!("cannot create {}", raw.display()))?;
    // Sparse: only what mkfs and the boot code write takes space.
    file.set_len(OFFSET + fs_bytes)?;
    drop(file);
    let raw_arg = raw.to_string_lossy();
    tools.run_stdin(
        "partition the disk image with sfdisk",
        "sfdisk",
        &["--quiet", "--no-reread", "--no-tell-kernel", &raw_arg],
        &template(templates, "partitions.sfdisk")?,
    )?;
    let root_arg = root.to_string_lossy();
    let extended = format!("offset={OFFSET},hash_seed={FS_UUID},root_owner=0:0,nodiscard");
    let size = format!("{}k", fs_bytes / 1024);
    tools.run_env(
        "write the root filesystem with mkfs.ext4 -d",
        "mkfs.ext4",
        &[
            "-q",
            "-F",
            "-L",
            "root",
            "-U",
            FS_UUID,
            // GRUB 2.06 cannot read metadata_csum_seed; orphan_file needs a newer kernel than
            // some readers have. Neither is useful on a golden image.
            "-O",
            "^metadata_csum_seed,^orphan_file",
            "-E",
            &extended,
            "-d",
            &root_arg,
            &raw_arg,
            &size,
        ],
        // mke2fs stamps its own times (superblock, inodes it creates) with this instead of now.
        &[("E2FSPROGS_FAKE_TIME", &source_date_epoch.to_string())],
    )?;
    normalise_times(tools, raw, source_date_epoch)?;
    install_grub(tools, raw)?;
    Ok(fs_bytes)
}

/// `mkfs.ext4 -d` copies each file's ctime and atime from the root, and those are the build's
/// (touch cannot set a ctime): set both to SOURCE_DATE_EPOCH on every inode in use, with one
/// debugfs run (~0.5 s for 30,000 inodes).
fn normalise_times(tools: &Tools, raw: &Path, source_date_epoch: u64) -> Result<()> {
    let device = format!("{}?offset={OFFSET}", raw.display());
    let summary = tools.read(
        "list the root filesystem's free inodes with dumpe2fs",
        "dumpe2fs",
        &[&device],
    )?;
    let count: u32 = summary
        .lines()
        .find_map(|l| l.strip_prefix("Inode count:"))
        .and_then(|n| n.trim().parse().ok())
        .context("dumpe2fs printed no inode count")?;
    let mut used = vec![true; count as usize + 1];
    used[0] = false;
    // Per group: `  Free inodes: 12-40, 45, 50-8192` (empty when the group is full).
    for ranges in summary
        .lines()
        .filter_map(|l| l.strip_prefix("  Free inodes:"))
    {
        for range in ranges.split(',').map(str::trim).filter(|r| !r.is_empty()) {
            let (first, last) = range.split_once('-').unwrap_or((range, range));
            let (first, last): (usize, usize) = (first.parse()?, last.parse()?);
            used[first..=last.min(count as usize)].fill(false);
        }
    }
    let mut commands = String::new();
    for inode in (1..used.len()).filter(|i| used[*i]) {
        for field in ["ctime", "atime"] {
            commands.push_str(&format!("sif <{inode}> {field} @{source_date_epoch}\n"));
        }
    }
    let scratch = tempfile::tempdir()?;
    let file = scratch.path().join("times.debugfs");
    std::fs::write(&file, commands)?;
    // debugfs echoes every command: keep its output out of the progress lines.
    let output = tools.output_env(
        "set every inode's ctime and atime with debugfs",
        "debugfs",
        &["-w", "-f", &file.to_string_lossy(), &device],
        &[("E2FSPROGS_FAKE_TIME", &source_date_epoch.to_string())],
    )?;
    let errors = String::from_utf8_lossy(&output.stderr);
    // Its banner goes to stderr; anything else there is a failed command.
    let errors: Vec<&str> = errors
        .lines()
        .filter(|l| !l.starts_with("debugfs "))
        .collect();
    if !output.status.success() || !errors.is_empty() {
        bail!(
            "debugfs could not set the inode times: {}",
            errors.join("; ")
        );
    }
    Ok(())
}

/// The filesystem's size: what the root uses, plus a fifth and 512 MiB of room (the first boot's
/// logs, Docker's state; cloud-init's growpart grows it to the real disk), in whole 64 MiB.
fn fs_size(tools: &Tools, root: &Path) -> Result<u64> {
    let used = tools.read(
        "measure the root with du",
        "du",
        &["--summarize", "--block-size=1", &root.to_string_lossy()],
    )?;
    let used: u64 = used
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("du printed {used:?}, not a size"))?;
    let unit = 64 << 20;
    let wanted = used + used / 5 + (512 << 20);
    Ok(wanted.div_ceil(unit) * unit)
}

/// GRUB's boot sector into the MBR (its first 440 bytes: the disk identifier and partition table
/// that sfdisk wrote stay), and a core image right after it. The boot sector loads sector 1 by
/// default, and the core image's first sector loads the rest from sector 2 on: no patching needed.
fn install_grub(tools: &Tools, raw: &Path) -> Result<()> {
    let scratch = tempfile::tempdir()?;
    let core = scratch.path().join("core.img");
    let mut args = vec![
        "--format=i386-pc",
        "--directory",
        GRUB_DIR,
        "--prefix=(hd0,msdos1)/boot/grub",
        "--compression=auto",
        "--output",
    ];
    let core_arg = core.to_string_lossy().into_owned();
    args.push(&core_arg);
    args.extend_from_slice(GRUB_MODULES);
    tools.run(
        "make GRUB's core image with grub-mkimage",
        "grub-mkimage",
        &args,
    )?;
    let boot = std::fs::read(Path::new(GRUB_DIR).join("boot.img"))
        .with_context(|| format!("cannot read {GRUB_DIR}/boot.img: install grub-pc-bin"))?;
    let core = std::fs::read(&core)?;
    if core.len() as u64 > OFFSET - SECTOR {
        bail!(
            "GRUB's core image is {} bytes, more than the {} before the partition",
            core.len(),
            OFFSET - SECTOR
        );
    }
    let mut disk = std::fs::OpenOptions::new()
        .write(true)
        .open(raw)
        .with_context(|| format!("cannot open {}", raw.display()))?;
    disk.write_all(&boot[..440])?;
    disk.seek(SeekFrom::Start(SECTOR))?;
    disk.write_all(&core)?;
    disk.sync_all()?;
    Ok(())
}
