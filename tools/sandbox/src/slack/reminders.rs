//! The page's "Run reminders at…" control: runs the app's reminder pass for a chosen time.
//!
//! In production an EventBridge schedule invokes the reminder function with its
//! `scheduled-time`; offline, nobody waits for 09:00 in Kolkata. The control posts
//! `{"scheduled_time": "<RFC 3339, UTC>"}` to `SandboxConfig::reminders_url` (a loopback stand-in
//! for the schedule) and shows what it answered.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::zones::{civil_from_days, days_from_civil};
use super::SlackSandbox;
use crate::host::escape;

/// A reminder pass may call Slack for many people; longer than an interaction's 3 seconds.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
const QUARTER_HOUR: i64 = 15 * 60;

pub(super) fn router(sandbox: Arc<SlackSandbox>) -> Router {
    Router::new()
        .route("/_sandbox/run-reminders", post(run))
        .with_state(sandbox)
}

/// Why a reminder run was not made (the answer's `error`).
#[derive(Debug, thiserror::Error)]
pub(super) enum RunError {
    #[error("{0}")]
    BadTime(String),
    #[error("scheduled_time: required, e.g. {{\"scheduled_time\": \"2026-11-25T03:30:00Z\"}}")]
    MissingTime,
    #[error("no reminders_url is configured in the sandbox, so nothing was run")]
    NotConfigured,
    #[error("reminders_url {0} is not a loopback http URL; the sandbox only calls this machine")]
    NotLoopback(String),
    #[error("could not reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
}

impl IntoResponse for RunError {
    fn into_response(self) -> Response {
        let status = match self {
            RunError::BadTime(_) | RunError::MissingTime => StatusCode::BAD_REQUEST,
            RunError::NotConfigured | RunError::NotLoopback(_) => StatusCode::CONFLICT,
            RunError::Unreachable { .. } => StatusCode::BAD_GATEWAY,
        };
        (status, Json(json!({"error": self.to_string()}))).into_response()
    }
}

/// The header's form, prefilled with now floored to the quarter hour (the schedule's tick).
pub(super) fn form(now: i64) -> String {
    format!(
        r#"<form id="reminders-form" class="reminders-form" method="post" action="/_sandbox/run-reminders">
<label for="reminders-time">Run reminders at</label>
<input id="reminders-time" name="scheduled_time" value="{}" required size="20" spellcheck="false" autocomplete="off" placeholder="YYYY-MM-DD HH:MM UTC" title="A UTC time, e.g. 2026-11-25 03:30 UTC">
<button type="submit" id="reminders-run" class="bk-button">Run</button>
<output id="reminders-result" for="reminders-time" aria-live="polite"></output>
</form>"#,
        escape(&quarter_hour_label(now))
    )
}

/// `2026-11-25 03:30 UTC` for the quarter hour that `unix` falls in.
pub(super) fn quarter_hour_label(unix: i64) -> String {
    let floored = unix - unix.rem_euclid(QUARTER_HOUR);
    let (year, month, day) = civil_from_days(floored.div_euclid(86_400));
    let seconds = floored.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        seconds / 3600,
        seconds % 3600 / 60
    )
}

/// A UTC time as people type it (`2026-11-25 03:30 UTC`, `2026-11-25T03:30`,
/// `2026-11-25T03:30:00Z`) → RFC 3339 with `Z`, as EventBridge gives `scheduled-time`.
pub(super) fn parse_scheduled_time(text: &str) -> Result<String, String> {
    let refuse = || {
        format!(
            "scheduled_time: {text:?} is not a UTC time like \"2026-11-25 03:30 UTC\" or \"2026-11-25T03:30:00Z\""
        )
    };
    let upper = text.trim().to_ascii_uppercase();
    let mut rest = upper.as_str();
    for suffix in ["UTC", "Z", "+00:00"] {
        if let Some(stripped) = rest.strip_suffix(suffix) {
            rest = stripped.trim_end();
            break;
        }
    }
    let (date, time) = rest.split_once(['T', ' ']).ok_or_else(refuse)?;
    let number = |part: &str, digits: std::ops::RangeInclusive<usize>| {
        (digits.contains(&part.len()) && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<i64>().ok())
            .flatten()
    };
    let date: Vec<&str> = date.split('-').collect();
    let time: Vec<&str> = time.trim().split(':').collect();
    let (year, month, day) = match date[..] {
        [y, m, d] => (number(y, 4..=4), number(m, 1..=2), number(d, 1..=2)),
        _ => return Err(refuse()),
    };
    let (hour, minute, second) = match time[..] {
        [h, m] => (number(h, 1..=2), number(m, 2..=2), Some(0)),
        [h, m, s] => (number(h, 1..=2), number(m, 2..=2), number(s, 2..=2)),
        _ => return Err(refuse()),
    };
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) =
        (year, month, day, hour, minute, second)
    else {
        return Err(refuse());
    };
    let real_date = (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && civil_from_days(days_from_civil(year, month, day)) == (year, month, day);
    if !real_date || hour > 23 || minute > 59 || second > 59 {
        return Err(refuse());
    }
    Ok(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"
    ))
}

