//! People's inboxes, their reminder settings and the digests sent to them.
//!
//! - `INBOX#{tenant}#{user}` / `WAIT#{created_at:012}#{approval}`: a request waiting on the
//!   person, oldest first by key; filed under a reminder key it also carries
//!   `reminder_key`, `gsi1pk = REMIND#{key}` and `gsi1sk = {tenant}#{user}#{approval}`, so
//!   a run reads only what waits in the due zones (removing the entry drops it from there).
//! - `INBOX#{tenant}#{user}` / `ASKED#{created_at:012}#{approval}`: a request they asked for.
//! - `REMINDKEYS` / `KEY#{key}`, with `key`: every key anything was filed under.
//! - `TENANT#{tenant}` / `REMINDERS`: the tenant's reminder settings;
//!   `TENANT#{tenant}` / `REMINDERS#USER#{user}`: a person's own schedule;
//!   `TENANT#{tenant}` / `KIND#{kind}`: a kind's label and digest group.
//! - `DIGEST#{channel}#{ts}` / `DIGEST`: a sent digest, found again from its message.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::{
    backend, conditional, from_item, s, tenant_pk, to_item, DynamoStore, Item, PENDING_INDEX,
};
use approvals_core::inbox::{Digest, InboxEntry, KindSettings};
use approvals_core::people::HostUserId;
use approvals_core::ports::{DigestStore, InboxStore, ReminderSettings, StoreError};
use approvals_core::reminders::{ReminderKey, Schedule, TenantReminders, Waiter};

const WAITING: &str = "WAIT#";
const ASKED: &str = "ASKED#";
const REGISTRY_PK: &str = "REMINDKEYS";
const REGISTERED: &str = "KEY#";
const REMINDER_KEY: &str = "reminder_key";

fn inbox_pk(tenant_id: &str, user_id: &HostUserId) -> String {
    format!("INBOX#{tenant_id}#{user_id}")
}

fn entry_sk(prefix: &str, created_at: i64, approval_id: &str) -> String {
    format!("{prefix}{created_at:012}#{approval_id}")
}

fn reminders_index_key(key: &ReminderKey) -> String {
    format!("REMIND#{key}")
}

fn schedule_sk(user_id: &HostUserId) -> String {
    format!("REMINDERS#USER#{user_id}")
}

fn digest_pk(channel_id: &str, message_ts: &str) -> String {
    format!("DIGEST#{channel_id}#{message_ts}")
}

#[derive(Clone, Copy)]
enum Order {
    OldestFirst,
    NewestFirst,
}

/// The clauses of one UpdateItem, every attribute name behind a placeholder so none can
/// collide with a reserved word.
struct Changes {
    update: UpdateItemFluentBuilder,
    set: Vec<String>,
    remove: Vec<String>,
}

impl Changes {
    fn new(update: UpdateItemFluentBuilder) -> Self {
        Self {
            update,
            set: Vec::new(),
            remove: Vec::new(),
        }
    }

    fn placeholder(&self) -> usize {
        self.set.len() + self.remove.len()
    }

    fn set(mut self, name: &str, value: AttributeValue) -> Self {
        let n = self.placeholder();
        self.set.push(format!("#a{n} = :v{n}"));
        self.update = self
            .update
            .expression_attribute_names(format!("#a{n}"), name)
            .expression_attribute_values(format!(":v{n}"), value);
        self
    }

    fn remove(mut self, name: &str) -> Self {
        let n = self.placeholder();
        self.remove.push(format!("#a{n}"));
        self.update = self
            .update
            .expression_attribute_names(format!("#a{n}"), name);
        self
    }

    /// Files the entry under `key`, or takes it out of the reminders index when reminders
    /// are off, so a run never finds someone under a key they no longer have.
    fn filed(self, entry: &InboxEntry, key: Option<&ReminderKey>) -> Self {
        match key {
            Some(key) => self
                .set("gsi1pk", s(reminders_index_key(key)))
                .set(
                    "gsi1sk",
                    s(format!(
                        "{}#{}#{}",
                        entry.tenant_id, entry.user_id, entry.approval_id
                    )),
                )
                .set(REMINDER_KEY, s(key.to_string())),
            None => self.remove("gsi1pk").remove("gsi1sk").remove(REMINDER_KEY),
        }
    }

