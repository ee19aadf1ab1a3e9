//! In-memory fakes of the ports, for unit tests of the use cases and for benches.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::blocks::SlackMessage;
use std::collections::BTreeMap;

use crate::domain::{
    Approval, ApprovalRequest, ConnectionStatus, DecisionCommand, DisconnectReason, Installation,
    MessageCopy, Requester, SlackMessageRef, TenantLink,
};
use crate::inbox::{Digest, InboxEntry, KindSettings};
use crate::outbox::OutboxEntry;
use crate::people::{Email, HostUser, HostUserId, MappingStatus, SlackIdentity, SlackMember};
use crate::ports::*;
use crate::reminders::{ReminderKey, Schedule, TenantReminders, Waiter};
use crate::secret::SecretToken;

pub fn installation(team_id: &str) -> Installation {
    Installation {
        team_id: Some(team_id.into()),
        team_name: Some("Acme".into()),
        enterprise_id: None,
        enterprise_name: None,
        is_enterprise_install: false,
        bot_user_id: "UBOT".into(),
        app_id: "A1".into(),
        scopes: vec!["chat:write".into()],
        installed_by: Some("UADMIN".into()),
        installed_at: 1,
        bot_token: SecretToken::new(format!("xoxb-{team_id}")),
        bot_refresh_token: None,
        bot_token_expires_at: None,
    }
}

pub fn request(external_id: &str, channel_id: Option<&str>) -> ApprovalRequest {
    ApprovalRequest {
        tenant_id: "acme".into(),
        external_id: external_id.into(),
        kind: "deal_registration".into(),
        title: "Deal registration: Initech".into(),
        fields: vec![],
        notes: None,
        link: None,
        requester: Requester {
            name: "Pat".into(),
            email: None,
            user_id: None,
        },
        channel_id: channel_id.map(str::to_owned),
        approvers: Vec::new(),
        reject_reason: crate::domain::RejectReason::None,
        expires_at: None,
        policy: None,
        steps: Vec::new(),
        escalate_after_hours: None,
        escalate_to: Vec::new(),
        attachments: Vec::new(),
    }
}

#[derive(Default)]
pub struct MemoryStore {
    approvals: Mutex<HashMap<String, Approval>>,
    claims: Mutex<HashMap<String, i64>>,
    channels: Mutex<HashMap<(String, String), String>>,
    installations: Mutex<HashMap<String, Installation>>,
    links: Mutex<HashMap<String, TenantLink>>,
    users: Mutex<std::collections::BTreeMap<(String, HostUserId), HostUser>>,
    identities: Mutex<HashMap<(String, String), SlackIdentity>>,
    refusals: Mutex<Vec<(String, crate::domain::RefusedClick)>>,
    notifications: Mutex<HashMap<String, crate::notification::Notification>>,
    parked: Mutex<std::collections::BTreeMap<(String, String), i64>>,
    inbox: Mutex<MemoryInbox>,
    comments: Mutex<HashMap<(String, String), HostComment>>,
    file_uploads: Mutex<HashMap<(String, String), crate::files::FileUpload>>,
    /// Each approval's audit trail, in the order written.
    audit: Mutex<HashMap<String, Vec<crate::audit::AuditEvent>>>,
    /// Quarter-hour start → approval ids due in it.
    deadlines: Mutex<BTreeMap<i64, std::collections::BTreeSet<Deadline>>>,
}

/// One person's waiting entries by (created_at, approval id), each with the reminder key
/// it is filed under.
type WaitingEntries = BTreeMap<(i64, String), (InboxEntry, Option<String>)>;

/// The inbox side of [`MemoryStore`], laid out as the table keeps it.
#[derive(Default)]
struct MemoryInbox {
    /// (tenant, user) → (created_at, approval) → entry and the key it is filed under.
    waiting: BTreeMap<(String, HostUserId), WaitingEntries>,
    asked: BTreeMap<(String, HostUserId), BTreeMap<(i64, String), InboxEntry>>,
    keys: std::collections::BTreeSet<String>,
    tenant_reminders: HashMap<String, TenantReminders>,
    schedules: HashMap<(String, HostUserId), Schedule>,
    kinds: HashMap<(String, String), KindSettings>,
    digests: HashMap<(String, String), Digest>,
}

impl MemoryStore {
    fn log(&self, approval_id: &str, events: impl IntoIterator<Item = crate::audit::AuditEvent>) {
        let mut audit = self.audit.lock().unwrap();
        audit
            .entry(approval_id.to_owned())
            .or_default()
            .extend(events);
    }

    pub fn connect(&self, tenant_id: &str, installation: Installation) {
        let link = TenantLink::active(tenant_id, &installation);
        self.installations
            .lock()
            .unwrap()
            .insert(installation.id().to_owned(), installation);
        self.links.lock().unwrap().insert(tenant_id.into(), link);
    }

    /// Gives a stored approval another policy (the host API for policies comes later).
    pub fn set_policy(&self, id: &str, policy: crate::machine::Policy) {
        if let Some(approval) = self.approvals.lock().unwrap().get_mut(id) {
            approval.state.policy = policy;
        }
    }

