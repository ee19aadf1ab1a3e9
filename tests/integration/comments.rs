//! The host's comments in a request's thread: under the author's name, mentions of mapped
//! users as Slack mentions, once per `comment_id`.

use serde_json::{json, Value};

use crate::common::Stack;
use crate::slack_events::send_event;

async fn comment(stack: &Stack, id: &str, body: Value) -> (u16, Value) {
    stack
        .host_call("POST", &format!("/v1/approvals/{id}/comments"), &body)
        .await
}

fn replies(stack: &Stack, channel: &str, ts: &str) -> Vec<String> {
    stack
        .slack
        .messages(channel)
        .into_iter()
        .filter(|m| m.thread_ts.as_deref() == Some(ts) && m.ts != ts)
        .map(|m| m.text)
        .collect()
}

#[tokio::test]
async fn a_host_comment_lands_in_the_thread_once_under_its_authors_name() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let users =
        json!({"users": [{"user_id": "u-ben", "email": "ben@sandbox.example", "name": "Ben"}]});
    assert_eq!(stack.host_call("PUT", &path, &users).await.0, 200);
    let (id, channel, ts) = stack.create_approval("CM-1").await;
    let body = json!({"tenant_id": stack.tenant_id, "comment_id": "c-1",
                      "author": {"user_id": "u-ana", "name": "Ana Alvarez"},
                      "text": "Can you check the discount, @u-ben? <!channel>"});

    let (status, first) = comment(&stack, &id, body.clone()).await;
    let (again_status, again) = comment(&stack, &id, body.clone()).await;

    assert_eq!(status, 201, "{first}");
    assert_eq!(again_status, 200, "{again}");
    assert_eq!(first["slack"], again["slack"], "the same message");
    let thread = replies(&stack, &channel, &ts);
    assert_eq!(
        thread,
        ["*Ana Alvarez*: Can you check the discount, <@U0BEN>? &lt;!channel&gt;"],
        "one reply, the mention resolved, the host's text unable to ping the channel"
    );

    let mut other = body.clone();
    other["text"] = json!("something else");
    let (status, conflict) = comment(&stack, &id, other).await;
    assert_eq!(status, 409, "{conflict}");
    assert_eq!(conflict["error"], "conflict");
    assert_eq!(replies(&stack, &channel, &ts).len(), 1);
}

#[tokio::test]
async fn concurrent_repeats_post_once_and_bad_comments_change_nothing() {
    let stack = Stack::start().await;
    let (id, channel, ts) = stack.create_approval("CM-2").await;
    let body = json!({"tenant_id": stack.tenant_id, "comment_id": "c-2",
                      "author": {"name": "Pat"}, "text": "Approved budget attached."});

    let (one, two) = tokio::join!(
        comment(&stack, &id, body.clone()),
        comment(&stack, &id, body.clone())
    );

    let mut statuses = [one.0, two.0];
    statuses.sort();
    assert!(
        statuses == [200, 201] || statuses == [201, 409],
        "{statuses:?}"
    );
    assert_eq!(replies(&stack, &channel, &ts).len(), 1, "posted once");

    // Another tenant of the same workspace names this request: it is not theirs.
    let other_tenant = format!("{}-b", stack.tenant_id);
    stack.connect(&other_tenant, &stack.team_id).await;
    for (mut bad, status, field) in [
        (json!({"text": ""}), 400, "text"),
        (json!({"text": "x".repeat(40_001)}), 400, "text"),
        (json!({"tenant_id": other_tenant}), 404, ""),
        (
            json!({"author": {"name": "Pat", "role": "boss"}}),
            400,
            "author.role",
        ),
    ] {
        let mut request = json!({"tenant_id": stack.tenant_id, "comment_id": "c-bad",
                                 "author": {"name": "Pat"}, "text": "fine"});
        for (key, value) in bad.as_object_mut().unwrap().iter() {
            request[key] = value.clone();
        }
        let (got, answer) = comment(&stack, &id, request).await;
        assert_eq!(got, status, "{answer}");
        if !field.is_empty() {
            assert!(
                answer["message"].as_str().unwrap().starts_with(field),
                "{answer}"
            );
        }
    }
    assert_eq!(
        replies(&stack, &channel, &ts).len(),
        1,
        "nothing else posted"
    );
}

