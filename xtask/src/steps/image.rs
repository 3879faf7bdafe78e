//! `cargo xtask image --role base|master|agent`: a bootable qcow2 built without booting a VM.
//!
//! A flat sequence of steps, as mkosi does it: **install** (mmdebstrap: the base system from the
//! Debian mirror, the role and its mesos/marathon from the signed repository), **configure** (the
//! repository baked in at `/srv/mesos-roles` with its deb822 source and keyring, the overlays, the
//! boot files), **clean** (golden-image hygiene: no machine-id, host keys, apt lists, logs,
//! cloud-init instance, Docker engine id), **normalise** (mtimes clamped to SOURCE_DATE_EPOCH), then
//! **make disk** (`disk.rs`) and **convert** to qcow2. The root after normalise is cached under
//! `<cache>/images/`, keyed by a hash of everything that goes into it, so unchanged inputs go
//! straight to the disk.
//!
//! Services never start at build time: mmdebstrap puts a `policy-rc.d` that refuses every start into
//! the root while it installs and removes it after; the clean step checks that it is gone.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::formats::manifest::Artifact;
use crate::progress::Step;
use crate::tool::Tools;

/// Where the signed repository lives on the node: what `repo::sources_example` points at.
pub const REPO_PATH: &str = "srv/mesos-roles";
/// The repository's deb822 source on the node.
pub const SOURCES_PATH: &str = "etc/apt/sources.list.d/mesos-roles.sources";
/// The disk's templates (grub.cfg, fstab), relative to the workspace root.
const DISK_TEMPLATES: &str = "images/disk";
/// Bumped when a step changes what it puts into the root, so stale cached roots are not reused.
const RECIPE: &str = "image-root-2";

/// What an image is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// The system, cloud-init, SSH and the baked repository; no Docker, no role (Packer's qemu
    /// source starts from it).
    Base,
    Master,
    Agent,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Base => "base",
            Kind::Master => "master",
            Kind::Agent => "agent",
        }
    }

    fn role_package(self) -> Option<&'static str> {
        match self {
            Kind::Base => None,
            Kind::Master => Some(crate::inputs::inventory::Role::Master.package()),
            Kind::Agent => Some(crate::inputs::inventory::Role::Agent.package()),
        }
    }
}

pub struct Options {
    pub kind: Kind,
    pub version: String,
    pub suite: String,
    pub arch: String,
    /// The Debian mirror for the base system (the host's, or the inventory's).
    pub mirror: String,
    /// A signed repository (`repo::run`'s output) holding the role packages and mesos/marathon.
    pub repo: PathBuf,
    /// The directory the qcow2 is written into.
    pub out: PathBuf,
    pub source_date_epoch: u64,
}

/// The tools the image step runs.
pub const TOOLS: [&str; 6] = [
    "mmdebstrap",
    "qemu-img",
    "sfdisk",
    "mkfs.ext4",
    "debugfs",
    "grub-mkimage",
];

/// Images are built for the host's architecture (mmdebstrap without qemu-user) and booted by GRUB
/// for BIOS, which only amd64 has.
pub fn check_architecture(
    host: &str,
    inventory: Option<&crate::inputs::inventory::Inventory>,
) -> Result<()> {
    if let Some(inventory) = inventory
        && inventory.cluster.architecture != host
    {
        bail!(
            "cluster.architecture is {} but this host is {host}: build the images on a host of that architecture",
            inventory.cluster.architecture
        );
    }
    if host != "amd64" {
        bail!(
            "images are amd64 only (GRUB for BIOS boots them), and this host is {host}: build them on an amd64 host"
        );
    }
    Ok(())
}

/// The image's file name.
pub fn file_name(options: &Options) -> String {
    format!(
        "mesos-roles-{}-{}-{}-{}.qcow2",
        options.kind.name(),
        options.version,
        options.suite,
        options.arch
    )
}

/// What the image is made of: what its root is (the cache key) and its name.
pub fn inputs(options: &Options) -> Result<String> {
    let packages = packages(options, kernel_package(&options.arch)?);
    Ok(
        crate::stamps::Inputs::new(&format!("image-{}", options.kind.name()))?
            .text("root", cache_key(options, &packages)?)
            .text("name", file_name(options))
            .finish(),
    )
}

