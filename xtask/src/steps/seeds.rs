//! `cargo xtask seeds --inventory cluster.toml`: one cloud-init NoCloud seed per node of the
//! inventory, `<out>/<node>/{meta-data,user-data,network-config}`, and the same three files in a
//! vfat image labelled CIDATA, `<out>/<node>.cidata.img` (attach it as a disk; cloud-init finds it by
//! its label).
//!
//! The templates are data (`images/cloud-init/`); every `@name@` in them is replaced by a JSON string
//! or list, which YAML reads as the same value, so no answer, key or name can break the document.
//! The user-data hands the node its role's debconf answers (`Inventory::selections`, the ones
//! `verify` uses too) in `ANSWERS_DIR`, where the image's `mesos-roles-seed.service` applies them
//! with `dpkg-reconfigure` as soon as cloud-init's network stage is done. Everything is rendered in memory
//! first; then `--out` is replaced whole. Same inventory, secret and SOURCE_DATE_EPOCH, same bytes.
//!
//! Seeds carry secrets (a master's the cluster secret, an agent's only the agent secret): the
//! directory is 0700 and every seed file and image 0600 from its creation, whatever the umask.

use std::collections::BTreeMap;
use std::io::{Cursor, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use sha2::{Digest, Sha256};

use crate::formats::manifest::Artifact;
use crate::inputs::inventory::{Inventory, Node};
use crate::inputs::secrets::Secret;
use crate::progress::Step;

/// The cloud-init templates, relative to the workspace root.
pub const TEMPLATES: &str = "images/cloud-init";
/// The files of a seed, in the order NoCloud documents them.
pub const FILES: [&str; 3] = ["meta-data", "user-data", "network-config"];
/// Where a node's seed writes its role's answers: `<package>.preseed` in this directory, which the
/// images' `mesos-roles-seed.service` (overlays/all) applies right after cloud-init's network stage.
pub const ANSWERS_DIR: &str = "/var/lib/mesos-roles-seed";
/// The unit of the images that applies the answers (the seed's runcmd checks it succeeded).
pub const ANSWERS_UNIT: &str = "mesos-roles-seed.service";

/// The file a node's seed writes its answers to.
pub fn answers_path(node: &Node) -> String {
    format!("{ANSWERS_DIR}/{}.preseed", node.role.package())
}

/// The seed image's size: the three files take a few KiB; 128 KiB is a small FAT12 volume (a
/// 1,000-node cluster's seeds were 1 GB at 1 MiB each, and most of their time went into zeros).
const IMAGE_BYTES: u64 = 128 << 10;

pub struct Options {
    pub inventory: Inventory,
    /// The seeds directory (replaced whole): `target/dist/seeds` by default.
    pub out: PathBuf,
    pub source_date_epoch: u64,
    /// The cluster secret (the inventory's `secret_file`).
    pub secret: Secret,
}

/// One node's seed, rendered.
pub struct Seed {
    pub node: Node,
    /// `FILES`, in that order, with their contents.
    pub files: Vec<(&'static str, String)>,
    /// The vfat image holding the same files.
    pub image: Vec<u8>,
}

/// What the seeds are made of: the inventory, the secret (by a fingerprint that reveals nothing),
/// the templates and the epoch.
pub fn inputs(options: &Options) -> Result<String> {
    Ok(crate::stamps::Inputs::new("seeds")?
        .text("inventory", format!("{:?}", options.inventory))
        .text("secret", options.secret.fingerprint())
        .text("epoch", options.source_date_epoch)
        .dir(&crate::inputs::workspace::root().join(TEMPLATES))?
        .finish())
}

/// Writes every node's seed into `options.out` and returns them as artifacts (`seed` for each
/// file, `seed-image` for each image).
pub fn run(options: &Options) -> Result<Vec<Artifact>> {
    let step = Step::start(format!("seeds -> {}", options.out.display()));
    let seeds = render(
        &options.inventory,
        &options.secret,
        options.source_date_epoch,
    )?;
    let mut artifacts = Vec::new();
    crate::files::replace_dir(&options.out, |new| {
        crate::files::create_private_dir(new)?;
        let written = on_every_core(&seeds, |seed| {
            let mut artifacts = Vec::new();
            let dir = new.join(&seed.node.name);
            crate::files::create_private_dir(&dir)?;
            for (name, text) in &seed.files {
                crate::files::write_private(&dir.join(name), text.as_bytes())?;
                let path = options.out.join(&seed.node.name).join(name);
                artifacts.push(Artifact::new("seed", path, text.as_bytes()));
            }
            let image = image_name(&seed.node);
            crate::files::write_whole_sparse(&new.join(&image), &seed.image, 0o600)?;
            artifacts.push(Artifact::new(
                "seed-image",
                options.out.join(image),
                &seed.image,
            ));
            Ok(artifacts)
        })?;
        artifacts = written.into_iter().flatten().collect();
        Ok(())
    })?;
    step.note(format!("{} nodes", seeds.len()));
    step.done();
    Ok(artifacts)
}

/// The seed image's file name beside the node's directory.
pub fn image_name(node: &Node) -> String {
    format!("{}.cidata.img", node.name)
}

/// Every node's seed, in memory.
pub fn render(inventory: &Inventory, secret: &Secret, source_date_epoch: u64) -> Result<Vec<Seed>> {
    let dir = crate::inputs::workspace::root().join(TEMPLATES);
    let templates: Vec<String> = FILES
        .iter()
        .map(|name| {
            let path = dir.join(name);
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read the template {}", path.display()))
        })
        .collect::<Result<_>>()?;
    on_every_core(&inventory.nodes(), |node| {
        let node = node.clone();
        let mut values = values(inventory, &node, secret);
        let user_data = fill(&templates[1], &values).context("in user-data")?;
        let network = fill(&templates[2], &values).context("in network-config")?;
        // A changed seed is a new instance: cloud-init runs its first-boot modules again.
        let digest = Sha256::new()
            .chain_update(&user_data)
            .chain_update(&network)
            .finalize();
        let instance_id = format!(
            "{}-{}-{}",
            inventory.cluster.name,
            node.name,
            &hex::encode(digest)[..12]
        );
        values.insert("instance_id", json(&instance_id));
        let meta = fill(&templates[0], &values).context("in meta-data")?;
        let files = vec![(FILES[0], meta), (FILES[1], user_data), (FILES[2], network)];
        let image = vfat_image(&files, source_date_epoch, &digest[..4])?;
        Ok(Seed { node, files, image })
    })
}

/// `f` of every item, in order, the items split among as many threads as the machine has cores:
/// each node's seed is independent of the others' (1,000 nodes in under a second).
fn on_every_core<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Result<Vec<R>>>()))
            .collect();
        let mut all = Vec::with_capacity(items.len());
        for part in parts {
            all.extend(part.join().expect("a seed's thread panicked")?);
        }
        Ok(all)
    })
}

