//! `cargo xtask repo`: a signed apt repository of the role packages and every .deb in `upstream/`.
//!
//! First the plan, all in memory: read each .deb's control file, hash it, place it in the pool, write
//! the indices and the Release, sign it (InRelease, Release.gpg), export the keyring and the example
//! source. Then the writing: everything goes into a temporary directory beside `--out`, which is
//! renamed into place at the end, so a bad input leaves `--out` as it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::files::write_whole;
use crate::formats::apt_index::{self, Fields, PoolEntry, Suite};
use crate::formats::manifest::Artifact;
use crate::formats::signing::{KeySource, Signer};
use crate::progress::Step;

/// The keyring file beside the repository, and where the example source expects it on a node.
pub const KEYRING: &str = "mesos-roles-archive-keyring.gpg";
/// The example deb822 source beside the repository.
pub const SOURCES: &str = "mesos-roles.sources";
const ORIGIN: &str = "mesos-roles";

pub struct Options {
    /// `bookworm` or `trixie`.
    pub suite: String,
    /// The binary architecture besides `all` (the host's, from dpkg).
    pub arch: String,
    /// The repository directory: `dists/`, `pool/`, the keyring and the example source.
    pub out: PathBuf,
    /// The role packages (the output of the debs step).
    pub debs: Vec<PathBuf>,
    /// The operator's .debs to publish too (mesos and marathon), as `read_upstream` found them.
    pub upstream: Vec<PathBuf>,
    /// Where they came from (named in the closure's errors).
    pub upstream_dir: PathBuf,
    pub signing_key: KeySource,
    pub source_date_epoch: u64,
    /// Also publish the dependency closure of both roles for a minbase root of the suite, resolved
    /// and downloaded by apt from the host's Debian mirror (see `closure.rs`).
    pub closure: bool,
}

/// One package of the repository.
#[derive(Clone)]
struct Package {
    name: String,
    arch: String,
    input: PathBuf,
    control: Fields,
    pool: PoolEntry,
}

/// A file of the repository, relative to its root.
enum Content {
    Bytes(Vec<u8>),
    /// A pool .deb, copied from its input.
    Copy(PathBuf),
}

struct File {
    path: String,
    kind: &'static str,
    sha256: String,
    content: Content,
}

impl File {
    fn bytes(path: String, kind: &'static str, bytes: Vec<u8>) -> Self {
        let sha256 = Artifact::new(kind, PathBuf::new(), &bytes).sha256;
        Self {
            path,
            kind,
            sha256,
            content: Content::Bytes(bytes),
        }
    }
}

/// What the repository is made of, or `None` with the closure (whatever the mirror serves now).
pub fn inputs(options: &Options) -> Result<Option<String>> {
    if options.closure {
        return Ok(None);
    }
    let mut inputs = crate::stamps::Inputs::new("repo")?
        .text("suite", &options.suite)
        .text("arch", &options.arch)
        .text("epoch", options.source_date_epoch);
    for deb in options.debs.iter().chain(&options.upstream) {
        inputs = inputs.file(deb)?;
    }
    let key = match &options.signing_key {
        KeySource::File(path) | KeySource::Development(path) => path,
    };
    Ok(Some(inputs.file(key)?.finish()))
}

/// Builds the repository into `options.out` (replacing what was there) and returns what it wrote.
pub fn run(options: &Options) -> Result<Vec<Artifact>> {
    crate::inputs::workspace::check_suite(&options.suite)?;
    let step = Step::start(format!(
        "repo {} {} -> {}",
        options.suite,
        options.arch,
        options.out.display()
    ));
    let mut packages = read_packages(options, &step)?;
    let signer = Signer::load(&options.signing_key)?;
    if signer.development {
        step.note(format!(
            "signing with the DEVELOPMENT key {} ({}): for testing only; give --signing-key or {} for a real repository",
            signer.fingerprint(),
            signer.path.display(),
            crate::formats::signing::KEY_VARIABLE
        ));
    } else {
        step.note(format!(
            "signing with {} ({})",
            signer.fingerprint(),
            signer.path.display()
        ));
    }
    if options.closure {
        packages = with_closure(options, packages, &signer, &step)?;
    }
    let files = plan(options, packages, &signer)?;
    write(&options.out, &files)?;
    step.note(format!(
        "{} files; apt source example: {}",
        files.len(),
        options.out.join(SOURCES).display()
    ));
    step.done();
    Ok(files
        .into_iter()
        .map(|f| Artifact {
            kind: f.kind.into(),
            path: options.out.join(&f.path),
            sha256: f.sha256,
        })
        .collect())
}

