//! The requests page: the host's requests and where each stands, a form for N-of-M and
//! two-step requests, and the host's own hand on them (approve or reject in the host,
//! withdraw). Each request's own page is in `timeline`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::documents::{checked, sample_attachment};
use super::page::{api_refusal, api_unreachable, escape, Section};
use super::{see_other, DemoHost};

/// Who decides when the host decides: the demo's manager.
const HOST_DECIDER: &str = "u-ana";

fn user_list(text: &str) -> Vec<String> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}

fn row(approval: &Value) -> String {
    let id = approval["id"].as_str().unwrap_or_default();
    let status = approval["status"].as_str().unwrap_or_default();
    let standing = approval["steps"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(index, step)| {
            format!(
                "step {}: {} of {} ({})",
                index + 1,
                step["approvals"],
                step["min_approvals"],
                step["status"].as_str().unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    let actions = if status == "pending" {
        format!(
            "<form method=\"post\" action=\"/requests/{id}/decision\" class=\"inline\">\
             <input type=\"hidden\" name=\"decision\" value=\"approved\">\
             <button type=\"submit\" class=\"bk-button primary\">Approve in host</button></form>\
             <form method=\"post\" action=\"/requests/{id}/cancel\" class=\"inline\">\
             <button type=\"submit\" class=\"bk-button\">Withdraw</button></form>"
        )
    } else {
        String::new()
    };
    format!(
        "<tr data-id=\"{id}\"><td>{}</td><td class=\"status-cell\">{}</td><td>{}</td>\
         <td>{actions}<a href=\"/requests/{id}\">Timeline</a></td></tr>",
        escape(approval["title"].as_str().unwrap_or_default()),
        escape(status),
        escape(&standing),
    )
}

const NEW_REQUEST_FORM: &str = r#"<form method="post" action="/requests" class="stack" id="new-request">
<label for="new-title">Title</label>
<input id="new-title" name="title" value="Laptops for the field team" required>
<label for="new-approvers">Approvers (host user ids)</label>
<input id="new-approvers" name="approvers" value="u-ana, u-ben, u-cara">
<label for="new-min">Approvals needed</label>
<input id="new-min" name="min_approvals" type="number" min="1" max="10" value="2">
<label for="new-then">Then, as a second step (optional)</label>
<input id="new-then" name="then" value="" placeholder="u-cara">
<label class="check" for="attach-pdf"><input type="checkbox" id="attach-pdf" name="attach_pdf" value="yes"> Attach the sample PDF (Purchase order PO-1042)</label>
<div class="actions"><button type="submit" class="bk-button primary">Request</button></div>
</form>"#;

pub(super) async fn requests(State(host): State<Arc<DemoHost>>) -> Response {
    let path = format!("/v1/approvals?tenant_id={}&limit=20", host.tenant_id);
    let body = match host.api.call("GET", &path, None).await {
        Ok((200, answer)) => {
            let rows: String = answer["approvals"]
                .as_array()
                .into_iter()
                .flatten()
                .map(row)
                .collect();
            format!(
                "<table id=\"requests\"><thead><tr><th>Request</th><th>Status</th><th>Steps</th><th></th></tr></thead>\
                 <tbody>{rows}</tbody></table>\n<h3>New request</h3>\n{NEW_REQUEST_FORM}"
            )
        }
        Ok((code, answer)) => api_refusal("The requests could not be listed.", code, &answer),
        Err(error) => api_unreachable(&error),
    };
    host.layout()
        .page(Section::Requests, "Requests", &body)
        .into_response()
}

#[derive(Deserialize)]
pub(super) struct NewRequest {
    title: String,
    #[serde(default)]
    approvers: String,
    #[serde(default)]
    min_approvals: String,
    #[serde(default)]
    then: String,
    /// The "Attach the sample PDF" checkbox.
    #[serde(default)]
    attach_pdf: Option<String>,
}

pub(super) async fn create(
    State(host): State<Arc<DemoHost>>,
    Form(form): Form<NewRequest>,
) -> Response {
    let number = host.next_request.fetch_add(1, Ordering::Relaxed);
    let approvers = user_list(&form.approvers);
    let then = user_list(&form.then);
    let min: u32 = form.min_approvals.trim().parse().unwrap_or(1).max(1);
    let mut body = json!({
        "tenant_id": host.tenant_id,
        "external_id": format!("PO-{}-{number}", approvals_core::time::unix_now()),
        "kind": "deal_registration", "title": form.title,
        "requester": {"user_id": "u-pat", "name": "Pat Partner", "email": "pat@sandbox.example"},
        "link": format!("{}/requests", host.base), "reject_reason": "optional",
    });
    if checked(form.attach_pdf.as_deref()) {
        body["attachments"] = json!([sample_attachment(
            &host.base,
            &format!("sample-po-{number}")
        )]);
    }
    if !then.is_empty() {
        body["steps"] = json!([{"approvers": approvers, "min_approvals": min},
                               {"approvers": then}]);
    } else {
        body["approvers"] = json!(approvers);
        if min > 1 {
            body["policy"] = json!({"min_approvals": min});
        }
    }
    match host.api.call("POST", "/v1/approvals", Some(&body)).await {
        Ok((201 | 200, _)) => see_other("/requests"),
        Ok((code, answer)) => refused(&host, "The request was not made.", code, &answer),
        Err(error) => unreachable(&host, &error),
    }
}

#[derive(Deserialize)]
pub(super) struct HostDecision {
    decision: String,
}

pub(super) async fn decide(
    State(host): State<Arc<DemoHost>>,
    Path(id): Path<String>,
    Form(form): Form<HostDecision>,
) -> Response {
    let body = json!({"tenant_id": host.tenant_id, "decision": form.decision,
                      "user_id": HOST_DECIDER});
    let path = format!("/v1/approvals/{id}/decision");
    match host.api.call("POST", &path, Some(&body)).await {
        Ok((200, _)) => see_other("/requests"),
        Ok((code, answer)) => refused(&host, "The request was not decided.", code, &answer),
        Err(error) => unreachable(&host, &error),
    }
}

pub(super) async fn cancel(State(host): State<Arc<DemoHost>>, Path(id): Path<String>) -> Response {
    let body = json!({"tenant_id": host.tenant_id, "reason": "withdrawn in the demo host"});
    let path = format!("/v1/approvals/{id}/cancel");
    match host.api.call("POST", &path, Some(&body)).await {
        Ok((200, _)) => see_other("/requests"),
        Ok((code, answer)) => refused(&host, "The request was not withdrawn.", code, &answer),
        Err(error) => unreachable(&host, &error),
    }
}

fn refused(host: &DemoHost, lead: &str, code: u16, answer: &Value) -> Response {
    let body = format!(
        "{}<div class=\"actions\"><a class=\"bk-button\" href=\"/requests\">Back to the requests</a></div>",
        api_refusal(lead, code, answer)
    );
    host.layout()
        .page(Section::Requests, "Requests", &body)
        .into_response()
}

fn unreachable(host: &DemoHost, error: &str) -> Response {
    host.layout()
        .page(Section::Requests, "Requests", &api_unreachable(error))
        .into_response()
}
