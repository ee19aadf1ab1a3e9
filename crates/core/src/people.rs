//! The host's people and their Slack identities: validated ids and emails, mapped by email.
//!
//! A host user is mapped to the Slack user whose email matches (compared lowercased, since
//! Slack does not document its own case handling). Each tenant keeps its own users, so two
//! tenants on one workspace never see each other's people.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::domain::{parse_json, ValidationError};

/// Most users one `PUT …/users` call may carry.
pub const MAX_USERS_PER_CALL: usize = 1_000;
/// Most approvers one request may name.
pub const MAX_APPROVERS: usize = 50;
const MAX_USER_ID: usize = 128;
const MAX_NAME: usize = 200;
const MAX_EMAIL: usize = 254;

/// The host's own id for a person: 1–128 characters of `[A-Za-z0-9._:@-]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostUserId(String);

impl HostUserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for HostUserId {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let valid = !value.is_empty()
            && value.len() <= MAX_USER_ID
            && value.bytes().all(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-')
            });
        if valid {
            Ok(Self(value))
        } else {
            Err(format!(
                "must be 1 to {MAX_USER_ID} characters of A-Z, a-z, 0-9, '.', '_', ':', '@', '-'"
            ))
        }
    }
}

impl From<HostUserId> for String {
    fn from(id: HostUserId) -> Self {
        id.0
    }
}

impl fmt::Display for HostUserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An email address, stored lowercased: how two spellings of one address compare equal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Email {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        let value = value.trim().to_lowercase();
        let mut parts = value.splitn(2, '@');
        let valid = matches!((parts.next(), parts.next()), (Some(local), Some(domain))
            if !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@'))
            && value.len() <= MAX_EMAIL
            && !value.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(Self(value))
        } else {
            Err("must be an email address".into())
        }
    }
}

impl From<Email> for String {
    fn from(email: Email) -> Self {
        email.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a host user has a Slack identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MappingStatus {
    Mapped,
    /// No active Slack user of the workspace has this email: the host's "not integrated".
    NotInSlack,
}

impl MappingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mapped => "mapped",
            Self::NotInSlack => "not_in_slack",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "mapped" => Some(Self::Mapped),
            "not_in_slack" => Some(Self::NotInSlack),
            _ => None,
        }
    }
}

/// A list of host user ids in a request: at most [`MAX_APPROVERS`], each once.
pub(crate) fn check_user_list(field: &str, user_ids: &[HostUserId]) -> Result<(), ValidationError> {
    if user_ids.len() > MAX_APPROVERS {
        return Err(ValidationError::new(
            field,
            format!("at most {MAX_APPROVERS} users are allowed"),
        ));
    }
    for (index, user_id) in user_ids.iter().enumerate() {
        if user_ids[..index].contains(user_id) {
            return Err(ValidationError::new(
                format!("{field}[{index}]"),
                format!("{user_id} is listed twice"),
            ));
        }
    }
    Ok(())
}

/// One person as the host described them, before mapping.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserInput {
    pub user_id: HostUserId,
    pub email: Email,
    pub name: String,
}

/// `PUT …/users/{user_id}`: the id is in the path.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneUserInput {
    pub email: Email,
    pub name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserBatch {
    users: Vec<UserInput>,
}

/// Parses `{"users":[…]}`: at most 1,000, each id once; errors name the field.
pub fn parse_user_batch(body: &[u8]) -> Result<Vec<UserInput>, ValidationError> {
    let batch: UserBatch = parse_json(body)?;
    if batch.users.is_empty() {
        return Err(ValidationError::new("users", "must list at least one user"));
    }
    if batch.users.len() > MAX_USERS_PER_CALL {
        return Err(ValidationError::new(
            "users",
            format!("at most {MAX_USERS_PER_CALL} users a call"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    for (index, user) in batch.users.iter().enumerate() {
        if !seen.insert(&user.user_id) {
            return Err(ValidationError::new(
                format!("users[{index}].user_id"),
                format!("{} is listed twice", user.user_id),
            ));
        }
        check_name(&format!("users[{index}].name"), &user.name)?;
    }
    Ok(batch.users)
}

/// Parses `{"email","name"}` for one user.
pub fn parse_one_user(body: &[u8]) -> Result<OneUserInput, ValidationError> {
    let input: OneUserInput = parse_json(body)?;
    check_name("name", &input.name)?;
    Ok(input)
}

fn check_name(field: &str, name: &str) -> Result<(), ValidationError> {
    if name.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if name.chars().count() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ValidationError::new(
            field,
            format!("must be at most {MAX_NAME} characters, none of them control characters"),
        ));
    }
    Ok(())
}

/// A tenant's user, as stored and as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostUser {
    pub user_id: HostUserId,
    pub email: Email,
    pub name: String,
    pub status: MappingStatus,
    #[serde(default)]
    pub slack_user_id: Option<String>,
    /// The Slack user's IANA time zone, for reminders at their local time.
    #[serde(default)]
    pub tz: Option<String>,
    pub updated_at: i64,
}

impl HostUser {
    /// The user mapped to `member` when it can be mapped, not in Slack otherwise.
    pub fn mapped(input: UserInput, member: Option<&SlackMember>, now: i64) -> Self {
        let member = member.filter(|m| m.can_be_mapped());
        Self {
            user_id: input.user_id,
            email: input.email,
            name: input.name,
            status: if member.is_some() {
                MappingStatus::Mapped
            } else {
                MappingStatus::NotInSlack
            },
            slack_user_id: member.map(|m| m.id.clone()),
            tz: member.and_then(|m| m.tz.clone()),
            updated_at: now,
        }
    }

    /// The API's view: `{"user_id","status","slack_user_id"}` plus name, email and tz.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "user_id": self.user_id,
            "status": self.status.as_str(),
            "slack_user_id": self.slack_user_id,
            "email": self.email,
            "name": self.name,
            "tz": self.tz,
        })
    }
}

