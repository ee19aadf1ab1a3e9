//! The single-table DynamoDB store (`APP_TABLE`): approvals, tenants, installations, guards.
//!
//! Keys (`pk`, `sk`):
//! - `APPROVAL#{id}` / `REFUSAL#{command id}`: a click that changed nothing, and why.
//! - `APPROVAL#{id}` / `APPROVAL`: the request, its state (`status`, `votes`, `ending`,
//!   and `version`, which every transition is conditioned on), its Slack `copies` and its
//!   `outbox` map of effects; while pending also `gsi1pk = PENDING#{installation}`
//!   and `gsi1sk = {created_at}#{id}` (a sparse index of what still waits for a decision);
//!   always `gsi2pk = APPROVALS#{tenant}` and `gsi2sk = {status}#{created_at}#{id}`, the
//!   tenant's listing by status, newest first.
//! - `TENANT#{tenant}` / `SLACK` links a tenant to an installation;
//!   `TENANT#{tenant}` / `CHANNEL#{kind}` routes a kind of approval to a channel.
//! - `INSTALLATION#{team or enterprise id}` / `INSTALLATION`, tokens encrypted, with the
//!   string set `tenants` of the tenants linked to it; active links also carry
//!   `gsi1pk = TENANTS#{installation}`.
//! - `INSTALL_LINK#{sha256 of the token}` and `OAUTH_STATE#{state}`: the install flow's
//!   one-time records, expiring through TTL a day after they stop working.
//! - `CLAIM#{key}` / `CLAIM`: at-most-once guards that expire through `expires_at` (TTL).
//! - `APPROVAL#{id}` / `AUDIT#{written}#{n}#{random}`: the request's audit trail, kept
//!   `AUDIT_RETENTION_DAYS` through TTL: see [`audit`].
//! - `APPROVAL#{id}` / `COMMENT#{comment id}`: the host's comments: see [`comments`].
//! - `DUE#{quarter}` / `APPROVAL#{id}`: request deadlines by quarter hour: see [`deadlines`].
//! - The tenant's users and Slack identities: see [`users`]; plain notifications: see
//!   [`notifications`]; approvals waiting for a reinstall: see [`parked`].
//! - People's inboxes, reminder settings and digests: see [`inbox`].

mod audit;
mod comments;
mod deadlines;
mod files;
mod inbox;
mod notifications;
mod parked;
mod reseal;
mod users;

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use crate::cipher::{EncryptedToken, TokenCipher};
use approvals_core::domain::{
    Approval, ConnectionStatus, CopyRole, DisconnectReason, InstallLink, Installation, ListCursor,
    MessageCopy, OAuthState, RefusedClick, TenantLink,
};
use approvals_core::machine::Status;
use approvals_core::outbox::OutboxEntry;
use approvals_core::ports::{
    ApprovalStore, Commit, InstallFlowStore, LinkTake, Page, StoreError, TenantStore,
};
use approvals_core::secret::SecretToken;
pub use reseal::Resealed;

type Item = HashMap<String, AttributeValue>;

/// The table's one GSI, `gsi1`, overloaded by key prefix: `PENDING#` (approvals waiting for
/// a decision), `TENANTS#` (active tenant links) and `USEREMAIL#` (users by email).
pub const PENDING_INDEX: &str = "gsi1";
/// The tenant's approvals by status: `gsi2`.
pub const LISTING_INDEX: &str = "gsi2";

fn listing_pk(tenant_id: &str) -> String {
    format!("APPROVALS#{tenant_id}")
}

fn listing_sk(status: Status, created_at: i64, approval_id: &str) -> String {
    format!("{}#{created_at:012}#{approval_id}", status.as_str())
}

pub struct DynamoStore {
    client: Client,
    table: String,
    cipher: TokenCipher,
    items_read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// How long audit records are kept (TTL), `AUDIT_RETENTION_DAYS`.
    audit_retention_secs: i64,
}

/// `AUDIT_RETENTION_DAYS`, default 400: whole days from 1 to 3,650.
fn audit_retention_days() -> Result<i64, approvals_core::config::ConfigError> {
    let Ok(raw) = std::env::var("AUDIT_RETENTION_DAYS") else {
        return Ok(approvals_core::audit::DEFAULT_RETENTION_DAYS);
    };
    match raw.trim().parse::<i64>() {
        Ok(days) if (1..=3650).contains(&days) => Ok(days),
        _ => Err(approvals_core::config::ConfigError::InvalidVariable(
            "AUDIT_RETENTION_DAYS",
            format!("{raw:?} is not a whole number of days from 1 to 3650"),
        )),
    }
}

impl DynamoStore {
    /// An UpdateItem on one item of the table.
    fn update_at(
        &self,
        pk: String,
        sk: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
    }

