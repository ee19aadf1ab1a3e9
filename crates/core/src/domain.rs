//! Domain types: approval requests, approvals, decisions, installations, and their rules.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use std::collections::BTreeMap;

use crate::machine::{ApprovalState, Policy, Status};
use crate::outbox::OutboxEntry;
use crate::people::{check_user_list, Email, HostUserId};
use crate::secret::SecretToken;

/// A 400 that names the offending field, e.g. `fields[2].label`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Approved,
    Rejected,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Approved => "approved",
            Self::Rejected => "rejected",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Requester {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The host's id for the requester: when mapped, they are told the outcome and may
    /// never decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<HostUserId>,
}

/// Whether Reject asks for a reason (in a modal) before it counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    #[default]
    Required,
    Optional,
    None,
}

impl RejectReason {
    pub fn is_required(&self) -> bool {
        *self == Self::Required
    }
}

/// What the host asks for; valid once [`ApprovalRequest::from_json`] returned it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalRequest {
    pub tenant_id: String,
    pub external_id: String,
    pub kind: String,
    pub title: String,
    #[serde(default)]
    pub fields: Vec<Field>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    pub requester: Requester,
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The host users who may decide; each mapped one is asked in a DM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvers: Vec<HostUserId>,
    #[serde(default, skip_serializing_if = "RejectReason::is_required")]
    pub reject_reason: RejectReason,
    /// When a request still pending ends as `expired` (RFC 3339, as the host sent it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// How many of `approvers` must approve (any reject rejects); one without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyRequest>,
    /// Ordered steps, each with its approvers: a step's are asked once the one before it
    /// is approved. With steps, `approvers` lists everyone in them, in order (filled in).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRequest>,
    /// Still pending this many hours after it was made, `escalate_to` are added as
    /// approvers (with their DMs) and the first approvers are reminded in the thread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalate_after_hours: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate_to: Vec<HostUserId>,
    /// Documents to show in the request's thread (the worker uploads each once).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<crate::files::Attachment>,
}

/// The longest a request may wait before it is escalated: a year.
pub const MAX_ESCALATE_AFTER_HOURS: u32 = 366 * 24;

/// `"policy": {"min_approvals": 2}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyRequest {
    pub min_approvals: u32,
}

/// One of `"steps"`: `{"approvers": ["u-c1", "u-c2"], "min_approvals": 1}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    pub approvers: Vec<HostUserId>,
    #[serde(default = "one_approval")]
    pub min_approvals: u32,
}

fn one_approval() -> u32 {
    1
}

/// The most steps a request may have.
pub const MAX_STEPS: usize = 10;

/// The furthest ahead a request may expire.
pub const MAX_EXPIRY_SECS: i64 = 366 * 86_400;

/// Longest inputs we store; Slack's own smaller limits are met by visible truncation.
pub mod limits {
    pub const ID: usize = 64;
    pub const EXTERNAL_ID: usize = 200;
    pub const TITLE: usize = 3000;
    pub const FIELDS: usize = 20;
    pub const FIELD_LABEL: usize = 300;
    pub const FIELD_VALUE: usize = 3000;
    pub const NOTES: usize = 10_000;
    pub const LINK: usize = 3000;
    pub const NAME: usize = 200;
}

impl ApprovalRequest {
    /// Parses and validates a host request body; errors name the field.
    pub fn from_json(body: &[u8]) -> Result<Self, ValidationError> {
        let mut request: Self = parse_json(body)?;
        request.validate()?;
        Ok(request)
    }

    /// The deadline as epoch seconds; `None` without one (or one that does not parse,
    /// which validation refused).
    pub fn expires_at_epoch(&self) -> Option<i64> {
        let text = self.expires_at.as_deref()?;
        text.parse::<jiff::Timestamp>()
            .ok()
            .map(|at| at.as_second())
    }

    /// The deadline is in the future and at most a year ahead of `now`.
    pub fn check_deadline(&self, now: i64) -> Result<Option<i64>, ValidationError> {
        let Some(at) = self.expires_at_epoch() else {
            return Ok(None);
        };
        if at <= now {
            return Err(ValidationError::new("expires_at", "must be in the future"));
        }
        if at - now > MAX_EXPIRY_SECS {
            return Err(ValidationError::new(
                "expires_at",
                "must be at most a year ahead",
            ));
        }
        Ok(Some(at))
    }

