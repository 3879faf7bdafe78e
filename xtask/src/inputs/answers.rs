//! The answer syntax of the role packages (docs/debconf.md), in Rust for the inventory. The packages
//! check the same syntax in POSIX shell (`packaging/shared/answers.sh`); `tests/cases/answers.toml`
//! drives both, and `tests/answers_differential.rs` compares them on generated strings, so the two
//! cannot drift apart. Errors are one line naming the problem and the fix.
//!
//! An answer is printable ASCII: a control character or a non-ASCII character (a no-break space
//! looks like a blank) is refused before any other rule, and every message shows what it echoes
//! through [`quote`], so that a bad byte is visible and the message stays one line. Blanks are
//! space and tab, as in the shell.

use std::net::Ipv4Addr;

pub type Answer<T> = Result<T, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Master {
    /// ZooKeeper's myid: explicit, or the entry's 1-based position in the list.
    pub id: u8,
    pub host: String,
}

/// `` `text` `` for a message: `` ` `` and `\` escaped, every other byte that is not printable
/// ASCII as `\xNN` (the shell's `mr__q` writes the same bytes between double quotes).
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('`');
    for b in text.bytes() {
        match b {
            b'`' | b'\\' => {
                out.push('\\');
                out.push(b as char);
            }
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('`');
    out
}

/// Refuses an answer with a character that is not printable ASCII or a tab.
fn text(input: &str) -> Answer<()> {
    if input
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Ok(());
    }
    Err(format!(
        "{} is not printable ASCII text (control characters and non-ASCII characters such as a no-break space are refused; shown here as \\xNN): retype the answer",
        quote(input)
    ))
}

fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Leading and trailing blanks of an answer are ignored.
fn trim(input: &str) -> &str {
    input.trim_matches(is_blank)
}

/// Parses a master list (`host` or `id=host` entries, separated by commas and/or blanks).
/// An empty list is valid: it is the unconfigured state.
pub fn masters(input: &str) -> Answer<Vec<Master>> {
    text(input)?;
    let entries: Vec<&str> = input
        .split(|c: char| c == ',' || is_blank(c))
        .filter(|e| !e.is_empty())
        .collect();
    let mut list: Vec<Master> = Vec::with_capacity(entries.len());
    for (position, entry) in entries.iter().enumerate() {
        let (id, host) = match entry.split_once('=') {
            Some((id, host)) => (id_number(id)?, host),
            None => ((position + 1).min(255) as u8, *entry),
        };
        if position >= 255 {
            return Err(format!(
                "id out of range: {} is entry {} and ids stop at 255: use at most 255 masters",
                quote(entry),
                position + 1
            ));
        }
        let host = self::host(host)?;
        if let Some(other) = list.iter().find(|m| m.host == host) {
            return Err(format!(
                "duplicate host {}: list each master once",
                quote(&other.host)
            ));
        }
        if let Some(other) = list.iter().find(|m| m.id == id) {
            return Err(format!(
                "duplicate id {id} ({} and {}): give each master its own id, or leave ids out to number masters by position",
                quote(&other.host),
                quote(&host)
            ));
        }
        list.push(Master { id, host });
    }
    if list.len().is_multiple_of(2) && !list.is_empty() {
        return Err(format!(
            "{} masters given: use an odd number of masters (1, 3, 5, 7 ...); an even count tolerates no more failures than one master fewer",
            list.len()
        ));
    }
    Ok(list)
}

/// The normal form of a master list: `id=host` entries separated by single spaces, in list order.
pub fn masters_normal(list: &[Master]) -> String {
    list.iter()
        .map(|m| format!("{}={}", m.id, m.host))
        .collect::<Vec<_>>()
        .join(" ")
}

fn id_number(text: &str) -> Answer<u8> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{} is not a number: an id is 1 to 255, as in `2=10.0.0.2`",
            quote(text)
        ));
    }
    match text.parse::<u32>() {
        Ok(id @ 1..=255) => Ok(id as u8),
        _ => Err(format!(
            "id out of range: {} must be from 1 to 255",
            quote(text)
        )),
    }
}

