//! The golden images: built by the pipeline's own code (role packages, the test doubles of mesos and
//! marathon as the operator's `upstream/`, the base system from the host's Debian mirror) into a
//! scratch directory, then read back without mounting: the partition table with sfdisk, GRUB's boot
//! sector in the MBR, the ext4 root checked by e2fsck and read with debugfs (hygiene, the role
//! installed inert, Docker enabled with AppArmor, the repository and its source baked in). And a boot
//! under qemu (TCG, no network) to the serial console's login prompt: the bootloader, kernel,
//! initramfs and fstab work together.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use mesos_roles_tests::images::{self, EPOCH, SUITE, VERSION};
use mesos_roles_tests::{Target, require_root_and_tools, require_tools, run, scratch};
use xtask::steps::image::Kind;

/// The partition's offset in the disk (sfdisk's `start=2048`).
const OFFSET: u64 = 1 << 20;

/// What building and reading back an image takes.
const TOOLS: &[&str] = &[
    "mmdebstrap",
    "sfdisk",
    "mkfs.ext4",
    "grub-mkimage",
    "qemu-img",
    "debugfs",
    "e2fsck",
];

/// Builds the image of `kind` into `dir/out` (the tools checked first).
fn build(kind: Kind, dir: &Path) -> Result<PathBuf> {
    require_root_and_tools(TOOLS)?;
    Ok(images::build(kind, dir)?.0)
}

/// The image's ext4 root, read with debugfs at the partition's offset (no mount, no loop device).
struct Root {
    raw: PathBuf,
}

impl Root {
    fn device(&self) -> String {
        format!("{}?offset={OFFSET}", self.raw.display())
    }

