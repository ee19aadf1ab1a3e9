//! A request's own page at the host: what it is and where it stands, its documents and how
//! their upload into the Slack thread stands (`GET /v1/approvals/{id}`), the conversation in
//! that thread (the `approval.comment`, `_edited` and `_deleted` webhooks this host received,
//! and the comments it posted itself), who follows the request, and its audit trail
//! (`GET /v1/approvals/{id}/events`). Its forms comment into the thread
//! (`POST /v1/approvals/{id}/comments`) and attach the sample PDF
//! (`POST /v1/approvals/{id}/files`). The page keeps the conversation and the documents
//! current by polling `/requests/{id}/live`, so a reply in Slack shows up without a reload.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use approvals_core::domain::looks_like_approval_id;
use approvals_core::time::{rfc3339, unix_now};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sandbox::host::ReceivedWebhook;
use serde::Deserialize;
use serde_json::{json, Value};

use super::documents::sample_attachment;
use super::page::{api_refusal, api_unreachable, escape, Section};
use super::people::{demo_people, person_name};
use super::{see_other, DemoHost};

/// Who comments from the host unless the form says otherwise: the partner who asked.
const DEFAULT_COMMENT_AUTHOR: &str = "u-pat";

/// A comment this host posted into a request's thread (the API answered 200 or 201).
#[derive(Debug, Clone)]
pub struct PostedComment {
    pub approval_id: String,
    pub comment_id: String,
    pub author: String,
    pub text: String,
    /// RFC 3339, as the webhooks' `created_at`, so the two sort together.
    pub at: String,
}

/// One comment as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Comment {
    id: String,
    author: String,
    /// Slack's text (mrkdwn, `<@U…>` mentions) for a comment from Slack; the host's own
    /// words for one it posted.
    text: String,
    at: String,
    from_host: bool,
    edited: bool,
    deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Follower {
    user_id: String,
    slack_user_id: Option<String>,
}

/// A request's conversation as this host knows it.
#[derive(Debug, Default)]
struct Conversation {
    comments: Vec<Comment>,
    followers: Vec<Follower>,
    /// Slack user id → this host's user id, from every webhook's authors, mentions and
    /// followers: how the host names a person mentioned in Slack.
    known: HashMap<String, String>,
}

impl Conversation {
    /// The name of a Slack user as this host knows them: its own name for a user it has,
    /// else its user id, else nothing (the page shows the Slack id).
    fn name_of(&self, slack_user_id: &str) -> Option<String> {
        let user_id = self.known.get(slack_user_id)?;
        Some(person_name(user_id).unwrap_or_else(|| user_id.clone()))
    }
}

fn learn(known: &mut HashMap<String, String>, person: &Value) {
    if let (Some(slack), Some(user)) =
        (person["slack_user_id"].as_str(), person["user_id"].as_str())
    {
        known.insert(slack.to_owned(), user.to_owned());
    }
}

