//! The demo host's look: one layout for every page, styled like the Slack sandbox so the two
//! read as one demo, plus the small HTML helpers the pages share.

use axum::response::Html;
use serde_json::Value;

/// The page a layout is drawn for; it marks the current link in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Settings,
    People,
    Requests,
    WebhookLog,
    /// A page reached from elsewhere (the request endpoint's answers): no link is current.
    Other,
}

/// Where the header's "Open Slack sandbox" link goes; the rest are this host's own paths.
pub struct Layout<'a> {
    pub sandbox_page: &'a str,
}

impl Layout<'_> {
    pub fn page(&self, section: Section, title: &str, body: &str) -> Html<String> {
        let link = |target: Section, href: &str, label: &str| {
            let current = if target == section {
                " aria-current=\"page\""
            } else {
                ""
            };
            format!("<li><a href=\"{href}\"{current}>{label}</a></li>")
        };
        Html(format!(
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{title} · Demo host</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
             <header class=\"top\">\n<h1>Demo host <span class=\"sub\">the host application that asks for approvals</span></h1>\n\
             <nav aria-label=\"Demo host\"><ul class=\"links\">{settings}{people}{requests}{log}\
             <li><a href=\"{sandbox}\">Open Slack sandbox</a></li></ul></nav>\n</header>\n\
             <main>\n<h2>{title}</h2>\n{body}\n</main>\n</body>\n</html>\n",
            title = escape(title),
            settings = link(Section::Settings, "/settings", "Settings"),
            people = link(Section::People, "/people", "People"),
            requests = link(Section::Requests, "/requests", "Requests"),
            log = link(Section::WebhookLog, "/", "Webhook log"),
            sandbox = escape(self.sandbox_page),
        ))
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A refusal or failure of the approvals API in sentences: `lead` says what did not happen,
/// then the API's own `message`, with the status and error code small underneath for whoever
/// debugs the integration.
pub fn api_refusal(lead: &str, status: u16, answer: &Value) -> String {
    let message = answer["message"]
        .as_str()
        .unwrap_or("the approvals API gave no reason");
    let code = answer["error"].as_str().unwrap_or("no error code");
    format!(
        "<div class=\"notice error\" role=\"alert\"><p>{} {}</p><p class=\"code\">HTTP {status} · {}</p></div>",
        escape(lead),
        escape(&sentence(message)),
        escape(code)
    )
}

/// The API could not be reached at all (the stack is starting or stopping).
pub fn api_unreachable(error: &str) -> String {
    format!(
        "<div class=\"notice error\" role=\"alert\"><p>The approvals API did not answer. Is <code>make dev</code> still running?</p>\
         <p class=\"code\">{}</p></div>",
        escape(error)
    )
}

/// The API's messages are lower-case clauses; on a page they start a sentence.
fn sentence(message: &str) -> String {
    let mut chars = message.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

const CSS: &str = "
:root{color-scheme:light;font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;font-size:15px;line-height:1.45;color:#1d1c1d}
body{margin:0;background:#f4ede4}
.top{display:flex;flex-wrap:wrap;gap:.5rem 1.5rem;align-items:center;padding:.5rem 1rem;background:#3f0e40;color:#fff}
.top h1{font-size:1.1rem;margin:0}.top .sub{font-weight:normal;opacity:.8;font-size:.85rem}
.top a{color:#fff}.top a[aria-current]{font-weight:700;text-decoration-thickness:2px}
.links{display:flex;flex-wrap:wrap;gap:1rem;list-style:none;margin:0;padding:0}
main{max-width:56rem;margin:0 auto;padding:1rem 1.25rem 3rem}main>h2{margin:.4rem 0 .8rem}
.card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:.9rem 1.2rem;margin:0 0 1rem}
.card h3{margin:0 0 .5rem;font-size:1.05rem}
.help,.empty{color:#616061}.code{font-size:.8rem;color:#616061;margin:.2rem 0 0}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.6rem 0}.facts dt{font-weight:600}.facts dd{margin:0}
.status{display:inline-block;font-size:.85rem;font-weight:700;border-radius:10px;padding:0 .55rem;background:#eee}
.status.active{background:#e3f4ec;color:#00573f}.status.disconnected{background:#fde8ee;color:#9b0e3c}
.notice{border-radius:8px;padding:.6rem 1rem;margin:0 0 1rem;border:1px solid}.notice p{margin:0}
.notice.ok{background:#e3f4ec;border-color:#9bd3bb}.notice.error{background:#fde8ee;border-color:#f0a5bd}
.actions{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.8rem 0 0}
.bk-button{font:inherit;font-weight:600;padding:.3rem .9rem;border:1px solid #bbb;border-radius:4px;background:#fff;color:#1d1c1d;cursor:pointer;text-decoration:none;display:inline-block}
.bk-button.primary{background:#007a5a;border-color:#007a5a;color:#fff}.bk-button.danger{background:#e01e5a;border-color:#e01e5a;color:#fff}
.danger-outline{font:inherit;padding:.3rem .8rem;border:1px solid #e01e5a;color:#b3001b;background:#fff;border-radius:4px;cursor:pointer;text-decoration:none;display:inline-block}
button:focus-visible,a:focus-visible{outline:3px solid #1264a3;outline-offset:2px}
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #eee;vertical-align:top}
th{font-size:.75rem;text-transform:uppercase;letter-spacing:.04em;color:#555}td.status-cell{font-weight:600}
.hooks{list-style:none;margin:0;padding:0}.hook .meta{margin:0 0 .3rem}
.hook pre{margin:0;padding:.5rem .7rem;background:#f8f8f8;border-radius:4px;overflow:auto;font-size:.8rem}
.badge{font-size:.75rem;border-radius:3px;padding:0 .3rem}.badge.ok{background:#e3f4ec;color:#00573f}.badge.bad{background:#fde8ee;color:#9b0e3c}
.hook.new{animation:arrive 2s ease-out}@keyframes arrive{from{background:#fff6d6}to{background:#fff}}
.live{font-size:.85rem;color:#616061;min-height:1.3em}.live.failed{color:#b3001b}
form.inline{display:inline-block;margin:0 .35rem .25rem 0}
.timeline{padding-left:1.25rem}
.timeline li{margin:.25rem 0}
.timeline code{font-size:.8rem;color:#616061;word-break:break-word}
form.stack{display:grid;gap:.3rem;max-width:36rem}form.stack label{font-weight:600;font-size:.9rem;margin-top:.3rem}
form.stack label.check{display:flex;gap:.4rem;align-items:center;font-weight:normal}
input,select,textarea{font:inherit}textarea{width:100%;box-sizing:border-box}
.items{list-style:none;margin:0 0 .6rem;padding:0}.items>li{padding:.45rem 0;border-bottom:1px solid #eee}.items>li:last-child{border-bottom:0}
.comment .meta{margin:0;font-size:.9rem}.comment-text{margin:.15rem 0 0;white-space:pre-wrap;word-break:break-word}
.comment.from-host .comment-author{color:#3f0e40}.comment.deleted .comment-text{color:#616061;font-style:italic}
.mention{background:#e8f5fa;color:#1264a3;border-radius:3px;padding:0 .15rem}.marker{font-size:.8rem;color:#616061}
.status.done{background:#e3f4ec;color:#00573f}.status.failed{background:#fde8ee;color:#9b0e3c}.status.pending{background:#fff6d6;color:#6b4f00}
";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_page_shares_the_nav_and_marks_its_own_link() {
        let layout = Layout {
            sandbox_page: "http://127.0.0.1:3001/?channel=C0APPROVALS&x=<y>",
        };
        let Html(html) = layout.page(Section::People, "People & <teams>", "<p>body</p>");
        assert!(html.contains("<title>People &amp; &lt;teams&gt; · Demo host</title>"));
        assert!(html.contains("<a href=\"/people\" aria-current=\"page\">People</a>"));
        assert!(html.contains("<a href=\"/settings\">Settings</a>"));
        assert!(html.contains("<a href=\"/\">Webhook log</a>"));
        assert!(html.contains(
            "<a href=\"http://127.0.0.1:3001/?channel=C0APPROVALS&amp;x=&lt;y&gt;\">Open Slack sandbox</a>"
        ));
        assert!(html.contains("<p>body</p>"));
    }

    #[test]
    fn api_refusals_read_as_sentences_with_the_code_small() {
        let html = api_refusal(
            "The approval was not requested.",
            409,
            &json!({"error": "slack_not_connected", "message": "tenant demo has no active Slack connection"}),
        );
        assert!(html.contains(
            "<p>The approval was not requested. Tenant demo has no active Slack connection.</p>"
        ));
        assert!(html.contains("HTTP 409 · slack_not_connected"));
        let silent = api_refusal("Mapping failed.", 502, &Value::Null);
        assert!(silent.contains("Mapping failed. The approvals API gave no reason."));
    }
}
