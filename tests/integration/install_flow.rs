//! Installing into Slack end to end, through a real HTTP client that keeps cookies:
//! install link → /slack/install → Slack's authorize page → callback → stored, encrypted,
//! linked → status API. And every refusal, which ends on the host's error redirect.

use crate::common::oauth::{
    browser, decide, install, install_link, location, query, start, RETURN_URL,
};
use crate::common::{Options, Stack};
use sandbox::slack::Fault;
use serde_json::json;

async fn status(stack: &Stack, tenant_id: &str) -> serde_json::Value {
    let (code, body) = stack
        .host_call(
            "GET",
            &format!("/v1/tenants/{tenant_id}/slack"),
            &json!(null),
        )
        .await;
    assert_eq!(code, 200);
    body
}

fn exchanges(stack: &Stack) -> usize {
    stack.slack.calls(Some("oauth.v2.access")).len()
}

#[tokio::test]
async fn the_full_install_stores_an_encrypted_installation_and_links_the_tenant() {
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;
    assert_eq!(
        status(&stack, &stack.tenant_id).await["status"],
        "not_connected"
    );

    let landing = install(&stack, &stack.tenant_id, &stack.team_id, false).await;

    let landed = query(&landing);
    assert!(landing.starts_with(RETURN_URL), "{landing}");
    assert_eq!(landed["slack"], "connected");
    assert_eq!(landed["team_id"], stack.team_id);
    assert_eq!(landed["team_name"], format!("Workspace {}", stack.team_id));
    let exchange = &stack.slack.calls(Some("oauth.v2.access"))[0];
    assert_eq!(
        exchange.params["basic_auth"], true,
        "client credentials go in HTTP Basic auth"
    );
    assert_eq!(
        exchange.params["redirect_uri"],
        format!("{}/slack/oauth/callback", stack.gateway)
    );

    let connection = status(&stack, &stack.tenant_id).await;
    assert_eq!(connection["status"], "active");
    assert_eq!(connection["team_id"], stack.team_id);
    assert_eq!(connection["installed_by"], "U0ANA");
    assert!(connection["installed_at"].is_string());

    let (code, _) = stack
        .host_call(
            "POST",
            "/v1/approvals",
            &stack.approval_body("DR-AFTER-INSTALL"),
        )
        .await;
    assert_eq!(code, 201, "the installed token posts messages");

    let raw = stack.raw_installation(&stack.team_id).await;
    assert!(
        raw.contains("ciphertext") && raw.contains("key_id"),
        "{raw}"
    );
    stack.assert_no_plaintext_tokens().await;
}