    /// A DeleteItem on one item of the table.
    fn delete_at(
        &self,
        pk: String,
        sk: &str,
    ) -> aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
    }

    /// The store over a client built from the shared SDK configuration, sealing tokens
    /// under the application secret's keys.
    pub fn from_secrets(
        aws: &aws_config::SdkConfig,
        table: impl Into<String>,
        secrets: &approvals_core::config::AppSecrets,
    ) -> Result<Self, approvals_core::config::ConfigError> {
        Ok(
            Self::from_config(aws, table, TokenCipher::from_secrets(secrets)?)
                .keeping_audit_for(audit_retention_days()?),
        )
    }

    /// Keeps audit records `days` days (TTL).
    pub fn keeping_audit_for(mut self, days: i64) -> Self {
        self.audit_retention_secs = days * 86_400;
        self
    }

    /// The store for a function that never reads or writes a token (the reminder run): it
    /// needs neither the application secret nor its keys, and any sealed token it met would
    /// fail to open under the throwaway key.
    pub fn without_token_keys(
        aws: &aws_config::SdkConfig,
        table: impl Into<String>,
    ) -> Result<Self, approvals_core::config::ConfigError> {
        use rand::RngCore as _;
        let mut throwaway = [0_u8; 32];
        rand::rng().fill_bytes(&mut throwaway);
        Ok(Self::from_config(aws, table, TokenCipher::new(throwaway))
            .keeping_audit_for(audit_retention_days()?))
    }

    /// The store over a client built from the shared SDK configuration.
    pub fn from_config(
        aws: &aws_config::SdkConfig,
        table: impl Into<String>,
        cipher: TokenCipher,
    ) -> Self {
        Self::new(Client::new(aws), table, cipher)
    }

    pub fn new(client: Client, table: impl Into<String>, cipher: TokenCipher) -> Self {
        Self {
            client,
            table: table.into(),
            cipher,
            items_read: Default::default(),
            audit_retention_secs: approvals_core::audit::DEFAULT_RETENTION_DAYS * 86_400,
        }
    }

    /// Items read so far (by GetItem and by this store's inbox queries): lets a test show
    /// that a reminder run reads in proportion to what is pending, not to the table.
    pub fn items_read(&self) -> u64 {
        self.items_read.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_read(&self, items: u64) {
        self.items_read
            .fetch_add(items, std::sync::atomic::Ordering::Relaxed);
    }

    async fn get_item(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let answer = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", &e))?;
        self.count_read(u64::from(answer.item.is_some()));
        Ok(answer.item)
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn backend<E: std::error::Error>(operation: &'static str, error: &E) -> StoreError {
    StoreError::Backend {
        operation,
        message: crate::sdk_error_text(error),
    }
}

fn to_item<T: Serialize>(value: &T) -> Result<Item, StoreError> {
    serde_dynamo::to_item(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn from_item<T: for<'de> Deserialize<'de>>(item: Item) -> Result<T, StoreError> {
    serde_dynamo::from_item(item).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn to_attribute<T: Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_dynamo::to_attribute_value(value).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn approval_pk(id: &str) -> String {
    format!("APPROVAL#{id}")
}
const APPROVAL_SK: &str = "APPROVAL";

/// The outcome of a conditional write: `Some(output)` when it happened, `None` when its
/// condition did not hold; any other failure is an error.
fn conditional<T, E, R>(
    result: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
    operation: &'static str,
) -> Result<Option<T>, StoreError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match result {
        Ok(output) => Ok(Some(output)),
        Err(error)
            if error.as_service_error().and_then(|e| e.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(None)
        }
        Err(error) => Err(backend(operation, &error)),
    }
}

#[async_trait]
impl ApprovalStore for DynamoStore {
    async fn insert_if_absent(&self, approval: &Approval) -> Result<Option<Approval>, StoreError> {
        let mut item = to_item(approval)?;
        item.insert("pk".into(), s(approval_pk(&approval.id)));
        item.insert("sk".into(), s(APPROVAL_SK));
        if approval.status() == Status::Pending {
            item.insert(
                "gsi1pk".into(),
                s(format!("PENDING#{}", approval.installation_id)),
            );
            item.insert(
                "gsi1sk".into(),
                s(format!("{:012}#{}", approval.created_at, approval.id)),
            );
        }
        item.insert("gsi2pk".into(), s(listing_pk(&approval.request.tenant_id)));
        item.insert(
            "gsi2sk".into(),
            s(listing_sk(
                approval.status(),
                approval.created_at,
                &approval.id,
            )),
        );
        if self.put_if_absent(item).await? {
            self.write_audit(&approval.id, [approvals_core::audit::created(approval)])
                .await;
            Ok(None)
        } else {
            self.get(&approval.id).await
        }
    }

    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        self.get_item(approval_pk(approval_id), APPROVAL_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn add_copy(&self, approval_id: &str, copy: &MessageCopy) -> Result<(), StoreError> {
        // A reply in this copy's thread is a comment on the request. The thread's index is
        // written first: an index without its copy is harmless, a copy whose replies
        // cannot be traced loses them. It is keyed by workspace too: channel ids and ts
        // are unique only within one.
        if copy.role != CopyRole::Digest {
            let item = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", s(approval_pk(approval_id)))
                .key("sk", s(APPROVAL_SK))
                .projection_expression("installation_id")
                .send()
                .await
                .map_err(|e| backend("GetItem", &e))?;
            let installation_id = item
                .item
                .as_ref()
                .and_then(|item| item.get("installation_id"))
                .and_then(|id| id.as_s().ok());
            if let Some(installation_id) = installation_id {
                let thread = comments::ThreadOf {
                    approval_id: approval_id.to_owned(),
                };
                self.put_value(
                    comments::thread_pk(installation_id, &copy.channel_id, &copy.message_ts),
                    comments::THREAD_SK,
                    &thread,
                )
                .await?;
            }
        }
        let answer = self
            .update_at(approval_pk(approval_id), APPROVAL_SK)
            .update_expression("SET copies.#copy = :copy")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#copy", copy.key())
            .expression_attribute_values(":copy", to_attribute(copy)?)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedOld)
            .send()
            .await
            .map_err(|e| backend("UpdateItem", &e))?;
        // The same copy recorded again (a redelivery) is no new post; a new digest replacing
        // the person's last one is.
        let before = answer
            .attributes
            .as_ref()
            .and_then(|old| old.get("copies"))
            .and_then(|copies| copies.as_m().ok())
            .and_then(|copies| copies.get(&copy.key()))
            .and_then(|old| serde_dynamo::from_attribute_value::<_, MessageCopy>(old.clone()).ok());
        if before.as_ref() != Some(copy) {
            self.write_audit(approval_id, [approvals_core::audit::copy_posted(copy)])
                .await;
        }
        Ok(())
    }

    async fn delete_untouched(&self, approval_id: &str) -> Result<bool, StoreError> {
        let deleted = self
            .delete_at(approval_pk(approval_id), APPROVAL_SK)
            .condition_expression(
                "#status = :pending AND (attribute_not_exists(version) OR version = :zero) \
                 AND (attribute_not_exists(copies) OR size(copies) = :zero)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":pending", to_attribute(&Status::Pending)?)
            .expression_attribute_values(":zero", AttributeValue::N("0".into()))
            .send()
            .await;
        Ok(conditional(deleted, "DeleteItem")?.is_some())
    }

    async fn commit(
        &self,
        approval_id: &str,
        expected_version: u64,
        commit: &Commit,
    ) -> Result<bool, StoreError> {
        let state = &commit.state;
        let mut set = vec![
            "#status = :status",
            "step = :step",
            "votes = :votes",
            "version = :version",
            "gsi2sk = :listed",
            // An escalation adds approvers to the policy.
            "policy = :policy",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
        let mut update = self
            .update_at(approval_pk(approval_id), APPROVAL_SK)
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", to_attribute(&state.status)?)
            .expression_attribute_values(":step", to_attribute(&state.step)?)
            .expression_attribute_values(":votes", to_attribute(&state.votes)?)
            .expression_attribute_values(":version", to_attribute(&state.version)?)
            .expression_attribute_values(":policy", to_attribute(&state.policy)?)
            .expression_attribute_values(
                ":listed",
                s(listing_sk(state.status, commit.created_at, approval_id)),
            )
            .expression_attribute_values(":expected", to_attribute(&expected_version)?)
            .expression_attribute_values(":copies", to_attribute(&commit.copies_seen)?);
        if let Some(ending) = &state.ending {
            set.push("ending = :ending".into());
            update = update.expression_attribute_values(":ending", to_attribute(ending)?);
        }
        for (index, (key, entry)) in commit.outbox.iter().enumerate() {
            set.push(format!("outbox.#o{index} = :o{index}"));
            update = update
                .expression_attribute_names(format!("#o{index}"), key)
                .expression_attribute_values(format!(":o{index}"), to_attribute(entry)?);
        }
        if let Some(command_id) = &commit.command_id {
            set.push("applied = list_append(if_not_exists(applied, :none), :command)".into());
            update = update
                .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
                .expression_attribute_values(":command", AttributeValue::L(vec![s(command_id)]));
        }
        let mut expression = format!("SET {}", set.join(", "));
        if state.status.is_final() {
            // Out of the index of what still waits for a decision.
            expression.push_str(" REMOVE gsi1pk, gsi1sk");
        }
        let condition = if expected_version == 0 {
            "attribute_exists(pk) AND (attribute_not_exists(version) OR version = :expected) \
             AND size(copies) = :copies"
        } else {
            "version = :expected AND size(copies) = :copies"
        };
        let written = update
            .update_expression(expression)
            .condition_expression(condition)
            .send()
            .await;
        let committed = conditional(written, "UpdateItem")?.is_some();
        if committed {
            self.write_audit(approval_id, commit.audit.iter().cloned())
                .await;
        }
        Ok(committed)
    }

    async fn add_effect(
        &self,
        approval_id: &str,
        key: &str,
        entry: &OutboxEntry,
    ) -> Result<bool, StoreError> {
        let added = self
            .update_at(approval_pk(approval_id), APPROVAL_SK)
            .update_expression("SET outbox.#key = :entry")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(outbox.#key)")
            .expression_attribute_names("#key", key)
            .expression_attribute_values(":entry", to_attribute(entry)?)
            .send()
            .await;
        Ok(conditional(added, "UpdateItem")?.is_some())
    }

    async fn lease_effect(
        &self,
        approval_id: &str,
        key: &str,
        entry: &OutboxEntry,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let leased = self
            .update_at(approval_pk(approval_id), APPROVAL_SK)
            .update_expression("SET outbox.#key.leased_until = :until")
            .condition_expression(
                "outbox.#key.seq = :seq AND outbox.#key.for_version = :for_version \
                 AND outbox.#key.attempts = :attempts AND outbox.#key.done = :false \
                 AND attribute_not_exists(outbox.#key.failed) \
                 AND (attribute_not_exists(outbox.#key.leased_until) \
                      OR outbox.#key.leased_until <= :now)",
            )
            .expression_attribute_names("#key", key)
            .expression_attribute_values(":until", to_attribute(&until)?)
            .expression_attribute_values(":attempts", to_attribute(&entry.attempts)?)
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":now", to_attribute(&now)?)
            .expression_attribute_values(":seq", to_attribute(&entry.seq)?)
            .expression_attribute_values(":for_version", to_attribute(&entry.for_version)?)
            .send()
            .await;
        Ok(conditional(leased, "UpdateItem")?.is_some())
    }

    async fn save_effect(
        &self,
        approval_id: &str,
        key: &str,
        entry: &OutboxEntry,
    ) -> Result<bool, StoreError> {
        let saved = self
            .update_at(approval_pk(approval_id), APPROVAL_SK)
            .update_expression("SET outbox.#key = :entry")
            .condition_expression(
                "outbox.#key.seq = :seq AND outbox.#key.for_version = :for_version",
            )
            .expression_attribute_names("#key", key)
            .expression_attribute_values(":entry", to_attribute(entry)?)
            .expression_attribute_values(":seq", to_attribute(&entry.seq)?)
            .expression_attribute_values(":for_version", to_attribute(&entry.for_version)?)
            .send()
            .await;
        let saved = conditional(saved, "UpdateItem")?.is_some();
        if saved {
            self.write_audit(approval_id, approvals_core::audit::effect(key, entry))
                .await;
        }
        Ok(saved)
    }

    async fn record_refusal(
        &self,
        approval_id: &str,
        refusal: &RefusedClick,
    ) -> Result<(), StoreError> {
        let mut item = to_item(refusal)?;
        item.insert("pk".into(), s(approval_pk(approval_id)));
        item.insert("sk".into(), s(format!("REFUSAL#{}", refusal.command_id)));
        // A redelivered command is the same refusal: the first record stays.
        if self.put_if_absent(item).await? {
            self.write_audit(approval_id, [approvals_core::audit::click_refused(refusal)])
                .await;
        }
        Ok(())
    }

    async fn refusals(&self, approval_id: &str) -> Result<Vec<RefusedClick>, StoreError> {
        let mut refusals: Vec<RefusedClick> = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :refusal)")
            .expression_attribute_values(":pk", s(approval_pk(approval_id)))
            .expression_attribute_values(":refusal", s("REFUSAL#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            refusals.push(from_item(item.map_err(|e| backend("Query", &e))?)?);
        }
        refusals.sort_by_key(|refusal| refusal.at);
        Ok(refusals)
    }

    async fn claim_once(&self, key: &str, now: i64, expires_at: i64) -> Result<bool, StoreError> {
        let claimed = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("CLAIM#{key}")))
            .item("sk", s("CLAIM"))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        Ok(conditional(claimed, "PutItem")?.is_some())
    }

    async fn claim_expires_at(&self, key: &str) -> Result<Option<i64>, StoreError> {
        let item = self.get_item(format!("CLAIM#{key}"), "CLAIM").await?;
        Ok(item
            .as_ref()
            .and_then(|item| item.get("expires_at"))
            .and_then(|value| value.as_n().ok())
            .and_then(|n| n.parse().ok()))
    }

    async fn extend_claim(&self, key: &str, expires_at: i64) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("CLAIM#{key}")))
            .item("sk", s("CLAIM"))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }

    async fn release_claim(&self, key: &str) -> Result<(), StoreError> {
        self.delete_at(format!("CLAIM#{key}"), "CLAIM")
            .send()
            .await
            .map_err(|e| backend("DeleteItem", &e))?;
        Ok(())
    }

    async fn list(
        &self,
        tenant_id: &str,
        status: Option<Status>,
        cursor: Option<&ListCursor>,
        limit: usize,
    ) -> Result<Page<Approval>, StoreError> {
        let mut start = cursor.map(|after| {
            HashMap::from([
                ("pk".to_owned(), s(approval_pk(&after.approval_id))),
                ("sk".to_owned(), s(APPROVAL_SK)),
                ("gsi2pk".to_owned(), s(listing_pk(tenant_id))),
                (
                    "gsi2sk".to_owned(),
                    s(listing_sk(
                        after.status,
                        after.created_at,
                        &after.approval_id,
                    )),
                ),
            ])
        });
        let mut items: Vec<Approval> = Vec::new();
        // A query answers at most 1 MB: keep reading until the page is full or the index ends.
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(LISTING_INDEX)
                .scan_index_forward(false)
                .expression_attribute_values(":pk", s(listing_pk(tenant_id)))
                .limit((limit + 1 - items.len()) as i32)
                .set_exclusive_start_key(start.take());
            query = match status {
                Some(status) => query
                    .key_condition_expression("gsi2pk = :pk AND begins_with(gsi2sk, :status)")
                    .expression_attribute_values(":status", s(format!("{}#", status.as_str()))),
                None => query.key_condition_expression("gsi2pk = :pk"),
            };
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
                .map(|approval| ListCursor::after(approval).to_string())
                .unwrap_or_default()
        });
        Ok(Page { items, next_cursor })
    }

    async fn park(
        &self,
        installation_id: &str,
        approval_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.put_parked(installation_id, approval_id, now).await
    }

    async fn parked(&self, installation_id: &str) -> Result<Vec<String>, StoreError> {
        self.query_parked(installation_id).await
    }

    async fn unpark(
        &self,
        installation_id: &str,
        approval_id: &str,
        resumed_at: i64,
    ) -> Result<(), StoreError> {
        self.delete_parked(installation_id, approval_id, resumed_at)
            .await
    }
}

