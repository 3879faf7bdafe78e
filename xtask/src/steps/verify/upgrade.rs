//! `cargo xtask verify --upgrade-from DIST_OR_REPO`: the cluster is installed from the older
//! repository, the tutorial's app is deployed under its own id, then each node is upgraded to the
//! new repository one at a time as an operator does it (the repository at /srv/mesos-roles
//! replaced by the new one, its own keyring and source, `apt-get update`, `apt-get install` of the
//! role and mesos-role-tools): the agents first, then the masters that do not lead, the leading
//! master last. After each node the cluster must settle: the ZooKeeper ensemble whole, one leading
//! Mesos master every master names, the agents registered with it, the upgraded node healthy by
//! its own `mesos-role status`, and the app still in Marathon (`GET /v2/apps/<id>`). A failure
//! names the node and the step; the nodes after it are not upgraded. Then the usual checks run on
//! the upgraded cluster. Everything goes through the Cluster's methods (public interfaces only).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde_json::Value;

use super::{APP, Check, Cluster, Options, REPO_INSIDE, SETTLE, Source, TOOLS, timed, until};
use crate::cluster::nspawn::interrupted;
use crate::inputs::inventory::Role;
use crate::steps::repo::{KEYRING, SOURCES};

/// The line of the table before the first node is upgraded.
pub const CHECK_BEFORE: &str = "upgrade: before, a leader, the agents registered, the app deployed";
/// The prefix of each node's line: `upgrade NODE (agent|follower|leading master)`.
pub const CHECK_NODE: &str = "upgrade ";
/// The id of the app deployed before the upgrade (the usual checks deploy the tutorial's own id
/// afterwards: Marathon answers 409 to an id it has).
const APP_ID: &str = "/verify-upgrade";

/// The older repository: `path` itself when it is a repository directory (`dists/` in it), else
/// the repository its manifest lists (a dist directory). Either way with its own keyring and
/// source, which the nodes install with.
pub fn older_repository(path: &Path) -> Result<PathBuf> {
    let repo = match path.join("dists").is_dir() {
        true => path.to_path_buf(),
        false => super::repo_from_manifest(path).map_err(|_| {
            anyhow!(
                "--upgrade-from {}: neither a repository (no dists/) nor a dist directory whose manifest.json lists one: give the older release's dist directory or its repository",
                path.display()
            )
        })?,
    };
    for file in [KEYRING, SOURCES] {
        if !repo.join(file).is_file() {
            bail!(
                "--upgrade-from {}: {} is not a repository built by `cargo xtask repo` (no {file}): give the older dist directory or its repository",
                path.display(),
                repo.display()
            );
        }
    }
    Ok(repo)
}

/// The options the cluster is first installed with: the older repository's.
pub(super) fn installed_first(options: &Options) -> Option<Options> {
    let older = options.upgrade_from.clone()?;
    Some(Options {
        source: Source::Repo(older),
        ..options.clone()
    })
}

/// Upgrades the cluster node by node to the repository of `options`, a line of the table for the
/// state before and for each node. Ok(false) when a line failed (the rest of the nodes are then not
/// upgraded); Err when interrupted, or when `options` name no repository to upgrade to.
pub(super) fn rolling(
    cluster: &mut Cluster,
    options: &Options,
    checks: &mut Vec<Check>,
) -> Result<bool> {
    let Source::Repo(newer) = &options.source else {
        bail!("--upgrade-from upgrades to a repository: give --from repo");
    };
    let before = timed(checks, CHECK_BEFORE, || {
        let ensemble = until(SETTLE, || cluster.ensemble())?;
        let (leader, agents) = cluster.settled()?;
        let deployed = deploy(cluster)?;
        until(SETTLE, || app_listed(cluster))?;
        Ok(format!(
            "{} leads, {agents}; ZooKeeper: {ensemble}; {deployed}",
            cluster.name(leader)
        ))
    });
    interrupted()?;
    let mut left: Vec<usize> = (0..cluster.entries.len()).collect();
    let mut ok = before;
    while !left.is_empty() {
        let (i, what) = match ok {
            true => next(cluster, &left),
            // Not run: named in the order the inventory gives.
            false => (left[0], "not upgraded"),
        };
        left.retain(|&n| n != i);
        let name = cluster.name(i).to_string();
        let line = format!("{CHECK_NODE}{name} ({what})");
        if !ok {
            checks.push(Check {
                name: line,
                outcome: Err(anyhow!("not run: an earlier step failed")),
                took: Duration::ZERO,
            });
            continue;
        }
        // Each error names the node and the step.
        ok = timed(checks, &line, || upgrade(cluster, i, newer));
        interrupted()?;
    }
    if ok {
        // Nodes restarted later (the failovers) bind the repository they now use.
        cluster.source = Source::Repo(newer.clone());
    }
    Ok(ok)
}

