//! `…/tenants/{tenant_id}/reminders`, `…/users/{user_id}/reminders` and `…/kinds/{kind}`:
//! when people are reminded, and how each kind of request is labelled and grouped.

use approvals_core::domain::check_identifier;
use approvals_core::inbox::KindUpdate;
use approvals_core::reminders::{user_schedule_from_json, Schedule, TenantReminders};
use approvals_core::usecases::inbox::Inbox;
use approvals_lambda::http::{internal_error, json_response, ApiError};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Response;
use serde_json::json;

use crate::{tenant, Api, ApprovalsApi};

impl ApprovalsApi {
    pub(crate) fn people_inbox(&self) -> Inbox<'_> {
        Inbox {
            inbox: self.inbox.as_ref(),
            settings: self.reminder_settings.as_ref(),
            digests: self.digests.as_ref(),
            users: self.directory.as_ref(),
            approvals: self.approvals.as_ref(),
        }
    }
}

fn schedule_json(schedule: &Schedule) -> serde_json::Value {
    json!({"enabled": schedule.enabled, "time": schedule.time.to_string(),
           "days": schedule.days.names()})
}

/// `PUT …/reminders`: the tenant's schedule, fallback zone and inbox link. What already
/// waits is filed again under each person's new slot.
pub(crate) async fn put_tenant_reminders(
    State(api): Api,
    Path(tenant_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    let reminders =
        TenantReminders::from_json(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
    if let Err(error) = api
        .reminder_settings
        .save_tenant_reminders(tenant_id, &reminders)
        .await
    {
        return Ok(internal_error(&error));
    }
    let refiled = match api.people_inbox().refile_tenant(tenant_id).await {
        Ok(people) => people,
        Err(error) => return Ok(internal_error(&error)),
    };
    let mut body = schedule_json(&reminders.schedule);
    body["tenant_id"] = json!(tenant_id);
    body["time_zone"] = json!(reminders.time_zone.as_ref().map(ToString::to_string));
    body["inbox_url"] = json!(reminders.inbox_url);
    body["people_refiled"] = json!(refiled);
    Ok(json_response(200, &body))
}

/// `PUT …/users/{user_id}/reminders`: one person's own schedule, or `{"enabled": false}`.
pub(crate) async fn put_user_reminders(
    State(api): Api,
    Path((tenant_id, user_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    let user_id = crate::users::user_in_path(user_id)?;
    let schedule = user_schedule_from_json(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
    match api
        .directory
        .users(tenant_id, std::slice::from_ref(&user_id))
        .await
    {
        Ok(found) if found.is_empty() => {
            return Err(ApiError {
                status: 404,
                code: "not_found",
                message: format!(
                    "user_id: {user_id} is not a user of tenant {tenant_id}; PUT it to /v1/tenants/{tenant_id}/users first"
                ),
            })
        }
        Ok(_) => {}
        Err(error) => return Ok(internal_error(&error)),
    }
    let inbox = api.people_inbox();
    let saved = async {
        api.reminder_settings
            .save_user_schedule(tenant_id, &user_id, &schedule)
            .await?;
        inbox.refile(tenant_id, &user_id).await
    };
    Ok(match saved.await {
        Ok(key) => {
            let mut body = schedule_json(&schedule);
            body["tenant_id"] = json!(tenant_id);
            body["user_id"] = json!(user_id);
            body["reminder_slot"] = json!(key.map(|key| key.to_string()));
            json_response(200, &body)
        }
        Err(error) => internal_error(&error),
    })
}

/// `PUT …/kinds/{kind}`: a kind's label, digest group and channel; fields left out keep
/// their stored values.
pub(crate) async fn put_kind(
    State(api): Api,
    Path((tenant_id, kind)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let tenant_id = tenant(&tenant_id)?;
    check_identifier("kind", &kind).map_err(|e| ApiError::invalid(e.to_string()))?;
    let update = KindUpdate::from_json(&body).map_err(|e| ApiError::invalid(e.to_string()))?;
    let saved = async {
        let stored = api
            .reminder_settings
            .kind_settings(tenant_id, &kind)
            .await?
            .unwrap_or_default();
        let settings = stored.merged(&update.settings);
        api.reminder_settings
            .save_kind_settings(tenant_id, &kind, &settings)
            .await?;
        let channel_id = api.tenants.channel_for(tenant_id, &kind).await?;
        Ok::<_, approvals_core::ports::StoreError>((settings, channel_id))
    };
    if let Some(channel_id) = &update.channel_id {
        // The app must be in the channel: the same check as PUT …/channels/{kind}.
        let body = json!({"channel_id": channel_id}).to_string();
        let routed = crate::route_channel(
            State(api.clone()),
            Path((tenant_id.to_owned(), kind.clone())),
            body.into(),
        )
        .await?;
        if routed.status() != 200 {
            return Ok(routed);
        }
    }
    Ok(match saved.await {
        Ok((settings, channel_id)) => json_response(
            200,
            &json!({"tenant_id": tenant_id, "kind": kind, "label": settings.label_of(&kind),
                    "reminder_group": settings.group(), "channel_id": channel_id,
                    "attach_files": settings.attaches_files()}),
        ),
        Err(error) => internal_error(&error),
    })
}
