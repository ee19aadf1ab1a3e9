//! The endpoint behind the sandbox's "Request an approval" form: it creates the approval
//! through the host API, as a host's own "submit" would, and sends the browser back to Slack.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Form, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::documents::{checked, sample_attachment};
use super::page::{api_refusal, api_unreachable, escape, Section};
use super::{see_other, DemoHost};

#[derive(Deserialize)]
pub(super) struct RequestForm {
    title: String,
    #[serde(default)]
    account: String,
    #[serde(default)]
    amount: String,
    #[serde(default)]
    approvers: String,
    #[serde(default)]
    requester: String,
    #[serde(default)]
    reject_reason: String,
    /// The sandbox's "Act as" person (a Slack user id), handed back so the sandbox page
    /// the browser returns to is still theirs.
    #[serde(default, rename = "as")]
    acting: String,
    /// The "Attach the sample PDF" checkbox.
    #[serde(default)]
    attach_pdf: Option<String>,
}

/// A Slack user id as the sandbox uses them (`U0BEN`); anything else is dropped rather than
/// echoed into a URL.
pub fn acting_user(value: &str) -> Option<&str> {
    let ok = (1..=20).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    ok.then_some(value)
}

/// The sandbox page, as the given person when there is one.
pub fn sandbox_page_as(sandbox_page: &str, acting: Option<&str>) -> String {
    let Some(acting) = acting else {
        return sandbox_page.to_owned();
    };
    match reqwest::Url::parse(sandbox_page) {
        Ok(mut url) => {
            url.query_pairs_mut().append_pair("as", acting);
            url.into()
        }
        Err(_) => sandbox_page.to_owned(),
    }
}

pub(super) async fn request_approval(
    State(host): State<Arc<DemoHost>>,
    Form(form): Form<RequestForm>,
) -> Response {
    let back = sandbox_page_as(&host.sandbox_page, acting_user(&form.acting));
    let number = host.next_request.fetch_add(1, Ordering::Relaxed);
    let external_id = format!("DR-{}-{number}", approvals_core::time::unix_now());
    let approvers: Vec<&str> = form
        .approvers
        .split([',', ' '])
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .collect();
    let mut requester = json!({"name": "Pat Partner", "email": "pat@sandbox.example"});
    if !form.requester.trim().is_empty() {
        requester["user_id"] = json!(form.requester.trim());
    }
    let reject_reason = match form.reject_reason.as_str() {
        "" => "required",
        other => other,
    };
    let mut body = json!({
        "tenant_id": host.tenant_id, "external_id": external_id, "kind": "deal_registration",
        "title": form.title,
        "fields": [{"label": "Account", "value": if form.account.is_empty() { "—".into() } else { form.account }},
                   {"label": "Deal value", "value": if form.amount.is_empty() { "—".into() } else { form.amount }}],
        "notes": "Submitted from the sandbox's demo form.",
        "link": format!("{}/settings", host.base),
        "requester": requester,
        "reject_reason": reject_reason,
    });
    if !approvers.is_empty() {
        body["approvers"] = json!(approvers);
    }
    if checked(form.attach_pdf.as_deref()) {
        body["attachments"] = json!([sample_attachment(
            &host.base,
            &format!("sample-po-{number}")
        )]);
    }
    let refused = match host.api.call("POST", "/v1/approvals", Some(&body)).await {
        Ok((201 | 200, _)) => return see_other(&back),
        Ok((code, answer)) => {
            let next = if answer["error"] == "slack_not_connected" {
                "<a class=\"bk-button primary\" href=\"/settings\">Connect Slack first</a>"
            } else {
                ""
            };
            format!(
                "{}<div class=\"actions\">{next}<a class=\"bk-button\" href=\"{}\">Back to Slack</a></div>",
                api_refusal("The approval was not requested.", code, &answer),
                escape(&back)
            )
        }
        Err(error) => api_unreachable(&error),
    };
    host.layout()
        .page(Section::Other, "Request an approval", &refused)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_slack_style_user_ids_are_handed_back() {
        assert_eq!(acting_user("U0BEN"), Some("U0BEN"));
        assert_eq!(
            acting_user("W012345678901234567Z"),
            Some("W012345678901234567Z")
        );
        for bad in [
            "",
            "u0ben",
            "U0 BEN",
            "U0BEN&as=U0ANA",
            "U0BEN\n",
            "Ü0BEN",
            "W0123456789012345678Z",
        ] {
            assert_eq!(acting_user(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_way_back_keeps_the_sandbox_query_and_adds_the_person() {
        let page = "http://127.0.0.1:3001/?channel=C0APPROVALS";
        assert_eq!(
            sandbox_page_as(page, Some("U0BEN")),
            "http://127.0.0.1:3001/?channel=C0APPROVALS&as=U0BEN"
        );
        assert_eq!(sandbox_page_as(page, None), page);
        assert_eq!(
            sandbox_page_as("http://127.0.0.1:3001/", Some("U0ANA")),
            "http://127.0.0.1:3001/?as=U0ANA"
        );
    }
}
