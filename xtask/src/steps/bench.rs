//! `cargo xtask bench`: each step beside its floor (the least any tool must do) and its rival (what
//! an operator would use instead), run interleaved in one process tree so that the ratios hold on
//! a loaded machine, with the median of each. Not a test: it prints a table and fails only when a
//! contender fails.
//!
//! Rows: `seeds` (1,000 nodes vs writing the same files), `noop` (`dist --images` again with nothing
//! changed vs the plan's checks alone), `change` (one overlay file changed: `dist --images` vs
//! the master disk write alone), `index` (the repository's indexer vs apt-ftparchive,
//! dpkg-scanpackages, and sha256sum as the floor), `bake` (the native image command with cold
//! roots vs mmdebstrap of the same packages and sources, and vs `packer build` of the same
//! content from the base image and the bundle under qemu TCG), `boot` (under qemu TCG with seeds of a
//! one-master inventory: the base image to cloud-init's final line as the floor, the master to
//! serving, the agent to registered with a master on a bridge of their own). `--only scale`: verify's time and memory as
//! the cluster grows (`scale.rs`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::inputs::workspace::{self, Build};
use crate::plan::{Request, Target};
use crate::steps::image::Kind;
use crate::tool::Tools;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Row {
    Seeds,
    Noop,
    Change,
    Index,
    Bake,
    Boot,
    /// Not among the default rows (many minutes): verify on 1+1, 3+1, 5+3 nodes (`scale.rs`).
    Scale,
}

impl Row {
    /// Runs of a row unless `--runs` says otherwise: the slow rows once.
    fn default_runs(self) -> usize {
        match self {
            Row::Seeds | Row::Noop | Row::Index => 5,
            Row::Change => 3,
            Row::Bake | Row::Boot | Row::Scale => 1,
        }
    }
}

pub struct Options {
    pub only: Option<Row>,
    pub runs: Option<usize>,
    /// Your mesos and marathon (the images need them) [default: upstream/].
    pub upstream: Option<PathBuf>,
    /// The .debs the index row indexes [default: the closure's download cache].
    pub debs: Option<PathBuf>,
    /// The bake row's one role [default: master and agent].
    pub role: Option<Kind>,
}

/// One contender of a row: its name and one timed run.
pub type Contender<'a> = (&'a str, Box<dyn FnMut() -> Result<()> + 'a>);

/// Runs the contenders interleaved (`runs` rounds after a warm-up round when `warm_up`) and
/// prints each one's median and its ratio to the first, the floor. Returns the medians.
pub fn interleave(
    title: &str,
    runs: usize,
    warm_up: bool,
    contenders: &mut [Contender],
) -> Result<Vec<f64>> {
    println!(
        "\n{title}: {runs} run(s){}",
        if warm_up { " after a warm-up" } else { "" }
    );
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); contenders.len()];
    for round in 0..runs + usize::from(warm_up) {
        for (i, (name, run)) in contenders.iter_mut().enumerate() {
            let start = Instant::now();
            run().with_context(|| format!("{title}: {name} failed"))?;
            if round > 0 || !warm_up {
                times[i].push(start.elapsed());
            }
        }
    }
    let medians: Vec<f64> = times
        .iter()
        .map(|t| {
            let mut t = t.clone();
            t.sort();
            t[t.len() / 2].as_secs_f64()
        })
        .collect();
    println!("  {:<44} {:>10} {:>9}", "", "median s", "x floor");
    for ((name, _), median) in contenders.iter().zip(&medians) {
        println!(
            "  {name:<44} {median:>10.3} {:>9.2}",
            median / medians[0].max(1e-9)
        );
    }
    Ok(medians)
}

