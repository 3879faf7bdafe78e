//! Boot tests (system tier): the golden images booted under qemu (TCG) with their cloud-init seeds,
//! as clusters of `cargo xtask verify --from images` (a bridge of their own, nothing routed out),
//! whose `--keep` then gives the tests a shell on each node to check it as its role and seed say.
//! The passing cluster's agent is the image `packer build` made; the broken one's is the dist's.
//! Four VM boots and a restart in all: each boot under TCG costs minutes of CPU.
//!
//! The images are built like tests/image.rs builds them (the role packages and the doubles of mesos
//! and marathon in a scratch repository, the same epoch and key, so the cached roots are shared).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, ensure};
use mesos_roles_tests::cluster::{Inspect, Kept, assert_checks_passed, run_verify};
use mesos_roles_tests::images::{self, SUITE, VERSION, build};
use mesos_roles_tests::{Once, Target, require_root_and_tools, run, scratch};
use xtask::cluster::login::Login;
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

/// A tiny image tarball (a static busybox and /bin/sh), imported with `docker import` on the VM
/// and run with no network: Docker works with no registry.
fn assert_docker_runs_a_local_image(node: &Login, dir: &Path) -> Result<()> {
    let info = node.ssh("sudo docker info --format '{{.ServerVersion}} {{.Driver}}'")?;
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
    let (ok, out) = node.try_ssh("sudo docker import - local/busybox:test", Some(&tarball))?;
    ensure!(ok, "docker import failed:\n{out}");
    let said = node.ssh(
        "sudo docker run --rm --network none local/busybox:test /bin/sh -c 'echo hello from $(busybox uname -s)'",
    )?;
    ensure!(said.contains("hello from Linux"), "{said}");
    Ok(())
}

/// The seed's answers were applied by the image's unit before cloud-init's final stage began in
/// the node's first boot, and `service` (one the role starts) was active before it too; the
/// answers' file (it holds a secret) is gone. Read from the first boot's journal (the images keep
/// it), so a node restarted since (verify restarts a lone master) still tells.
fn assert_answers_applied_before_final(node: &Login, package: &str, service: &str) -> Result<()> {
    let unit = xtask::steps::seeds::ANSWERS_UNIT;
    let journal = node
        .ssh("sudo journalctl --boot=1 --output=short-monotonic --no-hostname --no-pager _PID=1")?;
    // Seconds since boot (CLOCK_MONOTONIC) of the line where systemd says `unit` is up.
    let at = |unit: &str, verbs: &[&str]| -> Result<f64> {
        journal
            .lines()
            .find(|l| verbs.iter().any(|v| l.contains(&format!("]: {v} {unit}"))))
            .and_then(|l| l.strip_prefix('[')?.split_once(']')?.0.trim().parse().ok())
            .with_context(|| {
                let said: Vec<&str> = journal.lines().filter(|l| l.contains(unit)).collect();
                format!("the first boot's journal has no {verbs:?} {unit}: {said:#?}")
            })
    };
    let applied = at(unit, &["Finished"])?;
    let started = at(service, &["Started", "Finished"])?;
    let final_began = at("cloud-final.service", &["Starting"])?;
    ensure!(
        applied <= final_began && started <= final_began,
        "the answers were applied at {applied} s and {service} started at {started} s after \
         boot, cloud-init's final stage began at {final_began} s: not before it"
    );
    eprintln!(
        "{package}: answers applied {applied:.1} s and {service} active {started:.1} s after boot; cloud-init final began {final_began:.1} s"
    );
    let path = format!("{}/{package}.preseed", xtask::steps::seeds::ANSWERS_DIR);
    ensure!(
        node.ssh(&format!("sudo test -e {path} || echo gone"))?
            .trim()
            == "gone",
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

/// The role's services `on` are active and enabled; the other role's daemon `off` is neither.
fn assert_services(node: &Login, on: &[&str], off: &str) -> Result<()> {
    for unit in on {
        let (active, enabled) = node.unit(unit)?;
        ensure!(
            active == "active" && enabled == "enabled",
            "{unit}: {active}, {enabled}"
        );
    }
    let (active, enabled) = node.unit(off)?;
    ensure!(
        active != "active" && enabled == "disabled",
        "{off}: {active}, {enabled}"
    );
    Ok(())
}

/// An agent of the one-master inventory, as docs/debconf.md says, whose ZooKeeper URL is `zk`.
fn assert_agent(node: &Login, zk: &str) -> Result<()> {
    assert_answers_applied_before_final(node, "mesos-agent-role", "mesos-slave.service")?;
    let said = node.read("/etc/mesos/zk")?;
    ensure!(said.trim_end() == zk, "/etc/mesos/zk: {said}");
    // The seed's agent secret became the agent's credential.
    ensure!(
        node.read("/etc/mesos-slave/credential")? == "/etc/mesos-roles/secrets/agent-credential\n"
    );
    ensure!(
        node.ssh("sudo stat -c %a:%U /etc/mesos-roles/secrets/agent-credential")?
            .trim()
            == "600:root"
    );
    ensure!(node.read("/etc/mesos-slave/ip")? == format!("{AGENT}\n"));
    ensure!(node.read("/etc/mesos-slave/attributes/rack")? == "r1\n");
    ensure!(node.read("/etc/mesos-slave/containerizers")? == "docker,mesos\n");
    assert_services(node, &["mesos-slave", "docker"], "mesos-master")?;
    ensure!(node.ssh("hostname")?.trim() == "agent-1");
    Ok(())
}

/// The agent image `packer build` makes of the qemu template (base image and bundle built in the
/// run's scratch), once per run: the passing cluster's agent. Its build time and size printed.
fn packer_agent() -> Result<&'static Path> {
    static IMAGE: Once<PathBuf> = Once::new();
    IMAGE.get_or_build(build_packer_agent).map(PathBuf::as_path)
}

fn build_packer_agent() -> Result<PathBuf> {
    require_root_and_tools(&["packer", "xorriso", "qemu-system-x86_64", "qemu-img"])?;
    let dir = mesos_roles_tests::run_scratch("boot-packer")?;
    let (base, _) = build(Kind::Base, &dir)?;
    // The bundle Packer provisions from (the repository with the closure: cached downloads), and
    // the templates naming it and the base image.
    let templates = dir.join("packer");
    let mut request = images::request(&dir, vec![Target::Bundle, Target::Packer])?;
    request.bundle_out = Some(dir.join("bundle"));
    request.packer_out = Some(templates.clone());
    request.base_image = Some(base);
    images::run(request)?;
    let start = Instant::now();
    // The bench's Packer contender, the same command.
    let packer = xtask::steps::bench::packer_build(&templates, "agent", VERSION, SUITE);
    let built = Command::new("packer")
        .args(&packer.args)
        .current_dir(&templates)
        .env("CHECKPOINT_DISABLE", "1")
        .env("PACKER_CACHE_DIR", dir.join("packer-cache"))
        .stdin(Stdio::null())
        .status()
        .context("cannot run packer")?;
    ensure!(
        built.success(),
        "packer build failed ({built}): see its output above"
    );
    let image = packer.image;
    ensure!(image.is_file(), "packer wrote no {}", image.display());
    eprintln!(
        "packer agent: build {:.1} s ({:.0} MB)",
        start.elapsed().as_secs_f64(),
        std::fs::metadata(&image)?.len() as f64 / 1e6
    );
    Ok(image)
}

/// A dist of the master and agent images (debs, repository, images, manifest), built once per run
/// for the `verify --from images` tests.
fn images_dist() -> Result<&'static Path> {
    static DIST: Once<PathBuf> = Once::new();
    DIST.get_or_build(build_images_dist).map(PathBuf::as_path)
}