    fn validate(&mut self) -> Result<(), ValidationError> {
        check_identifier("tenant_id", &self.tenant_id)?;
        if let Some(text) = &self.expires_at {
            if text.parse::<jiff::Timestamp>().is_err() {
                return Err(ValidationError::new(
                    "expires_at",
                    format!("must be an RFC 3339 time such as 2026-12-24T17:00:00Z, not {text:?}"),
                ));
            }
        }
        check_text("external_id", &self.external_id, limits::EXTERNAL_ID)?;
        check_identifier("kind", &self.kind)?;
        check_text("title", &self.title, limits::TITLE)?;
        check_fields(&self.fields)?;
        crate::files::check_attachments(&self.attachments)?;
        if let Some(notes) = &self.notes {
            if notes.chars().count() > limits::NOTES {
                return Err(ValidationError::new(
                    "notes",
                    format!("must be at most {} characters", limits::NOTES),
                ));
            }
        }
        if let Some(link) = &self.link {
            self.link = Some(check_link(link)?);
        }
        check_text("requester.name", &self.requester.name, limits::NAME)?;
        if let Some(email) = &self.requester.email {
            if !looks_like_email(email) {
                return Err(ValidationError::new(
                    "requester.email",
                    "must be an email address",
                ));
            }
        }
        if let Some(channel_id) = &self.channel_id {
            check_channel_id("channel_id", channel_id)?;
        }
        self.check_policy()?;
        self.check_escalation()?;
        check_user_list("approvers", &self.approvers)?;
        for (index, approver) in self.approvers.iter().enumerate() {
            if self.requester.user_id.as_ref() == Some(approver) {
                return Err(ValidationError::new(
                    format!("approvers[{index}]"),
                    format!("{approver} is the requester, who may not decide their own request"),
                ));
            }
        }
        Ok(())
    }

    /// `escalate_after_hours` and `escalate_to` come together, and name whom to add.
    fn check_escalation(&self) -> Result<(), ValidationError> {
        match (self.escalate_after_hours, self.escalate_to.is_empty()) {
            (None, true) => Ok(()),
            (Some(_), true) => Err(ValidationError::new(
                "escalate_to",
                "required with escalate_after_hours: whom to add as approvers",
            )),
            (None, false) => Err(ValidationError::new(
                "escalate_after_hours",
                "required with escalate_to: after how many hours without a decision",
            )),
            (Some(hours), false) => {
                if hours == 0 || hours > MAX_ESCALATE_AFTER_HOURS {
                    return Err(ValidationError::new(
                        "escalate_after_hours",
                        format!("must be 1 to {MAX_ESCALATE_AFTER_HOURS} hours"),
                    ));
                }
                check_user_list("escalate_to", &self.escalate_to)
            }
        }
    }

    /// When the request escalates, if it does.
    pub fn escalates_at(&self, created_at: i64) -> Option<i64> {
        self.escalate_after_hours
            .filter(|_| !self.escalate_to.is_empty())
            .map(|hours| created_at + i64::from(hours) * 3600)
    }

    /// `policy` or `steps` (not both) that every request can finish; with steps,
    /// `approvers` becomes everyone in them, in order, each once.
    fn check_policy(&mut self) -> Result<(), ValidationError> {
        let min_of = |field: String, min: u32, of: usize| {
            if min == 0 || min as usize > of {
                Err(ValidationError::new(
                    field,
                    format!("must be 1 to {of}, the number of approvers"),
                ))
            } else {
                Ok(())
            }
        };
        if let Some(policy) = &self.policy {
            if !self.steps.is_empty() {
                return Err(ValidationError::new(
                    "steps",
                    "give either policy or steps, not both",
                ));
            }
            min_of(
                "policy.min_approvals".into(),
                policy.min_approvals,
                self.approvers.len(),
            )?;
        }
        if self.steps.is_empty() {
            return Ok(());
        }
        if !self.approvers.is_empty() {
            return Err(ValidationError::new(
                "approvers",
                "give the approvers inside steps when there are steps",
            ));
        }
        if self.steps.len() > MAX_STEPS {
            return Err(ValidationError::new(
                "steps",
                format!("at most {MAX_STEPS} steps"),
            ));
        }
        for (index, step) in self.steps.iter().enumerate() {
            let field = format!("steps[{index}].approvers");
            if step.approvers.is_empty() {
                return Err(ValidationError::new(
                    field,
                    "a step needs at least one approver",
                ));
            }
            check_user_list(&field, &step.approvers)?;
            min_of(
                format!("steps[{index}].min_approvals"),
                step.min_approvals,
                step.approvers.len(),
            )?;
        }
        let mut everyone: Vec<HostUserId> = Vec::new();
        for user_id in self.steps.iter().flat_map(|step| &step.approvers) {
            if !everyone.contains(user_id) {
                everyone.push(user_id.clone());
            }
        }
        self.approvers = everyone;
        Ok(())
    }