fn tenant_pk(tenant_id: &str) -> String {
    format!("TENANT#{tenant_id}")
}

fn installation_pk(installation_id: &str) -> String {
    format!("INSTALLATION#{installation_id}")
}
const INSTALLATION_SK: &str = "INSTALLATION";

/// The stored shape of an installation: tokens only ever encrypted.
#[derive(Serialize, Deserialize)]
struct StoredInstallation {
    team_id: Option<String>,
    team_name: Option<String>,
    enterprise_id: Option<String>,
    enterprise_name: Option<String>,
    is_enterprise_install: bool,
    bot_user_id: String,
    app_id: String,
    scopes: Vec<String>,
    installed_by: Option<String>,
    installed_at: i64,
    bot_token: EncryptedToken,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bot_refresh_token: Option<EncryptedToken>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bot_token_expires_at: Option<i64>,
}

/// What a token ciphertext is bound to: its installation and field.
fn token_context(installation_id: &str, field: &str) -> String {
    format!("{installation_id}/{field}")
}

fn link_pk_sk(tenant_id: &str) -> (String, &'static str) {
    (tenant_pk(tenant_id), "SLACK")
}

fn tenants_index_key(installation_id: &str) -> String {
    format!("TENANTS#{installation_id}")
}

#[async_trait]
impl TenantStore for DynamoStore {
    async fn channel_for(&self, tenant_id: &str, kind: &str) -> Result<Option<String>, StoreError> {
        let item = self
            .get_item(tenant_pk(tenant_id), &format!("CHANNEL#{kind}"))
            .await?;
        Ok(item
            .as_ref()
            .and_then(|item| item.get("channel_id"))
            .and_then(|value| value.as_s().ok())
            .cloned())
    }

