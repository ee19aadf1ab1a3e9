//! The interactivity ack path: a verified click becomes a queued decision command.
//! Nothing here calls Slack: the answer must reach Slack within 3 seconds. A Reject that
//! asks for a reason comes back as [`Interaction::AskReason`] for the caller to open the
//! modal; its submission becomes the reject command.

use std::borrow::Cow;

use serde::Deserialize;

use crate::blocks::{
    REASON_ACTION_ID, REASON_BLOCK_ID, REASON_MAX_CHARS, REJECT_REASON_CALLBACK_ID,
    REJECT_WITH_OPTIONAL_REASON_ACTION_ID, REJECT_WITH_REASON_ACTION_ID,
};
use crate::domain::{looks_like_approval_id, Decision, DecisionCommand, SlackMessageRef};
use crate::ports::{DecisionQueue, QueueError};

#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("the request body has no JSON `payload` field: {0}")]
    MalformedPayload(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// Only the fields the ack path needs; strings borrow from the decoded body when they can.
#[derive(Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    team: Option<Team>,
    user: Option<User>,
    response_url: Option<String>,
    #[serde(default, borrow)]
    actions: Vec<Action<'a>>,
    #[serde(default)]
    container: Option<Container>,
    #[serde(default)]
    trigger_id: Option<String>,
    #[serde(default)]
    view: Option<View>,
}

/// A submitted modal: ours carries the click's context in `private_metadata`.
#[derive(Deserialize)]
struct View {
    #[serde(default)]
    id: String,
    #[serde(default)]
    callback_id: String,
    #[serde(default)]
    private_metadata: String,
    #[serde(default)]
    state: serde_json::Value,
}

/// What the reject-reason modal needs back when it is submitted: the clicked approval and
/// message, and where to tell the clicker if the request ended meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct ReasonContext {
    pub approval_id: String,
    #[serde(default)]
    pub message: Option<SlackMessageRef>,
    #[serde(default)]
    pub response_url: Option<String>,
    pub required: bool,
}

/// A Reject click that asks for a reason: open the modal with `trigger_id` now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AskReason {
    pub trigger_id: String,
    /// The workspace (and enterprise) the click came from: whose bot token opens the modal.
    pub team_id: String,
    pub enterprise_id: Option<String>,
    pub context: ReasonContext,
    /// The reject without a reason this click would be: queued instead of the modal when
    /// the click cannot count anyway (decided already, not an approver), so the clicker is
    /// told why at once rather than after typing a reason.
    pub without_reason: DecisionCommand,
}

/// What an interactivity request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// Decision commands to queue (usually one; none for a button that decides nothing).
    Decide(Vec<DecisionCommand>),
    AskReason(Box<AskReason>),
    /// A reason modal submitted without the reason it requires: answer with the error.
    ReasonMissing,
    /// Anything else: acknowledge and do nothing.
    Ignored,
}

/// The Slack answer that keeps the modal open with the error under the reason field.
pub fn reason_missing_answer() -> serde_json::Value {
    serde_json::json!({"response_action": "errors",
        "errors": {REASON_BLOCK_ID: "Say why you reject this request; the requester will see it."}})
}

/// Where the clicked button sits: for a message, its channel and `ts`.
#[derive(Deserialize)]
struct Container {
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    message_ts: Option<String>,
}

#[derive(Deserialize)]
struct Team {
    id: String,
    #[serde(default)]
    enterprise_id: Option<String>,
}

#[derive(Deserialize)]
struct User {
    id: String,
    #[serde(default)]
    team_id: Option<String>,
}

#[derive(Deserialize)]
struct Action<'a> {
    #[serde(borrow)]
    action_id: Cow<'a, str>,
    #[serde(default)]
    value: Option<String>,
    #[serde(default, borrow)]
    action_ts: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    block_id: Option<Cow<'a, str>>,
}

impl Action<'_> {
    /// A button of a digest or App Home item: the message around it is not a copy of the
    /// request, so it is neither recorded nor replaced as one.
    fn in_inbox(&self) -> bool {
        self.block_id
            .as_deref()
            .is_some_and(|id| id.starts_with(crate::blocks::INBOX_BLOCK_PREFIX))
    }
}

/// The decision commands a (verified) interactivity body asks for; usually zero or one.
pub fn decision_commands(form_body: &[u8]) -> Result<Vec<DecisionCommand>, AckError> {
    Ok(match interaction(form_body)? {
        Interaction::Decide(commands) => commands,
        _ => Vec::new(),
    })
}