    /// Same tenant and external id: the same approval. Deriving the id makes the
    /// idempotent create a single conditional write.
    pub fn approval_id(&self) -> String {
        approval_id_for(&self.tenant_id, &self.external_id)
    }

    /// Distinguishes an idempotent repeat (same fingerprint) from a conflicting one.
    pub fn fingerprint(&self) -> String {
        let canonical = serde_json::to_vec(self).expect("plain data always serialises");
        hex::encode(Sha256::digest(canonical))
    }
}

pub fn approval_id_for(tenant_id: &str, external_id: &str) -> String {
    let mut hasher = Sha256::new();
    // Length-prefixed, so no pair of strings can collide with another pair.
    hasher.update((tenant_id.len() as u64).to_be_bytes());
    hasher.update(tenant_id.as_bytes());
    hasher.update(external_id.as_bytes());
    format!("apr_{}", hex::encode(&hasher.finalize()[..16]))
}

/// Where a listing of a tenant's approvals resumes: just after this approval. As text
/// (`{status}.{created_at}.{id}`) it is the `next_cursor` the host passes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub status: crate::machine::Status,
    pub created_at: i64,
    pub approval_id: String,
}

impl ListCursor {
    pub fn after(approval: &Approval) -> Self {
        Self {
            status: approval.status(),
            created_at: approval.created_at,
            approval_id: approval.id.clone(),
        }
    }

    /// Reads a cursor the API gave; anything else is the host's mistake.
    pub fn parse(value: &str) -> Result<Self, ValidationError> {
        let invalid = || ValidationError::new("cursor", "is not a cursor this API gave");
        let mut parts = value.splitn(3, '.');
        let (Some(status), Some(created_at), Some(approval_id)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        let status = crate::machine::Status::parse(status).ok_or_else(invalid)?;
        let created_at = created_at
            .parse::<i64>()
            .ok()
            .filter(|at| *at >= 0)
            .ok_or_else(invalid)?;
        if !looks_like_approval_id(approval_id) {
            return Err(invalid());
        }
        Ok(Self {
            status,
            created_at,
            approval_id: approval_id.to_owned(),
        })
    }
}

impl std::fmt::Display for ListCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}.{}.{}",
            self.status.as_str(),
            self.created_at,
            self.approval_id
        )
    }
}

/// The shape of the ids `approval_id_for` makes; anything else names no approval.
pub fn looks_like_approval_id(value: &str) -> bool {
    value.len() <= 64
        && value.starts_with("apr_")
        && value[4..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// Deserialises JSON, naming the path of the first bad, missing or unknown field, or the
/// line and column where the text stops being JSON.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ValidationError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            let what = inner.to_string();
            let what = what.split(" at line ").next().unwrap_or_default();
            return ValidationError::new(
                "body",
                format!(
                    "is not valid JSON: {what} at line {} column {}",
                    inner.line(),
                    inner.column()
                ),
            );
        }
        let message = inner.to_string();
        if let Some(rest) = message.strip_prefix("unknown field `") {
            // "unknown field `note`, expected one of `a`, `b`": the path already ends at it.
            let (unknown, expected) = rest.split_once('`').unwrap_or((rest, ""));
            let field = if path == "." || path.is_empty() {
                unknown.to_owned()
            } else if path.ends_with(unknown) {
                path
            } else {
                format!("{path}.{unknown}")
            };
            let expected = expected.split(" at line ").next().unwrap_or_default();
            return ValidationError::new(field, format!("unknown field{expected}"));
        }
        let field = match message.split('`').nth(1) {
            Some(missing) if message.starts_with("missing field") && path == "." => {
                missing.to_owned()
            }
            Some(missing) if message.starts_with("missing field") => format!("{path}.{missing}"),
            _ if path == "." => "body".to_owned(),
            _ => path,
        };
        let message = message
            .split(" at line ")
            .next()
            .unwrap_or_default()
            .to_owned();
        ValidationError::new(field, message)
    })
}

