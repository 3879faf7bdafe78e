//! The Debian mirror, read from the build host's apt configuration (or `MESOS_ROLES_MIRROR`): no
//! mirror name is ever written into the project.

use std::path::Path;

use anyhow::{Result, bail};

/// The variable that overrides the host's apt configuration.
pub const OVERRIDE: &str = "MESOS_ROLES_MIRROR";

/// The URI of the host's Debian archive: the first source with a plain suite (not `-security` or
/// `-updates`) and the `main` component.
pub fn debian() -> Result<String> {
    if let Ok(uri) = std::env::var(OVERRIDE) {
        return Ok(uri);
    }
    let one_line = "/etc/apt/sources.list";
    let mut texts = vec![(
        one_line.to_string(),
        std::fs::read_to_string(one_line).unwrap_or_default(),
    )];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut paths: Vec<_> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            texts.push((path.display().to_string(), text));
        }
    }
    for (file, text) in &texts {
        let found = match Path::new(file).extension().and_then(|e| e.to_str()) {
            Some("sources") => from_deb822(text),
            Some("list") => from_one_line(text),
            _ => None,
        };
        if let Some(uri) = found {
            return Ok(uri);
        }
    }
    bail!(
        "found no Debian archive (a source with suite like `bookworm` and component `main`) in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources: configure apt on this host, or set {OVERRIDE}"
    )
}

fn plain_suite(suite: &str) -> bool {
    !suite.contains('-') && !suite.contains('/')
}

fn from_deb822(text: &str) -> Option<String> {
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| value.trim().to_string())
            })
        };
        let enabled = field("Enabled").is_none_or(|v| v != "no");
        let debs = field("Types").is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let main = field("Components").is_some_and(|c| c.split_whitespace().any(|c| c == "main"));
        let suite = field("Suites").is_some_and(|s| s.split_whitespace().any(plain_suite));
        if enabled && debs && main && suite {
            return field("URIs")?.split_whitespace().next().map(String::from);
        }
    }
    None
}

fn from_one_line(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.starts_with('['))
            .collect();
        match words.as_slice() {
            ["deb", uri, suite, components @ ..]
                if plain_suite(suite) && components.contains(&"main") =>
            {
                Some(uri.to_string())
            }
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deb822_skips_security_and_disabled_stanzas() {
        let text = "Types: deb\nURIs: http://security.example.org/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
                    Types: deb\nURIs: http://off.example.org/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n\
                    Types: deb deb-src\nURIs: http://mirror.example.org/debian\nSuites: bookworm bookworm-updates\nComponents: main contrib\n";
        assert_eq!(
            from_deb822(text).as_deref(),
            Some("http://mirror.example.org/debian")
        );
    }

    #[test]
    fn one_line_format_with_options() {
        let text = "# comment\ndeb [arch=amd64] http://mirror.example.org/debian bookworm main\n";
        assert_eq!(
            from_one_line(text).as_deref(),
            Some("http://mirror.example.org/debian")
        );
        assert_eq!(
            from_one_line("deb http://x.example.org/d bookworm-updates main\n"),
            None
        );
    }
}