/// Reads a (verified) interactivity body.
pub fn interaction(form_body: &[u8]) -> Result<Interaction, AckError> {
    let form_payload = form_value(form_body, "payload")
        .ok_or_else(|| AckError::MalformedPayload("missing field `payload`".into()))??;
    let payload: Payload = serde_json::from_str(&form_payload)
        .map_err(|e| AckError::MalformedPayload(e.to_string()))?;
    let is_submission = match payload.kind.as_ref() {
        "block_actions" => false,
        "view_submission" => true,
        _ => return Ok(Interaction::Ignored),
    };
    let (Some(team), Some(user)) = (payload.team, payload.user) else {
        return Ok(Interaction::Ignored);
    };
    // Who clicked is judged by the clicker's own team, not the workspace the message is in:
    // in a Slack Connect channel `team.id` is ours while `user.team_id` is the outsider's.
    // The enterprise is the click's context, so it vouches only for a member of that
    // workspace: an outsider's click never passes as one of the enterprise's.
    let team_id = user
        .team_id
        .filter(|own| !own.is_empty())
        .unwrap_or_else(|| team.id.clone());
    let enterprise_id = team.enterprise_id.clone().filter(|_| team_id == team.id);
    if is_submission {
        let Some(view) = payload
            .view
            .filter(|v| v.callback_id == REJECT_REASON_CALLBACK_ID)
        else {
            return Ok(Interaction::Ignored);
        };
        let context: ReasonContext = serde_json::from_str(&view.private_metadata)
            .map_err(|e| AckError::MalformedPayload(format!("view.private_metadata: {e}")))?;
        if !looks_like_approval_id(&context.approval_id) {
            return Ok(Interaction::Ignored);
        }
        let reason: String = view.state["values"][REASON_BLOCK_ID][REASON_ACTION_ID]["value"]
            .as_str()
            .unwrap_or_default()
            .trim()
            .chars()
            .take(REASON_MAX_CHARS)
            .collect();
        if reason.is_empty() && context.required {
            return Ok(Interaction::ReasonMissing);
        }
        let approval_id = context.approval_id;
        return Ok(Interaction::Decide(vec![DecisionCommand {
            // One modal is one decision: its view id names the command.
            command_id: format!("{team_id}:{}:{}:{approval_id}", user.id, view.id),
            approval_id,
            decision: Decision::Rejected,
            user_id: user.id,
            team_id,
            enterprise_id,
            response_url: context.response_url,
            message: context.message,
            reason: (!reason.is_empty()).then_some(reason),
        }]));
    }
    let clicked_message = payload.container.and_then(|container| {
        Some(SlackMessageRef {
            channel_id: container.channel_id.filter(|c| !c.is_empty())?,
            message_ts: container.message_ts.filter(|t| !t.is_empty())?,
        })
    });
    let asks_reason = payload.actions.iter().find_map(|action| {
        let required = match action.action_id.as_ref() {
            REJECT_WITH_REASON_ACTION_ID => true,
            REJECT_WITH_OPTIONAL_REASON_ACTION_ID => false,
            _ => return None,
        };
        let approval_id = action.value.clone().filter(|v| looks_like_approval_id(v))?;
        let action_ts = action.action_ts.as_deref().unwrap_or_default().to_owned();
        Some((
            ReasonContext {
                approval_id,
                message: clicked_message.clone().filter(|_| !action.in_inbox()),
                response_url: payload.response_url.clone(),
                required,
            },
            action_ts,
        ))
    });
    if let Some((context, action_ts)) = asks_reason {
        let Some(trigger_id) = payload.trigger_id.filter(|t| !t.is_empty()) else {
            return Ok(Interaction::Ignored);
        };
        let approval_id = context.approval_id.clone();
        let without_reason = DecisionCommand {
            command_id: format!("{team_id}:{}:{action_ts}:{approval_id}", user.id),
            approval_id,
            decision: Decision::Rejected,
            user_id: user.id,
            team_id,
            enterprise_id,
            response_url: context.response_url.clone(),
            message: context.message.clone(),
            reason: None,
        };
        return Ok(Interaction::AskReason(Box::new(AskReason {
            trigger_id,
            team_id: team.id,
            enterprise_id: team.enterprise_id,
            context,
            without_reason,
        })));
    }
    Ok(Interaction::Decide(
        payload
            .actions
            .into_iter()
            .filter_map(|action| {
                let decision = crate::blocks::decision_for_action(&action.action_id)?;
                let message = clicked_message.clone().filter(|_| !action.in_inbox());
                let approval_id = action.value.filter(|v| looks_like_approval_id(v))?;
                let action_ts = action.action_ts.unwrap_or_default();
                let user_id = &user.id;
                Some(DecisionCommand {
                    command_id: format!("{team_id}:{user_id}:{action_ts}:{approval_id}"),
                    approval_id,
                    decision,
                    user_id: user.id.clone(),
                    team_id: team_id.clone(),
                    enterprise_id: enterprise_id.clone(),
                    response_url: payload.response_url.clone(),
                    message,
                    reason: None,
                })
            })
            .collect(),
    ))
}