pub fn run(build: &Build, options: &Options) -> Result<()> {
    let rows = match options.only {
        Some(row) => vec![row],
        None => vec![
            Row::Seeds,
            Row::Noop,
            Row::Change,
            Row::Index,
            Row::Bake,
            Row::Boot,
        ],
    };
    if rows.contains(&Row::Bake) {
        // Named before any row's slow work, and before a scratch directory is kept for it.
        crate::tool::require(PACKER_TOOLS)
            .context("the bake row's rival is Packer's qemu build under TCG")?;
    }
    let scratch_base = workspace::root().join("target");
    std::fs::create_dir_all(&scratch_base)?;
    let scratch = tempfile::Builder::new()
        .prefix("xtask-bench-")
        .tempdir_in(&scratch_base)?;
    // apt's `_apt` user reads the repository of the images from here.
    std::fs::set_permissions(
        scratch.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    println!(
        "cargo xtask bench on {} cores, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    for row in rows {
        let runs = options.runs.unwrap_or(row.default_runs()).max(1);
        let dir = scratch.path().join(format!("{row:?}").to_lowercase());
        std::fs::create_dir_all(&dir)?;
        let ran = match row {
            Row::Seeds => seeds(build, &dir, runs),
            Row::Noop => noop(build, options, &dir, runs),
            Row::Change => change(build, options, &dir, runs),
            Row::Index => index(&build.tools, options.debs.clone(), runs).map(drop),
            Row::Bake => bake(build, options, &dir, runs),
            Row::Boot => boot(build, options, &dir, runs),
            Row::Scale => crate::steps::scale::run(build, options.upstream.clone(), &dir),
        };
        if let Err(error) = ran {
            // A failed row's logs (a VM's console, qemu's messages) are what tells why.
            let kept = scratch.keep();
            return Err(error.context(format!("its files are kept in {}", kept.display())));
        }
    }
    Ok(())
}

/// The example inventory grown to `nodes` nodes (one /16, agents numbered on).
fn big_inventory(nodes: usize) -> Result<crate::inputs::inventory::Inventory> {
    let example = workspace::root().join("cluster.toml");
    let mut text = std::fs::read_to_string(&example)
        .with_context(|| format!("cannot read {}", example.display()))?
        .replace("prefix_len = 24", "prefix_len = 16")
        .replace(
            "ExampleKeyReplaceWithYourOwnPublicKey0",
            "BenchmarkKeyOfNoOneAtAllForSeedsOnly00",
        );
    let masters = text.matches("[[masters]]").count();
    let agents = text.matches("[[agents]]").count();
    for i in agents..nodes.saturating_sub(masters) {
        text.push_str(&format!(
            "\n[[agents]]\nname = \"agent-{}\"\naddress = \"10.77.{}.{}\"\n",
            i + 1,
            1 + i / 200,
            10 + i % 200
        ));
    }
    crate::inputs::inventory::Inventory::parse(&text)
}

fn seeds(build: &Build, dir: &Path, runs: usize) -> Result<()> {
    use crate::steps::seeds;
    let inventory = big_inventory(1000)?;
    let epoch = build.source_date_epoch;
    let secret = crate::inputs::secrets::Secret::generate();
    let rendered = seeds::render(&inventory, &secret, epoch)?;
    let floor = dir.join("floor");
    let ours = dir.join("seeds");
    interleave(
        "seeds for 1,000 nodes",
        runs,
        true,
        &mut [
            (
                "writing the same files (floor)",
                Box::new(|| {
                    let _ = std::fs::remove_dir_all(&floor);
                    for seed in &rendered {
                        let node = floor.join(&seed.node.name);
                        std::fs::create_dir_all(&node)?;
                        for (name, text) in &seed.files {
                            std::fs::write(node.join(name), text)?;
                        }
                        crate::files::write_whole_sparse(
                            &floor.join(seeds::image_name(&seed.node)),
                            &seed.image,
                            0o600,
                        )?;
                    }
                    Ok(())
                }),
            ),
            (
                "cargo xtask seeds",
                Box::new(|| {
                    seeds::run(&seeds::Options {
                        inventory: inventory.clone(),
                        out: ours.clone(),
                        source_date_epoch: epoch,
                        secret: secret.clone(),
                    })
                    .map(drop)
                }),
            ),
        ],
    )?;
    Ok(())
}

/// `dist --images` into `dist` (what `cargo xtask dist --images --upstream DIR --out` would ask).
fn dist_images(options: &Options, dist: &Path) -> Request {
    let mut targets = vec![Target::Debs, Target::Repo, Target::Manifest];
    targets.extend([Kind::Base, Kind::Master, Kind::Agent].map(Target::Image));
    Request {
        command: "dist".into(),
        targets,
        upstream: options.upstream.clone(),
        dist: Some(dist.to_path_buf()),
        ..Request::default()
    }
}

fn pipeline(build: &Build, request: Request) -> Result<crate::summary::Summary> {
    request.plan(build)?.execute(build)
}

fn noop(build: &Build, options: &Options, dir: &Path, runs: usize) -> Result<()> {
    let dist = dir.join("dist");
    eprintln!("bench noop: a first dist --images (the roots are cached after the first time)");
    pipeline(build, dist_images(options, &dist))?;
    let manifest = std::fs::metadata(dist.join("manifest.json"))?.modified()?;
    interleave(
        "dist --images again, nothing changed",
        runs,
        false,
        &mut [
            (
                "the plan's checks alone (floor)",
                Box::new(|| dist_images(options, &dist).plan(build).map(drop)),
            ),
            (
                "cargo xtask dist --images",
                Box::new(|| {
                    let summary = pipeline(build, dist_images(options, &dist))?;
                    if summary.items.iter().any(|i| !i.unchanged) {
                        bail!("a no-op run made something again");
                    }
                    Ok(())
                }),
            ),
        ],
    )?;
    if std::fs::metadata(dist.join("manifest.json"))?.modified()? != manifest {
        bail!("a no-op run rewrote manifest.json");
    }
    Ok(())
}

/// A file in `overlays/master/` for the length of the change row, removed on every path.
struct OverlayFile(PathBuf);

impl Drop for OverlayFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut dir = self.0.parent().map(Path::to_path_buf);
        while let Some(d) = dir {
            if d.ends_with("overlays") || std::fs::remove_dir(&d).is_err() {
                break;
            }
            dir = d.parent().map(Path::to_path_buf);
        }
    }
}

