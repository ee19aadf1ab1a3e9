//! The approval as a pure state machine: `(state, command, now) → (state, effects)`.
//!
//! Nothing here reads a clock, a table or Slack. The storage adapter writes each new state
//! with one conditional write on `version`, so of two racing commands exactly one wins and
//! the other is re-applied to the winner's state; the effects go to an outbox, each done
//! once. A policy of ordered steps covers "anyone may decide" (one step, anyone, 1 of 1),
//! N of M named approvers (one step) and multi-step chains alike.

use serde::{Deserialize, Serialize};

use crate::domain::Decision;

/// Where a request is in its life. Every status but `Pending` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pending,
    Approved,
    Rejected,
    Cancelled,
    Expired,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Self::Pending,
        Self::Approved,
        Self::Rejected,
        Self::Cancelled,
        Self::Expired,
    ];

    pub fn is_final(self) -> bool {
        self != Self::Pending
    }

    /// The name the API and the store use.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Cancelled => "cancelled",
            Self::Expired => "expired",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == value)
    }
}

/// Who may vote in a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "user_ids", rename_all = "snake_case")]
pub enum Approvers {
    /// Anyone the click's identity check lets through (today's behaviour).
    Anyone,
    /// Only these Slack users.
    Named(Vec<String>),
}

impl Approvers {
    fn admits(&self, user_id: &str) -> bool {
        match self {
            Self::Anyone => true,
            Self::Named(user_ids) => user_ids.iter().any(|named| named == user_id),
        }
    }
}

/// One step: `required` approvals from `approvers` move the request on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub approvers: Approvers,
    pub required: u32,
}

/// The ordered steps a request must pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub steps: Vec<Step>,
    /// Slack users who may never decide, whatever the steps say: the requester.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub barred: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("steps: a policy needs at least one step")]
    NoSteps,
    #[error("steps[{0}].required: must be at least 1")]
    NothingRequired(usize),
    #[error("steps[{0}].required: {1} approvals asked of {2} named approvers")]
    MoreThanNamed(usize, u32, usize),
}

impl Policy {
    /// Any one approver decides.
    pub fn anyone() -> Self {
        Self {
            steps: vec![Step {
                approvers: Approvers::Anyone,
                required: 1,
            }],
            barred: Vec::new(),
        }
    }

    /// `required` of the named approvers decide.
    pub fn n_of(required: u32, approvers: Vec<String>) -> Self {
        Self {
            steps: vec![Step {
                approvers: Approvers::Named(approvers),
                required,
            }],
            barred: Vec::new(),
        }
    }

