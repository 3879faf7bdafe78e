//! Boot tests (system tier): the golden images booted under qemu (TCG) with their cloud-init seeds,
//! checked over SSH on 127.0.0.1. The VM's only network is qemu's user-mode one, restricted
//! (`restrict=on`: the guest reaches nothing outside), on the inventory's subnet so the seed's static
//! address is the one the forwarded ports lead to. A throwaway SSH key is made per test.
//!
//! The images are built like tests/image.rs builds them (the role packages and the doubles of mesos
//! and marathon in a scratch repository, the same epoch and key, so the cached roots are shared).
//! Measured and printed: boot to cloud-init final, and for the master to ZooKeeper serving.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use mesos_roles_tests::cluster::assert_checks_passed;
use mesos_roles_tests::images::{self, EPOCH, SUITE, VERSION, build};
use mesos_roles_tests::{Request, Target, pipeline, require_root_and_tools, run, scratch};
use xtask::cluster::usernet::{BOOT_TIMEOUT, Spec, Vm, srvr};
use xtask::steps::image::Kind;

const MASTER: &str = "10.77.0.11";
const AGENT: &str = "10.77.0.21";

/// A one-master, one-agent inventory (so the master's ZooKeeper serves alone) whose admin logs in
/// with a key made for this test; returns it and the private key.
fn inventory(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let (key, public) = xtask::cluster::vm::throwaway_key(dir, "boot-test")?;
    let text = format!(
        "[cluster]\nname = \"boot\"\nsuite = \"{SUITE}\"\narchitecture = \"amd64\"\n\
         [network]\nprefix_len = 24\ninterface = \"ens3\"\n\
         [admin]\nssh_keys = [\"{}\"]\n\
         [[masters]]\nname = \"master-1\"\naddress = \"{MASTER}\"\n\
         [[agents]]\nname = \"agent-1\"\naddress = \"{AGENT}\"\nattributes = \"rack:r1\"\n",
        public
    );
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text)?;
    Ok((path, key))
}

/// `cargo xtask seeds` for the inventory at `inventory`, into `dir/seeds` (made once per
/// directory); returns the seed image of `node`.
fn seed(inventory: &Path, dir: &Path, node: &str) -> Result<PathBuf> {
    let out = dir.join("seeds");
    if !out.is_dir() {
        pipeline(Request {
            targets: vec![Target::Seeds],
            source_date_epoch: Some(EPOCH),
            inventory: Some(inventory.to_path_buf()),
            seeds_out: Some(out.clone()),
            ..Request::default()
        })?;
    }
    Ok(out.join(format!("{node}.cidata.img")))
}

/// Boots `image` with `seed` (the node at `address`), ports `forward` reachable on the loopback;
/// the console and qemu logs beside the image.
fn boot(image: &Path, seed: &Path, address: &str, key: &Path, forward: &[u16]) -> Result<Vm> {
    require_root_and_tools(&["qemu-system-x86_64", "ssh", "ssh-keygen"])?;
    let name = image.file_stem().unwrap_or_default().to_string_lossy();
    Vm::boot(&Spec {
        name: &name,
        image,
        seed,
        address,
        key,
        forward,
        logs: image.parent().context("an image in a directory")?,
    })
}

/// A tiny image tarball (a static busybox and /bin/sh), imported with `docker import` on the VM
/// and run with no network: Docker works with no registry.
fn assert_docker_runs_a_local_image(vm: &Vm, dir: &Path) -> Result<()> {
    let info = vm.ssh("sudo docker info --format '{{.ServerVersion}} {{.Driver}}'")?;
    ensure!(!info.trim().is_empty(), "docker info said nothing");
    let rootfs = dir.join("rootfs");
    std::fs::create_dir_all(rootfs.join("bin"))?;
    std::fs::copy("/bin/busybox", rootfs.join("bin/busybox"))
        .context("cannot copy /bin/busybox: install busybox-static on the host (see .ci/run)")?;
    std::os::unix::fs::symlink("busybox", rootfs.join("bin/sh"))?;
    let tarball = dir.join("busybox.tar");
    run(
        "pack the container image",
        Command::new("tar")
            .args(["--owner=0", "--group=0", "-C"])
            .arg(&rootfs)
            .args(["-cf"])
            .arg(&tarball)
            .arg("bin"),
    )?;
    let (ok, out) = vm.try_ssh("sudo docker import - local/busybox:test", Some(&tarball))?;
    ensure!(ok, "docker import failed:\n{out}");
    let said = vm.ssh(
        "sudo docker run --rm --network none local/busybox:test /bin/sh -c 'echo hello from $(busybox uname -s)'",
    )?;
    ensure!(said.contains("hello from Linux"), "{said}");
    Ok(())
}