    fn debugfs(&self, request: &str) -> Result<(String, String)> {
        let output = Command::new("debugfs")
            .args(["-R", request, &self.device()])
            .output()
            .context("cannot run debugfs")?;
        Ok((
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }

    fn exists(&self, path: &str) -> Result<bool> {
        let (_, err) = self.debugfs(&format!("stat {path}"))?;
        Ok(!err.contains("not found"))
    }

    fn read(&self, path: &str) -> Result<String> {
        ensure!(self.exists(path)?, "{path} is not in the image");
        Ok(self.debugfs(&format!("cat {path}"))?.0)
    }

    /// The names in a directory, without `.` and `..`.
    fn list(&self, dir: &str) -> Result<Vec<String>> {
        ensure!(self.exists(dir)?, "{dir} is not in the image");
        let (out, _) = self.debugfs(&format!("ls -p {dir}"))?;
        // `/inode/mode/uid/gid/name/size/`
        Ok(out
            .lines()
            .filter_map(|l| l.split('/').nth(5))
            .filter(|n| !n.is_empty() && *n != "." && *n != "..")
            .map(String::from)
            .collect())
    }

    /// The regular files below `dir`, recursively (directories are kept out of the answer).
    fn files_below(&self, dir: &str) -> Result<Vec<String>> {
        let (out, _) = self.debugfs(&format!("ls -p {dir}"))?;
        let mut files = Vec::new();
        for line in out.lines() {
            let fields: Vec<&str> = line.split('/').collect();
            let (Some(mode), Some(name)) = (fields.get(2), fields.get(5)) else {
                continue;
            };
            if name.is_empty() || *name == "." || *name == ".." {
                continue;
            }
            let path = format!("{dir}/{name}");
            if mode.starts_with("04") {
                files.extend(self.files_below(&path)?);
            } else {
                files.push(path);
            }
        }
        Ok(files)
    }
}

/// The qcow2 as a raw disk in `dir`, with its partition table and filesystem checked.
fn unpack(image: &Path, dir: &Path) -> Result<Root> {
    let raw = dir.join("disk.raw");
    run(
        "convert the image to a raw disk",
        Command::new("qemu-img")
            .args(["convert", "-f", "qcow2", "-O", "raw"])
            .arg(image)
            .arg(&raw),
    )?;
    // One bootable Linux partition from 1 MiB, on the fixed disk identifier the root is found by.
    let table = run(
        "read the partition table",
        Command::new("sfdisk").arg("-d").arg(&raw),
    )?;
    ensure!(table.contains("label: dos"), "not an MBR disk:\n{table}");
    ensure!(
        table.contains(&format!("label-id: {}", xtask::formats::disk::LABEL_ID)),
        "the disk identifier is not the one grub.cfg and fstab name:\n{table}"
    );
    let partitions: Vec<&str> = table.lines().filter(|l| l.contains("start=")).collect();
    ensure!(partitions.len() == 1, "not one partition:\n{table}");
    ensure!(
        partitions[0].contains("start=        2048")
            && partitions[0].contains("type=83")
            && partitions[0].contains("bootable"),
        "not a bootable Linux partition at 1 MiB: {}",
        partitions[0]
    );
    // GRUB's boot code in the MBR (its first 440 bytes), the boot signature after the table.
    let disk = std::fs::read(&raw)?;
    let boot = std::fs::read("/usr/lib/grub/i386-pc/boot.img")?;
    ensure!(disk[..440] == boot[..440], "the MBR is not GRUB's boot.img");
    ensure!(disk[510..512] == [0x55, 0xaa], "no boot signature");
    ensure!(
        disk[512..OFFSET as usize].iter().any(|b| *b != 0),
        "no GRUB core image before the partition"
    );
    drop(disk);
    let root = Root { raw };
    run(
        "check the root filesystem",
        Command::new("e2fsck").args(["-n", "-f"]).arg(root.device()),
    )?;
    Ok(root)
}

/// What every image must (not) carry: nothing a node must make its own, nothing of the build.
fn assert_hygiene(root: &Root) -> Result<()> {
    ensure!(
        root.read("/etc/machine-id")?.is_empty(),
        "/etc/machine-id is not empty"
    );
    ensure!(
        !root.exists("/var/lib/dbus/machine-id")?,
        "/var/lib/dbus/machine-id is in the image"
    );
    let keys: Vec<String> = root
        .list("/etc/ssh")?
        .into_iter()
        .filter(|n| n.starts_with("ssh_host_"))
        .collect();
    ensure!(keys.is_empty(), "SSH host keys in the image: {keys:?}");
    let lists = root.list("/var/lib/apt/lists")?;
    ensure!(lists == ["partial"], "apt lists in the image: {lists:?}");
    ensure!(
        root.list("/var/lib/apt/lists/partial")?.is_empty(),
        "partial apt lists in the image"
    );
    let logs = root.files_below("/var/log")?;
    ensure!(logs.is_empty(), "log files in the image: {logs:?}");
    // cloud-init clean: no instance, no state (the directory appears at first boot).
    if root.exists("/var/lib/cloud")? {
        let cloud = root.list("/var/lib/cloud")?;
        ensure!(cloud.is_empty(), "cloud-init state in the image: {cloud:?}");
    }
    for absent in [
        "/var/lib/docker/engine-id",
        "/usr/sbin/policy-rc.d",
        "/etc/resolv.conf",
        "/var/cache/ldconfig/aux-cache",
    ] {
        ensure!(!root.exists(absent)?, "{absent} is in the image");
    }
    ensure!(root.read("/etc/hostname")? == "localhost\n");
    // Written by the build, so every time of it is SOURCE_DATE_EPOCH (ctime included, which
    // mkfs.ext4 -d copies from the build's root and disk.rs sets).
    let (stat, _) = root.debugfs("stat /etc/hostname")?;
    let epoch = format!("0x{EPOCH:08x}:00000000");
    for field in ["ctime", "atime", "mtime", "crtime"] {
        ensure!(
            stat.lines()
                .any(|l| l.trim_start().starts_with(&format!("{field}: {epoch}"))),
            "/etc/hostname's {field} is not SOURCE_DATE_EPOCH:\n{stat}"
        );
    }
    // Bootable: the kernel's links that grub.cfg names, and the root named as the disk has it.
    for link in ["/vmlinuz", "/initrd.img", "/boot/grub/grub.cfg"] {
        ensure!(root.exists(link)?, "{link} is not in the image");
    }
    ensure!(
        root.read("/boot/grub/grub.cfg")?
            .contains(&format!("root={}", xtask::formats::disk::ROOT))
    );
    ensure!(
        root.read("/etc/fstab")?
            .contains(xtask::formats::disk::ROOT)
    );
    let cloud = root.read("/etc/cloud/cloud.cfg.d/90-mesos-roles.cfg")?;
    ensure!(cloud.contains("locale: C.UTF-8"), "{cloud}");
    // cloud-init's locale module finds the locale already set: nothing to do at first boot.
    ensure!(root.read("/etc/default/locale")? == "LANG=C.UTF-8\n");
    // The seed's answers are applied right after cloud-init's network stage, by a unit that
    // cloud-init.service pulls in.
    let unit = root.read(&format!(
        "/etc/systemd/system/{}",
        xtask::steps::seeds::ANSWERS_UNIT
    ))?;
    ensure!(
        unit.contains("After=cloud-init.service") && unit.contains("Before=multi-user.target"),
        "{unit}"
    );
    ensure!(
        root.read("/etc/systemd/system/cloud-init.service.d/50-mesos-roles-seed.conf")?
            .contains(&format!("Wants={}", xtask::steps::seeds::ANSWERS_UNIT))
    );
    ensure!(
        root.read("/usr/local/sbin/mesos-roles-seed")?
            .contains(&format!("{}/*.preseed", xtask::steps::seeds::ANSWERS_DIR))
    );
    Ok(())
}

/// The signed repository at /srv/mesos-roles, its deb822 source and the keyring it trusts.
fn assert_repository(root: &Root) -> Result<()> {
    let sources = root.read(&format!("/{}", xtask::steps::image::SOURCES_PATH))?;
    ensure!(sources == xtask::steps::repo::sources_example(SUITE));
    ensure!(sources.contains("URIs: file:/srv/mesos-roles"));
    ensure!(!sources.contains("trusted"));
    ensure!(root.exists(&format!(
        "/usr/share/keyrings/{}",
        xtask::steps::repo::KEYRING
    ))?);
    let release = root.read(&format!("/srv/mesos-roles/dists/{SUITE}/InRelease"))?;
    ensure!(release.contains("-----BEGIN PGP SIGNATURE-----"));
    let pool = root.files_below("/srv/mesos-roles/pool")?;
    for package in [
        "mesos-master-role",
        "mesos-agent-role",
        "mesos-role-tools_",
        "mesos_",
        "marathon_",
    ] {
        ensure!(
            pool.iter().any(|p| p.contains(package)),
            "{package} is not in the baked repository: {pool:?}"
        );
    }
    // Only Debian's mirror besides it: no build-host path of the repository.
    let list = root.read("/etc/apt/sources.list")?;
    ensure!(
        list.lines().count() == 1 && list.starts_with("deb ") && !list.contains("file:"),
        "/etc/apt/sources.list: {list:?}"
    );
    Ok(())
}

/// Installed packages from dpkg's status file.
fn installed(root: &Root) -> Result<Vec<String>> {
    let status = root.read("/var/lib/dpkg/status")?;
    Ok(status
        .split("\n\n")
        .filter(|s| s.contains("\nStatus: install ok installed"))
        .filter_map(|s| s.lines().next()?.strip_prefix("Package: "))
        .map(String::from)
        .collect())
}

/// A role image: clean, the repository baked in, `role` installed inert beside `expected`, Docker
/// and SSH enabled for the first boot. Returns the image and its scratch directory.
fn role_image(kind: Kind, expected: &[&str]) -> Result<(PathBuf, tempfile::TempDir)> {
    let dir = scratch(&format!("image-{}", kind.name()))?;
    let image = build(kind, dir.path())?;
    let root = unpack(&image, dir.path())?;
    assert_hygiene(&root)?;
    assert_repository(&root)?;
    let role = format!("mesos-{}-role", kind.name());
    let packages = installed(&root)?;
    let common = [
        "linux-image-cloud-amd64",
        "systemd",
        "cloud-init",
        "openssh-server",
        "docker.io",
        "apparmor",
        "mesos",
        // The node's `mesos-role` (only a Recommends of the roles, so the image names it).
        "mesos-role-tools",
    ];
    for package in common.iter().chain(expected).chain([&role.as_str()]) {
        ensure!(
            packages.iter().any(|p| p == package),
            "{package} is not installed"
        );
    }
    // Inert: installed without answers, it generated, diverted and registered nothing.
    ensure!(
        !root.exists("/etc/mesos-roles")?,
        "the role generated /etc/mesos-roles without answers"
    );
    let diversions = root.read("/var/lib/dpkg/diversions")?;
    ensure!(
        !diversions.contains(&role),
        "the role diverted files without answers:\n{diversions}"
    );
    if root.exists("/var/lib/dpkg/alternatives/zookeeper-conf")? {
        let alternative = root.read("/var/lib/dpkg/alternatives/zookeeper-conf")?;
        ensure!(
            !alternative.contains("mesos"),
            "the role registered a zookeeper-conf alternative without answers:\n{alternative}"
        );
    }
    ensure!(!root.exists("/etc/systemd/system/marathon.service.d")?);
    // No secret (docs/security.md): none answered in debconf's password store, no credential file.
    let passwords = match root.exists("/var/cache/debconf/passwords.dat")? {
        true => root.read("/var/cache/debconf/passwords.dat")?,
        false => String::new(),
    };
    ensure!(
        !passwords
            .lines()
            .any(|l| l.starts_with("Value:") && l.len() > "Value:".len() + 1),
        "the image holds a debconf password:\n{passwords}"
    );
    // Docker: enabled for the first boot, never started here (no engine id: see assert_hygiene).
    ensure!(root.exists("/etc/systemd/system/multi-user.target.wants/docker.service")?);
    ensure!(root.exists("/etc/systemd/system/multi-user.target.wants/ssh.service")?);
    // The role's daemons do not start unconfigured at the first boot (images/inert.list): the
    // role enables them once it has its answers.
    for link in [
        "/etc/systemd/system/multi-user.target.wants/mesos-master.service",
        "/etc/systemd/system/multi-user.target.wants/mesos-slave.service",
        "/etc/systemd/system/multi-user.target.wants/marathon.service",
        "/var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/mesos-master.service",
        "/etc/rc2.d/S01zookeeper",
    ] {
        ensure!(!root.exists(link)?, "{link} is in the inert image");
    }
    if kind == Kind::Master {
        // ZooKeeper is installed, only not linked to start.
        ensure!(root.exists("/etc/init.d/zookeeper")?);
    }
    Ok((image, dir))
}

#[test]
fn master_image_is_clean_bootable_and_carries_the_inert_role_and_docker() -> Result<()> {
    let (image, dir) = role_image(Kind::Master, &["marathon", "zookeeperd"])?;
    // zookeeperd pulls Java: its keystore is dated SOURCE_DATE_EPOCH, not by the build's clock.
    let root = unpack(&image, dir.path())?;
    let cacerts = dir.path().join("cacerts");
    root.debugfs(&format!(
        "dump /etc/ssl/certs/java/cacerts {}",
        cacerts.display()
    ))?;
    let dates = keystore_dates(&cacerts)?;
    ensure!(
        dates.len() > 100 && dates.iter().all(|d| *d == EPOCH * 1000),
        "the image's Java keystore is not dated SOURCE_DATE_EPOCH: {dates:?}"
    );
    boot_to_login(&image, dir.path())
}

/// The dates of a JKS keystore's entries (ms), read by keytool, which also checks its seal.
fn keystore_dates(store: &Path) -> Result<Vec<u64>> {
    let out = run(
        "list the keystore with keytool",
        Command::new("keytool")
            .args(["-list", "-rfc", "-storepass", "changeit", "-keystore"])
            .arg(store),
    )?;
    ensure!(
        out.contains("Keystore type: JKS"),
        "not a JKS keystore:\n{out}"
    );
    // keytool prints dates in words; the stamps are read from the entries themselves.
    let bytes = std::fs::read(store)?;
    let mut dates = Vec::new();
    let mut at = 12;
    let u32_at = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let count = u32_at(8);
    for _ in 0..count {
        ensure!(u32_at(at) == 2, "not a trusted-certificate entry");
        let alias = u16::from_be_bytes(bytes[at + 4..at + 6].try_into()?) as usize;
        at += 6 + alias;
        dates.push(u64::from_be_bytes(bytes[at..at + 8].try_into()?));
        at += 8;
        let kind = u16::from_be_bytes(bytes[at..at + 2].try_into()?) as usize;
        at += 2 + kind;
        at += 4 + u32_at(at);
    }
    Ok(dates)
}

/// The keystore ca-certificates-java writes, made twice with different clocks (keytool dates
/// each entry with the time of the import): the image's normalise step makes them the same bytes.
#[test]
fn java_keystores_made_at_different_times_come_out_the_same() -> Result<()> {
    require_tools(&["keytool"])?;
    let dir = scratch("image-keystore")?;
    let cert = std::fs::read_dir("/etc/ssl/certs")?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|e| e == "pem"))
        .context("no certificate in /etc/ssl/certs")?;
    let mut stores = Vec::new();
    for n in 0..2 {
        let store = dir.path().join(format!("cacerts-{n}"));
        run(
            "make a keystore with keytool",
            Command::new("keytool")
                .args([
                    "-importcert",
                    "-noprompt",
                    "-storetype",
                    "JKS",
                    "-alias",
                    "ca",
                ])
                .args(["-storepass", "changeit", "-keystore"])
                .arg(&store)
                .arg("-file")
                .arg(&cert),
        )?;
        stores.push(std::fs::read(&store)?);
        std::thread::sleep(Duration::from_millis(20));
    }
    ensure!(stores[0] != stores[1], "keytool dated both keystores alike");
    let redated: Vec<Vec<u8>> = stores
        .iter()
        .map(|s| xtask::formats::jks::redate(s, "changeit", EPOCH * 1000))
        .collect::<Result<_>>()?;
    ensure!(redated[0] == redated[1], "the redated keystores differ");
    let store = dir.path().join("cacerts");
    std::fs::write(&store, &redated[0])?;
    ensure!(keystore_dates(&store)? == [EPOCH * 1000]);
    Ok(())
}