#[tokio::test]
async fn refusals_end_on_the_error_redirect_and_store_nothing() {
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;
    let tenant = stack.tenant_id.clone();

    // Cancel on Slack's page.
    let alice = browser();
    let authorize = start(&alice, &install_link(&stack, &tenant).await).await;
    let callback = decide(&stack, &alice, &authorize, &stack.team_id, false, false).await;
    assert_refused(&alice.get(&callback).send().await.unwrap(), "access_denied");

    // A reused install token.
    let link = install_link(&stack, &tenant).await;
    start(&alice, &link).await;
    assert_refused(&alice.get(&link).send().await.unwrap(), "install_link_used");

    // No cookie, and a foreign browser's cookie.
    let authorize = start(&alice, &install_link(&stack, &tenant).await).await;
    let callback = decide(&stack, &alice, &authorize, &stack.team_id, true, false).await;
    assert_refused(
        &browser().get(&callback).send().await.unwrap(),
        "cookie_mismatch",
    );
    let bob = browser();
    start(&bob, &install_link(&stack, &tenant).await).await;
    let authorize = start(&alice, &install_link(&stack, &tenant).await).await;
    let callback = decide(&stack, &alice, &authorize, &stack.team_id, true, false).await;
    assert_refused(&bob.get(&callback).send().await.unwrap(), "cookie_mismatch");

    // A tampered state.
    let carol = browser();
    let authorize = start(&carol, &install_link(&stack, &tenant).await).await;
    let callback = decide(&stack, &carol, &authorize, &stack.team_id, true, false).await;
    let state = &authorize["state"];
    let flipped = format!(
        "{}{}",
        &state[..state.len() - 1],
        if state.ends_with('0') { '1' } else { '0' }
    );
    assert_refused(
        &carol
            .get(callback.replace(state.as_str(), &flipped))
            .send()
            .await
            .unwrap(),
        "invalid_state",
    );

    // An expired state.
    let dave = browser();
    let authorize = start(&dave, &install_link(&stack, &tenant).await).await;
    let callback = decide(&stack, &dave, &authorize, &stack.team_id, true, false).await;
    stack.expire_state(&authorize["state"]).await;
    assert_refused(&dave.get(&callback).send().await.unwrap(), "state_expired");

    assert_eq!(
        exchanges(&stack),
        0,
        "no refused callback exchanged its code"
    );
    assert_eq!(status(&stack, &tenant).await["status"], "not_connected");
    assert!(stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .is_none());

    // A replayed state: the first use installs, the replay changes nothing.
    let erin = browser();
    let authorize = start(&erin, &install_link(&stack, &tenant).await).await;
    let callback = decide(&stack, &erin, &authorize, &stack.team_id, true, false).await;
    assert_eq!(erin.get(&callback).send().await.unwrap().status(), 302);
    assert_refused(
        &erin.get(&callback).send().await.unwrap(),
        "state_already_used",
    );
    assert_eq!(exchanges(&stack), 1);

    // Nothing at all to go on: a plain page, not a 500.
    let page = browser()
        .get(format!(
            "{}/slack/oauth/callback?state=zz&code=1",
            stack.gateway
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 400);
}

fn assert_refused(answer: &reqwest::Response, reason: &str) {
    assert_eq!(answer.status(), 302, "expected a redirect for {reason}");
    let target = location(answer);
    assert!(target.starts_with(RETURN_URL), "{target}");
    let landed = query(&target);
    assert_eq!(landed["slack"], "error", "{target}");
    assert_eq!(landed["reason"], reason, "{target}");
}

#[tokio::test]
async fn slack_errors_in_the_exchange_end_on_the_error_redirect() {
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;
    let browser = browser();
    let authorize = start(&browser, &install_link(&stack, &stack.tenant_id).await).await;
    let callback = decide(&stack, &browser, &authorize, &stack.team_id, true, false).await;
    let mut bad_code = reqwest::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = bad_code.query_pairs().into_owned().collect();
    bad_code.query_pairs_mut().clear();
    for (key, value) in pairs {
        bad_code
            .query_pairs_mut()
            .append_pair(&key, if key == "code" { "not-a-code" } else { &value });
    }
    assert_refused(
        &browser.get(bad_code.as_str()).send().await.unwrap(),
        "invalid_code",
    );

    // Slack checks the redirect_uri against the one it sent the admin back to.
    let mut authorize = start(&browser, &install_link(&stack, &stack.tenant_id).await).await;
    let other_uri = format!("{}?from=elsewhere", authorize["redirect_uri"]);
    authorize.insert("redirect_uri".into(), other_uri);
    let callback = decide(&stack, &browser, &authorize, &stack.team_id, true, false).await;
    assert_refused(
        &browser.get(&callback).send().await.unwrap(),
        "bad_redirect_uri",
    );
    assert_eq!(
        status(&stack, &stack.tenant_id).await["status"],
        "not_connected"
    );
}

#[tokio::test]
async fn disconnect_revokes_deletes_and_blocks_new_approvals() {
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;
    install(&stack, &stack.tenant_id, &stack.team_id, false).await;

    let (code, body) = stack
        .host_call(
            "DELETE",
            &format!("/v1/tenants/{}/slack", stack.tenant_id),
            &json!(null),
        )
        .await;

    assert_eq!(code, 200);
    assert_eq!(body["status"], "disconnected");
    // The revoke is the worker's: it survives a crash of the request that asked for it.
    assert!(stack.slack.calls(Some("auth.revoke")).is_empty());
    let notices = stack.host_events().await;
    assert_eq!(stack.slack.calls(Some("auth.revoke")).len(), 1);
    assert!(
        stack
            .store()
            .installation(&stack.team_id)
            .await
            .unwrap()
            .is_none(),
        "tokens deleted"
    );
    let (code, body) = stack
        .host_call("POST", "/v1/approvals", &stack.approval_body("DR-AFTER"))
        .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (409, Some("slack_not_connected"))
    );
    assert!(notices
        .iter()
        .any(|e| e["type"] == "slack.disconnected" && e["data"]["reason"] == "host_request"));
    assert!(notices.iter().any(|e| e["type"] == "slack.connected"));
}