/// The next node to upgrade among `left` and what it is: an agent while any is left, then a master
/// that does not lead now, the leading master last.
fn next(cluster: &Cluster, left: &[usize]) -> (usize, &'static str) {
    if let Some(&i) = left
        .iter()
        .find(|&&i| cluster.entries[i].role == Role::Agent)
    {
        return (i, "agent");
    }
    // Every node settled with a leader after the last step; asked again, as leadership may move.
    let leader = cluster.leader().ok().map(|(leader, _)| leader);
    match left.iter().find(|&&i| Some(i) != leader) {
        Some(&i) => (i, "follower"),
        None => (left[0], "leading master"),
    }
}

/// Node `i` upgraded to `newer`, and the cluster settled after it: each failure names its step.
fn upgrade(cluster: &Cluster, i: usize, newer: &Path) -> Result<String> {
    let package = cluster.entries[i].role.package();
    let node = cluster.node(i)?;
    let started = Instant::now();
    let step = |what: &str| format!("{}: {what}", cluster.name(i));
    let installed = version(cluster, i, package).context(step("read the installed version"))?;
    replace_repository(cluster, i, newer).with_context(|| step("replace the repository"))?;
    // Any index it cannot fetch or verify is an error: apt would otherwise warn, keep the older
    // repository's lists and exit 0.
    node.exec(
        "update apt from the new repository",
        &["apt-get", "update", "--error-on=any"],
    )
    .with_context(|| step("apt-get update"))?;
    let offered = candidate(cluster, i, package).with_context(|| step("the new version"))?;
    let newer_offered = node
        .output(&["dpkg", "--compare-versions", &offered, "gt", &installed])?
        .status
        .success();
    if !newer_offered {
        bail!(
            "{}: the new repository offers {package} {offered}, not newer than the installed {installed}: nothing to upgrade",
            cluster.name(i)
        );
    }
    node.exec(
        &format!("upgrade {package} and {TOOLS}"),
        &[
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            // Unattended, as an upgrade by a tool: a conffile the admin changed stays theirs.
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
            package,
            TOOLS,
        ],
    )
    .with_context(|| step(&format!("apt-get install {package} {TOOLS}")))?;
    for name in [package, TOOLS] {
        let now = version(cluster, i, name).with_context(|| step("read the new version"))?;
        let want = candidate(cluster, i, name).with_context(|| step("the new version"))?;
        if now != want {
            bail!(
                "{}: {name} is at {now} after the upgrade, the new repository has {want}",
                cluster.name(i)
            );
        }
    }
    let installing = started.elapsed();
    let settled = Instant::now();
    let ensemble = until(SETTLE, || cluster.ensemble())
        .with_context(|| step("after its upgrade: the ZooKeeper ensemble (a quorum)"))?;
    let (leader, agents) = cluster
        .settled()
        .with_context(|| step("after its upgrade: a leading master and the agents registered"))?;
    until(SETTLE, || {
        let status = cluster.status(i)?;
        match status["healthy"] == true {
            true => Ok(()),
            false => bail!("mesos-role status: {}", status["checks"]),
        }
    })
    .with_context(|| step("after its upgrade: healthy by its own mesos-role status"))?;
    until(SETTLE, || app_listed(cluster))
        .with_context(|| step("after its upgrade: Marathon's apps still there"))?;
    Ok(format!(
        "{package} {installed} -> {offered} in {:.1}s; settled in {:.1}s: {} leads, {agents}, ZooKeeper {ensemble}, app {APP_ID} in Marathon",
        installing.as_secs_f64(),
        settled.elapsed().as_secs_f64(),
        cluster.name(leader)
    ))
}

/// The repository at /srv/mesos-roles replaced by `newer` as the example source says (the
/// directory copied there), with `newer`'s own keyring and source: the older one's bind mount is
/// undone inside the node, and the files are linked (or copied) into its root (an nspawn node's,
/// on this host).
fn replace_repository(cluster: &Cluster, i: usize, newer: &Path) -> Result<()> {
    let node = cluster.node(i)?;
    node.exec(
        "unmount the older repository",
        &["umount", "--", REPO_INSIDE],
    )?;
    let path = |inside: &str| cluster.root(i).join(inside.trim_start_matches('/'));
    let inside = path(REPO_INSIDE);
    if std::fs::read_dir(&inside)?.next().is_some() {
        bail!(
            "{} is not empty under the older repository",
            inside.display()
        );
    }
    link_or_copy_tree(newer, &inside)?;
    crate::files::write_whole(
        &path(&format!("/usr/share/keyrings/{KEYRING}")),
        &std::fs::read(newer.join(KEYRING))?,
    )?;
    crate::files::write_whole(
        &path(&format!("/etc/apt/sources.list.d/{SOURCES}")),
        &std::fs::read(newer.join(SOURCES))?,
    )?;
    Ok(())
}

