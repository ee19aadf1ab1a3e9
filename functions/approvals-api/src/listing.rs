//! `GET /v1/approvals?tenant_id=…&status=…&limit=…&cursor=…`: a tenant's requests, newest
//! first, one page at a time.

use approvals_core::domain::{check_identifier, ListCursor};
use approvals_core::machine::Status;
use approvals_lambda::http::{internal_error, json_response, ApiError};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::json;

use crate::{approval_body, Api};

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 100;
const PARAMETERS: [&str; 4] = ["tenant_id", "status", "limit", "cursor"];

/// The listing's query, checked: every parameter known, each well-formed.
#[derive(Debug, PartialEq, Eq)]
struct ListQuery {
    tenant_id: String,
    status: Option<Status>,
    limit: usize,
    cursor: Option<ListCursor>,
}

fn parse_query(query: Option<&str>) -> Result<ListQuery, ApiError> {
    let params = crate::QueryParams::parse(query, &PARAMETERS)?;
    let param = |name: &str| params.get(name);
    let tenant_id = param("tenant_id")
        .ok_or_else(|| ApiError::invalid("tenant_id: query parameter is required"))?;
    check_identifier("tenant_id", tenant_id).map_err(|e| ApiError::invalid(e.to_string()))?;
    let status = match param("status") {
        None => None,
        Some(value) => Some(Status::parse(value).ok_or_else(|| {
            ApiError::invalid("status: must be pending, approved, rejected, cancelled or expired")
        })?),
    };
    let limit = crate::page_limit(param("limit"), DEFAULT_PAGE, MAX_PAGE)?;
    let cursor = param("cursor")
        .map(ListCursor::parse)
        .transpose()
        .map_err(|e| ApiError::invalid(e.to_string()))?;
    if let (Some(cursor), Some(status)) = (&cursor, status) {
        if cursor.status != status {
            return Err(ApiError::invalid(
                "cursor: belongs to a listing of another status",
            ));
        }
    }
    Ok(ListQuery {
        tenant_id: tenant_id.to_owned(),
        status,
        limit,
        cursor,
    })
}

pub(crate) async fn list(State(api): Api, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let query = parse_query(query.as_deref())?;
    let page = api
        .approvals
        .list(
            &query.tenant_id,
            query.status,
            query.cursor.as_ref(),
            query.limit,
        )
        .await;
    Ok(match page {
        Ok(page) => json_response(
            200,
            &json!({
                "approvals": page.items.iter().map(approval_body).collect::<Vec<_>>(),
                "next_cursor": page.next_cursor,
            }),
        ),
        Err(error) => internal_error(&error),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_checked_parameter_by_parameter() {
        let message = |query: &str| parse_query(Some(query)).unwrap_err().message;
        assert_eq!(
            message("status=pending"),
            "tenant_id: query parameter is required"
        );
        assert!(message("tenant_id=acme&sort=new").starts_with("sort: unknown query parameter"));
        assert!(message("tenant_id=acme&status=open").starts_with("status:"));
        assert!(message("tenant_id=acme&limit=0").starts_with("limit:"));
        assert!(message("tenant_id=acme&cursor=abc").starts_with("cursor:"));
        let approved = "approved.1764000000.apr_00ff";
        assert!(
            message(&format!("tenant_id=acme&status=pending&cursor={approved}"))
                .starts_with("cursor: belongs to a listing of another status")
        );
        let query = parse_query(Some("tenant_id=acme&status=pending&limit=2")).unwrap();
        assert_eq!(
            (query.status, query.limit, query.cursor),
            (Some(Status::Pending), 2, None)
        );
    }
}