/// floor(n/2)+1 for `auto` or empty; an explicit quorum must be a strict majority and at most n.
pub fn quorum(count: usize, input: &str) -> Answer<usize> {
    text(input)?;
    let input = trim(input);
    let lowest = count / 2 + 1;
    if input.is_empty() || input.eq_ignore_ascii_case("auto") {
        return Ok(lowest);
    }
    if !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{} is not a number: give auto, or a number from {lowest} to {count} for {count} masters",
            quote(input)
        ));
    }
    match input.parse::<usize>() {
        Ok(q) if q >= lowest && q <= count => Ok(q),
        _ => Err(format!(
            "quorum must be more than half of the {count} masters and at most {count} (from {lowest} to {count}), or `auto`; {} is not",
            quote(input)
        )),
    }
}

/// An IPv4 address or a DNS name; DNS names come back in lower case.
pub fn host(input: &str) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    if let Some((_, port)) = input.split_once(':')
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && !input.starts_with(':')
    {
        return Err(format!(
            "{} is not a valid host: leave out the port, the ports are fixed",
            quote(input)
        ));
    }
    if input.contains(':') {
        return Err(ipv6_refused(input));
    }
    if !input.is_empty() && input.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return ipv4(input);
    }
    let name = input.to_ascii_lowercase();
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let last_numeric = labels
        .last()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    if name.is_empty() || name.len() > 253 || !labels.iter().all(label_ok) || last_numeric {
        return Err(format!(
            "{} is not a valid host: use an IPv4 address or a DNS name (letters, digits and `-` in dot-separated labels)",
            quote(input)
        ));
    }
    Ok(name)
}

fn ipv6_refused(input: &str) -> String {
    format!(
        "IPv6 addresses are not supported ({}): use an IPv4 address or a DNS name",
        quote(input)
    )
}

/// A dotted-quad IPv4 address: four numbers 0-255 without leading zeros.
pub fn ipv4(input: &str) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    if input.contains(':') {
        return Err(ipv6_refused(input));
    }
    input
        .parse::<Ipv4Addr>()
        .map(|a| a.to_string())
        .map_err(|_| {
            format!(
                "{} is not a valid IPv4 address: use four numbers 0-255 without leading zeros, as in 10.0.0.1",
                quote(input)
            )
        })
}

/// `k:v;k:v` (attributes and resources), in normal form.
pub fn kv(input: &str) -> Answer<String> {
    text(input)?;
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    for entry in input.split(';').map(trim).filter(|e| !e.is_empty()) {
        let pair = entry.split_once(':').filter(|(k, v)| {
            let key_ok = k
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
                && k.bytes().next().is_some_and(|b| b != b'.' && b != b'-');
            let value_ok = !v.is_empty() && !v.contains(|c: char| is_blank(c) || c == ':');
            key_ok && value_ok
        });
        let Some((key, value)) = pair else {
            return Err(format!(
                "{} is not of the form k:v: write entries as key:value separated by `;`, as in rack:r1;zone:a",
                quote(entry)
            ));
        };
        if pairs.iter().any(|(k, _)| *k == key) {
            return Err(format!("duplicate key {}: give each key once", quote(key)));
        }
        pairs.push((key, value));
    }
    Ok(pairs
        .iter()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect::<Vec<_>>()
        .join(";"))
}

/// Directories a work dir may not be, nor be below: the system's own trees (and the roles' state,
/// which purge removes). Keep these and [`SYSTEM_DIRS`] the same as `mr_abs_path` in the shell.
const SYSTEM_TREES: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/sbin",
    "/sys",
    "/usr",
    "/var/lib/dpkg",
    "/var/lib/apt",
    "/var/lib/mesos-roles",
];

/// Directories a work dir may be below but not be: they hold other things.
const SYSTEM_DIRS: &[&str] = &[
    "/",
    "/home",
    "/media",
    "/mnt",
    "/opt",
    "/root",
    "/run",
    "/srv",
    "/tmp",
    "/var",
    "/var/backups",
    "/var/cache",
    "/var/lib",
    "/var/local",
    "/var/log",
    "/var/mail",
    "/var/opt",
    "/var/spool",
    "/var/tmp",
];