/// The decoded value of one `application/x-www-form-urlencoded` field.
///
/// Hand-rolled because it sits on the ack path: copying unescaped runs whole is several
/// times faster than `form_urlencoded`'s byte-at-a-time iterator (`make bench`), and the
/// tests below hold it to the same results.
fn form_value(body: &[u8], name: &str) -> Option<Result<String, AckError>> {
    body.split(|&b| b == b'&').find_map(|pair| {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &[][..]),
        };
        (key == name.as_bytes()).then(|| percent_decode_form(value))
    })
}

fn percent_decode_form(encoded: &[u8]) -> Result<String, AckError> {
    let mut decoded = Vec::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.iter().position(|&b| b == b'%' || b == b'+') {
        decoded.extend_from_slice(&rest[..at]);
        let escape = (rest[at] == b'%')
            .then(|| {
                Some((
                    hex_digit(*rest.get(at + 1)?)?,
                    hex_digit(*rest.get(at + 2)?)?,
                ))
            })
            .flatten();
        match (rest[at], escape) {
            (b'+', _) => {
                decoded.push(b' ');
                rest = &rest[at + 1..];
            }
            (_, Some((high, low))) => {
                decoded.push(high << 4 | low);
                rest = &rest[at + 3..];
            }
            // A stray '%' stays as it is, as browsers and `form_urlencoded` keep it.
            _ => {
                decoded.push(b'%');
                rest = &rest[at + 1..];
            }
        }
    }
    decoded.extend_from_slice(rest);
    String::from_utf8(decoded)
        .map_err(|_| AckError::MalformedPayload("payload is not UTF-8".into()))
}