    async fn set_channel(
        &self,
        tenant_id: &str,
        kind: &str,
        channel_id: &str,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(tenant_pk(tenant_id)))
            .item("sk", s(format!("CHANNEL#{kind}")))
            .item("channel_id", s(channel_id))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }

    async fn installation_for_tenant(
        &self,
        tenant_id: &str,
    ) -> Result<Option<Installation>, StoreError> {
        match self.link(tenant_id).await? {
            Some(link) if link.status == ConnectionStatus::Active => {
                self.installation(&link.installation_id).await
            }
            _ => Ok(None),
        }
    }

    async fn installation(
        &self,
        installation_id: &str,
    ) -> Result<Option<Installation>, StoreError> {
        let Some(item) = self
            .get_item(installation_pk(installation_id), INSTALLATION_SK)
            .await?
        else {
            return Ok(None);
        };
        let stored: StoredInstallation = from_item(item)?;
        Ok(Some(Installation {
            bot_token: self.cipher.decrypt(
                &stored.bot_token,
                &token_context(installation_id, "bot_token"),
            )?,
            bot_refresh_token: stored
                .bot_refresh_token
                .as_ref()
                .map(|sealed| {
                    self.cipher
                        .decrypt(sealed, &token_context(installation_id, "bot_refresh_token"))
                })
                .transpose()?,
            bot_token_expires_at: stored.bot_token_expires_at,
            team_id: stored.team_id,
            team_name: stored.team_name,
            enterprise_id: stored.enterprise_id,
            enterprise_name: stored.enterprise_name,
            is_enterprise_install: stored.is_enterprise_install,
            bot_user_id: stored.bot_user_id,
            app_id: stored.app_id,
            scopes: stored.scopes,
            installed_by: stored.installed_by,
            installed_at: stored.installed_at,
        }))
    }

    async fn save_installation(&self, installation: &Installation) -> Result<(), StoreError> {
        let stored = StoredInstallation {
            team_id: installation.team_id.clone(),
            team_name: installation.team_name.clone(),
            enterprise_id: installation.enterprise_id.clone(),
            enterprise_name: installation.enterprise_name.clone(),
            is_enterprise_install: installation.is_enterprise_install,
            bot_user_id: installation.bot_user_id.clone(),
            app_id: installation.app_id.clone(),
            scopes: installation.scopes.clone(),
            installed_by: installation.installed_by.clone(),
            installed_at: installation.installed_at,
            bot_token: self.cipher.encrypt(
                &installation.bot_token,
                &token_context(installation.id(), "bot_token"),
            ),
            bot_refresh_token: installation.bot_refresh_token.as_ref().map(|token| {
                self.cipher.encrypt(
                    token,
                    &token_context(installation.id(), "bot_refresh_token"),
                )
            }),
            bot_token_expires_at: installation.bot_token_expires_at,
        };
        // An update, not a put: a reinstall replaces the tokens but keeps `tenants`, the set
        // of tenants linked to this installation.
        let item = to_item(&stored)?;
        let mut update = self.update_at(installation_pk(installation.id()), INSTALLATION_SK);
        let mut assignments = Vec::new();
        let mut removals = vec!["refresh_lease_until".to_owned()];
        for (index, (name, value)) in item.into_iter().enumerate() {
            if matches!(value, AttributeValue::Null(_)) {
                removals.push(format!("#a{index}"));
                update = update.expression_attribute_names(format!("#a{index}"), name);
                continue;
            }
            assignments.push(format!("#a{index} = :v{index}"));
            update = update
                .expression_attribute_names(format!("#a{index}"), name)
                .expression_attribute_values(format!(":v{index}"), value);
        }
        update
            .update_expression(format!(
                "SET {} REMOVE {}",
                assignments.join(", "),
                removals.join(", ")
            ))
            .send()
            .await
            .map_err(|e| backend("UpdateItem", &e))?;
        Ok(())
    }

    async fn delete_installation(
        &self,
        installation_id: &str,
        not_after: i64,
    ) -> Result<bool, StoreError> {
        let deleted = self
            .delete_at(installation_pk(installation_id), INSTALLATION_SK)
            .condition_expression("attribute_exists(pk) AND installed_at <= :not_after")
            .expression_attribute_values(":not_after", AttributeValue::N(not_after.to_string()))
            .send()
            .await;
        Ok(conditional(deleted, "DeleteItem")?.is_some())
    }

    async fn link(&self, tenant_id: &str) -> Result<Option<TenantLink>, StoreError> {
        let (pk, sk) = link_pk_sk(tenant_id);
        self.get_item(pk, sk).await?.map(from_item).transpose()
    }

    async fn save_link(&self, link: &TenantLink) -> Result<(), StoreError> {
        let previous = self.link(&link.tenant_id).await?;
        // Membership first, link second: a crash in between leaves an extra member, which
        // only keeps tokens alive, never revokes them under a tenant.
        if link.status == ConnectionStatus::Active {
            self.change_membership(&link.installation_id, &link.tenant_id, Membership::Join)
                .await?;
        }
        let (pk, sk) = link_pk_sk(&link.tenant_id);
        let mut item = to_item(link)?;
        item.insert("pk".into(), s(pk));
        item.insert("sk".into(), s(sk));
        if link.status == ConnectionStatus::Active {
            item.insert("gsi1pk".into(), s(tenants_index_key(&link.installation_id)));
            item.insert("gsi1sk".into(), s(link.tenant_id.clone()));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        if let Some(old) = previous.filter(|old| {
            old.status == ConnectionStatus::Active && old.installation_id != link.installation_id
        }) {
            self.change_membership(&old.installation_id, &link.tenant_id, Membership::Leave)
                .await?;
        }
        Ok(())
    }

    async fn disconnect_tenant(
        &self,
        tenant_id: &str,
        reason: DisconnectReason,
    ) -> Result<(), StoreError> {
        let (pk, sk) = link_pk_sk(tenant_id);
        let updated = self
            .update_at(pk, sk)
            .update_expression(
                "SET #status = :disconnected, disconnect_reason = :reason REMOVE gsi1pk, gsi1sk",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":disconnected",
                to_attribute(&ConnectionStatus::Disconnected)?,
            )
            .expression_attribute_values(":reason", to_attribute(&reason)?)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await;
        let before = conditional(updated, "UpdateItem")?.and_then(|answer| answer.attributes);
        if let Some(installation_id) = before
            .as_ref()
            .and_then(|item| item.get("installation_id"))
            .and_then(|value| value.as_s().ok())
        {
            self.change_membership(installation_id, tenant_id, Membership::Leave)
                .await?;
        }
        Ok(())
    }

    async fn installation_members(
        &self,
        installation_id: &str,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let item = self
            .get_item(installation_pk(installation_id), INSTALLATION_SK)
            .await?;
        Ok(item.map(|item| {
            item.get("tenants")
                .and_then(|value| value.as_ss().ok())
                .cloned()
                .unwrap_or_default()
        }))
    }

    async fn active_tenants_of(&self, installation_id: &str) -> Result<Vec<String>, StoreError> {
        let mut tenants = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .key_condition_expression("gsi1pk = :key")
            .expression_attribute_values(":key", s(tenants_index_key(installation_id)))
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| backend("Query", &e))?;
            if let Some(tenant) = item.get("tenant_id").and_then(|v| v.as_s().ok()) {
                tenants.push(tenant.clone());
            }
        }
        Ok(tenants)
    }

    async fn try_lease_refresh(
        &self,
        installation_id: &str,
        now: i64,
        lease_secs: i64,
    ) -> Result<bool, StoreError> {
        let leased = self
            .update_at(installation_pk(installation_id), INSTALLATION_SK)
            .update_expression("SET refresh_lease_until = :until")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(refresh_lease_until) OR refresh_lease_until < :now)",
            )
            .expression_attribute_values(":until", AttributeValue::N((now + lease_secs).to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        Ok(conditional(leased, "UpdateItem")?.is_some())
    }

    async fn save_refreshed_tokens(
        &self,
        installation_id: &str,
        bot_token: &SecretToken,
        refresh_token: &SecretToken,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        self.update_at(installation_pk(installation_id), INSTALLATION_SK)
            .update_expression(
                "SET bot_token = :token, bot_refresh_token = :refresh, bot_token_expires_at = :expires REMOVE refresh_lease_until",
            )
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":token", to_attribute(
                    &self.cipher.encrypt(bot_token, &token_context(installation_id, "bot_token")),
                )?)
            .expression_attribute_values(
                ":refresh",
                to_attribute(&self.cipher.encrypt(
                    refresh_token,
                    &token_context(installation_id, "bot_refresh_token"),
                ))?,
            )
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .map_err(|e| backend("UpdateItem", &e))?;
        Ok(())
    }

    async fn release_refresh_lease(&self, installation_id: &str) -> Result<(), StoreError> {
        let released = self
            .update_at(installation_pk(installation_id), INSTALLATION_SK)
            .update_expression("REMOVE refresh_lease_until")
            .condition_expression("attribute_exists(pk)")
            .send()
            .await;
        conditional(released, "UpdateItem")?;
        Ok(())
    }
}