/// The comment's author as the webhook names them: the name it carries, else this host's
/// name for the user id, else the Slack id.
fn author_name(author: &Value) -> String {
    author["name"]
        .as_str()
        .filter(|name| !name.trim().is_empty())
        .map(str::to_owned)
        .or_else(|| author["user_id"].as_str().and_then(person_name))
        .or_else(|| author["slack_user_id"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "Someone in Slack".to_owned())
}

/// The conversation of `approval_id` from the webhooks received (only those whose signature
/// held, and only the tenant's) and the comments this host posted, oldest first. An edit or
/// a delete arriving before its comment (a retried webhook) still wins over it.
fn conversation(
    received: &[ReceivedWebhook],
    posted: &[PostedComment],
    tenant_id: &str,
    approval_id: &str,
) -> Conversation {
    let mut out = Conversation::default();
    for hook in received.iter().filter(|hook| hook.signature_valid) {
        let data = &hook.body["data"];
        if data["tenant_id"] != tenant_id {
            continue;
        }
        learn(&mut out.known, &data["author"]);
        for person in ["mentions", "followers_added"]
            .into_iter()
            .flat_map(|list| data[list].as_array().into_iter().flatten())
        {
            learn(&mut out.known, person);
        }
        if data["approval_id"] != approval_id {
            continue;
        }
        let kind = hook.body["type"].as_str().unwrap_or_default();
        if !kind.starts_with("approval.comment") {
            continue;
        }
        let Some(id) = data["comment_id"].as_str() else {
            continue;
        };
        let at = data["created_at"]
            .as_str()
            .or_else(|| data["deleted_at"].as_str())
            .unwrap_or_default();
        let index = match out.comments.iter().position(|c| c.id == id) {
            Some(index) => index,
            None => {
                out.comments.push(Comment {
                    id: id.to_owned(),
                    author: author_name(&data["author"]),
                    text: String::new(),
                    at: at.to_owned(),
                    from_host: false,
                    edited: false,
                    deleted: false,
                });
                out.comments.len() - 1
            }
        };
        let comment = &mut out.comments[index];
        let text = data["text"].as_str().unwrap_or_default();
        match kind {
            "approval.comment" if !comment.edited => comment.text = text.to_owned(),
            "approval.comment_edited" => {
                comment.text = text.to_owned();
                comment.edited = true;
            }
            "approval.comment_deleted" => comment.deleted = true,
            _ => {}
        }
        for follower in data["followers_added"].as_array().into_iter().flatten() {
            let Some(user_id) = follower["user_id"].as_str() else {
                continue;
            };
            if !out.followers.iter().any(|f| f.user_id == user_id) {
                out.followers.push(Follower {
                    user_id: user_id.to_owned(),
                    slack_user_id: follower["slack_user_id"].as_str().map(str::to_owned),
                });
            }
        }
    }
    out.comments.extend(
        posted
            .iter()
            .filter(|comment| comment.approval_id == approval_id)
            .map(|comment| Comment {
                id: comment.comment_id.clone(),
                author: comment.author.clone(),
                text: comment.text.clone(),
                at: comment.at.clone(),
                from_host: true,
                edited: false,
                deleted: false,
            }),
    );
    // RFC 3339 in UTC, all from one formatter: the strings sort as the times do.
    out.comments.sort_by(|a, b| a.at.cmp(&b.at));
    out
}

/// Slack's escapes (`&lt;`, `&gt;`, `&amp;`) undone: the page escapes for HTML itself.
fn unescape_slack(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Slack's message text as HTML: `<@U…>` as `@name` where this host knows the person (the
/// Slack id where it does not), channels, `<!here>`, links by their label; everything else
/// escaped.
fn slack_text_html(text: &str, name_of: &dyn Fn(&str) -> Option<String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        let Some(length) = rest[start..].find('>') else {
            break;
        };
        out.push_str(&escape(&unescape_slack(&rest[..start])));
        out.push_str(&token_html(&rest[start + 1..start + length], name_of));
        rest = &rest[start + length + 1..];
    }
    out.push_str(&escape(&unescape_slack(rest)));
    out
}

fn token_html(token: &str, name_of: &dyn Fn(&str) -> Option<String>) -> String {
    let (target, label) = match token.split_once('|') {
        Some((target, label)) => (target, Some(unescape_slack(label))),
        None => (token, None),
    };
    if let Some(user) = target.strip_prefix('@') {
        let shown = name_of(user).or(label).unwrap_or_else(|| user.to_owned());
        return format!(
            "<span class=\"mention\" data-slack-user=\"{}\">@{}</span>",
            escape(user),
            escape(&shown)
        );
    }
    if let Some(channel) = target.strip_prefix('#') {
        let shown = label.unwrap_or_else(|| channel.to_owned());
        return format!("<span class=\"mention\">#{}</span>", escape(&shown));
    }
    if let Some(special) = target.strip_prefix('!') {
        let shown =
            label.unwrap_or_else(|| format!("@{}", special.split('^').next().unwrap_or_default()));
        return format!("<span class=\"mention\">{}</span>", escape(&shown));
    }
    let url = unescape_slack(target);
    let shown = label.unwrap_or_else(|| url.clone());
    if url.starts_with("https://") || url.starts_with("http://") {
        format!(
            "<a href=\"{}\" rel=\"noopener noreferrer\">{}</a>",
            escape(&url),
            escape(&shown)
        )
    } else {
        escape(&shown)
    }
}

fn comments_html(conversation: &Conversation) -> String {
    if conversation.comments.is_empty() {
        return "<li class=\"empty\">No comments yet. Reply in the request's Slack thread, or comment below.</li>"
            .to_owned();
    }
    let name_of = |slack_user_id: &str| conversation.name_of(slack_user_id);
    conversation
        .comments
        .iter()
        .map(|comment| {
            let mut classes = String::from("comment");
            let mut markers = String::new();
            if comment.from_host {
                classes.push_str(" from-host");
            }
            if comment.edited {
                markers.push_str(" <span class=\"marker edited\">(edited)</span>");
            }
            if comment.deleted {
                classes.push_str(" deleted");
                markers.push_str(" <span class=\"marker deleted\">(deleted)</span>");
            }
            let text = if comment.deleted {
                "This comment was deleted in Slack.".to_owned()
            } else if comment.from_host {
                escape(&comment.text)
            } else {
                slack_text_html(&comment.text, &name_of)
            };
            format!(
                "<li class=\"{classes}\" data-comment-id=\"{id}\"><p class=\"meta\">\
                 <strong class=\"comment-author\">{author}</strong> <span class=\"help\">{source}</span> \
                 · <time>{at}</time>{markers}</p><p class=\"comment-text\">{text}</p></li>",
                id = escape(&comment.id),
                author = escape(&comment.author),
                source = if comment.from_host {
                    "from this host"
                } else {
                    "in Slack"
                },
                at = escape(&comment.at),
            )
        })
        .collect()
}

fn followers_html(conversation: &Conversation) -> String {
    if conversation.followers.is_empty() {
        return "<li class=\"empty\">Nobody yet. Whoever is mentioned in the thread follows the request from then on.</li>"
            .to_owned();
    }
    conversation
        .followers
        .iter()
        .map(|follower| {
            let name = person_name(&follower.user_id).unwrap_or_else(|| follower.user_id.clone());
            let slack = follower
                .slack_user_id
                .as_deref()
                .map(|id| format!(" · Slack {}", escape(id)))
                .unwrap_or_default();
            format!(
                "<li class=\"follower\" data-user-id=\"{id}\"><strong>{}</strong> <span class=\"code\">{id}{slack}</span></li>",
                escape(&name),
                id = escape(&follower.user_id),
            )
        })
        .collect()
}

/// How an upload into the thread stands, in words.
fn attachment_status(status: &str) -> (&'static str, &'static str) {
    match status {
        "pending" => ("pending", "uploading into the Slack thread…"),
        "done" => ("done", "in the Slack thread"),
        "failed" => ("failed", "the upload failed; see the audit trail"),
        "off" => ("off", "not uploaded: attach_files is off for this kind"),
        _ => ("unknown", ""),
    }
}

fn attachments_html(approval: &Value) -> String {
    let items: String = approval["attachments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|attachment| {
            let raw = attachment["status"].as_str().unwrap_or_default();
            let (class, words) = attachment_status(raw);
            format!(
                "<li class=\"attachment\" data-file-id=\"{}\" data-status=\"{}\"><span aria-hidden=\"true\">📄</span> \
                 <strong>{}</strong> <span class=\"code\">{}</span> <span class=\"status {class}\">{}</span> \
                 <span class=\"help\">{words}</span></li>",
                escape(attachment["file_id"].as_str().unwrap_or_default()),
                escape(raw),
                escape(attachment["title"].as_str().unwrap_or_default()),
                escape(attachment["filename"].as_str().unwrap_or_default()),
                escape(raw),
            )
        })
        .collect();
    if items.is_empty() {
        "<li class=\"empty\">No documents.</li>".to_owned()
    } else {
        items
    }
}