/// A work dir: an absolute path without blanks and without `.` or `..` components, that is not a
/// system directory. Normal form: repeated and trailing slashes dropped.
pub fn abs_path(input: &str) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    if !input.starts_with('/') || input.contains(is_blank) {
        return Err(format!(
            "{} is not an absolute path: give a path starting with `/` and without spaces, as in /var/lib/mesos",
            quote(input)
        ));
    }
    let components: Vec<&str> = input.split('/').filter(|c| !c.is_empty()).collect();
    if components.iter().any(|c| *c == "." || *c == "..") {
        return Err(format!(
            "{} is not a normalised path (no `.` or `..` components): write the directory itself, as in /var/lib/mesos",
            quote(input)
        ));
    }
    let normal = format!("/{}", components.join("/"));
    let below = |tree: &&str| {
        normal == *tree
            || normal
                .strip_prefix(tree)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    if SYSTEM_TREES.iter().any(below) || SYSTEM_DIRS.contains(&normal.as_str()) {
        return Err(format!(
            "{} is a system directory, not a work dir of its own: give a directory for Mesos alone, as in /var/lib/mesos",
            quote(input)
        ));
    }
    Ok(normal)
}

/// A Mesos duration: a number, optionally with a fraction, and a unit.
pub fn duration(input: &str) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    const UNITS: [&str; 8] = ["ns", "us", "ms", "secs", "mins", "hrs", "days", "weeks"];
    let number_len = input
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(input.len());
    let (number, unit) = input.split_at(number_len);
    let number_ok = match number.split_once('.') {
        Some((whole, fraction)) => {
            !whole.is_empty()
                && !fraction.is_empty()
                && !fraction.contains('.')
                && whole.bytes().all(|b| b.is_ascii_digit())
        }
        None => !number.is_empty(),
    };
    if !number_ok || !UNITS.contains(&unit) {
        return Err(format!(
            "{} is not a valid duration: write a number and one of {}, as in 10mins",
            quote(input),
            UNITS.join(" ")
        ));
    }
    Ok(input.to_string())
}

/// Comma-separated, from `docker` and `mesos`; order kept, repeats dropped.
pub fn containerizers(input: &str) -> Answer<String> {
    text(input)?;
    let mut list: Vec<&str> = Vec::new();
    for c in input.split(',').map(trim).filter(|c| !c.is_empty()) {
        if !list.contains(&c) {
            list.push(c);
        }
    }
    if list.is_empty() {
        return Err("unknown containerizer ``: give docker, mesos or docker,mesos".to_string());
    }
    if let Some(bad) = list.iter().find(|c| !["docker", "mesos"].contains(c)) {
        return Err(format!(
            "unknown containerizer {}: give docker, mesos or docker,mesos",
            quote(bad)
        ));
    }
    Ok(list.join(","))
}

/// A cluster name: letters, digits, `.`, `_`, `-`.
pub fn name(input: &str) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    if input.is_empty()
        || !input
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
    {
        return Err(format!(
            "{} is not a valid name: use letters, digits, `.`, `_` and `-`",
            quote(input)
        ));
    }
    Ok(input.to_string())
}

/// The cluster secret (docs/security.md): empty (none given), or 32 to 1024 characters of
/// letters, digits and `+/=._~-`. No message repeats a secret, not even a bad one.
pub fn cluster_secret(input: &str) -> Answer<String> {
    let secret = trim(input);
    let charset = |b: u8| b.is_ascii_alphanumeric() || b"+/=._~-".contains(&b);
    if secret.is_empty() || ((32..=1024).contains(&secret.len()) && secret.bytes().all(charset)) {
        return Ok(secret.to_string());
    }
    Err(format!(
        "a cluster secret is 32 to 1024 characters of letters, digits and + / = . _ ~ - (the answer given, not shown, has {} characters{}): make one with head -c 32 /dev/urandom | base64",
        secret.len(),
        if secret.bytes().all(charset) {
            ""
        } else {
            ", some of them others"
        }
    ))
}

/// The agent secret: empty, or the 64 lower-case hex digits derived from the cluster secret
/// (docs/security.md). No message repeats it.
pub fn agent_secret(input: &str) -> Answer<String> {
    let secret = trim(input);
    if secret.is_empty()
        || (secret.len() == 64 && secret.bytes().all(|b| b"0123456789abcdef".contains(&b)))
    {
        return Ok(secret.to_string());
    }
    Err("an agent secret is 64 lower-case hex digits derived from the cluster secret (the answer given is not shown): on a master, cat /etc/mesos-roles/secrets/agent-secret".to_string())
}

