//! The single-table DynamoDB store (`APP_TABLE`): approvals, tenants, installations, guards.
//!
//! Keys (`pk`, `sk`):
//! - `APPROVAL#{id}` / `APPROVAL`; while pending also `gsi1pk = PENDING#{installation}`
//!   and `gsi1sk = {created_at}#{id}` (a sparse index of what still waits for a decision).
//! - `TENANT#{tenant}` / `SLACK` links a tenant to an installation;
//!   `TENANT#{tenant}` / `CHANNEL#{kind}` routes a kind of approval to a channel.
//! - `INSTALLATION#{team or enterprise id}` / `INSTALLATION`, tokens encrypted.
//! - `CLAIM#{key}` / `CLAIM`: at-most-once guards that expire through `expires_at` (TTL).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};

use crate::crypto::{EncryptedToken, TokenCipher};
use crate::domain::{Approval, ApprovalStatus, DecisionRecord, Installation, SlackMessageRef};
use crate::ports::{ApprovalStore, DecisionWrite, SideEffect, StoreError, TenantStore};

type Item = HashMap<String, AttributeValue>;

pub const PENDING_INDEX: &str = "gsi1";

pub struct DynamoStore {
    client: Client,
    table: String,
    cipher: TokenCipher,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>, cipher: TokenCipher) -> Self {
        Self {
            client,
            table: table.into(),
            cipher,
        }
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
        Ok(answer.item)
    }
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn backend<E: std::error::Error>(operation: &'static str, error: &E) -> StoreError {
    StoreError::Backend {
        operation,
        message: super::sdk_error_text(error),
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

fn is_condition_failure<E, R>(error: &aws_sdk_dynamodb::error::SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    error.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
}

#[async_trait]
impl ApprovalStore for DynamoStore {
    async fn insert_if_absent(&self, approval: &Approval) -> Result<Option<Approval>, StoreError> {
        let mut item = to_item(approval)?;
        item.insert("pk".into(), s(approval_pk(&approval.id)));
        item.insert("sk".into(), s(APPROVAL_SK));
        if approval.status == ApprovalStatus::Pending {
            item.insert(
                "gsi1pk".into(),
                s(format!("PENDING#{}", approval.installation_id)),
            );
            item.insert(
                "gsi1sk".into(),
                s(format!("{:012}#{}", approval.created_at, approval.id)),
            );
        }
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(None),
            Err(error) if is_condition_failure(&error) => self.get(&approval.id).await,
            Err(error) => Err(backend("PutItem", &error)),
        }
    }

    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        self.get_item(approval_pk(approval_id), APPROVAL_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn record_message(
        &self,
        approval_id: &str,
        message: &SlackMessageRef,
    ) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(approval_pk(approval_id)))
            .key("sk", s(APPROVAL_SK))
            .update_expression("SET message = :message")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":message", to_attribute(message)?)
            .send()
            .await
            .map_err(|e| backend("UpdateItem", &e))?;
        Ok(())
    }

    async fn delete_unposted(&self, approval_id: &str) -> Result<(), StoreError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(approval_pk(approval_id)))
            .key("sk", s(APPROVAL_SK))
            .condition_expression("attribute_not_exists(message)")
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Ok(()),
            Err(error) => Err(backend("DeleteItem", &error)),
        }
    }

    async fn decide(
        &self,
        approval_id: &str,
        record: &DecisionRecord,
    ) -> Result<DecisionWrite, StoreError> {
        let written = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(approval_pk(approval_id)))
            .key("sk", s(APPROVAL_SK))
            .update_expression("SET #status = :decided, decision = :record REMOVE gsi1pk, gsi1sk")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":decided", to_attribute(&record.decision.status())?)
            .expression_attribute_values(":pending", to_attribute(&ApprovalStatus::Pending)?)
            .expression_attribute_values(":record", to_attribute(record)?)
            .send()
            .await;
        match written {
            Ok(_) => Ok(DecisionWrite::Won),
            Err(error) if is_condition_failure(&error) => {
                let current = self.get(approval_id).await?.ok_or_else(|| {
                    StoreError::Corrupt(format!("approval {approval_id} vanished while deciding"))
                })?;
                Ok(DecisionWrite::Lost(Box::new(current)))
            }
            Err(error) => Err(backend("UpdateItem", &error)),
        }
    }

    async fn mark_done(
        &self,
        approval_id: &str,
        command_id: &str,
        effect: SideEffect,
    ) -> Result<(), StoreError> {
        let attribute = match effect {
            SideEffect::SlackMessageUpdated => "slack_message_updated",
            SideEffect::WebhookDelivered => "webhook_delivered",
        };
        let marked = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(approval_pk(approval_id)))
            .key("sk", s(APPROVAL_SK))
            .update_expression(format!("SET decision.{attribute} = :done"))
            .condition_expression("decision.command_id = :command")
            .expression_attribute_values(":done", AttributeValue::Bool(true))
            .expression_attribute_values(":command", s(command_id))
            .send()
            .await;
        match marked {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Err(StoreError::Corrupt(format!(
                "approval {approval_id} was not decided by command {command_id}"
            ))),
            Err(error) => Err(backend("UpdateItem", &error)),
        }
    }

    async fn claim_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        let claimed = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("CLAIM#{key}")))
            .item("sk", s("CLAIM"))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", AttributeValue::N(crate::unix_now().to_string()))
            .send()
            .await;
        match claimed {
            Ok(_) => Ok(true),
            Err(error) if is_condition_failure(&error) => Ok(false),
            Err(error) => Err(backend("PutItem", &error)),
        }
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
        let link = self.get_item(tenant_pk(tenant_id), "SLACK").await?;
        let installation_id = link
            .as_ref()
            .and_then(|item| item.get("installation_id"))
            .and_then(|value| value.as_s().ok());
        match installation_id {
            Some(id) => self.installation(id).await,
            None => Ok(None),
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
            bot_token: self.cipher.decrypt(&stored.bot_token)?,
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
            bot_token: self.cipher.encrypt(&installation.bot_token),
        };
        let mut item = to_item(&stored)?;
        item.insert("pk".into(), s(installation_pk(installation.id())));
        item.insert("sk".into(), s(INSTALLATION_SK));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }

    async fn link_tenant(
        &self,
        tenant_id: &str,
        installation_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(tenant_pk(tenant_id)))
            .item("sk", s("SLACK"))
            .item("installation_id", s(installation_id))
            .item("linked_at", AttributeValue::N(now.to_string()))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }
}