fn trail_html(answer: &Value) -> String {
    let items: String = answer["events"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|event| {
            let at = event["at"].as_i64().unwrap_or_default();
            format!(
                "<li data-kind=\"{kind}\"><time>{}</time> <strong>{kind}</strong> <code>{}</code></li>",
                escape(&rfc3339(at)),
                escape(&event["detail"].to_string()),
                kind = escape(event["kind"].as_str().unwrap_or_default()),
            )
        })
        .collect();
    format!("<ol id=\"timeline\" class=\"timeline\">{items}</ol>")
}

/// A list's HTML with a revision, so the page replaces only what changed.
fn fragment(html: String) -> Value {
    let mut hasher = DefaultHasher::new();
    html.hash(&mut hasher);
    json!({"rev": format!("{:016x}", hasher.finish()), "html": html})
}

fn list(tag: &str, id: &str, html: String) -> String {
    let fragment = fragment(html);
    format!(
        "<{tag} id=\"{id}\" class=\"items\" data-rev=\"{}\">{}</{tag}>",
        fragment["rev"].as_str().unwrap_or_default(),
        fragment["html"].as_str().unwrap_or_default()
    )
}

fn conversation_of(host: &DemoHost, approval_id: &str) -> Conversation {
    let posted = host.posted_comments.lock().unwrap().clone();
    conversation(
        &host.webhooks.received(),
        &posted,
        &host.tenant_id,
        approval_id,
    )
}

