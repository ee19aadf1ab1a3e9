//! Least privilege: every Slack Web API method the code calls, and every event it
//! subscribes to, is covered by a requested bot scope, and no requested scope goes unused.
//! The requested scopes agree everywhere they are written down, and the app manifest can
//! never drift from the code: its URLs are the template's routes, its events the ones the
//! events endpoint acts on.

use std::collections::BTreeSet;

use approvals_core::usecases::install::DEFAULT_BOT_SCOPES;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// What Slack asks of a bot for each method and event this code may use (slack-api-ref's
/// per-method JSON; `../shared/slack/facts.md`). A method the code starts calling that is
/// missing here fails the test until its scope is looked up and added.
const METHOD_SCOPES: &[(&str, &[&str])] = &[
    ("chat.postMessage", &["chat:write"]),
    ("chat.update", &["chat:write"]),
    ("chat.postEphemeral", &["chat:write"]),
    // slack-api-ref: "no_scope_required": true (the digest's links to each request).
    ("chat.getPermalink", &[]),
    ("users.list", &["users:read"]),
    ("users.info", &["users:read"]),
    // Also needs users:read: the email is a field of the user object.
    ("users.lookupByEmail", &["users:read", "users:read.email"]),
    ("conversations.join", &["channels:join"]),
    // Called only for a private channel (after conversations.join refused it), so
    // groups:read; a public one would need channels:read.
    ("conversations.info", &["groups:read"]),
    ("conversations.open", &["im:write"]),
    ("files.getUploadURLExternal", &["files:write"]),
    ("files.completeUploadExternal", &["files:write"]),
    ("views.open", &[]),
    ("views.publish", &[]),
    ("auth.test", &[]),
    ("auth.revoke", &[]),
    ("oauth.v2.access", &[]),
];

const EVENT_SCOPES: &[(&str, &[&str])] = &[
    ("app_uninstalled", &[]),
    ("tokens_revoked", &[]),
    ("team_join", &["users:read"]),
    ("user_change", &["users:read"]),
    ("app_home_opened", &[]),
    ("message.channels", &["channels:history"]),
    ("message.groups", &["groups:history"]),
    ("message.im", &["im:history"]),
];

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap()
}

/// The Web API methods the Slack clients call: the first argument of each `call…("…")`.
fn methods_called() -> BTreeSet<String> {
    let mut methods = BTreeSet::new();
    for file in [
        "crates/outbound/src/slack_api.rs",
        "crates/outbound/src/slack_oauth.rs",
    ] {
        let source = read(file);
        for call in [".call(", ".call_form(", ".call_with_client_credentials("] {
            for (at, _) in source.match_indices(call) {
                let rest = source[at + call.len()..].trim_start();
                if let Some(quoted) = rest.strip_prefix('"') {
                    let method = quoted.split('"').next().unwrap();
                    methods.insert(method.to_owned());
                }
            }
        }
    }
    methods
}

fn manifest() -> serde_yaml::Value {
    serde_yaml::from_str(&read("docs/slack-app-manifest.yaml")).unwrap()
}

