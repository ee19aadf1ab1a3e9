//! Block Kit rendering of approval messages, kept inside Slack's documented limits.

use serde_json::{json, Value};

mod inbox;
pub use inbox::{
    digest_capacity, digest_message, home_view, InboxLine, HOME_ASKED_MAX, HOME_WAITING_MAX,
    INBOX_BLOCK_PREFIX,
};

use crate::domain::{Approval, Decision, RejectReason};
use crate::machine::{Actor, ApprovalState, Ending, Refusal, Status};

pub const APPROVE_ACTION_ID: &str = "approve";
pub const REJECT_ACTION_ID: &str = "reject";
/// Reject that first asks for a reason in a modal: it decides nothing by itself.
pub const REJECT_WITH_REASON_ACTION_ID: &str = "reject_with_reason";
pub const REJECT_WITH_OPTIONAL_REASON_ACTION_ID: &str = "reject_with_optional_reason";
/// The reject-reason modal's `callback_id`, and its input's block and action ids.
pub const REJECT_REASON_CALLBACK_ID: &str = "reject_reason";
pub const REASON_BLOCK_ID: &str = "reason";
pub const REASON_ACTION_ID: &str = "reason";
/// Slack's `plain_text_input` maximum.
pub const REASON_MAX_CHARS: usize = 3000;
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
    /// Slack refuses a message whose blocks hold more text than about 12 000 characters in
    /// all (`msg_blocks_too_long`, undocumented); the body stays under this, leaving room
    /// for the outcome line and the buttons.
    pub const BODY_TEXT_BUDGET: usize = 10_000;
}

/// A message ready for `chat.postMessage` / `chat.update`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlackMessage {
    /// Notification and accessibility fallback.
    pub text: String,
    pub blocks: Vec<Value>,
}

/// The pending message with Approve, Reject and (when linked) Open buttons, and the votes
/// so far when the policy asks for more than one.
pub fn pending_message(approval: &Approval) -> SlackMessage {
    let mut blocks = body_blocks(approval);
    if let Some(progress) = progress_line(&approval.state) {
        blocks.push(json!({"type": "context", "block_id": "approval_progress",
                           "elements": [mrkdwn_raw(&progress)]}));
    }
    let buttons = decision_buttons(approval);
    blocks.push(json!({"type": "actions", "block_id": ACTIONS_BLOCK_ID, "elements": buttons}));
    SlackMessage {
        text: fallback_text(approval, "Approval requested"),
        blocks,
    }
}

fn reject_action_id(approval: &Approval) -> &'static str {
    match approval.request.reject_reason {
        RejectReason::None => REJECT_ACTION_ID,
        RejectReason::Required => REJECT_WITH_REASON_ACTION_ID,
        RejectReason::Optional => REJECT_WITH_OPTIONAL_REASON_ACTION_ID,
    }
}

/// The modal Reject opens: one multi-line reason, required or not. `private_metadata`
/// carries what the submission needs back (Slack returns it untouched).
pub fn reject_reason_view(private_metadata: &str, required: bool) -> Value {
    let mut element = json!({"type": "plain_text_input", "action_id": REASON_ACTION_ID,
        "multiline": true, "max_length": REASON_MAX_CHARS, "focus_on_load": true,
        "placeholder": plain("Why is this rejected? The requester will see it.", 150)});
    if required {
        element["min_length"] = json!(1);
    }
    json!({
        "type": "modal",
        "callback_id": REJECT_REASON_CALLBACK_ID,
        "title": plain("Reject request", 24),
        "submit": plain("Reject", 24),
        "close": plain("Cancel", 24),
        "private_metadata": private_metadata,
        "blocks": [{
            "type": "input", "block_id": REASON_BLOCK_ID, "optional": !required,
            "label": plain("Reason", 2000), "element": element,
        }],
    })
}