/// What the comment form held when it was refused, to show it again.
#[derive(Deserialize, Default)]
pub(super) struct CommentForm {
    #[serde(default)]
    author: String,
    #[serde(default)]
    text: String,
}

fn comment_form(approval_id: &str, draft: &CommentForm) -> String {
    let chosen = match draft.author.as_str() {
        "" => DEFAULT_COMMENT_AUTHOR,
        author => author,
    };
    let options: String = demo_people()
        .as_array()
        .into_iter()
        .flatten()
        .map(|person| {
            let id = person["user_id"].as_str().unwrap_or_default();
            format!(
                "<option value=\"{}\"{}>{} ({})</option>",
                escape(id),
                if id == chosen { " selected" } else { "" },
                escape(person["name"].as_str().unwrap_or_default()),
                escape(id)
            )
        })
        .collect();
    format!(
        "<form id=\"comment-form\" method=\"post\" action=\"/requests/{id}/comments\" class=\"stack\">\
         <label for=\"comment-author\">Comment as</label>\
         <select id=\"comment-author\" name=\"author\">{options}</select>\
         <label for=\"comment-text\">Comment</label>\
         <textarea id=\"comment-text\" name=\"text\" rows=\"3\" required \
         placeholder=\"Posted in the request's Slack thread. @u-ben mentions Ben there.\">{text}</textarea>\
         <div class=\"actions\"><button type=\"submit\" id=\"comment-submit\" class=\"bk-button primary\">Comment in Slack</button></div>\
         </form>",
        id = escape(approval_id),
        text = escape(&draft.text),
    )
}

