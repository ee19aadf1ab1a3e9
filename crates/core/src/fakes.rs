//! In-memory fakes of the ports, for unit tests of the use cases and for benches.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::blocks::SlackMessage;
use crate::domain::{
    Approval, ApprovalRequest, ConnectionStatus, DecisionCommand, DisconnectReason, Installation,
    MessageCopy, Requester, SlackMessageRef, TenantLink,
};
use crate::outbox::OutboxEntry;
use crate::ports::*;
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
        },
        channel_id: channel_id.map(str::to_owned),
    }
}

#[derive(Default)]
pub struct MemoryStore {
    approvals: Mutex<HashMap<String, Approval>>,
    claims: Mutex<HashMap<String, i64>>,
    channels: Mutex<HashMap<(String, String), String>>,
    installations: Mutex<HashMap<String, Installation>>,
    links: Mutex<HashMap<String, TenantLink>>,
}

impl MemoryStore {
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
        Ok(None)
    }
    async fn get(&self, approval_id: &str) -> Result<Option<Approval>, StoreError> {
        Ok(self.approval(approval_id))
    }
    async fn add_copy(&self, id: &str, copy: &MessageCopy) -> Result<(), StoreError> {
        if let Some(approval) = self.approvals.lock().unwrap().get_mut(id) {
            approval.copies.insert(copy.key(), copy.clone());
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
        Ok(true)
    }
    async fn claim_once(&self, key: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut claims = self.claims.lock().unwrap();
        if claims.contains_key(key) {
            return Ok(false);
        }
        claims.insert(key.into(), expires_at);
        Ok(true)
    }
    async fn extend_claim(&self, key: &str, expires_at: i64) -> Result<(), StoreError> {
        self.claims.lock().unwrap().insert(key.into(), expires_at);
        Ok(())
    }
    async fn release_claim(&self, key: &str) -> Result<(), StoreError> {
        self.claims.lock().unwrap().remove(key);
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

#[derive(Default)]
pub struct FakeSlack {
    post_error: Option<String>,
    update_error: Option<SlackError>,
    update_failures_left: Mutex<u32>,
    posted: Mutex<Vec<(String, SlackMessage)>>,
    updates: Mutex<Vec<(SlackMessageRef, SlackMessage)>>,
    responses: Mutex<Vec<(String, serde_json::Value)>>,
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
    pub fn posted(&self) -> Vec<(String, SlackMessage)> {
        self.posted.lock().unwrap().clone()
    }
    pub fn updates(&self) -> Vec<(SlackMessageRef, SlackMessage)> {
        self.updates.lock().unwrap().clone()
    }
    pub fn responses(&self) -> Vec<(String, serde_json::Value)> {
        self.responses.lock().unwrap().clone()
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
        Ok(SlackMessageRef {
            channel_id: channel_id.into(),
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
    sent: Mutex<Vec<WorkItem>>,
}

impl MemoryQueue {
    pub fn sent(&self) -> Vec<WorkItem> {
        self.sent.lock().unwrap().clone()
    }

    fn push(&self, item: WorkItem) {
        let mut sent = self.sent.lock().unwrap();
        if sent.len() >= 1024 {
            sent.remove(0);
        }
        sent.push(item);
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
