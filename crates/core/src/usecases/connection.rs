//! A tenant's connection to Slack: its status, a disconnect asked by the host, and the
//! disconnect of every tenant of an installation (uninstall, revoked tokens).

use serde_json::json;

use crate::domain::{ConnectionStatus, DisconnectReason, TenantLink};
use crate::ports::{
    BotTokens, CleanupQueue, HostEvent, HostNotifier, QueueError, RetireInstallation, SlackOAuth,
    StoreError, TenantStore, TokenError,
};
use crate::time::rfc3339;
use crate::usecases::tokens::DEAD_TOKEN_CODES;

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

/// The host's "Disconnect": unlinks the tenant and, when no other tenant uses the
/// installation, queues its retirement (revoke, then delete the tokens), which the worker
/// retries until done: a crash or a hung `auth.revoke` never leaves live tokens behind.
/// Asked again for a tenant already disconnected, it queues the retirement again.
/// `None` when the tenant never connected.
pub async fn disconnect_tenant(
    tenants: &dyn TenantStore,
    cleanup: &dyn CleanupQueue,
    notifier: &dyn HostNotifier,
    tenant_id: &str,
    now: i64,
) -> Result<Option<TenantLink>, DisconnectError> {
    let Some(mut link) = tenants.link(tenant_id).await? else {
        return Ok(None);
    };
    let was_active = link.status == ConnectionStatus::Active;
    if was_active {
        tenants
            .disconnect_tenant(tenant_id, DisconnectReason::HostRequest)
            .await?;
    }
    if !still_used(tenants, &link.installation_id, tenant_id).await?
        && tenants.installation(&link.installation_id).await?.is_some()
    {
        cleanup
            .retire_installation(&RetireInstallation {
                installation_id: link.installation_id.clone(),
                not_after: link.installed_at,
            })
            .await?;
    }
    if was_active {
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
    }
    Ok(Some(link))
}

#[derive(Debug, thiserror::Error)]
pub enum DisconnectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

#[derive(Debug, thiserror::Error)]
pub enum RetireError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("revoking the tokens failed: {0}")]
    Revoke(String),
}

/// The worker's half of a disconnect: revokes the installation's token at Slack, then
/// deletes it, unless a tenant uses it again or it was reinstalled since. Repeat-safe.
pub async fn retire_installation(
    tenants: &dyn TenantStore,
    oauth: &dyn SlackOAuth,
    tokens: &dyn BotTokens,
    retire: &RetireInstallation,
    now: i64,
) -> Result<bool, RetireError> {
    let id = retire.installation_id.as_str();
    let Some(installation) = tenants.installation(id).await? else {
        return Ok(false);
    };
    if installation.installed_at > retire.not_after || still_used(tenants, id, "").await? {
        tracing::info!(
            installation_id = id,
            "installation in use again; not retired"
        );
        return Ok(false);
    }
    match tokens.usable_token(&installation, now).await {
        Ok(token) => match oauth.revoke(&token).await {
            Ok(()) => {}
            Err(error)
                if error
                    .code()
                    .is_some_and(|code| DEAD_TOKEN_CODES.contains(&code)) => {}
            Err(error) => return Err(RetireError::Revoke(error.to_string())),
        },
        Err(TokenError::Revoked) => {}
        Err(error) => return Err(RetireError::Revoke(error.to_string())),
    }
    Ok(tenants.delete_installation(id, retire.not_after).await?)
}

/// Whether another tenant is linked to the installation, from the installation's own
/// member set (a consistent read, unlike the index).
async fn still_used(
    tenants: &dyn TenantStore,
    installation_id: &str,
    except: &str,
) -> Result<bool, StoreError> {
    let members = tenants
        .installation_members(installation_id)
        .await?
        .unwrap_or_default();
    Ok(members.iter().any(|tenant| tenant != except))
}

/// Slack's side ended the installation: delete its tokens unless it was (re)installed after
/// `event_time` (a stale event never deletes fresh tokens), then disconnect every tenant
/// whose link predates the event. Returns false when nothing was done.
pub async fn disconnect_everywhere(
    tenants: &dyn TenantStore,
    notifier: &dyn HostNotifier,
    installation_id: &str,
    event_time: i64,
    reason: DisconnectReason,
) -> Result<bool, StoreError> {
    let members = tenants.installation_members(installation_id).await?;
    let deleted = tenants
        .delete_installation(installation_id, event_time)
        .await?;
    if !deleted && tenants.installation(installation_id).await?.is_some() {
        tracing::info!(
            installation_id,
            event_time,
            "event predates the current installation; ignored"
        );
        return Ok(false);
    }
    // Deleted now: its members are the tenants to disconnect. Deleted by an earlier attempt
    // that died before unlinking everyone: the index still lists them.
    let candidates = match members {
        Some(members) => members,
        None => tenants.active_tenants_of(installation_id).await?,
    };
    let now = crate::time::unix_now();
    let mut disconnected = false;
    for tenant_id in candidates {
        let Some(link) = tenants.link(&tenant_id).await? else {
            continue;
        };
        if link.status != ConnectionStatus::Active
            || link.installation_id != installation_id
            || link.installed_at > event_time
        {
            continue;
        }
        tenants.disconnect_tenant(&tenant_id, reason).await?;
        notify(
            notifier,
            disconnected_event(&tenant_id, installation_id, reason, now),
        )
        .await;
        disconnected = true;
    }
    Ok(deleted || disconnected)
}