    /// A policy every request can finish: each step can gather its approvals.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.steps.is_empty() {
            return Err(PolicyError::NoSteps);
        }
        for (index, step) in self.steps.iter().enumerate() {
            if step.required == 0 {
                return Err(PolicyError::NothingRequired(index));
            }
            if let Approvers::Named(user_ids) = &step.approvers {
                let mut distinct = user_ids.clone();
                distinct.sort();
                distinct.dedup();
                if (step.required as usize) > distinct.len() {
                    return Err(PolicyError::MoreThanNamed(
                        index,
                        step.required,
                        distinct.len(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Who acted: a Slack user (with the team Slack says they belong to), or the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum Actor {
    Slack {
        user_id: String,
        team_id: String,
    },
    /// Someone in the host's own screen: their id there, and the names the copies show
    /// ("Approved by Ana Alvarez in Acme").
    Host {
        user_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        host: Option<String>,
    },
}

impl Actor {
    /// Whether this is the Slack user `slack_user_id`.
    pub fn is_slack_user(&self, slack_user_id: &str) -> bool {
        matches!(self, Actor::Slack { user_id, .. } if user_id == slack_user_id)
    }
}

/// A vote cast in a step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vote {
    pub step: usize,
    pub user_id: String,
    pub team_id: String,
    pub decision: Decision,
    pub reason: Option<String>,
    pub at: i64,
}

/// How a request ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ending {
    pub status: Status,
    pub by: Option<Actor>,
    pub reason: Option<String>,
    pub at: i64,
}

/// The state the store keeps; `version` is the conditional write's guard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalState {
    #[serde(default = "Policy::anyone")]
    pub policy: Policy,
    pub status: Status,
    /// The step now collecting votes (the last one once approved).
    #[serde(default)]
    pub step: usize,
    #[serde(default)]
    pub votes: Vec<Vote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ending: Option<Ending>,
    /// Stored as `deadline_at`: the single table's TTL attribute is `expires_at`, and a
    /// request must never be deleted by its own deadline.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "deadline_at"
    )]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub version: u64,
}

impl ApprovalState {
    pub fn new(policy: Policy, expires_at: Option<i64>) -> Self {
        Self {
            policy,
            status: Status::Pending,
            step: 0,
            votes: Vec::new(),
            ending: None,
            expires_at,
            version: 0,
        }
    }

    /// Approvals gathered in `step`.
    pub fn approvals_in(&self, step: usize) -> u32 {
        self.votes
            .iter()
            .filter(|vote| vote.step == step && vote.decision == Decision::Approved)
            .count() as u32
    }
}

/// What may happen to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// A click in Slack: approve, or reject with an optional reason.
    Vote {
        user_id: String,
        team_id: String,
        decision: Decision,
        reason: Option<String>,
    },
    /// A decision made in the host's own screen: it ends the request whatever the policy.
    HostDecision {
        user_id: Option<String>,
        /// The person's name, and the host application's, for the copies.
        name: Option<String>,
        host: Option<String>,
        decision: Decision,
        reason: Option<String>,
    },
    Cancel {
        reason: Option<String>,
    },
    Expire,
    /// Nobody decided in time: these Slack users become approvers of the current step too.
    Escalate {
        add: Vec<String>,
    },
}

/// Why a command changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    /// The request already ended; the ending says how.
    Ended {
        ending: Ending,
    },
    /// Only the named approvers of the step may vote.
    NotAnApprover {
        #[serde(default)]
        approvers: Vec<String>,
    },
    /// The requester never decides their own request.
    OwnRequest,
    AlreadyVoted,
    /// `Expire` before the deadline, or for a request without one.
    NotDue,
}

/// A side effect to perform once, through the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    /// Re-render every Slack copy of the request (its buttons go once it ends).
    UpdateCopies,
    /// Tell the host the request ended.
    NotifyHostEnded,
    /// Tell the host a vote was counted while the request goes on.
    NotifyHostVote,
    /// The request moved to `step`: its approvers are to be asked.
    AskStep { step: usize },
    /// Tell one Slack user, privately, why their click changed nothing.
    TellClicker { user_id: String, refusal: Refusal },
    /// Nobody decided in time: ask these added approvers, and say so in the thread.
    Escalated { added: Vec<String> },
}

/// The result of applying a command: the next state (none when nothing changed) and the
/// effects it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub next: Option<ApprovalState>,
    pub effects: Vec<Effect>,
    pub refusal: Option<Refusal>,
}

impl Transition {
    fn to(next: ApprovalState, effects: Vec<Effect>) -> Self {
        Self {
            next: Some(next),
            effects,
            refusal: None,
        }
    }

    fn refused(refusal: Refusal, tell: Option<&str>) -> Self {
        let effects = tell
            .map(|user_id| Effect::TellClicker {
                user_id: user_id.to_owned(),
                refusal: refusal.clone(),
            })
            .into_iter()
            .collect();
        Self {
            next: None,
            effects,
            refusal: Some(refusal),
        }
    }
}

/// Applies `command` at `now`. Pure: the same inputs always give the same transition.
pub fn apply(state: &ApprovalState, command: &Command, now: i64) -> Transition {
    let clicker = match command {
        Command::Vote { user_id, .. } => Some(user_id.as_str()),
        _ => None,
    };
    if let Some(ending) = &state.ending {
        return Transition::refused(
            Refusal::Ended {
                ending: ending.clone(),
            },
            clicker,
        );
    }
    match command {
        Command::Vote {
            user_id,
            team_id,
            decision,
            reason,
        } => vote(state, user_id, team_id, *decision, reason.clone(), now),
        Command::HostDecision {
            user_id,
            name,
            host,
            decision,
            reason,
        } => end(
            state,
            decision.status_after(),
            Some(Actor::Host {
                user_id: user_id.clone(),
                name: name.clone(),
                host: host.clone(),
            }),
            reason.clone(),
            now,
        ),
        Command::Cancel { reason } => end(state, Status::Cancelled, None, reason.clone(), now),
        Command::Expire => match state.expires_at {
            Some(deadline) if now >= deadline => end(state, Status::Expired, None, None, now),
            _ => Transition::refused(Refusal::NotDue, None),
        },
        Command::Escalate { add } => escalate(state, add),
    }
}