    fn into_update(self) -> UpdateItemFluentBuilder {
        let mut clauses = Vec::new();
        if !self.set.is_empty() {
            clauses.push(format!("SET {}", self.set.join(", ")));
        }
        if !self.remove.is_empty() {
            clauses.push(format!("REMOVE {}", self.remove.join(", ")));
        }
        self.update.update_expression(clauses.join(" "))
    }
}

impl DynamoStore {
    /// Reads the query's pages until it has `limit` items (`usize::MAX`: all of them),
    /// counting every item each page read.
    async fn collect_pages(
        &self,
        query: QueryFluentBuilder,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        while items.len() < limit {
            let answer = query
                .clone()
                // No page limit when reading everything: DynamoDB's 1 MB pages then.
                .set_limit(i32::try_from(limit - items.len()).ok())
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend("Query", &e))?;
            self.count_read(u64::try_from(answer.scanned_count).unwrap_or(0));
            items.extend(answer.items.unwrap_or_default());
            start = answer.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        Ok(items)
    }

    /// The items of one partition whose sort key starts with `prefix`, at most `limit`.
    async fn query_prefix(
        &self,
        pk: String,
        prefix: &str,
        order: Order,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(prefix))
            .scan_index_forward(matches!(order, Order::OldestFirst))
            .consistent_read(true);
        self.collect_pages(query, limit).await
    }

    async fn entries(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        prefix: &str,
        order: Order,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError> {
        self.query_prefix(inbox_pk(tenant_id, user_id), prefix, order, limit)
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    pub(super) async fn put_value<T: Serialize>(
        &self,
        pk: String,
        sk: &str,
        value: &T,
    ) -> Result<(), StoreError> {
        let mut item = to_item(value)?;
        item.insert("pk".into(), s(pk));
        item.insert("sk".into(), s(sk));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }

    pub(super) async fn get_value<T: DeserializeOwned>(
        &self,
        pk: String,
        sk: &str,
    ) -> Result<Option<T>, StoreError> {
        self.get_item(pk, sk).await?.map(from_item).transpose()
    }

    /// Registers the key before anything is filed under it, so a run that lists the keys
    /// never misses an entry filed under a new one.
    async fn register(&self, key: &ReminderKey) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(REGISTRY_PK))
            .item("sk", s(format!("{REGISTERED}{key}")))
            .item("key", s(key.to_string()))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }
}

/// Who an entry waits on; the index projects the whole entry.
fn waiter(item: Item) -> Result<Waiter, StoreError> {
    let entry: InboxEntry = from_item(item)?;
    Ok(Waiter {
        tenant_id: entry.tenant_id,
        user_id: entry.user_id,
    })
}