fn build_images_dist() -> Result<PathBuf> {
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
    Ok(dist)
}

/// The login `verify --keep` printed for `name`.
fn kept(nodes: &Kept, name: &str) -> Result<Login> {
    let line = nodes
        .get(name)
        .with_context(|| format!("verify --keep printed no shell for {name}: {nodes:?}"))?;
    Login::parse(line)
}

/// `cargo xtask verify --from images` on a one-master, one-agent inventory in `dir`, with `extra`
/// arguments, and `inspect` run on the kept cluster (`run_verify`): its output and process id.
fn verify_from_images(
    dir: &Path,
    extra: &[&str],
    inspect: Option<Inspect>,
) -> Result<(std::process::Output, u32)> {
    require_root_and_tools(&[
        "qemu-system-x86_64",
        "qemu-img",
        "ssh",
        "ssh-keygen",
        "nsenter",
    ])?;
    let dist = images_dist()?;
    let (inventory, _key) = inventory(dir)?;
    let mut verify = Command::new(mesos_roles_tests::xtask_binary()?);
    verify
        .arg("verify")
        .arg("--inventory")
        .arg(&inventory)
        .arg("--dist")
        .arg(dist)
        .args(["--from", "images"])
        .args(extra);
    run_verify(verify, inspect)
}