/// Tenant ids and kinds end up in table keys, so they are kept to a safe alphabet.
pub fn check_identifier(field: &str, value: &str) -> Result<(), ValidationError> {
    let valid = !value.is_empty()
        && value.len() <= limits::ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            format!(
                "must be 1 to {} characters of A-Z, a-z, 0-9, '_', '-', '.'",
                limits::ID
            ),
        ))
    }
}

/// Slack conversation ids: public (C), private (G) or direct (D) channels.
pub fn check_channel_id(field: &str, value: &str) -> Result<(), ValidationError> {
    let valid = value.len() >= 3
        && value.len() <= 32
        && matches!(value.as_bytes()[0], b'C' | b'G' | b'D')
        && value
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(ValidationError::new(
            field,
            "must be a Slack channel id such as C0123ABC",
        ))
    }
}

/// The fields of a request: at most [`limits::FIELDS`], each label and value checked.
pub(crate) fn check_fields(fields: &[Field]) -> Result<(), ValidationError> {
    if fields.len() > limits::FIELDS {
        return Err(ValidationError::new(
            "fields",
            format!("at most {} fields are allowed", limits::FIELDS),
        ));
    }
    for (index, field) in fields.iter().enumerate() {
        check_text(
            &format!("fields[{index}].label"),
            &field.label,
            limits::FIELD_LABEL,
        )?;
        check_text(
            &format!("fields[{index}].value"),
            &field.value,
            limits::FIELD_VALUE,
        )?;
    }
    Ok(())
}

pub(crate) fn check_text(field: &str, value: &str, max: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Returns the link normalised (percent-encoded, `|` included), so it is safe inside
/// Slack's `<url|label>` syntax.
pub(crate) fn check_link(link: &str) -> Result<String, ValidationError> {
    let parsed = url::Url::parse(link)
        .map_err(|_| ValidationError::new("link", "must be an absolute http(s) URL"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(ValidationError::new(
            "link",
            "must be an absolute http(s) URL",
        ));
    }
    let normalised = parsed.as_str().replace('|', "%7C");
    if normalised.len() > limits::LINK {
        return Err(ValidationError::new(
            "link",
            format!("must be at most {} characters", limits::LINK),
        ));
    }
    Ok(normalised)
}

fn looks_like_email(email: &str) -> bool {
    let mut parts = email.splitn(2, '@');
    matches!((parts.next(), parts.next()), (Some(local), Some(domain))
        if !local.is_empty() && domain.contains('.') && !email.chars().any(char::is_whitespace)
            && email.len() <= 254)
}

/// Where one Slack message lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlackMessageRef {
    pub channel_id: String,
    pub message_ts: String,
}

/// Why a message shows the request: the kind's channel, or an approver's direct message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyRole {
    Channel,
    Direct,
    /// One item of a person's daily digest: re-rendering it re-renders the whole digest.
    Digest,
}

/// One Slack message that shows the request; every copy is updated when it changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageCopy {
    pub channel_id: String,
    pub message_ts: String,
    pub role: CopyRole,
    /// The Slack user a DM or digest copy was sent to: their own copy is the one to link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub for_user: Option<String>,
}

impl MessageCopy {
    pub fn new(at: SlackMessageRef, role: CopyRole) -> Self {
        Self {
            channel_id: at.channel_id,
            message_ts: at.message_ts,
            role,
            for_user: None,
        }
    }

    /// A copy sent to one person.
    pub fn sent_to(at: SlackMessageRef, role: CopyRole, slack_user_id: &str) -> Self {
        Self {
            for_user: Some(slack_user_id.to_owned()),
            ..Self::new(at, role)
        }
    }

    /// The copy's key in the approval's `copies` map: a message is a copy once, and a
    /// person's digest copy is their latest digest (a new one replaces it, so a request
    /// pending for weeks keeps one digest copy per approver, not one per day).
    pub fn key(&self) -> String {
        match (&self.role, &self.for_user) {
            (CopyRole::Digest, Some(slack_user_id)) => format!("digest-{slack_user_id}"),
            _ => Self::key_of(&self.at()),
        }
    }

