//! Replies in a request's Slack thread, told to the host as comments: posted, edited and
//! deleted, each once however often Slack delivers it, with the people mentioned.
//!
//! Only people's replies count. Our own bot's posts (the host's comments among them) and
//! other bots' are dropped, as Bolt's `ignoreSelf` drops them, and so are top-level
//! messages and threads under anything that is not a request.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::domain::Approval;
use crate::outbox::HostEvent;
use crate::people::HostUserId;
use crate::ports::{
    ApprovalStore, CommentStore, HostNotifier, QueueError, StoreError, TenantStore, UserDirectory,
};
use crate::time::rfc3339;

/// How long one delivery holds a message while it tells the host; the same as an event's.
const MESSAGE_LEASE_SECS: i64 = 30;
/// How long a relayed message is remembered: Slack resends within minutes, under the same
/// or a new event id.
const MESSAGE_GUARD_SECS: i64 = 24 * 3600;
/// A follower is told once per request: for as long as a request may live.
const FOLLOWER_GUARD_SECS: i64 = 400 * 24 * 3600;

/// Why a message could not be told now: Slack's retry tells it then.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// What happened to a message in a thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Posted,
    /// `edited_ts` tells one edit from the next.
    Edited {
        edited_ts: String,
    },
    Deleted,
}

/// A person's reply in some thread, as one `message` event tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadMessage {
    pub change: Change,
    pub channel_id: String,
    /// The reply's own ts: with the channel, the comment's id.
    pub ts: String,
    /// The thread's parent: the request's message, if it is one.
    pub root_ts: String,
    pub user: String,
    /// Slack's mrkdwn, as typed (the last text, for a delete).
    pub text: String,
    /// When it happened, in Unix seconds.
    pub at: i64,
}

fn field<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A bot's message: ours (which may carry a `username` override and then arrive as
/// `bot_message`) or another app's.
fn is_from_a_bot(message: &Value) -> bool {
    message.get("bot_id").is_some_and(|id| !id.is_null())
        || field(message, "subtype") == Some("bot_message")
}

/// Slack's `ts` ("1700000000.000100") in whole seconds.
fn ts_seconds(ts: &str) -> Option<i64> {
    ts.split('.').next()?.parse().ok()
}

impl ThreadMessage {
    /// A person's reply, edit of a reply or deleted reply; `None` for any other event
    /// (top-level messages, bots, joins, spurious edits that changed nothing).
    pub fn from_event(event: &Value) -> Option<Self> {
        if field(event, "type") != Some("message") || is_from_a_bot(event) {
            return None;
        }
        let channel_id = field(event, "channel")?.to_owned();
        let (message, change) = match field(event, "subtype") {
            None | Some("thread_broadcast" | "file_share" | "me_message") => {
                (event, Change::Posted)
            }
            Some("message_changed") => {
                let message = event.get("message")?;
                let before = event.get("previous_message");
                // Slack's language detection sends "edits" that change nothing.
                if is_from_a_bot(message)
                    || before.and_then(|b| field(b, "text")) == field(message, "text")
                {
                    return None;
                }
                let edited_ts = message
                    .get("edited")
                    .and_then(|edited| field(edited, "ts"))
                    .or_else(|| field(event, "ts"))?;
                let change = Change::Edited {
                    edited_ts: edited_ts.to_owned(),
                };
                (message, change)
            }
            Some("message_deleted") => {
                let before = event.get("previous_message")?;
                if is_from_a_bot(before) {
                    return None;
                }
                (before, Change::Deleted)
            }
            Some(_) => return None,
        };
        let ts = match change {
            Change::Deleted => field(event, "deleted_ts").or_else(|| field(message, "ts"))?,
            _ => field(message, "ts")?,
        };
        let root_ts = field(message, "thread_ts").filter(|root| *root != ts)?;
        let at = match &change {
            Change::Posted => ts,
            Change::Edited { edited_ts } => edited_ts.as_str(),
            Change::Deleted => field(event, "event_ts").or_else(|| field(event, "ts"))?,
        };
        Some(Self {
            channel_id,
            ts: ts.to_owned(),
            root_ts: root_ts.to_owned(),
            user: field(message, "user")?.to_owned(),
            text: field(message, "text").unwrap_or_default().to_owned(),
            at: ts_seconds(at)?,
            change,
        })
    }

    /// The comment's id, stable across edits and deletes.
    pub fn comment_id(&self) -> String {
        format!("{}:{}", self.channel_id, self.ts)
    }

    /// Channel ids and ts are unique within a workspace, so the key names it too.
    fn guard_key(&self, installation_id: &str) -> String {
        let change = match &self.change {
            Change::Posted => "posted".to_owned(),
            Change::Edited { edited_ts } => format!("edited:{edited_ts}"),
            Change::Deleted => "deleted".to_owned(),
        };
        format!(
            "SLACKMSG#{installation_id}#{}#{}#{change}",
            self.channel_id, self.ts
        )
    }
}