/// A plain notification: the title, the fields and an Open button, nothing to decide.
pub fn notification_message(request: &crate::notification::NotificationRequest) -> SlackMessage {
    let mut blocks = vec![json!({"type": "header",
                                 "text": plain(&request.title, slack_limits::HEADER_TEXT)})];
    let fields: Vec<Value> = request
        .fields
        .iter()
        .take(slack_limits::SECTION_FIELDS)
        .map(|field| {
            mrkdwn_raw(&format!(
                "*{}*\n{}",
                escape_truncated(&field.label, 300),
                escape_truncated(&field.value, 1500)
            ))
        })
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(link) = &request.link {
        blocks.push(
            json!({"type": "actions", "block_id": "notification_actions", "elements": [
            {"type": "button", "action_id": OPEN_ACTION_ID,
             "text": plain("Open", slack_limits::BUTTON_TEXT), "url": link}]}),
        );
    }
    SlackMessage {
        text: request.title.chars().take(3000).collect(),
        blocks,
    }
}

/// What the requester is told in a DM when the request ends.
pub fn requester_note(approval: &Approval, ending: &Ending) -> String {
    let what = escape_truncated(&approval.request.title, 300);
    let verdict = match ending.status {
        Status::Approved => "was approved",
        Status::Rejected => "was rejected",
        Status::Cancelled => "was withdrawn",
        Status::Expired => "expired",
        Status::Pending => "is pending",
    };
    let mut note = format!("Your request *{what}* {verdict}");
    if let Some(Actor::Slack { user_id, .. }) = &ending.by {
        note.push_str(&format!(" by <@{user_id}>"));
    }
    if let Some(reason) = ending.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        note.push_str(&format!(": _{}_", escape_truncated(&one_line(reason), 500)));
    }
    note.push('.');
    if let Some(link) = &approval.request.link {
        note.push_str(&format!(" <{}|Open>", link.replace('&', "&amp;")));
    }
    note
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl SlackMessage {
    /// A plain text message: one section, no buttons.
    pub fn plain(text: &str) -> Self {
        Self {
            text: truncate_chars(text, 3000),
            blocks: vec![
                json!({"type": "section", "text": mrkdwn_raw(&truncate_chars(text, slack_limits::SECTION_TEXT))}),
            ],
        }
    }
}

fn truncate_chars(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// The message as the approval stands now: pending with buttons, or ended without.
pub fn current_message(approval: &Approval) -> SlackMessage {
    match &approval.state.ending {
        None => pending_message(approval),
        Some(ending) => ended_message(approval, ending),
    }
}

/// The ended message: same details, no buttons, and who ended it when (and why).
pub fn ended_message(approval: &Approval, ending: &Ending) -> SlackMessage {
    let mut blocks = body_blocks(approval);
    blocks.push(outcome_block(approval, ending));
    SlackMessage {
        text: fallback_text(approval, status_label(ending.status)),
        blocks,
    }
}

/// The smallest ended message (title and outcome): what is sent when Slack refuses the full
/// one (`msg_too_long`, `invalid_blocks`, `msg_blocks_too_long`), so the buttons go anyway.
pub fn minimal_ended_message(approval: &Approval, ending: &Ending) -> SlackMessage {
    SlackMessage {
        text: fallback_text(approval, status_label(ending.status)),
        blocks: vec![
            json!({"type": "header",
                   "text": plain(&approval.request.title, slack_limits::HEADER_TEXT)}),
            outcome_block(approval, ending),
        ],
    }
}

fn outcome_block(approval: &Approval, ending: &Ending) -> Value {
    let mut outcome = ending_line(ending);
    if let Some(link) = &approval.request.link {
        // Validation normalised the link; `&` is still escaped as Slack's syntax asks. A link
        // too long to fit beside the outcome is left to the host's own screens.
        let open = format!("  ·  <{}|Open>", link.replace('&', "&amp;"));
        if outcome.chars().count() + open.chars().count() <= slack_limits::SECTION_TEXT {
            outcome.push_str(&open);
        }
    }
    json!({"type": "section", "block_id": "approval_outcome", "text": mrkdwn_raw(&outcome)})
}

fn status_label(status: Status) -> &'static str {
    match status {
        Status::Pending => "Approval requested",
        Status::Approved => "Approved",
        Status::Rejected => "Rejected",
        Status::Cancelled => "Withdrawn",
        Status::Expired => "Expired",
    }
}