/// Builds the image (reusing a cached root when its inputs are unchanged) and returns it.
pub fn run(tools: &Tools, options: &Options) -> Result<Artifact> {
    crate::inputs::workspace::check_suite(&options.suite)?;
    let kernel = kernel_package(&options.arch)?;
    let step = Step::start(format!(
        "image {} {} {} -> {}",
        options.kind.name(),
        options.suite,
        options.arch,
        options.out.display()
    ));
    let packages = packages(options, kernel);
    let cache = crate::inputs::workspace::cache_dir().join("images");
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create the cache {}", cache.display()))?;
    let stem = format!("{}-{}-{}", options.kind.name(), options.suite, options.arch);
    let installed = cache.join(format!(
        "installed-{stem}-{}",
        installed_key(options, &packages)?
    ));
    let root = cache.join(format!("{stem}-{}", cache_key(options, &packages)?));
    // One build of a root at a time per role, suite and architecture: a second waits, then finds
    // it cached (and pruning never removes a root another build is reading).
    let lock = File::create(cache.join(format!("{stem}.lock")))?;
    lock.lock()?;
    if root.is_dir() {
        step.note(format!("root unchanged: cached {}", root.display()));
    } else {
        if installed.is_dir() {
            step.note(format!(
                "packages unchanged: cached {}",
                installed.display()
            ));
        } else {
            let work = tempfile::Builder::new()
                .prefix(".build-")
                .tempdir_in(&cache)?;
            let new = work.path().join("root");
            let done = install(tools, options, &packages, &new, &step);
            // The file-mirror hook bind-mounts the repository into the root; whatever happened,
            // nothing may stay mounted before the work directory is deleted.
            crate::cluster::roots::unmount_below(work.path())?;
            done?;
            clean(&new, &options.repo, &step)?;
            normalise(tools, &new, options.source_date_epoch, &step)?;
            std::fs::rename(&new, &installed).context("cannot move the new root into the cache")?;
        }
        // The configured root shares the installed root's files (hard links): every step after
        // install replaces a file rather than writing into it, so the cached layer stays as it was.
        let work = tempfile::Builder::new()
            .prefix(".build-")
            .tempdir_in(&cache)?;
        let new = work.path().join("root");
        tools.run(
            "link the installed root's files into a new root",
            "cp",
            &["-al", &installed.to_string_lossy(), &new.to_string_lossy()],
        )?;
        configure(options, &new, &step)?;
        clean(&new, &options.repo, &step)?;
        normalise(tools, &new, options.source_date_epoch, &step)?;
        std::fs::rename(&new, &root).context("cannot move the new root into the cache")?;
    }
    prune(&cache, &installed, &step)?;
    prune(&cache, &root, &step)?;
    let artifact = make_disk(tools, options, &root, &step)?;
    step.done();
    Ok(artifact)
}

/// How many cached roots of one role, suite and architecture are kept: a new epoch or package
/// version makes a new one (~1.3 GB for a role), so the least recently used go.
const KEEP: usize = 3;

/// Marks `root` as used now (a `.used` file beside it: the root's own mtimes are normalised) and
/// removes the least recently used roots beyond [`KEEP`] of the same role, suite and architecture.
/// Called under the lock of the role, suite and architecture, so no other build reads these roots.
fn prune(cache: &Path, root: &Path, step: &Step) -> Result<()> {
    let used = |dir: &Path| {
        dir.with_file_name(format!(
            "{}.used",
            dir.file_name().unwrap_or_default().to_string_lossy()
        ))
    };
    std::fs::write(used(root), "")?;
    let name = root.file_name().unwrap_or_default().to_string_lossy();
    // `<role>-<suite>-<arch>-`: the name without its key.
    let prefix = &name[..name.rfind('-').unwrap_or(0) + 1];
    let mut roots: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(cache)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .map(|p| {
            let time = std::fs::metadata(used(&p))
                .and_then(|m| m.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            (time, p)
        })
        .collect();
    roots.sort_by_key(|r| std::cmp::Reverse(r.0));
    for (_, old) in roots.into_iter().skip(KEEP) {
        step.note(format!(
            "removing the least recently used root {}",
            old.display()
        ));
        std::fs::remove_dir_all(&old)
            .with_context(|| format!("cannot remove the cached root {}", old.display()))?;
        remove(&used(&old))?;
    }
    Ok(())
}

/// The cloud kernel where Debian has one; the disk boots with GRUB for BIOS, so x86 only.
fn kernel_package(arch: &str) -> Result<&'static str> {
    match arch {
        "amd64" => Ok("linux-image-cloud-amd64"),
        other => bail!(
            "images are built for amd64 only (the disk boots with GRUB for BIOS), not {other}: build on an amd64 host"
        ),
    }
}

