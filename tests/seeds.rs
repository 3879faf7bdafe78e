//! The cloud-init seeds (`cargo xtask seeds`): one per node of the inventory, every user-data valid
//! for `cloud-init schema`, the network-config rendered by cloud-init's own converter, the answers
//! those of the inventory, the cidata image a clean vfat volume holding the same files, and two runs
//! byte-identical (`dist --inventory` is checked in deb_format.rs). The secrets: a master's seed holds
//! the cluster secret, an agent's only the agent secret, all readable by their owner only; the
//! inventory's secret file made 0600 when missing, reused when there, refused without being shown
//! when bad. Needs cloud-init, dosfstools, mtools and python3-yaml (cloud-init's dependency).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;
use mesos_roles_tests::{
    Request, Target, example_inventory, pipeline, require_tools, run, scratch,
};
use xtask::inputs::inventory::{Inventory, Role};

const EPOCH: u64 = 1_700_000_000;
/// The example's cluster secret, in the secret file beside it (tests run side by side: none of
/// them may be the one that makes it).
const SECRET: &str = "seeds-test-secret-0123456789abcdef0123456789";

/// The example inventory with a real-looking key (the seeds refuse the placeholder) and its secret
/// file, written once.
fn example_path() -> Result<PathBuf> {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    if DIR.get().is_none() {
        let dir = scratch("seeds-inventory")?;
        example_inventory(dir.path())?;
        private_file(&dir.path().join("cluster.secret"), &format!("{SECRET}\n"))?;
        let _ = DIR.set(dir);
    }
    Ok(DIR.get().expect("set above").path().join("cluster.toml"))
}

/// A file only its owner reads, as an operator would make a secret file.
fn private_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

fn secret() -> xtask::inputs::secrets::Secret {
    xtask::inputs::secrets::Secret::new(SECRET).expect("a valid secret")
}

fn example() -> Result<Inventory> {
    Inventory::load(&example_path()?)
}

/// `cargo xtask seeds --inventory <the example> --out OUT`, through the plan.
fn write_seeds(out: &Path) -> Result<Vec<xtask::formats::manifest::Artifact>> {
    Ok(seeds_of(&example_path()?, out)?.artifacts)
}

/// `cargo xtask seeds --inventory INVENTORY --out OUT`, through the plan: its summary.
fn seeds_of(inventory: &Path, out: &Path) -> Result<xtask::summary::Summary> {
    pipeline(Request {
        targets: vec![Target::Seeds],
        source_date_epoch: Some(EPOCH),
        inventory: Some(inventory.to_path_buf()),
        seeds_out: Some(out.to_path_buf()),
        ..Request::default()
    })
}

fn mode(path: &Path) -> Result<u32> {
    Ok(std::fs::metadata(path)?.permissions().mode() & 0o7777)
}

/// A YAML file as JSON, read by the YAML library cloud-init itself uses.
fn yaml(path: &Path) -> Result<serde_json::Value> {
    let json = run(
        "read YAML with python3-yaml",
        Command::new("python3")
            .args([
                "-c",
                "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
            ])
            .arg(path),
    )?;
    Ok(serde_json::from_str(&json)?)
}

