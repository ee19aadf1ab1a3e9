//! The host's documents: fetched for the worker from an allowed URL, checked, and streamed
//! on to Slack's upload URL without ever being held whole in memory.

use async_trait::async_trait;
use futures::TryStreamExt;

use approvals_core::files::{AllowedFileUrls, MAX_FILE_BYTES};
use approvals_core::ports::{FileError, HostFiles, OpenedFile};

/// The types a document may have; an HTML answer is a login or error page, not a file.
const ALLOWED_TYPES: [&str; 13] = [
    "application/pdf",
    "application/octet-stream",
    "application/zip",
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
];

/// Well within the worker's 60 s, with room for the ticket, the completion and the
/// records; a slower host is retried (each step is kept, none repeated).
const TRANSFER_TIMEOUT_SECS: u64 = 30;
const MAX_REDIRECTS: usize = 3;

pub struct HttpHostFiles {
    http: reqwest::Client,
    allowed: AllowedFileUrls,
}

impl HttpHostFiles {
    /// Its own client: a redirect is followed only to a URL that is itself allowed (a
    /// signed storage link may bounce once), and a transfer may take longer than a Web API
    /// call. `allowed` is checked again here, though the API refused the rest already.
    pub fn new(allowed: AllowedFileUrls) -> Self {
        let within = allowed.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS || !within.allows(attempt.url().as_str()) {
                attempt.stop()
            } else {
                attempt.follow()
            }
        });
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(TRANSFER_TIMEOUT_SECS))
            .connect_timeout(std::time::Duration::from_secs(3))
            .redirect(policy)
            .build()
            .expect("a reqwest client with timeouts builds");
        Self { http, allowed }
    }
}

/// The error without its URL: a signed storage link is a credential.
fn unavailable(error: reqwest::Error) -> FileError {
    FileError::Unavailable(error.without_url().to_string())
}

#[async_trait]
impl HostFiles for HttpHostFiles {
    async fn open(&self, url: &str) -> Result<Box<dyn OpenedFile>, FileError> {
        if !self.allowed.allows(url) {
            return Err(FileError::Refused(
                "the URL is under no HOST_FILE_URL_PREFIXES prefix".into(),
            ));
        }
        let answer = self.http.get(url).send().await.map_err(unavailable)?;
        let status = answer.status();
        if status.is_redirection() {
            return Err(FileError::Refused(
                "the host redirected outside HOST_FILE_URL_PREFIXES".into(),
            ));
        }
        if status.as_u16() == 429 || status.is_server_error() {
            return Err(FileError::Unavailable(format!(
                "the host answered {status}"
            )));
        }
        if !status.is_success() {
            return Err(FileError::Refused(format!("the host answered {status}")));
        }
        let length = answer
            .content_length()
            .ok_or_else(|| FileError::Refused("the host sent no Content-Length".into()))?;
        if length == 0 || length > MAX_FILE_BYTES {
            return Err(FileError::Refused(format!(
                "the file is {length} bytes; it must be 1 byte to {} MB",
                MAX_FILE_BYTES >> 20
            )));
        }
        let content_type = answer
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(|value| {
                value
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        if !ALLOWED_TYPES.iter().any(|allowed| {
            content_type == *allowed
                || (allowed.ends_with('.') && content_type.starts_with(allowed))
        }) {
            return Err(FileError::Refused(format!(
                "the file's type {content_type:?} is not a document type"
            )));
        }
        Ok(Box::new(Download {
            http: self.http.clone(),
            answer,
            length,
            content_type,
        }))
    }
}

struct Download {
    http: reqwest::Client,
    answer: reqwest::Response,
    length: u64,
    content_type: String,
}

#[async_trait]
impl OpenedFile for Download {
    fn length(&self) -> u64 {
        self.length
    }

    async fn send_to(self: Box<Self>, upload_url: &str) -> Result<(), FileError> {
        let announced = self.length;
        let mut seen = 0u64;
        // A body longer than announced is cut off here; a shorter one fails the upload,
        // whose Content-Length it no longer meets.
        let body = self
            .answer
            .bytes_stream()
            .map_err(std::io::Error::other)
            .and_then(move |chunk| {
                seen += chunk.len() as u64;
                let outcome = if seen > announced {
                    Err(std::io::Error::other("the file is longer than announced"))
                } else {
                    Ok(chunk)
                };
                std::future::ready(outcome)
            });
        let answer = self
            .http
            .post(upload_url)
            .header(reqwest::header::CONTENT_LENGTH, announced)
            .header(reqwest::header::CONTENT_TYPE, self.content_type.as_str())
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(unavailable)?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(FileError::Unavailable(format!(
                "Slack's upload URL answered {}",
                answer.status()
            )))
        }
    }
}
