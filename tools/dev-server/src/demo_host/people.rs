//! The people page: the host's users as the API has mapped them to Slack, the "not
//! integrated" list, and "Map users", which sends the host's directory to the API.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};

use super::page::{api_refusal, api_unreachable, escape, Section};
use super::{see_other, DemoHost};

/// The demo's own users: four of the sandbox's people, and Zed, who is not in Slack.
pub(super) fn demo_people() -> Value {
    json!([
        {"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana Approver"},
        {"user_id": "u-ben", "email": "ben@sandbox.example", "name": "Ben Buyer"},
        {"user_id": "u-pat", "email": "pat@sandbox.example", "name": "Pat Partner"},
        {"user_id": "u-cara", "email": "cara@sandbox.example", "name": "Cara Controller"},
        {"user_id": "u-zed", "email": "zed@partner.example", "name": "Zed Zimmer"},
    ])
}

/// The name this host knows one of its users by.
pub(super) fn person_name(user_id: &str) -> Option<String> {
    demo_people()
        .as_array()?
        .iter()
        .find(|person| person["user_id"] == user_id)
        .and_then(|person| person["name"].as_str())
        .map(str::to_owned)
}

fn users_table(id: &str, users: &Value) -> String {
    let rows: String = users["users"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| {
            format!(
                "<tr><td>{}</td><td>{}</td><td class=\"status-cell\">{}</td><td>{}</td><td>{}</td></tr>",
                escape(u["user_id"].as_str().unwrap_or("")),
                escape(u["email"].as_str().unwrap_or("")),
                escape(u["status"].as_str().unwrap_or("")),
                escape(u["slack_user_id"].as_str().unwrap_or("—")),
                escape(u["tz"].as_str().unwrap_or("—")),
            )
        })
        .collect();
    let empty = if rows.is_empty() {
        "<p class=\"empty\">Nobody here.</p>"
    } else {
        ""
    };
    format!(
        "<table id=\"{id}\"><thead><tr><th>User</th><th>Email</th><th>Status</th><th>Slack</th><th>Time zone</th></tr></thead>\
         <tbody>{rows}</tbody></table>{empty}"
    )
}

pub(super) async fn people(State(host): State<Arc<DemoHost>>) -> Html<String> {
    let base = format!("/v1/tenants/{}/users", host.tenant_id);
    let everyone = host.api.call("GET", &base, None).await;
    let missing = host
        .api
        .call("GET", &format!("{base}?status=not_in_slack"), None)
        .await;
    let body = match (everyone, missing) {
        (Ok((200, everyone)), Ok((200, missing))) => format!(
            "<section class=\"card\" aria-labelledby=\"map-heading\"><h3 id=\"map-heading\">Map users</h3>\
             <p class=\"help\">Sends this host's five users to the API, which finds each one in Slack by email. \
             Approvers and requesters are then named by their ids here (<code>u-ana</code>), not by Slack's.</p>\
             <form method=\"post\" action=\"/people/map\" class=\"actions\"><button type=\"submit\" class=\"bk-button primary\">Map users</button></form></section>\
             <section class=\"card\" aria-labelledby=\"everyone-heading\"><h3 id=\"everyone-heading\">Everyone</h3>{}</section>\
             <section class=\"card\" aria-labelledby=\"missing-heading\"><h3 id=\"missing-heading\">Not integrated</h3>\
             <p class=\"help\">These people are not in the Slack workspace (or were deactivated): they get no DMs.</p>{}</section>",
            users_table("users", &everyone),
            users_table("not-integrated", &missing)
        ),
        (Ok((code, answer)), _) | (_, Ok((code, answer))) => {
            api_refusal("The people could not be listed.", code, &answer)
        }
        (Err(error), _) => api_unreachable(&error),
    };
    host.layout().page(Section::People, "People", &body)
}

pub(super) async fn map_people(State(host): State<Arc<DemoHost>>) -> Response {
    let path = format!("/v1/tenants/{}/users", host.tenant_id);
    let refused = match host
        .api
        .call("PUT", &path, Some(&json!({"users": demo_people()})))
        .await
    {
        Ok((200, _)) => return see_other("/people"),
        Ok((code, answer)) => format!(
            "{}<p><a href=\"/settings\">Is Slack connected? See Settings.</a></p>",
            api_refusal("The users were not mapped.", code, &answer)
        ),
        Err(error) => api_unreachable(&error),
    };
    host.layout()
        .page(Section::People, "People", &refused)
        .into_response()
}
