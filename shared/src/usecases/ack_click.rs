//! The interactivity ack path: a verified click becomes a queued decision command.
//! Nothing here calls Slack: the answer must reach Slack within 3 seconds.

use serde::Deserialize;

use crate::domain::{Decision, DecisionCommand};
use crate::ports::{DecisionQueue, QueueError};

#[derive(Debug, thiserror::Error)]
pub enum AckError {
    #[error("the request body has no JSON `payload` field: {0}")]
    MalformedPayload(String),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

#[derive(Deserialize)]
struct Form {
    payload: String,
}

#[derive(Deserialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: String,
    team: Option<Team>,
    user: Option<User>,
    response_url: Option<String>,
    #[serde(default)]
    actions: Vec<Action>,
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
struct Action {
    action_id: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    action_ts: Option<String>,
}

/// The decision commands a (verified) interactivity body asks for; usually zero or one.
pub fn decision_commands(form_body: &[u8]) -> Result<Vec<DecisionCommand>, AckError> {
    let form: Form = serde_urlencoded::from_bytes(form_body)
        .map_err(|e| AckError::MalformedPayload(e.to_string()))?;
    let payload: Payload = serde_json::from_str(&form.payload)
        .map_err(|e| AckError::MalformedPayload(e.to_string()))?;
    if payload.kind != "block_actions" {
        return Ok(Vec::new());
    }
    let (Some(team), Some(user)) = (payload.team, payload.user) else {
        return Ok(Vec::new());
    };
    let team_id = user
        .team_id
        .filter(|_| team.id.is_empty())
        .unwrap_or(team.id);
    Ok(payload
        .actions
        .into_iter()
        .filter_map(|action| {
            let decision = Decision::from_action_id(&action.action_id)?;
            let approval_id = action.value.filter(|v| looks_like_approval_id(v))?;
            let action_ts = action.action_ts.unwrap_or_default();
            Some(DecisionCommand {
                command_id: format!("{team_id}:{}:{action_ts}:{approval_id}", user.id),
                approval_id,
                decision,
                user_id: user.id.clone(),
                team_id: team_id.clone(),
                enterprise_id: team.enterprise_id.clone(),
                response_url: payload.response_url.clone(),
            })
        })
        .collect())
}

fn looks_like_approval_id(value: &str) -> bool {
    value.len() <= 64
        && value.starts_with("apr_")
        && value[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Queues every decision the click asks for; returns how many were queued.
pub async fn ack_click(queue: &dyn DecisionQueue, form_body: &[u8]) -> Result<usize, AckError> {
    let commands = decision_commands(form_body)?;
    for command in &commands {
        queue.enqueue(command).await?;
    }
    Ok(commands.len())
}

#[cfg(test)]
mod tests {
    use super::*;

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