/// A `message` event from a person in `stack`'s workspace, wrapped as Slack wraps it.
fn message_event(stack: &Stack, event: Value) -> Value {
    stack.slack.event_callback(&stack.team_id, event)
}

fn thread_reply(channel: &str, root: &str, ts: &str, user: &str, text: &str) -> Value {
    json!({"type": "message", "channel": channel, "channel_type": "channel", "user": user,
           "text": text, "ts": ts, "thread_ts": root, "event_ts": ts})
}

fn comment_events(events: &[Value], kind: &str) -> Vec<Value> {
    events
        .iter()
        .filter(|event| event["type"] == kind)
        .map(|event| event["data"].clone())
        .collect()
}

/// A reply's ts, a little after the request's own.
fn later(ts: &str, n: u32) -> String {
    let seconds: i64 = ts.split('.').next().unwrap().parse().unwrap();
    format!("{}.{n:06}", seconds + 1)
}

#[tokio::test]
async fn a_reply_in_the_thread_reaches_the_host_once_with_its_mentions_and_new_followers() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/users", stack.tenant_id);
    let users = json!({"users": [
        {"user_id": "u-ana", "email": "ana@sandbox.example", "name": "Ana Alvarez"},
        {"user_id": "u-ben", "email": "ben@sandbox.example", "name": "Ben Buyer"}]});
    assert_eq!(stack.host_call("PUT", &path, &users).await.0, 200);
    let (id, channel, ts) = stack.create_approval("CM-T1").await;
    stack.host_events().await;

    let reply_ts = later(&ts, 1);
    let reply = message_event(
        &stack,
        thread_reply(
            &channel,
            &ts,
            &reply_ts,
            "U0ANA",
            "<@U0BEN> can you check the discount?",
        ),
    );
    let mut resent = reply.clone();
    resent["event_id"] = json!("EvRESENT0001");
    assert_eq!(send_event(&stack, &reply, None).await.0, 200);
    assert_eq!(
        send_event(&stack, &reply, Some("1")).await.0,
        200,
        "Slack's retry"
    );
    assert_eq!(
        send_event(&stack, &resent, None).await.0,
        200,
        "a new event id"
    );

    let events = stack.host_events().await;
    let comments = comment_events(&events, "approval.comment");
    assert_eq!(comments.len(), 1, "told once: {events:?}");
    let comment = &comments[0];
    assert_eq!(comment["approval_id"], id.as_str());
    assert_eq!(comment["tenant_id"], stack.tenant_id.as_str());
    assert_eq!(comment["external_id"], "CM-T1");
    assert_eq!(comment["comment_id"], format!("{channel}:{reply_ts}"));
    assert_eq!(
        comment["author"],
        json!({"slack_user_id": "U0ANA", "user_id": "u-ana", "name": "Ana Alvarez"})
    );
    assert_eq!(comment["text"], "<@U0BEN> can you check the discount?");
    assert_eq!(
        comment["mentions"],
        json!([{"slack_user_id": "U0BEN", "user_id": "u-ben"}])
    );
    assert_eq!(
        comment["followers_added"],
        json!([{"user_id": "u-ben", "slack_user_id": "U0BEN"}])
    );

    // Mentioned again: already a follower.
    let again_ts = later(&ts, 2);
    let again = thread_reply(&channel, &ts, &again_ts, "U0ANA", "ping <@U0BEN>");
    assert_eq!(
        send_event(&stack, &message_event(&stack, again), None)
            .await
            .0,
        200
    );
    let edit = json!({"type": "message", "subtype": "message_changed", "hidden": true,
        "channel": channel, "channel_type": "channel", "ts": later(&ts, 3),
        "message": {"type": "message", "user": "U0ANA", "text": "ping <@U0BEN>, please",
                    "ts": again_ts, "thread_ts": ts,
                    "edited": {"user": "U0ANA", "ts": later(&ts, 3)}},
        "previous_message": {"type": "message", "user": "U0ANA", "text": "ping <@U0BEN>",
                             "ts": again_ts, "thread_ts": ts}});
    let delete = json!({"type": "message", "subtype": "message_deleted", "hidden": true,
        "channel": channel, "channel_type": "channel", "ts": later(&ts, 4),
        "event_ts": later(&ts, 4), "deleted_ts": again_ts,
        "previous_message": {"type": "message", "user": "U0ANA", "text": "ping <@U0BEN>, please",
                             "ts": again_ts, "thread_ts": ts}});
    for event in [edit, delete] {
        let envelope = message_event(&stack, event);
        assert_eq!(send_event(&stack, &envelope, None).await.0, 200);
    }
    let events = stack.host_events().await;
    let again_id = format!("{channel}:{again_ts}");
    let comments: Vec<Value> = comment_events(&events, "approval.comment")
        .into_iter()
        .filter(|comment| comment["comment_id"] == again_id.as_str())
        .collect();
    assert_eq!(comments.len(), 1, "{events:?}");
    assert_eq!(
        comments[0]["followers_added"],
        json!([]),
        "once per request"
    );
    let edited = comment_events(&events, "approval.comment_edited");
    assert_eq!(edited.len(), 1, "{events:?}");
    assert_eq!(edited[0]["comment_id"], format!("{channel}:{again_ts}"));
    assert_eq!(edited[0]["text"], "ping <@U0BEN>, please");
    let deleted = comment_events(&events, "approval.comment_deleted");
    assert_eq!(deleted.len(), 1, "{events:?}");
    assert_eq!(deleted[0]["comment_id"], format!("{channel}:{again_ts}"));
}

