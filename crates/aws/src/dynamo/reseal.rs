//! Re-sealing every installation's tokens under the current `token_encryption_key`, so the
//! keys of earlier rotations can be dropped from the secret.
//!
//! A Scan of the table, a page at a time: an operator's job after a rotation, not a hot
//! path. Each write is conditioned on the sealed bot token being the one read, so a token
//! refresh that lands meanwhile (and is sealed under the current key already) is never
//! overwritten with the older token.

use super::{
    backend, from_item, installation_pk, s, token_context, DynamoStore, StoredInstallation,
    INSTALLATION_SK,
};
use approvals_core::ports::StoreError;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Resealed {
    pub installations: usize,
    /// Sealed under the current key now.
    pub resealed: usize,
    /// Already under the current key.
    pub current: usize,
    /// Changed while being re-sealed (a refresh, a reinstall): sealed by that write.
    pub changed_meanwhile: usize,
}

impl DynamoStore {
    /// Seals every installation's tokens under the current key; safe to run again, and
    /// beside the live functions.
    pub async fn reseal_tokens(&self) -> Result<Resealed, StoreError> {
        let mut done = Resealed::default();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :installation) AND sk = :sk")
                .expression_attribute_values(":installation", s("INSTALLATION#"))
                .expression_attribute_values(":sk", s(INSTALLATION_SK))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| backend("Scan", &e))?;
            for item in page.items.unwrap_or_default() {
                done.installations += 1;
                let Some(id) = item
                    .get("pk")
                    .and_then(|pk| pk.as_s().ok())
                    .and_then(|pk| pk.strip_prefix("INSTALLATION#"))
                    .map(str::to_owned)
                else {
                    continue;
                };
                let stored: StoredInstallation = from_item(item)?;
                match self.reseal_one(&id, &stored).await? {
                    Outcome::Resealed => done.resealed += 1,
                    Outcome::Current => done.current += 1,
                    Outcome::ChangedMeanwhile => done.changed_meanwhile += 1,
                }
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(done);
            }
        }
    }

    async fn reseal_one(
        &self,
        id: &str,
        stored: &StoredInstallation,
    ) -> Result<Outcome, StoreError> {
        let current = self.cipher.current_key_id();
        let sealed_under_current = stored.bot_token.key_id == current
            && stored
                .bot_refresh_token
                .as_ref()
                .is_none_or(|refresh| refresh.key_id == current);
        if sealed_under_current {
            return Ok(Outcome::Current);
        }
        let reseal = |sealed, field| -> Result<_, StoreError> {
            let context = token_context(id, field);
            let token = self.cipher.decrypt(sealed, &context)?;
            super::to_attribute(&self.cipher.encrypt(&token, &context))
        };
        let mut update = self
            .update_at(installation_pk(id), INSTALLATION_SK)
            .condition_expression("bot_token.nonce = :read")
            .expression_attribute_values(":read", s(stored.bot_token.nonce.clone()))
            .expression_attribute_values(":bot", reseal(&stored.bot_token, "bot_token")?);
        let expression = match &stored.bot_refresh_token {
            Some(refresh) => {
                update = update
                    .expression_attribute_values(":refresh", reseal(refresh, "bot_refresh_token")?);
                "SET bot_token = :bot, bot_refresh_token = :refresh"
            }
            None => "SET bot_token = :bot",
        };
        let written = update.update_expression(expression).send().await;
        Ok(match super::conditional(written, "UpdateItem")? {
            Some(_) => Outcome::Resealed,
            None => Outcome::ChangedMeanwhile,
        })
    }
}

enum Outcome {
    Resealed,
    Current,
    ChangedMeanwhile,
}