fn filed_under(item: &Item) -> Option<&str> {
    item.get(REMINDER_KEY)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

#[async_trait]
impl InboxStore for DynamoStore {
    async fn add_waiting(
        &self,
        entry: &InboxEntry,
        key: Option<&ReminderKey>,
    ) -> Result<(), StoreError> {
        if let Some(key) = key {
            self.register(key).await?;
        }
        let pk = inbox_pk(&entry.tenant_id, &entry.user_id);
        let sk = entry_sk(WAITING, entry.created_at, &entry.approval_id);
        // An update of the fields given, not a put: filing again keeps a stored permalink.
        to_item(entry)?
            .into_iter()
            .fold(
                Changes::new(self.update_at(pk, &sk)),
                |changes, (name, value)| changes.set(&name, value),
            )
            .filed(entry, key)
            .into_update()
            .send()
            .await
            .map_err(|e| backend("UpdateItem", &e))?;
        Ok(())
    }

    async fn remove_waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        approval_id: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        self.delete_at(
            inbox_pk(tenant_id, user_id),
            &entry_sk(WAITING, created_at, approval_id),
        )
        .send()
        .await
        .map_err(|e| backend("DeleteItem", &e))?;
        Ok(())
    }

    async fn waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError> {
        self.entries(tenant_id, user_id, WAITING, Order::OldestFirst, limit)
            .await
    }

    async fn refile_waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        key: Option<&ReminderKey>,
    ) -> Result<(), StoreError> {
        if let Some(key) = key {
            self.register(key).await?;
        }
        let pk = inbox_pk(tenant_id, user_id);
        let wanted = key.map(ToString::to_string);
        let items = self
            .query_prefix(pk.clone(), WAITING, Order::OldestFirst, usize::MAX)
            .await?;
        for item in items {
            if filed_under(&item) == wanted.as_deref() {
                continue;
            }
            let entry: InboxEntry = from_item(item)?;
            let sk = entry_sk(WAITING, entry.created_at, &entry.approval_id);
            let refiled = Changes::new(self.update_at(pk.clone(), &sk))
                .filed(&entry, key)
                .into_update()
                .condition_expression("attribute_exists(pk)")
                .send()
                .await;
            // Removed meanwhile: it stays removed rather than coming back as a bare filing.
            conditional(refiled, "UpdateItem")?;
        }
        Ok(())
    }

    async fn set_permalink(&self, entry: &InboxEntry, permalink: &str) -> Result<(), StoreError> {
        let sk = entry_sk(WAITING, entry.created_at, &entry.approval_id);
        let set = self
            .update_at(inbox_pk(&entry.tenant_id, &entry.user_id), &sk)
            .update_expression("SET permalink = :permalink")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":permalink", s(permalink))
            .send()
            .await;
        // Removed meanwhile (decided): nobody needs the link any more.
        conditional(set, "UpdateItem")?;
        Ok(())
    }

    async fn keys_in_use(&self) -> Result<Vec<ReminderKey>, StoreError> {
        let items = self
            .query_prefix(
                REGISTRY_PK.into(),
                REGISTERED,
                Order::OldestFirst,
                usize::MAX,
            )
            .await?;
        // A key that no longer parses (a zone the bundled database dropped) names no slot.
        Ok(items
            .iter()
            .filter_map(|item| item.get("key")?.as_s().ok())
            .filter_map(|text| ReminderKey::parse(text))
            .collect())
    }

    async fn waiting_under(&self, key: &ReminderKey) -> Result<Vec<Waiter>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(PENDING_INDEX)
            .key_condition_expression("gsi1pk = :key")
            .expression_attribute_values(":key", s(reminders_index_key(key)));
        self.collect_pages(query, usize::MAX)
            .await?
            .into_iter()
            .map(waiter)
            .collect()
    }

    async fn add_asked(&self, entry: &InboxEntry) -> Result<(), StoreError> {
        self.put_value(
            inbox_pk(&entry.tenant_id, &entry.user_id),
            &entry_sk(ASKED, entry.created_at, &entry.approval_id),
            entry,
        )
        .await
    }

    async fn asked(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError> {
        self.entries(tenant_id, user_id, ASKED, Order::NewestFirst, limit)
            .await
    }
}

#[async_trait]
impl ReminderSettings for DynamoStore {
    async fn tenant_reminders(
        &self,
        tenant_id: &str,
    ) -> Result<Option<TenantReminders>, StoreError> {
        self.get_value(tenant_pk(tenant_id), "REMINDERS").await
    }

    async fn save_tenant_reminders(
        &self,
        tenant_id: &str,
        reminders: &TenantReminders,
    ) -> Result<(), StoreError> {
        self.put_value(tenant_pk(tenant_id), "REMINDERS", reminders)
            .await
    }

    async fn user_schedule(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
    ) -> Result<Option<Schedule>, StoreError> {
        self.get_value(tenant_pk(tenant_id), &schedule_sk(user_id))
            .await
    }

    async fn save_user_schedule(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        schedule: &Schedule,
    ) -> Result<(), StoreError> {
        self.put_value(tenant_pk(tenant_id), &schedule_sk(user_id), schedule)
            .await
    }

    async fn kind_settings(
        &self,
        tenant_id: &str,
        kind: &str,
    ) -> Result<Option<KindSettings>, StoreError> {
        self.get_value(tenant_pk(tenant_id), &format!("KIND#{kind}"))
            .await
    }

    async fn save_kind_settings(
        &self,
        tenant_id: &str,
        kind: &str,
        settings: &KindSettings,
    ) -> Result<(), StoreError> {
        self.put_value(tenant_pk(tenant_id), &format!("KIND#{kind}"), settings)
            .await
    }
}

#[async_trait]
impl DigestStore for DynamoStore {
    async fn save_digest(&self, digest: &Digest) -> Result<(), StoreError> {
        self.put_value(
            digest_pk(&digest.channel_id, &digest.message_ts),
            "DIGEST",
            digest,
        )
        .await
    }

    async fn digest(
        &self,
        channel_id: &str,
        message_ts: &str,
    ) -> Result<Option<Digest>, StoreError> {
        self.get_value(digest_pk(channel_id, message_ts), "DIGEST")
            .await
    }
}