fn strings(yaml: &serde_yaml::Value) -> BTreeSet<String> {
    yaml.as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

fn needed(table: &[(&str, &[&str])], name: &str) -> Vec<String> {
    table
        .iter()
        .find(|(known, _)| *known == name)
        .unwrap_or_else(|| panic!("{name}: look up the scope it needs and add it to this test"))
        .1
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[test]
fn every_method_and_event_is_covered_and_no_scope_goes_unused() {
    let requested: BTreeSet<String> = DEFAULT_BOT_SCOPES.split(',').map(str::to_owned).collect();
    let methods = methods_called();
    assert!(methods.contains("chat.postMessage"), "{methods:?}");
    let events = strings(&manifest()["settings"]["event_subscriptions"]["bot_events"]);

    let mut used = BTreeSet::new();
    for method in &methods {
        for scope in needed(METHOD_SCOPES, method) {
            assert!(requested.contains(&scope), "{method} needs {scope}");
            used.insert(scope);
        }
    }
    for event in &events {
        for scope in needed(EVENT_SCOPES, event) {
            assert!(requested.contains(&scope), "event {event} needs {scope}");
            used.insert(scope);
        }
    }
    // Requests go to the channel the host names without joining it first.
    if !methods.contains("conversations.join") {
        used.insert("chat:write.public".to_owned());
    }
    // An argument, not a method, needs this one: a post's `username`.
    if read("crates/outbound/src/slack_api.rs").contains(r#"body["username"]"#) {
        used.insert("chat:write.customize".to_owned());
    }
    let unused: Vec<_> = requested.difference(&used).collect();
    assert!(unused.is_empty(), "requested but never used: {unused:?}");
}

#[test]
fn the_scopes_agree_in_the_code_the_template_the_manifest_and_the_readme() {
    let requested: BTreeSet<String> = DEFAULT_BOT_SCOPES.split(',').map(str::to_owned).collect();
    let template: serde_yaml::Value = serde_yaml::from_str(&read("template.yaml")).unwrap();
    let in_template: BTreeSet<String> = template["Parameters"]["SlackBotScopes"]["Default"]
        .as_str()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(in_template, requested);
    assert_eq!(
        strings(&manifest()["oauth_config"]["scopes"]["bot"]),
        requested
    );
    let readme = read("README.md");
    for scope in &requested {
        assert!(
            readme.contains(&format!("| `{scope}` |")),
            "README's scope table lists {scope} with the feature that needs it"
        );
    }
}

/// The Event types the events use case acts on: the literals of its `match event.kind`.
fn event_types_handled() -> BTreeSet<String> {
    let source = read("crates/core/src/usecases/slack_events.rs");
    let start = source
        .find("let work = match event.kind.as_str() {")
        .expect("the use case matches on the event's type");
    let end = start
        + source[start..]
            .find("_ => return Ok(EventsAnswer::Ignored)")
            .unwrap();
    let arms = &source[start..end];
    let mut handled = BTreeSet::new();
    for (at, _) in arms.match_indices('"') {
        let rest = &arms[at + 1..];
        let Some(close) = rest.find('"') else { break };
        let literal = &rest[..close];
        let after = rest[close + 1..].trim_start();
        let is_pattern =
            after.starts_with("=>") || after.starts_with('|') || after.starts_with("if ");
        if is_pattern
            && !literal.is_empty()
            && literal.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            handled.insert(literal.to_owned());
        }
    }
    handled
}

#[test]
fn the_manifest_points_at_the_templates_routes_and_subscribes_what_the_code_handles() {
    let manifest = manifest();
    let template: serde_yaml::Value = serde_yaml::from_str(&read("template.yaml")).unwrap();
    let mut routes = BTreeSet::new();
    for (_, resource) in template["Resources"].as_mapping().unwrap() {
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (_, event) in events {
            if event["Type"] == "HttpApi" {
                routes.insert(event["Properties"]["Path"].as_str().unwrap().to_owned());
            }
        }
    }
    let settings = &manifest["settings"];
    let mut urls = vec![
        settings["event_subscriptions"]["request_url"].clone(),
        settings["interactivity"]["request_url"].clone(),
    ];
    urls.extend(
        manifest["oauth_config"]["redirect_urls"]
            .as_sequence()
            .unwrap()
            .iter()
            .cloned(),
    );
    for url in urls {
        let path = url.as_str().unwrap().strip_prefix("API_BASE").unwrap();
        assert!(
            routes.contains(path),
            "{path} is not routed by template.yaml: {routes:?}"
        );
    }

    // Every `message.*` subscription arrives as type `message`.
    let subscribed: BTreeSet<String> = strings(&settings["event_subscriptions"]["bot_events"])
        .into_iter()
        .map(|event| event.split('.').next().unwrap().to_owned())
        .collect();
    let handled = event_types_handled();
    assert!(
        handled.contains("message") && handled.contains("app_uninstalled"),
        "{handled:?}"
    );
    assert_eq!(
        subscribed, handled,
        "the manifest subscribes exactly the events the code acts on"
    );
}