/// The id of the master whose host is `input`.
pub fn self_id(list: &[Master], input: &str) -> Answer<u8> {
    text(input)?;
    let wanted = if trim(input).is_empty() {
        String::new()
    } else {
        host(input)?
    };
    list.iter()
        .find(|m| m.host == wanted)
        .map(|m| m.id)
        .ok_or_else(|| {
            let hosts: Vec<&str> = list.iter().map(|m| m.host.as_str()).collect();
            format!(
                "{} is not in the master list: answer with one of {}",
                quote(trim(input)),
                hosts.join(", ")
            )
        })
}

/// A decimal number from `min` to `max`: digits only (no sign, no blank inside), without a leading
/// zero (`0` itself is fine). Normal form: the decimal. A string of digits too long for any range
/// is out of range, not an overflow.
pub fn number(input: &str, min: u64, max: u64) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    if input.is_empty() || !input.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "{} is not a number: give a whole number from {min} to {max}, digits only",
            quote(input)
        ));
    }
    if input.len() > 1 && input.starts_with('0') {
        return Err(format!(
            "{} has a leading zero: write the number without it, from {min} to {max}",
            quote(input)
        ));
    }
    // At most 19 digits fit in a u64 whatever they are; more are out of every range.
    match input.parse::<u64>() {
        Ok(n) if input.len() <= 19 && (min..=max).contains(&n) => Ok(n.to_string()),
        _ => Err(format!(
            "{} is out of range: give a number from {min} to {max}",
            quote(input)
        )),
    }
}