#[tokio::test]
async fn bots_top_level_messages_and_other_threads_are_not_comments() {
    let stack = Stack::start().await;
    let (_, channel, ts) = stack.create_approval("CM-T2").await;
    stack.host_events().await;

    let mut ours = thread_reply(
        &channel,
        &ts,
        &later(&ts, 1),
        "U0BOT",
        "*Ana*: from the host",
    );
    ours["bot_id"] = json!("B0BOT");
    let mut ours_without_bot_id = ours.clone();
    ours_without_bot_id
        .as_object_mut()
        .unwrap()
        .remove("bot_id");
    let mut other_bot = thread_reply(&channel, &ts, &later(&ts, 2), "U0OTHER", "deploy done");
    other_bot["subtype"] = json!("bot_message");
    other_bot["bot_id"] = json!("B0OTHER");
    let top_level = json!({"type": "message", "channel": channel, "channel_type": "channel",
                           "user": "U0ANA", "text": "morning all", "ts": later(&ts, 3)});
    let elsewhere = thread_reply(&channel, &later(&ts, 3), &later(&ts, 4), "U0ANA", "hi");
    for event in [ours, ours_without_bot_id, other_bot, top_level, elsewhere] {
        let envelope = message_event(&stack, event);
        assert_eq!(send_event(&stack, &envelope, None).await.0, 200);
    }

    let events = stack.host_events().await;
    assert!(
        events.iter().all(|event| !event["type"]
            .as_str()
            .unwrap()
            .starts_with("approval.comment")),
        "{events:?}"
    );
}

#[tokio::test]
async fn the_app_joins_the_channel_it_posts_to_and_a_private_one_needs_an_invite() {
    let stack = Stack::start().await;
    let path = format!("/v1/tenants/{}/channels/purchase_order", stack.tenant_id);
    let private = json!({"channel_id": "C0FINANCE"});

    let (status, refused) = stack.host_call("PUT", &path, &private).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "not_in_channel");
    assert!(
        refused["message"].as_str().unwrap().contains("/invite"),
        "{refused}"
    );
    assert_eq!(
        stack
            .store()
            .channel_for(&stack.tenant_id, "purchase_order")
            .await
            .unwrap(),
        None,
        "nothing stored"
    );
    stack.slack.invite_app(&stack.team_id, "C0FINANCE").unwrap();
    assert_eq!(stack.host_call("PUT", &path, &private).await.0, 200);

    let (_, channel, _) = stack.create_approval("CM-J1").await;
    let joined = stack.slack.channel(&stack.team_id, &channel).unwrap();
    assert!(
        joined.members.iter().any(|member| member == "U0BOT"),
        "the bot is in {channel}, so its thread replies reach us"
    );
}