fn change(build: &Build, options: &Options, dir: &Path, runs: usize) -> Result<()> {
    let dist = dir.join("dist");
    eprintln!("bench change: a first dist --images (the roots are cached after the first time)");
    pipeline(build, dist_images(options, &dist))?;
    let file = OverlayFile(workspace::root().join("overlays/master/etc/mesos-roles-bench/changed"));
    std::fs::create_dir_all(file.0.parent().context("no parent")?)?;
    let repo = dist.join("repo");
    let mut n = 0;
    interleave(
        "dist --images with one overlay file changed (master)",
        runs,
        false,
        &mut [
            (
                "the master disk write alone (floor)",
                Box::new(|| {
                    // The root is cached: image::run only writes the disk.
                    crate::steps::image::run(
                        &build.tools,
                        &image_options(build, Kind::Master, &repo, &dir.join("floor"))?,
                    )
                    .map(drop)
                }),
            ),
            (
                "cargo xtask dist --images",
                Box::new(|| {
                    n += 1;
                    std::fs::write(&file.0, format!("change {n}\n"))?;
                    let summary = pipeline(build, dist_images(options, &dist))?;
                    let redone: Vec<String> = summary
                        .items
                        .iter()
                        .filter(|i| !i.unchanged && i.kind == "image")
                        .map(|i| i.path.display().to_string())
                        .collect();
                    if redone.len() != 1 || !redone[0].contains("-master-") {
                        bail!("one overlay file of the master made these images again: {redone:?}");
                    }
                    Ok(())
                }),
            ),
        ],
    )?;
    Ok(())
}

/// The image options `dist` would give `kind`, with `repo` and `out`.
fn image_options(
    build: &Build,
    kind: Kind,
    repo: &Path,
    out: &Path,
) -> Result<crate::steps::image::Options> {
    Ok(crate::steps::image::Options {
        kind,
        version: workspace::default_version().to_string(),
        suite: workspace::host_suite()?,
        arch: workspace::host_arch(&build.tools)?,
        mirror: crate::inputs::mirror::debian()?,
        repo: repo.to_path_buf(),
        out: out.to_path_buf(),
        source_date_epoch: build.source_date_epoch,
    })
}

/// Packer's build of one role in the templates' directory: its arguments (the qemu source only,
/// TCG) and the output directory and qcow2 the templates name (`output-<name>/<name>.qcow2`,
/// `<name>` = `mesos-roles-<role>-<version>-<suite>`).
pub struct PackerBuild {
    pub args: Vec<String>,
    pub output_dir: PathBuf,
    pub image: PathBuf,
}

pub fn packer_build(templates: &Path, role: &str, version: &str, suite: &str) -> PackerBuild {
    let name = format!("mesos-roles-{role}-{version}-{suite}");
    let output_dir = templates.join(format!("output-{name}"));
    PackerBuild {
        args: [
            "build",
            "-only=qemu.mesos-roles",
            "-var",
            &format!("role={role}"),
            "-var",
            "accelerator=tcg",
            ".",
        ]
        .map(String::from)
        .to_vec(),
        image: output_dir.join(format!("{name}.qcow2")),
        output_dir,
    }
}

