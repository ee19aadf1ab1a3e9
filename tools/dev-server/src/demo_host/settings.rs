//! The settings page: the tenant's Slack connection, "Connect Slack" (an install link from
//! the API), a confirmed "Disconnect", and what the OAuth callback's `?slack=…` means.

use std::sync::Arc;

use axum::extract::{Form, Query, State};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::page::{api_refusal, api_unreachable, escape, Section};
use super::{see_other, DemoHost};

#[derive(Deserialize)]
pub(super) struct SettingsQuery {
    slack: Option<String>,
    reason: Option<String>,
}

/// What the install flow's refusal `reason` means to the admin who clicked "Connect Slack".
/// The codes are the callback's own (`crates/core/src/usecases/install.rs`), the install
/// link's (`install_link_*`), and the ones Slack's `oauth.v2.access` passes through.
pub fn install_error_sentence(reason: &str) -> &'static str {
    match reason {
        "access_denied" => "You cancelled the install in Slack, so nothing was connected. Click Connect Slack when you are ready.",
        "state_already_used" => "That Slack install was already completed or abandoned, and each one works once. Click Connect Slack to start a new one.",
        "state_expired" => "The Slack install took longer than ten minutes and expired. Click Connect Slack to start again.",
        "cookie_mismatch" => "The Slack install was finished in a different browser (or with cookies blocked) from the one that started it. Start again and finish in the same browser.",
        "invalid_state" => "Slack came back with an install this page did not start. Click Connect Slack to start again.",
        "missing_code" => "Slack came back without an authorisation code. Click Connect Slack to start again.",
        "slack_unavailable" => "Slack could not be reached to finish the install. Try again in a minute.",
        "slack_error" => "Slack reported an error during the install. Try again; if it keeps happening, check the app's settings in Slack.",
        "install_link_used" => "That Connect Slack link was already used; each one works once. Click Connect Slack for a new one.",
        "install_link_expired" => "That Connect Slack link expired (links last ten minutes). Click Connect Slack for a new one.",
        "invalid_code" | "code_already_used" | "code_expired" => "Slack did not accept the authorisation code (used twice, or too old). Click Connect Slack to start again.",
        "bad_redirect_uri" => "Slack refused the install's redirect URL: the app's redirect URL in Slack must match this deployment's /slack/oauth/callback.",
        "invalid_client_id" | "bad_client_secret" => "Slack did not recognise the app's client id or secret: check the Slack credentials this deployment was given.",
        _ => "Slack was not connected because of an unexpected error. Click Connect Slack to try again.",
    }
}

/// Why a connection ended, as the status API's `disconnect_reason` says.
fn disconnect_sentence(reason: Option<&str>) -> &'static str {
    match reason {
        Some("host_request") => "You disconnected it here.",
        Some("app_uninstalled") => "The app was uninstalled from the Slack workspace.",
        Some("tokens_revoked") => "Slack revoked the app's access.",
        _ => "Approvals are not posted to Slack until you connect again.",
    }
}

/// The `?slack=…` banner, if any. A banner describes one attempt in the past, so it is shown
/// only while it agrees with the status the API reports now: a bookmarked or reloaded
/// `?slack=error` never sits beside "Active", nor `?slack=connected` beside "Disconnected".
fn banner(query: &SettingsQuery, active: bool) -> String {
    match (query.slack.as_deref(), active) {
        (Some("connected"), true) => {
            "<div class=\"notice ok\" role=\"status\" id=\"banner\"><p>Slack is connected.</p></div>".into()
        }
        (Some("error"), false) => {
            let reason = query.reason.as_deref().unwrap_or("unknown");
            format!(
                "<div class=\"notice error\" role=\"alert\" id=\"banner\"><p>{}</p><p class=\"code\">Reason code: {}</p></div>",
                install_error_sentence(reason),
                escape(reason)
            )
        }
        (Some("disconnected"), false) => {
            "<div class=\"notice ok\" role=\"status\" id=\"banner\"><p>Slack is disconnected.</p></div>".into()
        }
        _ => String::new(),
    }
}

