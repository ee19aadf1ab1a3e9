//! Notes of approvals whose effects wait for a workspace to be installed again.
//!
//! `PARKED#{installation}` / `APPROVAL#{id}`, with `parked_at`: one partition per
//! installation, so a reinstall reads exactly the approvals it has to resume.

use aws_sdk_dynamodb::types::AttributeValue;

use super::{backend, conditional, s, DynamoStore};
use approvals_core::ports::StoreError;

fn parked_pk(installation_id: &str) -> String {
    format!("PARKED#{installation_id}")
}

fn parked_sk(approval_id: &str) -> String {
    format!("APPROVAL#{approval_id}")
}

impl DynamoStore {
    pub(super) async fn put_parked(
        &self,
        installation_id: &str,
        approval_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(parked_pk(installation_id)))
            .item("sk", s(parked_sk(approval_id)))
            .item("approval_id", s(approval_id))
            .item("parked_at", AttributeValue::N(now.to_string()))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }

    pub(super) async fn query_parked(
        &self,
        installation_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let mut approvals = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(parked_pk(installation_id)))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| backend("Query", &e))?;
            if let Some(id) = item.get("approval_id").and_then(|v| v.as_s().ok()) {
                approvals.push(id.clone());
            }
        }
        Ok(approvals)
    }

    pub(super) async fn delete_parked(
        &self,
        installation_id: &str,
        approval_id: &str,
        resumed_at: i64,
    ) -> Result<(), StoreError> {
        let deleted = self
            .delete_at(parked_pk(installation_id), &parked_sk(approval_id))
            .condition_expression("parked_at <= :resumed")
            .expression_attribute_values(":resumed", AttributeValue::N(resumed_at.to_string()))
            .send()
            .await;
        // Renewed meanwhile (or already gone): the note stays for the next reinstall.
        conditional(deleted, "DeleteItem")?;
        Ok(())
    }
}
