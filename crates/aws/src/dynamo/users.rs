//! The tenant's users and Slack identities in the single table.
//!
//! - `TENANT#{tenant}` / `USER#{user_id}`: a host user and its mapping, with
//!   `gsi1pk = USEREMAIL#{tenant}#{email}` so a Slack user who joins is found by email.
//! - `TENANT#{tenant}` / `SLACKUSER#{slack user id}`: the host user a Slack user is mapped
//!   to, and whether Slack deactivated them; read on every decision.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};

use super::{
    backend, conditional, from_item, s, tenant_pk, to_item, DynamoStore, Item, PENDING_INDEX,
};
use approvals_core::people::{Email, HostUser, HostUserId, MappingStatus, SlackIdentity};
use approvals_core::ports::{Page, StoreError, UserDirectory};

/// DynamoDB's BatchWriteItem and BatchGetItem limits.
const WRITE_BATCH: usize = 25;
const READ_BATCH: usize = 100;
/// Unprocessed items are retried this many times before the call fails.
const BATCH_ATTEMPTS: usize = 8;

fn user_sk(user_id: &HostUserId) -> String {
    format!("USER#{user_id}")
}

fn identity_sk(slack_user_id: &str) -> String {
    format!("SLACKUSER#{slack_user_id}")
}

fn email_index_key(tenant_id: &str, email: &Email) -> String {
    format!("USEREMAIL#{tenant_id}#{email}")
}

fn user_item(tenant_id: &str, user: &HostUser) -> Result<Item, StoreError> {
    let mut item = to_item(user)?;
    item.insert("pk".into(), s(tenant_pk(tenant_id)));
    item.insert("sk".into(), s(user_sk(&user.user_id)));
    item.insert("gsi1pk".into(), s(email_index_key(tenant_id, &user.email)));
    item.insert("gsi1sk".into(), s(user_sk(&user.user_id)));
    Ok(item)
}

fn identity_item(tenant_id: &str, identity: &SlackIdentity) -> Result<Item, StoreError> {
    let mut item = to_item(identity)?;
    item.insert("pk".into(), s(tenant_pk(tenant_id)));
    item.insert("sk".into(), s(identity_sk(&identity.slack_user_id)));
    Ok(item)
}

