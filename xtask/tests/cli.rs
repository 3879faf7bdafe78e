//! The command line as an operator meets it: bad flags get one line naming the flag and the fix,
//! a failure exits non-zero, and nothing is written.

use std::process::Command;

fn xtask(args: &[&str]) -> (bool, String) {
    xtask_at("1700000000", args)
}

/// Runs xtask with `SOURCE_DATE_EPOCH=epoch`: (succeeded, stderr).
fn xtask_at(epoch: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .env("SOURCE_DATE_EPOCH", epoch)
        .output()
        .expect("xtask runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_bad_version_is_one_line_naming_the_flag_and_nothing_is_written() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("debs");
    let (ok, stderr) = xtask(&["debs", "--version", "1 x", "--out", dir.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: --version \"1 x\" is not a Debian version"),
        "{stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn an_unsupported_suite_is_refused_before_anything_is_built() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("repo");
    let (ok, stderr) = xtask(&["repo", "--suite", "sid", "--out", dir.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("error: --suite \"sid\" is not supported: use one of bookworm, trixie"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("==> debs"),
        "the debs step ran first: {stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn a_bad_source_date_epoch_names_the_variable() {
    let (ok, stderr) = xtask_at("yesterday", &["debs"]);
    assert!(!ok);
    assert!(
        stderr.contains("SOURCE_DATE_EPOCH=\"yesterday\""),
        "{stderr}"
    );
}

#[test]
fn bundle_refuses_an_unsupported_suite_before_anything_is_built() {
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("bundles");
    let (ok, stderr) = xtask(&["bundle", "--suite", "sid", "--out", dir.to_str().unwrap()]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("error: --suite \"sid\" is not supported: use one of bookworm, trixie"),
        "{stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn image_names_the_roles_it_knows_and_refuses_a_bad_suite_before_building() {
    let (ok, stderr) = xtask(&["image", "--role", "worker"]);
    assert!(!ok);
    assert!(
        stderr.contains("invalid value 'worker' for '--role <ROLE>'")
            && stderr.contains("[possible values: base, master, agent]"),
        "{stderr}"
    );
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("images");
    let (ok, stderr) = xtask(&[
        "image",
        "--role",
        "master",
        "--suite",
        "sid",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("error: --suite \"sid\" is not supported"),
        "{stderr}"
    );
    assert!(!dir.exists());
}

#[test]
fn a_bad_inventory_is_named_before_any_seed_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../cluster.toml")).unwrap();
    // Two agents at one address.
    let bad = example.replace("10.77.0.21", "10.77.0.13");
    let inventory = dir.path().join("cluster.toml");
    std::fs::write(&inventory, bad).unwrap();
    let seeds = dir.path().join("seeds");
    let (ok, stderr) = xtask(&[
        "seeds",
        "--inventory",
        inventory.to_str().unwrap(),
        "--out",
        seeds.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "agents[0] (agent-1).address: 10.77.0.13 is also the address of masters[2]: give each node its own address"
        ),
        "{stderr}"
    );
    assert!(!seeds.exists());
    // dist checks it before building anything.
    let (ok, stderr) = xtask(&["dist", "--inventory", inventory.to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("agents[0] (agent-1).address"), "{stderr}");
    assert!(!stderr.contains("==> debs"), "{stderr}");
}

/// Runs xtask in `dir`: (succeeded, stdout, stderr, seconds).
fn xtask_in(dir: &std::path::Path, args: &[&str]) -> (bool, String, String, f64) {
    let start = std::time::Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(args)
        .current_dir(dir)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("xtask runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        start.elapsed().as_secs_f64(),
    )
}

/// The example inventory with a key no one holds in place of its placeholder.
fn inventory_in(dir: &std::path::Path) -> std::path::PathBuf {
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../cluster.toml")).unwrap();
    let line = example
        .lines()
        .find(|l| l.contains(xtask::inputs::inventory::PLACEHOLDER_KEY))
        .unwrap();
    let text = example.replace(
        line,
        "    \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBm9Ukl3bWx0ZXN0a2V5b25seWZvcnRlc3Rz t@example\",",
    );
    let path = dir.join("cluster.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every file and directory below `dir` (relative), sorted.
fn listing(dir: &std::path::Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(current) = dirs.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            names.push(path.strip_prefix(dir).unwrap().display().to_string());
            if path.is_dir() {
                dirs.push(path);
            }
        }
    }
    names.sort();
    names
}

#[test]
fn an_out_directory_cargo_xtask_did_not_write_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    inventory_in(dir.path());
    let site = dir.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(site.join("index.html"), "<h1>our site</h1>").unwrap();
    std::fs::write(site.join("id_ed25519"), "a key").unwrap();
    let before = listing(dir.path());
    for args in [
        vec!["repo", "--out", "site"],
        vec!["debs", "--out", "site"],
        vec!["seeds", "--inventory", "cluster.toml", "--out", "site"],
        vec!["bundle", "--out", "site"],
        vec!["packer", "--out", "site"],
        vec!["image", "--role", "base", "--out", "site"],
    ] {
        let (ok, stdout, stderr, seconds) = xtask_in(dir.path(), &args);
        assert!(!ok, "{args:?}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        // Every step names the directory first, whatever else its inputs lack.
        assert!(
            stderr.contains("site holds files cargo xtask did not write"),
            "{args:?}: {stderr}"
        );
        assert!(seconds < 30.0, "{args:?} took {seconds:.1} s");
        assert_eq!(listing(dir.path()), before, "{args:?} changed the tree");
    }
    let (ok, _, stderr, _) = xtask_in(
        dir.path(),
        &["seeds", "--inventory", "cluster.toml", "--out", "site"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("site holds files cargo xtask did not write (")
            && stderr.contains("give a new or empty directory, or move them away"),
        "{stderr}"
    );
    // The current directory by its name: refused the same way, nothing left beside it.
    let (ok, _, stderr, _) = xtask_in(
        &site,
        &["seeds", "--inventory", "../cluster.toml", "--out", "."],
    );
    assert!(!ok);
    assert!(
        stderr.contains("holds files cargo xtask did not write"),
        "{stderr}"
    );
    assert_eq!(listing(dir.path()), before);
}

#[test]
fn an_out_directory_written_before_is_replaced_whole_and_says_so_in_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    inventory_in(dir.path());
    let seeds = ["seeds", "--inventory", "cluster.toml", "--out", "seeds"];
    let (ok, stdout, stderr, _) = xtask_in(dir.path(), &seeds);
    assert!(ok, "{stderr}");
    // The summary on stdout: what was made, where, how big, and what to do next.
    assert!(
        stdout.starts_with("cargo xtask seeds: made 1 thing in "),
        "{stdout}"
    );
    assert!(stdout.contains("  seeds   seeds  ("), "{stdout}");
    assert!(stdout.contains("16 files)"), "{stdout}");
    assert!(
        stdout.contains("next: attach <node>.cidata.img"),
        "{stdout}"
    );
    // A stale file in it goes with the next run; nothing temporary is left beside it.
    std::fs::write(dir.path().join("seeds/stale"), "old").unwrap();
    let (ok, stdout, stderr, _) = xtask_in(dir.path(), &[&seeds[..], &["--json"]].concat());
    assert!(ok, "{stderr}");
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["command"], "seeds");
    assert_eq!(json["items"][0]["kind"], "seeds");
    assert_eq!(json["items"][0]["files"], 16);
    assert!(!dir.path().join("seeds/stale").exists());
    let mut top = listing(dir.path());
    top.retain(|n| !n.contains('/'));
    assert_eq!(top, ["cluster.secret", "cluster.toml", "seeds"]);
}

#[test]
fn seeds_made_under_umask_000_are_private_and_so_is_the_new_secret() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    inventory_in(dir.path());
    let out = Command::new("sh")
        .args(["-c", "umask 000; exec \"$0\" \"$@\""])
        .arg(env!("CARGO_BIN_EXE_xtask"))
        .args(["seeds", "--inventory", "cluster.toml", "--out", "seeds"])
        .current_dir(dir.path())
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("note: made the cluster secret ")
            && stdout.contains("cluster.secret (mode 0600): keep it, it is the cluster's only secret; never commit it"),
        "{stdout}"
    );
    let secret = std::fs::read_to_string(dir.path().join("cluster.secret")).unwrap();
    assert!(!stdout.contains(secret.trim()), "{stdout}");
    let mode = |name: &str| {
        std::fs::metadata(dir.path().join(name))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("cluster.secret"), 0o600);
    assert_eq!(mode("seeds"), 0o700);
    for name in listing(&dir.path().join("seeds")) {
        let path = format!("seeds/{name}");
        if name.starts_with(xtask::files::MARKER) {
            continue;
        }
        let want = if dir.path().join(&path).is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(mode(&path), want, "{path}");
    }
}

#[test]
fn bad_inputs_are_named_in_about_a_second_before_any_build() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = dir.path().join("upstream");
    std::fs::create_dir_all(&upstream).unwrap();
    // A mistyped --upstream is an error, not "no upstream".
    let (ok, _, stderr, seconds) = xtask_in(dir.path(), &["repo", "--upstream", "upstrem"]);
    assert!(!ok);
    assert!(
        stderr.contains("--upstream upstrem: no such directory"),
        "{stderr}"
    );
    assert!(seconds < 5.0, "{seconds}");
    // A non-.deb in upstream/: named before the release build.
    std::fs::write(upstream.join("NOTES.txt"), "remember the milk").unwrap();
    let (ok, _, stderr, seconds) = xtask_in(dir.path(), &["repo", "--upstream", "upstream"]);
    assert!(!ok);
    assert!(
        stderr.contains("NOTES.txt is not a .deb") && !stderr.contains("==> debs"),
        "{stderr}"
    );
    assert!(seconds < 5.0, "{seconds}");
    std::fs::remove_file(upstream.join("NOTES.txt")).unwrap();
    // An image with a role needs mesos and marathon: both named with the fix, up front.
    let (ok, _, stderr, seconds) = xtask_in(
        dir.path(),
        &["image", "--role", "master", "--upstream", "upstream"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("the roles depend on mesos and marathon, which")
            && stderr.contains("put your mesos and marathon .debs in"),
        "{stderr}"
    );
    assert!(seconds < 5.0, "{seconds}");
    // A version dpkg would refuse.
    let (ok, _, stderr, _) = xtask_in(dir.path(), &["packer", "--version", "1.0;rm"]);
    assert!(!ok);
    assert!(stderr.contains("is not a Debian version"), "{stderr}");
    println!("bad input to error: {seconds:.2} s");
}

#[test]
fn the_inventory_checks_an_operator_needs() {
    let dir = tempfile::tempdir().unwrap();
    let example =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../cluster.toml")).unwrap();
    let good = std::fs::read_to_string(inventory_in(dir.path())).unwrap();
    let cases: [(&str, String, &str); 5] = [
        (
            "the example's placeholder key",
            example.clone(),
            "admin.ssh_keys[0]: this is the example's placeholder, not a key: put the contents of your ~/.ssh/id_ed25519.pub",
        ),
        (
            "a gateway outside the subnet",
            good.replace("# gateway = \"10.77.0.1\"", "gateway = \"10.78.0.1\""),
            "network.gateway: 10.78.0.1 is not in the nodes' subnet 10.77.0.0/24",
        ),
        (
            "nodes in two subnets",
            good.replace("10.77.0.21", "10.77.1.21"),
            "agents[0] (agent-1).address: 10.77.1.21 is not in 10.77.0.0/24",
        ),
        (
            "a TOML syntax error",
            good.replace("name = \"example\"", "name = example"),
            "line 6 (cluster.name): ",
        ),
        (
            "the loopback as the NIC",
            good.replace("interface = \"ens3\"", "interface = \"lo\""),
            "network.interface: `lo` is the loopback",
        ),
    ];
    for (what, text, says) in cases {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, text).unwrap();
        let (ok, _, stderr, _) = xtask_in(
            dir.path(),
            &["seeds", "--inventory", "bad.toml", "--out", "seeds"],
        );
        assert!(!ok, "{what}");
        assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
        assert!(stderr.contains(says), "{what}: {stderr}");
        assert!(!dir.path().join("seeds").exists(), "{what}");
    }
    // Images are amd64 only: an arm64 inventory is refused with the reason.
    std::fs::write(
        dir.path().join("arm.toml"),
        good.replace("architecture = \"amd64\"", "architecture = \"arm64\""),
    )
    .unwrap();
    let (ok, _, stderr, _) = xtask_in(
        dir.path(),
        &["image", "--role", "base", "--inventory", "arm.toml"],
    );
    assert!(!ok);
    assert!(
        stderr.contains("cluster.architecture is arm64 but this host is"),
        "{stderr}"
    );
}

/// Every file below `dir` with its mtime: what a run rewrote shows.
fn mtimes(dir: &std::path::Path) -> Vec<(String, std::time::SystemTime)> {
    listing(dir)
        .into_iter()
        .map(|name| {
            let modified = std::fs::metadata(dir.join(&name))
                .unwrap()
                .modified()
                .unwrap();
            (name, modified)
        })
        .collect()
}

#[test]
fn a_run_with_nothing_changed_rewrites_no_file_and_says_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = inventory_in(dir.path());
    let seeds = ["seeds", "--inventory", "cluster.toml", "--out", "seeds"];
    let (ok, _, stderr, _) = xtask_in(dir.path(), &seeds);
    assert!(ok, "{stderr}");
    let before = mtimes(&dir.path().join("seeds"));
    let (ok, stdout, stderr, _) = xtask_in(dir.path(), &seeds);
    assert!(ok, "{stderr}");
    assert!(
        stdout.starts_with("cargo xtask seeds: made 1 thing (1 unchanged) in "),
        "{stdout}"
    );
    assert!(stdout.contains("16 files, unchanged)"), "{stdout}");
    assert_eq!(
        mtimes(&dir.path().join("seeds")),
        before,
        "files were rewritten"
    );
    // A changed input makes the seeds again.
    let text = std::fs::read_to_string(&inventory).unwrap();
    std::fs::write(&inventory, text.replace("10.77.0.21", "10.77.0.22")).unwrap();
    let (ok, stdout, stderr, _) = xtask_in(dir.path(), &seeds);
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("unchanged"), "{stdout}");
    // So does a file the step did not write, which goes with the run.
    std::fs::write(dir.path().join("seeds/stale"), "old").unwrap();
    let (ok, stdout, stderr, _) = xtask_in(dir.path(), &seeds);
    assert!(ok, "{stderr}");
    assert!(!stdout.contains("unchanged"), "{stdout}");
    assert!(!dir.path().join("seeds/stale").exists());
}

#[test]
fn verify_takes_a_given_image_only_from_images_and_only_a_qcow2() {
    let dir = tempfile::tempdir().unwrap();
    let inventory = inventory_in(dir.path());
    let inventory = inventory.to_str().unwrap();
    let text = dir.path().join("agent.qcow2");
    std::fs::write(&text, "not an image\n").unwrap();
    let text = text.to_str().unwrap();
    // Another mode: the flag is named with the mode it goes with.
    let (ok, _, said, _) = xtask_in(
        dir.path(),
        &["verify", "--inventory", inventory, "--agent-image", text],
    );
    assert!(!ok);
    assert!(
        said.contains("--agent-image goes with --from images"),
        "{said}"
    );
    // A file that is not a qcow2 image: named, with the flag that fixes it, before any VM.
    let (ok, _, said, seconds) = xtask_in(
        dir.path(),
        &[
            "verify",
            "--inventory",
            inventory,
            "--from",
            "images",
            "--master-image",
            text,
            "--agent-image",
            text,
        ],
    );
    assert!(!ok);
    assert!(
        said.contains("agent.qcow2 is not a qcow2 image: give --master-image the .qcow2"),
        "{said}"
    );
    assert!(seconds < 5.0, "{seconds} s");
}
