//! Plain notifications in the single table: `NOTIFICATION#{id}` / `NOTIFICATION`, with the
//! `posted` map of the messages that carried it, by target.

use async_trait::async_trait;

use super::{backend, from_item, s, to_attribute, to_item, DynamoStore};
use approvals_core::domain::MessageCopy;
use approvals_core::notification::Notification;
use approvals_core::ports::{NotificationStore, StoreError};

const NOTIFICATION_SK: &str = "NOTIFICATION";

fn notification_pk(id: &str) -> String {
    format!("NOTIFICATION#{id}")
}

#[async_trait]
impl NotificationStore for DynamoStore {
    async fn get_notification(
        &self,
        notification_id: &str,
    ) -> Result<Option<Notification>, StoreError> {
        self.get_item(notification_pk(notification_id), NOTIFICATION_SK)
            .await?
            .map(from_item)
            .transpose()
    }

    async fn insert_notification(
        &self,
        notification: &Notification,
    ) -> Result<Option<Notification>, StoreError> {
        let mut item = to_item(notification)?;
        item.insert("pk".into(), s(notification_pk(&notification.id)));
        item.insert("sk".into(), s(NOTIFICATION_SK));
        if self.put_if_absent(item).await? {
            return Ok(None);
        }
        let existing = self
            .get_item(notification_pk(&notification.id), NOTIFICATION_SK)
            .await?
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "notification {} vanished after a conflicting insert",
                    notification.id
                ))
            })?;
        Ok(Some(from_item(existing)?))
    }

    async fn record_notification_post(
        &self,
        notification_id: &str,
        target: &str,
        copy: &MessageCopy,
    ) -> Result<(), StoreError> {
        self.update_at(notification_pk(notification_id), NOTIFICATION_SK)
            .update_expression("SET posted.#target = :copy")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#target", target)
            .expression_attribute_values(":copy", to_attribute(copy)?)
            .send()
            .await
            .map_err(|e| backend("UpdateItem", &e))?;
        Ok(())
    }
}