/// What goes into the root besides minbase.
fn packages(options: &Options, kernel: &str) -> Vec<String> {
    let mut packages = vec![
        kernel,
        "initramfs-tools",
        "systemd",
        "systemd-sysv",
        "udev",
        "dbus",
        "cloud-init",
        // growpart: cloud-init grows the root partition to the real disk.
        "cloud-guest-utils",
        "openssh-server",
        "sudo",
        "iproute2",
        // cloud-init renders the network for ifupdown on Debian.
        "ifupdown",
        if options.suite == "bookworm" {
            "isc-dhcp-client"
        } else {
            "dhcpcd-base"
        },
        "e2fsprogs",
        "procps",
    ];
    if let Some(role) = options.kind.role_package() {
        // docker.io needs AppArmor's parser: Debian's kernel enables AppArmor, and mmdebstrap
        // skips Recommends.
        // mesos-role-tools is only a Recommends of the roles: named so the node has `mesos-role`.
        packages.extend([
            "apparmor",
            "docker.io",
            role,
            crate::steps::tools_deb::PACKAGE,
        ]);
        if options.suite != "bookworm" {
            // From trixie on the docker command is only a Recommends of docker.io.
            packages.push("docker-cli");
        }
    }
    packages.into_iter().map(String::from).collect()
}

/// A hash of everything the installed root is made of: the recipe, suite, architecture, mirror,
/// packages, epoch and the repository's files.
fn installed_key(options: &Options, packages: &[String]) -> Result<String> {
    let mut hash = Sha256::new();
    let line = format!(
        "{RECIPE}\n{}\n{}\n{}\n{}\n{packages:?}\n{}\n",
        options.kind.name(),
        options.suite,
        options.arch,
        options.mirror,
        options.source_date_epoch
    );
    hash.update(line.as_bytes());
    hash_files(&mut hash, &options.repo)?;
    let list = crate::inputs::workspace::root().join(CLEAN_LIST);
    hash.update(std::fs::read(&list).with_context(|| format!("cannot read {}", list.display()))?);
    Ok(hex::encode(&hash.finalize()[..8]))
}

/// A hash of everything the configured root is made of: the installed root, the overlays, the
/// boot files and the inert list.
fn cache_key(options: &Options, packages: &[String]) -> Result<String> {
    let mut hash = Sha256::new();
    hash.update(installed_key(options, packages)?.as_bytes());
    hash.update(read_list(INERT_LIST)?.as_bytes());
    // Only the overlays configure lays into this image: another role's change is not its input.
    let overlays = crate::inputs::workspace::root().join("overlays");
    for dir in [overlays.join("all"), overlays.join(options.kind.name())] {
        hash_files(&mut hash, &dir)?;
    }
    for (path, text) in
        crate::formats::disk::boot_files(&crate::inputs::workspace::root().join(DISK_TEMPLATES))?
    {
        hash.update(path.as_bytes());
        hash.update(text.as_bytes());
    }
    Ok(hex::encode(&hash.finalize()[..8]))
}

/// Each file below `dir`: its path relative to `dir`, and its contents.
fn hash_files(hash: &mut Sha256, dir: &Path) -> Result<()> {
    for file in files_below(dir)? {
        hash.update(file.strip_prefix(dir)?.to_string_lossy().as_bytes());
        hash.update(
            std::fs::read(&file).with_context(|| format!("cannot read {}", file.display()))?,
        );
    }
    Ok(())
}