#[tokio::test]
async fn a_revoke_that_fails_is_retried_and_a_repeated_delete_finishes_the_cleanup() {
    // GIVEN a disconnect whose first revoke meets a Slack outage
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;
    install(&stack, &stack.tenant_id, &stack.team_id, false).await;
    let path = format!("/v1/tenants/{}/slack", stack.tenant_id);
    assert_eq!(stack.host_call("DELETE", &path, &json!(null)).await.0, 200);
    stack
        .slack
        .inject("auth.revoke", Fault::ServerError { status: 503 }, 3);
    let queued = stack.drain_queue().await;
    let first = stack
        .worker
        .handle(crate::common::sqs_event(queued.clone()))
        .await;
    assert_eq!(
        first.batch_item_failures.len(),
        1,
        "the retirement is retried"
    );
    assert!(stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .is_some());

    // WHEN the host, unsure, asks again, and the worker runs once Slack is back
    assert_eq!(stack.host_call("DELETE", &path, &json!(null)).await.0, 200);
    let again = stack.drain_queue().await;
    let answer = stack
        .worker
        .handle(crate::common::sqs_event(
            queued.into_iter().chain(again).collect(),
        ))
        .await;

    // THEN the token is revoked at Slack and the tokens are gone
    assert!(answer.batch_item_failures.is_empty());
    let revokes = stack.slack.calls(Some("auth.revoke"));
    assert!(revokes
        .iter()
        .any(|call| call.http_status == 200 && call.error.is_none()));
    assert!(stack
        .store()
        .installation(&stack.team_id)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn two_tenants_on_one_workspace_disconnect_independently() {
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;
    let other = format!("{}-b", stack.tenant_id);
    install(&stack, &stack.tenant_id, &stack.team_id, false).await;
    install(&stack, &other, &stack.team_id, false).await;

    let (code, _) = stack
        .host_call(
            "DELETE",
            &format!("/v1/tenants/{}/slack", stack.tenant_id),
            &json!(null),
        )
        .await;
    assert_eq!(code, 200);

    assert!(
        stack.slack.calls(Some("auth.revoke")).is_empty(),
        "the other tenant still uses the token"
    );
    assert_eq!(status(&stack, &other).await["status"], "active");
    let mut body = stack.approval_body("DR-OTHER");
    body["tenant_id"] = json!(other);
    let (code, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(code, 201, "{answer}");
}

#[tokio::test]
async fn an_org_wide_install_resolves_clicks_from_two_workspaces() {
    let enterprise = crate::common::unique("E");
    let stack = Stack::start_with(Options {
        not_connected: true,
        enterprise_id: Some(enterprise.clone()),
        ..Options::default()
    })
    .await;
    let second_team = stack.add_org_workspace(&enterprise).await;

    let landing = install(&stack, &stack.tenant_id, &stack.team_id, true).await;
    assert_eq!(
        query(&landing)["team_id"],
        enterprise,
        "an org-wide install is keyed by enterprise"
    );
    let exchange = stack.slack.calls(Some("oauth.v2.access"));
    assert_eq!(exchange.len(), 1);

    let (first, first_channel, first_ts) = stack.create_approval("DR-ORG-1").await;
    let mut body = stack.approval_body("DR-ORG-2");
    body["channel_id"] = json!("C0ORGB");
    let (code, second) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(code, 201, "{second}");
    assert_eq!(
        stack
            .click(&first_channel, &first_ts, "approve", "U0ANA")
            .await,
        200
    );
    let second_ts = second["slack"]["message_ts"].as_str().unwrap();
    assert_eq!(
        stack.click("C0ORGB", second_ts, "reject", "U0BORG").await,
        200
    );
    let records = stack.drain_queue().await;
    let decisions: Vec<_> = records
        .into_iter()
        .filter(|r| r.body.as_deref().unwrap_or_default().contains("\"decide\""))
        .collect();
    assert_eq!(decisions.len(), 2);
    let answer = stack
        .worker
        .handle(crate::common::sqs_event(decisions))
        .await;

    assert!(answer.batch_item_failures.is_empty());
    assert_eq!(stack.approval_item(&first).await["status"], "approved");
    let second_item = stack.approval_item(second["id"].as_str().unwrap()).await;
    assert_eq!(second_item["status"], "rejected");
    assert_eq!(second_item["ending"]["by"]["team_id"], second_team);
}

#[tokio::test]
async fn a_reinstall_keeps_the_other_tenants_of_the_workspace_linked() {
    // GIVEN two tenants on one workspace, and the first installs again (new tokens)
    let stack = Stack::start_with(Options {
        not_connected: true,
        ..Options::default()
    })
    .await;
    let other = format!("{}-b", stack.tenant_id);
    install(&stack, &stack.tenant_id, &stack.team_id, false).await;
    install(&stack, &other, &stack.team_id, false).await;
    install(&stack, &stack.tenant_id, &stack.team_id, false).await;
    let members = stack
        .store()
        .installation_members(&stack.team_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(members.len(), 2, "{members:?}");

    // WHEN the first disconnects
    let path = format!("/v1/tenants/{}/slack", stack.tenant_id);
    let (code, _) = stack.host_call("DELETE", &path, &json!(null)).await;

    // THEN the workspace's tokens stay for the other tenant
    assert_eq!(code, 200);
    assert!(stack.slack.calls(Some("auth.revoke")).is_empty());
    assert_eq!(
        stack
            .store()
            .installation_members(&stack.team_id)
            .await
            .unwrap()
            .unwrap(),
        vec![other.clone()]
    );
    let mut body = stack.approval_body("DR-KEPT");
    body["tenant_id"] = json!(other);
    let (code, answer) = stack.host_call("POST", "/v1/approvals", &body).await;
    assert_eq!(code, 201, "{answer}");
}
