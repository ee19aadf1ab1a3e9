//! The host's comments on a request, beside it: `APPROVAL#{id}` / `COMMENT#{comment_id}`.

use async_trait::async_trait;

use super::{approval_pk, backend, from_item, s, to_item, DynamoStore};
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
        self.get_item(approval_pk(approval_id), &comment_sk(comment_id))
            .await?
            .map(from_item)
            .transpose()
    }

    async fn save_comment(
        &self,
        approval_id: &str,
        comment: &HostComment,
    ) -> Result<(), StoreError> {
        let mut item = to_item(comment)?;
        item.insert("pk".into(), s(approval_pk(approval_id)));
        item.insert("sk".into(), s(comment_sk(&comment.comment_id)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| backend("PutItem", &e))?;
        Ok(())
    }
}
