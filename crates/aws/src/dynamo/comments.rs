//! The host's comments on a request, beside it: `APPROVAL#{id}` / `COMMENT#{comment_id}`.

use async_trait::async_trait;

use super::{approval_pk, DynamoStore};
use approvals_core::ports::{CommentStore, HostComment, StoreError};

fn comment_sk(comment_id: &str) -> String {
    format!("COMMENT#{comment_id}")
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
}
