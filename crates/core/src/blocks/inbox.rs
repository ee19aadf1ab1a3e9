//! Block Kit of a person's inbox: the daily digest DM and the App Home.
//!
//! Both list what waits on the person with the same buttons as the request itself, each
//! in an actions block named after the approval, so a click there decides exactly like a
//! click on the original.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{
    decision_buttons, ending_line, escape_truncated, mrkdwn_raw, plain, slack_limits, SlackMessage,
};
use crate::domain::Approval;
use crate::reminders::waited;

/// The actions blocks of an inbox item are named `inbox:{approval_id}`: a click there is
/// not a click on a copy of the request, so it is never recorded or replaced as one.
pub const INBOX_BLOCK_PREFIX: &str = "inbox:";

/// Items a Home lists at most, and requests it shows that the person asked for.
pub const HOME_WAITING_MAX: usize = 20;
pub const HOME_ASKED_MAX: usize = 10;

/// One request as an inbox shows it.
#[derive(Debug, Clone, Copy)]
pub struct InboxLine<'a> {
    pub approval: &'a Approval,
    pub permalink: Option<&'a str>,
    pub group: &'a str,
    pub label: &'a str,
}

/// How many of `groups` (each item's group, oldest item first) fit in one message with a
/// header, a heading per group, two blocks per item and an "and N more" line.
pub fn digest_capacity(groups: &[&str]) -> usize {
    let budget = slack_limits::BLOCKS_PER_MESSAGE - 2; // the header and "and N more"
    let mut seen: Vec<&str> = Vec::new();
    let mut used = 0;
    for (taken, group) in groups.iter().enumerate() {
        let heading = usize::from(!seen.contains(group));
        if used + heading + 2 > budget {
            return taken;
        }
        used += heading + 2;
        if heading == 1 {
            seen.push(group);
        }
    }
    groups.len()
}

