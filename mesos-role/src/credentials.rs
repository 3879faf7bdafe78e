//! This node's own credentials (docs/security.md), used when `mesos-role` runs as root, and the
//! masking that keeps every secret out of what it prints. Marathon's HTTP Basic credentials are the
//! first `user:password` of MARATHON_HTTP_CREDENTIALS in Marathon's environment files; Mesos' are
//! principal `operator` of the node's credentials file (a master's `mesos-credentials`, an agent's
//! `agent-http-credentials`). Only HTTP headers carry them: never a URL, an argument or a message.

use serde_json::Value;

use crate::node::Node;

/// MARATHON_ZK and MARATHON_HTTP_CREDENTIALS (root only), read after Marathon's other files.
pub const MARATHON_SECRET_ENV: &str = "/etc/mesos-roles/secrets/marathon.env";
/// A master's Mesos credentials: `{"credentials":[{"principal":...,"secret":...}]}`.
pub const MESOS_CREDENTIALS: &str = "/etc/mesos-roles/secrets/mesos-credentials";
/// An agent's HTTP credentials, in the same form.
pub const AGENT_HTTP_CREDENTIALS: &str = "/etc/mesos-roles/secrets/agent-http-credentials";
/// The principal of the operator's HTTP requests.
pub const OPERATOR: &str = "operator";
/// What stands for a secret in everything shown.
pub const MASK: &str = "***";

/// HTTP Basic credentials. `{:?}` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Basic {
    pub user: String,
    password: String,
}

impl Basic {
    /// The `Authorization` header's value.
    pub fn header(&self) -> String {
        format!(
            "Basic {}",
            base64(format!("{}:{}", self.user, self.password).as_bytes())
        )
    }
}

impl std::fmt::Debug for Basic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Basic({}:{MASK})", self.user)
    }
}

/// The credentials for one service, and where they would come from (for the message of a 401).
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The service, as messages name it (`Marathon`, `Mesos`).
    pub service: &'static str,
    pub basic: Option<Basic>,
    /// The file that holds them on this node; None when this kind of node holds none.
    pub source: Option<&'static str>,
    /// mesos-role runs as root, so it could read `source`.
    pub privileged: bool,
}

impl Credentials {
    /// No credentials, because this node holds none for `service`.
    pub fn none(service: &'static str, privileged: bool) -> Self {
        Self {
            service,
            basic: None,
            source: None,
            privileged,
        }
    }

    /// Marathon's, from the environment systemd gives it (later files win); on a master only.
    pub fn marathon(node: &Node) -> Self {
        let mut credentials = Self::none("Marathon", node.privileged());
        if node.is_master() {
            credentials.source = Some(MARATHON_SECRET_ENV);
            if node.privileged() {
                credentials.basic = node
                    .marathon_var("MARATHON_HTTP_CREDENTIALS")
                    .and_then(|list| first_user_password(&list));
            }
        }
        credentials
    }

    /// Mesos' operator credentials of this node: a master's, or an agent's for its own endpoints.
    pub fn mesos(node: &Node, master: bool) -> Self {
        let mut credentials = Self::none("Mesos", node.privileged());
        let file = if master {
            MESOS_CREDENTIALS
        } else {
            AGENT_HTTP_CREDENTIALS
        };
        credentials.source = Some(file);
        credentials.basic = node
            .secret_text(file)
            .and_then(|text| principal(&text, OPERATOR));
        credentials
    }

    /// A 401 as an error that [`Unauthorized`] finds again.
    pub fn refused(&self) -> anyhow::Error {
        Unauthorized(self.unauthorized()).into()
    }

    /// What a 401 from the service means here, and what to do: one line, no secret.
    pub fn unauthorized(&self) -> String {
        let service = self.service;
        match (&self.basic, self.source) {
            (Some(basic), Some(source)) => format!(
                "{service} answered 401 to this node's credentials (user {} from {source}): they are not the ones it requires; reconfigure this node with the cluster's secret (docs/security.md)",
                basic.user
            ),
            (None, Some(_)) if !self.privileged => format!(
                "{service} answered 401: run as root so mesos-role can use this node's credentials"
            ),
            (None, Some(source)) => format!(
                "{service} answered 401 and this node has no credentials for it in {source}: reconfigure this node with the cluster's secret (docs/security.md)"
            ),
            (_, None) => format!(
                "{service} answered 401: its credentials are on the masters only: run mesos-role there, as root"
            ),
        }
    }
}

/// A 401: the error whose message says what it means here ([`Credentials::unauthorized`]).
#[derive(Debug)]
pub struct Unauthorized(pub String);

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Unauthorized {}