/// A JVM heap size: `auto` (any case; the role sizes it) or a number without a leading zero and a
/// unit, `m` (64 to 1048576) or `g` (1 to 1024), in any case. Normal form: `auto`, or the number
/// and the unit in lower case (`512m`, `2g`).
pub fn heap(input: &str) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    if input.eq_ignore_ascii_case("auto") {
        return Ok("auto".to_string());
    }
    let syntax = || {
        format!(
            "{} is not a heap size: give auto, or a number and m or g, as in 512m or 2g",
            quote(input)
        )
    };
    let (digits, unit) = input.split_at(input.len().saturating_sub(1));
    let unit = unit.to_ascii_lowercase();
    let range = match unit.as_str() {
        "m" => 64..=1_048_576,
        "g" => 1..=1024,
        _ => return Err(syntax()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    if digits.len() > 1 && digits.starts_with('0') {
        return Err(format!(
            "{} has a leading zero: write the number without it, as in 512m",
            quote(input)
        ));
    }
    match digits.parse::<u64>() {
        Ok(n) if digits.len() <= 19 && range.contains(&n) => Ok(format!("{n}{unit}")),
        _ => Err(format!(
            "{} is out of range: give 64m to 1048576m, or 1g to 1024g",
            quote(input)
        )),
    }
}

/// A Mesos role (Marathon's `--mesos_role`): `*`, or 1 to 64 letters, digits, `_`, `.` and `-`
/// starting with a letter, a digit or `_`. Normal form: as given.
pub fn mesos_role(input: &str) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    let ok = input == "*"
        || ((1..=64).contains(&input.len())
            && input
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
            && input
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_'));
    if !ok {
        return Err(format!(
            "{} is not a valid Mesos role: give `*`, or 1 to 64 letters, digits, `_`, `.` and `-` starting with a letter, a digit or `_`",
            quote(input)
        ));
    }
    Ok(input.to_string())
}

/// The agent's reconfiguration policy: `additive` or `equal`, in lower case.
pub fn policy(input: &str) -> Answer<String> {
    text(input)?;
    let input = trim(input);
    if input != "additive" && input != "equal" {
        return Err(format!(
            "{} is not a reconfiguration policy: give additive or equal (lower case)",
            quote(input)
        ));
    }
    Ok(input.to_string())
}

/// The isolators Mesos 1.11 knows on Linux (`--isolation`).
pub const ISOLATORS: &[&str] = &[
    "appc/runtime",
    "cgroups/all",
    "cgroups/blkio",
    "cgroups/cpu",
    "cgroups/cpuset",
    "cgroups/devices",
    "cgroups/hugetlb",
    "cgroups/mem",
    "cgroups/net_cls",
    "cgroups/net_prio",
    "cgroups/perf_event",
    "cgroups/pids",
    "disk/du",
    "disk/xfs",
    "docker/runtime",
    "docker/volume",
    "environment_secret",
    "filesystem/linux",
    "filesystem/posix",
    "filesystem/shared",
    "gpu/nvidia",
    "linux/capabilities",
    "linux/devices",
    "linux/nnp",
    "linux/seccomp",
    "namespaces/ipc",
    "namespaces/pid",
    "network/cni",
    "network/port_mapping",
    "network/ports",
    "posix/cpu",
    "posix/mem",
    "posix/rlimits",
    "volume/csi",
    "volume/host_path",
    "volume/image",
    "volume/sandbox_path",
    "volume/secret",
];

/// Isolator names Mesos deprecated, and what replaces them.
const DEPRECATED_ISOLATORS: [(&str, &str); 3] = [
    ("cgroups", "cgroups/cpu,cgroups/mem"),
    ("process", "posix/cpu,posix/mem"),
    ("posix/disk", "disk/du"),
];

/// The agent's isolators: names of [`ISOLATORS`] separated by commas; blanks around them and
/// empty items ignored, the order kept, a repeated name dropped; a deprecated alias is refused
/// naming its replacement, and so is an empty list. Normal form: the names joined with `,`.
pub fn isolation(input: &str) -> Answer<String> {
    text(input)?;
    let mut list: Vec<&str> = Vec::new();
    for name in input.split(',').map(trim).filter(|n| !n.is_empty()) {
        if let Some((_, instead)) = DEPRECATED_ISOLATORS.iter().find(|(old, _)| *old == name) {
            return Err(format!(
                "isolator {} is deprecated: write {instead} instead",
                quote(name)
            ));
        }
        if !ISOLATORS.contains(&name) {
            return Err(format!(
                "unknown isolator {}: give isolators Mesos knows on Linux, separated by commas, as in posix/cpu,posix/mem,filesystem/linux",
                quote(name)
            ));
        }
        if !list.contains(&name) {
            list.push(name);
        }
    }
    if list.is_empty() {
        return Err(
            "no isolator given: give isolators separated by commas, as in posix/cpu,posix/mem,filesystem/linux"
                .to_string(),
        );
    }
    Ok(list.join(","))
}

/// The Mesos flags each role sets itself, and the question that sets each (or why it is fixed).
const MASTER_FLAGS: &[(&str, &str)] = &[
    ("zk", "answer masters instead"),
    ("port", "the role sets it; it cannot be changed"),
    ("log_dir", "the role sets it; it cannot be changed"),
    ("quorum", "answer quorum instead"),
    ("work_dir", "answer work-dir instead"),
    ("cluster", "answer cluster-name instead"),
    ("hostname", "answer hostname instead"),
    ("ip", "answer self instead"),
    ("credentials", "answer cluster-secret or insecure instead"),
    (
        "authenticate_agents",
        "answer cluster-secret or insecure instead",
    ),
    (
        "authenticate_slaves",
        "answer cluster-secret or insecure instead",
    ),
    (
        "authenticate_frameworks",
        "answer cluster-secret or insecure instead",
    ),
    (
        "authenticate_http_readwrite",
        "answer cluster-secret or insecure instead",
    ),
    ("help", "it would stop the daemon"),
    ("version", "it would stop the daemon"),
];

const AGENT_FLAGS: &[(&str, &str)] = &[
    ("master", "answer masters instead"),
    ("port", "the role sets it; it cannot be changed"),
    ("log_dir", "the role sets it; it cannot be changed"),
    ("ip", "answer ip instead"),
    ("hostname", "answer hostname instead"),
    ("work_dir", "answer work-dir instead"),
    ("containerizers", "answer containerizers instead"),
    (
        "executor_registration_timeout",
        "answer executor-registration-timeout instead",
    ),
    ("attributes", "answer attributes instead"),
    ("resources", "answer resources instead"),
    ("credential", "answer agent-secret or insecure instead"),
    (
        "http_credentials",
        "answer agent-secret or insecure instead",
    ),
    (
        "authenticate_http_readwrite",
        "answer agent-secret or insecure instead",
    ),
    ("isolation", "answer isolation instead"),
    (
        "reconfiguration_policy",
        "answer reconfiguration-policy instead",
    ),
    ("docker_config", "answer docker-registries instead"),
    ("gc_delay", "answer gc-delay instead"),
    ("docker_remove_delay", "answer docker-remove-delay instead"),
    ("help", "it would stop the daemon"),
    ("version", "it would stop the daemon"),
];

/// Extra Mesos flags of a role (`master` or `agent`): `name` (a boolean flag set true) or
/// `name=value` entries separated by `;`; blanks around entries and empty entries ignored. A name
/// is 1 to 64 of `a-z 0-9 _` starting with a letter, given once, and not one the role sets itself
/// (the message names the question that sets it); a value is trimmed and not empty, and may hold
/// blanks. Whether the installed Mesos knows a name is checked on the node. Normal form: the
/// entries as `name` or `name=value`, joined with `;` in the order given.
pub fn extra_flags(role: &str, input: &str) -> Answer<String> {
    let reserved = match role {
        "master" => MASTER_FLAGS,
        "agent" => AGENT_FLAGS,
        other => {
            return Err(format!(
                "unknown role {}: extra flags are of master or agent",
                quote(other)
            ));
        }
    };
    text(input)?;
    let mut entries: Vec<(&str, Option<&str>)> = Vec::new();
    for entry in input.split(';').map(trim).filter(|e| !e.is_empty()) {
        let (name, value) = match entry.split_once('=') {
            Some((name, value)) => (name, Some(trim(value))),
            None => (entry, None),
        };
        let name_ok = (1..=64).contains(&name.len())
            && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return Err(format!(
                "{} is not a flag: write name or name=value (a name is 1 to 64 of a-z, 0-9 and `_` starting with a letter, without the leading --), entries separated by `;`",
                quote(entry)
            ));
        }
        if let Some((_, instead)) = reserved.iter().find(|(flag, _)| *flag == name) {
            return Err(format!(
                "flag {} is set by the {role} role: {instead}",
                quote(name)
            ));
        }
        if value.is_some_and(str::is_empty) {
            return Err(format!(
                "{} has no value: write name=value, or the name alone to set a boolean flag",
                quote(entry)
            ));
        }
        if entries.iter().any(|(n, _)| *n == name) {
            return Err(format!(
                "flag {} is given twice: give each flag once",
                quote(name)
            ));
        }
        entries.push((name, value));
    }
    Ok(entries
        .iter()
        .map(|(name, value)| match value {
            Some(value) => format!("{name}={value}"),
            None => name.to_string(),
        })
        .collect::<Vec<_>>()
        .join(";"))
}

