//! Keeping each person's inbox: filing what waits on them under their reminder slot,
//! dropping what ended, and publishing their App Home.

use std::collections::{BTreeMap, BTreeSet};

use crate::blocks::{home_view, InboxLine, HOME_ASKED_MAX, HOME_WAITING_MAX};
use crate::domain::{Approval, ListCursor};
use crate::inbox::{InboxEntry, KindSettings};
use crate::machine::Status;
use crate::people::HostUserId;
use crate::ports::{
    ApprovalStore, BotTokens, DigestStore, HomeFor, InboxStore, ReminderSettings, SlackApi,
    SlackError, StoreError, TenantStore, TokenError, UserDirectory,
};
use crate::reminders::{PersonSchedule, ReminderKey};

/// Pending approvals read per page when a tenant's settings change.
const REFILE_PAGE: usize = 100;

/// The ports a person's inbox is kept with: its entries, the reminder settings that file
/// them, the digests that list them, the people they belong to and the requests they name.
#[derive(Clone, Copy)]
pub struct Inbox<'a> {
    pub inbox: &'a dyn InboxStore,
    pub settings: &'a dyn ReminderSettings,
    pub digests: &'a dyn DigestStore,
    pub users: &'a dyn UserDirectory,
    pub approvals: &'a dyn ApprovalStore,
}

impl<'a> Inbox<'a> {
    /// Every port from one store that keeps them all (the single table, the fakes).
    pub fn over<S>(store: &'a S) -> Self
    where
        S: InboxStore + ReminderSettings + DigestStore + UserDirectory + ApprovalStore,
    {
        Self {
            inbox: store,
            settings: store,
            digests: store,
            users: store,
            approvals: store,
        }
    }
}

impl Inbox<'_> {
    /// The person's reminder settings as they stand: their own or the tenant's schedule,
    /// in their Slack zone, else the tenant's, else UTC.
    pub async fn schedule_of(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
    ) -> Result<PersonSchedule, StoreError> {
        let tenant = self
            .settings
            .tenant_reminders(tenant_id)
            .await?
            .unwrap_or_default();
        let own = self.settings.user_schedule(tenant_id, user_id).await?;
        let user = self
            .users
            .users(tenant_id, std::slice::from_ref(user_id))
            .await?
            .into_iter()
            .next();
        Ok(PersonSchedule::resolve(
            &tenant,
            own.as_ref(),
            user.and_then(|u| u.tz).as_deref(),
        ))
    }

    /// Puts the request in the person's inbox: as waiting on them, filed under their
    /// reminder slot, or as asked by them. Repeat-safe.
    pub async fn file(
        &self,
        approval: &Approval,
        user_id: &HostUserId,
        asked: bool,
    ) -> Result<(), StoreError> {
        let entry = InboxEntry {
            tenant_id: approval.request.tenant_id.clone(),
            user_id: user_id.clone(),
            approval_id: approval.id.clone(),
            kind: approval.request.kind.clone(),
            title: approval.request.title.clone(),
            created_at: approval.created_at,
            permalink: None,
        };
        if asked {
            return self.inbox.add_asked(&entry).await;
        }
        if approval.status().is_final() {
            return Ok(());
        }
        let schedule = self.schedule_of(&entry.tenant_id, user_id).await?;
        self.inbox
            .add_waiting(&entry, schedule.key().as_ref())
            .await?;
        // Ended while this was filed: its removal may have run first, so undo the filing.
        if let Some(current) = self.approvals.get(&approval.id).await? {
            if current.status().is_final() {
                self.unfile(approval, user_id).await?;
            }
        }
        Ok(())
    }

    pub async fn unfile(
        &self,
        approval: &Approval,
        user_id: &HostUserId,
    ) -> Result<(), StoreError> {
        self.inbox
            .remove_waiting(
                &approval.request.tenant_id,
                user_id,
                &approval.id,
                approval.created_at,
            )
            .await
    }