/// The Slack users a text mentions (`<@U…>` or `<@U…|label>`), each once, in order.
pub fn mentioned_users(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    text.split("<@")
        .skip(1)
        .filter_map(|rest| {
            let end = rest.find(['>', '|'])?;
            let id = &rest[..end];
            let well_formed = !id.is_empty()
                && id.len() <= 32
                && id.starts_with(['U', 'W'])
                && id.chars().all(|c| c.is_ascii_alphanumeric());
            well_formed.then(|| id.to_owned())
        })
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relayed {
    Sent,
    /// A thread under something that is not a request of this workspace.
    NotARequest,
    /// Our own bot wrote it.
    Ours,
    /// Told already, under this or another event id.
    Duplicate,
}

pub struct ThreadComments<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub comments: &'a dyn CommentStore,
    pub directory: &'a dyn UserDirectory,
    pub notifier: &'a dyn HostNotifier,
}

impl ThreadComments<'_> {
    /// Tells the host of `message`, which came from the workspace `installation_id`.
    pub async fn relay(
        &self,
        installation_id: &str,
        message: &ThreadMessage,
        now: i64,
    ) -> Result<Relayed, RelayError> {
        let Some(approval) = self
            .comments
            .approval_for_thread(installation_id, &message.channel_id, &message.root_ts)
            .await?
        else {
            return Ok(Relayed::NotARequest);
        };
        let Some(approval) = self
            .approvals
            .get(&approval)
            .await?
            // Another workspace's request shares no thread with this one.
            .filter(|approval| approval.installation_id == installation_id)
        else {
            return Ok(Relayed::NotARequest);
        };
        let ours = self
            .tenants
            .installation(installation_id)
            .await?
            .is_some_and(|installation| installation.bot_user_id == message.user);
        if ours {
            return Ok(Relayed::Ours);
        }
        let relayed = super::once_per_key(
            self.approvals,
            &message.guard_key(installation_id),
            now,
            (MESSAGE_LEASE_SECS, MESSAGE_GUARD_SECS),
            self.tell_host(&approval, message, now),
        )
        .await?;
        Ok(relayed.map_or(Relayed::Duplicate, |()| Relayed::Sent))
    }

    async fn tell_host(
        &self,
        approval: &Approval,
        message: &ThreadMessage,
        now: i64,
    ) -> Result<(), RelayError> {
        let tenant_id = &approval.request.tenant_id;
        let author_id = self.host_user_of(tenant_id, &message.user).await?;
        let author_name = match &author_id {
            Some(user_id) => self
                .directory
                .users(tenant_id, std::slice::from_ref(user_id))
                .await?
                .into_iter()
                .next()
                .map(|user| user.name),
            None => None,
        }
        .or_else(|| {
            approval
                .audience
                .person(&message.user)
                .map(|p| p.name.clone())
        });
        let mut data = json!({
            "approval_id": approval.id,
            "tenant_id": tenant_id,
            "external_id": approval.request.external_id,
            "comment_id": message.comment_id(),
            "author": {"slack_user_id": message.user, "user_id": author_id,
                       "name": author_name},
        });
        let (kind, mut followers) = match &message.change {
            Change::Deleted => {
                data["deleted_at"] = json!(rfc3339(message.at));
                ("approval.comment_deleted", Vec::new())
            }
            change => {
                let mut mentions = Vec::new();
                for slack_user_id in mentioned_users(&message.text) {
                    let user_id = self.host_user_of(tenant_id, &slack_user_id).await?;
                    mentions.push((slack_user_id, user_id));
                }
                data["text"] = json!(message.text);
                data["mentions"] = json!(mentions
                    .iter()
                    .map(
                        |(slack_user_id, user_id)| json!({"slack_user_id": slack_user_id,
                                                           "user_id": user_id})
                    )
                    .collect::<Vec<_>>());
                data["created_at"] = json!(rfc3339(ts_seconds(&message.ts).unwrap_or(now)));
                let kind = if matches!(change, Change::Posted) {
                    "approval.comment"
                } else {
                    data["edited_at"] = json!(rfc3339(message.at));
                    "approval.comment_edited"
                };
                let followers = self
                    .new_followers(approval, &mentions, author_id.as_ref(), now)
                    .await?;
                (kind, followers)
            }
        };
        if message.change != Change::Deleted {
            data["followers_added"] = json!(followers
                .iter()
                .map(|(user_id, slack_user_id)| json!({"user_id": user_id,
                                                       "slack_user_id": slack_user_id}))
                .collect::<Vec<_>>());
        }
        let key = message.guard_key(&approval.installation_id);
        let event = HostEvent {
            id: format!("evt_{}", &hex::encode(Sha256::digest(&key))[..24]),
            kind: kind.into(),
            created_at: rfc3339(now),
            data,
        };
        if let Err(error) = self.notifier.notify(&event).await {
            // The followers were not told: the retry lists them again.
            for (user_id, _) in followers.drain(..) {
                let guard = follower_key(&approval.id, &user_id);
                if let Err(release) = self.approvals.release_claim(&guard).await {
                    tracing::warn!(%release, "could not give a follower back");
                }
            }
            return Err(error.into());
        }
        tracing::info!(approval_id = %approval.id, kind, comment_id = %message.comment_id(),
            followers_added = followers.len(), "a thread comment was sent to the host");
        Ok(())
    }

    async fn host_user_of(
        &self,
        tenant_id: &str,
        slack_user_id: &str,
    ) -> Result<Option<HostUserId>, StoreError> {
        Ok(self
            .directory
            .slack_identity(tenant_id, slack_user_id)
            .await?
            .and_then(|identity| identity.user_id))
    }

    /// The mapped people mentioned who were not followers of the request yet (the author
    /// is not their own follower).
    async fn new_followers(
        &self,
        approval: &Approval,
        mentions: &[(String, Option<HostUserId>)],
        author: Option<&HostUserId>,
        now: i64,
    ) -> Result<Vec<(HostUserId, String)>, StoreError> {
        let mut added = Vec::new();
        for (slack_user_id, user_id) in mentions {
            let Some(user_id) = user_id.as_ref().filter(|id| Some(*id) != author) else {
                continue;
            };
            let guard = follower_key(&approval.id, user_id);
            if self
                .approvals
                .claim_once(&guard, now, now + FOLLOWER_GUARD_SECS)
                .await?
            {
                added.push((user_id.clone(), slack_user_id.clone()));
            }
        }
        Ok(added)
    }
}