    /// When a claim expires, if it is held.
    pub fn claim_expiry(&self, key: &str) -> Option<i64> {
        self.claims.lock().unwrap().get(key).copied()
    }

    pub fn approval(&self, id: &str) -> Option<Approval> {
        self.approvals.lock().unwrap().get(id).cloned()
    }
}

#[async_trait]
impl ApprovalStore for MemoryStore {
    async fn insert_if_absent(&self, approval: &Approval) -> Result<Option<Approval>, StoreError> {
        let mut approvals = self.approvals.lock().unwrap();
        if let Some(existing) = approvals.get(&approval.id) {
            return Ok(Some(existing.clone()));
        }
        approvals.insert(approval.id.clone(), approval.clone());
        drop(approvals);
        self.log(&approval.id, [crate::audit::created(approval)]);
        Ok(None)
    }
    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        Ok(self.approval(approval_id))
    }
    async fn add_copy(&self, id: &str, copy: &MessageCopy) -> Result<(), StoreError> {
        let before = self
            .approvals
            .lock()
            .unwrap()
            .get_mut(id)
            .and_then(|approval| approval.copies.insert(copy.key(), copy.clone()));
        if before.as_ref() != Some(copy) {
            self.log(id, [crate::audit::copy_posted(copy)]);
        }
        Ok(())
    }
    async fn delete_untouched(&self, id: &str) -> Result<bool, StoreError> {
        let mut approvals = self.approvals.lock().unwrap();
        if approvals.get(id).is_some_and(Approval::is_untouched) {
            approvals.remove(id);
            return Ok(true);
        }
        Ok(false)
    }
    async fn commit(
        &self,
        id: &str,
        expected_version: u64,
        commit: &Commit,
    ) -> Result<bool, StoreError> {
        let mut approvals = self.approvals.lock().unwrap();
        let approval = approvals
            .get_mut(id)
            .ok_or_else(|| StoreError::Corrupt(id.into()))?;
        if approval.state.version != expected_version || approval.copies.len() != commit.copies_seen
        {
            return Ok(false);
        }
        approval.state = commit.state.clone();
        approval.outbox.extend(commit.outbox.iter().cloned());
        approval.applied.extend(commit.command_id.iter().cloned());
        drop(approvals);
        self.log(id, commit.audit.iter().cloned());
        Ok(true)
    }
    async fn add_effect(
        &self,
        id: &str,
        key: &str,
        entry: &OutboxEntry,
    ) -> Result<bool, StoreError> {
        let mut approvals = self.approvals.lock().unwrap();
        let approval = approvals
            .get_mut(id)
            .ok_or_else(|| StoreError::Corrupt(id.into()))?;
        if approval.outbox.contains_key(key) {
            return Ok(false);
        }
        approval.outbox.insert(key.into(), entry.clone());
        Ok(true)
    }
    async fn lease_effect(
        &self,
        id: &str,
        key: &str,
        entry: &OutboxEntry,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        let mut approvals = self.approvals.lock().unwrap();
        let Some(stored) = approvals.get_mut(id).and_then(|a| a.outbox.get_mut(key)) else {
            return Ok(false);
        };
        if (stored.seq, stored.for_version, stored.attempts)
            != (entry.seq, entry.for_version, entry.attempts)
            || !stored.is_open()
            || stored.leased_until.is_some_and(|held| held > now)
        {
            return Ok(false);
        }
        stored.leased_until = Some(until);
        Ok(true)
    }
    async fn save_effect(
        &self,
        id: &str,
        key: &str,
        entry: &OutboxEntry,
    ) -> Result<bool, StoreError> {
        let mut approvals = self.approvals.lock().unwrap();
        let Some(stored) = approvals.get_mut(id).and_then(|a| a.outbox.get_mut(key)) else {
            return Ok(false);
        };
        if (stored.seq, stored.for_version) != (entry.seq, entry.for_version) {
            return Ok(false);
        }
        *stored = entry.clone();
        drop(approvals);
        self.log(id, crate::audit::effect(key, entry));
        Ok(true)
    }
    async fn record_refusal(
        &self,
        approval_id: &str,
        refusal: &crate::domain::RefusedClick,
    ) -> Result<(), StoreError> {
        let mut refusals = self.refusals.lock().unwrap();
        if !refusals
            .iter()
            .any(|(id, r)| id == approval_id && r.command_id == refusal.command_id)
        {
            refusals.push((approval_id.to_owned(), refusal.clone()));
            drop(refusals);
            self.log(approval_id, [crate::audit::click_refused(refusal)]);
        }
        Ok(())
    }
    async fn refusals(
        &self,
        approval_id: &str,
    ) -> Result<Vec<crate::domain::RefusedClick>, StoreError> {
        Ok(self
            .refusals
            .lock()
            .unwrap()
            .iter()
            .filter(|(id, _)| id == approval_id)
            .map(|(_, r)| r.clone())
            .collect())
    }
    async fn claim_once(&self, key: &str, now: i64, expires_at: i64) -> Result<bool, StoreError> {
        let mut claims = self.claims.lock().unwrap();
        if claims.get(key).is_some_and(|held_until| *held_until >= now) {
            return Ok(false);
        }
        claims.insert(key.into(), expires_at);
        Ok(true)
    }
    async fn extend_claim(&self, key: &str, expires_at: i64) -> Result<(), StoreError> {
        self.claims.lock().unwrap().insert(key.into(), expires_at);
        Ok(())
    }
    async fn claim_expires_at(&self, key: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.claim_expiry(key))
    }
    async fn release_claim(&self, key: &str) -> Result<(), StoreError> {
        self.claims.lock().unwrap().remove(key);
        Ok(())
    }

    async fn list(
        &self,
        tenant_id: &str,
        status: Option<crate::machine::Status>,
        cursor: Option<&crate::domain::ListCursor>,
        limit: usize,
    ) -> Result<crate::ports::Page<Approval>, StoreError> {
        // The store's order: the key (status name, created, id), descending.
        let key = |a: &Approval| (a.status().as_str(), a.created_at, a.id.clone());
        let mut items: Vec<Approval> = self
            .approvals
            .lock()
            .unwrap()
            .values()
            .filter(|a| a.request.tenant_id == tenant_id)
            .filter(|a| status.is_none_or(|s| a.status() == s))
            .cloned()
            .collect();
        items.sort_by_key(|a| std::cmp::Reverse(key(a)));
        if let Some(cursor) = cursor {
            let after = (
                cursor.status.as_str(),
                cursor.created_at,
                cursor.approval_id.clone(),
            );
            items.retain(|a| key(a) < after);
        }
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            crate::domain::ListCursor::after(items.last().unwrap()).to_string()
        });
        Ok(crate::ports::Page { items, next_cursor })
    }

    async fn park(
        &self,
        installation_id: &str,
        approval_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.parked
            .lock()
            .unwrap()
            .insert((installation_id.into(), approval_id.into()), now);
        Ok(())
    }

    async fn parked(&self, installation_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .parked
            .lock()
            .unwrap()
            .keys()
            .filter(|(installation, _)| installation == installation_id)
            .map(|(_, approval)| approval.clone())
            .collect())
    }

    async fn unpark(
        &self,
        installation_id: &str,
        approval_id: &str,
        resumed_at: i64,
    ) -> Result<(), StoreError> {
        let mut parked = self.parked.lock().unwrap();
        let key = (installation_id.to_owned(), approval_id.to_owned());
        if parked.get(&key).is_some_and(|at| *at <= resumed_at) {
            parked.remove(&key);
        }
        Ok(())
    }
}