enum Membership {
    Join,
    Leave,
}

impl DynamoStore {
    /// Adds a tenant to (or removes it from) the installation's `tenants` set, atomically on
    /// that one item; a missing installation is left alone.
    async fn change_membership(
        &self,
        installation_id: &str,
        tenant_id: &str,
        change: Membership,
    ) -> Result<(), StoreError> {
        let verb = match change {
            Membership::Join => "ADD",
            Membership::Leave => "DELETE",
        };
        let changed = self
            .update_at(installation_pk(installation_id), INSTALLATION_SK)
            .update_expression(format!("{verb} tenants :tenant"))
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":tenant", AttributeValue::Ss(vec![tenant_id.to_owned()]))
            .send()
            .await;
        conditional(changed, "UpdateItem")?;
        Ok(())
    }
}

fn install_link_pk(token_hash: &str) -> String {
    format!("INSTALL_LINK#{token_hash}")
}

fn oauth_state_pk(state: &str) -> String {
    format!("OAUTH_STATE#{state}")
}

/// Flow records outlive their expiry by a day (through TTL) so a replay is recognised as one.
const FLOW_RECORD_GRACE_SECS: i64 = 24 * 3600;

#[derive(Serialize, Deserialize)]
struct StoredInstallLink {
    tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_name: Option<String>,
    return_url: String,
    link_expires_at: i64,
    /// The TTL attribute.
    expires_at: i64,
}