/// Every input .deb: the role packages, then `upstream/` in name order. Sorted by package name and
/// pool path; two inputs that would land on the same pool file are an error.
fn read_packages(options: &Options, step: &Step) -> Result<Vec<Package>> {
    let mut inputs = options.debs.clone();
    inputs.extend(options.upstream.iter().cloned());
    let mut by_pool: BTreeMap<String, Package> = BTreeMap::new();
    for input in inputs {
        let package = read_package(&input, &options.arch)?;
        if let Some(other) = by_pool.get(&package.pool.filename) {
            bail!(
                "{} and {} are both {} {} ({}): keep one of them",
                other.input.display(),
                input.display(),
                package.name,
                package.control.get("Version").unwrap_or_default(),
                package.arch
            );
        }
        by_pool.insert(package.pool.filename.clone(), package);
    }
    let mut packages: Vec<Package> = by_pool.into_values().collect();
    packages.sort_by(|a, b| (&a.name, &a.pool.filename).cmp(&(&b.name, &b.pool.filename)));
    for package in &packages {
        step.note(format!(
            "{} <- {}",
            package.pool.filename,
            package.input.display()
        ));
    }
    Ok(packages)
}

/// `packages` plus the dependency closure of both roles. apt resolves it against the Debian mirror
/// and a signed repository of `packages` written into a scratch directory of the cache (the
/// packages the project brings are visible to apt like any other source, and trusted the same way).
fn with_closure(
    options: &Options,
    packages: Vec<Package>,
    signer: &Signer,
    step: &Step,
) -> Result<Vec<Package>> {
    let cache = crate::steps::closure::cache_for(&options.suite, &options.arch);
    std::fs::create_dir_all(&cache)
        .with_context(|| format!("cannot create the cache {}", cache.display()))?;
    let scratch = tempfile::Builder::new()
        .prefix("local-")
        .tempdir_in(&cache)
        .with_context(|| format!("cannot create a scratch directory in {}", cache.display()))?;
    // apt's `_apt` user reads file: sources.
    std::fs::set_permissions(
        scratch.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )?;
    let local = scratch.path().join("repo");
    write(&local, &plan(options, packages.clone(), signer)?)?;
    let local_names = packages.iter().map(|p| p.name.clone()).collect();
    let closure = crate::steps::closure::resolve(
        &crate::steps::closure::Options {
            suite: &options.suite,
            arch: &options.arch,
            roles: &crate::inputs::packaging::ROLES,
            local: &local,
            keyring: &local.join(KEYRING),
            local_names: &local_names,
            upstream: Some(&options.upstream_dir),
            cache,
        },
        step,
    )?;
    for (role, (count, bytes)) in &closure.per_role {
        step.note(format!(
            "{role} on a minbase {} root: {count} packages, {:.1} MB",
            options.suite,
            *bytes as f64 / 1e6
        ));
    }
    let mut by_pool: BTreeMap<String, Package> = packages
        .into_iter()
        .map(|p| (p.pool.filename.clone(), p))
        .collect();
    for member in &closure.members {
        let package = read_package(&member.deb, &options.arch)?;
        if let Some(other) = by_pool.get(&package.pool.filename) {
            bail!(
                "{} from the Debian archive is also given as {}: remove it from upstream/",
                member.deb.display(),
                other.input.display()
            );
        }
        by_pool.insert(package.pool.filename.clone(), package);
    }
    let mut packages: Vec<Package> = by_pool.into_values().collect();
    packages.sort_by(|a, b| (&a.name, &a.pool.filename).cmp(&(&b.name, &b.pool.filename)));
    Ok(packages)
}

