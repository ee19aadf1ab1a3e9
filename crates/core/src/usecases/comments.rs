//! The host's comments in a request's thread: posted under the author's name, once per
//! `comment_id` however often the host repeats the call.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::blocks::escape_truncated;
use crate::domain::{check_identifier, parse_json, Approval, SlackMessageRef, ValidationError};
use crate::people::HostUserId;
use crate::ports::{
    ApprovalStore, BotTokens, CommentStore, HostComment, SlackApi, SlackError, StoreError,
    TenantStore, TokenError, UserDirectory,
};
use crate::secret::SecretToken;

/// Slack's longest message text.
pub const TEXT_MAX: usize = 40_000;
/// How long one attempt holds a comment: longer than its posts take.
const POSTING_LEASE_SECS: i64 = 30;

#[derive(Debug, thiserror::Error)]
pub enum CommentError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("no approval {approval_id} for tenant {tenant_id}")]
    NotFound {
        approval_id: String,
        tenant_id: String,
    },
    #[error("comment {0} was posted with another author or text")]
    Conflict(String),
    #[error("the same comment is being posted right now; retry in a few seconds")]
    InProgress,
    #[error("the tenant has no active Slack installation")]
    NotConnected,
    #[error("no usable bot token right now: {0}")]
    Token(TokenError),
    #[error("Slack did not take the comment: {0}")]
    Slack(#[from] SlackError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Author {
    #[serde(default)]
    user_id: Option<HostUserId>,
    name: String,
}

/// `POST /v1/approvals/{id}/comments`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommentBody {
    tenant_id: String,
    comment_id: String,
    author: Author,
    text: String,
}

/// What the answer says: the comment, where it went, and whether this call posted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub comment_id: String,
    pub messages: Vec<SlackMessageRef>,
    pub new: bool,
}

pub struct HostComments<'a> {
    pub approvals: &'a dyn ApprovalStore,
    pub tenants: &'a dyn TenantStore,
    pub directory: &'a dyn UserDirectory,
    pub comments: &'a dyn CommentStore,
    pub slack: &'a dyn SlackApi,
    pub tokens: &'a dyn BotTokens,
}

impl HostComments<'_> {
    pub async fn post(
        &self,
        approval_id: &str,
        body: &[u8],
        now: i64,
    ) -> Result<Posted, CommentError> {
        let body: CommentBody = parse_json(body)?;
        check_identifier("tenant_id", &body.tenant_id)?;
        if body.comment_id.is_empty() || body.comment_id.len() > 200 {
            return Err(ValidationError::new("comment_id", "must be 1 to 200 characters").into());
        }
        crate::domain::check_text("author.name", &body.author.name, 200)?;
        crate::domain::check_text("text", &body.text, TEXT_MAX)?;
        let approval = super::tenants_approval(self.approvals, approval_id, &body.tenant_id)
            .await?
            .ok_or_else(|| CommentError::NotFound {
                approval_id: approval_id.to_owned(),
                tenant_id: body.tenant_id.clone(),
            })?;
        let fingerprint = hex::encode(Sha256::digest(
            serde_json::json!([body.author.user_id, body.author.name, body.text]).to_string(),
        ));
        let existing = self.comments.comment(approval_id, &body.comment_id).await?;
        if let Some(existing) = &existing {
            if existing.fingerprint != fingerprint {
                return Err(CommentError::Conflict(body.comment_id));
            }
            if existing.finished {
                return Ok(Posted {
                    comment_id: existing.comment_id.clone(),
                    messages: existing.posted.clone(),
                    new: false,
                });
            }
        }
        // Nothing is kept before the workspace can take the comment: a refusal here leaves
        // the host free to send it again, corrected, under the same id.
        let (token, text, username) = self.rendered(&approval, &body, now).await?;
        // One poster at a time: concurrent repeats must not post twice.
        let lease = format!("COMMENT#{approval_id}#{}", body.comment_id);
        if !self
            .approvals
            .claim_once(&lease, now, now + POSTING_LEASE_SECS)
            .await?
        {
            return Err(CommentError::InProgress);
        }
        let mut comment = existing.unwrap_or(HostComment {
            comment_id: body.comment_id.clone(),
            fingerprint,
            posted: Vec::new(),
            finished: false,
            at: now,
        });
        let posted = self
            .post_in_threads(
                &approval,
                &mut comment,
                (&token, &text, username.as_deref()),
            )
            .await;
        if posted.is_err() {
            self.approvals.release_claim(&lease).await?;
        }
        posted?;
        comment.finished = true;
        self.comments.save_comment(approval_id, &comment).await?;
        Ok(Posted {
            comment_id: comment.comment_id,
            messages: comment.posted,
            new: true,
        })
    }

    /// Into the thread of the channel message, or of each DM when there is none; a thread
    /// posted to by an earlier, interrupted attempt is not posted to again.
    async fn post_in_threads(
        &self,
        approval: &Approval,
        comment: &mut HostComment,
        (token, text, username): (&SecretToken, &str, Option<&str>),
    ) -> Result<(), CommentError> {
        for root in approval.thread_roots() {
            if comment
                .posted
                .iter()
                .any(|at| at.channel_id == root.channel_id)
            {
                continue;
            }
            let at = self.slack.post_reply(token, &root, text, username).await?;
            comment.posted.push(at);
            self.comments.save_comment(&approval.id, comment).await?;
        }
        Ok(())
    }

    /// The token to post with, and the comment as Slack shows it: under the author's name
    /// where the app may (`chat:write.customize`), else with the name in bold.
    async fn rendered(
        &self,
        approval: &Approval,
        body: &CommentBody,
        now: i64,
    ) -> Result<(SecretToken, String, Option<String>), CommentError> {
        let installation = self
            .tenants
            .installation_for_tenant(&body.tenant_id)
            .await?
            .filter(|i| i.id() == approval.installation_id)
            .ok_or(CommentError::NotConnected)?;
        let token = self
            .tokens
            .usable_token(&installation, now)
            .await
            .map_err(CommentError::Token)?;
        let host = self
            .tenants
            .link(&body.tenant_id)
            .await?
            .and_then(|link| link.tenant_name);
        let customized = installation
            .scopes
            .iter()
            .any(|scope| scope == "chat:write.customize");
        let text = self.with_mentions(&body.tenant_id, &body.text).await?;
        Ok(if customized {
            let via = host.as_deref().unwrap_or("the host");
            (token, text, Some(format!("{} via {via}", body.author.name)))
        } else {
            let name = escape_truncated(&body.author.name, 200);
            (token, format!("*{name}*: {text}"), None)
        })
    }

    /// The host's text, escaped, with each `@user_id` of a mapped user as a Slack mention.
    async fn with_mentions(&self, tenant_id: &str, text: &str) -> Result<String, StoreError> {
        let escaped = escape_truncated(text, TEXT_MAX);
        let mentioned: Vec<HostUserId> = escaped
            .split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '(' | ')'))
            .filter_map(|word| word.strip_prefix('@'))
            .map(|id| id.trim_end_matches(['.', '!', '?', ':']))
            .filter_map(|id| HostUserId::try_from(id.to_owned()).ok())
            .collect();
        if mentioned.is_empty() {
            return Ok(escaped);
        }
        let mut out = escaped;
        for user in self.directory.users(tenant_id, &mentioned).await? {
            if let Some(slack_user_id) = &user.slack_user_id {
                out = out.replace(
                    &format!("@{}", user.user_id),
                    &format!("<@{slack_user_id}>"),
                );
            }
        }
        Ok(out)
    }
}