fn connection_card(host: &DemoHost, connection: &Value) -> String {
    let state = connection["status"].as_str().unwrap_or("unknown");
    let text = |key: &str| escape(connection[key].as_str().unwrap_or("—"));
    let (label, class) = match state {
        "active" => ("Active", "active"),
        "disconnected" => ("Disconnected", "disconnected"),
        _ => ("Not connected", ""),
    };
    let details = if state == "not_connected" {
        "<p class=\"help\">Connect a Slack workspace to post this tenant's approval requests there.</p>".to_owned()
    } else {
        format!(
            "<dl class=\"facts\"><dt>Workspace</dt><dd id=\"team-name\">{}</dd><dt>Team id</dt><dd id=\"team-id\">{}</dd>\
             <dt>Installed</dt><dd>{}</dd><dt>Installed by</dt><dd>{}</dd></dl>",
            text("team_name"),
            text("team_id"),
            text("installed_at"),
            text("installed_by"),
        )
    };
    let ended = if state == "disconnected" {
        format!(
            "<p>{}</p>",
            disconnect_sentence(connection["disconnect_reason"].as_str())
        )
    } else {
        String::new()
    };
    let actions = if state == "active" {
        format!(
            "<a class=\"bk-button primary\" href=\"{}\">Next: request an approval →</a>\
             <a class=\"danger-outline\" href=\"/settings/disconnect\">Disconnect…</a>",
            escape(&host.sandbox_page)
        )
    } else {
        "<form method=\"post\" action=\"/settings/connect\"><button type=\"submit\" class=\"bk-button primary\">Connect Slack</button></form>".to_owned()
    };
    format!(
        "<section class=\"card\" aria-labelledby=\"slack-heading\"><h3 id=\"slack-heading\">Slack</h3>\
         <p>Tenant <code>{tenant}</code>: <strong id=\"slack-status\" class=\"status {class}\">{label}</strong></p>\
         {ended}{details}<div class=\"actions\">{actions}</div></section>",
        tenant = escape(&host.tenant_id),
    )
}

pub(super) async fn settings(
    State(host): State<Arc<DemoHost>>,
    Query(query): Query<SettingsQuery>,
) -> Html<String> {
    let path = format!("/v1/tenants/{}/slack", host.tenant_id);
    let body = match host.api.call("GET", &path, None).await {
        Ok((200, connection)) => {
            let active = connection["status"] == "active";
            format!(
                "{}{}",
                banner(&query, active),
                connection_card(&host, &connection)
            )
        }
        Ok((code, answer)) => {
            api_refusal("The connection status could not be read.", code, &answer)
        }
        Err(error) => api_unreachable(&error),
    };
    host.layout().page(Section::Settings, "Settings", &body)
}

pub(super) async fn connect(State(host): State<Arc<DemoHost>>) -> Response {
    let path = format!("/v1/tenants/{}/slack/install-links", host.tenant_id);
    // The name the installer's greeting uses for this host.
    let body = json!({"return_url": format!("{}/settings", host.base),
                      "tenant_name": "Demo Partner Portal"});
    let refused = match host.api.call("POST", &path, Some(&body)).await {
        Ok((201, link)) => match link["url"].as_str() {
            Some(url) => return see_other(url),
            None => api_refusal("The install could not start.", 201, &link),
        },
        Ok((code, answer)) => api_refusal("The install could not start.", code, &answer),
        Err(error) => api_unreachable(&error),
    };
    host.layout()
        .page(Section::Settings, "Settings", &refused)
        .into_response()
}

