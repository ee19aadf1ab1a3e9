//! Applying one command to a stored approval: the state machine, then one conditional write.
//!
//! Of two commands racing on the same version, one write wins; the loser re-reads and
//! applies its command to the winner's state, so exactly one terminal state is ever stored.
//! The transition's effects become outbox entries in that same write.

use serde_json::{json, Value};

use crate::blocks::{refusal_line, requester_note};
use crate::domain::Approval;
use crate::machine::{apply, Actor, ApprovalState, Command, Effect, Ending, Refusal, Status};
use crate::outbox::{
    event_key, tell_key, update_copy_key, HostEvent, OutboxEntry, Outgoing, TELL_REQUESTER_KEY,
};
use crate::people::{Email, HostUserId};
use crate::ports::{ApprovalStore, Commit, StoreError};
use crate::time::rfc3339;

/// More lost races than this on one approval means something else is wrong.
const MAX_RACES: usize = 16;

/// What became of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The command changed the approval (now as returned).
    Changed(Approval),
    /// A redelivery of a command already applied: nothing new, its effects may be left.
    AlreadyApplied(Approval),
    /// The command changed nothing, for this reason.
    Refused(Approval, Refusal),
}

impl Applied {
    pub fn approval(&self) -> &Approval {
        match self {
            Self::Changed(approval) | Self::AlreadyApplied(approval) => approval,
            Self::Refused(approval, _) => approval,
        }
    }
}

/// The host's own identity of the Slack user who acted, when mapped: the host's events
/// name its user, not only Slack's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAs {
    pub user_id: HostUserId,
    pub email: Option<Email>,
}

/// The Slack user behind a command, and where to answer them: a note when their click
/// changed nothing, or the clicked message itself when no token can update it.
pub struct Clicker<'a> {
    pub user_id: &'a str,
    pub response_url: &'a str,
    /// The key of the copy they clicked, when known.
    pub copy: Option<String>,
}

/// Applies `command` (identified by `command_id`) to `approval` as read, re-reading and
/// re-applying after each lost race.
pub async fn apply_command(
    store: &dyn ApprovalStore,
    mut approval: Approval,
    command: &Command,
    command_id: &str,
    clicker: Option<Clicker<'_>>,
    known_as: Option<&KnownAs>,
    now: i64,
) -> Result<Applied, StoreError> {
    for _ in 0..MAX_RACES {
        if approval.applied.iter().any(|applied| applied == command_id) {
            return Ok(Applied::AlreadyApplied(approval));
        }
        let transition = apply(&approval.state, command, now);
        if let Some(next) = transition.next {
            let audit = crate::audit::transition(&approval.state, &next, command_id, now);
            let commit = Commit {
                outbox: plan(
                    &approval,
                    &next,
                    &transition.effects,
                    known_as,
                    clicker.as_ref(),
                    now,
                ),
                state: next,
                command_id: Some(command_id.to_owned()),
                copies_seen: approval.copies.len(),
                created_at: approval.created_at,
                audit,
            };
            if store
                .commit(&approval.id, approval.state.version, &commit)
                .await?
            {
                approval.state = commit.state;
                approval.outbox.extend(commit.outbox);
                approval.applied.push(command_id.to_owned());
                return Ok(Applied::Changed(approval));
            }
            approval = store.get(&approval.id).await?.ok_or_else(|| {
                StoreError::Corrupt(format!("approval {} vanished mid-transition", approval.id))
            })?;
            continue;
        }
        let Some(refusal) = transition.refusal else {
            return Err(StoreError::Corrupt(format!(
                "the state machine neither changed nor refused approval {}",
                approval.id
            )));
        };
        if let Some(clicker) = &clicker {
            let key = tell_key(command_id);
            if !approval.outbox.contains_key(&key) {
                let entry = OutboxEntry::new(
                    next_seq(&approval),
                    approval.state.version,
                    Outgoing::TellClicker {
                        user_id: clicker.user_id.to_owned(),
                        response_url: clicker.response_url.to_owned(),
                        text: refusal_line(&refusal, clicker.user_id),
                    },
                    now,
                );
                store.add_effect(&approval.id, &key, &entry).await?;
                approval.outbox.insert(key, entry);
            }
        }
        return Ok(Applied::Refused(approval, refusal));
    }
    Err(StoreError::Corrupt(format!(
        "approval {} lost {MAX_RACES} races in a row",
        approval.id
    )))
}

