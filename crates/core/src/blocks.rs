//! Block Kit rendering of approval messages, kept inside Slack's documented limits.

use serde_json::{json, Value};

use crate::domain::{Approval, Decision, DecisionRecord};

pub const APPROVE_ACTION_ID: &str = "approve";
pub const REJECT_ACTION_ID: &str = "reject";
pub const OPEN_ACTION_ID: &str = "open";
pub const ACTIONS_BLOCK_ID: &str = "approval_actions";

/// The decision a button's `action_id` makes; action ids are presentation, so the mapping
/// lives beside the buttons rather than in the domain.
pub fn decision_for_action(action_id: &str) -> Option<Decision> {
    match action_id {
        APPROVE_ACTION_ID => Some(Decision::Approved),
        REJECT_ACTION_ID => Some(Decision::Rejected),
        _ => None,
    }
}

/// Slack's limits (see the handbook's `slack/facts.md`).
pub mod slack_limits {
    pub const HEADER_TEXT: usize = 150;
    pub const SECTION_TEXT: usize = 3000;
    pub const SECTION_FIELD_TEXT: usize = 2000;
    pub const SECTION_FIELDS: usize = 10;
    pub const CONTEXT_TEXT: usize = 2000;
    pub const BUTTON_TEXT: usize = 75;
    pub const MESSAGE_TEXT: usize = 40_000;
    pub const BLOCKS_PER_MESSAGE: usize = 50;
}

/// A message ready for `chat.postMessage` / `chat.update`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    /// Notification and accessibility fallback.
    pub text: String,
    pub blocks: Vec<Value>,
}

/// The pending message with Approve, Reject and (when linked) Open buttons.
pub fn pending_message(approval: &Approval) -> SlackMessage {
    let mut blocks = body_blocks(approval);
    let mut buttons = vec![
        json!({"type": "button", "action_id": APPROVE_ACTION_ID, "style": "primary",
               "text": plain("Approve", slack_limits::BUTTON_TEXT), "value": approval.id}),
        json!({"type": "button", "action_id": REJECT_ACTION_ID, "style": "danger",
               "text": plain("Reject", slack_limits::BUTTON_TEXT), "value": approval.id}),
    ];
    if let Some(link) = &approval.request.link {
        buttons.push(json!({"type": "button", "action_id": OPEN_ACTION_ID,
                            "text": plain("Open", slack_limits::BUTTON_TEXT), "url": link}));
    }
    blocks.push(json!({"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": buttons}));
    SlackMessage {
        text: fallback_text(approval, "Approval requested"),
        blocks,
    }
}

/// The decided message: same details, no buttons, and who decided when.
pub fn decided_message(approval: &Approval, record: &DecisionRecord) -> SlackMessage {
    let mut blocks = body_blocks(approval);
    let mut outcome = decision_line(record);
    if let Some(link) = &approval.request.link {
        // Validation normalised the link; `&` is still escaped as Slack's syntax asks.
        outcome.push_str(&format!("  ·  <{}|Open>", link.replace('&', "&amp;")));
    }
    blocks.push(json!({"type": "section", "block_id": "approval_outcome",
                       "text": mrkdwn_raw(&outcome)}));
    let label = match record.decision {
        Decision::Approved => "Approved",
        Decision::Rejected => "Rejected",
    };
    SlackMessage {
        text: fallback_text(approval, label),
        blocks,
    }
}

/// What a late clicker is told: "Already approved by <@U…> on <!date…>".
pub fn already_decided_line(record: &DecisionRecord) -> String {
    let verb = match record.decision {
        Decision::Approved => "approved",
        Decision::Rejected => "rejected",
    };
    format!(
        "Already {verb} by <@{user}> on {date}",
        user = record.decided_by,
        date = slack_date(record.decided_at)
    )
}

/// "✅ Approved by <@U…> on <!date…>" with each reader's own time zone.
pub fn decision_line(record: &DecisionRecord) -> String {
    let (icon, verb) = match record.decision {
        Decision::Approved => ("✅", "Approved"),
        Decision::Rejected => ("❌", "Rejected"),
    };
    format!(
        "{icon} {verb} by <@{user}> on {date}",
        user = record.decided_by,
        date = slack_date(record.decided_at)
    )
}

/// Slack's date token, with a UTC fallback for clients that cannot render it.
pub fn slack_date(epoch_seconds: i64) -> String {
    let fallback = time::OffsetDateTime::from_unix_timestamp(epoch_seconds)
        .ok()
        .and_then(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute] UTC"
            ))
            .ok()
        })
        .unwrap_or_else(|| epoch_seconds.to_string());
    format!("<!date^{epoch_seconds}^{{date_short_pretty}} at {{time}}|{fallback}>")
}

fn body_blocks(approval: &Approval) -> Vec<Value> {
    let request = &approval.request;
    let mut blocks = vec![json!({"type": "header",
                                 "text": plain(&request.title, slack_limits::HEADER_TEXT)})];
    for chunk in request.fields.chunks(slack_limits::SECTION_FIELDS) {
        let fields: Vec<Value> = chunk
            .iter()
            .map(|field| {
                let label = escape_truncated(&field.label, slack_limits::SECTION_FIELD_TEXT / 4);
                let budget = slack_limits::SECTION_FIELD_TEXT - label.chars().count() - 4;
                mrkdwn_raw(&format!(
                    "*{label}*\n{}",
                    escape_truncated(&field.value, budget)
                ))
            })
            .collect();
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(notes) = request.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        blocks.push(json!({"type": "section",
                           "text": mrkdwn_raw(&escape_truncated(notes, slack_limits::SECTION_TEXT))}));
    }
    let requester = match &request.requester.email {
        Some(email) => format!("Requested by {} ({email})", request.requester.name),
        None => format!("Requested by {}", request.requester.name),
    };
    blocks.push(json!({"type": "context",
                       "elements": [mrkdwn_raw(&escape_truncated(&requester, slack_limits::CONTEXT_TEXT))]}));
    blocks
}