impl DynamoStore {
    /// Puts the items in batches, retrying what DynamoDB leaves unprocessed.
    pub(super) async fn put_all(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for chunk in items.chunks(WRITE_BATCH) {
            let mut requests: Vec<WriteRequest> = chunk
                .iter()
                .map(|item| {
                    PutRequest::builder()
                        .set_item(Some(item.clone()))
                        .build()
                        .map(|put| WriteRequest::builder().put_request(put).build())
                        .map_err(|e| StoreError::Corrupt(e.to_string()))
                })
                .collect::<Result<_, _>>()?;
            for attempt in 0.. {
                if requests.is_empty() {
                    break;
                }
                if attempt == BATCH_ATTEMPTS {
                    return Err(StoreError::Backend {
                        operation: "BatchWriteItem",
                        message: format!("{} items stayed unprocessed", requests.len()),
                    });
                }
                let answer = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| backend("BatchWriteItem", &e))?;
                requests = answer
                    .unprocessed_items
                    .and_then(|mut left| left.remove(&self.table))
                    .unwrap_or_default();
                if !requests.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        Ok(())
    }

    /// Reads the items of these sort keys under one partition, strongly consistent.
    async fn get_all(&self, pk: &str, sort_keys: &[String]) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        for chunk in sort_keys.chunks(READ_BATCH) {
            let mut keys: Vec<Item> = chunk
                .iter()
                .map(|sk| HashMap::from([("pk".into(), s(pk)), ("sk".into(), s(sk.as_str()))]))
                .collect();
            for attempt in 0.. {
                if keys.is_empty() {
                    break;
                }
                if attempt == BATCH_ATTEMPTS {
                    return Err(StoreError::Backend {
                        operation: "BatchGetItem",
                        message: format!("{} keys stayed unprocessed", keys.len()),
                    });
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let mut answer = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| backend("BatchGetItem", &e))?;
                found.extend(
                    answer
                        .responses
                        .as_mut()
                        .and_then(|r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                keys = answer
                    .unprocessed_keys
                    .and_then(|mut left| left.remove(&self.table))
                    .map(|left| left.keys)
                    .unwrap_or_default();
                if !keys.is_empty() {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
                }
            }
        }
        Ok(found)
    }
}

#[async_trait]
impl UserDirectory for DynamoStore {
    async fn save_users(&self, tenant_id: &str, users: &[HostUser]) -> Result<(), StoreError> {
        let ids: Vec<HostUserId> = users.iter().map(|u| u.user_id.clone()).collect();
        let before: HashMap<HostUserId, HostUser> = self
            .users(tenant_id, &ids)
            .await?
            .into_iter()
            .map(|user| (user.user_id.clone(), user))
            .collect();
        // A Slack user this host user left no longer points at them (unless someone else
        // took the identity meanwhile: the condition keeps theirs). Done first, so a crash
        // part-way never leaves a pointer at the wrong person.
        for user in users {
            let Some(old) = before
                .get(&user.user_id)
                .and_then(|old| old.slack_user_id.as_ref())
                .filter(|old| Some(*old) != user.slack_user_id.as_ref())
            else {
                continue;
            };
            let result = self
                .update_at(tenant_pk(tenant_id), &identity_sk(old))
                .update_expression("REMOVE user_id, email")
                .condition_expression("user_id = :me")
                .expression_attribute_values(":me", s(user.user_id.as_str()))
                .send()
                .await;
            conditional(result, "UpdateItem")?;
        }
        let mut items = Vec::with_capacity(users.len() * 2);
        let mut identities = std::collections::HashSet::new();
        for user in users {
            items.push(user_item(tenant_id, user)?);
            // A mapped user is an active Slack user: its identity points at them, written
            // every time so a retry after a crash repairs it. Two host users sharing one
            // email share one Slack user; its identity names the first.
            if let Some(slack_user_id) = &user.slack_user_id {
                if identities.insert(slack_user_id.clone()) {
                    items.push(identity_item(
                        tenant_id,
                        &SlackIdentity {
                            slack_user_id: slack_user_id.clone(),
                            user_id: Some(user.user_id.clone()),
                            email: Some(user.email.clone()),
                            deactivated: false,
                        },
                    )?);
                }
            }
        }
        self.put_all(items).await?;
        Ok(())
    }

    async fn users(
        &self,
        tenant_id: &str,
        user_ids: &[HostUserId],
    ) -> Result<Vec<HostUser>, StoreError> {
        let mut sort_keys: Vec<String> = user_ids.iter().map(user_sk).collect();
        sort_keys.sort();
        sort_keys.dedup();
        let mut found: HashMap<HostUserId, HostUser> = HashMap::new();
        for item in self.get_all(&tenant_pk(tenant_id), &sort_keys).await? {
            let user: HostUser = from_item(item)?;
            found.insert(user.user_id.clone(), user);
        }
        Ok(user_ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    async fn list_users(
        &self,
        tenant_id: &str,
        status: Option<MappingStatus>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<HostUser>, StoreError> {
        let mut items: Vec<HostUser> = Vec::new();
        let mut start = cursor.map(|after| {
            HashMap::from([
                ("pk".to_owned(), s(tenant_pk(tenant_id))),
                ("sk".to_owned(), s(format!("USER#{after}"))),
            ])
        });
        // A filtered page can come back short; keep reading until it is full or done.
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :user)")
                .expression_attribute_values(":pk", s(tenant_pk(tenant_id)))
                .expression_attribute_values(":user", s("USER#"))
                .consistent_read(true)
                .limit((limit + 1 - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            if let Some(status) = status {
                query = query
                    .filter_expression("#status = :status")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":status", s(status.as_str()));
            }
            let answer = query.send().await.map_err(|e| backend("Query", &e))?;
            for item in answer.items.unwrap_or_default() {
                items.push(from_item(item)?);
            }
            start = answer.last_evaluated_key;
            if items.len() > limit || start.is_none() {
                break;
            }
        }
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            items
                .last()
                .map(|user| user.user_id.to_string())
                .unwrap_or_default()
        });
        Ok(Page { items, next_cursor })
    }

    async fn users_with_email(
        &self,
        tenant_id: &str,
        email: &Email,
    ) -> Result<Vec<HostUser>, StoreError> {
        let answer = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .key_condition_expression("gsi1pk = :key")
            .expression_attribute_values(":key", s(email_index_key(tenant_id, email)))
            .send()
            .await
            .map_err(|e| backend("Query", &e))?;
        answer
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }

    async fn slack_identity(
        &self,
        tenant_id: &str,
        slack_user_id: &str,
    ) -> Result<Option<SlackIdentity>, StoreError> {
        self.get_item(tenant_pk(tenant_id), &identity_sk(slack_user_id))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn set_deactivated(
        &self,
        tenant_id: &str,
        slack_user_id: &str,
        deactivated: bool,
    ) -> Result<(), StoreError> {
        self.update_at(tenant_pk(tenant_id), &identity_sk(slack_user_id))
            .update_expression("SET slack_user_id = :id, deactivated = :off")
            .expression_attribute_values(":id", s(slack_user_id))
            .expression_attribute_values(
                ":off",
                aws_sdk_dynamodb::types::AttributeValue::Bool(deactivated),
            )
            .send()
            .await
            .map_err(|e| backend("UpdateItem", &e))?;
        Ok(())
    }
}