#[test]
fn every_node_gets_a_seed_that_cloud_init_accepts() -> Result<()> {
    require_tools(&["cloud-init", "fsck.vfat", "blkid", "mcopy", "python3"])?;
    let inventory = example()?;
    let dir = scratch("seeds")?;
    let out = dir.path().join("seeds");
    let artifacts = write_seeds(&out)?;
    let mut entries: Vec<String> = std::fs::read_dir(&out)?
        .map(|e| Ok(e?.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_>>()?;
    entries.sort();
    let mut expected: Vec<String> = ["master-1", "master-2", "master-3", "agent-1"]
        .iter()
        .flat_map(|n| [n.to_string(), format!("{n}.cidata.img")])
        .collect();
    // And the marker that lets the next run replace the directory, and the stamp beside it.
    expected.push(xtask::files::MARKER.to_string());
    expected.push(format!("{}.seeds", xtask::files::MARKER));
    expected.sort();
    assert_eq!(
        entries, expected,
        "one directory and one image per node, and the marker"
    );
    // The images are sparse: only the blocks that hold data take space.
    for node in ["master-1", "agent-1"] {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(out.join(format!("{node}.cidata.img")))?;
        assert!(
            meta.blocks() * 512 < meta.len() / 2,
            "{node}: {} bytes allocated of {}",
            meta.blocks() * 512,
            meta.len()
        );
    }
    assert_eq!(artifacts.len(), 4 * 4);

    for node in inventory.nodes() {
        let seed = out.join(&node.name);
        let schema = run(
            "check the user-data with cloud-init schema",
            Command::new("cloud-init")
                .args(["schema", "-c"])
                .arg(seed.join("user-data")),
        )?;
        assert!(schema.contains("Valid cloud-config"), "{schema}");

        let meta = yaml(&seed.join("meta-data"))?;
        assert_eq!(meta["local-hostname"], node.name.as_str());
        let id = meta["instance-id"].as_str().unwrap_or_default();
        assert!(id.starts_with(&format!("example-{}-", node.name)), "{id}");

        // cloud-init's own converter, to the ifupdown files the images use.
        let eni = dir.path().join(format!("eni-{}", node.name));
        run(
            "render the network-config with cloud-init",
            Command::new("cloud-init")
                .args([
                    "devel",
                    "net-convert",
                    "-k",
                    "yaml",
                    "-D",
                    "debian",
                    "-O",
                    "eni",
                    "-p",
                ])
                .arg(seed.join("network-config"))
                .arg("-d")
                .arg(&eni),
        )?;
        let interfaces =
            std::fs::read_to_string(eni.join("etc/network/interfaces.d/50-cloud-init"))?;
        assert!(
            interfaces.contains(&format!(
                "iface ens3 inet static\n    address {}/24\n",
                node.address
            )),
            "{interfaces}"
        );

        // The image: a clean vfat volume labelled CIDATA holding the same three files.
        let image = out.join(format!("{}.cidata.img", node.name));
        run(
            "check the seed image",
            Command::new("fsck.vfat").arg("-n").arg(&image),
        )?;
        let label = run(
            "read the seed image's label",
            Command::new("blkid")
                .args(["-o", "value", "-s", "LABEL"])
                .arg(&image),
        )?;
        assert_eq!(label.trim(), "CIDATA");
        for name in xtask::steps::seeds::FILES {
            let inside = run(
                "read a file from the seed image",
                Command::new("mcopy")
                    .arg("-i")
                    .arg(&image)
                    .arg(format!("::/{name}"))
                    .arg("-"),
            )?;
            assert_eq!(inside, std::fs::read_to_string(seed.join(name))?, "{name}");
        }
    }
    Ok(())
}

#[test]
fn the_user_data_hands_over_and_applies_the_inventorys_answers() -> Result<()> {
    require_tools(&["python3"])?;
    let inventory = example()?;
    let dir = scratch("seeds-answers")?;
    let out = dir.path().join("seeds");
    write_seeds(&out)?;

    let master = yaml(&out.join("master-2/user-data"))?;
    assert_eq!(
        master["write_files"][0]["content"],
        format!(
            "mesos-master-role mesos-master-role/masters string 1=10.77.0.11 2=10.77.0.12 3=10.77.0.13\n\
             mesos-master-role mesos-master-role/self string 10.77.0.12\n\
             mesos-master-role mesos-master-role/cluster-name string example\n\
             mesos-master-role mesos-master-role/cluster-secret password {SECRET}\n"
        )
    );
    let agent = yaml(&out.join("agent-1/user-data"))?;
    assert_eq!(
        agent["write_files"][0]["content"],
        format!(
            "mesos-agent-role mesos-agent-role/masters string 1=10.77.0.11 2=10.77.0.12 3=10.77.0.13\n\
             mesos-agent-role mesos-agent-role/ip string 10.77.0.21\n\
             mesos-agent-role mesos-agent-role/attributes string rack:r1\n\
             mesos-agent-role mesos-agent-role/resources string cpus:2;mem:2048\n\
             mesos-agent-role mesos-agent-role/agent-secret password {}\n",
            xtask::inputs::secrets::agent_secret(SECRET)
        )
    );
    for node in inventory.nodes() {
        let data = yaml(&out.join(&node.name).join("user-data"))?;
        // The same answers `verify` hands its nodes.
        assert_eq!(
            data["write_files"][0]["content"],
            inventory.selections(&node, &secret()).as_str()
        );
        // Written where the image's unit finds it, named after the role's package.
        let package = match node.role {
            Role::Master => "mesos-master-role",
            Role::Agent => "mesos-agent-role",
        };
        assert_eq!(
            data["write_files"][0]["path"],
            format!("/var/lib/mesos-roles-seed/{package}.preseed")
        );
        assert_eq!(data["write_files"][0]["permissions"], "0600");
        // Applied by the image's unit (overlays/all) right after cloud-init's network stage;
        // runcmd only fails when that unit did not succeed.
        let command: Vec<&str> = data["runcmd"][0]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        assert_eq!(command[..2], ["sh", "-c"]);
        assert!(command[2].starts_with("systemctl is-active --quiet \"$1\" || {"));
        assert!(command[2].ends_with("exit 1; }"));
        assert_eq!(command[4..], [xtask::steps::seeds::ANSWERS_UNIT]);
        assert_eq!(
            data.get("runcmd").and_then(|r| r.as_array()).map(Vec::len),
            Some(1)
        );
        assert_eq!(data["hostname"], node.name.as_str());
        assert_eq!(data["locale"], "C.UTF-8");
        let user = &data["users"][0];
        assert_eq!(user["name"], "admin");
        assert_eq!(user["sudo"], "ALL=(ALL) NOPASSWD:ALL");
        assert_eq!(user["lock_passwd"], true);
        assert_eq!(
            user["ssh_authorized_keys"],
            serde_json::json!(inventory.admin.ssh_keys)
        );
        assert_eq!(data["ssh_pwauth"], false);
    }
    Ok(())
}

#[test]
fn two_runs_write_the_same_bytes_and_a_stale_node_goes() -> Result<()> {
    let dir = scratch("seeds-twice")?;
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    // A stale node of an earlier run in a's seeds goes with the next run.
    write_seeds(&a)?;
    std::fs::create_dir_all(a.join("old-node"))?;
    let first = write_seeds(&a)?;
    let second = write_seeds(&b)?;
    let digests =
        |artifacts: &[xtask::formats::manifest::Artifact], base: &Path| -> Vec<(String, String)> {
            artifacts
                .iter()
                .map(|x| {
                    let relative = x.path.strip_prefix(base).unwrap().display().to_string();
                    (relative, x.sha256.clone())
                })
                .collect()
        };
    assert_eq!(digests(&first, &a), digests(&second, &b));
    for artifact in &first {
        let relative = artifact.path.strip_prefix(&a)?;
        assert_eq!(
            std::fs::read(&artifact.path)?,
            std::fs::read(b.join(relative))?
        );
    }
    assert!(
        !a.join("old-node").exists(),
        "the seeds directory is replaced whole"
    );
    Ok(())
}

/// Every byte of a node's seed: its three files and its image.
fn seed_bytes(out: &Path, node: &str) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for name in xtask::steps::seeds::FILES {
        files.push((
            format!("{node}/{name}"),
            std::fs::read(out.join(node).join(name))?,
        ));
    }
    let image = format!("{node}.cidata.img");
    files.push((image.clone(), std::fs::read(out.join(&image))?));
    Ok(files)
}

fn holds(bytes: &[u8], text: &str) -> bool {
    bytes.windows(text.len()).any(|w| w == text.as_bytes())
}

#[test]
fn a_masters_seed_holds_the_cluster_secret_an_agents_only_the_agent_secret() -> Result<()> {
    let inventory = example()?;
    let dir = scratch("seeds-secrets")?;
    let out = dir.path().join("seeds");
    write_seeds(&out)?;
    let agent_secret = xtask::inputs::secrets::agent_secret(SECRET);
    for node in inventory.nodes() {
        for (file, bytes) in seed_bytes(&out, &node.name)? {
            if file.ends_with("meta-data") || file.ends_with("network-config") {
                assert!(
                    !holds(&bytes, SECRET) && !holds(&bytes, &agent_secret),
                    "{file}"
                );
                continue;
            }
            // The user-data, in its file and in the image.
            match node.role {
                Role::Master => {
                    assert!(holds(&bytes, SECRET), "{file} lacks the cluster secret");
                    assert!(!holds(&bytes, &agent_secret), "{file}");
                }
                Role::Agent => {
                    assert!(
                        holds(&bytes, &agent_secret),
                        "{file} lacks the agent secret"
                    );
                    assert!(!holds(&bytes, SECRET), "{file} holds the cluster secret");
                }
            }
        }
    }
    // Readable by their owner only: the directory, each node's, every file and image.
    assert_eq!(mode(&out)?, 0o700);
    for node in inventory.nodes() {
        assert_eq!(mode(&out.join(&node.name))?, 0o700, "{}", node.name);
        for (file, _) in seed_bytes(&out, &node.name)? {
            assert_eq!(mode(&out.join(&file))?, 0o600, "{file}");
        }
    }
    Ok(())
}

#[test]
fn a_missing_secret_file_is_made_private_and_said_then_reused() -> Result<()> {
    let dir = scratch("seeds-new-secret")?;
    let inventory = example_inventory(dir.path())?;
    let secret_file = dir.path().join("cluster.secret");
    let summary = seeds_of(&inventory, &dir.path().join("a"))?;
    assert_eq!(mode(&secret_file)?, 0o600);
    let text = std::fs::read_to_string(&secret_file)?;
    let made = xtask::inputs::secrets::Secret::new(&text).expect("a valid cluster secret");
    let said = summary.text();
    assert!(
        said.contains(&format!("note: made the cluster secret {} (mode 0600): keep it, it is the cluster's only secret; never commit it", secret_file.display())),
        "{said}"
    );
    assert!(said.contains("note: the seeds carry secrets"), "{said}");
    assert!(!said.contains(made.expose()), "{said}");
    let master = std::fs::read_to_string(dir.path().join("a/master-1/user-data"))?;
    assert!(master.contains(made.expose()));
    // The next run reuses it: the same secret, the same seeds, nothing said about a new one.
    let again = seeds_of(&inventory, &dir.path().join("b"))?;
    assert_eq!(std::fs::read_to_string(&secret_file)?, text);
    assert!(
        !again.text().contains("made the cluster secret"),
        "{}",
        again.text()
    );
    for node in ["master-1", "agent-1"] {
        assert_eq!(
            seed_bytes(&dir.path().join("a"), node)?,
            seed_bytes(&dir.path().join("b"), node)?
        );
    }
    Ok(())
}

#[test]
fn a_bad_secret_file_is_refused_naming_the_field_never_the_secret() -> Result<()> {
    let dir = scratch("seeds-bad-secret")?;
    let inventory = example_inventory(dir.path())?;
    let secret_file = dir.path().join("cluster.secret");
    let out = dir.path().join("seeds");
    let shown = secret_file.display().to_string();
    let leaked = "leaked-but-too-short";
    let long_enough = "a-secret-anyone-may-read-0123456789abcdef";
    let cases: [(&str, u32, &str); 4] = [
        (leaked, 0o600, "a cluster secret is 32 to 1024 characters"),
        (
            "not a secret: it has spaces and is long enough",
            0o600,
            "some of them others",
        ),
        ("", 0o600, "it is empty: put a cluster secret in it"),
        (
            long_enough,
            0o644,
            "is readable or writable by others (mode 0644): chmod 600",
        ),
    ];
    for (text, file_mode, says) in cases {
        std::fs::write(&secret_file, text)?;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(file_mode))?;
        let error = format!("{:#}", seeds_of(&inventory, &out).expect_err("refused"));
        assert!(
            error.contains(&format!("cluster.secret_file: {shown}")) && error.contains(says),
            "{says}: {error}"
        );
        assert_eq!(error.lines().count(), 1, "{error}");
        if !text.is_empty() {
            assert!(!error.contains(text), "the secret is shown: {error}");
        }
        assert!(!out.exists(), "no seed is written");
        assert_eq!(
            std::fs::read_to_string(&secret_file)?,
            text,
            "the file is kept"
        );
    }
    // A directory, and a FIFO (which must not hang the plan).
    std::fs::remove_file(&secret_file)?;
    std::fs::create_dir(&secret_file)?;
    let error = format!("{:#}", seeds_of(&inventory, &out).expect_err("refused"));
    assert!(error.contains("is a directory: name the file"), "{error}");
    std::fs::remove_dir(&secret_file)?;
    run("make a FIFO", Command::new("mkfifo").arg(&secret_file))?;
    std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600))?;
    let error = format!("{:#}", seeds_of(&inventory, &out).expect_err("refused"));
    assert!(error.contains("is not a regular file"), "{error}");
    assert!(!out.exists());
    Ok(())
}