    /// Files everything waiting on the person under their current key; returns it.
    pub async fn refile(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
    ) -> Result<Option<ReminderKey>, StoreError> {
        let key = self.schedule_of(tenant_id, user_id).await?.key();
        self.inbox
            .refile_waiting(tenant_id, user_id, key.as_ref())
            .await?;
        Ok(key)
    }

    /// Files everyone something waits on in the tenant under their current key: the
    /// tenant's schedule or zone changed. Reads the tenant's pending requests, not its users.
    pub async fn refile_tenant(&self, tenant_id: &str) -> Result<usize, StoreError> {
        let mut people: BTreeSet<HostUserId> = BTreeSet::new();
        let mut cursor: Option<ListCursor> = None;
        loop {
            let page = self
                .approvals
                .list(
                    tenant_id,
                    Some(Status::Pending),
                    cursor.as_ref(),
                    REFILE_PAGE,
                )
                .await?;
            for approval in &page.items {
                people.extend(approval.request.approvers.iter().cloned());
            }
            match page.next_cursor.as_deref().map(ListCursor::parse) {
                Some(Ok(next)) => cursor = Some(next),
                _ => break,
            }
        }
        for user_id in &people {
            self.refile(tenant_id, user_id).await?;
        }
        Ok(people.len())
    }

    /// What waits on the person now, oldest first, with each request as it stands; what
    /// ended meanwhile (a removal still on its way) is dropped from the inbox as found.
    pub async fn live_waiting(
        &self,
        tenant_id: &str,
        user_id: &HostUserId,
        limit: usize,
    ) -> Result<Vec<(InboxEntry, Approval)>, StoreError> {
        let mut live = Vec::new();
        for entry in self.inbox.waiting(tenant_id, user_id, limit).await? {
            match self.approvals.get(&entry.approval_id).await? {
                Some(approval)
                    if !approval.status().is_final()
                        && approval.request.approvers.contains(user_id) =>
                {
                    live.push((entry, approval))
                }
                _ => {
                    self.inbox
                        .remove_waiting(tenant_id, user_id, &entry.approval_id, entry.created_at)
                        .await?
                }
            }
        }
        Ok(live)
    }

    /// The settings of each kind among these entries, read once per kind.
    pub async fn kinds(
        &self,
        tenant_id: &str,
        live: &[(InboxEntry, Approval)],
    ) -> Result<BTreeMap<String, KindSettings>, StoreError> {
        let kinds: BTreeSet<String> = live.iter().map(|(entry, _)| entry.kind.clone()).collect();
        let mut settings = BTreeMap::new();
        for kind in kinds {
            let found = self.settings.kind_settings(tenant_id, &kind).await?;
            settings.insert(kind, found.unwrap_or_default());
        }
        Ok(settings)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HomeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Slack(#[from] SlackError),
    #[error("this Home is being published right now; try again in a moment")]
    Busy,
}

/// How long one publish holds a person's Home: longer than a publish takes.
const PUBLISH_LEASE_SECS: i64 = 30;

/// What became of a Home publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HomePublished {
    Published {
        waiting: usize,
        asked: usize,
    },
    /// The workspace is not (or no longer) installed: nothing to publish with.
    NotInstalled,
}

/// The App Home: each person's own inbox, published on open and after each change.
pub struct HomeTab<'a> {
    pub inbox: Inbox<'a>,
    pub tenants: &'a dyn TenantStore,
    pub slack: &'a dyn SlackApi,
    pub tokens: &'a dyn BotTokens,
}