/// Moves `path`, if there, into `trash` under a name of its own: instant where removing it is not.
fn discard(path: &Path, trash: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    let into = tempfile::Builder::new()
        .prefix("discarded-")
        .tempdir_in(trash)?
        .keep();
    std::fs::rename(path, into.join("it"))
        .with_context(|| format!("cannot move {} into {}", path.display(), trash.display()))
}

/// What the bake row's Packer rival runs, checked before anything slow.
const PACKER_TOOLS: &[&str] = &["packer", "xorriso", "qemu-system-x86_64", "qemu-img"];

/// A file's size in MB, for the table.
fn megabytes(path: &Path) -> Result<f64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("no image at {}", path.display()))?
        .len() as f64
        / 1e6)
}

/// The bake row, per role: mmdebstrap of the same packages and sources (floor), the native
/// `cargo xtask image` with a cache of its own (cold roots), and Packer's qemu source building the
/// same content from the base image and the bundle (rival). Packer's inputs (the base image, the
/// bundle with the closure, the templates) are made once before the rounds, timed apart.
fn bake(build: &Build, options: &Options, dir: &Path, runs: usize) -> Result<()> {
    let kinds = match options.role {
        None => vec![Kind::Master, Kind::Agent],
        Some(Kind::Base) => bail!("--role base: the bake row bakes master or agent"),
        Some(kind) => vec![kind],
    };
    let repo = dir.join("repo");
    eprintln!("bench bake: the repository of the floor (mmdebstrap's source)");
    pipeline(
        build,
        Request {
            command: "repo".into(),
            targets: vec![Target::Repo],
            upstream: options.upstream.clone(),
            repo_out: Some(repo.clone()),
            debs_out: Some(dir.join("debs")),
            ..Request::default()
        },
    )?;
    eprintln!(
        "bench bake: Packer's inputs: the base image, the bundle (with the closure) and the templates"
    );
    let templates = dir.join("packer");
    let started = Instant::now();
    pipeline(
        build,
        Request {
            command: "packer".into(),
            targets: vec![Target::Image(Kind::Base), Target::Bundle, Target::Packer],
            upstream: options.upstream.clone(),
            images_out: Some(dir.join("base")),
            bundle_out: Some(dir.join("bundle")),
            packer_out: Some(templates.clone()),
            ..Request::default()
        },
    )?;
    let inputs = started.elapsed().as_secs_f64();
    println!(
        "\nPacker's inputs (base image, bundle with the closure, templates), made once: {inputs:.1} s"
    );
    let packer_cache = dir.join("packer-cache");
    let packer_cache_env = packer_cache.to_string_lossy().into_owned();
    for kind in kinds {
        let image = image_options(build, kind, &repo, &dir.join("images"))?;
        let native_image = image.out.join(crate::steps::image::file_name(&image));
        let packer = packer_build(&templates, kind.name(), &image.version, &image.suite);
        let packer_args: Vec<&str> = packer.args.iter().map(String::as_str).collect();
        let mut n = 0;
        let exe = std::env::current_exe()?;
        let floor_root = dir.join("floor-root");
        // What a run made is moved here (a rename, instant) and removed after the role's rounds:
        // removing a root or a cache took up to 42 s on a loaded disk, and is no contender's work.
        let trash = dir.join("trash");
        std::fs::create_dir_all(&trash)?;
        let medians = interleave(
            &format!("bake {} (cold roots)", kind.name()),
            runs,
            false,
            &mut [
                (
                    "mmdebstrap, same packages and sources (floor)",
                    Box::new(|| {
                        eprintln!("bench bake {}: mmdebstrap (floor)", kind.name());
                        discard(&floor_root, &trash)?;
                        crate::steps::image::install_alone(&build.tools, &image, &floor_root)?;
                        discard(&floor_root, &trash)
                    }),
                ),
                (
                    "cargo xtask image (whole command)",
                    Box::new(|| {
                        eprintln!("bench bake {}: cargo xtask image (native)", kind.name());
                        n += 1;
                        // A cache of its own: every root is built cold.
                        let cache = dir.join(format!("cache-{}-{n}", kind.name()));
                        let mut command = std::process::Command::new(&exe);
                        command
                            .args(["image", "--role", kind.name(), "--out"])
                            .arg(dir.join("images"))
                            .env("MESOS_ROLES_CACHE", &cache);
                        if let Some(upstream) = &options.upstream {
                            command.arg("--upstream").arg(upstream);
                        }
                        let output = crate::tool::command_output("bake an image", &mut command)?;
                        let progress = String::from_utf8_lossy(&output.stderr);
                        if !output.status.success() {
                            bail!("cargo xtask image failed:\n{progress}");
                        }
                        phases(&progress);
                        discard(&cache, &trash)
                    }),
                ),
                (
                    "packer build from the base image (rival)",
                    Box::new(|| {
                        eprintln!(
                            "bench bake {}: packer build (rival) in {}",
                            kind.name(),
                            templates.display()
                        );
                        // Packer refuses to build over an output directory.
                        discard(&packer.output_dir, &trash)?;
                        build.tools.run_in(
                            &format!("build the {} image with Packer", kind.name()),
                            "packer",
                            &packer_args,
                            &templates,
                            &[
                                ("CHECKPOINT_DISABLE", "1"),
                                ("PACKER_CACHE_DIR", &packer_cache_env),
                            ],
                        )?;
                        if !packer.image.is_file() {
                            bail!("packer wrote no {}", packer.image.display());
                        }
                        Ok(())
                    }),
                ),
            ],
        )?;
        std::fs::remove_dir_all(&trash)
            .with_context(|| format!("cannot remove {}", trash.display()))?;
        let (floor, native, packer_s) = (medians[0], medians[1], medians[2]);
        println!(
            "  native / floor = {:.2} (goal <= 1.2); native / Packer = {:.2} (goal <= 0.33: Packer >= 3x slower; Packer / native = {:.2})",
            native / floor.max(1e-9),
            native / packer_s.max(1e-9),
            packer_s / native.max(1e-9)
        );
        println!(
            "  Packer counting the base image and bundle: {:.1} s ({:.2}x native)",
            packer_s + inputs,
            (packer_s + inputs) / native.max(1e-9)
        );
        let (native_mb, packer_mb) = (megabytes(&native_image)?, megabytes(&packer.image)?);
        println!(
            "  qcow2: native {native_mb:.0} MB, Packer {packer_mb:.0} MB (native / Packer = {:.2})",
            native_mb / packer_mb.max(1e-9)
        );
    }
    Ok(())
}