/// The digest: "Waiting for your decision (5)", grouped, each item with its buttons;
/// decided items show who decided instead. `more` counts what did not fit.
pub fn digest_message(
    lines: &[InboxLine<'_>],
    more: usize,
    inbox_url: Option<&str>,
    now: i64,
) -> SlackMessage {
    let pending = lines
        .iter()
        .filter(|line| !line.approval.status().is_final())
        .count()
        + more;
    let title = format!("Waiting for your decision ({pending})");
    let mut blocks =
        vec![json!({"type": "header", "text": plain(&title, slack_limits::HEADER_TEXT)})];
    blocks.extend(grouped(lines, now));
    if more > 0 {
        let text = match inbox_url {
            Some(url) => format!(
                "…and {more} more. <{}|See everything>",
                url.replace('&', "&amp;")
            ),
            None => format!("…and {more} more."),
        };
        blocks.push(json!({"type": "context", "elements": [mrkdwn_raw(&text)]}));
    }
    SlackMessage {
        text: title,
        blocks,
    }
}

/// The App Home: what waits on the person, then what they asked for and where it stands.
pub fn home_view(waiting: &[InboxLine<'_>], asked: &[&Approval], now: i64) -> Value {
    let mut blocks = vec![json!({"type": "header", "text": plain(
        &format!("Waiting for your decision ({})", waiting.len()), slack_limits::HEADER_TEXT)})];
    if waiting.is_empty() {
        blocks.push(json!({"type": "section",
            "text": mrkdwn_raw("Nothing waits for your decision. :tada:")}));
    } else {
        blocks.extend(grouped(waiting, now));
    }
    blocks.push(json!({"type": "divider"}));
    blocks.push(
        json!({"type": "header", "text": plain("What you asked for", slack_limits::HEADER_TEXT)}),
    );
    if asked.is_empty() {
        blocks.push(json!({"type": "section",
            "text": mrkdwn_raw("Requests you make in the host show up here with where they stand.")}));
    }
    for approval in asked {
        let status = match &approval.state.ending {
            Some(ending) => ending_line(ending),
            None => format!(
                "⏳ Waiting for a decision · {}",
                waited(approval.created_at, now)
            ),
        };
        let text = format!(
            "*{}*\n{status}",
            escape_truncated(&approval.request.title, 300)
        );
        blocks.push(json!({"type": "section", "text": mrkdwn_raw(&text)}));
    }
    json!({"type": "home", "callback_id": "approvals_home", "blocks": blocks})
}

/// Group headings in the order of each group's oldest item, each item under its group.
fn grouped(lines: &[InboxLine<'_>], now: i64) -> Vec<Value> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: BTreeMap<&str, Vec<&InboxLine<'_>>> = BTreeMap::new();
    for line in lines {
        if !order.contains(&line.group) {
            order.push(line.group);
        }
        groups.entry(line.group).or_default().push(line);
    }
    let mut blocks = Vec::new();
    for group in order {
        let heading = format!("*{}*", escape_truncated(group, 150));
        blocks.push(json!({"type": "section", "text": mrkdwn_raw(&heading)}));
        for line in &groups[group] {
            blocks.extend(item_blocks(line, now));
        }
    }
    blocks
}

fn item_blocks(line: &InboxLine<'_>, now: i64) -> Vec<Value> {
    let approval = line.approval;
    let title = escape_truncated(&approval.request.title, 300);
    let title = match line.permalink {
        Some(permalink) => format!("<{}|{title}>", permalink.replace('&', "&amp;")),
        None => title,
    };
    let label = escape_truncated(line.label, 100);
    if let Some(ending) = &approval.state.ending {
        let text = format!("*{title}*\n{label} · {}", ending_line(ending));
        return vec![json!({"type": "section", "text": mrkdwn_raw(&text)})];
    }
    let text = format!("*{title}*\n{label} · {}", waited(approval.created_at, now));
    let buttons = decision_buttons(approval);
    vec![
        json!({"type": "section", "text": mrkdwn_raw(&text)}),
        json!({"type": "actions", "block_id": format!("{INBOX_BLOCK_PREFIX}{}", approval.id),
               "elements": buttons}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::request;

    fn approval(external_id: &str, created_at: i64) -> Approval {
        let mut request = request(external_id, Some("C1"));
        request.title = format!("Request {external_id}");
        request.link = Some("https://host.example/r?a=1&b=2".into());
        Approval::new(request, "T1".into(), created_at)
    }

    #[test]
    fn a_digest_groups_items_and_gives_each_its_own_buttons() {
        let approvals = [approval("a", 0), approval("b", 100), approval("c", 200)];
        let lines = [
            InboxLine {
                approval: &approvals[0],
                permalink: Some("https://s/p1"),
                group: "To pay",
                label: "Invoice",
            },
            InboxLine {
                approval: &approvals[1],
                permalink: None,
                group: "To approve",
                label: "Deal",
            },
            InboxLine {
                approval: &approvals[2],
                permalink: None,
                group: "To pay",
                label: "Invoice",
            },
        ];
        let message = digest_message(&lines, 0, None, 3 * 86_400);
        assert_eq!(message.text, "Waiting for your decision (3)");
        let texts: Vec<String> = message
            .blocks
            .iter()
            .filter_map(|b| b["text"]["text"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(texts[1], "*To pay*");
        assert!(
            texts[2].starts_with("*<https://s/p1|Request a>*\nInvoice · waiting 3 days"),
            "{texts:?}"
        );
        assert_eq!(texts[3].lines().next().unwrap(), "*Request c*");
        assert_eq!(texts[4], "*To approve*");
        let action_blocks: Vec<&str> = message
            .blocks
            .iter()
            .filter(|b| b["type"] == "actions")
            .map(|b| b["block_id"].as_str().unwrap())
            .collect();
        assert_eq!(action_blocks.len(), 3);
        assert!(action_blocks
            .iter()
            .all(|id| id.starts_with(INBOX_BLOCK_PREFIX)));
        let open = &message.blocks[3]["elements"][2];
        assert_eq!(open["url"], "https://host.example/r?a=1&b=2");
    }

    #[test]
    fn a_long_digest_stops_at_fifty_blocks_and_says_how_many_more() {
        let groups: Vec<&str> = (0..60)
            .map(|n| if n % 2 == 0 { "To pay" } else { "To approve" })
            .collect();
        let fits = digest_capacity(&groups);
        assert_eq!(fits, 23, "48 blocks: 2 headings and 23 items of 2");
        let approvals: Vec<Approval> = (0..fits)
            .map(|n| approval(&n.to_string(), n as i64))
            .collect();
        let lines: Vec<InboxLine> = approvals
            .iter()
            .zip(&groups)
            .map(|(approval, group)| InboxLine {
                approval,
                permalink: None,
                group,
                label: "x",
            })
            .collect();
        let message = digest_message(&lines, 60 - fits, Some("https://host.example/inbox"), 0);
        assert!(
            message.blocks.len() <= 50,
            "{} blocks",
            message.blocks.len()
        );
        assert_eq!(message.text, "Waiting for your decision (60)");
        let last = message.blocks.last().unwrap()["elements"][0]["text"]
            .as_str()
            .unwrap();
        assert_eq!(
            last,
            "…and 37 more. <https://host.example/inbox|See everything>"
        );
    }
}
