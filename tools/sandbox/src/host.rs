//! A host application stand-in: receives decision webhooks and verifies their signatures,
//! and serves the documents its requests attach.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::sync::Notify;

/// One webhook as received.
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedWebhook {
    pub signature_valid: bool,
    pub answered: u16,
    pub body: serde_json::Value,
}

pub struct HostStandIn {
    secret: String,
    received: Mutex<Vec<ReceivedWebhook>>,
    failures_left: Mutex<u32>,
    redirects_left: Mutex<u32>,
    arrived: Notify,
    /// `GET /files/{name}`: (content type, bytes), or a redirect to another host.
    files: Mutex<std::collections::HashMap<String, HostFile>>,
}

/// What the stand-in answers for one file name.
#[derive(Debug, Clone)]
pub enum HostFile {
    Bytes {
        content_type: String,
        bytes: Vec<u8>,
    },
    /// `302` to this URL, as a document moved to other storage would.
    RedirectTo(String),
    /// Sent in chunks without a `Content-Length`, as a generated document may be.
    Chunked {
        content_type: String,
        bytes: Vec<u8>,
    },
}

impl HostStandIn {
    pub fn new(webhook_secret: impl Into<String>) -> Arc<Self> {
        Arc::new(Self {
            secret: webhook_secret.into(),
            received: Mutex::new(Vec::new()),
            failures_left: Mutex::new(0),
            redirects_left: Mutex::new(0),
            arrived: Notify::new(),
            files: Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// Serves `file` at `/files/{name}` from now on.
    pub fn serve_file(&self, name: &str, file: HostFile) {
        self.files.lock().unwrap().insert(name.to_owned(), file);
    }

    /// Answers 500 to the next `count` webhooks, as a host having a bad minute would.
    pub fn fail_next(&self, count: u32) {
        *self.failures_left.lock().unwrap() = count;
    }

    /// Answers `302 Location: /login` to the next `count` webhooks, as a host that moved its
    /// endpoint behind a single sign-on page would; `GET /login` answers 200.
    pub fn redirect_next(&self, count: u32) {
        *self.redirects_left.lock().unwrap() = count;
    }

    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` webhooks arrived, or `timeout` passes.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: std::time::Duration,
    ) -> Vec<ReceivedWebhook> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.received();
            }
        }
    }

    pub fn router(self: &Arc<Self>) -> Router {
        Router::new()
            .route("/webhooks", get(list).post(receive))
            .route("/login", get(|| async { Html("<h1>Sign in</h1>") }))
            .route("/files/{name}", get(file))
            .route("/", get(page))
            .with_state(self.clone())
    }

    /// Serves on a free loopback port; returns the base URL.
    pub async fn start(self: &Arc<Self>) -> std::io::Result<String> {
        let listener = crate::loopback_listener().await?;
        let base = format!("http://{}", listener.local_addr()?);
        let router = self.router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(base)
    }

    fn verify(&self, headers: &HeaderMap, body: &[u8]) -> bool {
        let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
        let (Some(timestamp), Some(signature)) = (
            header("x-approvals-timestamp"),
            header("x-approvals-signature"),
        ) else {
            return false;
        };
        let fresh = timestamp
            .parse::<i64>()
            .is_ok_and(|ts| (crate::unix_now() - ts).abs() <= 300);
        let expected = format!(
            "v1={}",
            crate::hmac_hex(
                self.secret.as_bytes(),
                &[b"v1:", timestamp.as_bytes(), b":", body]
            )
        );
        fresh && constant_time_eq(expected.as_bytes(), signature.as_bytes())
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn receive(
    State(host): State<Arc<HostStandIn>>,
    headers: HeaderMap,
    body: Bytes,
) -> impl IntoResponse {
    let signature_valid = host.verify(&headers, &body);
    let status = {
        let mut failures_left = host.failures_left.lock().unwrap();
        let mut redirects_left = host.redirects_left.lock().unwrap();
        if !signature_valid {
            StatusCode::UNAUTHORIZED
        } else if *redirects_left > 0 {
            *redirects_left -= 1;
            StatusCode::FOUND
        } else if *failures_left > 0 {
            *failures_left -= 1;
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    };
    let body = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    host.received.lock().unwrap().push(ReceivedWebhook {
        signature_valid,
        answered: status.as_u16(),
        body,
    });
    host.arrived.notify_waiters();
    if status == StatusCode::FOUND {
        return (status, [("location", "/login")]).into_response();
    }
    status.into_response()
}

async fn file(
    State(host): State<Arc<HostStandIn>>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> axum::response::Response {
    let file = host.files.lock().unwrap().get(&name).cloned();
    match file {
        None => StatusCode::NOT_FOUND.into_response(),
        Some(HostFile::Bytes {
            content_type,
            bytes,
        }) => ([("content-type", content_type)], bytes).into_response(),
        Some(HostFile::RedirectTo(url)) => (StatusCode::FOUND, [("location", url)]).into_response(),
        Some(HostFile::Chunked {
            content_type,
            bytes,
        }) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = bytes
                .chunks(16)
                .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
                .collect();
            let body = axum::body::Body::from_stream(futures::stream::iter(chunks));
            ([("content-type", content_type)], body).into_response()
        }
    }
}

async fn list(State(host): State<Arc<HostStandIn>>) -> Json<Vec<ReceivedWebhook>> {
    Json(host.received())
}

async fn page(State(host): State<Arc<HostStandIn>>) -> Html<String> {
    let rows: String = host
        .received()
        .iter()
        .rev()
        .map(|hook| {
            format!(
                "<li><strong>{}</strong> signature {} · answered {}<pre>{}</pre></li>",
                escape(hook.body["type"].as_str().unwrap_or("?")),
                if hook.signature_valid {
                    "valid ✔"
                } else {
                    "INVALID ✘"
                },
                hook.answered,
                escape(&serde_json::to_string_pretty(&hook.body).unwrap_or_default())
            )
        })
        .collect();
    Html(format!(
        "<!doctype html><html lang=en><meta charset=utf-8><meta http-equiv=refresh content=2>\
         <title>Host webhook log</title><body style='font-family:system-ui;max-width:60rem;margin:auto'>\
         <h1>Host webhook log</h1><p>Decision webhooks received by the host stand-in, newest first.</p>\
         <ul id=webhooks>{rows}</ul></body></html>"
    ))
}

pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