/// A Slack user as `users.list`, `users.info`, `team_join` and `user_change` show them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackMember {
    pub id: String,
    /// The user's own team: in a Slack Connect channel, not the workspace's.
    pub team_id: Option<String>,
    pub email: Option<Email>,
    pub name: String,
    pub tz: Option<String>,
    pub deleted: bool,
    pub is_bot: bool,
}

/// Slackbot is no bot to the API (`is_bot: false`); only its id gives it away.
pub const SLACKBOT_ID: &str = "USLACKBOT";

impl SlackMember {
    /// A person who can decide: active, not a bot, not Slackbot, with an email.
    pub fn can_be_mapped(&self) -> bool {
        !self.deleted && !self.is_bot && self.id != SLACKBOT_ID && self.email.is_some()
    }

    /// Whether the user belongs to the installation's workspace (or, org-wide, its
    /// enterprise): a Slack Connect outsider is never mapped, so never gets a DM.
    pub fn is_member_of(&self, installation_id: &str) -> bool {
        installation_id.starts_with('E')
            || self
                .team_id
                .as_deref()
                .is_none_or(|team| team == installation_id)
    }

    /// Reads Slack's user object; `None` when it has no `id`.
    pub fn from_slack(user: &serde_json::Value) -> Option<Self> {
        let id = user.get("id")?.as_str()?.to_owned();
        let text =
            |value: &serde_json::Value| value.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
        let profile = &user["profile"];
        Some(Self {
            team_id: text(&user["team_id"]),
            email: text(&profile["email"]).and_then(|e| Email::try_from(e).ok()),
            name: text(&profile["real_name"])
                .or_else(|| text(&user["real_name"]))
                .or_else(|| text(&user["name"]))
                .unwrap_or_else(|| id.clone()),
            tz: text(&user["tz"]),
            deleted: user["deleted"].as_bool().unwrap_or(false),
            is_bot: user["is_bot"].as_bool().unwrap_or(false)
                || user["is_app_user"].as_bool().unwrap_or(false),
            id,
        })
    }
}

/// What a tenant knows of one Slack user: the host user it is mapped to, and whether Slack
/// deactivated it (a click of a deactivated user changes nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackIdentity {
    pub slack_user_id: String,
    #[serde(default)]
    pub user_id: Option<HostUserId>,
    #[serde(default)]
    pub email: Option<Email>,
    #[serde(default)]
    pub deactivated: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lowercased_and_checked() {
        assert_eq!(
            Email::try_from("Ana@Example.com".to_owned())
                .unwrap()
                .as_str(),
            "ana@example.com"
        );
        for bad in ["", "ana", "ana@", "@x.io", "a b@x.io", "ana@x", "ana@.io"] {
            assert!(Email::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn host_user_ids_keep_to_their_alphabet() {
        assert!(HostUserId::try_from("u-ana.1:x@y_z".to_owned()).is_ok());
        for bad in ["", "a b", "a/b", &"x".repeat(129)] {
            assert!(HostUserId::try_from(bad.to_owned()).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_batch_names_the_bad_field() {
        let error = parse_user_batch(
            br#"{"users":[{"user_id":"u-ana","email":"ana@x.io","name":"Ana"},
                          {"user_id":"u-ben","email":"nope","name":"Ben"}]}"#,
        )
        .unwrap_err();
        assert_eq!(error.field, "users[1].email");

        let error = parse_user_batch(
            br#"{"users":[{"user_id":"u-ana","email":"ana@x.io","name":"Ana"},
                          {"user_id":"u-ana","email":"ana2@x.io","name":"Ana"}]}"#,
        )
        .unwrap_err();
        assert_eq!(error.field, "users[1].user_id");

        let error =
            parse_user_batch(br#"{"users":[{"user_id":"a b","email":"a@x.io","name":"A"}]}"#)
                .unwrap_err();
        assert_eq!(error.field, "users[0].user_id");
    }

    #[test]
    fn bots_slackbot_and_deactivated_users_are_never_mapped() {
        let member = |id: &str, deleted: bool, is_bot: bool| SlackMember {
            id: id.into(),
            team_id: None,
            email: Some(Email::try_from("x@y.io".to_owned()).unwrap()),
            name: "X".into(),
            tz: None,
            deleted,
            is_bot,
        };
        assert!(member("U1", false, false).can_be_mapped());
        assert!(!member("U1", true, false).can_be_mapped());
        assert!(!member("U1", false, true).can_be_mapped());
        assert!(!member(SLACKBOT_ID, false, false).can_be_mapped());
    }
}