/// Every file below `from` at the same place below `to`: a hard link where both lie on one file
/// system (nothing in the node writes to a repository), else a copy.
fn link_or_copy_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in
        std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))?
    {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            link_or_copy_tree(&source, &target)?;
        } else if kind.is_file() && std::fs::hard_link(&source, &target).is_err() {
            std::fs::copy(&source, &target).with_context(|| {
                format!("cannot copy {} to {}", source.display(), target.display())
            })?;
        }
    }
    Ok(())
}

/// The installed version of `package` on node `i`.
fn version(cluster: &Cluster, i: usize, package: &str) -> Result<String> {
    let version = cluster.node(i)?.exec(
        &format!("read the installed version of {package}"),
        &["dpkg-query", "-W", "-f=${Version}", package],
    )?;
    Ok(version.trim().to_string())
}

/// The version of `package` apt would install on node `i` (its candidate).
fn candidate(cluster: &Cluster, i: usize, package: &str) -> Result<String> {
    let policy = cluster.node(i)?.exec(
        &format!("ask apt for the candidate of {package}"),
        &["apt-cache", "policy", package],
    )?;
    policy
        .lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(|v| v.trim().to_string())
        .filter(|v| v != "(none)")
        .with_context(|| format!("apt has no candidate of {package}: {}", policy.trim()))
}

/// The tutorial's app under [`APP_ID`], posted by `mesos-role deploy` on the first running master.
fn deploy(cluster: &Cluster) -> Result<String> {
    let mut app: Value = serde_json::from_str(APP)?;
    app["id"] = Value::from(APP_ID);
    let i = *cluster.running_masters().first().context("no master")?;
    let node = cluster.node(i)?;
    let file = "/root/upgrade-app.json";
    node.exec(
        "write the app definition",
        &[
            "sh",
            "-c",
            "printf '%s' \"$1\" > \"$2\"",
            "sh",
            &app.to_string(),
            file,
        ],
    )?;
    let answer = node.exec(
        "deploy the app with mesos-role",
        &["mesos-role", "deploy", file, "--no-wait"],
    )?;
    Ok(answer.trim().to_string())
}

/// Marathon lists the app (`GET /v2/apps/<id>`, 200 with it), asked from the client node with the
/// operator's credentials.
fn app_listed(cluster: &Cluster) -> Result<()> {
    let from = cluster.client()?;
    let operator = format!(
        "operator:{}",
        crate::inputs::secrets::derive(cluster.secret.expose(), "operator")
    );
    let mut answers = Vec::new();
    for i in cluster.running_masters() {
        let url = format!("http://{}:8080/v2/apps{APP_ID}", cluster.entries[i].address);
        match cluster.get(from, &url, Some(&operator)) {
            Ok((200, body)) => {
                let app: Value =
                    serde_json::from_str(&body).with_context(|| format!("{url}: not JSON"))?;
                if app.pointer("/app/id") == Some(&Value::from(APP_ID)) {
                    return Ok(());
                }
                answers.push(format!("{}: 200 without the app", cluster.name(i)));
            }
            Ok((code, body)) => {
                answers.push(format!("{}: {code} {}", cluster.name(i), body.trim()))
            }
            Err(error) => answers.push(format!("{}: {error:#}", cluster.name(i))),
        }
    }
    bail!(
        "no Marathon lists the app {APP_ID} ({})",
        answers.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_older_repository_is_the_directory_or_its_manifests() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(repo.join("dists"))?;
        std::fs::write(repo.join(KEYRING), b"key")?;
        let error = older_repository(&repo).unwrap_err().to_string();
        assert!(
            error.contains("--upgrade-from") && error.contains(SOURCES),
            "{error}"
        );
        std::fs::write(repo.join(SOURCES), b"source")?;
        assert_eq!(older_repository(&repo)?, repo);
        // A directory without a repository or a manifest says what to give.
        let error = format!("{:#}", older_repository(dir.path()).unwrap_err());
        assert!(
            error.contains("--upgrade-from") && error.contains("neither a repository"),
            "{error}"
        );
        Ok(())
    }

    #[test]
    fn a_tree_is_linked_or_copied_whole() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let from = dir.path().join("from");
        std::fs::create_dir_all(from.join("dists/bookworm"))?;
        std::fs::write(from.join("dists/bookworm/InRelease"), b"signed")?;
        std::fs::write(from.join(KEYRING), b"key")?;
        let to = dir.path().join("to");
        std::fs::create_dir(&to)?;
        link_or_copy_tree(&from, &to)?;
        assert_eq!(
            std::fs::read(to.join("dists/bookworm/InRelease"))?,
            b"signed"
        );
        assert_eq!(std::fs::read(to.join(KEYRING))?, b"key");
        Ok(())
    }
}