#[async_trait]
impl TenantStore for MemoryStore {
    async fn channel_for(&self, tenant_id: &str, kind: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .channels
            .lock()
            .unwrap()
            .get(&(tenant_id.into(), kind.into()))
            .cloned())
    }
    async fn set_channel(
        &self,
        tenant_id: &str,
        kind: &str,
        channel_id: &str,
    ) -> Result<(), StoreError> {
        self.channels
            .lock()
            .unwrap()
            .insert((tenant_id.into(), kind.into()), channel_id.into());
        Ok(())
    }
    async fn installation_for_tenant(
        &self,
        tenant_id: &str,
    ) -> Result<Option<Installation>, StoreError> {
        let link = self.links.lock().unwrap().get(tenant_id).cloned();
        Ok(link
            .filter(|l| l.status == ConnectionStatus::Active)
            .and_then(|l| {
                self.installations
                    .lock()
                    .unwrap()
                    .get(&l.installation_id)
                    .cloned()
            }))
    }
    async fn installation(&self, id: &str) -> Result<Option<Installation>, StoreError> {
        Ok(self.installations.lock().unwrap().get(id).cloned())
    }
    async fn save_installation(&self, installation: &Installation) -> Result<(), StoreError> {
        self.installations
            .lock()
            .unwrap()
            .insert(installation.id().into(), installation.clone());
        Ok(())
    }
    async fn delete_installation(&self, id: &str, not_after: i64) -> Result<bool, StoreError> {
        let mut installations = self.installations.lock().unwrap();
        if installations
            .get(id)
            .is_some_and(|i| i.installed_at <= not_after)
        {
            installations.remove(id);
            return Ok(true);
        }
        Ok(false)
    }
    async fn link(&self, tenant_id: &str) -> Result<Option<TenantLink>, StoreError> {
        Ok(self.links.lock().unwrap().get(tenant_id).cloned())
    }
    async fn save_link(&self, link: &TenantLink) -> Result<(), StoreError> {
        self.links
            .lock()
            .unwrap()
            .insert(link.tenant_id.clone(), link.clone());
        Ok(())
    }
    async fn disconnect_tenant(
        &self,
        tenant_id: &str,
        reason: DisconnectReason,
    ) -> Result<(), StoreError> {
        if let Some(link) = self.links.lock().unwrap().get_mut(tenant_id) {
            link.status = ConnectionStatus::Disconnected;
            link.disconnect_reason = Some(reason);
        }
        Ok(())
    }
    async fn active_tenants_of(&self, installation_id: &str) -> Result<Vec<String>, StoreError> {
        Ok(self
            .links
            .lock()
            .unwrap()
            .values()
            .filter(|l| {
                l.installation_id == installation_id && l.status == ConnectionStatus::Active
            })
            .map(|l| l.tenant_id.clone())
            .collect())
    }
    async fn installation_members(&self, id: &str) -> Result<Option<Vec<String>>, StoreError> {
        if !self.installations.lock().unwrap().contains_key(id) {
            return Ok(None);
        }
        Ok(Some(self.active_tenants_of(id).await?))
    }
    async fn try_lease_refresh(
        &self,
        _id: &str,
        _now: i64,
        _lease_secs: i64,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn save_refreshed_tokens(
        &self,
        id: &str,
        bot: &SecretToken,
        refresh: &SecretToken,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        if let Some(installation) = self.installations.lock().unwrap().get_mut(id) {
            installation.bot_token = bot.clone();
            installation.bot_refresh_token = Some(refresh.clone());
            installation.bot_token_expires_at = Some(expires_at);
        }
        Ok(())
    }
    async fn release_refresh_lease(&self, _id: &str) -> Result<(), StoreError> {
        Ok(())
    }
}