impl HomeTab<'_> {
    /// Publishes what the person's Home lists now. One publish at a time per person: a
    /// publish that read the state earlier must never land after one that read it later
    /// (a Home opened while a decision refreshes it), so the second waits and reads again.
    pub async fn publish(&self, home: &HomeFor, now: i64) -> Result<HomePublished, HomeError> {
        let Some(installation) = self.tenants.installation(&home.installation_id).await? else {
            return Ok(HomePublished::NotInstalled);
        };
        let claims = self.inbox.approvals;
        let lease = format!("home:{}:{}", home.installation_id, home.slack_user_id);
        if !claims
            .claim_once(&lease, now, now + PUBLISH_LEASE_SECS)
            .await?
        {
            return Err(HomeError::Busy);
        }
        let published = self.render_and_publish(home, &installation, now).await;
        claims.release_claim(&lease).await?;
        published
    }

    async fn render_and_publish(
        &self,
        home: &HomeFor,
        installation: &crate::domain::Installation,
        now: i64,
    ) -> Result<HomePublished, HomeError> {
        let mut waiting: Vec<(InboxEntry, Approval, KindSettings)> = Vec::new();
        let mut asked: Vec<Approval> = Vec::new();
        for tenant_id in self
            .tenants
            .active_tenants_of(&home.installation_id)
            .await?
        {
            // The index may lag: only a tenant still linked to this installation counts.
            let linked = self
                .tenants
                .installation_for_tenant(&tenant_id)
                .await?
                .is_some_and(|i| i.id() == home.installation_id);
            if !linked {
                continue;
            }
            let Some(user_id) = self
                .inbox
                .users
                .slack_identity(&tenant_id, &home.slack_user_id)
                .await?
                .filter(|identity| !identity.deactivated)
                .and_then(|identity| identity.user_id)
            else {
                continue;
            };
            let live = self
                .inbox
                .live_waiting(&tenant_id, &user_id, HOME_WAITING_MAX)
                .await?;
            let kinds = self.inbox.kinds(&tenant_id, &live).await?;
            waiting.extend(live.into_iter().map(|(entry, approval)| {
                let settings = kinds.get(&entry.kind).cloned().unwrap_or_default();
                (entry, approval, settings)
            }));
            for entry in self
                .inbox
                .inbox
                .asked(&tenant_id, &user_id, HOME_ASKED_MAX)
                .await?
            {
                if let Some(approval) = self.inbox.approvals.get(&entry.approval_id).await? {
                    asked.push(approval);
                }
            }
        }
        waiting.truncate(HOME_WAITING_MAX);
        asked.truncate(HOME_ASKED_MAX);
        let groups: Vec<(String, String)> = waiting
            .iter()
            .map(|(entry, _, settings)| (settings.group(), settings.label_of(&entry.kind)))
            .collect();
        let lines: Vec<InboxLine<'_>> = waiting
            .iter()
            .zip(&groups)
            .map(|((entry, approval, _), (group, label))| InboxLine {
                approval,
                permalink: entry.permalink.as_deref(),
                group,
                label,
            })
            .collect();
        let asked_refs: Vec<&Approval> = asked.iter().collect();
        let view = home_view(&lines, &asked_refs, now);
        let token = self.tokens.usable_token(installation, now).await?;
        self.slack
            .publish_home(&token, &home.slack_user_id, &view)
            .await?;
        Ok(HomePublished::Published {
            waiting: lines.len(),
            asked: asked.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{installation, FakeSlack, MemoryStore};
    use crate::usecases::tokens::StaticTokens;

    #[tokio::test]
    async fn one_publish_at_a_time_per_person_and_the_second_reads_again() {
        let (store, slack) = (MemoryStore::default(), FakeSlack::default());
        store.connect("acme", installation("T1"));
        let tab = HomeTab {
            inbox: Inbox::over(&store),
            tenants: &store,
            slack: &slack,
            tokens: &StaticTokens,
        };
        let home = HomeFor {
            installation_id: "T1".into(),
            slack_user_id: "U0CARA".into(),
        };
        // Another publish of Cara's Home is under way.
        assert!(store.claim_once("home:T1:U0CARA", 100, 130).await.unwrap());

        let busy = tab.publish(&home, 110).await;
        assert!(matches!(busy, Err(HomeError::Busy)));
        assert!(slack.homes().is_empty());

        let published = tab.publish(&home, 131).await.unwrap();
        assert_eq!(
            published,
            HomePublished::Published {
                waiting: 0,
                asked: 0
            }
        );
        assert_eq!(slack.homes().len(), 1);
        assert_eq!(store.claim_expiry("home:T1:U0CARA"), None, "released after");
    }
}
