//! Mapping a tenant's users to Slack by email, and keeping the mapping true as Slack changes.

use std::collections::HashMap;

use crate::people::{Email, HostUser, HostUserId, MappingStatus, SlackMember, UserInput};
use crate::ports::{
    BotTokens, SlackDirectory, SlackError, StoreError, TenantStore, TokenError, UserDirectory,
};

/// `users.list` page size: Slack warns that no `limit` may fail on a large workspace.
const MEMBERS_PAGE: u32 = 200;
/// Enough pages for 200,000 members; a cursor that never ends is a Slack fault, not a loop.
const MAX_MEMBER_PAGES: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum PeopleError {
    #[error("the tenant has no active Slack installation")]
    NotConnected,
    #[error("no usable bot token right now: {0}")]
    TokenUnavailable(String),
    #[error("Slack's user directory could not be read: {0}")]
    Slack(SlackError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub struct People<'a> {
    pub tenants: &'a dyn TenantStore,
    pub directory: &'a dyn UserDirectory,
    pub slack: &'a dyn SlackDirectory,
    pub tokens: &'a dyn BotTokens,
}

impl People<'_> {
    /// Stores the users, each mapped by email against one walk of `users.list` (never one
    /// lookup per user). The answer is in the order given.
    pub async fn map_all(
        &self,
        tenant_id: &str,
        inputs: Vec<UserInput>,
        now: i64,
    ) -> Result<Vec<HostUser>, PeopleError> {
        let (installation_id, token) = self.token(tenant_id, now).await?;
        let mut by_email: HashMap<Email, SlackMember> = HashMap::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_MEMBER_PAGES {
            let page = self
                .slack
                .list_members(&token, cursor.as_deref(), MEMBERS_PAGE)
                .await
                .map_err(PeopleError::Slack)?;
            for member in page
                .items
                .into_iter()
                .filter(|m| m.can_be_mapped() && m.is_member_of(&installation_id))
            {
                if let Some(email) = member.email.clone() {
                    by_email.insert(email, member);
                }
            }
            // A short page is not the end; only an empty cursor is.
            match page.next_cursor {
                Some(next) if !next.is_empty() => cursor = Some(next),
                _ => break,
            }
        }
        let users: Vec<HostUser> = inputs
            .into_iter()
            .map(|input| {
                let member = by_email.get(&input.email);
                HostUser::mapped(input, member, now)
            })
            .collect();
        self.directory.save_users(tenant_id, &users).await?;
        Ok(users)
    }

    /// Stores one user, mapped with `users.lookupByEmail`.
    pub async fn map_one(
        &self,
        tenant_id: &str,
        input: UserInput,
        now: i64,
    ) -> Result<HostUser, PeopleError> {
        let (installation_id, token) = self.token(tenant_id, now).await?;
        let member = self
            .slack
            .member_by_email(&token, &input.email)
            .await
            .map_err(PeopleError::Slack)?
            .filter(|m| m.is_member_of(&installation_id));
        let user = HostUser::mapped(input, member.as_ref(), now);
        self.directory
            .save_users(tenant_id, std::slice::from_ref(&user))
            .await?;
        Ok(user)
    }

    async fn token(
        &self,
        tenant_id: &str,
        now: i64,
    ) -> Result<(String, crate::secret::SecretToken), PeopleError> {
        let installation = self
            .tenants
            .installation_for_tenant(tenant_id)
            .await?
            .ok_or(PeopleError::NotConnected)?;
        let token =
            self.tokens
                .usable_token(&installation, now)
                .await
                .map_err(|error| match error {
                    TokenError::Revoked => PeopleError::NotConnected,
                    TokenError::Store(error) => PeopleError::Store(error),
                    other => PeopleError::TokenUnavailable(other.to_string()),
                })?;
        Ok((installation.id().to_owned(), token))
    }
}

/// A `team_join` or `user_change`: for every tenant linked to the installation, maps the
/// users whose email now matches, unmaps those it no longer does (a changed email, a
/// deactivation), and keeps the time zone current. Returns how many users changed.
pub async fn member_changed(
    tenants: &dyn TenantStore,
    directory: &dyn UserDirectory,
    installation_id: &str,
    member: &SlackMember,
    now: i64,
) -> Result<usize, StoreError> {
    let mut changed = 0;
    for tenant_id in tenants.active_tenants_of(installation_id).await? {
        // The index is eventually consistent: confirm the link before touching the tenant.
        let linked = tenants.link(&tenant_id).await?.is_some_and(|link| {
            link.installation_id == installation_id
                && link.status == crate::domain::ConnectionStatus::Active
        });
        if !linked {
            continue;
        }
        changed += sync_member(directory, &tenant_id, installation_id, member, now).await?;
    }
    Ok(changed)
}

