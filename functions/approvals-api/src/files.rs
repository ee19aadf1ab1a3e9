//! `POST /v1/approvals/{id}/files`: a document for the request's thread, moved there by
//! the worker.

use approvals_core::domain::looks_like_approval_id;
use approvals_core::time::unix_now;
use approvals_core::usecases::attach_file::{AttachError, AttachFile};
use approvals_lambda::http::{error_response, internal_error, json_response};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use crate::Api;

pub(crate) async fn attach(State(api): Api, Path(id): Path<String>, body: Bytes) -> Response {
    if !looks_like_approval_id(&id) {
        return error_response(404, "not_found", format!("no approval {id}"));
    }
    let attach = AttachFile {
        approvals: api.approvals.as_ref(),
        settings: api.reminder_settings.as_ref(),
        later: api.later.as_ref(),
        allowed: &api.file_urls,
    };
    match attach.attach(&id, &body, unix_now()).await {
        Ok(attached) => json_response(
            if attached.new { 202 } else { 200 },
            &json!({"approval_id": id, "file_id": attached.attachment.file_id,
                    "filename": attached.attachment.filename, "status": "accepted"}),
        ),
        Err(error) => {
            let message = error.to_string();
            match error {
                AttachError::Invalid(_) => error_response(400, "invalid_request", message),
                AttachError::NotFound { .. } => error_response(404, "not_found", message),
                AttachError::Conflict(_) => error_response(409, "conflict", message),
                AttachError::Disabled(_) => error_response(409, "attach_files_off", message),
                AttachError::Store(error) => internal_error(&error),
                AttachError::Queue(error) => internal_error(&error),
            }
        }
    }
}