fn fallback_text(approval: &Approval, prefix: &str) -> String {
    let line = format!("{prefix}: {}", approval.request.title);
    escape_truncated(&line, slack_limits::SECTION_TEXT)
}

fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": truncate(text, max), "emoji": true})
}

fn mrkdwn_raw(already_escaped: &str) -> Value {
    json!({"type": "mrkdwn", "text": already_escaped})
}

/// Cuts to `max` characters, marking the cut with "…" so readers see text is missing.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Escapes `&`, `<`, `>` (so host text cannot mention `<!channel>` or forge links),
/// then truncates the escaped text without splitting an entity.
pub fn escape_truncated(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max * 4));
    let mut count = 0;
    let total_escaped: usize = text.chars().map(escaped_len).sum();
    let budget = if total_escaped <= max {
        max
    } else {
        max.saturating_sub(1)
    };
    for c in text.chars() {
        let len = escaped_len(c);
        if count + len > budget {
            out.push('…');
            return out;
        }
        count += len;
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
    out
}

fn escaped_len(c: char) -> usize {
    match c {
        '&' => 5,
        '<' | '>' => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{ApprovalRequest, Field, Requester};

    fn approval(title: &str, fields: usize, link: Option<&str>) -> Approval {
        let request = ApprovalRequest {
            tenant_id: "acme".into(),
            external_id: "DR-1".into(),
            kind: "deal_registration".into(),
            title: title.into(),
            fields: (0..fields)
                .map(|i| Field {
                    label: format!("L{i}"),
                    value: "v".repeat(2500),
                })
                .collect(),
            notes: Some("<!channel> & friends".into()),
            link: link.map(str::to_owned),
            requester: Requester {
                name: "Pat".into(),
                email: None,
            },
            channel_id: None,
        };
        Approval::new(request, "T1".into(), 0)
    }

    fn texts(message: &SlackMessage) -> Vec<String> {
        let mut found = Vec::new();
        fn walk(value: &Value, found: &mut Vec<String>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(text)) = map.get("text") {
                        found.push(text.clone());
                    }
                    map.values().for_each(|v| walk(v, found));
                }
                Value::Array(items) => items.iter().for_each(|v| walk(v, found)),
                _ => {}
            }
        }
        message.blocks.iter().for_each(|b| walk(b, &mut found));
        found
    }

    #[test]
    fn pending_message_has_approve_reject_and_open_carrying_the_id() {
        let approval = approval("Deal", 1, Some("https://host.example/d/1"));
        let message = pending_message(&approval);
        let actions = message.blocks.last().unwrap();
        let elements = actions["elements"].as_array().unwrap();
        assert_eq!(elements[0]["action_id"], "approve");
        assert_eq!(elements[0]["style"], "primary");
        assert_eq!(elements[0]["value"], approval.id.as_str());
        assert_eq!(elements[1]["style"], "danger");
        assert_eq!(elements[2]["url"], "https://host.example/d/1");
        assert!(message.text.contains("Deal"));
    }

    #[test]
    fn long_text_is_cut_visibly_within_slacks_limits() {
        let approval = approval(&"T".repeat(400), 13, None);
        let message = pending_message(&approval);
        let header = message.blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), 150);
        assert!(header.ends_with('…'));
        let sections: Vec<_> = message
            .blocks
            .iter()
            .filter(|b| b.get("fields").is_some())
            .collect();
        assert_eq!(
            sections.len(),
            2,
            "13 fields need two sections of at most 10"
        );
        for section in sections {
            for field in section["fields"].as_array().unwrap() {
                let text = field["text"].as_str().unwrap();
                assert!(text.chars().count() <= 2000);
                assert!(text.ends_with('…'));
            }
        }
    }

    #[test]
    fn host_text_cannot_ping_the_channel() {
        let message = pending_message(&approval("Deal", 0, None));
        assert!(texts(&message)
            .iter()
            .any(|t| t == "&lt;!channel&gt; &amp; friends"));
        assert!(!texts(&message).iter().any(|t| t.contains("<!channel>")));
    }

    #[test]
    fn escaping_never_splits_an_entity() {
        assert_eq!(escape_truncated("a&b", 5), "a…");
        assert_eq!(escape_truncated("a&b", 7), "a&amp;b");
        assert_eq!(escape_truncated("abc", 3), "abc");
        assert_eq!(escape_truncated("abcd", 3), "ab…");
    }

    #[test]
    fn decided_message_drops_the_buttons_and_says_who_and_when() {
        let approval = approval("Deal", 1, Some("https://host.example/d/1"));
        let record = DecisionRecord {
            decision: Decision::Approved,
            decided_by: "U42".into(),
            decided_by_team: "T1".into(),
            decided_at: 1_764_000_000,
            command_id: "c".into(),
            event_id: "e".into(),
            slack_message_updated: false,
            webhook_delivered: false,
        };
        let message = decided_message(&approval, &record);
        assert!(message.blocks.iter().all(|b| b["type"] != "actions"));
        let outcome = message.blocks.last().unwrap()["text"]["text"]
            .as_str()
            .unwrap();
        assert!(
            outcome.starts_with("✅ Approved by <@U42> on <!date^1764000000^"),
            "{outcome}"
        );
        assert!(outcome.contains("|2025-11-24 16:00 UTC>"), "{outcome}");
    }
}