fn escalate(state: &ApprovalState, add: &[String]) -> Transition {
    let mut next = state.clone();
    next.version += 1;
    let step = &mut next.policy.steps[state.step];
    let mut added = Vec::new();
    if let Approvers::Named(user_ids) = &mut step.approvers {
        for user_id in add {
            if !user_ids.contains(user_id) && !next.policy.barred.contains(user_id) {
                user_ids.push(user_id.clone());
                added.push(user_id.clone());
            }
        }
    } else {
        // Anyone may decide already: the escalation only asks them.
        added = add.to_vec();
    }
    Transition::to(
        next,
        vec![Effect::UpdateCopies, Effect::Escalated { added }],
    )
}

fn vote(
    state: &ApprovalState,
    user_id: &str,
    team_id: &str,
    decision: Decision,
    reason: Option<String>,
    now: i64,
) -> Transition {
    let step = &state.policy.steps[state.step];
    if state.policy.barred.iter().any(|barred| barred == user_id) {
        return Transition::refused(Refusal::OwnRequest, Some(user_id));
    }
    if !step.approvers.admits(user_id) {
        let approvers = match &step.approvers {
            Approvers::Named(user_ids) => user_ids.clone(),
            Approvers::Anyone => Vec::new(),
        };
        return Transition::refused(Refusal::NotAnApprover { approvers }, Some(user_id));
    }
    // A vote counts once per step: someone in two steps votes in each.
    if state
        .votes
        .iter()
        .any(|vote| vote.user_id == user_id && vote.step == state.step)
    {
        return Transition::refused(Refusal::AlreadyVoted, Some(user_id));
    }
    let mut next = state.clone();
    next.version += 1;
    next.votes.push(Vote {
        step: state.step,
        user_id: user_id.to_owned(),
        team_id: team_id.to_owned(),
        decision,
        reason: reason.clone(),
        at: now,
    });
    let by = Some(Actor::Slack {
        user_id: user_id.to_owned(),
        team_id: team_id.to_owned(),
    });
    // Where a request needs several votes, each is told to the host, the last one too.
    let counted = state.policy.steps.len() > 1 || step.required > 1;
    let told = |transition: Transition| {
        if counted {
            with_vote_event(transition)
        } else {
            transition
        }
    };
    if decision == Decision::Rejected {
        return told(finish(next, Status::Rejected, by, reason, now));
    }
    if next.approvals_in(state.step) < step.required {
        return Transition::to(next, vec![Effect::UpdateCopies, Effect::NotifyHostVote]);
    }
    if state.step + 1 == state.policy.steps.len() {
        return told(finish(next, Status::Approved, by, None, now));
    }
    next.step += 1;
    let step = next.step;
    Transition::to(
        next,
        vec![
            Effect::UpdateCopies,
            Effect::NotifyHostVote,
            Effect::AskStep { step },
        ],
    )
}

/// The vote that ends the request is told to the host too, before the ending.
fn with_vote_event(mut transition: Transition) -> Transition {
    let at = transition
        .effects
        .iter()
        .position(|effect| *effect == Effect::NotifyHostEnded)
        .unwrap_or(transition.effects.len());
    transition.effects.insert(at, Effect::NotifyHostVote);
    transition
}

fn end(
    state: &ApprovalState,
    status: Status,
    by: Option<Actor>,
    reason: Option<String>,
    now: i64,
) -> Transition {
    let mut next = state.clone();
    next.version += 1;
    finish(next, status, by, reason, now)
}

fn finish(
    mut next: ApprovalState,
    status: Status,
    by: Option<Actor>,
    reason: Option<String>,
    now: i64,
) -> Transition {
    next.status = status;
    next.ending = Some(Ending {
        status,
        by,
        reason,
        at: now,
    });
    Transition::to(next, vec![Effect::UpdateCopies, Effect::NotifyHostEnded])
}