/// Arms an update of every copy that has none yet (a copy found after the approval ended):
/// no message keeps live buttons once the approval is over.
pub async fn arm_missing_copies(
    store: &dyn ApprovalStore,
    approval: &mut Approval,
    now: i64,
) -> Result<(), StoreError> {
    if !approval.state.status.is_final() {
        return Ok(());
    }
    let missing: Vec<String> = approval
        .copies
        .keys()
        .filter(|copy| !approval.outbox.contains_key(&update_copy_key(copy)))
        .cloned()
        .collect();
    for copy in missing {
        let entry = OutboxEntry::new(
            next_seq(approval),
            approval.state.version,
            Outgoing::UpdateCopy {
                copy: copy.clone(),
                response_url: None,
            },
            now,
        );
        store
            .add_effect(&approval.id, &update_copy_key(&copy), &entry)
            .await?;
        approval.outbox.insert(update_copy_key(&copy), entry);
    }
    Ok(())
}

pub(crate) fn next_seq(approval: &Approval) -> u64 {
    approval
        .outbox
        .values()
        .map(|entry| entry.seq + 1)
        .max()
        .unwrap_or(0)
}

/// The outbox entries a transition's effects stand for.
fn plan(
    approval: &Approval,
    next: &ApprovalState,
    effects: &[Effect],
    known_as: Option<&KnownAs>,
    clicker: Option<&Clicker<'_>>,
    now: i64,
) -> Vec<(String, OutboxEntry)> {
    let mut seq = next_seq(approval);
    let mut entries = Vec::new();
    let mut push = |key: String, effect: Outgoing, seq: &mut u64| {
        entries.push((key, OutboxEntry::new(*seq, next.version, effect, now)));
        *seq += 1;
    };
    for effect in effects {
        match effect {
            Effect::UpdateCopies => {
                for copy in approval.copies.keys() {
                    let response_url = clicker
                        .filter(|clicker| clicker.copy.as_ref() == Some(copy))
                        .map(|clicker| clicker.response_url.to_owned());
                    push(
                        update_copy_key(copy),
                        Outgoing::UpdateCopy {
                            copy: copy.clone(),
                            response_url,
                        },
                        &mut seq,
                    );
                }
            }
            Effect::NotifyHostEnded => {
                if let Some(ending) = &next.ending {
                    let event = ended_event(approval, next, ending, known_as);
                    push(event_key(seq), Outgoing::DeliverEvent { event }, &mut seq);
                    let requester = approval
                        .audience
                        .requester
                        .as_ref()
                        .and_then(|r| r.slack_user_id.clone());
                    if let Some(slack_user_id) = requester {
                        let text = requester_note(approval, ending);
                        push(
                            TELL_REQUESTER_KEY.to_owned(),
                            Outgoing::TellRequester {
                                slack_user_id,
                                text,
                            },
                            &mut seq,
                        );
                    }
                    for (key, effect) in crate::outbox::inbox_clearing(approval) {
                        push(key, effect, &mut seq);
                    }
                }
            }
            Effect::NotifyHostVote => {
                if let Some(event) = vote_event(approval, next, known_as, now) {
                    push(event_key(seq), Outgoing::DeliverEvent { event }, &mut seq);
                }
            }
            Effect::AskStep { step } => {
                let event = step_completed_event(approval, next, *step, now);
                push(event_key(seq), Outgoing::DeliverEvent { event }, &mut seq);
                for (key, effect) in crate::outbox::step_opened(approval, next, *step) {
                    push(key, effect, &mut seq);
                }
            }
            Effect::TellClicker { .. } => {}
            Effect::Escalated { added } => {
                for (key, effect) in crate::outbox::escalated(approval, added) {
                    push(key, effect, &mut seq);
                }
            }
        }
    }
    entries
}

fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::new_v4().simple())
}

fn actor_json(approval: &Approval, actor: &Option<Actor>, known_as: Option<&KnownAs>) -> Value {
    match actor {
        Some(Actor::Slack { user_id, team_id }) => {
            let (host_user_id, email) = slack_user_identity(approval, user_id, known_as);
            json!({"source": "slack", "slack_user_id": user_id, "slack_team_id": team_id,
                   "user_id": host_user_id, "email": email})
        }
        Some(Actor::Host { user_id, name, .. }) => {
            json!({"source": "host", "host_user_id": user_id, "user_id": user_id, "name": name})
        }
        None => Value::Null,
    }
}