/// "1 of 2 approvals (step 1 of 2): ✅ <@U…>", on a policy that needs more than one.
fn progress_line(state: &ApprovalState) -> Option<String> {
    let step = state.policy.steps.get(state.step)?;
    if step.required <= 1 && state.policy.steps.len() == 1 {
        return None;
    }
    let mut line = format!(
        "{} of {} approvals",
        state.approvals_in(state.step),
        step.required
    );
    if state.policy.steps.len() > 1 {
        line.push_str(&format!(
            " (step {} of {})",
            state.step + 1,
            state.policy.steps.len()
        ));
    }
    let voters: Vec<String> = state
        .votes
        .iter()
        .filter(|vote| vote.step == state.step && vote.decision == Decision::Approved)
        .map(|vote| format!("✅ <@{}>", vote.user_id))
        .collect();
    if !voters.is_empty() {
        line.push_str(": ");
        line.push_str(&voters.join(", "));
    }
    Some(line)
}

/// "✅ Approved by <@U…> on <!date…>", with each reader's own time zone, and the reason.
pub fn ending_line(ending: &Ending) -> String {
    let icon = match ending.status {
        Status::Approved => "✅",
        Status::Rejected => "❌",
        Status::Cancelled => "🚫",
        Status::Expired => "⌛",
        Status::Pending => "⏳",
    };
    let mut line = format!("{icon} {}", status_label(ending.status));
    match &ending.by {
        Some(Actor::Slack { user_id, .. }) => line.push_str(&format!(" by <@{user_id}>")),
        Some(Actor::Host { name, host, .. }) => {
            if let Some(name) = name {
                line.push_str(&format!(" by {}", escape_truncated(name, 100)));
            }
            match host {
                Some(host) => line.push_str(&format!(" in {}", escape_truncated(host, 100))),
                None => line.push_str(" in the host application"),
            }
        }
        None => {}
    }
    line.push_str(&format!(" on {}", slack_date(ending.at)));
    if let Some(reason) = ending.reason.as_deref().filter(|r| !r.trim().is_empty()) {
        line.push_str(&format!(": *{}*", escape_truncated(&one_line(reason), 500)));
    }
    line
}

/// The installer's greeting: what is now connected, what will arrive and where, and how
/// people are matched.
pub fn welcome_message(tenant_name: Option<&str>, team_name: Option<&str>) -> SlackMessage {
    let host = tenant_name
        .map(|name| format!("*{}*", escape_truncated(name, 100)))
        .unwrap_or_else(|| "your host application".into());
    let workspace = team_name
        .map(|name| format!("*{}*", escape_truncated(name, 100)))
        .unwrap_or_else(|| "this workspace".into());
    let headline = format!(":wave: Thanks for installing! {workspace} is now connected to {host}.");
    let what = [
        "*What arrives, and where*",
        "• Each approver gets a request in a DM from this app, with *Approve* and *Reject* buttons: one click decides, and every copy shows who decided.",
        "• Requests of each kind can also go to a channel your admin picks in the host. For a private channel, `/invite` this app there first.",
        "• The person who asked is told here when their request is decided.",
    ]
    .join("\n");
    let people = format!(
        "*People are matched by email.* In {host}, use *Map users*: everyone whose email is the same in Slack gets their requests here. Anyone not found is listed there as not in Slack."
    );
    SlackMessage {
        text: format!(
            "Thanks for installing! {} is now connected.",
            escape_truncated(tenant_name.unwrap_or("Your host application"), 100)
        ),
        blocks: vec![
            json!({"type": "section", "text": mrkdwn_raw(&headline)}),
            json!({"type": "section", "text": mrkdwn_raw(&what)}),
            json!({"type": "section", "text": mrkdwn_raw(&people)}),
        ],
    }
}