#[test]
fn master_image_boots_with_its_seed_to_a_serving_zookeeper() -> Result<()> {
    let dir = scratch("boot-master")?;
    let (image, baked) = build(Kind::Master, dir.path())?;
    let (inventory, key) = inventory(dir.path())?;
    let seed = seed(&inventory, dir.path(), "master-1")?;
    let mut vm = boot(&image, &seed, MASTER, &key, &[2181])?;
    let zk_port = vm.host_port(2181);
    let final_at = vm.wait_for_cloud_init()?;
    let ready_at = loop {
        if srvr(zk_port).is_some() {
            break vm.started.elapsed();
        }
        ensure!(
            vm.started.elapsed() < BOOT_TIMEOUT,
            "ZooKeeper does not serve: {}",
            vm.ssh("systemctl status zookeeper --no-pager; true")?
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let answer = srvr(zk_port).context("ZooKeeper stopped serving")?;
    ensure!(answer.contains("Mode: standalone"), "{answer}");

    // The answers rendered as docs/debconf.md says.
    // Authenticated (docs/security.md): the seed's cluster secret became the credentials, and
    // the seed's answers file is gone.
    ensure!(vm.read("/etc/mesos/zk")? == "file:///etc/mesos-roles/secrets/mesos-zk\n");
    let zk = vm.read("/etc/mesos-roles/secrets/mesos-zk")?;
    ensure!(
        zk.starts_with("zk://mesos:") && zk.ends_with(&format!("@{MASTER}:2181/mesos")),
        "mesos-zk: {} bytes, not the URL of the ZooKeeper digest",
        zk.len()
    );
    ensure!(vm.read("/etc/mesos-master/authenticate_agents")? == "true\n");
    ensure!(
        vm.ssh("sudo stat -c %a:%U /etc/mesos-roles/secrets/mesos-credentials")?
            .trim()
            == "600:root"
    );
    assert_answers_applied_before_final(&vm, "mesos-master-role", "zookeeper.service")?;
    ensure!(vm.read("/etc/mesos-master/quorum")? == "1\n");
    ensure!(vm.read("/etc/mesos-master/cluster")? == "boot\n");
    ensure!(vm.read("/etc/mesos-master/ip")? == format!("{MASTER}\n"));
    ensure!(vm.read("/etc/zookeeper/conf_mesos-roles/myid")? == "1\n");
    let zoo = vm.read("/etc/zookeeper/conf_mesos-roles/zoo.cfg")?;
    ensure!(
        zoo.contains(&format!("server.1={MASTER}:2888:3888")),
        "{zoo}"
    );
    let env = vm.read("/etc/mesos-roles/marathon.env")?;
    ensure!(
        env.contains(&format!("MARATHON_MASTER=zk://{MASTER}:2181/mesos")),
        "{env}"
    );
    for unit in ["zookeeper", "mesos-master", "marathon", "docker"] {
        let (active, enabled) = vm.unit(unit)?;
        ensure!(
            active == "active" && enabled == "enabled",
            "{unit}: {active}, {enabled}"
        );
    }
    let (active, enabled) = vm.unit("mesos-slave")?;
    ensure!(
        active != "active" && enabled == "disabled",
        "mesos-slave: {active}, {enabled}"
    );
    // The seed's other settings.
    ensure!(vm.ssh("hostname")?.trim() == "master-1");
    ensure!(vm.ssh("sudo -n true; echo sudo-ok")?.contains("sudo-ok"));
    assert_docker_runs_a_local_image(&vm, dir.path())?;
    eprintln!(
        "master: image {:.1} s ({:.0} MB); cloud-init final {:.1} s, ZooKeeper serving {:.1} s after qemu start",
        baked.as_secs_f64(),
        std::fs::metadata(&image)?.len() as f64 / 1e6,
        final_at.as_secs_f64(),
        ready_at.as_secs_f64()
    );
    Ok(())
}

#[test]
fn agent_image_boots_with_its_seed_as_an_agent() -> Result<()> {
    let dir = scratch("boot-agent")?;
    let (image, baked) = build(Kind::Agent, dir.path())?;
    let (inventory, key) = inventory(dir.path())?;
    let seed = seed(&inventory, dir.path(), "agent-1")?;
    let mut vm = boot(&image, &seed, AGENT, &key, &[])?;
    let final_at = vm.wait_for_cloud_init()?;
    assert_agent(&vm)?;
    assert_docker_runs_a_local_image(&vm, dir.path())?;
    eprintln!(
        "agent: image {:.1} s ({:.0} MB); cloud-init final {:.1} s after qemu start",
        baked.as_secs_f64(),
        std::fs::metadata(&image)?.len() as f64 / 1e6,
        final_at.as_secs_f64()
    );
    Ok(())
}

/// The seed's answers were applied by the image's unit before cloud-init's final stage began, and
/// `service` (one the role starts) was active before it too; the answers' file (it holds a
/// secret) is gone.
fn assert_answers_applied_before_final(vm: &Vm, package: &str, service: &str) -> Result<()> {
    let unit = xtask::steps::seeds::ANSWERS_UNIT;
    ensure!(
        vm.unit(unit)?.0 == "active",
        "{unit} did not succeed:\n{}",
        vm.ssh(&format!("systemctl status --no-pager --full {unit}; true"))?
    );
    // Microseconds since boot (CLOCK_MONOTONIC) of each unit's transitions.
    let at = |unit: &str, property: &str| -> Result<u64> {
        let out = vm.ssh(&format!("systemctl show -P {property} {unit}"))?;
        out.trim()
            .parse()
            .with_context(|| format!("{unit} {property}: {out}"))
    };
    let applied = at(unit, "ActiveEnterTimestampMonotonic")?;
    let started = at(service, "ActiveEnterTimestampMonotonic")?;
    let final_began = at("cloud-final.service", "InactiveExitTimestampMonotonic")?;
    ensure!(
        applied > 0 && started > 0 && applied <= final_began && started <= final_began,
        "the answers were applied at {applied} us and {service} started at {started} us after \
         boot, cloud-init's final stage began at {final_began} us: not before it"
    );
    eprintln!(
        "{package}: answers applied {:.1} s and {service} active {:.1} s after boot; cloud-init final began {:.1} s",
        applied as f64 / 1e6,
        started as f64 / 1e6,
        final_began as f64 / 1e6
    );
    let path = format!("{}/{package}.preseed", xtask::steps::seeds::ANSWERS_DIR);
    ensure!(
        vm.ssh(&format!("sudo test -e {path} || echo gone"))?.trim() == "gone",
        "the seed's answers (with the secret) are still on the node"
    );
    Ok(())
}

/// The packages installed in a qcow2 image (its dpkg status), read without booting it: the disk
/// as raw in `dir`, its root partition (at 1 MiB) read by debugfs.
fn image_packages(image: &Path, dir: &Path) -> Result<std::collections::BTreeSet<String>> {
    let raw = dir.join("packages.raw");
    run(
        "convert the image to a raw disk",
        Command::new("qemu-img")
            .args(["convert", "-O", "raw"])
            .arg(image)
            .arg(&raw),
    )?;
    let status = run(
        "read the image's dpkg status",
        Command::new("debugfs")
            .args(["-R", "cat /var/lib/dpkg/status"])
            .arg(format!("{}?offset={}", raw.display(), 1 << 20)),
    )?;
    std::fs::remove_file(&raw)?;
    let packages: std::collections::BTreeSet<String> = status
        .split("\n\n")
        .filter(|p| p.lines().any(|l| l == "Status: install ok installed"))
        .filter_map(|p| p.lines().find_map(|l| l.strip_prefix("Package: ")))
        .map(String::from)
        .collect();
    ensure!(
        packages.contains("mesos-agent-role") && packages.len() > 100,
        "{} packages in {}'s dpkg status",
        packages.len(),
        image.display()
    );
    Ok(packages)
}

/// An agent of the one-master inventory, as docs/debconf.md says.
fn assert_agent(vm: &Vm) -> Result<()> {
    assert_answers_applied_before_final(vm, "mesos-agent-role", "mesos-slave.service")?;
    ensure!(vm.read("/etc/mesos/zk")? == format!("zk://{MASTER}:2181/mesos\n"));
    // The seed's agent secret became the agent's credential.
    ensure!(
        vm.read("/etc/mesos-slave/credential")? == "/etc/mesos-roles/secrets/agent-credential\n"
    );
    ensure!(
        vm.ssh("sudo stat -c %a:%U /etc/mesos-roles/secrets/agent-credential")?
            .trim()
            == "600:root"
    );
    ensure!(vm.read("/etc/mesos-slave/ip")? == format!("{AGENT}\n"));
    ensure!(vm.read("/etc/mesos-slave/attributes/rack")? == "r1\n");
    ensure!(vm.read("/etc/mesos-slave/containerizers")? == "docker,mesos\n");
    for unit in ["mesos-slave", "docker"] {
        let (active, enabled) = vm.unit(unit)?;
        ensure!(
            active == "active" && enabled == "enabled",
            "{unit}: {active}, {enabled}"
        );
    }
    let (active, enabled) = vm.unit("mesos-master")?;
    ensure!(
        active != "active" && enabled == "disabled",
        "mesos-master: {active}, {enabled}"
    );
    ensure!(vm.ssh("hostname")?.trim() == "agent-1");
    Ok(())
}

#[test]
fn packer_builds_the_agent_image_from_the_base_image_and_it_boots_with_a_seed() -> Result<()> {
    require_root_and_tools(&["packer", "xorriso", "qemu-system-x86_64", "qemu-img"])?;
    let dir = scratch("boot-packer")?;
    let (base, _) = build(Kind::Base, dir.path())?;
    let (inventory, key) = inventory(dir.path())?;
    let seed = seed(&inventory, dir.path(), "agent-1")?;
    // The bundle Packer provisions from (the repository with the closure: cached downloads), and
    // the templates naming it and the base image.
    let templates = dir.path().join("packer");
    let mut request = images::request(dir.path(), vec![Target::Bundle, Target::Packer])?;
    request.bundle_out = Some(dir.path().join("bundle"));
    request.packer_out = Some(templates.clone());
    request.base_image = Some(base);
    images::run(request)?;
    let start = Instant::now();
    let built = Command::new("packer")
        .args([
            "build",
            "-only=qemu.mesos-roles",
            "-var",
            "role=agent",
            "-var",
            "accelerator=tcg",
            ".",
        ])
        .current_dir(&templates)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CACHE_DIR", dir.path().join("packer-cache"))
        .stdin(Stdio::null())
        .status()
        .context("cannot run packer")?;
    let baked = start.elapsed();
    ensure!(
        built.success(),
        "packer build failed ({built}): see its output above"
    );
    let name = format!("mesos-roles-agent-{VERSION}-{SUITE}");
    let image = templates.join(format!("output-{name}/{name}.qcow2"));
    ensure!(image.is_file(), "packer wrote no {}", image.display());

    let mut vm = boot(&image, &seed, AGENT, &key, &[])?;
    let final_at = vm.wait_for_cloud_init()?;
    assert_agent(&vm)?;
    // The build user and its password logins are gone.
    let (known, _) = vm.try_ssh("getent passwd packer", None)?;
    ensure!(!known, "the build user is still in the image");
    // The same content as the native agent image: the same packages installed.
    let (native, _) = build(Kind::Agent, dir.path())?;
    let native = image_packages(&native, dir.path())?;
    let packer: std::collections::BTreeSet<String> = vm
        .ssh("dpkg-query -W -f '${db:Status-Abbrev}${Package}\\n'")?
        .lines()
        .filter_map(|l| l.strip_prefix("ii "))
        .map(|p| p.trim().to_string())
        .collect();
    ensure!(
        native == packer,
        "the Packer image's packages differ from the native image's: only native {:?}, only Packer {:?}",
        native.difference(&packer).collect::<Vec<_>>(),
        packer.difference(&native).collect::<Vec<_>>()
    );
    assert_docker_runs_a_local_image(&vm, dir.path())?;
    // The base image's own boot (the floor beside these figures) is the bench's boot row.
    eprintln!(
        "packer agent: build {:.1} s ({:.0} MB); cloud-init final {:.1} s after qemu start",
        baked.as_secs_f64(),
        std::fs::metadata(&image)?.len() as f64 / 1e6,
        final_at.as_secs_f64()
    );
    Ok(())
}

/// A dist of the master and agent images (debs, repository, images, manifest), built once per run
/// for the `verify --from images` tests.
fn images_dist() -> Result<&'static Path> {
    static DIST: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    static BUILDING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = BUILDING.lock();
    if let Some(dist) = DIST.get() {
        return Ok(dist);
    }
    let dir = mesos_roles_tests::run_scratch("boot-images-dist")?;
    let dist = dir.join("dist");
    let mut request = images::request(
        &dir,
        vec![
            Target::Debs,
            Target::Repo,
            Target::Image(Kind::Master),
            Target::Image(Kind::Agent),
            Target::Manifest,
        ],
    )?;
    request.dist = Some(dist.clone());
    images::run(request)?;
    Ok(DIST.get_or_init(|| dist))
}

/// `cargo xtask verify --from images` on a one-master, one-agent inventory in `dir`, with `extra`
/// arguments: its output and process id, its time printed.
fn verify_from_images(dir: &Path, extra: &[&str]) -> Result<(std::process::Output, u32)> {
    require_root_and_tools(&[
        "qemu-system-x86_64",
        "qemu-img",
        "ssh",
        "ssh-keygen",
        "nsenter",
    ])?;
    let dist = images_dist()?;
    let (inventory, _key) = inventory(dir)?;
    let started = Instant::now();
    let child = Command::new(mesos_roles_tests::xtask_binary()?)
        .arg("verify")
        .arg("--inventory")
        .arg(&inventory)
        .arg("--dist")
        .arg(dist)
        .args(["--from", "images"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let pid = child.id();
    let out = child.wait_with_output()?;
    eprintln!(
        "--- verify --from images {extra:?} ({:.0} s)\n{}\n{}",
        started.elapsed().as_secs_f64(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    Ok((out, pid))
}

/// `cargo xtask verify --from images` on a one-master, one-agent inventory: the master and agent
/// images of a dist booted under qemu with seeds verify renders (its secret, its SSH key), on a
/// bridge of their own; every check of verify passes through the same public interfaces as the
/// nspawn modes (the one master restarted instead of a failover), and nothing is left behind.
#[test]
fn verify_from_the_images_boots_them_as_a_cluster_that_passes_every_check() -> Result<()> {
    let dir = scratch("boot-verify")?;
    let (out, pid) = verify_from_images(dir.path(), &[])?;
    let table = String::from_utf8_lossy(&out.stdout);
    assert_checks_passed(
        &table,
        &[
            "cluster up (boot + install from the golden images and their seeds)",
            "ZooKeeper ensemble formed (srvr)",
            "every master's received flags as rendered",
            "one leading master",
            "the agent registered with it",
            "Marathon sees the leading master",
            "Marathon accepts the app (mesos-role deploy)",
            "every node healthy (mesos-role status)",
            "restart: the only master (master-1)",
            xtask::steps::verify::CHECK_MARATHON,
            xtask::steps::verify::CHECK_ZOOKEEPER,
            xtask::steps::verify::CHECK_WRONG_AGENT,
        ],
    )?;
    ensure!(
        out.status.success(),
        "verify --from images failed:\n{table}"
    );
    // Nothing of the run is left: no qemu of its VMs, no namespace, cgroup, disk or seed.
    mesos_roles_tests::cluster::assert_nothing_left(pid)
}

/// From the images too, a broken node is named by the checks that caught it: the agent VM pointed
/// at a ZooKeeper path no master uses never registers, and its own status says so; the run
/// leaves nothing behind.
#[test]
fn verify_from_the_images_names_a_broken_node() -> Result<()> {
    let dir = scratch("boot-verify-broken")?;
    let [tamper, wrong] = mesos_roles_tests::cluster::broken_agent(MASTER);
    let (out, pid) = verify_from_images(dir.path(), &[&tamper, &wrong])?;
    mesos_roles_tests::cluster::assert_broken_agent_named(&out, pid)
}