/// The whole page, with `notice` (a refusal of a form's call) on top.
async fn page(host: &DemoHost, id: &str, notice: &str, draft: &CommentForm) -> Response {
    let approval_path = format!("/v1/approvals/{id}?tenant_id={}", host.tenant_id);
    let events_path = format!(
        "/v1/approvals/{id}/events?tenant_id={}&limit=500",
        host.tenant_id
    );
    let (approval, events) = tokio::join!(
        host.api.call("GET", &approval_path, None),
        host.api.call("GET", &events_path, None)
    );
    let back = "<p><a href=\"/requests\">All requests</a></p>";
    let approval = match approval {
        Ok((200, approval)) => approval,
        Ok((code, answer)) => {
            let body = format!(
                "{notice}{}{back}",
                api_refusal("The request could not be read.", code, &answer)
            );
            return host
                .layout()
                .page(Section::Requests, "Timeline", &body)
                .into_response();
        }
        Err(error) => {
            let body = format!("{notice}{}{back}", api_unreachable(&error));
            return host
                .layout()
                .page(Section::Requests, "Timeline", &body)
                .into_response();
        }
    };
    let trail = match events {
        Ok((200, answer)) => trail_html(&answer),
        Ok((code, answer)) => api_refusal("The audit trail could not be read.", code, &answer),
        Err(error) => api_unreachable(&error),
    };
    let conversation = conversation_of(host, id);
    let id_html = escape(id);
    let body = format!(
        "{notice}<div id=\"request-page\" data-live=\"/requests/{id_html}/live\">\
         <section class=\"card\" aria-labelledby=\"request-heading\"><h3 id=\"request-heading\">{title}</h3>\
         <dl class=\"facts\"><dt>Status</dt><dd id=\"request-status\">{status}</dd>\
         <dt>Requested by</dt><dd>{requester}</dd><dt>External id</dt><dd><code>{external_id}</code></dd>\
         <dt>Approval id</dt><dd><code>{id_html}</code></dd></dl></section>\
         <section class=\"card\" aria-labelledby=\"attachments-heading\"><h3 id=\"attachments-heading\">Attachments</h3>\
         {attachments}\
         <form id=\"attach-form\" method=\"post\" action=\"/requests/{id_html}/files\" class=\"actions\">\
         <button type=\"submit\" id=\"attach-submit\" class=\"bk-button\">Attach the sample PDF</button>\
         <span class=\"help\">Purchase order PO-1042, which this host serves at <code>/files/sample-po.pdf</code>; \
         the approvals API uploads it into the request's Slack thread.</span></form></section>\
         <section class=\"card\" aria-labelledby=\"comments-heading\"><h3 id=\"comments-heading\">Comments</h3>\
         <p class=\"help\">Replies in the request's Slack thread arrive here as <code>approval.comment</code> webhooks; \
         a comment posted here appears in the thread under its author's name.</p>\
         {comments}{form}</section>\
         <section class=\"card\" aria-labelledby=\"followers-heading\"><h3 id=\"followers-heading\">Followers</h3>\
         <p class=\"help\">People mentioned in the thread (<code>followers_added</code>).</p>{followers}</section>\
         <section class=\"card\" aria-labelledby=\"trail-heading\"><h3 id=\"trail-heading\">Audit trail</h3>{trail}</section>\
         <p id=\"live\" class=\"live\" role=\"status\"></p>{back}</div><script>{SCRIPT}</script>",
        title = escape(approval["title"].as_str().unwrap_or_default()),
        status = escape(approval["status"].as_str().unwrap_or_default()),
        requester = escape(approval["requester"]["name"].as_str().unwrap_or("—")),
        external_id = escape(approval["external_id"].as_str().unwrap_or_default()),
        attachments = list("ul", "attachments", attachments_html(&approval)),
        comments = list("ol", "comments", comments_html(&conversation)),
        form = comment_form(id, draft),
        followers = list("ul", "followers", followers_html(&conversation)),
    );
    host.layout()
        .page(Section::Requests, "Timeline", &body)
        .into_response()
}

fn not_found(host: &DemoHost) -> Response {
    let body = "<div class=\"notice error\" role=\"alert\"><p>There is no such request.</p></div>\
                <p><a href=\"/requests\">All requests</a></p>";
    (
        StatusCode::NOT_FOUND,
        host.layout().page(Section::Requests, "Timeline", body),
    )
        .into_response()
}

pub(super) async fn timeline(
    State(host): State<Arc<DemoHost>>,
    Path(id): Path<String>,
) -> Response {
    if !looks_like_approval_id(&id) {
        return not_found(&host);
    }
    page(&host, &id, "", &CommentForm::default()).await
}

#[derive(Deserialize)]
pub(super) struct LiveQuery {
    /// 1 while an upload is pending: only then is the API asked how the documents stand.
    #[serde(default)]
    attachments: u8,
}

