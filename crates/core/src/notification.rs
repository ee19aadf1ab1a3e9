//! Plain notifications: a message with the details and a link, no buttons, sent once per
//! tenant and external id (PartnerOS's "other partner events").

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::{
    check_channel_id, check_fields, check_identifier, check_link, check_text, limits, parse_json,
    Field, MessageCopy, ValidationError,
};
use crate::people::{check_user_list, HostUserId};

/// Where a notification goes; without it, to the kind's channel.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_ids: Vec<HostUserId>,
}

/// What the host sends; valid once [`NotificationRequest::from_json`] returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotificationRequest {
    pub tenant_id: String,
    pub external_id: String,
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub to: Option<Recipients>,
}

impl NotificationRequest {
    /// Parses and validates with the approval request's limits; errors name the field.
    pub fn from_json(body: &[u8]) -> Result<Self, ValidationError> {
        let mut request: Self = parse_json(body)?;
        check_identifier("tenant_id", &request.tenant_id)?;
        check_text("external_id", &request.external_id, limits::EXTERNAL_ID)?;
        check_identifier("kind", &request.kind)?;
        check_text("title", &request.title, limits::TITLE)?;
        check_fields(&request.fields)?;
        if let Some(link) = &request.link {
            request.link = Some(check_link(link)?);
        }
        if let Some(to) = &request.to {
            if let Some(channel_id) = &to.channel_id {
                check_channel_id("to.channel_id", channel_id)?;
            }
            check_user_list("to.user_ids", &to.user_ids)?;
            if to.channel_id.is_none() && to.user_ids.is_empty() {
                return Err(ValidationError::new(
                    "to",
                    "name a channel_id, user_ids, or leave `to` out for the kind's channel",
                ));
            }
        }
        Ok(request)
    }

    /// Same tenant and external id: the same notification.
    pub fn notification_id(&self) -> String {
        let approval_like = crate::domain::approval_id_for(&self.tenant_id, &self.external_id);
        format!("ntf_{}", &approval_like[4..])
    }

    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("plain data always serialises");
        hex::encode(Sha256::digest(canonical))
    }
}

/// Where one notification goes, resolved once when it is first sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `channel:C…` or `user:{host user id}`.
    pub key: String,
    /// The Slack channel or user to post to; `None` for a user not in Slack.
    #[serde(default)]
    pub slack_target: Option<String>,
}

/// A notification and the messages that carry it, by target (`channel:C…` or `user:u-…`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    pub fingerprint: String,
    pub request: NotificationRequest,
    pub created_at: i64,
    /// Kept, so a repeat answers and finishes what was first asked, whatever changed since.
    #[serde(default)]
    pub targets: Vec<Target>,
    #[serde(default)]
    pub posted: std::collections::BTreeMap<String, MessageCopy>,
}