#[async_trait]
impl NotificationStore for MemoryStore {
    async fn get_notification(
        &self,
        notification_id: &str,
    ) -> Result<Option<crate::notification::Notification>, StoreError> {
        Ok(self
            .notifications
            .lock()
            .unwrap()
            .get(notification_id)
            .cloned())
    }
    async fn insert_notification(
        &self,
        notification: &crate::notification::Notification,
    ) -> Result<Option<crate::notification::Notification>, StoreError> {
        let mut stored = self.notifications.lock().unwrap();
        if let Some(existing) = stored.get(&notification.id) {
            return Ok(Some(existing.clone()));
        }
        stored.insert(notification.id.clone(), notification.clone());
        Ok(None)
    }
    async fn record_notification_post(
        &self,
        notification_id: &str,
        target: &str,
        copy: &MessageCopy,
    ) -> Result<(), StoreError> {
        if let Some(notification) = self.notifications.lock().unwrap().get_mut(notification_id) {
            notification.posted.insert(target.to_owned(), copy.clone());
        }
        Ok(())
    }
}

#[async_trait]
impl UserDirectory for MemoryStore {
    async fn save_users(&self, tenant_id: &str, users: &[HostUser]) -> Result<(), StoreError> {
        let mut stored = self.users.lock().unwrap();
        let mut identities = self.identities.lock().unwrap();
        let mut written = std::collections::HashSet::new();
        for user in users {
            let key = (tenant_id.to_owned(), user.user_id.clone());
            let old = stored.get(&key).and_then(|old| old.slack_user_id.clone());
            if let Some(old) = old.filter(|old| Some(old) != user.slack_user_id.as_ref()) {
                if let Some(identity) = identities.get_mut(&(tenant_id.to_owned(), old)) {
                    if identity.user_id.as_ref() == Some(&user.user_id) {
                        identity.user_id = None;
                        identity.email = None;
                    }
                }
            }
            if let Some(slack_user_id) = user
                .slack_user_id
                .as_ref()
                .filter(|id| written.insert((*id).clone()))
            {
                let identity = identities
                    .entry((tenant_id.to_owned(), slack_user_id.clone()))
                    .or_insert_with(|| SlackIdentity {
                        slack_user_id: slack_user_id.clone(),
                        user_id: None,
                        email: None,
                        deactivated: false,
                    });
                identity.user_id = Some(user.user_id.clone());
                identity.email = Some(user.email.clone());
            }
            stored.insert(key, user.clone());
        }
        Ok(())
    }
    async fn users(
        &self,
        tenant_id: &str,
        user_ids: &[HostUserId],
    ) -> Result<Vec<HostUser>, StoreError> {
        let stored = self.users.lock().unwrap();
        Ok(user_ids
            .iter()
            .filter_map(|id| stored.get(&(tenant_id.to_owned(), id.clone())).cloned())
            .collect())
    }
    async fn list_users(
        &self,
        tenant_id: &str,
        status: Option<MappingStatus>,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<Page<HostUser>, StoreError> {
        let stored = self.users.lock().unwrap();
        let mut items: Vec<HostUser> = stored
            .iter()
            .filter(|((tenant, id), user)| {
                tenant == tenant_id
                    && cursor.is_none_or(|after| id.as_str() > after)
                    && status.is_none_or(|s| s == user.status)
            })
            .map(|(_, user)| user.clone())
            .take(limit + 1)
            .collect();
        let next_cursor = (items.len() > limit).then(|| {
            items.truncate(limit);
            items
                .last()
                .map(|u| u.user_id.to_string())
                .unwrap_or_default()
        });
        Ok(Page { items, next_cursor })
    }
    async fn users_with_email(
        &self,
        tenant_id: &str,
        email: &Email,
    ) -> Result<Vec<HostUser>, StoreError> {
        let stored = self.users.lock().unwrap();
        Ok(stored
            .iter()
            .filter(|((tenant, _), user)| tenant == tenant_id && &user.email == email)
            .map(|(_, user)| user.clone())
            .collect())
    }
    async fn slack_identity(
        &self,
        tenant_id: &str,
        slack_user_id: &str,
    ) -> Result<Option<SlackIdentity>, StoreError> {
        Ok(self
            .identities
            .lock()
            .unwrap()
            .get(&(tenant_id.to_owned(), slack_user_id.to_owned()))
            .cloned())
    }
    async fn set_deactivated(
        &self,
        tenant_id: &str,
        slack_user_id: &str,
        deactivated: bool,
    ) -> Result<(), StoreError> {
        self.identities
            .lock()
            .unwrap()
            .entry((tenant_id.to_owned(), slack_user_id.to_owned()))
            .or_insert_with(|| SlackIdentity {
                slack_user_id: slack_user_id.to_owned(),
                user_id: None,
                email: None,
                deactivated,
            })
            .deactivated = deactivated;
        Ok(())
    }
}

#[derive(Default)]
pub struct FakeSlack {
    members: Vec<SlackMember>,
    member_pages: Mutex<usize>,
    views: Mutex<Vec<(String, serde_json::Value)>>,
    post_error: Option<String>,
    update_error: Option<SlackError>,
    update_failures_left: Mutex<u32>,
    posted: Mutex<Vec<(String, SlackMessage)>>,
    updates: Mutex<Vec<(SlackMessageRef, SlackMessage)>>,
    responses: Mutex<Vec<(String, serde_json::Value)>>,
    homes: Mutex<Vec<(String, serde_json::Value)>>,
}

impl FakeSlack {
    pub fn failing_updates(error: SlackError) -> Self {
        Self::failing_updates_times(error, u32::MAX)
    }
    /// Fails the next `times` updates with `error`, then updates.
    pub fn failing_updates_times(error: SlackError, times: u32) -> Self {
        Self {
            update_error: Some(error),
            update_failures_left: Mutex::new(times),
            ..Self::default()
        }
    }
    pub fn failing_posts(code: &str) -> Self {
        Self {
            post_error: Some(code.into()),
            ..Self::default()
        }
    }
    /// A workspace with these members; `users.list` pages hold two at most.
    pub fn with_members(members: Vec<SlackMember>) -> Self {
        Self {
            members,
            ..Self::default()
        }
    }
    pub fn member_pages_read(&self) -> usize {
        *self.member_pages.lock().unwrap()
    }
    pub fn views(&self) -> Vec<(String, serde_json::Value)> {
        self.views.lock().unwrap().clone()
    }
    pub fn posted(&self) -> Vec<(String, SlackMessage)> {
        self.posted.lock().unwrap().clone()
    }
    pub fn updates(&self) -> Vec<(SlackMessageRef, SlackMessage)> {
        self.updates.lock().unwrap().clone()
    }
    pub fn responses(&self) -> Vec<(String, serde_json::Value)> {
        self.responses.lock().unwrap().clone()
    }
    /// Every `views.publish`: whose Home, and the view.
    pub fn homes(&self) -> Vec<(String, serde_json::Value)> {
        self.homes.lock().unwrap().clone()
    }
}

#[async_trait]
impl SlackApi for FakeSlack {
    async fn post_message(
        &self,
        _token: &SecretToken,
        channel_id: &str,
        message: &SlackMessage,
    ) -> Result<SlackMessageRef, SlackError> {
        if let Some(code) = &self.post_error {
            return Err(SlackError::Api {
                method: "chat.postMessage".into(),
                code: code.clone(),
            });
        }
        let mut posted = self.posted.lock().unwrap();
        posted.push((channel_id.into(), message.clone()));
        // Like Slack, a post to a user id lands in their DM, whose `D…` id is answered.
        let channel_id = match channel_id.strip_prefix('U') {
            Some(rest) => format!("D{rest}"),
            None => channel_id.to_owned(),
        };
        Ok(SlackMessageRef {
            channel_id,
            message_ts: format!("1700000000.{:06}", posted.len()),
        })
    }
    async fn update_message(
        &self,
        _token: &SecretToken,
        at: &SlackMessageRef,
        message: &SlackMessage,
    ) -> Result<(), SlackError> {
        if let Some(error) = &self.update_error {
            let mut left = self.update_failures_left.lock().unwrap();
            if *left > 0 {
                *left -= 1;
                return Err(error.clone());
            }
        }
        self.updates
            .lock()
            .unwrap()
            .push((at.clone(), message.clone()));
        Ok(())
    }
    async fn respond(
        &self,
        response_url: &str,
        body: &serde_json::Value,
    ) -> Result<(), SlackError> {
        self.responses
            .lock()
            .unwrap()
            .push((response_url.into(), body.clone()));
        Ok(())
    }
    async fn post_reply(
        &self,
        token: &SecretToken,
        at: &SlackMessageRef,
        text: &str,
        _username: Option<&str>,
    ) -> Result<SlackMessageRef, SlackError> {
        self.post_message(token, &at.channel_id, &SlackMessage::plain(text))
            .await
    }
    async fn permalink(
        &self,
        _token: &SecretToken,
        at: &SlackMessageRef,
    ) -> Result<String, SlackError> {
        Ok(format!(
            "https://fake.slack.com/archives/{}/p{}",
            at.channel_id,
            at.message_ts.replace('.', "")
        ))
    }
    async fn publish_home(
        &self,
        _token: &SecretToken,
        slack_user_id: &str,
        view: &serde_json::Value,
    ) -> Result<(), SlackError> {
        self.homes
            .lock()
            .unwrap()
            .push((slack_user_id.to_owned(), view.clone()));
        Ok(())
    }
}

#[async_trait]
impl SlackDirectory for FakeSlack {
    async fn list_members(
        &self,
        _token: &SecretToken,
        cursor: Option<&str>,
        _limit: u32,
    ) -> Result<Page<SlackMember>, SlackError> {
        *self.member_pages.lock().unwrap() += 1;
        let start: usize = cursor
            .map_or(Ok(0), str::parse)
            .map_err(|_| SlackError::Api {
                method: "users.list".into(),
                code: "invalid_cursor".into(),
            })?;
        let end = (start + 2).min(self.members.len());
        Ok(Page {
            items: self.members[start..end].to_vec(),
            next_cursor: (end < self.members.len()).then(|| end.to_string()),
        })
    }
    async fn member_by_email(
        &self,
        _token: &SecretToken,
        email: &Email,
    ) -> Result<Option<SlackMember>, SlackError> {
        Ok(self
            .members
            .iter()
            .find(|m| !m.deleted && m.email.as_ref() == Some(email))
            .cloned())
    }
}

#[async_trait]
impl SlackViews for FakeSlack {
    async fn open_view(
        &self,
        _token: &SecretToken,
        trigger_id: &str,
        view: &serde_json::Value,
    ) -> Result<(), SlackError> {
        self.views
            .lock()
            .unwrap()
            .push((trigger_id.to_owned(), view.clone()));
        Ok(())
    }
}

/// The bot is in every channel it is asked about.
#[async_trait]
impl crate::ports::SlackChannels for FakeSlack {
    async fn join_channel(
        &self,
        _token: &SecretToken,
        _channel_id: &str,
    ) -> Result<(), SlackError> {
        Ok(())
    }
    async fn is_member(&self, _token: &SecretToken, _channel_id: &str) -> Result<bool, SlackError> {
        Ok(true)
    }
}

#[derive(Default)]
pub struct FakeWebhooks {
    failures_left: Mutex<u32>,
    events: Mutex<Vec<HostEvent>>,
}

impl FakeWebhooks {
    pub fn failing_times(times: u32) -> Self {
        Self {
            failures_left: Mutex::new(times),
            ..Self::default()
        }
    }
    /// Every attempt, failed ones included.
    pub fn events(&self) -> Vec<HostEvent> {
        self.events.lock().unwrap().clone()
    }
}

#[async_trait]
impl WebhookSink for FakeWebhooks {
    async fn deliver(&self, event: &HostEvent) -> Result<(), WebhookError> {
        self.events.lock().unwrap().push(event.clone());
        let mut failures_left = self.failures_left.lock().unwrap();
        if *failures_left > 0 {
            *failures_left -= 1;
            return Err(WebhookError::Status(503));
        }
        Ok(())
    }
}

/// The decision queue and host notifier in memory: what was sent, in order. It keeps at most
/// the last 1,024 items so a benchmark's millions of sends stay bounded.
#[derive(Default)]
pub struct MemoryQueue {
    /// The last 1024 items: a ring, so a benchmark's millionth send costs what its first did
    /// (dropping the oldest from a `Vec` moved all the others, a third of the ack path).
    sent: Mutex<std::collections::VecDeque<WorkItem>>,
}

impl MemoryQueue {
    pub fn sent(&self) -> Vec<WorkItem> {
        self.sent.lock().unwrap().iter().cloned().collect()
    }

