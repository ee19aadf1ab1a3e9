//! `POST /v1/approvals/{id}/comments`: the host's comment, posted into the request's thread.

use approvals_core::domain::looks_like_approval_id;
use approvals_core::time::unix_now;
use approvals_core::usecases::comments::{CommentError, HostComments};
use approvals_lambda::http::{error_response, internal_error, json_response};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use crate::Api;

pub(crate) async fn post(State(api): Api, Path(id): Path<String>, body: Bytes) -> Response {
    if !looks_like_approval_id(&id) {
        return error_response(404, "not_found", format!("no approval {id}"));
    }
    let comments = HostComments {
        approvals: api.approvals.as_ref(),
        tenants: api.tenants.as_ref(),
        directory: api.directory.as_ref(),
        comments: api.comments.as_ref(),
        slack: api.slack.as_ref(),
        tokens: api.tokens.as_ref(),
    };
    match comments.post(&id, &body, unix_now()).await {
        Ok(posted) => json_response(
            if posted.new { 201 } else { 200 },
            &json!({"approval_id": id, "comment_id": posted.comment_id,
                    "slack": posted.messages.iter().map(|at| json!({
                        "channel_id": at.channel_id, "message_ts": at.message_ts,
                    })).collect::<Vec<_>>()}),
        ),
        Err(error) => {
            let message = error.to_string();
            match error {
                CommentError::Invalid(_) => error_response(400, "invalid_request", message),
                CommentError::NotFound { .. } => error_response(404, "not_found", message),
                CommentError::Conflict(_) => error_response(409, "conflict", message),
                CommentError::InProgress => error_response(409, "in_progress", message),
                CommentError::NotConnected => error_response(409, "slack_not_connected", message),
                CommentError::Token(_) => error_response(503, "slack_unavailable", message),
                CommentError::Slack(error) if error.is_retryable() => {
                    error_response(503, "slack_unavailable", message)
                }
                CommentError::Slack(_) => error_response(502, "slack_error", message),
                CommentError::Store(error) => internal_error(&error),
            }
        }
    }
}