/// Only this machine: the control must never post to something on the network.
fn is_loopback_url(url: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(url) else {
        return false;
    };
    let host = url.host_str().unwrap_or_default();
    let host = host.trim_start_matches('[').trim_end_matches(']');
    matches!(url.scheme(), "http" | "https")
        && (host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
}

/// `POST /_sandbox/run-reminders` (JSON or form `scheduled_time`): forwards the time to the
/// app and answers `{scheduled_time, url, status, body, summary}`, `status` and `body` being
/// the app's; `summary` is the app's JSON `summary` field when it has one.
async fn run(
    AxumState(sandbox): AxumState<Arc<SlackSandbox>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Value>, RunError> {
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let given = if is_json {
        serde_json::from_slice::<Value>(&body)
            .map_err(|e| RunError::BadTime(format!("invalid JSON body: {e}")))?["scheduled_time"]
            .as_str()
            .map(str::to_owned)
    } else {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .unwrap_or_default()
            .into_iter()
            .find_map(|(key, value)| (key == "scheduled_time").then_some(value))
    };
    let given = given
        .filter(|t| !t.trim().is_empty())
        .ok_or(RunError::MissingTime)?;
    let scheduled_time = parse_scheduled_time(&given).map_err(RunError::BadTime)?;
    let url = sandbox
        .config
        .reminders_url
        .clone()
        .ok_or(RunError::NotConfigured)?;
    if !is_loopback_url(&url) {
        return Err(RunError::NotLoopback(url));
    }
    let unreachable = |reason: String| RunError::Unreachable {
        url: url.clone(),
        reason,
    };
    let client = reqwest::Client::builder()
        .timeout(RUN_TIMEOUT)
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let answer = client
        .post(&url)
        .json(&json!({"scheduled_time": scheduled_time}))
        .send()
        .await
        .map_err(|e| unreachable(e.without_url().to_string()))?;
    let status = answer.status().as_u16();
    let text = answer
        .text()
        .await
        .map_err(|e| unreachable(e.without_url().to_string()))?;
    let summary = serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v["summary"].as_str().map(str::to_owned));
    Ok(Json(json!({
        "scheduled_time": scheduled_time,
        "url": url,
        "status": status,
        "body": text,
        "summary": summary,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_times_become_rfc_3339_utc() {
        for (typed, expected) in [
            ("2026-11-25 03:30 UTC", "2026-11-25T03:30:00Z"),
            ("2026-11-25 03:30 utc", "2026-11-25T03:30:00Z"),
            (" 2026-11-25T03:30 ", "2026-11-25T03:30:00Z"),
            ("2026-11-25T03:30:15Z", "2026-11-25T03:30:15Z"),
            ("2026-11-25 3:45", "2026-11-25T03:45:00Z"),
            ("2028-02-29T00:00:00+00:00", "2028-02-29T00:00:00Z"),
        ] {
            assert_eq!(
                parse_scheduled_time(typed).as_deref(),
                Ok(expected),
                "{typed}"
            );
        }
        for typed in [
            "",
            "tomorrow",
            "2026-11-25",
            "2026-13-01 00:00",
            "2027-02-29 00:00",
            "2026-11-25 24:00",
            "2026-11-25 03:60",
            "2026-11-25T03:30:00+05:30",
            "26-11-25 03:30",
            "2026-11-25 03:30:00.5Z",
        ] {
            assert!(parse_scheduled_time(typed).is_err(), "{typed:?} is refused");
        }
    }

    #[test]
    fn the_form_starts_at_the_current_quarter_hour() {
        // 2026-11-25 03:44:59 UTC
        let unix = days_from_civil(2026, 11, 25) * 86_400 + 3 * 3600 + 44 * 60 + 59;
        assert_eq!(quarter_hour_label(unix), "2026-11-25 03:30 UTC");
        assert_eq!(quarter_hour_label(unix + 1), "2026-11-25 03:45 UTC");
        assert!(form(unix).contains(
            "id=\"reminders-time\" name=\"scheduled_time\" value=\"2026-11-25 03:30 UTC\""
        ));
    }

    #[test]
    fn only_loopback_urls_are_called() {
        for url in [
            "http://127.0.0.1:3000/dev/reminders",
            "http://localhost:8080/x",
            "http://[::1]:9/x",
            "http://127.1.2.3/x",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "http://10.0.0.1/x",
            "https://example.com/x",
            "ftp://127.0.0.1/x",
            "not a url",
            "http://localhost.example.com/x",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
