//! `POST /v1/notifications`: a plain message, no buttons, sent once per external id.

use approvals_core::notification::{Notification, NotificationRequest, Target};
use approvals_core::time::{rfc3339, unix_now};
use approvals_core::usecases::notify::{Notified, Notify, NotifyError};
use approvals_lambda::http::{error_response, internal_error, json_response};
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use serde_json::{json, Value};

use crate::Api;

pub(crate) async fn notify(State(api): Api, body: Bytes) -> Response {
    let request = match NotificationRequest::from_json(&body) {
        Ok(request) => request,
        Err(error) => return error_response(400, "invalid_request", error.to_string()),
    };
    let use_case = Notify {
        guards: api.approvals.as_ref(),
        notifications: api.notifications.as_ref(),
        tenants: api.tenants.as_ref(),
        directory: api.directory.as_ref(),
        slack: api.slack.as_ref(),
        tokens: api.tokens.as_ref(),
    };
    match use_case.run(request, unix_now()).await {
        Ok(Notified::New(notification, targets)) => {
            json_response(201, &notification_body(&notification, &targets))
        }
        Ok(Notified::Existing(notification, targets)) => {
            json_response(200, &notification_body(&notification, &targets))
        }
        Err(error) => notify_error_response(error),
    }
}

fn notification_body(notification: &Notification, targets: &[Target]) -> Value {
    json!({
        "id": notification.id,
        "tenant_id": notification.request.tenant_id,
        "external_id": notification.request.external_id,
        "kind": notification.request.kind,
        "created_at": rfc3339(notification.created_at),
        "recipients": targets.iter().map(|target| {
            let posted = notification.posted.get(&target.key);
            let status = match (&target.slack_target, posted) {
                (None, _) => "not_in_slack",
                (Some(_), Some(_)) => "posted",
                (Some(_), None) => "pending",
            };
            json!({"target": target.key, "status": status,
                   "channel_id": posted.map(|p| p.channel_id.clone()),
                   "message_ts": posted.map(|p| p.message_ts.clone())})
        }).collect::<Vec<_>>(),
    })
}

fn notify_error_response(error: NotifyError) -> Response {
    let message = error.to_string();
    match error {
        NotifyError::Invalid(_) => error_response(400, "invalid_request", message),
        NotifyError::NoChannel(_) => {
            error_response(400, "invalid_request", format!("to: {message}"))
        }
        NotifyError::NoRecipient => error_response(422, "no_recipient", message),
        NotifyError::NotConnected => error_response(409, "slack_not_connected", message),
        NotifyError::Conflict => error_response(409, "conflict", message),
        NotifyError::InProgress => error_response(409, "in_progress", message),
        NotifyError::Slack(error) if error.is_retryable() => {
            error_response(503, "slack_unavailable", message)
        }
        NotifyError::Slack(_) => error_response(502, "slack_error", message),
        NotifyError::TokenUnavailable(_) => error_response(503, "slack_unavailable", message),
        NotifyError::Store(error) => internal_error(&error),
    }
}