/// Docker registry credentials (a secret): `REGISTRY=USER:PASSWORD` entries separated by blanks,
/// split at the first `=` and the first `:` after it. REGISTRY is `host` or `host:port` (a host of
/// letters, digits, `.` and `-`, starting and ending with a letter or digit; a port 1 to 65535
/// without a leading zero), given once; USER 1 to 255 of letters, digits and `._@+-`; PASSWORD 1 to
/// 1024 printable characters without blanks. Normal form: the registry in lower case, the entries
/// joined with one space. No message shows a password, nor anything that may be one: messages name
/// an entry by its position, its registry and its user only.
pub fn registries(input: &str) -> Answer<String> {
    if let Some(at) = input
        .bytes()
        .position(|b| b != b'\t' && !(b' '..=b'~').contains(&b))
    {
        let before = &input[..at];
        let pieces = before.split(is_blank).filter(|e| !e.is_empty()).count();
        let entry = if before.is_empty() || before.ends_with(is_blank) {
            pieces + 1
        } else {
            pieces
        };
        return Err(format!(
            "docker registries: entry {entry} has a byte that is not printable ASCII (\\x{:02x}; the entry is not shown, it may hold a password): retype the answer",
            input.as_bytes()[at]
        ));
    }
    let mut normal: Vec<String> = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    for (n, entry) in input.split(is_blank).filter(|e| !e.is_empty()).enumerate() {
        let n = n + 1;
        let Some((registry, credentials)) = entry.split_once('=') else {
            return Err(format!(
                "docker registries: entry {n} (not shown, it may hold a password) has no `=`: write REGISTRY=USER:PASSWORD entries separated by blanks"
            ));
        };
        let registry =
            registry_host(registry).map_err(|e| format!("docker registries: entry {n}: {e}"))?;
        let Some((user, password)) = credentials.split_once(':') else {
            return Err(format!(
                "docker registries: entry {n} ({}) has no `:` after the `=`: write REGISTRY=USER:PASSWORD",
                quote(&registry)
            ));
        };
        let user_ok = (1..=255).contains(&user.len())
            && user
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._@+-".contains(&b));
        if !user_ok {
            return Err(format!(
                "docker registries: entry {n} ({}): the user {} is not valid: give 1 to 255 letters, digits and . _ @ + -",
                quote(&registry),
                quote(user)
            ));
        }
        if !(1..=1024).contains(&password.len()) {
            return Err(format!(
                "docker registries: entry {n} ({}, user {}): the password (not shown) has {} characters: give 1 to 1024 printable characters without blanks",
                quote(&registry),
                quote(user),
                password.len()
            ));
        }
        if seen.contains(&registry) {
            return Err(format!(
                "docker registries: registry {} is given twice: give each registry once",
                quote(&registry)
            ));
        }
        normal.push(format!("{registry}={user}:{password}"));
        seen.push(registry);
    }
    Ok(normal.join(" "))
}

