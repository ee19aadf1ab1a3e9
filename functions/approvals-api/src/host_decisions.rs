//! `POST /v1/approvals/{id}/cancel` and `POST /v1/approvals/{id}/decision`: the host
//! withdraws a request, or decides it in its own screen.

use approvals_core::domain::looks_like_approval_id;
use approvals_core::time::unix_now;
use approvals_core::usecases::host_decisions::{HostDecisionError, HostDecisions};
use approvals_lambda::http::{error_response, internal_error, json_response};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use crate::{approval_body, Api, ApprovalsApi};

impl ApprovalsApi {
    fn host_decisions(&self) -> HostDecisions<'_> {
        HostDecisions {
            approvals: self.approvals.as_ref(),
            tenants: self.tenants.as_ref(),
            directory: self.directory.as_ref(),
            later: self.later.as_ref(),
        }
    }
}

pub(crate) async fn cancel(State(api): Api, Path(id): Path<String>, body: Bytes) -> Response {
    if !looks_like_approval_id(&id) {
        return error_response(404, "not_found", format!("no approval {id}"));
    }
    answer(api.host_decisions().cancel(&id, &body, unix_now()).await)
}

pub(crate) async fn decide(State(api): Api, Path(id): Path<String>, body: Bytes) -> Response {
    if !looks_like_approval_id(&id) {
        return error_response(404, "not_found", format!("no approval {id}"));
    }
    answer(api.host_decisions().decide(&id, &body, unix_now()).await)
}

/// `200` with the approval as it stands; `409 already_decided` with it when it had ended.
fn answer(result: Result<approvals_core::domain::Approval, HostDecisionError>) -> Response {
    match result {
        Ok(approval) => json_response(200, &approval_body(&approval)),
        Err(HostDecisionError::AlreadyEnded(approval)) => json_response(
            409,
            &json!({"error": "already_decided",
                    "message": format!("the request already ended as {}", approval.state.status.as_str()),
                    "approval": approval_body(&approval)}),
        ),
        Err(HostDecisionError::Invalid(error)) => {
            error_response(400, "invalid_request", error.to_string())
        }
        Err(error @ HostDecisionError::NotFound { .. }) => {
            error_response(404, "not_found", error.to_string())
        }
        Err(HostDecisionError::Store(error)) => internal_error(&error),
        Err(HostDecisionError::Queue(error)) => error_response(
            503,
            "unavailable",
            format!("{error}; nothing was changed, retry"),
        ),
    }
}
