//! The effects outbox: each side effect of a transition as its own record, and when to retry it.
//!
//! A transition writes its effects in the same conditional write as the new state, so an
//! effect is never lost and never invented. Each entry then lives on its own: done once,
//! retried with exponential backoff and jitter when it fails for a reason that may pass,
//! given up on (with the reason kept) when it never can, or once the retry horizon is over.

use serde::{Deserialize, Serialize};

/// An event for the host, sent to `HOST_WEBHOOK_URL`; its `id` is stable across retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: String,
    pub data: serde_json::Value,
}

/// What one outbox entry does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Outgoing {
    /// Re-render one Slack copy (by its key in `copies`) from the approval's current state.
    UpdateCopy {
        copy: String,
        /// The `response_url` of the click on this very copy, if it was clicked: it replaces
        /// the message without a token, so a click while the workspace is disconnected
        /// still shows its outcome.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        response_url: Option<String>,
    },
    /// Deliver one host event; events of an approval are delivered in `seq` order.
    DeliverEvent { event: HostEvent },
    /// Tell one clicker, privately through their `response_url`, why the click changed nothing.
    TellClicker {
        user_id: String,
        response_url: String,
        text: String,
    },
    /// Ask one approver in a DM from the app, and record that message as a copy.
    PostDirect { slack_user_id: String },
    /// Tell the requester, in a DM, how their request ended.
    TellRequester { slack_user_id: String, text: String },
    /// Put the request in a person's inbox: waiting on them (an approver), or asked by them.
    AddToInbox {
        user_id: crate::people::HostUserId,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        asked: bool,
    },
    /// The request ended: it no longer waits on this approver.
    RemoveFromInbox { user_id: crate::people::HostUserId },
    /// Publish a person's App Home again, since what it lists changed.
    RefreshHome { slack_user_id: String },
    /// A reply in the request's thread (on the channel message, else the first DM).
    ThreadReply { text: String },
    /// The host's document, uploaded into the request's thread (on the channel message,
    /// else in each DM's), once per thread.
    AttachFile {
        attachment: crate::files::Attachment,
    },
}

/// One side effect with its own progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    /// Creation order within the approval.
    pub seq: u64,
    /// The approval version that armed the entry: marking it done is conditional on it, so
    /// a later transition's re-render is never marked done by an older attempt.
    pub for_version: u64,
    pub effect: Outgoing,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub attempts: u32,
    pub created_at: i64,
    pub next_attempt_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Set when the effect can never succeed, or the retry horizon passed; final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// While set and in the future, one worker is performing the effect and others leave it
    /// alone; a worker that dies mid-way holds it only this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leased_until: Option<i64>,
    /// Set while the effect needs the workspace's token and the workspace is disconnected:
    /// it is not retried on a timer but resumed when the app is installed again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parked: bool,
    /// When it was last tried: the audit trail dates each attempt by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<i64>,
}

impl OutboxEntry {
    pub fn new(seq: u64, for_version: u64, effect: Outgoing, now: i64) -> Self {
        Self {
            seq,
            for_version,
            effect,
            done: false,
            attempts: 0,
            created_at: now,
            next_attempt_at: now,
            last_error: None,
            failed: None,
            leased_until: None,
            parked: false,
            last_attempt_at: None,
        }
    }

    /// Neither done nor given up on.
    pub fn is_open(&self) -> bool {
        !self.done && self.failed.is_none()
    }

    /// `pending`, `waiting_for_reconnect`, `done` or `failed`, as the host API shows it.
    pub fn status(&self) -> &'static str {
        match (self.done, &self.failed) {
            (true, _) => "done",
            (false, Some(_)) => "failed",
            (false, None) if self.parked => "waiting_for_reconnect",
            (false, None) => "pending",
        }
    }
}

/// The outbox key of the entry that re-renders a copy: one per copy, re-armed by each change.
pub fn update_copy_key(copy: &str) -> String {
    format!("copy:{copy}")
}

/// The outbox key of one attached file: one per host file id, ever.
pub fn attach_file_key(file_id: &str) -> String {
    format!("file:{file_id}")
}

/// The outbox key of a host event: zero-padded so keys sort in delivery order.
pub fn event_key(seq: u64) -> String {
    format!("event:{seq:06}")
}

/// The outbox key of the DM that asks one approver: one per approver, ever.
pub fn post_direct_key(slack_user_id: &str) -> String {
    format!("dm-{slack_user_id}")
}

/// The outbox keys of a person's inbox entry, its removal, and their Home's refresh.
pub fn inbox_key(user_id: &crate::people::HostUserId, asked: bool) -> String {
    format!("{}:{user_id}", if asked { "asked" } else { "inbox" })
}

pub fn uninbox_key(user_id: &crate::people::HostUserId) -> String {
    format!("uninbox:{user_id}")
}