/// The first `user:password` of a comma-separated list (MARATHON_HTTP_CREDENTIALS).
fn first_user_password(list: &str) -> Option<Basic> {
    let first = list.split(',').next()?.trim();
    let (user, password) = first.split_once(':')?;
    (!user.is_empty()).then(|| Basic {
        user: user.to_string(),
        password: password.to_string(),
    })
}

/// `principal`'s secret in Mesos' credentials JSON (`{"credentials":[...]}`, or one credential
/// `{"principal":...,"secret":...}` as an agent's `--credential` holds it).
fn principal(text: &str, principal: &str) -> Option<Basic> {
    let json: Value = serde_json::from_str(text).ok()?;
    let single = std::slice::from_ref(&json);
    let list = json
        .get("credentials")
        .and_then(Value::as_array)
        .map_or(single, Vec::as_slice);
    list.iter()
        .find(|c| c.get("principal").and_then(Value::as_str) == Some(principal))
        .and_then(|c| c.get("secret").and_then(Value::as_str))
        .map(|secret| Basic {
            user: principal.to_string(),
            password: secret.to_string(),
        })
}

/// `text` with the password of every `scheme://user:password@` masked: `zk://mesos:***@h/mesos`.
pub fn mask(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(last) => {
                let userinfo = &authority[..last];
                match userinfo.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:{MASK}")),
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[last..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

/// A running flag's value as shown: URLs masked, and a credential or secret flag that holds more
/// than a path (Mesos reads `file://` values in) masked whole.
pub fn mask_flag(name: &str, value: &str) -> String {
    let sensitive = name.contains("credential") || name.contains("secret");
    let a_path = value.starts_with('/') && !value.contains(char::is_whitespace);
    if sensitive && !value.is_empty() && !a_path {
        return MASK.to_string();
    }
    mask(value)
}

/// Standard base64 with padding (RFC 4648), for the Basic header.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// base64 of `text`, for other modules' tests.
    pub fn encode(text: &str) -> String {
        base64(text.as_bytes())
    }

    #[test]
    fn a_401_says_what_to_do_in_one_line() {
        let mut marathon = Credentials::none("Marathon", false);
        marathon.source = Some(MARATHON_SECRET_ENV);
        assert_eq!(
            marathon.unauthorized(),
            "Marathon answered 401: run as root so mesos-role can use this node's credentials"
        );
        marathon.privileged = true;
        assert!(marathon.unauthorized().contains(
            "this node has no credentials for it in /etc/mesos-roles/secrets/marathon.env"
        ));
        marathon.basic = first_user_password("operator:pw-not-shown");
        let said = marathon.unauthorized();
        assert!(said.contains("user operator from"), "{said}");
        assert!(!said.contains("pw-not-shown"), "{said}");
        let agent = Credentials::none("Marathon", true);
        assert!(
            agent
                .unauthorized()
                .contains("its credentials are on the masters only")
        );
        for message in [said, agent.unauthorized()] {
            assert_eq!(message.lines().count(), 1);
        }
    }

    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            mask("zk://mesos:s3cret@10.0.0.1:2181,10.0.0.2:2181/mesos"),
            "zk://mesos:***@10.0.0.1:2181,10.0.0.2:2181/mesos"
        );
        assert_eq!(
            mask("was zk://a:x@h/m, now zk://b:y@h/m"),
            "was zk://a:***@h/m, now zk://b:***@h/m"
        );
        assert_eq!(mask("zk://h:2181/mesos"), "zk://h:2181/mesos");
        assert_eq!(mask("zk://user@h/m"), "zk://user@h/m");
        assert_eq!(mask("zk://u:p:q@h"), "zk://u:***@h");
        assert_eq!(mask("no url"), "no url");
        assert_eq!(mask_flag("credentials", "/etc/x"), "/etc/x");
        assert_eq!(mask_flag("credentials", "{\"credentials\":[]}"), MASK);
        assert_eq!(mask_flag("zk", "zk://m:p@h/mesos"), "zk://m:***@h/mesos");
    }

    #[test]
    fn basic_headers_and_credential_files() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        let basic = first_user_password("operator:p4ss:word, other:x").unwrap();
        assert_eq!(basic.user, "operator");
        assert_eq!(
            basic.header(),
            format!("Basic {}", base64(b"operator:p4ss:word"))
        );
        assert!(!format!("{basic:?}").contains("p4ss"));
        assert_eq!(first_user_password(""), None);
        let json = r#"{"credentials":[{"principal":"agent","secret":"a"},{"principal":"operator","secret":"o"}]}"#;
        assert_eq!(principal(json, OPERATOR).unwrap().password, "o");
        assert_eq!(
            principal(r#"{"principal":"agent","secret":"a"}"#, "agent")
                .unwrap()
                .password,
            "a"
        );
        assert_eq!(principal("not json", OPERATOR), None);
    }
}