    /// The key a message has as a copy, whatever its role.
    pub fn key_of(at: &SlackMessageRef) -> String {
        format!("{}-{}", at.channel_id, at.message_ts)
    }

    pub fn at(&self) -> SlackMessageRef {
        SlackMessageRef {
            channel_id: self.channel_id.clone(),
            message_ts: self.message_ts.clone(),
        }
    }
}

/// A person the request concerns, as resolved when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    #[serde(default)]
    pub user_id: Option<HostUserId>,
    pub name: String,
    #[serde(default)]
    pub email: Option<Email>,
    /// `None` when the person is not in Slack (not mapped).
    #[serde(default)]
    pub slack_user_id: Option<String>,
}

/// Who a request asks, and who asked: resolved to Slack users once, at creation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    #[serde(default)]
    pub approvers: Vec<Person>,
    #[serde(default)]
    pub requester: Option<Person>,
    /// Who is added as an approver if the request escalates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub escalate_to: Vec<Person>,
}

impl Audience {
    /// The host's identity of a Slack user the request named.
    pub fn person(&self, slack_user_id: &str) -> Option<&Person> {
        self.approvers
            .iter()
            .chain(self.requester.iter())
            .find(|p| p.slack_user_id.as_deref() == Some(slack_user_id))
    }
}

/// An approval: the host's request, its state machine, its Slack copies and its outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub id: String,
    pub fingerprint: String,
    pub request: ApprovalRequest,
    /// The installation (team or enterprise id) whose workspace shows the message.
    pub installation_id: String,
    pub created_at: i64,
    /// Status, policy, votes, ending and the version every transition is conditioned on.
    #[serde(flatten)]
    pub state: ApprovalState,
    /// Every message that shows the request, by [`MessageCopy::key`].
    #[serde(default)]
    pub copies: BTreeMap<String, MessageCopy>,
    /// Side effects still to do, done, or given up on, by [`crate::outbox`] key.
    #[serde(default)]
    pub outbox: BTreeMap<String, OutboxEntry>,
    /// Commands already applied, so a redelivered one only finishes its effects.
    #[serde(default)]
    pub applied: Vec<String>,
    #[serde(default)]
    pub audience: Audience,
}

impl Approval {
    /// The threads a reply, a comment or a file goes into: the channel message's, else
    /// each approver's DM.
    pub fn thread_roots(&self) -> Vec<SlackMessageRef> {
        let with_role = |role: CopyRole| -> Vec<SlackMessageRef> {
            self.copies
                .values()
                .filter(|copy| copy.role == role)
                .map(MessageCopy::at)
                .collect()
        };
        let channel = with_role(CopyRole::Channel);
        if channel.is_empty() {
            with_role(CopyRole::Direct)
        } else {
            channel
        }
    }

    pub fn new(request: ApprovalRequest, installation_id: String, now: i64) -> Self {
        Self {
            id: request.approval_id(),
            fingerprint: request.fingerprint(),
            request,
            installation_id,
            created_at: now,
            state: ApprovalState::new(Policy::anyone(), None),
            copies: BTreeMap::new(),
            outbox: BTreeMap::new(),
            applied: Vec::new(),
            audience: Audience::default(),
        }
    }

    pub fn status(&self) -> Status {
        self.state.status
    }

    /// Never posted and never touched: the only approval a failed create may delete.
    pub fn is_untouched(&self) -> bool {
        self.state.status == Status::Pending && self.state.version == 0 && self.copies.is_empty()
    }
}

/// A click, as queued between the interactivity endpoint and the worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionCommand {
    /// Derived from team, user and Slack's action timestamp: the same click is the same command.
    pub command_id: String,
    pub approval_id: String,
    pub decision: Decision,
    pub user_id: String,
    pub team_id: String,
    #[serde(default)]
    pub enterprise_id: Option<String>,
    #[serde(default)]
    pub response_url: Option<String>,
    /// The message clicked, so a copy the store missed (an ambiguous post that did land)
    /// is found and updated too.
    #[serde(default)]
    pub message: Option<SlackMessageRef>,
    /// A reject's reason, from the modal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl DecisionCommand {
    /// Whether the clicking workspace may act on an approval posted by `installation_id`:
    /// the same workspace, or any workspace of an org-wide installation's enterprise.
    pub fn may_act_on(&self, installation_id: &str) -> bool {
        self.team_id == installation_id || self.enterprise_id.as_deref() == Some(installation_id)
    }
}

