//! A workspace that goes away and comes back: a click while disconnected still decides and
//! shows at once, every copy catches up on the reinstall, and the installer is greeted.

use serde_json::json;

use crate::common::oauth::install;
use crate::common::{Options, Stack};
use crate::people::{dm_of, ephemeral_to, map_team, request_to_ana_and_ben, work};

fn shows_decision(stack: &Stack, channel: &str, ts: &str) -> bool {
    let shown = stack.slack.message(channel, ts).unwrap().blocks.to_string();
    shown.contains("Approved by <@U0ANA>") && !shown.contains("\"actions\"")
}

async fn effect_statuses(stack: &Stack, id: &str) -> Vec<String> {
    let (status, read) = stack
        .host_call(
            "GET",
            &format!("/v1/approvals/{id}?tenant_id={}", stack.tenant_id),
            &json!(null),
        )
        .await;
    assert_eq!(status, 200, "{read}");
    read["effects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}",
                e["kind"].as_str().unwrap(),
                e["status"].as_str().unwrap()
            )
        })
        .collect()
}

#[tokio::test]
async fn a_click_while_disconnected_decides_shows_at_once_and_a_reinstall_updates_every_copy() {
    // GIVEN a request to Ana and Ben, in the channel and their DMs, and the host then
    // disconnects Slack (the worker revokes and deletes the tokens)
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;
    install(&stack, &stack.tenant_id, &stack.team_id, false).await;
    work(&stack).await;
    map_team(&stack).await;
    let created = request_to_ana_and_ben(&stack, "DR-GONE", "none").await;
    let id = created["id"].as_str().unwrap().to_owned();
    let channel = created["slack"]["channel_id"].as_str().unwrap().to_owned();
    let ts = created["slack"]["message_ts"].as_str().unwrap().to_owned();
    let path = format!("/v1/tenants/{}/slack", stack.tenant_id);
    assert_eq!(stack.host_call("DELETE", &path, &json!(null)).await.0, 200);
    work(&stack).await;
    assert!(stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .is_none());
    let updates_before = stack.slack.calls(Some("chat.update")).len();

    // WHEN Ana approves in the channel
    assert_eq!(stack.click(&channel, &ts, "approve", "U0ANA").await, 200);
    work(&stack).await;

    // THEN it is decided once and the host told; the clicked message shows it at once,
    // through its response_url; the DMs wait for the workspace
    assert_eq!(stack.approval_item(&id).await["status"], "approved");
    let decided: Vec<_> = stack
        .host
        .received()
        .into_iter()
        .filter(|h| h.body["type"] == "approval.decided")
        .collect();
    assert_eq!(decided.len(), 1);
    assert!(shows_decision(&stack, &channel, &ts), "the clicked message");
    assert_eq!(stack.slack.calls(Some("chat.update")).len(), updates_before);
    let ben_dm = dm_of(&stack, "U0BEN");
    assert!(!shows_decision(&stack, &ben_dm.channel, &ben_dm.ts));
    let statuses = effect_statuses(&stack, &id).await;
    assert_eq!(
        statuses
            .iter()
            .filter(|s| *s == "update_copy:waiting_for_reconnect")
            .count(),
        2,
        "{statuses:?}"
    );

    // WHEN the app is installed again
    install(&stack, &stack.tenant_id, &stack.team_id, false).await;
    work(&stack).await;
    work(&stack).await;

    // THEN every copy shows the decision, nothing waits, and the host heard of it once
    let ana_dm = dm_of(&stack, "U0ANA");
    assert!(shows_decision(&stack, &ana_dm.channel, &ana_dm.ts));
    assert!(shows_decision(&stack, &ben_dm.channel, &ben_dm.ts));
    let statuses = effect_statuses(&stack, &id).await;
    assert!(
        statuses.iter().all(|s| s.ends_with(":done")),
        "{statuses:?}"
    );
    let decided = stack
        .host
        .received()
        .into_iter()
        .filter(|h| h.body["type"] == "approval.decided")
        .count();
    assert_eq!(decided, 1);

    // AND Ana, clicking her stale DM, hears of her own decision
    assert_eq!(
        stack
            .click(&ana_dm.channel, &ana_dm.ts, "approve", "U0ANA")
            .await,
        200
    );
    work(&stack).await;
    let told = ephemeral_to(&stack, &ana_dm.channel, "U0ANA");
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(
        told[0].starts_with("You already approved this on "),
        "{told:?}"
    );
}

#[tokio::test]
async fn the_installer_is_greeted_once_and_not_again_on_a_reinstall_the_same_day() {
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;

    install(&stack, &stack.tenant_id, &stack.team_id, false).await;
    work(&stack).await;
    install(&stack, &stack.tenant_id, &stack.team_id, false).await;
    work(&stack).await;

    let greetings: Vec<String> = stack
        .slack
        .messages("D0ANA")
        .into_iter()
        .map(|m| m.text)
        .filter(|text| text.starts_with("Thanks for installing"))
        .collect();
    assert_eq!(greetings.len(), 1, "{greetings:?}");
}