#[test]
fn agent_image_is_clean_and_carries_the_inert_role_and_docker() -> Result<()> {
    let (_, _dir) = role_image(Kind::Agent, &[])?;
    Ok(())
}

#[test]
fn base_image_has_no_docker_and_no_role() -> Result<()> {
    let dir = scratch("image-base")?;
    let image = build(Kind::Base, dir.path())?;
    let root = unpack(&image, dir.path())?;
    assert_hygiene(&root)?;
    assert_repository(&root)?;
    let packages = installed(&root)?;
    for package in ["linux-image-cloud-amd64", "cloud-init", "openssh-server"] {
        ensure!(
            packages.iter().any(|p| p == package),
            "{package} is not installed"
        );
    }
    for package in [
        "docker.io",
        "mesos-master-role",
        "mesos-agent-role",
        "mesos",
    ] {
        ensure!(
            !packages.iter().any(|p| p == package),
            "{package} is installed in the base image"
        );
    }
    Ok(())
}

/// Boots `image` under qemu (TCG, no network, a throwaway overlay) until the serial console shows
/// a login prompt; prints the time it took.
fn boot_to_login(image: &Path, dir: &Path) -> Result<()> {
    require_root_and_tools(&["qemu-system-x86_64"])?;
    let log_path = dir.join("console.log");
    let start = Instant::now();
    let mut qemu = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "tcg",
            "-m",
            "1536",
            "-smp",
            "2",
            "-nographic",
            "-nic",
            "none",
        ])
        .arg("-drive")
        .arg(format!(
            "file={},if=virtio,format=qcow2,snapshot=on",
            image.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start qemu-system-x86_64")?;
    let stdout = qemu.stdout.take().unwrap();
    let (found, console) = std::thread::scope(|scope| {
        let reader = scope.spawn(|| {
            let mut console = String::new();
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                let line = String::from_utf8_lossy(&line).into_owned();
                console.push_str(&line);
                console.push('\n');
                if line.contains(" login:") {
                    return (true, console);
                }
            }
            (false, console)
        });
        // A watchdog: qemu is killed after the timeout, which ends the reader.
        let deadline = Duration::from_secs(420);
        while !reader.is_finished() && start.elapsed() < deadline {
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = qemu.kill();
        reader.join().unwrap()
    });
    let _ = qemu.wait();
    std::fs::write(&log_path, &console)?;
    if !found {
        bail!(
            "no login prompt on the serial console after {:.0} s; console in {}, last lines:\n{}",
            start.elapsed().as_secs_f64(),
            log_path.display(),
            console
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    eprintln!(
        "boot to the login prompt: {:.1} s (qemu TCG)",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

#[test]
fn dist_with_images_lists_the_three_images_in_the_manifest() -> Result<()> {
    require_root_and_tools(TOOLS)?;
    let dir = scratch("image-dist")?;
    // Readable by apt's `_apt` user, should a root need building from this repository.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let out = dir.path().join("dist");
    // `cargo xtask dist --images`, with the same inputs as the other tests' images: their cached
    // roots are reused.
    let mut targets = vec![Target::Debs, Target::Repo, Target::Manifest];
    targets.extend([Kind::Base, Kind::Master, Kind::Agent].map(Target::Image));
    let mut request = images::request(dir.path(), targets)?;
    request.dist = Some(out.clone());
    request.keep_repo = true;
    images::run(request)?;
    let manifest = xtask::formats::manifest::Manifest::read(&out)?;
    let images: Vec<_> = manifest
        .artifacts
        .iter()
        .filter(|a| a.kind == "image")
        .collect();
    let names: Vec<String> = images
        .iter()
        .map(|a| a.path.to_string_lossy().into_owned())
        .collect();
    let expected: Vec<String> = ["agent", "base", "master"]
        .iter()
        .map(|role| format!("images/mesos-roles-{role}-{VERSION}-{SUITE}-amd64.qcow2"))
        .collect();
    ensure!(names == expected, "image entries: {names:?}");
    for image in images {
        let sum = run(
            "hash an image",
            Command::new("sha256sum").arg(out.join(&image.path)),
        )?;
        ensure!(
            sum.starts_with(&image.sha256),
            "{}: manifest sha256 {} but the file is {sum}",
            image.path.display(),
            image.sha256
        );
    }
    Ok(())
}