#[derive(Serialize, Deserialize)]
struct StoredOAuthState {
    state: String,
    tenant_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tenant_name: Option<String>,
    return_url: String,
    cookie_hash: String,
    state_expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    used_at: Option<i64>,
    /// The TTL attribute.
    expires_at: i64,
}

#[async_trait]
impl InstallFlowStore for DynamoStore {
    async fn save_install_link(
        &self,
        token_hash: &str,
        link: &InstallLink,
    ) -> Result<(), StoreError> {
        let stored = StoredInstallLink {
            tenant_id: link.tenant_id.clone(),
            tenant_name: link.tenant_name.clone(),
            return_url: link.return_url.clone(),
            link_expires_at: link.expires_at,
            expires_at: link.expires_at + FLOW_RECORD_GRACE_SECS,
        };
        let mut item = to_item(&stored)?;
        item.insert("pk".into(), s(install_link_pk(token_hash)));
        item.insert("sk".into(), s("INSTALL_LINK"));
        self.put_new(item).await
    }

    async fn take_install_link(&self, token_hash: &str, now: i64) -> Result<LinkTake, StoreError> {
        let to_link = |stored: StoredInstallLink| InstallLink {
            tenant_id: stored.tenant_id,
            tenant_name: stored.tenant_name,
            return_url: stored.return_url,
            expires_at: stored.link_expires_at,
        };
        let taken = self
            .update_at(install_link_pk(token_hash), "INSTALL_LINK")
            .update_expression("SET used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND link_expires_at > :now",
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match conditional(taken, "UpdateItem")? {
            Some(answer) => match answer.attributes {
                Some(item) => Ok(LinkTake::Taken(to_link(from_item(item)?))),
                None => Ok(LinkTake::Unknown),
            },
            None => {
                let Some(item) = self
                    .get_item(install_link_pk(token_hash), "INSTALL_LINK")
                    .await?
                else {
                    return Ok(LinkTake::Unknown);
                };
                let used = item.contains_key("used_at");
                let link = to_link(from_item(item)?);
                Ok(LinkTake::Refused(
                    link,
                    if used {
                        "install_link_used"
                    } else {
                        "install_link_expired"
                    },
                ))
            }
        }
    }

    async fn save_oauth_state(&self, state: &OAuthState) -> Result<(), StoreError> {
        let stored = StoredOAuthState {
            state: state.state.clone(),
            tenant_id: state.tenant_id.clone(),
            tenant_name: state.tenant_name.clone(),
            return_url: state.return_url.clone(),
            cookie_hash: state.cookie_hash.clone(),
            state_expires_at: state.expires_at,
            used_at: state.used_at,
            expires_at: state.expires_at + FLOW_RECORD_GRACE_SECS,
        };
        let mut item = to_item(&stored)?;
        item.insert("pk".into(), s(oauth_state_pk(&state.state)));
        item.insert("sk".into(), s("OAUTH_STATE"));
        self.put_new(item).await
    }

    async fn oauth_state(&self, state: &str) -> Result<Option<OAuthState>, StoreError> {
        let stored = self
            .get_item(oauth_state_pk(state), "OAUTH_STATE")
            .await?
            .map(from_item::<StoredOAuthState>)
            .transpose()?;
        Ok(stored.map(|stored| OAuthState {
            state: stored.state,
            tenant_id: stored.tenant_id,
            tenant_name: stored.tenant_name,
            return_url: stored.return_url,
            cookie_hash: stored.cookie_hash,
            expires_at: stored.state_expires_at,
            used_at: stored.used_at,
        }))
    }

    async fn use_oauth_state(&self, state: &str, now: i64) -> Result<bool, StoreError> {
        let used = self
            .update_at(oauth_state_pk(state), "OAUTH_STATE")
            .update_expression("SET used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(used_at) AND state_expires_at > :now",
            )
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        Ok(conditional(used, "UpdateItem")?.is_some())
    }
}

impl DynamoStore {
    /// Puts the item unless one with its key exists; whether it was written.
    async fn put_if_absent(&self, item: Item) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        Ok(conditional(put, "PutItem")?.is_some())
    }

    async fn put_new(&self, item: Item) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }
}
