//! A tenant's connection to Slack: its status, a disconnect asked by the host, and the
//! disconnect of every tenant of an installation (uninstall, revoked tokens).

use serde_json::{json, Value};

use crate::domain::{ConnectionStatus, DisconnectReason, TenantLink};
use crate::ports::{HostEvent, HostNotifier, SlackOAuth, StoreError, TenantStore};
use crate::usecases::decide::rfc3339;

/// The status API's answer.
pub fn status_body(tenant_id: &str, link: Option<&TenantLink>) -> Value {
    match link {
        None => json!({"tenant_id": tenant_id, "status": ConnectionStatus::NotConnected,
                       "team_id": null, "team_name": null, "enterprise_id": null,
                       "installed_at": null, "installed_by": null}),
        Some(link) => json!({
            "tenant_id": tenant_id,
            "status": link.status,
            "team_id": link.team_id.clone().unwrap_or_else(|| link.installation_id.clone()),
            "team_name": link.team_name,
            "enterprise_id": link.enterprise_id,
            "installed_at": rfc3339(link.installed_at),
            "installed_by": link.installed_by,
            "disconnect_reason": link.disconnect_reason,
        }),
    }
}

pub fn connected_event(link: &TenantLink, now: i64) -> HostEvent {
    HostEvent {
        id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
        kind: "slack.connected".into(),
        created_at: rfc3339(now),
        data: json!({"tenant_id": link.tenant_id,
                     "team_id": link.team_id.clone().unwrap_or_else(|| link.installation_id.clone()),
                     "team_name": link.team_name, "enterprise_id": link.enterprise_id,
                     "installed_by": link.installed_by}),
    }
}

pub fn disconnected_event(
    tenant_id: &str,
    installation_id: &str,
    reason: DisconnectReason,
    now: i64,
) -> HostEvent {
    HostEvent {
        id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
        kind: "slack.disconnected".into(),
        created_at: rfc3339(now),
        data: json!({"tenant_id": tenant_id, "team_id": installation_id, "reason": reason}),
    }
}

/// Tells the host; a queue hiccup is logged rather than failing what already happened.
pub async fn notify(notifier: &dyn HostNotifier, event: HostEvent) {
    if let Err(error) = notifier.notify(&event).await {
        tracing::error!(%error, kind = %event.kind, "could not queue the host notification");
    }
}

/// The host's "Disconnect": unlinks the tenant, and revokes and deletes the tokens when no
/// other tenant uses the installation. `None` when the tenant never connected.
pub async fn disconnect_tenant(
    tenants: &dyn TenantStore,
    oauth: &dyn SlackOAuth,
    notifier: &dyn HostNotifier,
    tenant_id: &str,
    now: i64,
) -> Result<Option<TenantLink>, StoreError> {
    let Some(mut link) = tenants.link(tenant_id).await? else {
        return Ok(None);
    };
    if link.status != ConnectionStatus::Active {
        return Ok(Some(link));
    }
    tenants
        .disconnect_tenant(tenant_id, DisconnectReason::HostRequest)
        .await?;
    if tenants
        .active_tenants_of(&link.installation_id)
        .await?
        .is_empty()
    {
        if let Some(installation) = tenants.installation(&link.installation_id).await? {
            if let Err(error) = oauth.revoke(&installation.bot_token).await {
                tracing::warn!(%error, installation_id = %link.installation_id, "auth.revoke failed; deleting the tokens anyway");
            }
        }
        tenants
            .delete_installation(&link.installation_id, i64::MAX)
            .await?;
    }
    notify(
        notifier,
        disconnected_event(
            tenant_id,
            &link.installation_id,
            DisconnectReason::HostRequest,
            now,
        ),
    )
    .await;
    link.status = ConnectionStatus::Disconnected;
    link.disconnect_reason = Some(DisconnectReason::HostRequest);
    Ok(Some(link))
}

/// Slack's side ended the installation: delete its tokens unless it was installed after
/// `event_time` (a stale event), then disconnect every tenant linked to it.
/// Returns false when nothing was done.
pub async fn disconnect_everywhere(
    tenants: &dyn TenantStore,
    notifier: &dyn HostNotifier,
    installation_id: &str,
    event_time: i64,
    reason: DisconnectReason,
) -> Result<bool, StoreError> {
    let Some(installation) = tenants.installation(installation_id).await? else {
        return Ok(false);
    };
    if installation.installed_at > event_time {
        tracing::info!(
            installation_id,
            event_time,
            installed_at = installation.installed_at,
            "event predates the current installation; ignored"
        );
        return Ok(false);
    }
    let now = crate::unix_now();
    for tenant_id in tenants.active_tenants_of(installation_id).await? {
        tenants.disconnect_tenant(&tenant_id, reason).await?;
        notify(
            notifier,
            disconnected_event(&tenant_id, installation_id, reason, now),
        )
        .await;
    }
    // Conditional again: a reinstall racing with this event keeps its fresh tokens.
    tenants
        .delete_installation(installation_id, event_time)
        .await?;
    Ok(true)
}