async fn sync_member(
    directory: &dyn UserDirectory,
    tenant_id: &str,
    installation_id: &str,
    member: &SlackMember,
    now: i64,
) -> Result<usize, StoreError> {
    let identity = directory.slack_identity(tenant_id, &member.id).await?;
    let was_deactivated = identity.as_ref().is_some_and(|i| i.deactivated);
    if member.deleted != was_deactivated && (member.deleted || identity.is_some()) {
        directory
            .set_deactivated(tenant_id, &member.id, member.deleted)
            .await?;
    }
    let mappable = member.can_be_mapped() && member.is_member_of(installation_id);
    let mut changes: Vec<HostUser> = Vec::new();
    // Whoever was mapped to this Slack user and no longer matches it is unmapped.
    let previous: Vec<HostUserId> = identity.and_then(|i| i.user_id).into_iter().collect();
    for mut user in directory.users(tenant_id, &previous).await? {
        let still = mappable && member.email.as_ref() == Some(&user.email);
        if !still && user.slack_user_id.as_deref() == Some(member.id.as_str()) {
            user.status = MappingStatus::NotInSlack;
            user.slack_user_id = None;
            user.tz = None;
            user.updated_at = now;
            changes.push(user);
        }
    }
    if let (true, Some(email)) = (mappable, &member.email) {
        for mut user in directory.users_with_email(tenant_id, email).await? {
            // The index lags: only a user whose stored email still matches is mapped.
            if &user.email != email {
                continue;
            }
            let current = user.status == MappingStatus::Mapped
                && user.slack_user_id.as_deref() == Some(member.id.as_str())
                && user.tz == member.tz;
            if !current {
                user.status = MappingStatus::Mapped;
                user.slack_user_id = Some(member.id.clone());
                user.tz = member.tz.clone();
                user.updated_at = now;
                changes.push(user);
            }
        }
    }
    if !changes.is_empty() {
        directory.save_users(tenant_id, &changes).await?;
    }
    Ok(changes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{installation, FakeSlack, MemoryStore};
    use crate::usecases::tokens::StaticTokens;

    fn input(id: &str, email: &str) -> UserInput {
        UserInput {
            user_id: HostUserId::try_from(id.to_owned()).unwrap(),
            email: Email::try_from(email.to_owned()).unwrap(),
            name: id.into(),
        }
    }

    pub(crate) fn member(id: &str, email: &str) -> SlackMember {
        SlackMember {
            id: id.into(),
            team_id: Some("T1".into()),
            email: Some(Email::try_from(email.to_owned()).unwrap()),
            name: id.into(),
            tz: Some("Europe/Lisbon".into()),
            deleted: false,
            is_bot: false,
        }
    }

    #[tokio::test]
    async fn users_are_mapped_by_email_case_insensitively_against_every_page() {
        let store = MemoryStore::default();
        store.connect("acme", installation("T1"));
        let mut bot = member("U0BOT", "bot@x.io");
        bot.is_bot = true;
        let mut gone = member("U0GONE", "gone@x.io");
        gone.deleted = true;
        let slack = FakeSlack::with_members(vec![
            member("U0ANA", "Ana@X.io"),
            bot,
            gone,
            member("U0BEN", "ben@x.io"),
        ]);
        let people = People {
            tenants: &store,
            directory: &store,
            slack: &slack,
            tokens: &StaticTokens,
        };

        let users = people
            .map_all(
                "acme",
                vec![
                    input("u-ana", "ANA@x.io"),
                    input("u-ben", "ben@x.io"),
                    input("u-bot", "bot@x.io"),
                    input("u-gone", "gone@x.io"),
                ],
                10,
            )
            .await
            .unwrap();

        let mapped: Vec<_> = users
            .iter()
            .map(|u| (u.user_id.as_str(), u.slack_user_id.as_deref()))
            .collect();
        assert_eq!(
            mapped,
            [
                ("u-ana", Some("U0ANA")),
                ("u-ben", Some("U0BEN")),
                ("u-bot", None),
                ("u-gone", None)
            ]
        );
        assert!(slack.member_pages_read() >= 2, "pages of one walk");
    }

    #[tokio::test]
    async fn a_deactivation_unmaps_and_a_newcomer_maps_only_in_linked_tenants() {
        let store = MemoryStore::default();
        store.connect("acme", installation("T1"));
        store.connect("other", installation("T2"));
        let slack = FakeSlack::with_members(vec![member("U0ANA", "ana@x.io")]);
        let people = People {
            tenants: &store,
            directory: &store,
            slack: &slack,
            tokens: &StaticTokens,
        };
        people
            .map_all(
                "acme",
                vec![input("u-ana", "ana@x.io"), input("u-new", "new@x.io")],
                10,
            )
            .await
            .unwrap();
        people
            .map_all("other", vec![input("u-new", "new@x.io")], 10)
            .await
            .unwrap();

        let joined = member("U0NEW", "new@x.io");
        assert_eq!(
            member_changed(&store, &store, "T1", &joined, 20)
                .await
                .unwrap(),
            1
        );
        let mut gone = member("U0ANA", "ana@x.io");
        gone.deleted = true;
        member_changed(&store, &store, "T1", &gone, 30)
            .await
            .unwrap();

        let acme = store
            .users(
                "acme",
                &[
                    HostUserId::try_from("u-ana".to_owned()).unwrap(),
                    HostUserId::try_from("u-new".to_owned()).unwrap(),
                ],
            )
            .await
            .unwrap();
        assert_eq!(acme[0].status, MappingStatus::NotInSlack);
        assert_eq!(acme[1].slack_user_id.as_deref(), Some("U0NEW"));
        let other = store
            .users(
                "other",
                &[HostUserId::try_from("u-new".to_owned()).unwrap()],
            )
            .await
            .unwrap();
        assert_eq!(
            other[0].status,
            MappingStatus::NotInSlack,
            "another workspace"
        );
        assert!(
            store
                .slack_identity("acme", "U0ANA")
                .await
                .unwrap()
                .unwrap()
                .deactivated
        );
    }
}
