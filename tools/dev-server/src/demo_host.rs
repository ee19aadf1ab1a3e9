//! The demo host application, the reference integration: settings with "Connect Slack", a
//! people page, the requests and each one's page (its documents, the conversation in its
//! Slack thread, its followers and audit trail), the webhook log, and the endpoint behind the
//! sandbox's "Request an approval" form. It calls the signed host API exactly as a real host
//! would, and serves the documents its requests attach.

mod documents;
mod page;
mod people;
mod request;
mod requests;
mod settings;
mod timeline;
mod webhook_log;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use sandbox::host::HostStandIn;
use serde_json::Value;

pub use documents::serve_sample_pdf;
pub use timeline::PostedComment;

/// A host's client of our API: every request signed with `host_api_secret`.
pub struct HostApiClient {
    http: reqwest::Client,
    base: String,
    secret: String,
}

impl HostApiClient {
    pub fn new(base: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.into(),
            secret: secret.into(),
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value), String> {
        let raw = body.map(|b| b.to_string()).unwrap_or_default();
        let timestamp = approvals_core::time::unix_now();
        let signature = approvals_core::signing::sign_host_request(
            self.secret.as_bytes(),
            timestamp,
            method,
            path,
            raw.as_bytes(),
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
        let answer = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("x-approvals-timestamp", timestamp.to_string())
            .header("x-approvals-signature", signature)
            .body(raw)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        let status = answer.status().as_u16();
        Ok((status, answer.json().await.unwrap_or(Value::Null)))
    }
}

pub struct DemoHost {
    pub api: HostApiClient,
    pub tenant_id: String,
    /// This app's own base URL (the settings page is the OAuth return URL).
    pub base: String,
    /// Where to send the browser after requesting an approval.
    pub sandbox_page: String,
    pub next_request: AtomicU64,
    /// Where the webhooks this host receives are kept; the webhook log shows them. It also
    /// serves the host's documents (`/files/…`, see [`serve_sample_pdf`]).
    pub webhooks: Arc<HostStandIn>,
    /// The comments this host posted into requests' threads, for their pages.
    pub posted_comments: Mutex<Vec<PostedComment>>,
}

impl DemoHost {
    fn layout(&self) -> page::Layout<'_> {
        page::Layout {
            sandbox_page: &self.sandbox_page,
        }
    }
}

/// The demo host's pages in front of the host stand-in's own routes (`POST /webhooks`, where
/// the webhooks arrive, and `GET /files/{name}`, the documents); this log at `/` takes the
/// place of the stand-in's bare one.
pub fn router(host: Arc<DemoHost>) -> Router {
    let stand_in = host.webhooks.router();
    Router::new()
        .route("/", get(webhook_log::webhook_log))
        .route("/webhooks.json", get(webhook_log::webhooks_json))
        .route("/settings", get(settings::settings))
        .route("/settings/connect", post(settings::connect))
        .route(
            "/settings/disconnect",
            get(settings::confirm_disconnect).post(settings::disconnect),
        )
        .route("/demo/request", post(request::request_approval))
        .route("/people", get(people::people))
        .route("/people/map", post(people::map_people))
        .route("/requests", get(requests::requests).post(requests::create))
        .route("/requests/{id}", get(timeline::timeline))
        .route("/requests/{id}/live", get(timeline::live))
        .route("/requests/{id}/comments", post(timeline::comment))
        .route("/requests/{id}/files", post(timeline::attach))
        .route("/requests/{id}/decision", post(requests::decide))
        .route("/requests/{id}/cancel", post(requests::cancel))
        .with_state(host)
        .fallback_service(stand_in)
}

fn see_other(location: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, location.to_owned())]).into_response()
}
