//! The two implementations of the answer syntax, called alike: the Rust parser of the inventory
//! (`xtask::inputs::answers`) and the shell library of the packages (`packaging/shared/answers.sh`
//! under dash, as /bin/sh on Debian). The table test and the differential test compare them.

use std::process::Command;

use anyhow::{Context, Result, ensure};
use xtask::inputs::answers;

use crate::workspace;

/// The checks of the answer syntax, by the name the table uses (`mr_<name>` in the shell).
pub const FUNCTIONS: [&str; 19] = [
    "masters",
    "quorum",
    "host",
    "ipv4",
    "kv",
    "abs_path",
    "duration",
    "containerizers",
    "name",
    "self",
    "cluster_secret",
    "agent_secret",
    "number",
    "heap",
    "mesos_role",
    "policy",
    "isolation",
    "extra_flags",
    "registries",
];

/// The checks of secrets: their messages never repeat the answer (see [`secret_parts`]).
pub const SECRETS: [&str; 3] = ["cluster_secret", "agent_secret", "registries"];

/// What no message of a secret's check may repeat: the whole answer of the cluster and agent
/// secrets; of the Docker registries, whatever may be a password (each entry without `=`, the rest
/// of an entry after its `=` when it has no `:`, and each password), unless it is also part of a
/// registry or a user, which messages may name.
pub fn secret_parts(function: &str, input: &str) -> Vec<String> {
    let blank = |c: char| c == ' ' || c == '\t';
    if function != "registries" {
        return vec![input.trim_matches(blank).to_string()];
    }
    let entries: Vec<&str> = input.split(blank).filter(|e| !e.is_empty()).collect();
    let named: Vec<&str> = entries
        .iter()
        .filter_map(|entry| entry.split_once('='))
        .flat_map(|(registry, rest)| [registry, rest.split_once(':').map_or("", |(user, _)| user)])
        .collect();
    entries
        .iter()
        .map(|entry| match entry.split_once('=') {
            None => *entry,
            Some((_, rest)) => rest.split_once(':').map_or(rest, |(_, password)| password),
        })
        .filter(|part| !named.iter().any(|n| n.contains(part)))
        .map(str::to_string)
        .collect()
}

/// One call of a check: `arg` is the master count (quorum), the normal master list (self), the
/// role (extra_flags), or the lowest and highest number separated by a space (number).
#[derive(Debug, Clone)]
pub struct Call {
    pub function: String,
    pub arg: Option<String>,
    pub input: String,
}

/// The Rust result of a call: the normal form, or the error message.
pub fn rust(call: &Call) -> Result<String, String> {
    let arg = call.arg.as_deref().unwrap_or_default();
    let input = call.input.as_str();
    match call.function.as_str() {
        "masters" => answers::masters(input).map(|l| answers::masters_normal(&l)),
        "quorum" => answers::quorum(
            arg.parse().expect("quorum calls give the count in arg"),
            input,
        )
        .map(|q| q.to_string()),
        "host" => answers::host(input),
        "ipv4" => answers::ipv4(input),
        "kv" => answers::kv(input),
        "abs_path" => answers::abs_path(input),
        "duration" => answers::duration(input),
        "containerizers" => answers::containerizers(input),
        "name" => answers::name(input),
        "cluster_secret" => answers::cluster_secret(input),
        "agent_secret" => answers::agent_secret(input),
        "number" => {
            let (min, max) = arg
                .split_once(' ')
                .and_then(|(min, max)| Some((min.parse().ok()?, max.parse().ok()?)))
                .expect("number calls give `MIN MAX` in arg");
            answers::number(input, min, max)
        }
        "heap" => answers::heap(input),
        "mesos_role" => answers::mesos_role(input),
        "policy" => answers::policy(input),
        "isolation" => answers::isolation(input),
        "extra_flags" => answers::extra_flags(arg, input),
        "registries" => answers::registries(input),
        "self" => {
            let list = answers::masters(arg).expect("self calls give a valid master list in arg");
            answers::self_id(&list, input).map(|id| id.to_string())
        }
        other => panic!("unknown answer check {other:?}"),
    }
}

/// What the shell printed for a call, raw.
#[derive(Debug, Clone)]
pub struct ShellOutput {
    pub success: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ShellOutput {
    /// The normal form (stdout without its newline) on success, the message on failure.
    pub fn result(&self) -> Result<String, String> {
        let text = |b: &[u8]| {
            let s = String::from_utf8_lossy(b);
            s.strip_suffix('\n').unwrap_or(&s).to_string()
        };
        if self.success {
            Ok(text(&self.stdout))
        } else {
            Err(text(&self.stderr))
        }
    }
}

/// Runs every call in one dash process (a process per call would dominate the time): each call's
/// fn, arg and input are arguments, and each result comes back as stdout, stderr and status,
/// NUL-separated (no answer can hold a NUL: it is an argument).
pub fn shell(calls: &[Call]) -> Result<Vec<ShellOutput>> {
    const SCRIPT: &str = r#"
lib=$1
shift
. "$lib"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
while [ $# -ge 3 ]; do
	f=$1 arg=$2 input=$3
	shift 3
	case $f in
	quorum | self | extra_flags) "mr_$f" "$arg" "$input" 2>"$tmp/err" ;;
	number) "mr_$f" "${arg% *}" "${arg#* }" "$input" 2>"$tmp/err" ;;
	*) "mr_$f" "$input" 2>"$tmp/err" ;;
	esac
	rc=$?
	printf '\0'
	cat "$tmp/err"
	printf '\0%s\0' "$rc"
done
"#;
    let library = workspace().join("packaging/shared/answers.sh");
    let mut command = Command::new("dash");
    command.arg("-c").arg(SCRIPT).arg("dash").arg(&library);
    for call in calls {
        command
            .arg(&call.function)
            .arg(call.arg.as_deref().unwrap_or_default())
            .arg(&call.input);
    }
    let out = command.output().context("cannot run dash")?;
    ensure!(
        out.status.success(),
        "the batch of shell checks failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fields: Vec<&[u8]> = out.stdout.split(|b| *b == 0).collect();
    // Three fields a call, and the empty rest after the last NUL.
    ensure!(
        fields.len() == 3 * calls.len() + 1,
        "the shell gave {} fields for {} calls",
        fields.len(),
        calls.len()
    );
    Ok(fields
        .chunks_exact(3)
        .map(|f| ShellOutput {
            success: f[2] == b"0",
            stdout: f[0].to_vec(),
            stderr: f[1].to_vec(),
        })
        .collect())
}

/// A message as both sides must write it: one line (the shell's ends with its newline) of
/// printable ASCII, whatever the input held.
pub fn one_printable_line(message: &[u8]) -> bool {
    let body = message.strip_suffix(b"\n").unwrap_or(message);
    !body.is_empty() && body.iter().all(|b| (b' '..=b'~').contains(b))
}
