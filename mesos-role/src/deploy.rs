//! `mesos-role deploy APP.json`: checks the app definition before anything is sent (JSON with the
//! exact position of an error, then the fields Marathon requires), posts it to Marathon's
//! `/v2/apps`, and follows the app until its instances run or the wait is over. As root on a
//! master it authenticates with the node's own Marathon credentials (docs/security.md).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::{DeployArgs, Global};
use crate::credentials::Credentials;
use crate::node::Node;
use crate::probe::Http;

const POLL: Duration = Duration::from_millis(500);

pub fn run(global: &Global, args: &DeployArgs) -> Result<bool> {
    let file = args.app.display().to_string();
    let bytes = std::fs::read(&args.app).with_context(|| format!("cannot read {file}"))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{file} is not UTF-8 text (a bad byte at offset {}): save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })?;
    let app = crate::quotes::parse(&file, &text).map_err(anyhow::Error::msg)?;
    let id = check_app(&app).map_err(|e| anyhow::anyhow!("{file}: {e}"))?;
    let http = Http::new(Duration::from_secs(global.timeout));
    let node = Node::new(&global.root);
    let auth = Credentials::marathon(&node);
    let marathon = match &args.marathon {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => find_marathon(&node, &http)?,
    };
    let created = post_app(&http, &auth, &marathon, &file, &id, &text)?;
    let deployment = created
        .pointer("/deployments/0/id")
        .and_then(Value::as_str)
        .unwrap_or("?");
    println!("{id}: accepted by Marathon at {marathon} (deployment {deployment})");
    if args.no_wait {
        return Ok(true);
    }
    follow(&http, &auth, &marathon, &id, Duration::from_secs(args.wait))
}

/// POST /v2/apps: Marathon's answer, or what its refusal means.
fn post_app(
    http: &Http,
    auth: &Credentials,
    marathon: &str,
    file: &str,
    id: &str,
    text: &str,
) -> Result<Value> {
    let url = format!("{marathon}/v2/apps");
    let answer = http.post_json_as(&url, text.as_bytes(), auth.basic.as_ref())?;
    match answer.status {
        200 | 201 => {}
        401 => bail!("{}", auth.unauthorized()),
        409 => bail!(
            "Marathon at {marathon} already has an app {id} (409 Conflict): change \"id\" in {file}, or update the app with PUT {marathon}/v2/apps{id}"
        ),
        status => bail!(
            "Marathon at {marathon} refused {file} ({status}): {}",
            marathon_message(&answer.body)
        ),
    }
    answer.json(&url)
}

/// The fields Marathon refuses an app without, checked here so that the message names the field
/// and the fix. Returns the app's absolute id.
pub fn check_app(app: &Value) -> Result<String, String> {
    let Some(object) = app.as_object() else {
        return Err("an app definition is a JSON object ({ \"id\": ..., ... })".into());
    };
    let id = match object.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim(),
        Some(_) => return Err("\"id\" must be a non-empty string, like \"demo\"".into()),
        None => {
            return Err(
                "\"id\" is missing: give the app a unique id, like \"id\": \"demo\"".into(),
            );
        }
    };
    for segment in id.trim_start_matches('/').split('/') {
        if !valid_id_segment(segment) {
            return Err(format!(
                "\"id\" {id:?}: {segment:?} is not a valid path segment: use lower-case letters, digits, '-' and '.' (not at the start or end), separated by '/'"
            ));
        }
    }
    let has = |key: &str| object.get(key).is_some_and(|v| !v.is_null());
    if !has("cmd") && !has("args") && !has("container") {
        return Err(
            "the app needs \"cmd\" (a shell command), \"args\" or a \"container\" (e.g. a Docker image) to run".into(),
        );
    }
    for key in ["cpus", "mem", "disk"] {
        if let Some(value) = object.get(key)
            && !value.as_f64().is_some_and(|v| v >= 0.0)
        {
            return Err(format!("\"{key}\" must be a number >= 0, not {value}"));
        }
    }
    if let Some(value) = object.get("instances")
        && value.as_u64().is_none()
    {
        return Err(format!(
            "\"instances\" must be a whole number >= 0, not {value}"
        ));
    }
    if let Some(container) = object.get("container")
        && container
            .pointer("/docker/image")
            .is_some_and(|i| !i.is_string())
    {
        return Err("\"container.docker.image\" must be a string, like \"nginx:1.25\"".into());
    }
    Ok(format!("/{}", id.trim_start_matches('/')))
}

fn valid_id_segment(segment: &str) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    segment.split('.').all(label)
}

/// The Marathon of this node's configuration: on a master its own (the port of marathon.env or
/// /etc/default/marathon), elsewhere the first master of /etc/mesos/zk that answers.
fn find_marathon(node: &Node, http: &Http) -> Result<String> {
    if node.is_master() {
        return Ok(format!("http://127.0.0.1:{}", node.master().marathon_port));
    }
    let (zk, hosts) = node.zk();
    if zk.is_none() {
        bail!(
            "no Marathon in this node's configuration ({} has no etc/mesos/zk): give --marathon http://MASTER:8080",
            node.root().display()
        );
    }
    let mut tried = Vec::new();
    for host in hosts {
        let url = format!("http://{host}:8080");
        match http.get(&format!("{url}/v2/info")) {
            // 401: a Marathon that requires credentials (the post says whose).
            Ok(answer) if answer.status == 200 || answer.status == 401 => return Ok(url),
            Ok(answer) => tried.push(format!("{url}: {}", answer.status)),
            Err(e) => tried.push(format!("{e:#}")),
        }
    }
    bail!(
        "no Marathon answers on the masters of /etc/mesos/zk ({}): start it, or give --marathon URL",
        tried.join("; ")
    )
}