/// Every file below `dir`, sorted (none if `dir` does not exist).
fn files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(files);
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            files.extend(files_below(&path)?);
        } else if !crate::files::is_bookkeeping(&path) {
            files.push(path);
        }
    }
    Ok(files)
}

/// mmdebstrap alone, with the packages and sources of the image (the bake's floor in `bench.rs`).
pub fn install_alone(tools: &Tools, options: &Options, root: &Path) -> Result<()> {
    let packages = packages(options, kernel_package(&options.arch)?);
    let step = Step::start(format!("mmdebstrap alone -> {}", root.display()));
    let done = install(tools, options, &packages, root, &step);
    crate::cluster::roots::unmount_below(root)?;
    step.done();
    done
}

/// install: mmdebstrap builds the root from the mirror and the signed repository (trusted through
/// its keyring, never `trusted=yes`).
fn install(
    tools: &Tools,
    options: &Options,
    packages: &[String],
    root: &Path,
    parent: &Step,
) -> Result<()> {
    let step = parent.child(format!(
        "install {} packages with mmdebstrap",
        packages.len()
    ));
    let include = format!("--include={}", packages.join(","));
    let debian = format!("deb {} {} main", options.mirror, options.suite);
    let repo = options.repo.canonicalize()?;
    let ours = format!(
        "deb [signed-by={}] file:{} {} main",
        repo.join(crate::steps::repo::KEYRING).display(),
        repo.display(),
        options.suite
    );
    let root_arg = root.to_string_lossy();
    tools.run_env(
        "build the image's root with mmdebstrap",
        "mmdebstrap",
        &[
            "--quiet",
            "--mode=root",
            "--variant=minbase",
            "--format=directory",
            &include,
            // Snapshot mirrors serve Release files whose Valid-Until has passed.
            "--aptopt=Acquire::Check-Valid-Until \"false\"",
            // apt hands file: packages to dpkg by path: the hook makes that path exist in the root.
            "--hook-dir=/usr/share/mmdebstrap/hooks/file-mirror-automount",
            // dpkg without fsync inside the throwaway root (the hook removes itself after).
            "--hook-dir=/usr/share/mmdebstrap/hooks/eatmydata",
            &options.suite,
            &root_arg,
            &debian,
            &ours,
        ],
        // mmdebstrap clamps what it creates to this, as Debian's reproducible-builds tooling does.
        &[("SOURCE_DATE_EPOCH", &options.source_date_epoch.to_string())],
    )?;
    step.done();
    Ok(())
}

/// configure: the repository baked in with its source and keyring, the mirror as the only other
/// source, the overlays (`overlays/all/`, then `overlays/<kind>/`), the boot files.
fn configure(options: &Options, root: &Path, parent: &Step) -> Result<()> {
    let step = parent.child("configure");
    let repo = root.join(REPO_PATH);
    let mut count = 0;
    for file in files_below(&options.repo)? {
        let relative = file.strip_prefix(&options.repo)?;
        // The keyring and the example source go where the source expects them, not into the repo.
        if relative == Path::new(crate::steps::repo::KEYRING)
            || relative == Path::new(crate::steps::repo::SOURCES)
        {
            continue;
        }
        copy(&file, &repo.join(relative))?;
        count += 1;
    }
    copy(
        &options.repo.join(crate::steps::repo::KEYRING),
        &root
            .join("usr/share/keyrings")
            .join(crate::steps::repo::KEYRING),
    )?;
    write(
        &root.join(SOURCES_PATH),
        &crate::steps::repo::sources_example(&options.suite),
    )?;
    write(
        &root.join("etc/apt/sources.list"),
        &format!("deb {} {} main\n", options.mirror, options.suite),
    )?;
    step.note(format!(
        "repository: {count} files in /{REPO_PATH}, source /{SOURCES_PATH}"
    ));
    let overlays = crate::inputs::workspace::root().join("overlays");
    for dir in [overlays.join("all"), overlays.join(options.kind.name())] {
        for file in files_below(&dir)? {
            copy(&file, &root.join(file.strip_prefix(&dir)?))?;
        }
    }
    for (path, text) in
        crate::formats::disk::boot_files(&crate::inputs::workspace::root().join(DISK_TEMPLATES))?
    {
        write(&root.join(path), &text)?;
    }
    // The daemons the role starts once answered do not start unconfigured at the first boot (only
    // links go: the installed layer's files stay as they are).
    scrub(root, &read_list(INERT_LIST)?)?;
    // cloud-init sets the real name at first boot.
    write(&root.join("etc/hostname"), "localhost\n")?;
    step.done();
    Ok(())
}

