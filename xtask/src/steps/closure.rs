//! `--closure`: every package a minbase root of the suite lacks to install either role, resolved by
//! apt itself against the build host's Debian mirror and the repository's own packages (the roles and
//! `upstream/`), downloaded once into the cache and reused.
//!
//! apt runs with a private configuration (`APT_CONFIG`; nothing of the host's apt.conf.d, sources or
//! state): a generated deb822 source for the suite trusting the host's Debian archive keyring, and a
//! second one for the repository's own packages, signed like the real repository (no `trusted=yes`).
//! "What a minbase root lacks" is resolved in two passes, the way mmdebstrap builds minbase: first
//! the minbase set (`?essential`, `?priority(required)` and apt) against an empty dpkg status, then
//! each role against a dpkg status that has exactly that set installed. So the closure is complete
//! for a minbase root of the mirror's current point release.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::files::write_whole;
use crate::progress::Step;
use crate::tool::Tools;

/// The host's Debian archive keyring: what the generated Debian source trusts.
pub const DEBIAN_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

pub struct Options<'a> {
    pub suite: &'a str,
    pub arch: &'a str,
    /// The packages to resolve, one apt run each (the roles conflict with each other).
    pub roles: &'a [&'a str],
    /// A signed repository of the packages the project brings (roles, `upstream/`), with its keyring.
    pub local: &'a Path,
    pub keyring: &'a Path,
    /// Package names the local repository holds: they are never part of the closure.
    pub local_names: &'a BTreeSet<String>,
    /// Named in the error for a dependency nobody has.
    pub upstream: Option<&'a Path>,
    /// Where apt keeps its lists and downloads (under the cache).
    pub cache: PathBuf,
}

/// One package of the closure, as apt named it and as it lies in the cache.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    pub name: String,
    pub version: String,
    pub arch: String,
    pub deb: PathBuf,
}

pub struct Closure {
    /// Every package any role needs, sorted.
    pub members: Vec<Member>,
    /// Per role: how many packages and bytes it needs beyond minbase (for the report).
    pub per_role: BTreeMap<String, (usize, u64)>,
}

/// The cache directory of one suite and architecture.
pub fn cache_for(suite: &str, arch: &str) -> PathBuf {
    crate::inputs::workspace::cache_dir()
        .join("apt")
        .join(format!("{suite}-{arch}"))
}

/// One build at a time per cache: apt's lists, status and sources there are shared, and the
/// status is empty while the minbase set is resolved. Held until the file is dropped.
pub fn lock(cache: &Path) -> Result<std::fs::File> {
    std::fs::create_dir_all(cache)
        .with_context(|| format!("cannot create the cache {}", cache.display()))?;
    let lock = std::fs::File::create(cache.join("lock"))
        .with_context(|| format!("cannot create a lock in {}", cache.display()))?;
    lock.lock()
        .with_context(|| format!("cannot lock {}", cache.display()))?;
    Ok(lock)
}

pub fn resolve(options: &Options, step: &Step) -> Result<Closure> {
    let step = step.child(format!(
        "closure for {} on {} {} (apt, cache {})",
        options.roles.join(", "),
        options.suite,
        options.arch,
        options.cache.display()
    ));
    let tools = Tools::new()?;
    let _lock = lock(&options.cache)?;
    let apt = Apt::configure(options)?;
    apt.run(&tools, "update the closure's package lists", &["update"])?;

    // Pass 1: the minbase set against an empty status, without Recommends as mmdebstrap does
    // (apt's would bring ca-certificates and libssl3, which a minbase root lacks).
    apt.set_status("")?;
    let minbase = apt.simulate(
        &tools,
        "resolve the minbase set of the suite",
        &[
            "-o",
            "APT::Install-Recommends=false",
            "?essential",
            "?priority(required)",
            "apt",
        ],
        options,
    )?;
    let wanted: Vec<String> = minbase
        .iter()
        .map(|(name, version, _)| format!("{name}={version}"))
        .collect();
    let wanted: Vec<&str> = wanted.iter().map(String::as_str).collect();
    let mut args = vec!["show", "--no-all-versions"];
    args.extend(&wanted);
    let stanzas = apt.read(
        &tools,
        "read the minbase set's control stanzas",
        "apt-cache",
        &args,
    )?;
    let status: String = stanzas
        .split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|s| format!("Status: install ok installed\n{}\n\n", s.trim_end()))
        .collect();
    apt.set_status(&status)?;
    step.note(format!(
        "a minbase root of {} has {} packages",
        options.suite,
        minbase.len()
    ));

    // Pass 2: each role against that status; then download what it needs.
    let mut all = BTreeSet::new();
    let mut per_role = BTreeMap::new();
    for role in options.roles {
        let needed: Vec<(String, String, String)> = apt
            .simulate(
                &tools,
                &format!("resolve {role} on a minbase root"),
                &[role],
                options,
            )?
            .into_iter()
            .filter(|(name, _, _)| !options.local_names.contains(name))
            .collect();
        step.note(format!(
            "{role}: {} packages beyond minbase; downloading what the cache lacks",
            needed.len()
        ));
        apt.run(
            &tools,
            &format!("download the closure of {role}"),
            &["install", "--download-only", "--yes", role],
        )?;
        let mut bytes = 0;
        let count = needed.len();
        for (name, version, arch) in needed {
            let deb = apt.archive(&name, &version, &arch);
            let size = std::fs::metadata(&deb)
                .with_context(|| {
                    format!(
                        "apt did not leave {} in {}: remove that directory and run again",
                        deb.display(),
                        apt.archives().display()
                    )
                })?
                .len();
            bytes += size;
            all.insert(Member {
                name,
                version,
                arch,
                deb,
            });
        }
        per_role.insert(role.to_string(), (count, bytes));
    }
    // Downloads the mirror no longer has (older versions) go, so the cache does not grow forever.
    apt.run(
        &tools,
        "prune downloads the mirror no longer has",
        &["autoclean"],
    )?;
    let members: Vec<Member> = all.into_iter().collect();
    let total: u64 = members
        .iter()
        .map(|m| std::fs::metadata(&m.deb).map(|m| m.len()).unwrap_or(0))
        .sum();
    step.note(format!(
        "closure: {} packages, {:.1} MB",
        members.len(),
        total as f64 / 1e6
    ));
    step.done();
    Ok(Closure { members, per_role })
}