fn hex_digit(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// Queues every decision the click asks for; returns how many were queued.
pub async fn ack_click(queue: &dyn DecisionQueue, form_body: &[u8]) -> Result<usize, AckError> {
    let commands = decision_commands(form_body)?;
    enqueue_all(queue, &commands).await
}

/// Queues the commands; returns how many were queued.
pub async fn enqueue_all(
    queue: &dyn DecisionQueue,
    commands: &[DecisionCommand],
) -> Result<usize, AckError> {
    for command in commands {
        queue.enqueue(command).await?;
    }
    Ok(commands.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Decision;

    fn form(payload: serde_json::Value) -> Vec<u8> {
        serde_urlencoded::to_string([("payload", payload.to_string())])
            .unwrap()
            .into_bytes()
    }

    fn click(action_id: &str, value: &str) -> serde_json::Value {
        serde_json::json!({
            "type": "block_actions",
            "team": {"id": "T1", "enterprise_id": "E1"},
            "user": {"id": "U1", "team_id": "T1"},
            "response_url": "https://hooks.slack.com/actions/T1/1/x",
            "actions": [{"action_id": action_id, "value": value, "action_ts": "1700000000.1"}]
        })
    }

    #[test]
    fn an_approve_click_becomes_one_command() {
        let commands = decision_commands(&form(click("approve", "apr_00ff"))).unwrap();
        assert_eq!(commands.len(), 1);
        let command = &commands[0];
        assert_eq!(command.decision, Decision::Approved);
        assert_eq!(command.approval_id, "apr_00ff");
        assert_eq!(command.enterprise_id.as_deref(), Some("E1"));
        assert_eq!(command.command_id, "T1:U1:1700000000.1:apr_00ff");
    }

    #[test]
    fn a_slack_connect_outsider_is_judged_by_their_own_team() {
        let mut payload = click("approve", "apr_00ff");
        payload["user"]["team_id"] = "T0EXTERNAL".into();
        let command = &decision_commands(&form(payload)).unwrap()[0];
        assert_eq!(command.team_id, "T0EXTERNAL");
        assert_eq!(command.enterprise_id, None);
        // Neither the workspace the message is in, nor an org-wide install of its enterprise,
        // lets the outsider act.
        assert!(!command.may_act_on("T1"));
        assert!(!command.may_act_on("E1"));

        let mut legacy = click("approve", "apr_00ff");
        legacy["user"].as_object_mut().unwrap().remove("team_id");
        let command = &decision_commands(&form(legacy)).unwrap()[0];
        assert_eq!(
            command.team_id, "T1",
            "without user.team_id, the payload's team"
        );
        assert!(command.may_act_on("E1"));
    }

    #[test]
    fn unknown_actions_and_foreign_values_are_ignored() {
        assert!(decision_commands(&form(click("open", "apr_00ff")))
            .unwrap()
            .is_empty());
        assert!(decision_commands(&form(click("approve", "DROP TABLE")))
            .unwrap()
            .is_empty());
        let modal = serde_json::json!({"type": "view_submission"});
        assert!(decision_commands(&form(modal)).unwrap().is_empty());
    }

    fn submission(reason: Option<&str>, required: bool) -> serde_json::Value {
        let context = ReasonContext {
            approval_id: "apr_00ff".into(),
            message: Some(SlackMessageRef {
                channel_id: "D0BEN".into(),
                message_ts: "1.2".into(),
            }),
            response_url: Some("https://hooks.slack.com/actions/T1/1/x".into()),
            required,
        };
        serde_json::json!({
            "type": "view_submission",
            "team": {"id": "T1"},
            "user": {"id": "U0BEN", "team_id": "T1"},
            "view": {"id": "V1", "callback_id": REJECT_REASON_CALLBACK_ID,
                     "private_metadata": serde_json::to_string(&context).unwrap(),
                     "state": {"values": {REASON_BLOCK_ID: {REASON_ACTION_ID:
                        {"type": "plain_text_input", "value": reason}}}}}
        })
    }

    #[test]
    fn a_reject_that_asks_a_reason_opens_the_modal_and_its_submission_rejects() {
        let mut click = click(REJECT_WITH_REASON_ACTION_ID, "apr_00ff");
        click["trigger_id"] = "123.456.abc".into();
        click["container"] = serde_json::json!({"channel_id": "D0BEN", "message_ts": "1.2"});
        let Interaction::AskReason(ask) = interaction(&form(click)).unwrap() else {
            panic!("expected the modal to be asked for")
        };
        assert_eq!(ask.trigger_id, "123.456.abc");
        assert!(ask.context.required);
        assert_eq!(ask.context.message.unwrap().channel_id, "D0BEN");

        let Interaction::Decide(commands) =
            interaction(&form(submission(Some("  budget is frozen "), true))).unwrap()
        else {
            panic!("expected the reject vote")
        };
        assert_eq!(commands[0].decision, Decision::Rejected);
        assert_eq!(commands[0].reason.as_deref(), Some("budget is frozen"));
        assert_eq!(commands[0].command_id, "T1:U0BEN:V1:apr_00ff");
        assert!(commands[0].response_url.is_some());
    }

    #[test]
    fn an_empty_required_reason_keeps_the_modal_open_but_an_optional_one_rejects() {
        assert_eq!(
            interaction(&form(submission(Some("   "), true))).unwrap(),
            Interaction::ReasonMissing
        );
        let Interaction::Decide(commands) = interaction(&form(submission(None, false))).unwrap()
        else {
            panic!("expected the reject vote")
        };
        assert_eq!(commands[0].reason, None);
    }

    #[test]
    fn form_decoding_agrees_with_form_urlencoded() {
        let samples = [
            "{\"a\":\"b c+d%e&f=g\"}",
            "ünïcödé ✅ <@U1> 100%",
            "",
            "trailing %",
        ];
        for sample in samples {
            let body = serde_urlencoded::to_string([("x", "1"), ("payload", sample)]).unwrap();
            assert_eq!(
                form_value(body.as_bytes(), "payload").unwrap().unwrap(),
                sample
            );
        }
        for raw in ["payload=%zz%4", "payload=a%2", "payload=%E2%9C%85+ok"] {
            let expected = url::form_urlencoded::parse(raw.as_bytes())
                .next()
                .unwrap()
                .1;
            assert_eq!(
                form_value(raw.as_bytes(), "payload").unwrap().unwrap(),
                expected
            );
        }
        assert!(form_value(b"payload=%FF", "payload").unwrap().is_err());
        assert!(form_value(b"other=1", "payload").is_none());
    }

    #[test]
    fn a_body_without_payload_is_malformed() {
        assert!(matches!(
            decision_commands(b"foo=bar"),
            Err(AckError::MalformedPayload(_))
        ));
        assert!(matches!(
            decision_commands(b"payload=%7Bnot"),
            Err(AckError::MalformedPayload(_))
        ));
    }
}