/// What the templates' `@name@`s stand for, for `node`, each as JSON.
fn values(inventory: &Inventory, node: &Node, secret: &Secret) -> BTreeMap<&'static str, String> {
    let network = &inventory.network;
    let routes: Vec<serde_json::Value> = network
        .gateway
        .iter()
        .map(|via| serde_json::json!({ "to": "0.0.0.0/0", "via": via }))
        .collect();
    BTreeMap::from([
        ("hostname", json(&node.name)),
        ("user", json(&inventory.admin.user)),
        ("ssh_keys", json(&inventory.admin.ssh_keys)),
        ("selections", json(&inventory.selections(node, secret))),
        ("answers_path", json(&answers_path(node))),
        ("interface", json(&network.interface)),
        (
            "address",
            json(&format!("{}/{}", node.address, network.prefix_len)),
        ),
        ("routes", json(&routes)),
        ("dns", json(&network.dns)),
    ])
}

fn json(value: &(impl serde::Serialize + ?Sized)) -> String {
    serde_json::to_string(value).expect("strings and lists serialise")
}

/// Replaces every `@name@` in `template`; a name without a value is an error (a template and this
/// file out of step), and so is a value no template line used.
fn fill(template: &str, values: &BTreeMap<&'static str, String>) -> Result<String> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('@') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('@') else {
            bail!("an `@` without its closing `@`: write placeholders as @name@");
        };
        let name = &after[..end];
        let Some(value) = values.get(name) else {
            bail!(
                "unknown placeholder @{name}@: use one of {}",
                values.keys().copied().collect::<Vec<_>>().join(", ")
            );
        };
        out.push_str(value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A FAT12 volume labelled CIDATA holding `files` at its root. Reproducible: every timestamp is
/// SOURCE_DATE_EPOCH (clamped to FAT's 1980..2107) and the volume id comes from the contents.
fn vfat_image(
    files: &[(&'static str, String)],
    source_date_epoch: u64,
    id: &[u8],
) -> Result<Vec<u8>> {
    let mut disk = Cursor::new(vec![0u8; IMAGE_BYTES as usize]);
    let volume_id = u32::from_be_bytes(id.try_into().context("a 4-byte volume id")?);
    fatfs::format_volume(
        &mut disk,
        fatfs::FormatVolumeOptions::new()
            .volume_label(*b"CIDATA     ")
            .volume_id(volume_id),
    )
    .context("cannot format the seed image")?;
    // fatfs asks for the time through a `&'static` provider; one per run is a few bytes.
    let clock: &'static Clock = Box::leak(Box::new(Clock::at(source_date_epoch)));
    {
        let fs = fatfs::FileSystem::new(&mut disk, fatfs::FsOptions::new().time_provider(clock))
            .context("cannot open the new seed image")?;
        let root = fs.root_dir();
        for (name, text) in files {
            let mut file = root
                .create_file(name)
                .with_context(|| format!("cannot create {name} in the seed image"))?;
            file.truncate()?;
            file.write_all(text.as_bytes())
                .with_context(|| format!("cannot write {name} into the seed image"))?;
        }
        drop(root);
        fs.unmount().context("cannot close the seed image")?;
    }
    Ok(disk.into_inner())
}

/// SOURCE_DATE_EPOCH as FAT's local date and time (UTC here).
#[derive(Debug)]
struct Clock(fatfs::DateTime);

impl Clock {
    fn at(epoch: u64) -> Self {
        // FAT dates run from 1980-01-01 to 2107-12-31.
        let clamped = epoch.clamp(315_532_800, 4_354_819_199) as i64;
        let t = time::OffsetDateTime::from_unix_timestamp(clamped).expect("clamped into range");
        Self(fatfs::DateTime {
            date: fatfs::Date {
                year: t.year() as u16,
                month: u8::from(t.month()) as u16,
                day: t.day() as u16,
            },
            time: fatfs::Time {
                hour: t.hour() as u16,
                min: t.minute() as u16,
                sec: t.second() as u16,
                millis: 0,
            },
        })
    }
}

impl fatfs::TimeProvider for Clock {
    fn get_current_date(&self) -> fatfs::Date {
        self.0.date
    }
    fn get_current_date_time(&self) -> fatfs::DateTime {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_unknown_ones_named() {
        let values = BTreeMap::from([("a", "\"x: y\"".to_string())]);
        assert_eq!(fill("k: @a@\n", &values).unwrap(), "k: \"x: y\"\n");
        let error = fill("k: @b@\n", &values).unwrap_err().to_string();
        assert!(
            error.contains("unknown placeholder @b@: use one of a"),
            "{error}"
        );
        assert!(fill("mail me@example", &values).is_err());
    }

    #[test]
    fn the_example_inventory_renders_one_seed_per_node() {
        let inventory =
            Inventory::load(&crate::inputs::workspace::root().join("cluster.toml")).unwrap();
        let secret = Secret::generate();
        let seeds = render(&inventory, &secret, 1_700_000_000).unwrap();
        let names: Vec<&str> = seeds.iter().map(|s| s.node.name.as_str()).collect();
        assert_eq!(names, ["master-1", "master-2", "master-3", "agent-1"]);
        let again = render(&inventory, &secret, 1_700_000_000).unwrap();
        for (a, b) in seeds.iter().zip(&again) {
            assert_eq!(a.files, b.files);
            assert!(
                a.image == b.image,
                "the seed image of {} differs",
                a.node.name
            );
        }
    }
}