/// The `Packages` text of `debs` exactly as the repository step makes it (read each control file,
/// hash, place in the pool, write the stanza), for the indexing benchmark (`xtask/benches/index.rs`).
pub fn packages_index(debs: &[PathBuf], arch: &str) -> Result<String> {
    let mut stanzas = Vec::new();
    for deb in debs {
        let package = read_package(deb, arch)?;
        stanzas.push(apt_index::stanza(&package.control, &package.pool));
    }
    Ok(stanzas.join("\n"))
}

/// The .debs of `upstream/` (absent: none), each checked as the repository will read it, with its
/// package name. Every file there must be a .deb for `arch`.
pub fn read_upstream(dir: &Path, arch: &str) -> Result<Vec<(String, PathBuf)>> {
    upstream_debs(dir)?
        .into_iter()
        .map(|path| {
            // Only the control file: the repository step reads and hashes the whole package.
            let file = std::fs::File::open(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let (control, _) = checked_control(&path, std::io::BufReader::new(file), arch)?;
            Ok((control.required("Package")?.to_string(), path))
        })
        .collect()
}

/// The .debs of `upstream/` (absent: none). Every file there must be a .deb.
fn upstream_debs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => bail!("cannot read the upstream directory {}: {e}", dir.display()),
    };
    let mut debs = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read {}", dir.display()))?
            .path();
        if !path.is_file() || path.extension().is_none_or(|e| e != "deb") {
            bail!(
                "{} is not a .deb: {} holds only the .deb packages to publish (your mesos and marathon); move it elsewhere",
                path.display(),
                dir.display()
            );
        }
        debs.push(path);
    }
    debs.sort();
    Ok(debs)
}

fn read_package(input: &Path, arch: &str) -> Result<Package> {
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let (control, filename) = checked_control(input, bytes.as_slice(), arch)?;
    Ok(Package {
        name: control.required("Package")?.to_string(),
        arch: control.required("Architecture")?.to_string(),
        input: input.to_path_buf(),
        control,
        pool: PoolEntry::new(filename, &bytes),
    })
}

/// The control fields of the .deb `input` (read from `deb`) and its pool path, checked: an ar
/// archive, a valid name and version, an architecture this repository has.
fn checked_control(input: &Path, deb: impl std::io::Read, arch: &str) -> Result<(Fields, String)> {
    check_ar_magic(input)?;
    let bad = |e: anyhow::Error| {
        anyhow::anyhow!(
            "{} is not a usable .deb: {e:#}; replace it with a real package or remove it",
            input.display()
        )
    };
    let control = crate::formats::deb::read_control(deb)
        .and_then(|text| Fields::parse(&text))
        .map_err(bad)?;
    let filename = apt_index::pool_path(&control).map_err(bad)?;
    let name = control.required("Package")?.to_string();
    crate::formats::deb::check_package_name(&name).map_err(|e| {
        anyhow::anyhow!(
            "{}: its Package {e}: rebuild it with a valid name, or remove it",
            input.display()
        )
    })?;
    crate::formats::deb::check_version(control.required("Version")?).map_err(|e| {
        anyhow::anyhow!(
            "{}: its Version {e}: rebuild it, or remove it",
            input.display()
        )
    })?;
    let package_arch = control.required("Architecture")?.to_string();
    if package_arch != arch && package_arch != "all" {
        bail!(
            "{} is for {package_arch}, but this repository is for {arch} and all: remove it, or build the repository on a {package_arch} host",
            input.display()
        );
    }
    Ok((control, filename))
}

/// A .deb is an `ar` archive: its first 8 bytes say so, before the whole file is read.
fn check_ar_magic(input: &Path) -> Result<()> {
    use std::io::Read;
    let mut magic = [0u8; 8];
    let read = std::fs::File::open(input)
        .and_then(|mut f| f.read_exact(&mut magic))
        .with_context(|| format!("cannot read {}", input.display()));
    if read.is_err() || &magic != b"!<arch>\n" {
        bail!(
            "{} is not a .deb (it does not start as an ar archive): replace it with a real package or remove it",
            input.display()
        );
    }
    Ok(())
}