pub fn home_key(slack_user_id: &str) -> String {
    format!("home:{slack_user_id}")
}

/// When a request is made: it waits in each approver's inbox (mapped or not: an unmapped
/// approver's items show in the host's not-in-Slack view), and joins the requester's list.
/// With steps, only the first step's approvers are waited on yet.
pub fn inbox_filings(approval: &crate::domain::Approval) -> Vec<(String, Outgoing)> {
    let audience = &approval.audience;
    let approvers: Vec<crate::people::HostUserId> = match approval.request.steps.first() {
        Some(first) => first.approvers.clone(),
        None => audience
            .approvers
            .iter()
            .filter_map(|p| p.user_id.clone())
            .collect(),
    };
    let mut filings: Vec<(String, Outgoing)> = approvers
        .into_iter()
        .map(|user_id| {
            let key = inbox_key(&user_id, false);
            (
                key,
                Outgoing::AddToInbox {
                    user_id,
                    asked: false,
                },
            )
        })
        .collect();
    if let Some(user_id) = audience.requester.as_ref().and_then(|r| r.user_id.clone()) {
        let key = inbox_key(&user_id, true);
        filings.push((
            key,
            Outgoing::AddToInbox {
                user_id,
                asked: true,
            },
        ));
    }
    filings
}

/// The outbox key of the escalation's note in the thread: once.
pub const ESCALATION_NOTE_KEY: &str = "escalation-note";

