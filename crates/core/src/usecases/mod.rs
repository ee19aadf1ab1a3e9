//! Use cases: one module per thing a user or the host can make happen.

pub mod ack_click;
pub mod attach_file;
pub mod comments;
pub mod connection;
pub mod create_approval;
pub mod deadlines;
pub mod decide;
pub mod effects;
pub mod host_decisions;
pub mod inbox;
pub mod install;
pub mod notify;
pub mod people;
pub mod reminders;
pub mod set_channel;
pub mod slack_events;
pub mod thread_comments;
pub mod tokens;
pub mod transition;
pub mod welcome;

use crate::domain::Approval;
use crate::ports::{ApprovalStore, StoreError};

/// The approval, if it is `tenant_id`'s: another tenant's reads as missing, so nobody learns
/// that it exists.
pub async fn tenants_approval(
    approvals: &dyn ApprovalStore,
    approval_id: &str,
    tenant_id: &str,
) -> Result<Option<Approval>, StoreError> {
    Ok(approvals
        .get(approval_id)
        .await?
        .filter(|approval| approval.request.tenant_id == tenant_id))
}

/// Runs `work` unless `key` is held: the key is held as a short lease while it runs, kept
/// for `keep_secs` once it succeeded, and given back when it failed, so a redelivery does
/// the work again. `None`: someone did it already, or is doing it now.
pub(crate) async fn once_per_key<T, E: From<StoreError>>(
    guards: &dyn ApprovalStore,
    key: &str,
    now: i64,
    (lease_secs, keep_secs): (i64, i64),
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<Option<T>, E> {
    if !guards.claim_once(key, now, now + lease_secs).await? {
        return Ok(None);
    }
    match work.await {
        Ok(done) => {
            guards.extend_claim(key, now + keep_secs).await?;
            Ok(Some(done))
        }
        Err(error) => {
            if let Err(release) = guards.release_claim(key).await {
                tracing::warn!(%release, key, "could not give the key back; its lease lapses by itself");
            }
            Err(error)
        }
    }
}