/// Every file of the repository, in memory (pool .debs as copies of their inputs).
fn plan(options: &Options, packages: Vec<Package>, signer: &Signer) -> Result<Vec<File>> {
    let dists = format!("dists/{}", options.suite);
    let architectures = vec![options.arch.clone(), "all".to_string()];
    let suite = Suite {
        origin: ORIGIN,
        label: ORIGIN,
        suite: &options.suite,
        architectures: &architectures,
        source_date_epoch: options.source_date_epoch,
    };
    let mut files = Vec::new();
    // Release lists every index by its path under dists/<suite>/.
    let mut indices: Vec<(String, Vec<u8>)> = Vec::new();
    for arch in &architectures {
        // binary-<arch> holds that architecture's packages and the `all` ones, as Debian's does.
        let stanzas: Vec<String> = packages
            .iter()
            .filter(|p| &p.arch == arch || p.arch == "all")
            .map(|p| apt_index::stanza(&p.control, &p.pool))
            .collect();
        let dir = format!("main/binary-{arch}");
        for (name, bytes) in apt_index::packages_files(&stanzas)? {
            indices.push((format!("{dir}/{name}"), bytes));
        }
        let release = apt_index::arch_release(&suite, arch);
        indices.push((format!("{dir}/Release"), release.into_bytes()));
    }
    let release = apt_index::release(&suite, &indices)?;
    let inrelease = signer.clearsign(&release, options.source_date_epoch)?;
    let release_gpg = signer.detach_sign(release.as_bytes(), options.source_date_epoch)?;
    for (path, bytes) in indices {
        files.push(File::bytes(format!("{dists}/{path}"), "repo-index", bytes));
    }
    files.push(File::bytes(
        format!("{dists}/Release"),
        "repo-index",
        release.into_bytes(),
    ));
    files.push(File::bytes(
        format!("{dists}/InRelease"),
        "repo-signature",
        inrelease.into_bytes(),
    ));
    files.push(File::bytes(
        format!("{dists}/Release.gpg"),
        "repo-signature",
        release_gpg.into_bytes(),
    ));
    for package in packages {
        files.push(File {
            path: package.pool.filename,
            kind: "repo-deb",
            sha256: package.pool.sha256,
            content: Content::Copy(package.input),
        });
    }
    files.push(File::bytes(
        KEYRING.into(),
        "keyring",
        signer.public_keyring()?,
    ));
    files.push(File::bytes(
        SOURCES.into(),
        "apt-source",
        sources_example(&options.suite).into_bytes(),
    ));
    Ok(files)
}

/// The deb822 source a node uses, trusting only this repository's key (no `trusted=yes`).
pub fn sources_example(suite: &str) -> String {
    format!(
        "# The mesos-roles apt repository. On a node: copy this directory (the one holding dists/ and\n\
         # pool/) to /srv/mesos-roles, or serve it over HTTP and change URIs; then\n\
         #   install -m 0644 {KEYRING} /usr/share/keyrings/\n\
         #   install -m 0644 {SOURCES} /etc/apt/sources.list.d/\n\
         Types: deb\n\
         URIs: file:/srv/mesos-roles\n\
         Suites: {suite}\n\
         Components: main\n\
         Signed-By: /usr/share/keyrings/{KEYRING}\n"
    )
}

/// Writes every file into a temporary directory beside `out`, then puts it in `out`'s place.
fn write(out: &Path, files: &[File]) -> Result<()> {
    crate::files::replace_dir(out, |new| {
        for file in files {
            let path = new.join(&file.path);
            match &file.content {
                Content::Bytes(bytes) => write_whole(&path, bytes)?,
                Content::Copy(input) => {
                    let bytes = std::fs::read(input)
                        .with_context(|| format!("cannot read {}", input.display()))?;
                    if Artifact::new("", PathBuf::new(), &bytes).sha256 != file.sha256 {
                        bail!(
                            "{} changed while the repository was being built: run again",
                            input.display()
                        );
                    }
                    write_whole(&path, &bytes)?;
                }
            }
        }
        // Directories world-readable: apt's `_apt` user reads file: repositories.
        for dir in walk_dirs(new)? {
            std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        }
        Ok(())
    })
}

/// `dir` and every directory below it.
fn walk_dirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = vec![dir.to_path_buf()];
    let mut i = 0;
    while i < dirs.len() {
        for entry in std::fs::read_dir(&dirs[i])? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            }
        }
        i += 1;
    }
    Ok(dirs)
}
