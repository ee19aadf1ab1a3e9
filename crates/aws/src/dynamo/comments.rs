//! Comments on a request: the host's beside it (`APPROVAL#{id}` / `COMMENT#{comment_id}`),
//! and which request a Slack thread belongs to (`THREAD#{installation}#{channel}#{ts}` /
//! `THREAD`).

use async_trait::async_trait;

use super::{approval_pk, DynamoStore};
use approvals_core::ports::{CommentStore, HostComment, StoreError};

fn comment_sk(comment_id: &str) -> String {
    format!("COMMENT#{comment_id}")
}

pub(super) fn thread_pk(installation_id: &str, channel_id: &str, message_ts: &str) -> String {
    format!("THREAD#{installation_id}#{channel_id}#{message_ts}")
}

pub(super) const THREAD_SK: &str = "THREAD";

/// What a thread index item holds.
#[derive(serde::Serialize, serde::Deserialize)]
pub(super) struct ThreadOf {
    pub(super) approval_id: String,
}

#[async_trait]
impl CommentStore for DynamoStore {
    async fn comment(
        &self,
        approval_id: &str,
        comment_id: &str,
    ) -> Result<Option<HostComment>, StoreError> {
        self.get_value(approval_pk(approval_id), &comment_sk(comment_id))
            .await
    }

    async fn save_comment(
        &self,
        approval_id: &str,
        comment: &HostComment,
    ) -> Result<(), StoreError> {
        self.put_value(
            approval_pk(approval_id),
            &comment_sk(&comment.comment_id),
            comment,
        )
        .await
    }

    async fn approval_for_thread(
        &self,
        installation_id: &str,
        channel_id: &str,
        message_ts: &str,
    ) -> Result<Option<String>, StoreError> {
        let thread: Option<ThreadOf> = self
            .get_value(
                thread_pk(installation_id, channel_id, message_ts),
                THREAD_SK,
            )
            .await?;
        Ok(thread.map(|thread| thread.approval_id))
    }
}