/// The host's user id and email of a Slack user: from the request's own people first, then
/// from the mapping the decision found.
fn slack_user_identity(
    approval: &Approval,
    slack_user_id: &str,
    known_as: Option<&KnownAs>,
) -> (Option<HostUserId>, Option<Email>) {
    if let Some(person) = approval
        .audience
        .person(slack_user_id)
        .filter(|p| p.user_id.is_some())
    {
        return (person.user_id.clone(), person.email.clone());
    }
    match known_as {
        Some(known) => (Some(known.user_id.clone()), known.email.clone()),
        None => (None, None),
    }
}

fn requester_json(approval: &Approval) -> Value {
    let requester = &approval.request.requester;
    let slack_user_id = approval
        .audience
        .requester
        .as_ref()
        .and_then(|r| r.slack_user_id.clone());
    json!({"user_id": requester.user_id, "name": requester.name, "email": requester.email,
           "slack_user_id": slack_user_id})
}

/// `approval.decided` (approved or rejected), `approval.cancelled` or `approval.expired`,
/// built once when the transition is written, so every retry sends the same event.
pub fn ended_event(
    approval: &Approval,
    next: &ApprovalState,
    ending: &Ending,
    known_as: Option<&KnownAs>,
) -> HostEvent {
    let at = rfc3339(ending.at);
    let kind = match ending.status {
        Status::Approved | Status::Rejected | Status::Pending => "approval.decided",
        Status::Cancelled => "approval.cancelled",
        Status::Expired => "approval.expired",
    };
    let status = serde_json::to_value(ending.status).unwrap_or(Value::Null);
    HostEvent {
        id: new_event_id(),
        kind: kind.into(),
        created_at: at.clone(),
        data: json!({
            "approval_id": approval.id,
            "tenant_id": approval.request.tenant_id,
            "external_id": approval.request.external_id,
            "decision": status,
            "status": status,
            "reason": ending.reason,
            "decided_by": actor_json(approval, &ending.by, known_as),
            "decided_at": at,
            "requester": requester_json(approval),
            "votes": votes_json(approval, next),
        }),
    }
}

/// `approval.step_completed`: step `opened - 1` gathered its approvals; `opened` is asked.
fn step_completed_event(
    approval: &Approval,
    next: &ApprovalState,
    opened: usize,
    now: i64,
) -> HostEvent {
    let completed = opened.saturating_sub(1);
    HostEvent {
        id: new_event_id(),
        kind: "approval.step_completed".into(),
        created_at: rfc3339(now),
        data: json!({
            "approval_id": approval.id,
            "tenant_id": approval.request.tenant_id,
            "external_id": approval.request.external_id,
            "step": completed,
            "next_step": opened,
            "steps": next.policy.steps.len(),
            "votes": votes_json(approval, next),
        }),
    }
}

/// Every vote so far, each with the host's identity of the voter where the request names
/// them.
fn votes_json(approval: &Approval, state: &ApprovalState) -> Value {
    state
        .votes
        .iter()
        .map(|vote| {
            let (user_id, email) = slack_user_identity(approval, &vote.user_id, None);
            json!({"slack_user_id": vote.user_id, "user_id": user_id, "email": email,
                   "decision": vote.decision.as_str(), "step": vote.step,
                   "reason": vote.reason, "voted_at": rfc3339(vote.at)})
        })
        .collect()
}

/// `approval.vote`: a vote counted while the approval waits for more.
fn vote_event(
    approval: &Approval,
    next: &ApprovalState,
    known_as: Option<&KnownAs>,
    now: i64,
) -> Option<HostEvent> {
    let vote = next.votes.last()?;
    let step = next.policy.steps.get(vote.step)?;
    let (host_user_id, email) = slack_user_identity(approval, &vote.user_id, known_as);
    Some(HostEvent {
        id: new_event_id(),
        kind: "approval.vote".into(),
        created_at: rfc3339(now),
        data: json!({
            "approval_id": approval.id,
            "tenant_id": approval.request.tenant_id,
            "external_id": approval.request.external_id,
            "status": next.status,
            "vote": {"slack_user_id": vote.user_id, "slack_team_id": vote.team_id,
                     "user_id": host_user_id, "email": email,
                     "decision": vote.decision.as_str(), "step": vote.step,
                     "voted_at": rfc3339(vote.at)},
            "approvals": next.approvals_in(vote.step),
            "required": step.required,
        }),
    })
}