/// The inventory's settings reach the seeds: a cluster's value every node of its role, a node's
/// own value over it; the registries' passwords only as a `password` answer in the user-data, which
/// only its owner reads, and nowhere else (meta-data, network-config, the summary).
#[test]
fn settings_and_a_nodes_override_reach_the_seeds_answers() -> Result<()> {
    let dir = scratch("seeds-settings")?;
    let path = example_inventory(dir.path())?;
    let password = "hunter2-registry-password";
    let text = std::fs::read_to_string(&path)?.replace(
        "resources = \"cpus:2;mem:2048\"\n",
        "resources = \"cpus:2;mem:2048\"\nsettings = { gc-delay = \"3days\" }\n",
    ) + &format!(
        "[settings.master]\nzookeeper-heap = \"1G\"\nmarathon-task-launch-timeout = 600000\n\
         [settings.agent]\ngc-delay = \"1weeks\"\nisolation = \"posix/cpu, posix/mem\"\n\
         docker-registries = \"Registry.Example.ORG:5000=ann:{password}\"\n"
    );
    assert!(
        text.contains("settings = { gc-delay"),
        "the example's agent changed"
    );
    private_file(&path, &text)?;
    private_file(&dir.path().join("cluster.secret"), &format!("{SECRET}\n"))?;
    let out = dir.path().join("seeds");
    let summary = seeds_of(&path, &out)?;

    let answers = |node: &str| -> Result<String> {
        let data = yaml(&out.join(node).join("user-data"))?;
        Ok(data["write_files"][0]["content"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    };
    let master = answers("master-2")?;
    assert!(
        master.ends_with(&format!(
            "mesos-master-role mesos-master-role/cluster-secret password {SECRET}\n\
             mesos-master-role mesos-master-role/zookeeper-heap string 1g\n\
             mesos-master-role mesos-master-role/marathon-task-launch-timeout string 600000\n"
        )),
        "{master}"
    );
    let agent = answers("agent-1")?;
    assert!(
        agent.ends_with(&format!(
            "mesos-agent-role mesos-agent-role/isolation string posix/cpu,posix/mem\n\
             mesos-agent-role mesos-agent-role/gc-delay string 3days\n\
             mesos-agent-role mesos-agent-role/docker-registries password registry.example.org:5000=ann:{password}\n"
        )),
        "{agent}"
    );
    // The passwords: in the agent's user-data (its file and its image) only, never a master's.
    for node in ["master-1", "master-2", "master-3", "agent-1"] {
        for (file, bytes) in seed_bytes(&out, node)? {
            let expected = node == "agent-1"
                && !file.ends_with("meta-data")
                && !file.ends_with("network-config");
            assert_eq!(holds(&bytes, password), expected, "{file}");
            assert_eq!(mode(&out.join(&file))?, 0o600, "{file}");
        }
    }
    assert!(!summary.text().contains(password), "{}", summary.text());
    for artifact in &summary.artifacts {
        assert!(!artifact.path.display().to_string().contains(password));
    }
    // The same inventory readable by others is refused before anything is written.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    let again = dir.path().join("again");
    let error = format!("{:#}", seeds_of(&path, &again).expect_err("refused"));
    assert!(
        error.contains("settings.agent.docker-registries: holds passwords")
            && error.contains(&format!("chmod 600 {}", path.display())),
        "{error}"
    );
    assert!(!error.contains(password), "{error}");
    assert!(!again.exists());
    Ok(())
}