    fn push(&self, item: WorkItem) {
        let mut sent = self.sent.lock().unwrap();
        if sent.len() >= 1024 {
            sent.pop_front();
        }
        sent.push_back(item);
    }
}

#[async_trait]
impl DecisionQueue for MemoryQueue {
    async fn enqueue(&self, command: &DecisionCommand) -> Result<(), QueueError> {
        self.push(WorkItem::Decide(command.clone()));
        Ok(())
    }
}

#[async_trait]
impl HostNotifier for MemoryQueue {
    async fn notify(&self, event: &HostEvent) -> Result<(), QueueError> {
        self.push(WorkItem::NotifyHost(event.clone()));
        Ok(())
    }
}

#[async_trait]
impl CleanupQueue for MemoryQueue {
    async fn retire_installation(&self, retire: &RetireInstallation) -> Result<(), QueueError> {
        self.push(WorkItem::RetireInstallation(retire.clone()));
        Ok(())
    }
}

/// A queue for effects left over that nobody will perform: for tests that do not look.
pub struct IgnoredQueue;

#[async_trait]
impl EffectsQueue for IgnoredQueue {
    async fn perform_later(&self, _approval_id: &str, _delay_secs: i64) -> Result<(), QueueError> {
        Ok(())
    }
}

#[async_trait]
impl EffectsQueue for MemoryQueue {
    async fn perform_later(&self, approval_id: &str, _delay_secs: i64) -> Result<(), QueueError> {
        self.push(WorkItem::Perform {
            approval_id: approval_id.to_owned(),
        });
        Ok(())
    }
}

#[async_trait]
impl InboxStore for MemoryStore {
    async fn add_waiting(
        &self,
        entry: &InboxEntry,
        key: Option<&ReminderKey>,
    ) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        let key = key.map(ToString::to_string);
        inbox.keys.extend(key.clone());
        let person = (entry.tenant_id.clone(), entry.user_id.clone());
        let slot = inbox
            .waiting
            .entry(person)
            .or_default()
            .entry((entry.created_at, entry.approval_id.clone()))
            .or_insert_with(|| (entry.clone(), None));
        let permalink = slot.0.permalink.clone();
        *slot = (entry.clone(), key);
        slot.0.permalink = entry.permalink.clone().or(permalink);
        Ok(())
    }
    async fn remove_waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        approval_id: &str,
        created_at: i64,
    ) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        if let Some(entries) = inbox.waiting.get_mut(&(tenant_id.into(), user_id.clone())) {
            entries.remove(&(created_at, approval_id.to_owned()));
        }
        Ok(())
    }
    async fn waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError> {
        let inbox = self.inbox.lock().unwrap();
        Ok(inbox
            .waiting
            .get(&(tenant_id.into(), user_id.clone()))
            .map(|entries| {
                entries
                    .values()
                    .take(limit)
                    .map(|(e, _)| e.clone())
                    .collect()
            })
            .unwrap_or_default())
    }
    async fn refile_waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        key: Option<&ReminderKey>,
    ) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        let key = key.map(ToString::to_string);
        inbox.keys.extend(key.clone());
        if let Some(entries) = inbox.waiting.get_mut(&(tenant_id.into(), user_id.clone())) {
            for (_, filed) in entries.values_mut() {
                filed.clone_from(&key);
            }
        }
        Ok(())
    }
    async fn set_permalink(&self, entry: &InboxEntry, permalink: &str) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        let found = inbox
            .waiting
            .get_mut(&(entry.tenant_id.clone(), entry.user_id.clone()))
            .and_then(|entries| entries.get_mut(&(entry.created_at, entry.approval_id.clone())));
        if let Some((stored, _)) = found {
            stored.permalink = Some(permalink.to_owned());
        }
        Ok(())
    }
    async fn keys_in_use(&self) -> Result<Vec<ReminderKey>, StoreError> {
        let inbox = self.inbox.lock().unwrap();
        Ok(inbox
            .keys
            .iter()
            .filter_map(|k| ReminderKey::parse(k))
            .collect())
    }
    async fn waiting_under(&self, key: &ReminderKey) -> Result<Vec<Waiter>, StoreError> {
        let inbox = self.inbox.lock().unwrap();
        let key = key.to_string();
        Ok(inbox
            .waiting
            .iter()
            .flat_map(|((tenant_id, user_id), entries)| {
                entries
                    .values()
                    .filter(|(_, filed)| filed.as_deref() == Some(key.as_str()))
                    .map(move |_| Waiter {
                        tenant_id: tenant_id.clone(),
                        user_id: user_id.clone(),
                    })
            })
            .collect())
    }
    async fn add_asked(&self, entry: &InboxEntry) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        inbox
            .asked
            .entry((entry.tenant_id.clone(), entry.user_id.clone()))
            .or_default()
            .insert((entry.created_at, entry.approval_id.clone()), entry.clone());
        Ok(())
    }
    async fn asked(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        limit: usize,
    ) -> Result<Vec<InboxEntry>, StoreError> {
        let inbox = self.inbox.lock().unwrap();
        Ok(inbox
            .asked
            .get(&(tenant_id.into(), user_id.clone()))
            .map(|entries| entries.values().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}

#[async_trait]
impl ReminderSettings for MemoryStore {
    async fn tenant_reminders(
        &self,
        tenant_id: &str,
    ) -> Result<Option<TenantReminders>, StoreError> {
        Ok(self
            .inbox
            .lock()
            .unwrap()
            .tenant_reminders
            .get(tenant_id)
            .cloned())
    }
    async fn save_tenant_reminders(
        &self,
        tenant_id: &str,
        reminders: &TenantReminders,
    ) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        inbox
            .tenant_reminders
            .insert(tenant_id.into(), reminders.clone());
        Ok(())
    }
    async fn user_schedule(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
    ) -> Result<Option<Schedule>, StoreError> {
        let inbox = self.inbox.lock().unwrap();
        Ok(inbox
            .schedules
            .get(&(tenant_id.into(), user_id.clone()))
            .copied())
    }
    async fn save_user_schedule(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        schedule: &Schedule,
    ) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        inbox
            .schedules
            .insert((tenant_id.into(), user_id.clone()), *schedule);
        Ok(())
    }
    async fn kind_settings(
        &self,
        tenant_id: &str,
        kind: &str,
    ) -> Result<Option<KindSettings>, StoreError> {
        let inbox = self.inbox.lock().unwrap();
        Ok(inbox.kinds.get(&(tenant_id.into(), kind.into())).cloned())
    }
    async fn save_kind_settings(
        &self,
        tenant_id: &str,
        kind: &str,
        settings: &KindSettings,
    ) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        inbox
            .kinds
            .insert((tenant_id.into(), kind.into()), settings.clone());
        Ok(())
    }
}