/// A click that changed nothing, kept for the audit trail with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusedClick {
    pub command_id: String,
    pub slack_user_id: String,
    pub team_id: String,
    /// `foreign_team`, `deactivated`, `not_an_approver`, `own_request`, `already_voted` or
    /// `already_decided`.
    pub reason: String,
    pub at: i64,
}

/// A workspace (or, org-wide, an enterprise) where the app is installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub enterprise_id: Option<String>,
    pub enterprise_name: Option<String>,
    pub is_enterprise_install: bool,
    pub bot_user_id: String,
    pub app_id: String,
    pub scopes: Vec<String>,
    pub installed_by: Option<String>,
    pub installed_at: i64,
    pub bot_token: SecretToken,
    /// Set when the app has token rotation on: the token then expires at `bot_token_expires_at`.
    pub bot_refresh_token: Option<SecretToken>,
    pub bot_token_expires_at: Option<i64>,
}

impl Installation {
    /// Org-wide installs are keyed by enterprise, every other by team.
    pub fn id(&self) -> &str {
        if self.is_enterprise_install {
            self.enterprise_id.as_deref().unwrap_or_default()
        } else {
            self.team_id.as_deref().unwrap_or_default()
        }
    }
}

/// Where a tenant stands with Slack, as the host's settings page shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionStatus {
    Active,
    Disconnected,
    NotConnected,
}

/// Why a tenant was disconnected; sent to the host in `slack.disconnected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisconnectReason {
    HostRequest,
    AppUninstalled,
    TokensRevoked,
}

/// A tenant's link to an installation, kept after a disconnect for the status API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantLink {
    pub tenant_id: String,
    pub installation_id: String,
    pub status: ConnectionStatus,
    pub team_id: Option<String>,
    pub team_name: Option<String>,
    pub enterprise_id: Option<String>,
    pub installed_at: i64,
    pub installed_by: Option<String>,
    #[serde(default)]
    pub disconnect_reason: Option<DisconnectReason>,
    /// The host's name for the tenant, as its install link gave it: copies decided in the
    /// host say where ("Approved by Ana Alvarez in Acme").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_name: Option<String>,
}

impl TenantLink {
    pub fn active(tenant_id: &str, installation: &Installation) -> Self {
        Self {
            tenant_id: tenant_id.to_owned(),
            installation_id: installation.id().to_owned(),
            status: ConnectionStatus::Active,
            team_id: installation.team_id.clone(),
            team_name: installation
                .team_name
                .clone()
                .or_else(|| installation.enterprise_name.clone()),
            enterprise_id: installation.enterprise_id.clone(),
            installed_at: installation.installed_at,
            installed_by: installation.installed_by.clone(),
            disconnect_reason: None,
            tenant_name: None,
        }
    }
}

/// A one-time link the host hands its admin to start the Slack install.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallLink {
    pub tenant_id: String,
    /// The host's name for the tenant, used to greet the installer.
    pub tenant_name: Option<String>,
    pub return_url: String,
    pub expires_at: i64,
}

/// The OAuth `state`: single use, expiring, bound to a tenant, a return URL and a browser.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthState {
    pub state: String,
    pub tenant_id: String,
    #[serde(default)]
    pub tenant_name: Option<String>,
    pub return_url: String,
    /// SHA-256 of the secret half of the browser's cookie.
    pub cookie_hash: String,
    pub expires_at: i64,
    #[serde(default)]
    pub used_at: Option<i64>,
}

