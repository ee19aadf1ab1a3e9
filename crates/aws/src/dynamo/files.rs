//! How far each file's upload into each thread got, beside the request:
//! `APPROVAL#{id}` / `FILE#{file_id}@{channel}`.

use async_trait::async_trait;

use super::{approval_pk, DynamoStore};
use approvals_core::files::FileUpload;
use approvals_core::ports::{FileUploads, StoreError};

fn upload_sk(key: &str) -> String {
    format!("FILE#{key}")
}

#[async_trait]
impl FileUploads for DynamoStore {
    async fn file_upload(
        &self,
        approval_id: &str,
        key: &str,
    ) -> Result<Option<FileUpload>, StoreError> {
        self.get_value(approval_pk(approval_id), &upload_sk(key))
            .await
    }

    async fn save_file_upload(
        &self,
        approval_id: &str,
        key: &str,
        upload: &FileUpload,
    ) -> Result<(), StoreError> {
        self.put_value(approval_pk(approval_id), &upload_sk(key), upload)
            .await
    }
}