/// The one master of the kept cluster, as docs/debconf.md says: its answers applied from its seed
/// before cloud-init's final stage, authenticated (docs/security.md: the seed's cluster secret
/// became the credentials, the answers' file is gone), the right services on and off, the seed's
/// host name and sudo, and Docker running a local image with no registry.
fn assert_master(node: &Login, dir: &Path) -> Result<()> {
    assert_answers_applied_before_final(node, "mesos-master-role", "zookeeper.service")?;
    ensure!(node.read("/etc/mesos/zk")? == "file:///etc/mesos-roles/secrets/mesos-zk\n");
    let zk = node.read("/etc/mesos-roles/secrets/mesos-zk")?;
    ensure!(
        zk.starts_with("zk://mesos:") && zk.ends_with(&format!("@{MASTER}:2181/mesos")),
        "mesos-zk: {} bytes, not the URL of the ZooKeeper digest",
        zk.len()
    );
    ensure!(node.read("/etc/mesos-master/authenticate_agents")? == "true\n");
    ensure!(
        node.ssh("sudo stat -c %a:%U /etc/mesos-roles/secrets/mesos-credentials")?
            .trim()
            == "600:root"
    );
    ensure!(node.read("/etc/mesos-master/quorum")? == "1\n");
    ensure!(node.read("/etc/mesos-master/cluster")? == "boot\n");
    ensure!(node.read("/etc/mesos-master/ip")? == format!("{MASTER}\n"));
    ensure!(node.read("/etc/zookeeper/conf_mesos-roles/myid")? == "1\n");
    let zoo = node.read("/etc/zookeeper/conf_mesos-roles/zoo.cfg")?;
    ensure!(
        zoo.contains(&format!("server.1={MASTER}:2888:3888")),
        "{zoo}"
    );
    let env = node.read("/etc/mesos-roles/marathon.env")?;
    ensure!(
        env.contains(&format!("MARATHON_MASTER=zk://{MASTER}:2181/mesos")),
        "{env}"
    );
    assert_services(
        node,
        &["zookeeper", "mesos-master", "marathon", "docker"],
        "mesos-slave",
    )?;
    ensure!(node.ssh("hostname")?.trim() == "master-1");
    ensure!(node.ssh("sudo -n true; echo sudo-ok")?.contains("sudo-ok"));
    assert_docker_runs_a_local_image(node, dir)
}

/// `cargo xtask verify --from images --keep` on a one-master, one-agent inventory: the dist's
/// master image and Packer's agent image booted under qemu with seeds verify renders (its secret,
/// its SSH key), on a bridge of their own; every check of verify passes through the same public
/// interfaces as the nspawn modes (the one master restarted instead of a failover). Then, through
/// the shells `--keep` printed, each node is as its role and seed say (the answers applied before
/// cloud-init's final stage, the files, the services, Docker), Packer's build user is gone and
/// its agent has the native agent image's packages; SIGTERM ends the run, nothing is left.
#[test]
fn verify_from_the_images_boots_them_as_a_cluster_that_passes_every_check() -> Result<()> {
    let dir = scratch("boot-verify")?;
    let packer = packer_agent()?;
    let inspect = |nodes: &Kept| -> Result<()> {
        assert_master(&kept(nodes, "master-1")?, &dir.path().join("master"))?;
        let agent = &kept(nodes, "agent-1")?;
        assert_agent(agent, &format!("zk://{MASTER}:2181/mesos"))?;
        assert_docker_runs_a_local_image(agent, &dir.path().join("agent"))?;
        // Packer's: the build user and its password logins are gone; the same content as the
        // native agent image (the same packages installed).
        let (known, _) = agent.try_ssh("getent passwd packer", None)?;
        ensure!(!known, "the build user is still in Packer's image");
        let native = match xtask::steps::verify::images_from_manifest(images_dist()?)? {
            xtask::steps::verify::Source::Images { agent, .. } => agent,
            other => anyhow::bail!("the dist's manifest gave {other:?}"),
        };
        let native = image_packages(&native, dir.path())?;
        let packer: std::collections::BTreeSet<String> = agent
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
        Ok(())
    };
    let packer = packer.to_string_lossy();
    let (out, pid) = verify_from_images(dir.path(), &["--agent-image", &packer], Some(&inspect))?;
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

/// From the images too, a broken node is named by the checks that caught it: the agent VM (the
/// dist's native image) pointed at a ZooKeeper path no master uses never registers, and its own
/// status says so; through `--keep`, the agent is otherwise as its role and seed say, Docker
/// included; the run leaves nothing behind.
#[test]
fn verify_from_the_images_names_a_broken_node() -> Result<()> {
    let dir = scratch("boot-verify-broken")?;
    let [tamper, wrong] = mesos_roles_tests::cluster::broken_agent(MASTER);
    let zk = wrong
        .split_once('=')
        .context("NODE:PATH=TEXT")?
        .1
        .to_string();
    // The dist's own agent image: as its role and seed say but for the path it was pointed at.
    let inspect = |nodes: &Kept| -> Result<()> {
        let agent = &kept(nodes, "agent-1")?;
        assert_agent(agent, &zk)?;
        assert_docker_runs_a_local_image(agent, dir.path())
    };
    let (out, pid) = verify_from_images(dir.path(), &[&tamper, &wrong], Some(&inspect))?;
    mesos_roles_tests::cluster::assert_broken_agent_named(&out, pid)
}