/// apt with the closure's private configuration.
struct Apt {
    dir: PathBuf,
    config: String,
}

impl Apt {
    fn configure(options: &Options) -> Result<Self> {
        if !Path::new(DEBIAN_KEYRING).exists() {
            bail!(
                "{DEBIAN_KEYRING} is missing: the closure trusts the Debian archive through it; apt-get install debian-archive-keyring"
            );
        }
        let mirror = crate::inputs::mirror::debian()?;
        let dir = options.cache.clone();
        for sub in [
            "state/lists/partial",
            "cache/archives/partial",
            "sources.d",
            "empty",
        ] {
            std::fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("cannot create {}", dir.join(sub).display()))?;
        }
        let d = dir.display();
        let arch = options.arch;
        write_whole(
            &dir.join("debian.sources"),
            source(&mirror, options.suite, Path::new(DEBIAN_KEYRING)).as_bytes(),
        )?;
        write_whole(
            &dir.join("sources.d/local.sources"),
            source(
                &format!("file:{}", options.local.display()),
                options.suite,
                options.keyring,
            )
            .as_bytes(),
        )?;
        let config = format!(
            "// Generated by cargo xtask repo --closure: apt sees nothing of the host's configuration.\n\
             Dir::Etc::Main \"/dev/null\";\n\
             Dir::Etc::Parts \"{d}/empty\";\n\
             Dir::Etc::SourceList \"{d}/debian.sources\";\n\
             Dir::Etc::SourceParts \"{d}/sources.d\";\n\
             Dir::Etc::Trusted \"/dev/null\";\n\
             Dir::Etc::TrustedParts \"{d}/empty\";\n\
             Dir::Etc::Preferences \"/dev/null\";\n\
             Dir::Etc::PreferencesParts \"{d}/empty\";\n\
             Dir::State \"{d}/state\";\n\
             Dir::State::status \"{d}/status\";\n\
             Dir::Cache \"{d}/cache\";\n\
             Dir::Log \"{d}/log\";\n\
             APT::Architecture \"{arch}\";\n\
             APT::Architectures {{ \"{arch}\"; }};\n\
             // As `apt install` on a node does: docker.io needs its Recommends (apparmor; docker-cli on trixie).\n\
             APT::Install-Recommends \"true\";\n\
             APT::Install-Suggests \"false\";\n\
             // The mirror may be a snapshot whose Release has a past Valid-Until.\n\
             Acquire::Check-Valid-Until \"false\";\n\
             Acquire::Languages \"none\";\n\
             Debug::NoLocking \"true\";\n\
             quiet \"1\";\n"
        );
        let config_path = dir.join("apt.conf");
        write_whole(&config_path, config.as_bytes())?;
        Ok(Self {
            config: config_path.display().to_string(),
            dir,
        })
    }

    fn env(&self) -> [(&str, &str); 2] {
        [("APT_CONFIG", &self.config), ("LC_ALL", "C")]
    }

    fn set_status(&self, status: &str) -> Result<()> {
        write_whole(&self.dir.join("status"), status.as_bytes())
    }

    fn archives(&self) -> PathBuf {
        self.dir.join("cache/archives")
    }

    /// Where apt puts a downloaded package (`:` of an epoch written `%3a`).
    fn archive(&self, name: &str, version: &str, arch: &str) -> PathBuf {
        self.archives()
            .join(format!("{name}_{}_{arch}.deb", version.replace(':', "%3a")))
    }

    fn run(&self, tools: &Tools, purpose: &str, args: &[&str]) -> Result<()> {
        tools.run_env(purpose, "apt-get", args, &self.env())
    }

    fn read(&self, tools: &Tools, purpose: &str, program: &str, args: &[&str]) -> Result<String> {
        let out = tools.output_env(purpose, program, args, &self.env())?;
        if !out.status.success() {
            bail!(
                "failed to {purpose}: {program} said: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `apt-get install --simulate`: what would be installed, as (name, version, arch). A dependency
    /// nobody has is named with the `upstream/` fix.
    fn simulate(
        &self,
        tools: &Tools,
        purpose: &str,
        packages: &[&str],
        options: &Options,
    ) -> Result<Vec<(String, String, String)>> {
        let mut args = vec!["install", "--simulate", "--yes"];
        args.extend(packages);
        let out = tools.output_env(purpose, "apt-get", &args, &self.env())?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            return Err(unresolvable(&text, options, purpose));
        }
        Ok(text.lines().filter_map(parse_inst).collect())
    }
}

/// A deb822 source of `uri` for `suite`, trusting `keyring` only.
fn source(uri: &str, suite: &str, keyring: &Path) -> String {
    format!(
        "Types: deb\nURIs: {uri}\nSuites: {suite}\nComponents: main\nSigned-By: {}\n",
        keyring.display()
    )
}

/// `Inst name [old] (version origin [arch])` -> (name, version, arch).
fn parse_inst(line: &str) -> Option<(String, String, String)> {
    let rest = line.strip_prefix("Inst ")?;
    let (name, rest) = rest.split_once(' ')?;
    let inner = &rest[rest.find('(')? + 1..];
    let inner = &inner[..inner.find(')')?];
    let version = inner.split_whitespace().next()?;
    let arch = inner.rsplit_once('[')?.1.trim_end_matches(']');
    Some((name.into(), version.into(), arch.into()))
}

/// The error for a failed resolution: each dependency that no source has, with the `upstream/` fix.
fn unresolvable(apt_output: &str, options: &Options, purpose: &str) -> anyhow::Error {
    let upstream = options
        .upstream
        .map_or_else(|| "upstream/".to_string(), |d| d.display().to_string());
    // ` needer : Depends: dep but it is not installable`; further deps of the same needer follow on
    // lines of their own without the ` needer :` part.
    let mut missing: BTreeSet<(String, String)> = BTreeSet::new();
    let mut needer = String::new();
    for line in apt_output.lines() {
        let mut rest = line.trim();
        if let Some((who, after)) = rest.split_once(" : ") {
            needer = who.trim().to_string();
            rest = after;
        }
        let Some(dep) = ["Depends: ", "PreDepends: "]
            .iter()
            .find_map(|p| rest.strip_prefix(p))
        else {
            continue;
        };
        if let Some((dep, _)) = dep.split_once(" but it is not installable")
            && let Some(name) = dep.split_whitespace().next()
        {
            missing.insert((name.to_string(), needer.clone()));
        }
    }
    if missing.is_empty() {
        let tail: Vec<&str> = apt_output.lines().rev().take(8).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return anyhow::anyhow!("failed to {purpose}: apt said: {}", tail.join(" | "));
    }
    let names: Vec<String> = missing
        .iter()
        .map(|(name, needer)| format!("{name} (needed by {needer})"))
        .collect();
    anyhow::anyhow!(
        "no source has {}: neither the Debian {} archive nor {upstream}; put a .deb of each in {upstream} (the upstream/ directory, or --upstream DIR) and run again",
        names.join(", "),
        options.suite
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inst_lines_give_name_version_and_arch() {
        assert_eq!(
            parse_inst("Inst libc6 (2.36-9+deb12u14 Debian:12.15/oldstable [amd64]) []"),
            Some(("libc6".into(), "2.36-9+deb12u14".into(), "amd64".into()))
        );
        assert_eq!(
            parse_inst("Inst tzdata [2024a-0] (2025b-0+deb12u1 Debian:12.11/stable [all])"),
            Some(("tzdata".into(), "2025b-0+deb12u1".into(), "all".into()))
        );
        assert_eq!(parse_inst("Conf libc6 (2.36 Debian [amd64])"), None);
    }

    #[test]
    fn a_dependency_nobody_has_is_named_with_the_upstream_fix() {
        let text = "The following packages have unmet dependencies:\n mesos-master-role : Depends: mesos but it is not installable\n                     Depends: marathon but it is not installable\nE: Unable to correct problems, you have held broken packages.\n";
        let names = BTreeSet::new();
        let options = Options {
            suite: "bookworm",
            arch: "amd64",
            roles: &[],
            local: Path::new("/r"),
            keyring: Path::new("/k"),
            local_names: &names,
            upstream: Some(Path::new("/w/upstream")),
            cache: PathBuf::new(),
        };
        let err = unresolvable(text, &options, "resolve").to_string();
        assert!(err.contains("mesos (needed by mesos-master-role)"), "{err}");
        assert!(
            err.contains("marathon (needed by mesos-master-role)"),
            "{err}"
        );
        assert!(err.contains("/w/upstream"), "{err}");
        assert!(err.contains("upstream/"), "{err}");
    }
}
