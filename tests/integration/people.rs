//! People: host users mapped to Slack by email, kept true by Slack's events; approvers in
//! their DMs, who may decide, reject with a reason in a modal, the requester told.

use std::time::Duration;

use crate::common::{sqs_event, Stack};
use crate::slack_events::send_event;
use sandbox::slack::{User, UserChange};
use serde_json::{json, Value};

async fn put_users(stack: &Stack, users: Value) -> (u16, Value) {
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    stack
        .host_call("PUT", &path, &json!({ "users": users }))
        .await
}

async fn list_users(stack: &Stack, query: &str) -> (u16, Value) {
    let path = format!("/v1/tenants/{}/users{query}", stack.tenant_id);
    stack.host_call("GET", &path, &json!(null)).await
}

/// Ana, Ben, Pat and Cara of the sandbox workspace, plus Zed who is not in Slack.
pub(crate) async fn map_team(stack: &Stack) -> Value {
    let (status, body) = put_users(
        stack,
        json!([
            {"user_id": "u-ana", "email": "Ana@Sandbox.example", "name": "Ana Alvarez"},
            {"user_id": "u-ben", "email": "ben@sandbox.example", "name": "Ben Brown"},
            {"user_id": "u-pat", "email": "pat@sandbox.example", "name": "Pat Partner"},
            {"user_id": "u-cara", "email": "cara@sandbox.example", "name": "Cara Chen"},
            {"user_id": "u-zed", "email": "zed@elsewhere.example", "name": "Zed Zimmer"},
            {"user_id": "u-gone", "email": "gone@sandbox.example", "name": "Gabe Gone"},
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

fn status_of<'a>(body: &'a Value, user_id: &str) -> &'a Value {
    body["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["user_id"] == user_id)
        .unwrap_or_else(|| panic!("{user_id} in {body}"))
}

pub(crate) async fn work(stack: &Stack) {
    let records = stack.drain_queue().await;
    let answer = stack.worker.handle(sqs_event(records)).await;
    assert!(answer.batch_item_failures.is_empty());
}

/// A request to Ana and Ben, asked for by Pat.
pub(crate) async fn request_to_ana_and_ben(
    stack: &Stack,
    external_id: &str,
    reject_reason: &str,
) -> Value {
    let mut body = stack.approval_body(external_id);
    body["approvers"] = json!(["u-ana", "u-ben"]);
    body["requester"] =
        json!({"user_id": "u-pat", "name": "Pat Partner", "email": "pat@sandbox.example"});
    body["reject_reason"] = json!(reject_reason);
    let (status, created) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(status, 201, "{created}");
    created
}

pub(crate) fn dm_of(stack: &Stack, user: &str) -> sandbox::slack::Message {
    let channel = format!("D{}", user.trim_start_matches('U'));
    stack
        .slack
        .messages(&channel)
        .into_iter()
        .find(|m| {
            // The installer's greeting sits in her DM too.
            m.ephemeral_for.is_none()
                && m.thread_ts.is_none()
                && !m.text.starts_with("Thanks for installing")
        })
        .unwrap_or_else(|| panic!("no DM to {user}"))
}

pub(crate) fn ephemeral_to(stack: &Stack, channel: &str, user: &str) -> Vec<String> {
    stack
        .slack
        .messages(channel)
        .into_iter()
        .filter(|m| m.ephemeral_for.as_deref() == Some(user))
        .map(|m| m.text)
        .collect()
}

#[tokio::test]
async fn users_are_mapped_by_email_and_the_not_integrated_are_listed() {
    let stack = Stack::start().await;

    let body = map_team(&stack).await;

    assert_eq!(status_of(&body, "u-ana")["status"], "mapped");
    assert_eq!(status_of(&body, "u-ana")["slack_user_id"], "U0ANA");
    assert_eq!(status_of(&body, "u-ana")["email"], "ana@sandbox.example");
    assert_eq!(status_of(&body, "u-cara")["tz"], "Asia/Kolkata");
    assert_eq!(status_of(&body, "u-zed")["status"], "not_in_slack");
    assert_eq!(status_of(&body, "u-zed")["slack_user_id"], Value::Null);
    assert_eq!(
        status_of(&body, "u-gone")["status"],
        "not_in_slack",
        "a deactivated Slack user is never mapped"
    );
    assert_eq!(
        stack.slack.calls(Some("users.lookupByEmail")).len(),
        0,
        "one users.list walk, no lookup per user"
    );
    assert!(stack
        .slack
        .calls(Some("users.list"))
        .iter()
        .all(|c| c.params["limit"] == "200"));

    let (status, missing) = list_users(&stack, "?status=not_in_slack").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = missing["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["u-gone", "u-zed"]);

    // Everyone, two at a time, each once.
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    for _ in 0..10 {
        let (status, page) = list_users(&stack, &query).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["users"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["user_id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(
        seen,
        ["u-ana", "u-ben", "u-cara", "u-gone", "u-pat", "u-zed"]
    );
}

#[tokio::test]
async fn bad_users_are_refused_by_field_and_change_nothing() {
    let stack = Stack::start().await;
    let cases = [
        (
            json!([{"user_id": "u-ana", "email": "ana@sandbox.example", "name": "A"},
                   {"user_id": "u-ana", "email": "ana2@sandbox.example", "name": "A"}]),
            "users[1].user_id",
        ),
        (
            json!([{"user_id": "u-ana", "email": "not-an-email", "name": "A"}]),
            "users[0].email",
        ),
        (
            json!([{"user_id": "has space", "email": "a@sandbox.example", "name": "A"}]),
            "users[0].user_id",
        ),
        (
            json!([{"user_id": "u-x", "email": "a@sandbox.example", "name": ""}]),
            "users[0].name",
        ),
    ];
    for (users, field) in cases {
        let (status, body) = put_users(&stack, users).await;
        assert_eq!(status, 400, "{body}");
        assert!(
            body["message"].as_str().unwrap().starts_with(field),
            "{field}: {body}"
        );
    }
    let too_many: Vec<Value> = (0..1001)
        .map(|i| json!({"user_id": format!("u-{i}"), "email": format!("u{i}@x.example"), "name": "U"}))
        .collect();
    let (status, body) = put_users(&stack, json!(too_many)).await;
    assert_eq!(status, 400, "{body}");

    let (_, everyone) = list_users(&stack, "").await;
    assert_eq!(everyone["users"], json!([]), "nothing was stored");
}

#[tokio::test]
async fn one_user_is_mapped_with_lookup_by_email() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/users/u-ben", stack.tenant_id);

    let (status, body) = stack
        .host_call(
            "PUT",
            &path,
            &json!({"email": "BEN@sandbox.example", "name": "Ben"}),
        )
        .await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(body["slack_user_id"], "U0BEN");
    assert_eq!(stack.slack.calls(Some("users.lookupByEmail")).len(), 1);
    let bad = format!("/v1/tenants/{}/users/bad%20id", stack.tenant_id);
    let (status, body) = stack
        .host_call("PUT", &bad, &json!({"email": "b@x.example", "name": "B"}))
        .await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn slack_events_map_a_newcomer_and_unmap_a_deactivated_user() {
    let stack = Stack::start().await;
    map_team(&stack).await;
    let mut put = put_users(
        &stack,
        json!([{"user_id": "u-nia", "email": "nia@sandbox.example", "name": "Nia New"}]),
    )
    .await;
    assert_eq!(status_of(&put.1, "u-nia")["status"], "not_in_slack");

    // Nia joins the workspace: team_join maps her, with her time zone.
    let joined = stack
        .slack
        .add_user(
            &stack.team_id,
            User::new(
                "U0NIA",
                "nia",
                "Nia New",
                "nia@sandbox.example",
                "America/St_Johns",
            ),
        )
        .unwrap();
    let envelope = |event: Value, id: &str| {
        json!({"type": "event_callback", "team_id": stack.team_id, "event_id": id,
               "event_time": approvals_core::time::unix_now(), "event": event})
    };
    assert_eq!(
        send_event(&stack, &envelope(joined, "EvJoin"), None)
            .await
            .0,
        200
    );
    let (_, everyone) = list_users(&stack, "").await;
    assert_eq!(status_of(&everyone, "u-nia")["slack_user_id"], "U0NIA");
    assert_eq!(status_of(&everyone, "u-nia")["tz"], "America/St_Johns");

    // Ben is deactivated: user_change unmaps him.
    let change = UserChange {
        deleted: Some(true),
        ..UserChange::default()
    };
    let changed = stack
        .slack
        .change_user(&stack.team_id, "U0BEN", &change)
        .unwrap();
    assert_eq!(
        send_event(&stack, &envelope(changed, "EvGone"), None)
            .await
            .0,
        200
    );
    put = list_users(&stack, "?status=not_in_slack").await;
    let missing: Vec<&str> = put.1["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert!(missing.contains(&"u-ben"), "{missing:?}");
}

#[tokio::test]
async fn approvers_are_asked_in_dms_and_only_they_decide() {
    let stack = Stack::start().await;
    map_team(&stack).await;

    let created = request_to_ana_and_ben(&stack, "DR-DM-1", "none").await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created["approvers"],
        json!([{"user_id": "u-ana", "status": "notified", "slack_user_id": "U0ANA"},
               {"user_id": "u-ben", "status": "notified", "slack_user_id": "U0BEN"}])
    );
    assert_eq!(created["slack"]["copies"].as_array().unwrap().len(), 3);
    let channel = created["slack"]["channel_id"].as_str().unwrap().to_owned();
    let channel_ts = created["slack"]["message_ts"].as_str().unwrap().to_owned();
    let ana_dm = dm_of(&stack, "U0ANA");
    assert!(ana_dm
        .blocks
        .to_string()
        .contains("\"action_id\":\"approve\""));

    // Cara is no approver; Pat asked for it.
    assert_eq!(
        stack
            .click(&channel, &channel_ts, "approve", "U0CARA")
            .await,
        200
    );
    assert_eq!(
        stack.click(&channel, &channel_ts, "approve", "U0PAT").await,
        200
    );
    work(&stack).await;
    let told_cara = ephemeral_to(&stack, &channel, "U0CARA");
    assert_eq!(
        told_cara,
        ["Only the approvers of this request can decide: <@U0ANA>, <@U0BEN>"]
    );
    assert_eq!(
        ephemeral_to(&stack, &channel, "U0PAT"),
        ["You asked for this approval; someone else must decide."]
    );
    let (_, read) = stack
        .host_call(
            "GET",
            &format!("/v1/approvals/{id}?tenant_id={}", stack.tenant_id),
            &json!(null),
        )
        .await;
    assert_eq!(read["status"], "pending");
    let reasons: Vec<&str> = read["refused_clicks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 2);
    assert!(reasons.contains(&"not_an_approver") && reasons.contains(&"own_request"));

    // Ana approves in her DM: every copy shows it, Pat is told, the host learns who.
    assert_eq!(
        stack
            .click(&ana_dm.channel, &ana_dm.ts, "approve", "U0ANA")
            .await,
        200
    );
    work(&stack).await;
    for (at, ts) in [
        (channel.clone(), channel_ts.clone()),
        (ana_dm.channel.clone(), ana_dm.ts.clone()),
        (dm_of(&stack, "U0BEN").channel, dm_of(&stack, "U0BEN").ts),
    ] {
        let shown = stack.slack.message(&at, &ts).unwrap().blocks.to_string();
        assert!(shown.contains("Approved by <@U0ANA>"), "{at}: {shown}");
        assert!(!shown.contains("\"actions\""), "{at} keeps no buttons");
    }
    let told_pat: Vec<String> = stack
        .slack
        .messages("D0PAT")
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(told_pat.len(), 1, "{told_pat:?}");
    assert!(
        told_pat[0].contains("was approved by <@U0ANA>"),
        "{told_pat:?}"
    );
    let hooks = stack.host.wait_for(1, Duration::from_secs(5)).await;
    let data = &hooks[0].body["data"];
    assert_eq!(data["decided_by"]["user_id"], "u-ana");
    assert_eq!(data["decided_by"]["email"], "ana@sandbox.example");
    assert_eq!(data["requester"]["user_id"], "u-pat");
}

#[tokio::test]
async fn reject_asks_a_reason_in_a_modal_and_every_copy_shows_it() {
    let stack = Stack::start().await;
    map_team(&stack).await;
    let created = request_to_ana_and_ben(&stack, "DR-DM-2", "required").await;
    let ben_dm = dm_of(&stack, "U0BEN");
    assert!(ben_dm
        .blocks
        .to_string()
        .contains("\"action_id\":\"reject_with_reason\""));

    // Reject opens the modal and decides nothing yet.
    assert_eq!(
        stack
            .click(&ben_dm.channel, &ben_dm.ts, "reject_with_reason", "U0BEN")
            .await,
        200
    );
    assert!(stack.drain_queue().await.is_empty());
    let views = stack.slack.views("U0BEN");
    assert_eq!(views.len(), 1, "the reason modal is open");
    let view = &views[0];

    let submit = |reason: &str| {
        let payload = json!({
            "type": "view_submission",
            "team": {"id": stack.team_id},
            "user": {"id": "U0BEN", "team_id": stack.team_id},
            "view": {"id": view.id, "callback_id": view.view["callback_id"],
                     "private_metadata": view.view["private_metadata"],
                     "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}}},
        });
        serde_urlencoded::to_string([("payload", payload.to_string())]).unwrap()
    };
    let (status, answer) = stack.interact(&submit("  ")).await;
    assert_eq!(status, 200);
    assert_eq!(answer["response_action"], "errors");
    assert!(answer["errors"]["reason"].is_string());
    assert!(stack.drain_queue().await.is_empty(), "nothing decided");

    let (status, _) = stack.interact(&submit("budget is frozen")).await;
    assert_eq!(status, 200);
    work(&stack).await;

    let copies = created["slack"]["copies"].as_array().unwrap();
    for copy in copies {
        let shown = stack
            .slack
            .message(
                copy["channel_id"].as_str().unwrap(),
                copy["message_ts"].as_str().unwrap(),
            )
            .unwrap()
            .blocks
            .to_string();
        assert!(
            shown.contains("Rejected by <@U0BEN>") && shown.contains("*budget is frozen*"),
            "{shown}"
        );
    }
    let hooks = stack.host.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(hooks[0].body["data"]["reason"], "budget is frozen");
    assert_eq!(hooks[0].body["data"]["decision"], "rejected");
}

#[tokio::test]
async fn bad_approver_lists_are_refused_by_field_and_store_nothing() {
    let stack = Stack::start().await;
    map_team(&stack).await;
    let other = Stack::start().await;
    let path = format!("/v1/tenants/{}/users", other.tenant_id);
    other
        .host_call(
            "PUT",
            &path,
            &json!({"users": [{"user_id": "u-olga", "email": "ana@sandbox.example", "name": "Olga"}]}),
        )
        .await;

    let with = |approvers: Value, requester: Value, channel: bool| {
        let mut body = stack.approval_body(&crate::common::unique("DR-BAD-"));
        body["approvers"] = approvers;
        body["requester"] = requester;
        if !channel {
            body.as_object_mut().unwrap().remove("channel_id");
        }
        body
    };
    let pat = json!({"name": "Pat", "user_id": "u-pat"});
    let fifty_one: Vec<String> = (0..51).map(|i| format!("u-{i}")).collect();
    let cases = [
        (
            with(json!(["u-nobody"]), pat.clone(), true),
            400,
            "approvers[0]",
        ),
        (
            with(json!(["u-olga"]), pat.clone(), true),
            400,
            "approvers[0]",
        ),
        (with(json!(fifty_one), pat.clone(), true), 400, "approvers"),
        (
            with(json!(["u-ana", "u-ana"]), pat.clone(), true),
            400,
            "approvers[1]",
        ),
        (
            with(json!(["u-ana", "u-pat"]), pat.clone(), true),
            400,
            "approvers[1]",
        ),
        (
            with(json!(["u-zed"]), pat.clone(), false),
            422,
            "none of the approvers",
        ),
    ];
    for (body, expected, names) in cases {
        let (status, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
        assert_eq!(status, expected, "{answer}");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(names), "{names}: {answer}");
        let id = approvals_core::domain::approval_id_for(
            &stack.tenant_id,
            body["external_id"].as_str().unwrap(),
        );
        let stored = stack.approval_item(&id).await;
        assert!(
            stored.as_object().is_none_or(|item| item.is_empty()),
            "stored nothing: {stored}"
        );
    }
    assert!(stack.slack.calls(Some("chat.postMessage")).is_empty());
}

#[tokio::test]
async fn a_plain_notification_is_posted_once_without_buttons() {
    let stack = Stack::start().await;
    map_team(&stack).await;
    let body = json!({
        "tenant_id": stack.tenant_id, "external_id": "EV-7", "kind": "partner_event",
        "title": "Initech accepted the partner agreement",
        "fields": [{"label": "Partner", "value": "Initech"}],
        "link": "https://host.example/partners/7",
        "to": {"channel_id": stack.channel_id, "user_ids": ["u-ana", "u-zed"]},
    });

    let (status, first) = stack.host_call("POST", "/v1/notifications", &body).await;
    let (again_status, again) = stack.host_call("POST", "/v1/notifications", &body).await;

    assert_eq!(status, 201, "{first}");
    assert_eq!(again_status, 200, "{again}");
    assert_eq!(first["recipients"], again["recipients"]);
    let statuses: Vec<(&str, &str)> = first["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["target"].as_str().unwrap(), r["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [
            (format!("channel:{}", stack.channel_id).as_str(), "posted"),
            ("user:u-ana", "posted"),
            ("user:u-zed", "not_in_slack")
        ]
    );
    let posts = stack.slack.calls(Some("chat.postMessage"));
    assert_eq!(posts.len(), 2, "one to the channel, one to Ana's DM");
    let ana = dm_of(&stack, "U0ANA").blocks.to_string();
    assert!(
        ana.contains("Initech accepted") && !ana.contains("approve"),
        "{ana}"
    );

    let mut changed = body.clone();
    changed["title"] = json!("Something else");
    assert_eq!(
        stack
            .host_call("POST", "/v1/notifications", &changed)
            .await
            .0,
        409
    );
    let mut unknown = body.clone();
    unknown["external_id"] = json!("EV-8");
    unknown["to"] = json!({"user_ids": ["u-nobody"]});
    let (status, answer) = stack.host_call("POST", "/v1/notifications", &unknown).await;
    assert_eq!(status, 400);
    assert!(answer["message"]
        .as_str()
        .unwrap()
        .starts_with("to.user_ids[0]"));
}

#[tokio::test]
async fn two_host_users_with_one_email_both_map_and_a_retry_repairs_nothing_twice() {
    let stack = Stack::start().await;
    let users = json!([
        {"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana"},
        {"user_id": "u-ana-admin", "email": "ANA@sandbox.example", "name": "Ana (admin)"},
    ]);

    let (status, body) = put_users(&stack, users.clone()).await;
    // Sent again (renamed, so the replay guard sees a new request): nothing breaks.
    let mut renamed = users;
    renamed[1]["name"] = json!("Ana Admin");
    let (again, _) = put_users(&stack, renamed).await;

    assert_eq!((status, again), (200, 200), "{body}");
    assert_eq!(status_of(&body, "u-ana")["slack_user_id"], "U0ANA");
    assert_eq!(status_of(&body, "u-ana-admin")["slack_user_id"], "U0ANA");
}