/// The list of what a golden image must not carry (Packer's clean.sh reads the same file).
pub const CLEAN_LIST: &str = "images/clean.list";
/// The boot links of the daemons the roles start once answered (clean.list's syntax): an image
/// starts none of them unconfigured. Packer's clean.sh runs with it too.
pub const INERT_LIST: &str = "images/inert.list";

/// clean: what `images/clean.list` says a golden image must not carry (machine-id, SSH host
/// keys, Docker's engine id, cloud-init's instance, apt lists, logs...), then what this builder
/// leaves (the file-mirror hook's empty mount points, mmdebstrap's policy-rc.d).
fn clean(root: &Path, repo: &Path, parent: &Step) -> Result<()> {
    let step = parent.child("clean");
    scrub(root, &read_list(CLEAN_LIST)?)?;
    // The hook's mount point is the repository's path on this host: drop the empty directories.
    let mut dir = root.join(repo.canonicalize()?.strip_prefix("/")?);
    while dir != root && std::fs::remove_dir(&dir).is_ok() {
        dir.pop();
    }
    for leftover in ["usr/sbin/policy-rc.d", "sbin/start-stop-daemon.REAL"] {
        if root.join(leftover).exists() {
            bail!("/{leftover} is still in the root: mmdebstrap did not clean up after itself");
        }
    }
    step.done();
    Ok(())
}

/// A list of the workspace (`CLEAN_LIST`, `INERT_LIST`).
fn read_list(relative: &str) -> Result<String> {
    let path = crate::inputs::workspace::root().join(relative);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

/// Applies a clean list (`images/clean.list`'s syntax: `ACTION PATH` lines) to `root`.
pub fn scrub(root: &Path, list: &str) -> Result<()> {
    for line in list.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (action, path) = line
            .split_once(char::is_whitespace)
            .with_context(|| format!("{CLEAN_LIST}: `{line}` is not ACTION PATH"))?;
        let target = root.join(path.trim());
        match action {
            "empty" => write(&target, "")?,
            "remove" => match target.to_string_lossy().strip_suffix('*') {
                Some(prefix) => {
                    let prefix = Path::new(prefix);
                    let dir = prefix.parent().unwrap_or(root);
                    let start = prefix.file_name().unwrap_or_default().to_string_lossy();
                    for name in read_names(dir)? {
                        if name.starts_with(&*start) {
                            remove(&dir.join(name))?;
                        }
                    }
                }
                None => remove(&target)?,
            },
            "clear" => empty_dir(&target)?,
            "clear-files" => remove_files_below(&target)?,
            "mkdir" => std::fs::create_dir_all(&target)?,
            other => bail!("{CLEAN_LIST}: unknown action `{other}` in `{line}`"),
        }
    }
    Ok(())
}

/// Java's keystore, which ca-certificates-java dates with the build's clock.
const JAVA_CACERTS: &str = "etc/ssl/certs/java/cacerts";

