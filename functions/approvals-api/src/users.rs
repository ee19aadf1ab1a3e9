//! `…/tenants/{tenant_id}/users`: the tenant's people, mapped to Slack by email.

use approvals_core::people::{
    parse_one_user, parse_user_batch, HostUser, HostUserId, MappingStatus, UserInput,
};
use approvals_core::time::unix_now;
use approvals_core::usecases::people::{People, PeopleError};
use approvals_lambda::http::{error_response, internal_error, json_response, ApiError};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{tenant, Api, ApprovalsApi};

/// Default and largest page of `GET …/users`.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1_000;

impl ApprovalsApi {
    fn people(&self) -> People<'_> {
        People {
            tenants: self.tenants.as_ref(),
            directory: self.directory.as_ref(),
            slack: self.slack_directory.as_ref(),
            tokens: self.tokens.as_ref(),
        }
    }
}

/// A user id from the path, or the 400 that names it.
pub(crate) fn user_in_path(user_id: String) -> Result<HostUserId, ApiError> {
    HostUserId::try_from(user_id)
        .map_err(|message| ApiError::invalid(format!("user_id: {message}")))
}

fn users_body(users: &[HostUser]) -> serde_json::Value {
    json!({"users": users.iter().map(HostUser::to_json).collect::<Vec<_>>()})
}

/// `PUT …/users`: up to 1,000 users, mapped against one walk of the workspace's members.
pub(crate) async fn put_users(
    State(api): Api,
    Path(tenant_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    let inputs = parse_user_batch(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok(
        match api.people().map_all(tenant_id, inputs, unix_now()).await {
            Ok(users) => json_response(200, &users_body(&users)),
            Err(error) => people_error_response(error),
        },
    )
}

/// `PUT …/users/{user_id}`: one user, mapped with `users.lookupByEmail`.
pub(crate) async fn put_user(
    State(api): Api,
    Path((tenant_id, user_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    let user_id = user_in_path(user_id)?;
    let one = parse_one_user(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
    let input = UserInput {
        user_id,
        email: one.email,
        name: one.name,
    };
    Ok(
        match api.people().map_one(tenant_id, input, unix_now()).await {
            Ok(user) => json_response(200, &user.to_json()),
            Err(error) => people_error_response(error),
        },
    )
}

/// `GET …/users?status=not_in_slack&cursor=…&limit=…`: the host's "not integrated" list,
/// or everyone without `status`.
pub(crate) async fn list_users(
    State(api): Api,
    Path(tenant_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    let params = crate::QueryParams::parse(query.as_deref(), &["status", "limit", "cursor"])?;
    let param = |name: &str| params.get(name);
    let status = match param("status") {
        None => None,
        Some(value) => Some(
            MappingStatus::parse(value)
                .ok_or_else(|| ApiError::invalid("status: must be mapped or not_in_slack"))?,
        ),
    };
    let limit = crate::page_limit(param("limit"), DEFAULT_PAGE, MAX_PAGE)?;
    let cursor = match param("cursor") {
        None => None,
        Some(value) => Some(
            HostUserId::try_from(value.to_owned())
                .map_err(|_| ApiError::invalid("cursor: not a cursor this API gave"))?,
        ),
    };
    let page = api
        .directory
        .list_users(
            tenant_id,
            status,
            cursor.as_ref().map(HostUserId::as_str),
            limit,
        )
        .await;
    Ok(match page {
        Ok(page) => {
            let mut body = users_body(&page.items);
            if status == Some(MappingStatus::NotInSlack) {
                // What waits on them cannot reach them in Slack: the host shows it here.
                match waiting_of(&api, tenant_id, &page.items).await {
                    Ok(waiting) => {
                        for (user, waiting) in body["users"]
                            .as_array_mut()
                            .into_iter()
                            .flatten()
                            .zip(waiting)
                        {
                            user["waiting"] = waiting;
                        }
                    }
                    Err(error) => return Ok(internal_error(&error)),
                }
            }
            body["next_cursor"] = json!(page.next_cursor);
            json_response(200, &body)
        }
        Err(error) => internal_error(&error),
    })
}

/// Items listed per person in the not-in-Slack view.
const WAITING_SHOWN: usize = 50;

/// Each user's pending requests, oldest first: `[{"approval_id","kind","title","created_at"}]`.
/// One Query of each user's inbox, no other read and no write: an entry whose request ended
/// a moment ago may still show until its removal lands.
async fn waiting_of(
    api: &ApprovalsApi,
    tenant_id: &str,
    users: &[HostUser],
) -> Result<Vec<serde_json::Value>, approvals_core::ports::StoreError> {
    let mut all = Vec::with_capacity(users.len());
    for user in users {
        let entries = api
            .inbox
            .waiting(tenant_id, &user.user_id, WAITING_SHOWN)
            .await?;
        let items: Vec<serde_json::Value> = entries
            .iter()
            .map(|entry| {
                json!({"approval_id": entry.approval_id, "kind": entry.kind,
                       "title": entry.title, "created_at": entry.created_at})
            })
            .collect();
        all.push(json!(items));
    }
    Ok(all)
}

fn people_error_response(error: PeopleError) -> Response {
    let message = error.to_string();
    match error {
        PeopleError::NotConnected => error_response(409, "slack_not_connected", message),
        PeopleError::TokenUnavailable(_) => error_response(503, "slack_unavailable", message),
        PeopleError::Slack(error) if error.is_retryable() => {
            error_response(503, "slack_unavailable", message)
        }
        PeopleError::Slack(_) => error_response(502, "slack_error", message),
        PeopleError::Store(error) => internal_error(&error),
    }
    .into_response()
}