fn follower_key(approval_id: &str, user_id: &HostUserId) -> String {
    format!("FOLLOWER#{approval_id}#{user_id}")
}

#[cfg(test)]
mod tests {
    use async_trait::async_trait;

    use super::*;
    use crate::domain::{CopyRole, MessageCopy, SlackMessageRef};
    use crate::fakes::{installation, request, MemoryQueue, MemoryStore};
    use crate::ports::WorkItem;

    /// A queue that is down.
    struct Down;

    #[async_trait]
    impl HostNotifier for Down {
        async fn notify(&self, _event: &HostEvent) -> Result<(), QueueError> {
            Err(QueueError("the queue is down".into()))
        }
    }

    async fn posted_request(store: &MemoryStore) -> String {
        store.connect("acme", installation("T1"));
        let approval = Approval::new(request("DR-1", Some("C1")), "T1".into(), 1);
        store.insert_if_absent(&approval).await.unwrap();
        let at = SlackMessageRef {
            channel_id: "C1".into(),
            message_ts: "1800000000.000100".into(),
        };
        store
            .add_copy(&approval.id, &MessageCopy::new(at, CopyRole::Channel))
            .await
            .unwrap();
        approval.id
    }

    fn relay_with<'a>(
        store: &'a MemoryStore,
        notifier: &'a dyn HostNotifier,
    ) -> ThreadComments<'a> {
        ThreadComments {
            approvals: store,
            tenants: store,
            comments: store,
            directory: store,
            notifier,
        }
    }

    #[tokio::test]
    async fn a_reply_is_told_once_and_our_own_or_another_workspaces_are_not() {
        let store = MemoryStore::default();
        let id = posted_request(&store).await;
        let queue = MemoryQueue::default();
        let relay = relay_with(&store, &queue);
        let message = ThreadMessage::from_event(&reply("<@U2> see line 3")).unwrap();

        let first = relay.relay("T1", &message, 1_800_000_100).await.unwrap();
        let again = relay.relay("T1", &message, 1_800_000_160).await.unwrap();
        let elsewhere = relay.relay("T2", &message, 1_800_000_160).await.unwrap();
        let ours = ThreadMessage {
            user: "UBOT".into(),
            ..message.clone()
        };
        let from_us = relay.relay("T1", &ours, 1_800_000_160).await.unwrap();

        assert_eq!(
            (first, again, elsewhere, from_us),
            (
                Relayed::Sent,
                Relayed::Duplicate,
                Relayed::NotARequest,
                Relayed::Ours
            )
        );
        let sent = queue.sent();
        assert_eq!(sent.len(), 1);
        let WorkItem::NotifyHost(event) = &sent[0] else {
            panic!("{sent:?}")
        };
        assert_eq!(event.kind, "approval.comment");
        assert_eq!(event.data["approval_id"], id.as_str());
        assert_eq!(
            event.data["mentions"],
            json!([{"slack_user_id": "U2", "user_id": null}])
        );
    }

    #[tokio::test]
    async fn a_reply_the_queue_refused_is_given_back_for_slacks_retry() {
        let store = MemoryStore::default();
        posted_request(&store).await;
        let message = ThreadMessage::from_event(&reply("hello")).unwrap();

        let refused = relay_with(&store, &Down)
            .relay("T1", &message, 1_800_000_100)
            .await;
        let queue = MemoryQueue::default();
        let retried = relay_with(&store, &queue)
            .relay("T1", &message, 1_800_000_101)
            .await
            .unwrap();

        assert!(matches!(refused, Err(RelayError::Queue(_))), "{refused:?}");
        assert_eq!(
            retried,
            Relayed::Sent,
            "the retry is not taken for a duplicate"
        );
        assert_eq!(queue.sent().len(), 1);
    }

    fn reply(text: &str) -> Value {
        json!({"type": "message", "channel": "C1", "user": "U1", "text": text,
               "ts": "1800000100.000200", "thread_ts": "1800000000.000100",
               "channel_type": "channel", "event_ts": "1800000100.000200"})
    }

    #[test]
    fn a_reply_is_a_thread_message_and_a_top_level_message_is_not() {
        let message = ThreadMessage::from_event(&reply("looks fine")).unwrap();
        assert_eq!(message.change, Change::Posted);
        assert_eq!(message.comment_id(), "C1:1800000100.000200");
        assert_eq!(message.root_ts, "1800000000.000100");
        assert_eq!(message.at, 1_800_000_100);

        let mut top_level = reply("hello");
        top_level["thread_ts"] = json!("1800000100.000200");
        assert_eq!(
            ThreadMessage::from_event(&top_level),
            None,
            "parent: thread_ts == ts"
        );
        top_level.as_object_mut().unwrap().remove("thread_ts");
        assert_eq!(ThreadMessage::from_event(&top_level), None);
    }

    #[test]
    fn bots_are_dropped_ours_and_others() {
        let mut ours = reply("Ana via Acme: hi");
        ours["bot_id"] = json!("B0BOT");
        assert_eq!(ThreadMessage::from_event(&ours), None);
        let mut customized = reply("hi");
        customized["subtype"] = json!("bot_message");
        assert_eq!(ThreadMessage::from_event(&customized), None);
    }

    #[test]
    fn edits_carry_the_edit_and_spurious_edits_are_dropped() {
        let edit = |before: &str, after: &str| {
            json!({"type": "message", "subtype": "message_changed", "hidden": true,
                   "channel": "C1", "ts": "1800000200.000300",
                   "message": {"type": "message", "user": "U0ANA", "text": after,
                               "ts": "1800000100.000200", "thread_ts": "1800000000.000100",
                               "edited": {"user": "U0ANA", "ts": "1800000200.000000"}},
                   "previous_message": {"type": "message", "user": "U0ANA", "text": before,
                                        "ts": "1800000100.000200",
                                        "thread_ts": "1800000000.000100"}})
        };
        let message = ThreadMessage::from_event(&edit("old", "new")).unwrap();
        assert_eq!(
            message.change,
            Change::Edited {
                edited_ts: "1800000200.000000".into()
            }
        );
        assert_eq!(message.text, "new");
        assert_eq!(message.comment_id(), "C1:1800000100.000200");
        assert_eq!(ThreadMessage::from_event(&edit("same", "same")), None);
    }

    #[test]
    fn a_delete_names_the_deleted_reply() {
        let deleted = json!({"type": "message", "subtype": "message_deleted", "hidden": true,
            "channel": "C1", "ts": "1800000300.000400", "deleted_ts": "1800000100.000200",
            "event_ts": "1800000300.000400",
            "previous_message": {"type": "message", "user": "U0ANA", "text": "oops",
                                 "ts": "1800000100.000200", "thread_ts": "1800000000.000100"}});
        let message = ThreadMessage::from_event(&deleted).unwrap();
        assert_eq!(message.change, Change::Deleted);
        assert_eq!(message.comment_id(), "C1:1800000100.000200");
        assert_eq!(message.at, 1_800_000_300);
    }

    #[test]
    fn mentions_are_read_in_both_forms_once_each() {
        assert_eq!(
            mentioned_users("cc <@U0BEN> and <@U0CARA|cara>, again <@U0BEN> <#C1|x> <@>"),
            vec!["U0BEN".to_owned(), "U0CARA".to_owned()]
        );
        assert!(mentioned_users("no one &lt;@U0BEN&gt;").is_empty());
    }
}
