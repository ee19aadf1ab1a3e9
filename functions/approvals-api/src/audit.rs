//! `GET /v1/approvals/{id}/events?tenant_id=…&limit=…&cursor=…`: a request's audit trail,
//! oldest first, a page at a time.

use approvals_core::domain::looks_like_approval_id;
use approvals_core::usecases::tenants_approval;
use approvals_lambda::http::{error_response, internal_error, json_response, ApiError};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use serde_json::json;

use crate::Api;

/// Default and largest page of the trail.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 500;

pub(crate) async fn events(
    State(api): Api,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let params = crate::QueryParams::parse(query.as_deref(), &["tenant_id", "limit", "cursor"])?;
    let param = |name: &str| params.get(name);
    let tenant_id = param("tenant_id")
        .ok_or_else(|| ApiError::invalid("tenant_id: query parameter is required"))?;
    let limit = crate::page_limit(param("limit"), DEFAULT_PAGE, MAX_PAGE)?;
    if !looks_like_approval_id(&id) {
        return Ok(error_response(
            404,
            "not_found",
            format!("no approval {id}"),
        ));
    }
    match tenants_approval(api.approvals.as_ref(), &id, tenant_id).await {
        Ok(Some(_)) => {}
        Ok(None) => {
            return Ok(error_response(
                404,
                "not_found",
                format!("no approval {id} for tenant {tenant_id}"),
            ))
        }
        Err(error) => return Ok(internal_error(&error)),
    }
    let cursor = param("cursor");
    if cursor.is_some_and(|c| !c.starts_with("AUDIT#")) {
        return Err(ApiError::invalid("cursor: not a cursor this API gave"));
    }
    Ok(match api.audit.audit_trail(&id, cursor, limit).await {
        Ok(page) => json_response(
            200,
            &json!({"approval_id": id, "events": page.items, "next_cursor": page.next_cursor}),
        ),
        Err(error) => internal_error(&error),
    })
}