impl Decision {
    /// The status a decision ends a request in.
    pub fn status_after(self) -> Status {
        match self {
            Self::Approved => Status::Approved,
            Self::Rejected => Status::Rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn approve(user_id: &str) -> Command {
        Command::Vote {
            user_id: user_id.into(),
            team_id: "T1".into(),
            decision: Decision::Approved,
            reason: None,
        }
    }

    fn reject(user_id: &str, reason: &str) -> Command {
        Command::Vote {
            user_id: user_id.into(),
            team_id: "T1".into(),
            decision: Decision::Rejected,
            reason: Some(reason.into()),
        }
    }

    fn names(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| id.to_string()).collect()
    }

    /// Applies commands in order, keeping each accepted state.
    fn run(mut state: ApprovalState, commands: &[Command]) -> (ApprovalState, Vec<Transition>) {
        let mut transitions = Vec::new();
        for command in commands {
            let transition = apply(&state, command, NOW);
            if let Some(next) = &transition.next {
                state = next.clone();
            }
            transitions.push(transition);
        }
        (state, transitions)
    }

    #[test]
    fn the_requester_never_decides_even_when_named() {
        let mut policy = Policy::n_of(1, names(&["UPAT", "UANA"]));
        policy.barred = names(&["UPAT"]);
        let state = ApprovalState::new(policy, None);

        let own = apply(&state, &approve("UPAT"), NOW);
        let stranger = apply(&state, &approve("UZED"), NOW);

        assert_eq!(own.refusal, Some(Refusal::OwnRequest));
        assert_eq!(
            stranger.refusal,
            Some(Refusal::NotAnApprover {
                approvers: names(&["UPAT", "UANA"])
            })
        );
        assert!(own.next.is_none() && stranger.next.is_none());
    }

    #[test]
    fn the_table() {
        let two_of_three = Policy::n_of(2, names(&["UA", "UB", "UC"]));
        let chain = Policy {
            steps: vec![
                Step {
                    approvers: Approvers::Named(names(&["UA", "UB", "UC", "UD"])),
                    required: 2,
                },
                Step {
                    approvers: Approvers::Named(names(&["UCFO"])),
                    required: 1,
                },
            ],
            barred: vec![],
        };
        let cases: Vec<(&str, Policy, Vec<Command>, Status, usize)> = vec![
            (
                "anyone: one approval",
                Policy::anyone(),
                vec![approve("UA")],
                Status::Approved,
                1,
            ),
            (
                "anyone: one rejection",
                Policy::anyone(),
                vec![reject("UA", "no")],
                Status::Rejected,
                1,
            ),
            (
                "2 of 3: one is not enough",
                two_of_three.clone(),
                vec![approve("UA")],
                Status::Pending,
                1,
            ),
            (
                "2 of 3: two approve",
                two_of_three.clone(),
                vec![approve("UA"), approve("UB")],
                Status::Approved,
                2,
            ),
            (
                "2 of 3: a double click counts once",
                two_of_three.clone(),
                vec![approve("UA"), approve("UA")],
                Status::Pending,
                1,
            ),
            (
                "2 of 3: an outsider is refused",
                two_of_three.clone(),
                vec![approve("UA"), approve("UX")],
                Status::Pending,
                1,
            ),
            (
                "2 of 3: any reject ends it",
                two_of_three.clone(),
                vec![approve("UA"), reject("UC", "too high")],
                Status::Rejected,
                2,
            ),
            (
                "chain: step one done, step two pending",
                chain.clone(),
                vec![approve("UA"), approve("UB")],
                Status::Pending,
                2,
            ),
            (
                "chain: the CFO cannot vote in step one",
                chain.clone(),
                vec![approve("UCFO")],
                Status::Pending,
                0,
            ),
            (
                "chain: the CFO closes it",
                chain.clone(),
                vec![approve("UA"), approve("UB"), approve("UCFO")],
                Status::Approved,
                3,
            ),
            (
                "chain: a step-one voter cannot vote again in step two",
                chain.clone(),
                vec![approve("UA"), approve("UB"), approve("UA")],
                Status::Pending,
                2,
            ),
            (
                "cancel wins over later clicks",
                Policy::anyone(),
                vec![
                    Command::Cancel {
                        reason: Some("withdrawn".into()),
                    },
                    approve("UA"),
                ],
                Status::Cancelled,
                0,
            ),
            (
                "host decides over a pending quorum",
                two_of_three.clone(),
                vec![
                    approve("UA"),
                    Command::HostDecision {
                        user_id: Some("u-ana".into()),
                        name: None,
                        host: None,
                        decision: Decision::Approved,
                        reason: None,
                    },
                ],
                Status::Approved,
                1,
            ),
            (
                "a decided request cannot be cancelled",
                Policy::anyone(),
                vec![approve("UA"), Command::Cancel { reason: None }],
                Status::Approved,
                1,
            ),
            (
                "expire before the deadline is refused",
                Policy::anyone(),
                vec![Command::Expire],
                Status::Pending,
                0,
            ),
        ];
        for (name, policy, commands, status, votes) in cases {
            policy.validate().unwrap();
            let (state, _) = run(ApprovalState::new(policy, Some(NOW + 60)), &commands);
            assert_eq!(state.status, status, "{name}");
            assert_eq!(state.votes.len(), votes, "{name}");
        }
    }

    #[test]
    fn the_effects_of_each_kind_of_transition() {
        let chain = Policy {
            steps: vec![
                Step {
                    approvers: Approvers::Anyone,
                    required: 1,
                },
                Step {
                    approvers: Approvers::Named(names(&["UCFO"])),
                    required: 1,
                },
            ],
            barred: vec![],
        };
        let (_, transitions) = run(
            ApprovalState::new(chain, None),
            &[approve("UA"), approve("UA"), approve("UCFO"), approve("UB")],
        );
        assert_eq!(
            transitions[0].effects,
            [
                Effect::UpdateCopies,
                Effect::NotifyHostVote,
                Effect::AskStep { step: 1 }
            ]
        );
        assert_eq!(
            transitions[1].effects,
            [Effect::TellClicker {
                user_id: "UA".into(),
                refusal: Refusal::NotAnApprover {
                    approvers: names(&["UCFO"])
                }
            }]
        );
        assert_eq!(
            transitions[2].effects,
            [
                Effect::UpdateCopies,
                Effect::NotifyHostVote,
                Effect::NotifyHostEnded
            ],
            "in a chain every vote is told, the last one too"
        );
        let ending = transitions[2]
            .next
            .as_ref()
            .unwrap()
            .ending
            .clone()
            .unwrap();
        assert!(matches!(
            &transitions[3].effects[..],
            [Effect::TellClicker { user_id, refusal: Refusal::Ended { ending: told } }]
                if user_id == "UB" && *told == ending
        ));
    }

    #[test]
    fn a_reject_keeps_its_reason_and_who() {
        let (state, _) = run(
            ApprovalState::new(Policy::anyone(), None),
            &[reject("UA", "margin too thin")],
        );
        let ending = state.ending.unwrap();
        assert_eq!(ending.reason.as_deref(), Some("margin too thin"));
        assert_eq!(
            ending.by,
            Some(Actor::Slack {
                user_id: "UA".into(),
                team_id: "T1".into()
            })
        );
        assert_eq!(ending.at, NOW);
    }

    #[test]
    fn expiry_ends_a_pending_request_at_its_deadline() {
        let state = ApprovalState::new(Policy::anyone(), Some(NOW));
        let transition = apply(&state, &Command::Expire, NOW);
        assert_eq!(transition.next.unwrap().status, Status::Expired);
        let never = ApprovalState::new(Policy::anyone(), None);
        assert_eq!(
            apply(&never, &Command::Expire, NOW).refusal,
            Some(Refusal::NotDue)
        );
    }

    #[test]
    fn impossible_policies_are_refused() {
        assert_eq!(
            Policy {
                steps: vec![],
                barred: vec![]
            }
            .validate(),
            Err(PolicyError::NoSteps)
        );
        assert_eq!(
            Policy::n_of(0, names(&["UA"])).validate(),
            Err(PolicyError::NothingRequired(0))
        );
        assert_eq!(
            Policy::n_of(2, names(&["UA", "UA"])).validate(),
            Err(PolicyError::MoreThanNamed(0, 2, 1))
        );
    }

    fn any_policy() -> impl Strategy<Value = Policy> {
        let step = (prop::collection::vec(0u8..5, 1..5), any::<bool>(), 1u32..4).prop_map(
            |(ids, anyone, required)| {
                let mut user_ids: Vec<String> = ids.iter().map(|i| format!("U{i}")).collect();
                user_ids.sort();
                user_ids.dedup();
                let required = required.min(user_ids.len() as u32).max(1);
                Step {
                    approvers: if anyone {
                        Approvers::Anyone
                    } else {
                        Approvers::Named(user_ids)
                    },
                    required,
                }
            },
        );
        prop::collection::vec(step, 1..4).prop_map(|steps| Policy {
            steps,
            barred: vec![],
        })
    }

    fn any_command() -> impl Strategy<Value = Command> {
        let decision = prop_oneof![Just(Decision::Approved), Just(Decision::Rejected)];
        prop_oneof![
            6 => (0u8..6, decision.clone()).prop_map(|(i, decision)| Command::Vote {
                user_id: format!("U{i}"),
                team_id: "T1".into(),
                decision,
                reason: None,
            }),
            1 => decision.prop_map(|decision| Command::HostDecision {
                user_id: None,
                name: None,
                host: None,
                decision,
                reason: None,
            }),
            1 => Just(Command::Cancel { reason: None }),
            1 => Just(Command::Expire),
            1 => Just(Command::Escalate {
                add: vec!["UX".into()]
            }),
        ]
    }

    proptest! {
        #[test]
        fn every_sequence_keeps_the_invariants(
            policy in any_policy(),
            commands in prop::collection::vec(any_command(), 0..24),
            deadline in prop::option::of(0i64..3),
        ) {
            prop_assert!(policy.validate().is_ok());
            let mut state = ApprovalState::new(policy.clone(), deadline.map(|d| NOW + d));
            let mut endings = 0;
            for (tick, command) in commands.iter().enumerate() {
                let now = NOW + tick as i64;
                let transition = apply(&state, command, now);
                prop_assert_eq!(apply(&state, command, now), transition.clone(), "pure");
                match &transition.next {
                    Some(next) => {
                        prop_assert!(!state.status.is_final(), "a final state never changes");
                        prop_assert_eq!(next.version, state.version + 1);
                        prop_assert!(transition.refusal.is_none());
                        if next.status.is_final() {
                            endings += 1;
                            prop_assert!(next.ending.is_some());
                            prop_assert!(transition.effects.contains(&Effect::NotifyHostEnded));
                        }
                        state = next.clone();
                    }
                    None => {
                        prop_assert!(transition.refusal.is_some());
                        let only_notes = transition
                            .effects
                            .iter()
                            .all(|e| matches!(e, Effect::TellClicker { .. }));
                        prop_assert!(only_notes, "a refusal only tells the clicker");
                    }
                }
                // Each voter votes at most once in a step.
                let mut voters: Vec<(usize, &str)> =
                    state.votes.iter().map(|v| (v.step, v.user_id.as_str())).collect();
                voters.sort();
                let before = voters.len();
                voters.dedup();
                prop_assert_eq!(before, voters.len());
                prop_assert!(state.step < policy.steps.len());
            }
            prop_assert!(endings <= 1, "exactly one terminal state, at most once");
            prop_assert_eq!(state.status.is_final(), state.ending.is_some());
            // Any rejecting vote ends the request as rejected.
            if let Some(first_reject) = state.votes.iter().find(|v| v.decision == Decision::Rejected) {
                prop_assert_eq!(state.status, Status::Rejected);
                prop_assert_eq!(state.votes.last(), Some(first_reject));
            }
            // Approved by votes means every step reached its N.
            if let Some(Ending { status: Status::Approved, by: Some(Actor::Slack { .. }), .. }) = &state.ending {
                for (index, step) in policy.steps.iter().enumerate() {
                    prop_assert!(state.approvals_in(index) >= step.required);
                }
            }
        }
    }
}
