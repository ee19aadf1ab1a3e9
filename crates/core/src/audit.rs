//! A request's audit trail: who saw it, who clicked what and when, what the state machine
//! did, and what became of each side effect, in the order it happened.
//!
//! The events are derived here from what the store is asked to write (a new request, a
//! copy, a transition, a refused click, an effect's progress), so the store keeps them
//! beside the request with every write and no use case can forget one.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::domain::{Approval, CopyRole, MessageCopy, RefusedClick};
use crate::machine::{Actor, ApprovalState};
use crate::outbox::{OutboxEntry, Outgoing};

/// How long the trail is kept by default (`AUDIT_RETENTION_DAYS`).
pub const DEFAULT_RETENTION_DAYS: i64 = 400;

/// One thing that happened to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When it happened (epoch seconds).
    pub at: i64,
    /// `created`, `copy_posted`, `reminder_sent`, `click_refused`, `vote`, `approved`,
    /// `rejected`, `cancelled`, `expired`, `step_opened`, `escalated`, `effect_done`,
    /// `effect_retry`, `effect_failed` or `effect_parked`.
    pub kind: String,
    /// What it was about, by kind.
    #[serde(default)]
    pub detail: Map<String, Value>,
}

impl AuditEvent {
    fn new(at: i64, kind: &str, detail: Value) -> Self {
        Self {
            at,
            kind: kind.to_owned(),
            detail: match detail {
                Value::Object(map) => map,
                _ => Map::new(),
            },
        }
    }
}

/// The request was made.
pub fn created(approval: &Approval) -> AuditEvent {
    let request = &approval.request;
    AuditEvent::new(
        approval.created_at,
        "created",
        json!({"external_id": request.external_id, "kind": request.kind,
               "requester": request.requester.user_id, "approvers": request.approvers,
               "expires_at": request.expires_at}),
    )
}

/// A message showing the request was posted: where, and for whom.
pub fn copy_posted(copy: &MessageCopy) -> AuditEvent {
    // A Slack `ts` is the post's time: seconds, a dot, and a sequence.
    let at = copy
        .message_ts
        .split('.')
        .next()
        .and_then(|seconds| seconds.parse().ok())
        .unwrap_or_default();
    let kind = if copy.role == CopyRole::Digest {
        "reminder_sent"
    } else {
        "copy_posted"
    };
    AuditEvent::new(
        at,
        kind,
        json!({"channel_id": copy.channel_id, "message_ts": copy.message_ts,
               "role": copy.role, "slack_user_id": copy.for_user}),
    )
}

/// A click that changed nothing, and why.
pub fn click_refused(refusal: &RefusedClick) -> AuditEvent {
    AuditEvent::new(
        refusal.at,
        "click_refused",
        json!({"slack_user_id": refusal.slack_user_id, "team_id": refusal.team_id,
               "reason": refusal.reason, "command_id": refusal.command_id}),
    )
}

fn actor(by: &Option<Actor>) -> Value {
    match by {
        Some(Actor::Slack { user_id, team_id }) => {
            json!({"source": "slack", "slack_user_id": user_id, "team_id": team_id})
        }
        Some(Actor::Host { user_id, name, .. }) => {
            json!({"source": "host", "user_id": user_id, "name": name})
        }
        None => json!({"source": "system"}),
    }
}

/// What a transition from `before` to `after` did: the vote it counted, the step it opened,
/// how the request ended.
pub fn transition(
    before: &ApprovalState,
    after: &ApprovalState,
    command_id: &str,
    now: i64,
) -> Vec<AuditEvent> {
    let mut events = Vec::new();
    for vote in after.votes.iter().skip(before.votes.len()) {
        events.push(AuditEvent::new(
            vote.at,
            "vote",
            json!({"slack_user_id": vote.user_id, "team_id": vote.team_id,
                   "decision": vote.decision.as_str(), "step": vote.step,
                   "reason": vote.reason, "command_id": command_id}),
        ));
    }
    let named = |state: &ApprovalState| match state.policy.steps.get(state.step) {
        Some(crate::machine::Step {
            approvers: crate::machine::Approvers::Named(user_ids),
            ..
        }) => user_ids.clone(),
        _ => Vec::new(),
    };
    let (was, now_named) = (named(before), named(after));
    let added: Vec<&String> = now_named.iter().filter(|id| !was.contains(id)).collect();
    if after.step == before.step && !added.is_empty() {
        events.push(AuditEvent::new(
            now,
            "escalated",
            json!({"added": added, "command_id": command_id}),
        ));
    }
    if after.step > before.step {
        events.push(AuditEvent::new(
            now,
            "step_opened",
            json!({"step": after.step}),
        ));
    }
    if let (None, Some(ending)) = (&before.ending, &after.ending) {
        events.push(AuditEvent::new(
            ending.at,
            ending.status.as_str(),
            json!({"by": actor(&ending.by), "reason": ending.reason, "command_id": command_id}),
        ));
    }
    events
}