/// The boot row's nodes: one master (its ZooKeeper serves alone) and one agent, on the /24 the VMs'
/// user-mode network has (and the agent row's bridge, where the bench reads the master from
/// BOOT_CLIENT).
const BOOT_MASTER: &str = "10.77.0.11";
const BOOT_AGENT: &str = "10.77.0.21";
const BOOT_CLIENT: &str = "10.77.0.250";

/// The boot row's inventory: one master and one agent, the admin's key `public`.
fn boot_inventory(suite: &str, arch: &str, public: &str) -> String {
    format!(
        "[cluster]\nname = \"bench\"\nsuite = \"{suite}\"\narchitecture = \"{arch}\"\n\
         [network]\nprefix_len = 24\ninterface = \"ens3\"\n\
         [admin]\nssh_keys = [\"{public}\"]\n\
         [[masters]]\nname = \"master-1\"\naddress = \"{BOOT_MASTER}\"\n\
         [[agents]]\nname = \"agent-1\"\naddress = \"{BOOT_AGENT}\"\n"
    )
}

/// The boot row: the images of `dist --images` (cached roots after the first time) booted under
/// qemu TCG with the seeds of a one-master inventory made for the row (an SSH key of its own),
/// one timed VM at a time (the agent row's master idles beside them). Floor: the base image (no Docker, no role) to cloud-init's final line with
/// the master's seed. Master: to serving (ZooKeeper answers `srvr`, Mesos' `/master/state` and
/// Marathon's `/v2/info` answer HTTP, whatever the status: without credentials they say 401).
/// Agent: to the master listing it active ([`AgentRow`]: both on a bridge of their own, the
/// master booted before the rounds and left serving).
fn boot(build: &Build, options: &Options, dir: &Path, runs: usize) -> Result<()> {
    use crate::cluster::usernet::{Spec, Vm, http_status, srvr};
    crate::tool::require(&[
        "qemu-system-x86_64",
        "qemu-img",
        "ssh",
        "ssh-keygen",
        "ip",
        "nsenter",
        "curl",
    ])?;
    let dist = dir.join("dist");
    eprintln!("bench boot: dist --images (the roots are cached after the first time)");
    let summary = pipeline(build, dist_images(options, &dist))?;
    let image = |kind: Kind| -> Result<PathBuf> {
        let infix = format!("-{}-", kind.name());
        summary
            .artifacts
            .iter()
            .find(|a| a.kind == "image" && a.path.to_string_lossy().contains(&infix))
            .map(|a| a.path.clone())
            .with_context(|| format!("dist --images made no {} image", kind.name()))
    };
    let (base, master, agent) = (
        image(Kind::Base)?,
        image(Kind::Master)?,
        image(Kind::Agent)?,
    );
    let (key, public) = crate::cluster::vm::throwaway_key(dir, "mesos-roles-bench")?;
    let inventory = dir.join("cluster.toml");
    std::fs::write(
        &inventory,
        boot_inventory(
            &workspace::host_suite()?,
            &workspace::host_arch(&build.tools)?,
            &public,
        ),
    )?;
    let seeds = dir.join("seeds");
    pipeline(
        build,
        Request {
            command: "seeds".into(),
            targets: vec![Target::Seeds],
            inventory: Some(inventory),
            seeds_out: Some(seeds.clone()),
            ..Request::default()
        },
    )?;
    let master_seed = seeds.join("master-1.cidata.img");
    let agent_seed = seeds.join("agent-1.cidata.img");
    let logs = dir.join("logs");
    eprintln!("bench boot: the agent row's master, booted on its bridge before the rounds");
    let mut agent_row = AgentRow::new(dir, &master, &master_seed, &key)?;
    let boot_vm = |name: &str, image: &Path, seed: &Path, address: &str, forward: &[u16]| {
        Vm::boot(&Spec {
            name,
            image,
            seed,
            address,
            key: &key,
            forward,
            logs: &logs,
        })
    };
    interleave(
        "boot under qemu TCG, qemu start to ready",
        runs,
        false,
        &mut [
            (
                "base image to cloud-init final (floor)",
                Box::new(|| {
                    let mut vm = boot_vm("base", &base, &master_seed, BOOT_MASTER, &[])?;
                    vm.wait_for_console(&["Cloud-init v.", "finished at"])
                        .map(drop)
                }),
            ),
            (
                "master to serving (ZooKeeper, Mesos, Marathon)",
                Box::new(|| {
                    let mut vm = boot_vm(
                        "master",
                        &master,
                        &master_seed,
                        BOOT_MASTER,
                        &[2181, 5050, 8080],
                    )?;
                    vm.wait_until("serving", |vm| {
                        srvr(vm.host_port(2181)).is_some()
                            && http_status(vm.host_port(5050), "/master/state").is_some()
                            && http_status(vm.host_port(8080), "/v2/info").is_some()
                    })
                    .map(drop)
                }),
            ),
            (
                "agent to registered with the master",
                Box::new(|| agent_row.registered(&agent, &agent_seed)),
            ),
        ],
    )?;
    Ok(())
}