#[async_trait]
impl DigestStore for MemoryStore {
    async fn save_digest(&self, digest: &Digest) -> Result<(), StoreError> {
        let mut inbox = self.inbox.lock().unwrap();
        let key = (digest.channel_id.clone(), digest.message_ts.clone());
        inbox.digests.insert(key, digest.clone());
        Ok(())
    }
    async fn digest(
        &self,
        channel_id: &str,
        message_ts: &str,
    ) -> Result<Option<Digest>, StoreError> {
        let inbox = self.inbox.lock().unwrap();
        Ok(inbox
            .digests
            .get(&(channel_id.into(), message_ts.into()))
            .cloned())
    }
}

#[async_trait]
impl HomeQueue for MemoryQueue {
    async fn publish_home(&self, home: &HomeFor) -> Result<(), QueueError> {
        self.push(WorkItem::PublishHome(home.clone()));
        Ok(())
    }
}

#[async_trait]
impl ReminderQueue for MemoryQueue {
    async fn remind(
        &self,
        jobs: &[crate::reminders::ReminderJob],
        _now: i64,
    ) -> Result<(), QueueError> {
        for job in jobs {
            self.push(WorkItem::Remind(job.clone()));
        }
        Ok(())
    }
}

#[async_trait]
impl DeadlineStore for MemoryStore {
    async fn add_deadline(&self, deadline: &Deadline, at: i64) -> Result<(), StoreError> {
        let quarter = crate::reminders::Slot::containing(at).start();
        let mut deadlines = self.deadlines.lock().unwrap();
        deadlines
            .entry(quarter)
            .or_default()
            .insert(deadline.clone());
        Ok(())
    }
    async fn deadlines_in(&self, quarter: i64) -> Result<Vec<Deadline>, StoreError> {
        let deadlines = self.deadlines.lock().unwrap();
        Ok(deadlines
            .get(&quarter)
            .map(|due| due.iter().cloned().collect())
            .unwrap_or_default())
    }
    async fn remove_deadline(&self, deadline: &Deadline, at: i64) -> Result<(), StoreError> {
        let quarter = crate::reminders::Slot::containing(at).start();
        if let Some(due) = self.deadlines.lock().unwrap().get_mut(&quarter) {
            due.remove(deadline);
        }
        Ok(())
    }
}