/// When the request escalates: the added approvers are asked in their DMs and it waits in
/// their inboxes; the first approvers are told in the thread.
pub fn escalated(approval: &crate::domain::Approval, added: &[String]) -> Vec<(String, Outgoing)> {
    let mut effects = Vec::new();
    for slack_user_id in added {
        let key = post_direct_key(slack_user_id);
        if !approval.outbox.contains_key(&key) {
            let slack_user_id = slack_user_id.clone();
            effects.push((key, Outgoing::PostDirect { slack_user_id }));
        }
    }
    for user_id in approval
        .audience
        .escalate_to
        .iter()
        .filter_map(|p| p.user_id.clone())
    {
        let key = inbox_key(&user_id, false);
        effects.push((
            key,
            Outgoing::AddToInbox {
                user_id,
                asked: false,
            },
        ));
    }
    let mention = |ids: Vec<String>| {
        ids.iter()
            .map(|id| format!("<@{id}>"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let escalated_to: Vec<String> = approval
        .audience
        .escalate_to
        .iter()
        .filter_map(|p| p.slack_user_id.clone().or_else(|| Some(p.name.clone())))
        .collect();
    let first: Vec<String> = approval
        .audience
        .approvers
        .iter()
        .filter_map(|p| p.slack_user_id.clone())
        .collect();
    let hours = approval.request.escalate_after_hours.unwrap_or_default();
    let mut text = format!(
        "Escalated to {} after {hours} h without a decision.",
        mention(escalated_to)
    );
    if !first.is_empty() {
        text.push_str(&format!(" {}", mention(first)));
    }
    effects.push((
        ESCALATION_NOTE_KEY.to_owned(),
        Outgoing::ThreadReply { text },
    ));
    effects
}

/// When step `step` opens: its approvers are asked in their DMs (each once, ever) and it
/// waits in their inboxes; it leaves the inboxes of the step before's approvers.
pub fn step_opened(
    approval: &crate::domain::Approval,
    next: &crate::machine::ApprovalState,
    step: usize,
) -> Vec<(String, Outgoing)> {
    let mut opened = Vec::new();
    if let Some(crate::machine::Approvers::Named(slack_user_ids)) =
        next.policy.steps.get(step).map(|s| &s.approvers)
    {
        for slack_user_id in slack_user_ids {
            let key = post_direct_key(slack_user_id);
            if !approval.outbox.contains_key(&key) {
                let slack_user_id = slack_user_id.clone();
                opened.push((key, Outgoing::PostDirect { slack_user_id }));
            }
        }
    }
    let hosts_of = |index: usize| {
        approval
            .request
            .steps
            .get(index)
            .map(|s| s.approvers.clone())
            .unwrap_or_default()
    };
    let waiting_now = hosts_of(step);
    for user_id in hosts_of(step.wrapping_sub(1))
        .into_iter()
        .filter(|user_id| !waiting_now.contains(user_id))
    {
        opened.push((uninbox_key(&user_id), Outgoing::RemoveFromInbox { user_id }));
    }
    for user_id in waiting_now {
        let key = inbox_key(&user_id, false);
        opened.push((
            key,
            Outgoing::AddToInbox {
                user_id,
                asked: false,
            },
        ));
    }
    opened
}

/// When a request ends: it leaves each approver's inbox, and every Home that listed it
/// (the approvers' and the requester's) is published again.
pub fn inbox_clearing(approval: &crate::domain::Approval) -> Vec<(String, Outgoing)> {
    let audience = &approval.audience;
    let mut clearing: Vec<(String, Outgoing)> = audience
        .approvers
        .iter()
        .filter_map(|p| p.user_id.clone())
        .map(|user_id| (uninbox_key(&user_id), Outgoing::RemoveFromInbox { user_id }))
        .collect();
    for user_id in audience
        .escalate_to
        .iter()
        .filter_map(|p| p.user_id.clone())
    {
        let key = uninbox_key(&user_id);
        if !clearing.iter().any(|(k, _)| *k == key) {
            clearing.push((key, Outgoing::RemoveFromInbox { user_id }));
        }
    }
    let homes = audience.approvers.iter().chain(audience.requester.iter());
    for slack_user_id in homes.filter_map(|p| p.slack_user_id.clone()) {
        let key = home_key(&slack_user_id);
        if !clearing.iter().any(|(k, _)| *k == key) {
            clearing.push((key, Outgoing::RefreshHome { slack_user_id }));
        }
    }
    clearing
}

/// The outbox key of the note that tells the requester how it ended: once.
pub const TELL_REQUESTER_KEY: &str = "requester";

/// The outbox key of a note to one clicker for one command: a redelivery is the same note.
pub fn tell_key(command_id: &str) -> String {
    format!("tell:{command_id}")
}

/// When to try a failed effect again, and when to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The first retry's delay.
    pub base_secs: i64,
    /// No retry waits longer than this.
    pub cap_secs: i64,
    /// An effect still failing this long after it was armed is given up on.
    pub horizon_secs: i64,
}

impl Default for Backoff {
    /// 30 s doubling to a 1 h cap, for 24 h: a day-long outage costs 30 to 55 attempts.
    fn default() -> Self {
        Self {
            base_secs: 30,
            cap_secs: 3600,
            horizon_secs: 24 * 3600,
        }
    }
}

impl Backoff {
    pub fn with_horizon_hours(hours: i64) -> Self {
        Self {
            horizon_secs: hours * 3600,
            ..Self::default()
        }
    }

    /// The wait after the `attempts`-th failure: `base · 2^(attempts-1)` capped, with "equal
    /// jitter" (half fixed, half random by `jitter` in `[0, 1)`), so retries of many
    /// effects failing together spread out instead of arriving as one burst.
    pub fn delay_secs(&self, attempts: u32, jitter: f64) -> i64 {
        let exponent = attempts.saturating_sub(1).min(30);
        let full = self
            .base_secs
            .saturating_mul(1_i64 << exponent)
            .min(self.cap_secs)
            .max(0);
        let half = full / 2;
        half + ((full - half) as f64 * jitter.clamp(0.0, 1.0)) as i64
    }

    /// Whether an effect armed at `created_at` has run out of time at `now`.
    pub fn gives_up(&self, created_at: i64, now: i64) -> bool {
        now.saturating_sub(created_at) >= self.horizon_secs
    }

    /// How many attempts the horizon allows at most (every jitter at its smallest): the
    /// receive budget a queue needs.
    pub fn attempts_within_horizon(&self) -> u32 {
        let mut elapsed = 0_i64;
        let mut attempts = 1_u32;
        while elapsed < self.horizon_secs && attempts < 10_000 {
            elapsed += self.delay_secs(attempts, 0.0).max(1);
            attempts += 1;
        }
        attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn delays_double_from_the_base_up_to_the_cap() {
        let backoff = Backoff::default();
        let fixed: Vec<i64> = (1..=9).map(|n| backoff.delay_secs(n, 1.0)).collect();
        assert_eq!(fixed, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff.delay_secs(1, 0.0), 15, "half of the delay is fixed");
    }

    #[test]
    fn a_day_long_horizon_needs_thirty_to_sixty_attempts() {
        let attempts = Backoff::default().attempts_within_horizon();
        assert!(
            (25..=60).contains(&attempts),
            "{attempts} attempts in 24 h with the smallest jitter"
        );
    }

    proptest! {
        #[test]
        fn every_delay_is_within_half_and_all_of_its_capped_step(attempts in 0u32..200, jitter in 0.0f64..1.0) {
            let backoff = Backoff::default();
            let delay = backoff.delay_secs(attempts, jitter);
            let full = backoff.delay_secs(attempts, 1.0);
            prop_assert!(delay >= full / 2 && delay <= full);
            prop_assert!(full <= backoff.cap_secs);
        }

        #[test]
        fn delays_never_shrink_as_attempts_grow(attempts in 1u32..100) {
            let backoff = Backoff::default();
            prop_assert!(backoff.delay_secs(attempts + 1, 1.0) >= backoff.delay_secs(attempts, 1.0));
        }
    }
}