/// The agent row's cluster: a bridge of its own (`netns::Net`, as verify's VMs have), the master
/// VM on it, serving, and a client namespace from which the bench reads the master's
/// `/master/state` (no credentials: Mesos' read-only endpoints are open). Each run boots a new
/// agent VM (a fresh disk: a new agent id) and ends when the master lists it active.
struct AgentRow {
    // Field order is drop order: the VMs power off before the bridge goes.
    master: crate::cluster::vm::Vm,
    agent_tap: String,
    hub: PathBuf,
    ssh: crate::cluster::vm::Ssh,
    dir: PathBuf,
    _net: crate::cluster::netns::Net,
}

impl AgentRow {
    fn new(dir: &Path, image: &Path, seed: &Path, key: &Path) -> Result<Self> {
        let mut net = crate::cluster::netns::Net::new()?;
        let client = net.add_node(BOOT_CLIENT)?;
        let master_tap = net.add_tap()?;
        let agent_tap = net.add_tap()?;
        let dir = dir.join("bridge");
        std::fs::create_dir_all(&dir)?;
        let ssh = crate::cluster::vm::Ssh {
            key: key.to_path_buf(),
            user: "admin".into(),
            netns: client,
            sockets: dir.clone(),
        };
        let hub = net.hub();
        let master = crate::cluster::vm::Vm::boot(&crate::cluster::vm::Spec {
            name: "master-1",
            address: BOOT_MASTER,
            image,
            seed,
            disk: &dir.join("master-1.qcow2"),
            tap: &master_tap,
            hub: &hub,
            mac: "52:54:00:6d:62:01".into(),
            memory_mib: 2048,
            kvm: false,
            ssh: ssh.clone(),
        })?;
        let row = Self {
            master,
            agent_tap,
            hub,
            ssh,
            dir,
            _net: net,
        };
        crate::steps::verify::until(Duration::from_secs(600), || {
            row.state()
                .context("the agent row's master does not answer /master/state")
        })?;
        Ok(row)
    }

