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
    fn quote_shows_every_byte_that_is_not_printable_ascii() {
        assert_eq!(quote("a\u{1b}[31m\r\n"), r"`a\x1b[31m\x0d\x0a`");
        assert_eq!(quote("a\u{a0}b"), r"`a\xc2\xa0b`");
        assert_eq!(quote("a`b\\c\"d"), r#"`a\`b\\c"d`"#);
    }
}
