//! Choosing the channel that receives a tenant's approvals of one kind.

use crate::domain::{check_channel_id, check_identifier, parse_json, ValidationError};
use crate::ports::{StoreError, TenantStore};

#[derive(Debug, thiserror::Error)]
pub enum SetChannelError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelBody {
    channel_id: String,
}

/// Stores the route; the same call again is harmless.
pub async fn set_channel(
    tenants: &dyn TenantStore,
    tenant_id: &str,
    kind: &str,
    body: &[u8],
) -> Result<String, SetChannelError> {
    check_identifier("tenant_id", tenant_id)?;
    check_identifier("kind", kind)?;
    let ChannelBody { channel_id } = parse_json(body)?;
    check_channel_id("channel_id", &channel_id)?;
    tenants.set_channel(tenant_id, kind, &channel_id).await?;
    Ok(channel_id)
}