/// normalise: Java's keystore dated SOURCE_DATE_EPOCH, and every mtime later than it clamped to
/// it (what the build wrote); the packages' own files keep theirs.
fn normalise(tools: &Tools, root: &Path, epoch: u64, parent: &Step) -> Result<()> {
    let step = parent.child("normalise dates");
    let cacerts = root.join(JAVA_CACERTS);
    if cacerts.is_file() {
        let store = std::fs::read(&cacerts)?;
        let store = crate::formats::jks::redate(
            &store,
            crate::formats::jks::CACERTS_PASSWORD,
            epoch * 1000,
        )
        .with_context(|| format!("cannot redate /{JAVA_CACERTS}"))?;
        if store != std::fs::read(&cacerts)? {
            write_bytes(&cacerts, &store)?;
        }
    }
    let date = format!("@{epoch}");
    tools.run(
        "clamp the root's mtimes to SOURCE_DATE_EPOCH",
        "find",
        &[
            &root.to_string_lossy(),
            "-newermt",
            &date,
            "-exec",
            "touch",
            "--no-dereference",
            "--date",
            &date,
            "{}",
            "+",
        ],
    )?;
    step.done();
    Ok(())
}

/// make disk: the raw disk (`disk.rs`), then qcow2 with zstd-compressed clusters, renamed into
/// place whole.
fn make_disk(tools: &Tools, options: &Options, root: &Path, parent: &Step) -> Result<Artifact> {
    let step = parent.child("make disk");
    std::fs::create_dir_all(&options.out)
        .with_context(|| format!("cannot create {}", options.out.display()))?;
    let work = tempfile::Builder::new()
        .prefix(".image-")
        .tempdir_in(&options.out)?;
    let raw = work.path().join("disk.raw");
    let templates = crate::inputs::workspace::root().join(DISK_TEMPLATES);
    let fs_bytes =
        crate::formats::disk::make(tools, root, &raw, options.source_date_epoch, &templates)?;
    step.note(format!("raw disk: {} MiB filesystem", fs_bytes >> 20));
    let qcow2 = work.path().join("disk.qcow2");
    tools.run(
        "convert the raw disk to qcow2 with qemu-img",
        "qemu-img",
        &[
            "convert",
            "-f",
            "raw",
            "-O",
            "qcow2",
            "-c",
            "-o",
            "compression_type=zstd",
            &raw.to_string_lossy(),
            &qcow2.to_string_lossy(),
        ],
    )?;
    let path = options.out.join(file_name(options));
    std::fs::rename(&qcow2, &path)
        .with_context(|| format!("cannot move the image to {}", path.display()))?;
    let sha256 = crate::files::sha256_file(&path)?;
    let size = std::fs::metadata(&path)?.len();
    step.note(format!("{} ({:.1} MB)", path.display(), size as f64 / 1e6));
    step.done();
    Ok(Artifact {
        kind: "image".into(),
        path,
        sha256,
    })
}

/// A scratch directory in the cache, readable by apt's `_apt` user (it reads `file:` sources).
pub fn scratch_dir(prefix: &str) -> Result<tempfile::TempDir> {
    let base = crate::inputs::workspace::cache_dir().join("images");
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::Builder::new().prefix(prefix).tempdir_in(&base)?;
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    Ok(dir)
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // A new file, never written through a hard link into the cached installed root.
    remove(to)?;
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    std::fs::set_permissions(to, std::os::unix::fs::PermissionsExt::from_mode(0o644))?;
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<()> {
    write_bytes(path, text.as_bytes())
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Never through a symlink the root may have there (resolv.conf is one on some systems), nor
    // through a hard link into the cached installed root.
    remove(path)?;
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("cannot remove {}", path.display()))
        }
        _ => Ok(()),
    }
}

fn read_names(dir: &Path) -> Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    Ok(entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect())
}

/// Removes everything in `dir`, keeping `dir`.
fn empty_dir(dir: &Path) -> Result<()> {
    for name in read_names(dir)? {
        let path = dir.join(name);
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        }
        .with_context(|| format!("cannot remove {}", path.display()))?;
    }
    Ok(())
}

/// Removes the files below `dir`, keeping the directories (packages own them, and services expect
/// them: /var/log/apt, /var/log/journal...).
fn remove_files_below(dir: &Path) -> Result<()> {
    for name in read_names(dir)? {
        let path = dir.join(name);
        if path.is_dir() && !path.is_symlink() {
            remove_files_below(&path)?;
        } else {
            remove(&path)?;
        }
    }
    Ok(())
}
