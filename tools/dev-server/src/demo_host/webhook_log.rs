//! The host's webhook log: every webhook the host stand-in received, newest first. The page
//! polls `/webhooks.json?after=N` and inserts only what is new, so nothing on screen is
//! redrawn under a reader's selection.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::Html;
use axum::Json;
use sandbox::host::ReceivedWebhook;
use serde::Deserialize;
use serde_json::{json, Value};

use super::page::{escape, Section};
use super::DemoHost;

fn entry_html(index: usize, hook: &ReceivedWebhook) -> String {
    let signature = if hook.signature_valid {
        "<span class=\"badge ok\">signature valid ✔</span>"
    } else {
        "<span class=\"badge bad\">signature INVALID ✘</span>"
    };
    format!(
        "<li class=\"card hook\" data-index=\"{index}\"><p class=\"meta\"><strong>{}</strong> {signature} · answered {}</p><pre>{}</pre></li>",
        escape(hook.body["type"].as_str().unwrap_or("?")),
        hook.answered,
        escape(&serde_json::to_string_pretty(&hook.body).unwrap_or_default())
    )
}

#[derive(Deserialize)]
pub(super) struct After {
    #[serde(default)]
    after: usize,
}

/// The entries from `after` on, oldest first, each with its rendered `html`; `count` is how
/// many there are in all, so a client whose count is larger knows the log started afresh.
pub fn entries_after(received: &[ReceivedWebhook], after: usize) -> Value {
    let entries: Vec<Value> = received
        .iter()
        .enumerate()
        .skip(after)
        .map(|(index, hook)| {
            json!({
                "index": index,
                "type": hook.body["type"],
                "signature_valid": hook.signature_valid,
                "answered": hook.answered,
                "html": entry_html(index, hook),
            })
        })
        .collect();
    json!({"count": received.len(), "entries": entries})
}

pub(super) async fn webhooks_json(
    State(host): State<Arc<DemoHost>>,
    Query(query): Query<After>,
) -> Json<Value> {
    Json(entries_after(&host.webhooks.received(), query.after))
}

pub(super) async fn webhook_log(State(host): State<Arc<DemoHost>>) -> Html<String> {
    let received = host.webhooks.received();
    let rows: String = received
        .iter()
        .enumerate()
        .rev()
        .map(|(index, hook)| entry_html(index, hook))
        .collect();
    let body = format!(
        "<p class=\"help\">The webhooks the approvals API sent this host (decisions, connects and disconnects), newest first, \
         each checked against the webhook secret.</p>\
         <p id=\"live\" class=\"live\" role=\"status\">New webhooks appear here as they arrive.</p>\
         <p id=\"webhooks-empty\" class=\"empty\"{hidden}>No webhooks yet. Approve or reject a request in the Slack sandbox and its webhook appears here.</p>\
         <ol id=\"webhooks\" class=\"hooks\" data-count=\"{count}\">{rows}</ol>\
         <script>{SCRIPT}</script>",
        hidden = if received.is_empty() { "" } else { " hidden" },
        count = received.len(),
    );
    host.layout()
        .page(Section::WebhookLog, "Webhook log", &body)
}

/// Polls once a second; a failed poll says so and tries again. Entries arrive oldest first,
/// and each goes on top, so the list stays newest first.
const SCRIPT: &str = r#"
(() => {
  const list = document.getElementById('webhooks');
  const live = document.getElementById('live');
  const empty = document.getElementById('webhooks-empty');
  let count = Number(list.dataset.count);
  async function poll() {
    try {
      const answer = await fetch(`/webhooks.json?after=${count}`, { cache: 'no-store' });
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      const log = await answer.json();
      // Fewer than we showed: the stack restarted (its state is in memory), so start over.
      if (log.count < count) { location.reload(); return; }
      for (const entry of log.entries) {
        list.insertAdjacentHTML('afterbegin', entry.html);
        list.firstElementChild.classList.add('new');
      }
      count = log.count;
      empty.hidden = count > 0;
      live.textContent = 'New webhooks appear here as they arrive.';
      live.classList.remove('failed');
    } catch (error) {
      live.textContent = `The host is not answering (${error.message}); trying again…`;
      live.classList.add('failed');
    }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 1000);
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(kind: &str, valid: bool) -> ReceivedWebhook {
        ReceivedWebhook {
            signature_valid: valid,
            answered: if valid { 200 } else { 401 },
            body: json!({"type": kind, "data": {"note": "<b>&"}}),
        }
    }

    #[test]
    fn a_poll_gets_only_what_is_new_with_the_total() {
        let received = [
            hook("approval.decided", true),
            hook("slack.disconnected", false),
        ];
        let all = entries_after(&received, 0);
        assert_eq!(all["count"], 2);
        assert_eq!(all["entries"].as_array().unwrap().len(), 2);
        let new = entries_after(&received, 1);
        assert_eq!(new["entries"].as_array().unwrap().len(), 1);
        assert_eq!(new["entries"][0]["index"], 1);
        assert_eq!(new["entries"][0]["type"], "slack.disconnected");
        let html = new["entries"][0]["html"].as_str().unwrap();
        assert!(html.contains("signature INVALID ✘</span> · answered 401"));
        assert!(
            html.contains("&lt;b&gt;&amp;"),
            "bodies are escaped: {html}"
        );
        assert_eq!(entries_after(&received, 2)["entries"], json!([]));
        assert_eq!(entries_after(&received, 9)["count"], 2);
    }
}