/// The confirm step: disconnecting revokes the app's Slack tokens, so it is never one click.
pub(super) async fn confirm_disconnect(State(host): State<Arc<DemoHost>>) -> Html<String> {
    let tenant = escape(&host.tenant_id);
    let body = format!(
        "<section class=\"card\" aria-labelledby=\"confirm-heading\">\
         <h3 id=\"confirm-heading\">Disconnect Slack from {tenant}?</h3>\
         <p>This stops approvals in Slack: new requests are no longer posted there, and the app's access to the workspace is revoked. \
         You can connect again at any time.</p>\
         <form method=\"post\" action=\"/settings/disconnect\" class=\"actions\">\
         <input type=\"hidden\" name=\"confirm\" value=\"yes\">\
         <button type=\"submit\" class=\"bk-button danger\">Disconnect</button>\
         <a class=\"bk-button\" href=\"/settings\">Cancel</a></form></section>"
    );
    host.layout()
        .page(Section::Settings, "Disconnect Slack", &body)
}

#[derive(Deserialize)]
pub(super) struct DisconnectForm {
    #[serde(default)]
    confirm: String,
}

pub(super) async fn disconnect(
    State(host): State<Arc<DemoHost>>,
    Form(form): Form<DisconnectForm>,
) -> Response {
    // A post without the confirm step's field (an old bookmark, a stray form) asks first.
    if form.confirm != "yes" {
        return see_other("/settings/disconnect");
    }
    let path = format!("/v1/tenants/{}/slack", host.tenant_id);
    let refused = match host.api.call("DELETE", &path, None).await {
        Ok((200, _)) => return see_other("/settings?slack=disconnected"),
        Ok((code, answer)) => api_refusal("Slack was not disconnected.", code, &answer),
        Err(error) => api_unreachable(&error),
    };
    host.layout()
        .page(Section::Settings, "Settings", &refused)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REASONS: [&str; 15] = [
        "access_denied",
        "state_already_used",
        "state_expired",
        "cookie_mismatch",
        "invalid_state",
        "missing_code",
        "slack_unavailable",
        "slack_error",
        "install_link_used",
        "install_link_expired",
        "invalid_code",
        "code_already_used",
        "bad_redirect_uri",
        "invalid_client_id",
        "bad_client_secret",
    ];

    #[test]
    fn every_known_reason_reads_as_its_own_sentence() {
        let generic = install_error_sentence("no_such_reason");
        for reason in REASONS {
            let sentence = install_error_sentence(reason);
            assert_ne!(sentence, generic, "{reason} has its own sentence");
            assert!(sentence.ends_with('.'), "{reason}: {sentence}");
            assert!(
                !sentence.contains('_'),
                "{reason} is not repeated as a code"
            );
        }
        assert_eq!(
            install_error_sentence("access_denied"),
            "You cancelled the install in Slack, so nothing was connected. Click Connect Slack when you are ready."
        );
    }

    fn query(slack: &str, reason: Option<&str>) -> SettingsQuery {
        SettingsQuery {
            slack: Some(slack.into()),
            reason: reason.map(Into::into),
        }
    }

    #[test]
    fn an_unknown_reason_gets_the_generic_sentence_and_shows_its_code_escaped() {
        let html = banner(&query("error", Some("<weird_code>")), false);
        assert!(html.contains(install_error_sentence("anything else")));
        assert!(html.contains("Reason code: &lt;weird_code&gt;"));
        assert!(banner(&query("error", None), false).contains("Reason code: unknown"));
    }

    #[test]
    fn a_stale_banner_never_contradicts_the_status_the_api_reports() {
        assert_eq!(
            banner(&query("error", Some("state_already_used")), true),
            ""
        );
        assert_eq!(banner(&query("connected", None), false), "");
        assert_eq!(banner(&query("disconnected", None), true), "");
        assert!(banner(&query("connected", None), true).contains("Slack is connected."));
        assert!(banner(&query("error", Some("access_denied")), false).contains("You cancelled"));
        let nothing = SettingsQuery {
            slack: None,
            reason: None,
        };
        assert_eq!(banner(&nothing, false), "");
    }
}
