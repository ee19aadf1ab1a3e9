//! Request deadlines, one partition per quarter hour, for the 15-minute sweep.
//!
//! `DUE#{quarter start, epoch seconds}` / `APPROVAL#{id}#{expire|escalate}`, with
//! `approval_id`, `kind` and `due_at`: a sweep queries the quarters it covers and reads only
//! what is due in them.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{backend, s, DynamoStore};
use approvals_core::ports::{Deadline, DeadlineKind, DeadlineStore, StoreError};
use approvals_core::reminders::Slot;

fn due_pk(at: i64) -> String {
    format!("DUE#{}", Slot::containing(at).start())
}

fn due_sk(deadline: &Deadline) -> String {
    format!(
        "APPROVAL#{}#{}",
        deadline.approval_id,
        deadline.kind.as_str()
    )
}

fn kind_of(text: &str) -> Option<DeadlineKind> {
    match text {
        "escalate" => Some(DeadlineKind::Escalate),
        "expire" => Some(DeadlineKind::Expire),
        _ => None,
    }
}

#[async_trait]
impl DeadlineStore for DynamoStore {
    async fn add_deadline(&self, deadline: &Deadline, at: i64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(due_pk(at)))
            .item("sk", s(due_sk(deadline)))
            .item("approval_id", s(&deadline.approval_id))
            .item("kind", s(deadline.kind.as_str()))
            .item("due_at", AttributeValue::N(at.to_string()))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }

    async fn deadlines_in(&self, quarter: i64) -> Result<Vec<Deadline>, StoreError> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(due_pk(quarter)))
            .consistent_read(true)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| backend("Query", &e))?;
            self.count_read(page.scanned_count.max(0) as u64);
            for item in page.items.unwrap_or_default() {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
                if let (Some(approval_id), Some(kind)) = (
                    text("approval_id"),
                    text("kind").as_deref().and_then(kind_of),
                ) {
                    found.push(Deadline { approval_id, kind });
                }
            }
        }
        Ok(found)
    }

    async fn remove_deadline(&self, deadline: &Deadline, at: i64) -> Result<(), StoreError> {
        self.delete_at(due_pk(at), &due_sk(deadline))
            .send()
            .await
            .map_err(|e| backend("DeleteItem", &e))?;
        Ok(())
    }
}
