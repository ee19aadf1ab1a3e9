//! Each person's inbox: the requests waiting on them, those they asked for, how kinds are
//! labelled and grouped, and the digests that listed them.

use serde::{Deserialize, Serialize};

use crate::domain::{check_channel_id, parse_json, ValidationError};
use crate::people::HostUserId;

/// Slack's `plain_text` button and heading budgets keep these short.
pub const LABEL_MAX: usize = 75;
pub const REMINDER_GROUP_MAX: usize = 75;
/// The group of a kind that names none.
pub const DEFAULT_REMINDER_GROUP: &str = "To approve";

/// One request in one person's inbox: written when the request reaches them, removed when
/// it ends (for approvers), kept for requesters so they can follow what they asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub tenant_id: String,
    pub user_id: HostUserId,
    pub approval_id: String,
    pub kind: String,
    pub title: String,
    pub created_at: i64,
    /// `chat.getPermalink` of the message the person should open, once asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
}

/// How a kind of request is shown: its label and the digest group it lands under. (Its
/// channel is the tenant's route for the kind, kept in one place only.)
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reminder_group: Option<String>,
    /// Whether the host's documents are fetched and shown in the thread (on unless set
    /// off): some hosts keep documents behind their own login only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_files: Option<bool>,
}

/// A `PUT …/kinds/{kind}`: the display settings to lay over the stored ones, and the
/// channel to route the kind to, when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindUpdate {
    pub settings: KindSettings,
    pub channel_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KindBody {
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    reminder_group: Option<String>,
    #[serde(default)]
    channel_id: Option<String>,
    #[serde(default)]
    attach_files: Option<bool>,
}

impl KindUpdate {
    /// Parses `PUT /v1/tenants/{t}/kinds/{kind}`; a field left out keeps its stored value.
    pub fn from_json(body: &[u8]) -> Result<Self, ValidationError> {
        let body: KindBody = parse_json(body)?;
        let text = |field: &str, value: Option<String>, max: usize| {
            value
                .map(|value| {
                    crate::domain::check_text(field, &value, max)?;
                    Ok(value.trim().to_owned())
                })
                .transpose()
        };
        let update = Self {
            settings: KindSettings {
                label: text("label", body.label, LABEL_MAX)?,
                reminder_group: text("reminder_group", body.reminder_group, REMINDER_GROUP_MAX)?,
                attach_files: body.attach_files,
            },
            channel_id: body.channel_id,
        };
        if let Some(channel_id) = &update.channel_id {
            check_channel_id("channel_id", channel_id)?;
        }
        if update.settings == KindSettings::default() && update.channel_id.is_none() {
            return Err(ValidationError::new(
                "body",
                "must set at least one of label, reminder_group, channel_id, attach_files",
            ));
        }
        Ok(update)
    }
}

impl KindSettings {
    /// What the kind is called: its label, else its id made readable.
    pub fn label_of(&self, kind: &str) -> String {
        self.label.clone().unwrap_or_else(|| humanise(kind))
    }

    pub fn group(&self) -> String {
        self.reminder_group
            .clone()
            .unwrap_or_else(|| DEFAULT_REMINDER_GROUP.to_owned())
    }

    /// These settings with `newer`'s fields laid over them.
    pub fn merged(&self, newer: &Self) -> Self {
        Self {
            label: newer.label.clone().or_else(|| self.label.clone()),
            reminder_group: newer
                .reminder_group
                .clone()
                .or_else(|| self.reminder_group.clone()),
            attach_files: newer.attach_files.or(self.attach_files),
        }
    }

    pub fn attaches_files(&self) -> bool {
        self.attach_files.unwrap_or(true)
    }
}

/// `purchase_order` → "Purchase order".
pub fn humanise(kind: &str) -> String {
    let spaced = kind.replace(['_', '-', '.'], " ");
    let mut chars = spaced.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A sent digest: the DM, whom it was for and what it listed, so a decision on any item
/// re-renders the whole message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    pub channel_id: String,
    pub message_ts: String,
    pub tenant_id: String,
    pub user_id: HostUserId,
    pub slack_user_id: String,
    /// Oldest first, as shown.
    pub items: Vec<DigestItem>,
    /// Waiting items beyond what one message holds.
    #[serde(default)]
    pub more: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox_url: Option<String>,
    pub sent_at: i64,
}

/// One line of a digest: the request, where to open it, and under which group and label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DigestItem {
    pub approval_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permalink: Option<String>,
    pub group: String,
    pub label: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_settings_name_the_bad_field_and_merge_over_stored_ones() {
        let error = |body: &str| KindUpdate::from_json(body.as_bytes()).unwrap_err().field;
        assert_eq!(
            error(&format!(r#"{{"reminder_group":"{}"}}"#, "x".repeat(76))),
            "reminder_group"
        );
        assert_eq!(error(r#"{"label":"  "}"#), "label");
        assert_eq!(error(r##"{"channel_id":"#general"}"##), "channel_id");
        assert_eq!(error(r#"{"colour":"red"}"#), "colour");
        assert_eq!(error("{}"), "body");
        let stored = KindSettings {
            label: Some("Invoice".into()),
            ..KindSettings::default()
        };
        let newer = KindUpdate::from_json(br#"{"reminder_group":"To pay"}"#).unwrap();
        let merged = stored.merged(&newer.settings);
        assert_eq!(merged.label.as_deref(), Some("Invoice"));
        assert_eq!(merged.group(), "To pay");
        let route = KindUpdate::from_json(br#"{"channel_id":"C0FINANCE"}"#).unwrap();
        assert_eq!(route.channel_id.as_deref(), Some("C0FINANCE"));
        assert_eq!(
            KindSettings::default().label_of("purchase_order"),
            "Purchase order"
        );
        assert_eq!(KindSettings::default().group(), "To approve");
    }
}