/// Marathon's `{message, details: [{path, errors}]}` as one line.
fn marathon_message(body: &str) -> String {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return body.trim().to_string();
    };
    let mut message = value
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("no message")
        .to_string();
    for detail in value
        .get("details")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let path = detail.get("path").and_then(Value::as_str).unwrap_or("/");
        for error in detail
            .get("errors")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            message.push_str(&format!("; {path}: {}", error.as_str().unwrap_or("?")));
        }
    }
    message
}

/// Polls `/v2/apps/<id>` until every instance runs and no deployment is left, or `wait` is over.
fn follow(
    http: &Http,
    auth: &Credentials,
    marathon: &str,
    id: &str,
    wait: Duration,
) -> Result<bool> {
    let url = format!("{marathon}/v2/apps{id}");
    let start = Instant::now();
    let mut last = String::new();
    loop {
        let answer = http.get_as(&url, auth.basic.as_ref())?;
        if answer.status == 401 {
            bail!("{}", auth.unauthorized());
        }
        if answer.status != 200 {
            bail!(
                "{url} answered {}: {}",
                answer.status,
                marathon_message(&answer.body)
            );
        }
        let app = answer.json(&url)?;
        let app = app.get("app").unwrap_or(&app);
        let count = |key: &str| app.get(key).and_then(Value::as_u64).unwrap_or(0);
        let (instances, running, staged) = (
            count("instances"),
            count("tasksRunning"),
            count("tasksStaged"),
        );
        let deployments = app
            .get("deployments")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let progress = format!("{id}: {running} of {instances} running, {staged} staged");
        if progress != last {
            println!("{progress}");
            last = progress;
        }
        if running >= instances && deployments == 0 {
            println!(
                "{id}: running ({instances} instance{}) after {:.1} s",
                if instances == 1 { "" } else { "s" },
                start.elapsed().as_secs_f64()
            );
            return Ok(true);
        }
        if start.elapsed() >= wait {
            let failure = app
                .pointer("/lastTaskFailure/message")
                .and_then(Value::as_str)
                .map(|m| format!("; last task failure: {m}"))
                .unwrap_or_default();
            eprintln!(
                "mesos-role: {id} is not running after {} s ({running} of {instances} running, {staged} staged){failure}; the deployment goes on in Marathon: see {marathon}/ui/ or wait longer with --wait",
                wait.as_secs()
            );
            return Ok(false);
        }
        std::thread::sleep(POLL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_app_needs_an_id_and_something_to_run() {
        assert_eq!(
            check_app(&json!({"id": "demo", "cmd": "sleep 9"})),
            Ok("/demo".into())
        );
        assert_eq!(
            check_app(&json!({"id": "/prod/web.v2", "container": {"docker": {"image": "x"}}})),
            Ok("/prod/web.v2".into())
        );
        let err = check_app(&json!({"cmd": "x"})).unwrap_err();
        assert!(err.contains("\"id\" is missing"), "{err}");
        let err = check_app(&json!({"id": "demo"})).unwrap_err();
        assert!(err.contains("\"cmd\""), "{err}");
        let err = check_app(&json!({"id": "Demo", "cmd": "x"})).unwrap_err();
        assert!(err.contains("lower-case"), "{err}");
        let err = check_app(&json!({"id": "demo", "cmd": "x", "mem": "256"})).unwrap_err();
        assert!(err.contains("\"mem\" must be a number"), "{err}");
        let err = check_app(&json!({"id": "demo", "cmd": "x", "instances": 1.5})).unwrap_err();
        assert!(err.contains("\"instances\""), "{err}");
        assert!(check_app(&json!([1])).is_err());
    }

    #[test]
    fn marathons_validation_errors_become_one_line() {
        let body = r#"{"message":"Object is not valid","details":[{"path":"/id","errors":["error.path.missing"]}]}"#;
        assert_eq!(
            marathon_message(body),
            "Object is not valid; /id: error.path.missing"
        );
    }

    #[test]
    fn a_401_from_marathon_is_one_line_that_says_what_to_do() {
        use crate::fixture::{self, Refuser};
        let server = Refuser::start();
        let tree = fixture::master(server.port, true);
        let http = Http::new(Duration::from_secs(2));
        let marathon = format!("http://127.0.0.1:{}", server.port);
        let app = r#"{"id": "demo", "cmd": "sleep 9"}"#;
        let as_user = Credentials::marathon(&Node::with_privilege(tree.path(), false));
        let error = post_app(&http, &as_user, &marathon, "app.json", "/demo", app).unwrap_err();
        assert_eq!(
            format!("{error:#}"),
            "Marathon answered 401: run as root so mesos-role can use this node's credentials"
        );
        let as_root = Credentials::marathon(&Node::with_privilege(tree.path(), true));
        let error = post_app(&http, &as_root, &marathon, "app.json", "/demo", app).unwrap_err();
        let said = format!("{error:#}");
        assert!(
            said.starts_with("Marathon answered 401 to this node's credentials"),
            "{said}"
        );
        assert!(!fixture::shows_a_secret(&said), "{said}");
        let sent = server.authorizations();
        assert_eq!(sent.len(), 2);
        assert!(sent[0].is_none() && sent[1].as_deref().is_some_and(|a| a.starts_with("Basic ")));
    }
}