/// Where the host may send its admin back: https, or http on loopback for development.
pub fn check_return_url(field: &str, value: &str) -> Result<url::Url, ValidationError> {
    let parsed = url::Url::parse(value)
        .map_err(|_| ValidationError::new(field, "must be an absolute URL"))?;
    let loopback = matches!(parsed.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    let secure = parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback);
    if !secure || parsed.host_str().is_none() || value.len() > limits::LINK {
        return Err(ValidationError::new(
            field,
            "must be an https URL (http is allowed for localhost only)",
        ));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid_body() -> serde_json::Value {
        serde_json::json!({
            "tenant_id": "acme", "external_id": "DR-1042", "kind": "deal_registration",
            "title": "Deal registration: Initech, $48,000",
            "fields": [{"label": "Account", "value": "Initech"}],
            "notes": "Partner notes", "link": "https://host.example/deals/1042",
            "requester": {"name": "Pat Partner", "email": "pat@reseller.example"},
            "channel_id": "C0123"
        })
    }

    fn field_of(body: serde_json::Value) -> String {
        ApprovalRequest::from_json(body.to_string().as_bytes())
            .unwrap_err()
            .field
    }

    #[test]
    fn a_valid_request_parses() {
        let request = ApprovalRequest::from_json(valid_body().to_string().as_bytes()).unwrap();
        assert_eq!(request.external_id, "DR-1042");
        assert!(request.approval_id().starts_with("apr_"));
    }

    #[test]
    fn errors_name_the_field() {
        let mut body = valid_body();
        body.as_object_mut().unwrap().remove("kind");
        assert_eq!(field_of(body), "kind");

        let mut body = valid_body();
        body["fields"][0]["label"] = serde_json::json!(7);
        assert_eq!(field_of(body), "fields[0].label");

        let mut body = valid_body();
        body["fields"][0]["value"] = serde_json::json!("  ");
        assert_eq!(field_of(body), "fields[0].value");

        let mut body = valid_body();
        body["link"] = serde_json::json!("javascript:alert(1)");
        assert_eq!(field_of(body), "link");

        let sneaky =
            serde_json::json!("https://x.example/a> <!channel> <https://phish.example|Open");
        let mut body = valid_body();
        body["link"] = sneaky;
        let request = ApprovalRequest::from_json(body.to_string().as_bytes()).unwrap();
        let link = request.link.unwrap();
        assert!(!link.contains(['<', '>', '|', ' ']), "{link}");

        let mut body = valid_body();
        body["tenant_id"] = serde_json::json!("acme#admin");
        assert_eq!(field_of(body), "tenant_id");

        let mut body = valid_body();
        body["channel_id"] = serde_json::json!("general");
        assert_eq!(field_of(body), "channel_id");

        let mut body = valid_body();
        body["requester"].as_object_mut().unwrap().remove("name");
        assert_eq!(field_of(body), "requester.name");

        assert_eq!(
            ApprovalRequest::from_json(b"not json").unwrap_err().field,
            "body"
        );
    }

    #[test]
    fn an_unknown_field_is_named_and_refused() {
        let mut body = valid_body();
        body["note"] = serde_json::json!("typo of notes");
        let error = ApprovalRequest::from_json(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.field, "note");
        assert!(
            error
                .message
                .starts_with("unknown field, expected one of `tenant_id`"),
            "{}",
            error.message
        );

        let mut body = valid_body();
        body["requester"]["mail"] = serde_json::json!("pat@example.com");
        let error = ApprovalRequest::from_json(body.to_string().as_bytes()).unwrap_err();
        assert_eq!(error.field, "requester.mail");
    }

    #[test]
    fn malformed_json_names_its_line_and_column() {
        let error =
            ApprovalRequest::from_json(b"{\n  \"tenant_id\": \"acme\",\n  oops\n}").unwrap_err();
        assert_eq!(error.field, "body");
        assert_eq!(
            error.message,
            "is not valid JSON: key must be a string at line 3 column 3"
        );
    }

    #[test]
    fn the_id_depends_on_tenant_and_external_id_only() {
        assert_eq!(approval_id_for("a", "1"), approval_id_for("a", "1"));
        assert_ne!(approval_id_for("a", "1"), approval_id_for("b", "1"));
        assert_ne!(
            approval_id_for("a", "b\u{0}c"),
            approval_id_for("a\u{0}b", "c")
        );
    }

    #[test]
    fn org_wide_installs_accept_clicks_from_any_workspace_of_the_org() {
        let command = DecisionCommand {
            command_id: "c".into(),
            approval_id: "a".into(),
            decision: Decision::Approved,
            user_id: "U1".into(),
            team_id: "T2".into(),
            enterprise_id: Some("E1".into()),
            response_url: None,
            message: None,
            reason: None,
        };
        assert!(command.may_act_on("E1"));
        assert!(command.may_act_on("T2"));
        assert!(!command.may_act_on("T3"));
    }
}