/// The page's lists, each with a revision; `attachments` only when asked for.
pub(super) async fn live(
    State(host): State<Arc<DemoHost>>,
    Path(id): Path<String>,
    Query(query): Query<LiveQuery>,
) -> Response {
    if !looks_like_approval_id(&id) {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "not_found"}))).into_response();
    }
    let conversation = conversation_of(&host, &id);
    let mut answer = json!({
        "comments": fragment(comments_html(&conversation)),
        "followers": fragment(followers_html(&conversation)),
    });
    if query.attachments != 0 {
        let path = format!("/v1/approvals/{id}?tenant_id={}", host.tenant_id);
        if let Ok((200, approval)) = host.api.call("GET", &path, None).await {
            answer["attachments"] = fragment(attachments_html(&approval));
        }
    }
    Json(answer).into_response()
}

/// The comment form: `POST /v1/approvals/{id}/comments` with a fresh `comment_id`, then
/// back to the page; a refusal shows on the page, the comment still in the form.
pub(super) async fn comment(
    State(host): State<Arc<DemoHost>>,
    Path(id): Path<String>,
    Form(form): Form<CommentForm>,
) -> Response {
    if !looks_like_approval_id(&id) {
        return not_found(&host);
    }
    let refusal = |message: &str| {
        format!(
            "<div class=\"notice error\" role=\"alert\"><p>{}</p></div>",
            escape(message)
        )
    };
    let Some(name) = person_name(form.author.trim()) else {
        return page(&host, &id, &refusal("Choose who comments."), &form).await;
    };
    let text = form.text.trim();
    if text.is_empty() {
        return page(&host, &id, &refusal("Write a comment first."), &form).await;
    }
    let number = host.next_request.fetch_add(1, Ordering::Relaxed);
    let comment_id = format!("host-{}-{number}", unix_now());
    let body = json!({
        "tenant_id": host.tenant_id, "comment_id": comment_id,
        "author": {"user_id": form.author.trim(), "name": name}, "text": text,
    });
    let path = format!("/v1/approvals/{id}/comments");
    let notice = match host.api.call("POST", &path, Some(&body)).await {
        Ok((200 | 201, _)) => {
            host.posted_comments.lock().unwrap().push(PostedComment {
                approval_id: id.clone(),
                comment_id,
                author: name,
                text: text.to_owned(),
                at: rfc3339(unix_now()),
            });
            return see_other(&format!("/requests/{id}#comments"));
        }
        Ok((code, answer)) => api_refusal("The comment was not posted.", code, &answer),
        Err(error) => api_unreachable(&error),
    };
    page(&host, &id, &notice, &form).await
}

/// "Attach the sample PDF": `POST /v1/approvals/{id}/files` with a fresh `file_id`.
pub(super) async fn attach(State(host): State<Arc<DemoHost>>, Path(id): Path<String>) -> Response {
    if !looks_like_approval_id(&id) {
        return not_found(&host);
    }
    let number = host.next_request.fetch_add(1, Ordering::Relaxed);
    let mut body = sample_attachment(&host.base, &format!("sample-po-{number}"));
    body["tenant_id"] = json!(host.tenant_id);
    let path = format!("/v1/approvals/{id}/files");
    let notice = match host.api.call("POST", &path, Some(&body)).await {
        Ok((200..=202, _)) => return see_other(&format!("/requests/{id}#attachments")),
        Ok((code, answer)) => api_refusal("The PDF was not attached.", code, &answer),
        Err(error) => api_unreachable(&error),
    };
    page(&host, &id, &notice, &CommentForm::default()).await
}

