//! Each request's audit trail, in its own partition: `APPROVAL#{id}` /
//! `AUDIT#{written, ns:020}#{n:02}#{random}`, in the order the changes were written (an
//! event's own `at` is in seconds, too coarse to order a click and its effects), read with
//! one Query a page, and kept `AUDIT_RETENTION_DAYS` through the table's TTL (`expires_at`).
//!
//! Written beside each change the store makes, and best-effort: the change has happened
//! whether or not its record could be written, so a failed record is logged, never retried
//! into a second change.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{approval_pk, backend, from_item, s, to_item, DynamoStore, Item};
use approvals_core::audit::AuditEvent;
use approvals_core::ports::{AuditTrail, Page, StoreError};

const AUDIT: &str = "AUDIT#";

fn audit_item(
    approval_id: &str,
    event: &AuditEvent,
    order: &str,
    retention_secs: i64,
) -> Result<Item, StoreError> {
    let mut item = to_item(event)?;
    item.insert("pk".into(), s(approval_pk(approval_id)));
    item.insert("sk".into(), s(format!("{AUDIT}{order}")));
    item.insert(
        "expires_at".into(),
        AttributeValue::N((event.at + retention_secs).to_string()),
    );
    Ok(item)
}

impl DynamoStore {
    pub(super) async fn write_audit(
        &self,
        approval_id: &str,
        events: impl IntoIterator<Item = AuditEvent>,
    ) {
        let written_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let suffix: u32 = rand::random();
        let items: Result<Vec<Item>, StoreError> = events
            .into_iter()
            .enumerate()
            .map(|(index, event)| {
                let order = format!("{written_ns:020}#{index:02}#{suffix:08x}");
                audit_item(approval_id, &event, &order, self.audit_retention_secs)
            })
            .collect();
        let written = match items {
            Ok(items) if items.is_empty() => return,
            Ok(items) => self.put_all(items).await,
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            tracing::warn!(approval_id, %error, "an audit record could not be written");
        }
    }
}

#[async_trait]
impl AuditTrail for DynamoStore {
    async fn audit_trail(
        &self,
        approval_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEvent>, StoreError> {
        let pk = approval_pk(approval_id);
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :audit)")
            .expression_attribute_values(":pk", s(pk.clone()))
            .expression_attribute_values(":audit", s(AUDIT))
            .limit(limit.clamp(1, 1000) as i32);
        if let Some(after) = after {
            if !after.starts_with(AUDIT) {
                return Err(StoreError::Corrupt(format!(
                    "{after:?} is not a cursor of this trail"
                )));
            }
            query = query
                .exclusive_start_key("pk", s(pk))
                .exclusive_start_key("sk", s(after));
        }
        let answer = query.send().await.map_err(|e| backend("Query", &e))?;
        let next_cursor = answer
            .last_evaluated_key
            .as_ref()
            .and_then(|key| key.get("sk"))
            .and_then(|sk| sk.as_s().ok())
            .cloned();
        let items = answer
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect::<Result<Vec<AuditEvent>, _>>()?;
        Ok(Page { items, next_cursor })
    }
}