    /// The ids of the active agents at the agent's address the master lists (none while it does
    /// not answer).
    fn agents(&self) -> Vec<String> {
        self.state()
            .map(|state| crate::steps::verify::active_agents_at(&state, BOOT_AGENT))
            .unwrap_or_default()
    }

    /// The master's `/master/state`, read with curl from the client namespace; None while it
    /// does not answer 200 with JSON.
    fn state(&self) -> Option<serde_json::Value> {
        let url = format!("http://{BOOT_MASTER}:5050/master/state");
        let out = crate::tool::command_output(
            "read the master's state",
            &mut crate::cluster::netns::command_in(
                &self.ssh.netns,
                &["curl", "-sf", "--max-time", "5", &url],
            ),
        )
        .ok()?;
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).ok())?
    }

    /// One run: a new agent VM from qemu's start until the master lists it active (an agent id
    /// it did not list before); the VM is powered off after.
    fn registered(&mut self, image: &Path, seed: &Path) -> Result<()> {
        self.master.still_running()?;
        let known = self.agents();
        let disk = self.dir.join("agent-1.qcow2");
        let _ = std::fs::remove_file(&disk);
        let mut agent = crate::cluster::vm::Vm::start(&crate::cluster::vm::Spec {
            name: "agent-1",
            address: BOOT_AGENT,
            image,
            seed,
            disk: &disk,
            tap: &self.agent_tap,
            hub: &self.hub,
            mac: "52:54:00:6d:62:02".into(),
            memory_mib: 2048,
            kvm: false,
            ssh: self.ssh.clone(),
        })?;
        let started = Instant::now();
        loop {
            agent.still_running()?;
            // Not `verify::until`: a VM that died must fail the run now, not after the timeout.
            if self.agents().iter().any(|id| !known.contains(id)) {
                return Ok(());
            }
            if started.elapsed() > Duration::from_secs(900) {
                bail!("the master does not list the agent after 900 s");
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
}

/// Where a run's time went: its progress lines' finished phases (`<== name (Ns)`), as a table.
fn phases(progress: &str) {
    println!("  phases of the native bake:");
    for line in progress.lines() {
        let Some(done) = line.trim_start().strip_prefix("<== ") else {
            continue;
        };
        let depth = (line.len() - line.trim_start().len()) / 2;
        if let Some((name, seconds)) = done.rsplit_once(" (") {
            let name: String = name.chars().take(60).collect();
            println!(
                "    {}{name:<width$} {:>8}",
                "  ".repeat(depth),
                seconds.trim_end_matches(')'),
                width = 60 - 2 * depth
            );
        }
    }
}

/// The indexing row: the repository's indexer against `apt-ftparchive packages` and
/// `dpkg-scanpackages` over the same .debs (by default the closure's downloads: `cargo xtask repo
/// --closure` fills them), `sha256sum` as the floor. Returns the medians (floor, indexer,
/// apt-ftparchive, dpkg-scanpackages). `cargo bench -p xtask --bench index` runs it too.
pub fn index(tools: &Tools, dir: Option<PathBuf>, runs: usize) -> Result<Vec<f64>> {
    let arch = workspace::host_arch(tools)?;
    let dir = match dir {
        Some(dir) => dir,
        None => crate::steps::closure::cache_for(&workspace::host_suite()?, &arch)
            .join("cache/archives"),
    };
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| {
            format!(
                "cannot read {}: run cargo xtask repo --closure first, or give a directory of .debs",
                dir.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    debs.sort();
    if debs.is_empty() {
        bail!("no .debs in {}", dir.display());
    }
    let bytes: u64 = debs
        .iter()
        .map(|d| std::fs::metadata(d).map(|m| m.len()).unwrap_or(0))
        .sum();
    let dir_arg = dir.to_string_lossy().into_owned();
    let mut sha256sum_args = vec!["--".to_string()];
    sha256sum_args.extend(debs.iter().map(|d| d.to_string_lossy().into_owned()));
    let sha256sum_args: Vec<&str> = sha256sum_args.iter().map(String::as_str).collect();
    let nonempty = |out: String, name: &str| match out.is_empty() {
        true => bail!("{name} produced nothing"),
        false => Ok(()),
    };
    let medians = interleave(
        &format!(
            "index {} .debs ({:.1} MB in {})",
            debs.len(),
            bytes as f64 / 1e6,
            dir.display()
        ),
        runs,
        true,
        &mut [
            (
                "sha256sum (floor)",
                Box::new(|| {
                    nonempty(
                        tools.read("hash the files", "sha256sum", &sha256sum_args)?,
                        "sha256sum",
                    )
                }),
            ),
            (
                "mesos-roles indexer",
                Box::new(|| {
                    nonempty(
                        crate::steps::repo::packages_index(&debs, &arch)?,
                        "the indexer",
                    )
                }),
            ),
            (
                "apt-ftparchive packages (rival)",
                Box::new(|| {
                    nonempty(
                        tools.read(
                            "index with apt-ftparchive",
                            "apt-ftparchive",
                            &["packages", &dir_arg],
                        )?,
                        "apt-ftparchive",
                    )
                }),
            ),
            (
                "dpkg-scanpackages (rival)",
                Box::new(|| {
                    nonempty(
                        tools.read(
                            "index with dpkg-scanpackages",
                            "dpkg-scanpackages",
                            &["--multiversion", &dir_arg, "/dev/null"],
                        )?,
                        "dpkg-scanpackages",
                    )
                }),
            ),
        ],
    )?;
    println!(
        "  indexer / apt-ftparchive = {:.2}, indexer / sha256sum = {:.2}",
        medians[1] / medians[2],
        medians[1] / medians[0]
    );
    Ok(medians)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Packer rival runs the qemu source alone under TCG and looks for the qcow2 where the
    /// templates write it: a name out of step with them would fail the row after the build.
    /// A discarded directory leaves its place free at once and is in the trash; a missing one is
    /// no error.
    #[test]
    fn discard_moves_into_the_trash() {
        let dir = tempfile::tempdir().unwrap();
        let (made, trash) = (dir.path().join("root"), dir.path().join("trash"));
        std::fs::create_dir_all(made.join("etc")).unwrap();
        std::fs::create_dir_all(&trash).unwrap();
        discard(&made, &trash).unwrap();
        discard(&made, &trash).unwrap();
        assert!(!made.exists());
        let kept: Vec<_> = std::fs::read_dir(&trash).unwrap().collect();
        assert_eq!(kept.len(), 1);
    }

    #[test]
    fn the_packer_build_is_the_qemu_source_and_its_output_is_where_the_templates_put_it() {
        let build = packer_build(Path::new("/scratch/packer"), "agent", "1.2.3", "bookworm");
        assert_eq!(
            build.args,
            [
                "build",
                "-only=qemu.mesos-roles",
                "-var",
                "role=agent",
                "-var",
                "accelerator=tcg",
                "."
            ]
        );
        assert_eq!(
            build.output_dir,
            Path::new("/scratch/packer/output-mesos-roles-agent-1.2.3-bookworm")
        );
        assert_eq!(
            build.image,
            Path::new(
                "/scratch/packer/output-mesos-roles-agent-1.2.3-bookworm/mesos-roles-agent-1.2.3-bookworm.qcow2"
            )
        );
        let template = std::fs::read_to_string(
            workspace::root()
                .join(crate::steps::packer::TEMPLATES)
                .join("mesos-roles.pkr.hcl"),
        )
        .unwrap();
        for line in [
            r#"source "qemu" "mesos-roles" {"#,
            r#"variable "accelerator" {"#,
            r#"name = "mesos-roles-${var.role}-${var.version}-${var.suite}""#,
            r#"output_directory = "output-${local.name}""#,
            r#"vm_name          = "${local.name}.qcow2""#,
        ] {
            assert!(template.contains(line), "the template lacks {line}");
        }
    }

    /// The boot row's inventory is only read after a cold `dist --images`: a field it lacks would
    /// fail the row many minutes in.
    #[test]
    fn the_boot_inventory_makes_seeds() {
        let text = boot_inventory(
            "bookworm",
            "amd64",
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBenchmarkKeyOfNoOneAtAllForSeedsOnly00 bench",
        );
        let inventory = crate::inputs::inventory::Inventory::parse(&text).unwrap();
        let secret = crate::inputs::secrets::Secret::generate();
        let seeds = crate::steps::seeds::render(&inventory, &secret, 0).unwrap();
        let names: Vec<&str> = seeds.iter().map(|s| s.node.name.as_str()).collect();
        assert_eq!(names, ["master-1", "agent-1"]);
    }
}