/// Polls once a second and replaces a list only when its revision changed, so nothing is
/// redrawn under a reader's selection; the documents are asked for only while one uploads.
const SCRIPT: &str = r#"
(() => {
  const root = document.getElementById('request-page');
  const live = document.getElementById('live');
  async function poll() {
    try {
      const pending = root.querySelector('#attachments li[data-status="pending"]') !== null;
      const answer = await fetch(`${root.dataset.live}?attachments=${pending ? 1 : 0}`, { cache: 'no-store' });
      if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
      const lists = await answer.json();
      for (const [id, fragment] of Object.entries(lists)) {
        const list = document.getElementById(id);
        if (!list || !fragment || list.dataset.rev === fragment.rev) continue;
        list.innerHTML = fragment.html;
        list.dataset.rev = fragment.rev;
      }
      live.textContent = '';
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

    fn hook(kind: &str, data: Value) -> ReceivedWebhook {
        ReceivedWebhook {
            signature_valid: true,
            answered: 200,
            body: json!({"id": "evt_1", "type": kind, "created_at": "2026-01-01T00:00:00Z",
                         "data": data}),
        }
    }

    fn comment(kind: &str, id: &str, text: &str, at: &str) -> ReceivedWebhook {
        hook(
            kind,
            json!({"approval_id": "apr_1", "tenant_id": "demo", "external_id": "PO-1",
                   "comment_id": id,
                   "author": {"slack_user_id": "U0ANA", "user_id": "u-ana", "name": "Ana Approver"},
                   "text": text,
                   "mentions": [{"slack_user_id": "U0BEN", "user_id": "u-ben"}],
                   "followers_added": [{"user_id": "u-ben", "slack_user_id": "U0BEN"}],
                   "created_at": at}),
        )
    }

    #[test]
    fn webhooks_become_the_requests_comments_with_edits_deletes_and_followers() {
        let mut forged = comment("approval.comment", "C1:3", "forged", "2026-01-01T00:00:03Z");
        forged.signature_valid = false;
        let mut elsewhere = comment("approval.comment", "C1:4", "other", "2026-01-01T00:00:04Z");
        elsewhere.body["data"]["approval_id"] = json!("apr_2");
        let mut other_tenant = comment("approval.comment", "C1:5", "x", "2026-01-01T00:00:05Z");
        other_tenant.body["data"]["tenant_id"] = json!("acme");
        let received = [
            comment(
                "approval.comment",
                "C1:1",
                "<@U0BEN> check the discount?",
                "2026-01-01T00:00:01Z",
            ),
            comment("approval.comment", "C1:2", "typo", "2026-01-01T00:00:02Z"),
            comment(
                "approval.comment_edited",
                "C1:2",
                "fixed",
                "2026-01-01T00:00:02Z",
            ),
            // A repeat of the original after its edit changes nothing.
            comment("approval.comment", "C1:2", "typo", "2026-01-01T00:00:02Z"),
            hook(
                "approval.comment_deleted",
                json!({"approval_id": "apr_1", "tenant_id": "demo", "comment_id": "C1:1",
                       "author": {"slack_user_id": "U0ANA", "user_id": "u-ana", "name": "Ana Approver"},
                       "deleted_at": "2026-01-01T00:00:09Z"}),
            ),
            forged,
            elsewhere,
            other_tenant,
            hook(
                "approval.decided",
                json!({"approval_id": "apr_1", "tenant_id": "demo"}),
            ),
        ];
        let posted = [PostedComment {
            approval_id: "apr_1".into(),
            comment_id: "host-1".into(),
            author: "Pat Partner".into(),
            text: "<b>thanks</b>".into(),
            at: "2026-01-01T00:00:01Z".into(),
        }];

        let conversation = conversation(&received, &posted, "demo", "apr_1");

        let shown: Vec<(&str, &str, bool, bool, bool)> = conversation
            .comments
            .iter()
            .map(|c| {
                (
                    c.id.as_str(),
                    c.text.as_str(),
                    c.edited,
                    c.deleted,
                    c.from_host,
                )
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("C1:1", "<@U0BEN> check the discount?", false, true, false),
                ("host-1", "<b>thanks</b>", false, false, true),
                ("C1:2", "fixed", true, false, false),
            ]
        );
        assert_eq!(
            conversation.followers,
            [Follower {
                user_id: "u-ben".into(),
                slack_user_id: Some("U0BEN".into())
            }],
            "once, however often it was listed"
        );
        let html = comments_html(&conversation);
        assert!(html.contains("<li class=\"comment deleted\" data-comment-id=\"C1:1\">"));
        assert!(html.contains("This comment was deleted in Slack."));
        assert!(!html.contains("check the discount"), "{html}");
        assert!(html.contains("&lt;b&gt;thanks&lt;/b&gt;"), "{html}");
        assert!(html.contains("<span class=\"marker edited\">(edited)</span>"));
        assert!(html.contains("<strong class=\"comment-author\">Ana Approver</strong>"));
        let followers = followers_html(&conversation);
        assert!(followers.contains(
            "<li class=\"follower\" data-user-id=\"u-ben\"><strong>Ben Buyer</strong> \
             <span class=\"code\">u-ben · Slack U0BEN</span></li>"
        ));
    }

    #[test]
    fn slack_text_names_known_people_and_escapes_the_rest() {
        let known = |id: &str| (id == "U0BEN").then(|| "Ben Buyer".to_owned());
        assert_eq!(
            slack_text_html("<@U0BEN> and <@U0ZED> &lt;script&gt; a &amp; b", &known),
            "<span class=\"mention\" data-slack-user=\"U0BEN\">@Ben Buyer</span> and \
             <span class=\"mention\" data-slack-user=\"U0ZED\">@U0ZED</span> \
             &lt;script&gt; a &amp; b"
        );
        assert_eq!(
            slack_text_html(
                "<!here> see <https://x.example/a?b=1&amp;c=\"2\"|the &lt;doc&gt;> in <#C1|deals>",
                &known
            ),
            "<span class=\"mention\">@here</span> see \
             <a href=\"https://x.example/a?b=1&amp;c=&quot;2&quot;\" rel=\"noopener noreferrer\">the &lt;doc&gt;</a> \
             in <span class=\"mention\">#deals</span>"
        );
        assert_eq!(
            slack_text_html("<javascript:alert(1)|click> <unclosed", &known),
            "click &lt;unclosed"
        );
        assert_eq!(
            slack_text_html("<@U0\"X|\"><b>>", &known),
            "<span class=\"mention\" data-slack-user=\"U0&quot;X\">@&quot;</span>b&gt;"
        );
    }

    #[test]
    fn attachments_show_each_status_in_words_escaped() {
        let approval = json!({"attachments": [
            {"file_id": "sample-po-1", "filename": "PO-1042.pdf", "title": "Purchase <order>", "status": "done"},
            {"file_id": "x\"", "filename": "a.pdf", "title": "a", "status": "<weird>"}]});
        let html = attachments_html(&approval);
        assert!(html.contains(
            "<li class=\"attachment\" data-file-id=\"sample-po-1\" data-status=\"done\">"
        ));
        assert!(html.contains("<strong>Purchase &lt;order&gt;</strong>"));
        assert!(html.contains("in the Slack thread"));
        assert!(html.contains("data-file-id=\"x&quot;\" data-status=\"&lt;weird&gt;\""));
        assert!(html.contains("<span class=\"status unknown\">&lt;weird&gt;</span>"));
        assert_eq!(
            attachments_html(&json!({})),
            "<li class=\"empty\">No documents.</li>"
        );
    }

    #[test]
    fn the_comment_form_keeps_a_refused_draft_escaped() {
        let draft = CommentForm {
            author: "u-ben".into(),
            text: "</textarea><script>".into(),
        };
        let html = comment_form("apr_1", &draft);
        assert!(html.contains("<option value=\"u-ben\" selected>Ben Buyer (u-ben)</option>"));
        assert!(html.contains("&lt;/textarea&gt;&lt;script&gt;</textarea>"));
        let fresh = comment_form("apr_1", &CommentForm::default());
        assert!(fresh.contains("<option value=\"u-pat\" selected>Pat Partner (u-pat)</option>"));
    }
}