fn effect_name(effect: &Outgoing) -> Value {
    match effect {
        Outgoing::UpdateCopy { copy, .. } => json!({"effect": "update_copy", "copy": copy}),
        Outgoing::DeliverEvent { event } => {
            json!({"effect": "deliver_event", "event_id": event.id, "event_type": event.kind})
        }
        Outgoing::TellClicker { user_id, .. } => {
            json!({"effect": "tell_clicker", "slack_user_id": user_id})
        }
        Outgoing::PostDirect { slack_user_id } => {
            json!({"effect": "post_direct", "slack_user_id": slack_user_id})
        }
        Outgoing::TellRequester { slack_user_id, .. } => {
            json!({"effect": "tell_requester", "slack_user_id": slack_user_id})
        }
        Outgoing::AddToInbox { user_id, asked } => {
            json!({"effect": "add_to_inbox", "user_id": user_id, "asked": asked})
        }
        Outgoing::RemoveFromInbox { user_id } => {
            json!({"effect": "remove_from_inbox", "user_id": user_id})
        }
        Outgoing::RefreshHome { slack_user_id } => {
            json!({"effect": "refresh_home", "slack_user_id": slack_user_id})
        }
        Outgoing::ThreadReply { .. } => json!({"effect": "thread_reply"}),
        Outgoing::AttachFile { attachment } => {
            json!({"effect": "attach_file", "file_id": attachment.file_id})
        }
    }
}

/// What an attempt at an effect came to; `None` for a save that was no attempt (a lease).
pub fn effect(key: &str, entry: &OutboxEntry) -> Option<AuditEvent> {
    let at = entry.last_attempt_at?;
    let kind = match (&entry.failed, entry.done, entry.parked) {
        (_, true, _) => "effect_done",
        (Some(_), _, _) => "effect_failed",
        (None, false, true) => "effect_parked",
        (None, false, false) => "effect_retry",
    };
    let mut detail = effect_name(&entry.effect);
    detail["key"] = json!(key);
    detail["attempts"] = json!(entry.attempts);
    detail["error"] = json!(entry.failed.as_ref().or(entry.last_error.as_ref()));
    Some(AuditEvent::new(at, kind, detail))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Decision, SlackMessageRef};
    use crate::machine::{apply, Command, Policy};

    #[test]
    fn a_transition_says_who_voted_and_how_it_ended() {
        let before = ApprovalState::new(Policy::n_of(2, vec!["UA".into(), "UB".into()]), None);
        let vote = |user: &str| Command::Vote {
            user_id: user.into(),
            team_id: "T1".into(),
            decision: Decision::Approved,
            reason: None,
        };
        let first = apply(&before, &vote("UA"), 10).next.unwrap();
        let second = apply(&first, &vote("UB"), 20).next.unwrap();

        let kinds = |events: Vec<AuditEvent>| -> Vec<String> {
            events.into_iter().map(|e| e.kind).collect()
        };
        assert_eq!(kinds(transition(&before, &first, "c1", 10)), ["vote"]);
        let ended = transition(&first, &second, "c2", 20);
        assert_eq!(kinds(ended.clone()), ["vote", "approved"]);
        assert_eq!(ended[1].detail["by"]["slack_user_id"], "UB");
        assert_eq!(ended[1].at, 20);
    }

    #[test]
    fn a_copy_is_dated_by_its_slack_ts_and_a_digest_reads_as_a_reminder() {
        let at = SlackMessageRef {
            channel_id: "D1".into(),
            message_ts: "1764041400.000200".into(),
        };
        let digest = MessageCopy::sent_to(at, CopyRole::Digest, "U0CARA");
        let event = copy_posted(&digest);
        assert_eq!(
            (event.at, event.kind.as_str()),
            (1_764_041_400, "reminder_sent")
        );
        assert_eq!(event.detail["slack_user_id"], "U0CARA");
    }
}