/// What a clicker (`clicker`, a Slack user id) whose click changed nothing is told,
/// privately: the decider herself hears of her own decision, not of "@ana".
pub fn refusal_line(refusal: &Refusal, clicker: &str) -> String {
    match refusal {
        Refusal::Ended { ending }
            if ending
                .by
                .as_ref()
                .is_some_and(|by| by.is_slack_user(clicker)) =>
        {
            let mut line = format!(
                "You already {} this on {}",
                status_label(ending.status).to_lowercase(),
                slack_date(ending.at)
            );
            if let Some(reason) = ending.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                line.push_str(&format!(": *{}*", escape_truncated(&one_line(reason), 500)));
            } else {
                line.push('.');
            }
            line
        }
        Refusal::Ended { ending } if ending.status == Status::Cancelled => {
            match ending.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                Some(reason) => format!(
                    "This request was withdrawn: *{}*",
                    escape_truncated(&one_line(reason), 500)
                ),
                None => "This request was withdrawn.".into(),
            }
        }
        Refusal::Ended { ending } => {
            let line = ending_line(ending);
            // "✅ Approved by …" reads as "Already approved by …" to a late clicker.
            match line.split_once(' ') {
                Some((_, rest)) => format!("Already {}", lowercase_first(rest)),
                None => line,
            }
        }
        Refusal::NotAnApprover { approvers } if approvers.is_empty() => {
            "You are not an approver of this request.".into()
        }
        Refusal::NotAnApprover { approvers } => format!(
            "Only the approvers of this request can decide: {}",
            approvers
                .iter()
                .map(|id| format!("<@{id}>"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Refusal::OwnRequest => "You asked for this approval; someone else must decide.".into(),
        Refusal::AlreadyVoted => "You have already voted on this request.".into(),
        Refusal::NotDue => "This request is not due to expire yet.".into(),
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
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
    let title = plain(&request.title, slack_limits::HEADER_TEXT);
    let mut budget = Budget(slack_limits::BODY_TEXT_BUDGET);
    budget.spend(title["text"].as_str().unwrap_or_default());
    let mut blocks = vec![json!({"type": "header", "text": title})];
    let mut left_out = 0;
    for chunk in request.fields.chunks(slack_limits::SECTION_FIELDS) {
        let mut fields = Vec::new();
        for field in chunk {
            let label = escape_truncated(&field.label, slack_limits::SECTION_FIELD_TEXT / 4);
            let room = (slack_limits::SECTION_FIELD_TEXT - label.chars().count() - 4)
                .min(budget.0.saturating_sub(label.chars().count() + 4));
            if room < 20 {
                left_out += 1;
                continue;
            }
            let text = format!("*{label}*\n{}", escape_truncated(&field.value, room));
            budget.spend(&text);
            fields.push(mrkdwn_raw(&text));
        }
        if !fields.is_empty() {
            blocks.push(json!({"type": "section", "fields": fields}));
        }
    }
    if let Some(notes) = request.notes.as_deref().filter(|n| !n.trim().is_empty()) {
        let room = slack_limits::SECTION_TEXT.min(budget.0);
        if room >= 20 {
            let text = escape_truncated(notes, room);
            budget.spend(&text);
            blocks.push(json!({"type": "section", "text": mrkdwn_raw(&text)}));
        } else {
            left_out += 1;
        }
    }
    let mut requester = match &request.requester.email {
        Some(email) => format!("Requested by {} ({email})", request.requester.name),
        None => format!("Requested by {}", request.requester.name),
    };
    if left_out > 0 {
        requester.push_str(&format!(" · {left_out} more in the host application"));
    }
    blocks.push(json!({"type": "context",
                       "elements": [mrkdwn_raw(&escape_truncated(&requester, slack_limits::CONTEXT_TEXT))]}));
    blocks
}

/// Characters of block text still free in one message.
struct Budget(usize);

impl Budget {
    fn spend(&mut self, text: &str) {
        self.0 = self.0.saturating_sub(text.chars().count());
    }
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

/// Approve, Reject and (with a link) Open: the same buttons wherever the request is shown,
/// so a click anywhere decides the same way.
pub(crate) fn decision_buttons(approval: &Approval) -> Vec<Value> {
    let mut buttons = vec![
        json!({"type": "button", "action_id": APPROVE_ACTION_ID, "style": "primary",
               "text": plain("Approve", slack_limits::BUTTON_TEXT), "value": approval.id}),
        json!({"type": "button", "action_id": reject_action_id(approval), "style": "danger",
               "text": plain("Reject", slack_limits::BUTTON_TEXT), "value": approval.id}),
    ];
    if let Some(link) = &approval.request.link {
        buttons.push(json!({"type": "button", "action_id": OPEN_ACTION_ID,
                            "text": plain("Open", slack_limits::BUTTON_TEXT), "url": link}));
    }
    buttons
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
                user_id: None,
            },
            channel_id: None,
            approvers: Vec::new(),
            reject_reason: Default::default(),
            expires_at: None,
            policy: None,
            steps: Vec::new(),
            escalate_after_hours: None,
            escalate_to: Vec::new(),
            attachments: Vec::new(),
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
        let mut approval = approval(&"T".repeat(400), 13, None);
        for field in approval.request.fields.iter_mut().skip(3) {
            field.value = "short".into();
        }
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
                assert!(text.ends_with('…') || text.ends_with("short"));
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
    fn ended_message_drops_the_buttons_and_says_who_and_when() {
        let approval = approval("Deal", 1, Some("https://host.example/d/1"));
        let ending = Ending {
            status: Status::Approved,
            by: Some(Actor::Slack {
                user_id: "U42".into(),
                team_id: "T1".into(),
            }),
            reason: None,
            at: 1_764_000_000,
        };
        let message = ended_message(&approval, &ending);
        assert!(message.blocks.iter().all(|b| b["type"] != "actions"));
        let outcome = message.blocks.last().unwrap()["text"]["text"]
            .as_str()
            .unwrap();
        assert!(
            outcome.starts_with("✅ Approved by <@U42> on <!date^1764000000^"),
            "{outcome}"
        );
        assert!(outcome.contains("|2025-11-24 16:00 UTC>"), "{outcome}");
        assert!(refusal_line(
            &Refusal::Ended {
                ending: ending.clone()
            },
            "U7"
        )
        .starts_with("Already approved by <@U42>"));
        let own = refusal_line(&Refusal::Ended { ending }, "U42");
        assert!(
            own.starts_with("You already approved this on <!date^1764000000^"),
            "{own}"
        );
        assert!(own.ends_with('.'), "{own}");
    }

    #[test]
    fn a_link_too_long_to_sit_beside_the_outcome_is_left_out() {
        let link = format!("https://host.example/d?{}", "a=1&".repeat(700));
        let approval = approval("Deal", 0, Some(&link));
        let ending = Ending {
            status: Status::Rejected,
            by: None,
            reason: Some("over budget".into()),
            at: 1,
        };
        let outcome = ended_message(&approval, &ending).blocks.last().unwrap()["text"]["text"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(outcome.chars().count() <= slack_limits::SECTION_TEXT);
        assert!(outcome.ends_with(": *over budget*"), "{outcome}");
    }

    #[test]
    fn twenty_long_fields_stay_within_the_cumulative_text_budget() {
        let mut approval = approval("Deal", 20, None);
        approval.request.notes = Some("n".repeat(10_000));
        let message = pending_message(&approval);
        let total: usize = texts(&message).iter().map(|t| t.chars().count()).sum();
        assert!(total <= 11_000, "{total} characters of block text");
        assert!(texts(&message)
            .iter()
            .any(|t| t.contains("more in the host application")));
    }
}
