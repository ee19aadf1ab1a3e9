//! Slack's Web API over HTTP: our own thin client (the Rust Slack crates cannot parse
//! org-wide installs or rotate tokens). Honours `Retry-After` and retries 5xx, bounded.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{json, Value};

use approvals_core::blocks::SlackMessage;
use approvals_core::counters::{SLACK_ERRORS, SLACK_RATE_LIMITED};
use approvals_core::domain::SlackMessageRef;
use approvals_core::people::{Email, SlackMember};
use approvals_core::ports::{
    Page, SlackApi, SlackChannels, SlackDirectory, SlackError, SlackFiles, SlackViews, UploadTicket,
};
use approvals_core::secret::SecretToken;
use metrics::counter;

/// How hard a call tries before its error goes back to the caller (and SQS).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    /// A `Retry-After` longer than this is not waited out in-process: the error is returned.
    pub max_wait: Duration,
    pub first_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            max_wait: Duration::from_secs(10),
            first_backoff: Duration::from_millis(250),
        }
    }
}

#[derive(Clone)]
pub struct SlackHttpClient {
    http: reqwest::Client,
    base_url: String,
    retry: RetryPolicy,
}

impl SlackHttpClient {
    /// `base_url` is `SLACK_API_BASE_URL`, e.g. `https://slack.com/api`.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_retry(base_url, RetryPolicy::default())
    }

    pub fn with_retry(base_url: impl Into<String>, retry: RetryPolicy) -> Self {
        Self {
            http: crate::http_client(),
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            retry,
        }
    }

    /// Calls `{base}/{method}` with a JSON body and a bearer token.
    pub async fn call(
        &self,
        method: &str,
        token: &SecretToken,
        body: &Value,
    ) -> Result<Value, SlackError> {
        let url = format!("{}/{method}", self.base_url);
        let answer = self
            .send_with_retries(method, || {
                self.http
                    .post(&url)
                    .bearer_auth(token.expose())
                    .header("content-type", "application/json; charset=utf-8")
                    .json(body)
            })
            .await?;
        Self::web_api_answer(method, answer).await
    }

    /// Calls `{base}/{method}` with a form body and a bearer token: the read methods
    /// (`users.list`, `users.lookupByEmail`) take their arguments as a form, not JSON.
    pub async fn call_form(
        &self,
        method: &str,
        token: &SecretToken,
        form: &[(&str, &str)],
    ) -> Result<Value, SlackError> {
        let url = format!("{}/{method}", self.base_url);
        let answer = self
            .send_with_retries(method, || {
                self.http.post(&url).bearer_auth(token.expose()).form(form)
            })
            .await?;
        Self::web_api_answer(method, answer).await
    }

    /// Calls `{base}/{method}` with a form body and HTTP Basic client credentials
    /// (how `oauth.v2.access` prefers them).
    pub async fn call_with_client_credentials(
        &self,
        method: &str,
        client_id: &str,
        client_secret: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, SlackError> {
        let url = format!("{}/{method}", self.base_url);
        let answer = self
            .send_with_retries(method, || {
                self.http
                    .post(&url)
                    .basic_auth(client_id, Some(client_secret))
                    .form(form)
            })
            .await?;
        Self::web_api_answer(method, answer).await
    }

    async fn web_api_answer(method: &str, answer: reqwest::Response) -> Result<Value, SlackError> {
        let parsed: Value = answer
            .json()
            .await
            .map_err(|_| SlackError::InvalidResponse {
                method: method.into(),
            })?;
        let ok = parsed.get("ok").and_then(Value::as_bool);
        if ok != Some(true) {
            counter!(SLACK_ERRORS, "method" => method.to_owned()).increment(1);
        }
        match ok {
            Some(true) => Ok(parsed),
            Some(false) => Err(SlackError::Api {
                method: method.into(),
                code: parsed
                    .get("error")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown_error")
                    .to_owned(),
            }),
            None => Err(SlackError::InvalidResponse {
                method: method.into(),
            }),
        }
    }

    async fn send_with_retries(
        &self,
        method: &str,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SlackError> {
        let mut backoff = self.retry.first_backoff;
        let mut attempt = 1;
        loop {
            let last = attempt >= self.retry.max_attempts;
            let failure = match build().send().await {
                Err(error) => SlackError::Transport {
                    method: method.into(),
                    message: error.without_url().to_string(),
                },
                Ok(answer) if answer.status().as_u16() == 429 => {
                    let retry_after_secs = answer
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok())
                        .unwrap_or(1);
                    let wait = Duration::from_secs(retry_after_secs);
                    counter!(SLACK_RATE_LIMITED, "method" => method.to_owned()).increment(1);
                    let error = SlackError::RateLimited {
                        method: method.into(),
                        retry_after_secs,
                    };
                    if last || wait > self.retry.max_wait {
                        return Err(error);
                    }
                    tracing::info!(
                        method,
                        retry_after_secs,
                        "Slack rate limit; waiting as told"
                    );
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
                Ok(answer) if answer.status().is_server_error() => SlackError::Server {
                    method: method.into(),
                    status: answer.status().as_u16(),
                },
                Ok(answer) => return Ok(answer),
            };
            counter!(SLACK_ERRORS, "method" => method.to_owned()).increment(1);
            if last || !repeat_is_safe(method) {
                return Err(failure);
            }
            tracing::info!(method, attempt, error = %failure, "Slack call failed; retrying");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
            attempt += 1;
        }
    }
}

/// Calls whose repeat could post twice or spend a one-time code or refresh token: a transport
/// error or a 5xx is ambiguous for them, so only a 429 (Slack did nothing) is retried here.
fn repeat_is_safe(method: &str) -> bool {
    !matches!(
        method,
        "chat.postMessage"
            | "chat.postEphemeral"
            | "oauth.v2.access"
            | "files.completeUploadExternal"
            | "response_url"
            // A trigger is single-use and lives 3 s: a repeat could only fail.
            | "views.open"
    )
}

#[async_trait]
impl SlackApi for SlackHttpClient {
    async fn post_message(
        &self,
        token: &SecretToken,
        channel_id: &str,
        message: &SlackMessage,
    ) -> Result<SlackMessageRef, SlackError> {
        let answer = self
            .call(
                "chat.postMessage",
                token,
                &json!({"channel": channel_id, "text": message.text, "blocks": message.blocks,
                        "unfurl_links": false, "unfurl_media": false}),
            )
            .await?;
        // For a DM the answer names the D… channel: chat.update needs that one.
        let channel_id = answer.get("channel").and_then(Value::as_str);
        let message_ts = answer.get("ts").and_then(Value::as_str);
        match (channel_id, message_ts) {
            (Some(channel_id), Some(message_ts)) => Ok(SlackMessageRef {
                channel_id: channel_id.to_owned(),
                message_ts: message_ts.to_owned(),
            }),
            _ => Err(SlackError::InvalidResponse {
                method: "chat.postMessage".into(),
            }),
        }
    }

    async fn update_message(
        &self,
        token: &SecretToken,
        at: &SlackMessageRef,
        message: &SlackMessage,
    ) -> Result<(), SlackError> {
        self.call(
            "chat.update",
            token,
            &json!({"channel": at.channel_id, "ts": at.message_ts,
                    "text": message.text, "blocks": message.blocks}),
        )
        .await
        .map(drop)
    }

    async fn respond(&self, response_url: &str, body: &Value) -> Result<(), SlackError> {
        let answer = self
            .send_with_retries("response_url", || self.http.post(response_url).json(body))
            .await?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(SlackError::Api {
                method: "response_url".into(),
                code: format!("http_{}", answer.status().as_u16()),
            })
        }
    }

    async fn post_reply(
        &self,
        token: &SecretToken,
        at: &SlackMessageRef,
        text: &str,
        username: Option<&str>,
    ) -> Result<SlackMessageRef, SlackError> {
        let mut body = json!({"channel": at.channel_id, "thread_ts": at.message_ts, "text": text,
                              "unfurl_links": false, "unfurl_media": false});
        if let Some(username) = username {
            body["username"] = json!(username);
        }
        let answer = self.call("chat.postMessage", token, &body).await?;
        match answer.get("ts").and_then(Value::as_str) {
            Some(ts) => Ok(SlackMessageRef {
                channel_id: at.channel_id.clone(),
                message_ts: ts.to_owned(),
            }),
            None => Err(SlackError::InvalidResponse {
                method: "chat.postMessage".into(),
            }),
        }
    }

    async fn permalink(
        &self,
        token: &SecretToken,
        at: &SlackMessageRef,
    ) -> Result<String, SlackError> {
        let answer = self
            .call_form(
                "chat.getPermalink",
                token,
                &[
                    ("channel", at.channel_id.as_str()),
                    ("message_ts", at.message_ts.as_str()),
                ],
            )
            .await?;
        answer["permalink"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| SlackError::InvalidResponse {
                method: "chat.getPermalink".into(),
            })
    }

    async fn publish_home(
        &self,
        token: &SecretToken,
        slack_user_id: &str,
        view: &Value,
    ) -> Result<(), SlackError> {
        self.call(
            "views.publish",
            token,
            &json!({"user_id": slack_user_id, "view": view}),
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl SlackDirectory for SlackHttpClient {
    async fn list_members(
        &self,
        token: &SecretToken,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<Page<SlackMember>, SlackError> {
        let limit = limit.to_string();
        let mut form = vec![("limit", limit.as_str())];
        if let Some(cursor) = cursor {
            form.push(("cursor", cursor));
        }
        let answer = self.call_form("users.list", token, &form).await?;
        let items = answer["members"]
            .as_array()
            .ok_or_else(|| SlackError::InvalidResponse {
                method: "users.list".into(),
            })?
            .iter()
            .filter_map(SlackMember::from_slack)
            .collect();
        let next_cursor = answer["response_metadata"]["next_cursor"]
            .as_str()
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Ok(Page { items, next_cursor })
    }

    async fn member_by_email(
        &self,
        token: &SecretToken,
        email: &Email,
    ) -> Result<Option<SlackMember>, SlackError> {
        match self
            .call_form("users.lookupByEmail", token, &[("email", email.as_str())])
            .await
        {
            Ok(answer) => Ok(SlackMember::from_slack(&answer["user"])),
            Err(error) if error.code() == Some("users_not_found") => Ok(None),
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl SlackViews for SlackHttpClient {
    async fn open_view(
        &self,
        token: &SecretToken,
        trigger_id: &str,
        view: &Value,
    ) -> Result<(), SlackError> {
        self.call(
            "views.open",
            token,
            &json!({"trigger_id": trigger_id, "view": view}),
        )
        .await
        .map(drop)
    }
}

#[async_trait]
impl SlackChannels for SlackHttpClient {
    async fn join_channel(&self, token: &SecretToken, channel_id: &str) -> Result<(), SlackError> {
        self.call("conversations.join", token, &json!({"channel": channel_id}))
            .await
            .map(drop)
    }

    async fn is_member(&self, token: &SecretToken, channel_id: &str) -> Result<bool, SlackError> {
        let answer = self
            .call_form("conversations.info", token, &[("channel", channel_id)])
            .await?;
        Ok(answer["channel"]["is_member"].as_bool().unwrap_or(false))
    }
}

#[async_trait]
impl SlackFiles for SlackHttpClient {
    async fn upload_ticket(
        &self,
        token: &SecretToken,
        filename: &str,
        length: u64,
    ) -> Result<UploadTicket, SlackError> {
        let length = length.to_string();
        let answer = self
            .call_form(
                "files.getUploadURLExternal",
                token,
                &[("filename", filename), ("length", length.as_str())],
            )
            .await?;
        match (answer["file_id"].as_str(), answer["upload_url"].as_str()) {
            (Some(id), Some(url)) => Ok(UploadTicket {
                slack_file_id: id.to_owned(),
                upload_url: url.to_owned(),
            }),
            _ => Err(SlackError::InvalidResponse {
                method: "files.getUploadURLExternal".into(),
            }),
        }
    }

    async fn complete_upload(
        &self,
        token: &SecretToken,
        slack_file_id: &str,
        title: &str,
        thread: &SlackMessageRef,
    ) -> Result<(), SlackError> {
        let body = json!({"files": [{"id": slack_file_id, "title": title}],
                          "channel_id": thread.channel_id, "thread_ts": thread.message_ts});
        self.call("files.completeUploadExternal", token, &body)
            .await
            .map(drop)
    }
}
