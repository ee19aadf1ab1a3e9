//! A document added to a request after it was made: checked here, moved into the thread by
//! the worker, once per `file_id` however often the host repeats the call.

use serde::Deserialize;

use crate::domain::{check_identifier, parse_json, ValidationError};
use crate::files::{AllowedFileUrls, Attachment, MAX_ATTACHMENTS};
use crate::outbox::{attach_file_key, OutboxEntry, Outgoing};
use crate::ports::{ApprovalStore, EffectsQueue, QueueError, ReminderSettings, StoreError};
use crate::usecases::transition::next_seq;

#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("no approval {approval_id} for tenant {tenant_id}")]
    NotFound {
        approval_id: String,
        tenant_id: String,
    },
    #[error("file {0} was attached with another URL, name or title")]
    Conflict(String),
    #[error("attach_files is off for kind {0}: PUT …/kinds/{0} with \"attach_files\": true")]
    Disabled(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(#[from] QueueError),
}

/// `POST /v1/approvals/{id}/files`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileBody {
    tenant_id: String,
    file_id: String,
    url: String,
    filename: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    size: Option<u64>,
}

/// The file, and whether this call armed its upload (`false`: a repeat found it armed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub attachment: Attachment,
    pub new: bool,
}

pub struct AttachFile<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub settings: &'a dyn ReminderSettings,
    pub later: &'a dyn EffectsQueue,
    pub allowed: &'a AllowedFileUrls,
}

impl AttachFile<'_> {
    pub async fn attach(
        &self,
        approval_id: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Attached, AttachError> {
        let body: FileBody = parse_json(body)?;
        let tenant_id = body.tenant_id;
        let attachment = Attachment {
            file_id: body.file_id,
            url: body.url,
            filename: body.filename,
            title: body.title,
            size: body.size,
        };
        check_identifier("tenant_id", &tenant_id)?;
        attachment.check("")?;
        self.allowed.check(std::slice::from_ref(&attachment), "")?;
        let approval = super::tenants_approval(self.approvals, approval_id, &tenant_id)
            .await?
            .ok_or_else(|| AttachError::NotFound {
                approval_id: approval_id.to_owned(),
                tenant_id: tenant_id.clone(),
            })?;
        let kind = &approval.request.kind;
        let settings = self.settings.kind_settings(&tenant_id, kind).await?;
        if !settings.unwrap_or_default().attaches_files() {
            return Err(AttachError::Disabled(kind.clone()));
        }
        let key = attach_file_key(&attachment.file_id);
        let attached: Vec<&Attachment> = approval
            .outbox
            .values()
            .filter_map(|entry| match &entry.effect {
                Outgoing::AttachFile { attachment } => Some(attachment),
                _ => None,
            })
            .collect();
        if let Some(existing) = attached.iter().find(|a| a.file_id == attachment.file_id) {
            return if **existing == attachment {
                Ok(Attached {
                    attachment,
                    new: false,
                })
            } else {
                Err(AttachError::Conflict(attachment.file_id))
            };
        }
        if attached.len() >= MAX_ATTACHMENTS {
            return Err(ValidationError::new(
                "file_id",
                format!("the request has {MAX_ATTACHMENTS} files already, the most it may carry"),
            )
            .into());
        }
        let entry = OutboxEntry::new(
            next_seq(&approval),
            approval.state.version,
            Outgoing::AttachFile {
                attachment: attachment.clone(),
            },
            now,
        );
        let new = self.approvals.add_effect(approval_id, &key, &entry).await?;
        if new {
            self.later.perform_later(approval_id, 0).await?;
        }
        Ok(Attached { attachment, new })
    }
}