#[async_trait]
impl AuditTrail for MemoryStore {
    async fn audit_trail(
        &self,
        approval_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<crate::audit::AuditEvent>, StoreError> {
        // In the order written, as the table keeps it.
        let events = self
            .audit
            .lock()
            .unwrap()
            .get(approval_id)
            .cloned()
            .unwrap_or_default();
        let start: usize = after
            .map_or(Ok(0), str::parse)
            .map_err(|_| StoreError::Corrupt("not a cursor of this trail".into()))?;
        let end = (start + limit).min(events.len());
        Ok(Page {
            items: events
                .get(start..end)
                .map(<[_]>::to_vec)
                .unwrap_or_default(),
            next_cursor: (end < events.len()).then(|| end.to_string()),
        })
    }
}

#[async_trait]
impl CommentStore for MemoryStore {
    async fn comment(
        &self,
        approval_id: &str,
        comment_id: &str,
    ) -> Result<Option<HostComment>, StoreError> {
        let comments = self.comments.lock().unwrap();
        Ok(comments
            .get(&(approval_id.to_owned(), comment_id.to_owned()))
            .cloned())
    }
    async fn save_comment(
        &self,
        approval_id: &str,
        comment: &HostComment,
    ) -> Result<(), StoreError> {
        let mut comments = self.comments.lock().unwrap();
        let key = (approval_id.to_owned(), comment.comment_id.clone());
        comments.insert(key, comment.clone());
        Ok(())
    }
    async fn approval_for_thread(
        &self,
        installation_id: &str,
        channel_id: &str,
        message_ts: &str,
    ) -> Result<Option<String>, StoreError> {
        let approvals = self.approvals.lock().unwrap();
        Ok(approvals
            .values()
            .find(|approval| {
                approval.installation_id == installation_id
                    && approval.copies.values().any(|copy| {
                        copy.role != crate::domain::CopyRole::Digest
                            && copy.channel_id == channel_id
                            && copy.message_ts == message_ts
                    })
            })
            .map(|approval| approval.id.clone()))
    }
}

#[async_trait]
impl crate::ports::FileUploads for MemoryStore {
    async fn file_upload(
        &self,
        approval_id: &str,
        key: &str,
    ) -> Result<Option<crate::files::FileUpload>, StoreError> {
        let uploads = self.file_uploads.lock().unwrap();
        Ok(uploads
            .get(&(approval_id.to_owned(), key.to_owned()))
            .cloned())
    }
    async fn save_file_upload(
        &self,
        approval_id: &str,
        key: &str,
        upload: &crate::files::FileUpload,
    ) -> Result<(), StoreError> {
        let mut uploads = self.file_uploads.lock().unwrap();
        uploads.insert((approval_id.to_owned(), key.to_owned()), upload.clone());
        Ok(())
    }
}
