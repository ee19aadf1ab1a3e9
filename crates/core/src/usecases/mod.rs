//! Use cases: one module per thing a user or the host can make happen.

pub mod ack_click;
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