/// A registry's `host` or `host:port`, in lower case.
fn registry_host(input: &str) -> Answer<String> {
    let (host, port) = match input.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (input, None),
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && host
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && host
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric());
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && !p.starts_with('0')
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
    });
    if !host_ok || !port_ok {
        return Err(format!(
            "{} is not a registry: give host or host:port (a host of letters, digits, `.` and `-`, starting and ending with a letter or digit; a port from 1 to 65535)",
            quote(input)
        ));
    }
    Ok(input.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_ids_survive_an_appended_master() {
        let three = masters("a, b, 7=c").unwrap();
        let five = masters("a, b, 7=c, d, e").unwrap();
        assert_eq!(five[..3], three[..]);
        assert_eq!(masters_normal(&five), "1=a 2=b 7=c 4=d 5=e");
    }

    #[test]
    fn a_number_of_any_length_is_in_range_or_refused_without_overflow() {
        assert_eq!(number("86400000", 1000, 86_400_000).unwrap(), "86400000");
        assert_eq!(number("0", 0, 8760).unwrap(), "0");
        for digits in [20, 40, 400] {
            let input = "9".repeat(digits);
            let message = number(&input, 0, u64::MAX).map(|_| ()).unwrap_err();
            assert!(message.contains("is out of range"), "{digits}: {message}");
        }
        assert_eq!(
            number(&"9".repeat(18), 0, u64::MAX).unwrap(),
            "9".repeat(18)
        );
    }

    #[test]
    fn every_flag_a_role_sets_names_its_question_and_the_other_roles_are_free() {
        for (role, flags) in [("master", MASTER_FLAGS), ("agent", AGENT_FLAGS)] {
            for (flag, instead) in flags {
                let message = extra_flags(role, &format!("{flag}=1")).unwrap_err();
                assert!(message.ends_with(instead), "{role} {flag}: {message}");
                assert!(extra_flags(role, flag).is_err(), "{role} {flag}");
            }
        }
        assert_eq!(
            extra_flags("agent", "quorum=2;zk=x").unwrap(),
            "quorum=2;zk=x"
        );
        assert!(extra_flags("both", "a=1").is_err());
    }

    /// No message of the registries shows a password or what may be one, however it is wrong.
    #[test]
    fn registries_messages_show_no_password() {
        let password = "Zm9vYmFy-pass";
        for input in [
            password.to_string(),
            format!("reg.io={password}"),
            format!("bad_host=ann:{password}"),
            format!("reg.io=a/b:{password}"),
            format!("reg.io=ann:{password} REG.io=bob:{password}"),
            format!("reg.io=ann:{password}\u{1b}"),
            format!("reg.io=ann:{password}\u{a0}x"),
            format!("reg.io=ann:{}", "x".repeat(1025)),
        ] {
            let message = registries(&input).unwrap_err();
            assert!(!message.contains(password), "{input:?}: {message}");
            assert!(!message.contains("xxxxxxxx"), "{input:?}: {message}");
        }
        assert_eq!(
            registries(&format!("reg.io=ann:{}", "x".repeat(1024))).map(|n| n.len()),
            Ok(1035)
        );
    }

    #[test]
    fn quote_shows_every_byte_that_is_not_printable_ascii() {
        assert_eq!(quote("a\u{1b}[31m\r\n"), r"`a\x1b[31m\x0d\x0a`");
        assert_eq!(quote("a\u{a0}b"), r"`a\xc2\xa0b`");
        assert_eq!(quote("a`b\\c\"d"), r#"`a\`b\\c"d`"#);
    }
}
