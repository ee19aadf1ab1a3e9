//! Installing into Slack (OAuth v2): one-time install links, a `state` that is single-use,
//! expiring and bound to the browser by a cookie, the code exchange, and the tenant link.

use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::domain::{
    check_identifier, check_return_url, check_text, parse_json, InstallLink, OAuthState,
    TenantLink, ValidationError,
};
use crate::ports::{
    HostNotifier, InstallFlowStore, InstallFollowUp, Installed, LinkTake, SlackError, SlackOAuth,
    StoreError, TenantStore,
};
use crate::usecases::connection::{connected_event, notify};

/// The longest tenant name a greeting carries.
const MAX_TENANT_NAME_CHARS: usize = 100;

/// Install links and states live ten minutes.
pub const FLOW_TTL_SECS: i64 = 600;
pub const DEFAULT_AUTHORIZE_URL: &str = "https://slack.com/oauth/v2/authorize";
pub const DEFAULT_BOT_SCOPES: &str = "chat:write,chat:write.customize,channels:join,channels:history,groups:history,groups:read,im:history,files:write,users:read,users:read.email";
/// The browser-binding cookie; scoped to the Slack routes.
pub const STATE_COOKIE: &str = "slack_oauth_state";

/// Deployment settings of the install flow.
#[derive(Debug, Clone)]
pub struct InstallSettings {
    /// `PUBLIC_BASE_URL`, without a trailing slash.
    pub public_base_url: String,
    /// `SLACK_OAUTH_AUTHORIZE_URL`.
    pub authorize_url: String,
    pub client_id: String,
    /// `SLACK_BOT_SCOPES`, comma-separated.
    pub bot_scopes: String,
}

impl InstallSettings {
    pub fn redirect_uri(&self) -> String {
        format!("{}/slack/oauth/callback", self.public_base_url)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("this install link is unknown, used or expired; ask for a new one")]
    InvalidInstallLink,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the callback sends the browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackOutcome {
    Redirect(String),
    /// No usable return URL is known: a plain page with this message.
    ErrorPage(String),
}

pub enum BeginInstall {
    /// Off to Slack, with the browser-binding cookie `{state}.{secret}`.
    ToSlack {
        authorize_url: String,
        cookie_value: String,
    },
    /// The link was spent or expired: back to the host with the reason.
    Refused(CallbackOutcome),
}

/// A link's query parameters, each at most once: a link token or a state given twice is a
/// forgery or a mangled link, and which one counts must not be left to chance. `Err` names
/// the parameter given twice.
pub fn single_valued_query(
    query: &str,
) -> Result<std::collections::HashMap<String, String>, String> {
    let mut values = std::collections::HashMap::new();
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if values.insert(key.to_string(), value.into_owned()).is_some() {
            return Err(key.into_owned());
        }
    }
    Ok(values)
}

/// A cookie's value among `Cookie` header values (`name=value; name=value`).
pub fn cookie_value<'a>(headers: impl IntoIterator<Item = &'a str>, name: &str) -> Option<String> {
    headers
        .into_iter()
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

#[derive(Debug, Default, Deserialize)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

pub struct InstallFlow<'a> {
    pub flow: &'a dyn InstallFlowStore,
    pub tenants: &'a dyn TenantStore,
    pub oauth: &'a dyn SlackOAuth,
    pub notifier: &'a dyn HostNotifier,
    /// Where a completed install leaves the installer's greeting and the resumption of
    /// what waited for the workspace.
    pub follow_up: &'a dyn InstallFollowUp,
    pub settings: &'a InstallSettings,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallLinkBody {
    return_url: String,
    /// How the installer's greeting names the host's tenant ("Acme Partner Portal").
    #[serde(default)]
    tenant_name: Option<String>,
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

fn sha256_hex(value: &str) -> String {
    hex::encode(Sha256::digest(value.as_bytes()))
}

impl InstallFlow<'_> {
    /// `POST /v1/tenants/{tenant_id}/slack/install-links`: a one-time URL for the host's admin.
    pub async fn create_link(
        &self,
        tenant_id: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(String, i64), InstallError> {
        check_identifier("tenant_id", tenant_id)?;
        let InstallLinkBody {
            return_url,
            tenant_name,
        } = parse_json(body)?;
        check_return_url("return_url", &return_url)?;
        let tenant_name = tenant_name
            .map(|name| name.trim().to_owned())
            .filter(|name| !name.is_empty());
        if let Some(name) = &tenant_name {
            check_text("tenant_name", name, MAX_TENANT_NAME_CHARS)?;
        }
        let token = random_hex(32);
        let expires_at = now + FLOW_TTL_SECS;
        // Only the hash is stored: a table read does not yield a usable link.
        self.flow
            .save_install_link(
                &sha256_hex(&token),
                &InstallLink {
                    tenant_id: tenant_id.into(),
                    tenant_name,
                    return_url,
                    expires_at,
                },
            )
            .await?;
        Ok((
            format!("{}/slack/install?t={token}", self.settings.public_base_url),
            expires_at,
        ))
    }

    /// `GET /slack/install?t=…`: spends the link, creates the state, points at Slack.
    pub async fn begin(&self, install_token: &str, now: i64) -> Result<BeginInstall, InstallError> {
        let link = match self
            .flow
            .take_install_link(&sha256_hex(install_token), now)
            .await?
        {
            LinkTake::Taken(link) => link,
            LinkTake::Refused(link, reason) => {
                return Ok(BeginInstall::Refused(failed(&link.return_url, reason)))
            }
            LinkTake::Unknown => return Err(InstallError::InvalidInstallLink),
        };
        let state = random_hex(16);
        let secret = random_hex(32);
        self.flow
            .save_oauth_state(&OAuthState {
                state: state.clone(),
                tenant_id: link.tenant_id,
                tenant_name: link.tenant_name,
                return_url: link.return_url,
                cookie_hash: sha256_hex(&secret),
                expires_at: now + FLOW_TTL_SECS,
                used_at: None,
            })
            .await?;
        let mut authorize = url::Url::parse(&self.settings.authorize_url)
            .map_err(|_| ValidationError::new("SLACK_OAUTH_AUTHORIZE_URL", "is not a URL"))?;
        authorize
            .query_pairs_mut()
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("scope", &self.settings.bot_scopes)
            .append_pair("redirect_uri", &self.settings.redirect_uri())
            .append_pair("state", &state);
        Ok(BeginInstall::ToSlack {
            authorize_url: authorize.into(),
            cookie_value: format!("{state}.{secret}"),
        })
    }

    /// `GET /slack/oauth/callback`: checks the state and cookie, exchanges the code, stores
    /// the installation and links the tenant. Every refusal stores nothing.
    pub async fn complete(
        &self,
        params: &CallbackParams,
        cookie: Option<&str>,
        now: i64,
    ) -> Result<CallbackOutcome, StoreError> {
        let (cookie_state, cookie_secret) = cookie
            .and_then(|value| value.split_once('.'))
            .map_or((None, None), |(state, secret)| (Some(state), Some(secret)));
        let presented = params.state.as_deref().filter(|s| is_hex_token(s));
        let record = match presented {
            Some(state) => self.flow.oauth_state(state).await?,
            None => None,
        };
        let Some(record) = record else {
            // A tampered or unknown state: the cookie may still say where to send the admin.
            if let Some(state) = cookie_state.filter(|s| is_hex_token(s)) {
                if let Some(own) = self.flow.oauth_state(state).await? {
                    return Ok(failed(&own.return_url, "invalid_state"));
                }
            }
            return Ok(CallbackOutcome::ErrorPage(
                "This Slack install link is not valid. Start again from your settings page.".into(),
            ));
        };
        if record.used_at.is_some() {
            return Ok(failed(&record.return_url, "state_already_used"));
        }
        if record.expires_at <= now {
            return Ok(failed(&record.return_url, "state_expired"));
        }
        let browser_matches = cookie_state == Some(record.state.as_str())
            && cookie_secret
                .is_some_and(|secret| constant_time_eq(&sha256_hex(secret), &record.cookie_hash));
        // Another browser cannot spend (or use) this state; its own browser spends it
        // whatever happens next, so it never works twice.
        if !browser_matches {
            return Ok(failed(&record.return_url, "cookie_mismatch"));
        }
        if !self.flow.use_oauth_state(&record.state, now).await? {
            return Ok(failed(&record.return_url, "state_already_used"));
        }
        if let Some(error) = &params.error {
            let reason = if error == "access_denied" {
                "access_denied"
            } else {
                "slack_error"
            };
            return Ok(failed(&record.return_url, reason));
        }
        let Some(code) = params.code.as_deref().filter(|c| !c.is_empty()) else {
            return Ok(failed(&record.return_url, "missing_code"));
        };
        let installation = match self
            .oauth
            .exchange_code(code, &self.settings.redirect_uri(), now)
            .await
        {
            Ok(installation) => installation,
            Err(SlackError::Api { code, .. }) => return Ok(failed(&record.return_url, &code)),
            Err(error) => {
                tracing::warn!(%error, "oauth.v2.access failed");
                return Ok(failed(&record.return_url, "slack_unavailable"));
            }
        };
        self.tenants.save_installation(&installation).await?;
        let link = TenantLink {
            tenant_name: record.tenant_name.clone(),
            ..TenantLink::active(&record.tenant_id, &installation)
        };
        self.tenants.save_link(&link).await?;
        tracing::info!(tenant_id = %record.tenant_id, installation_id = installation.id(), "Slack connected");
        notify(self.notifier, connected_event(&link, now)).await;
        let installed = Installed {
            installation_id: installation.id().to_owned(),
            tenant_id: record.tenant_id.clone(),
            tenant_name: record.tenant_name.clone(),
            team_name: link.team_name.clone(),
            installed_by: installation.installed_by.clone(),
            installed_at: installation.installed_at,
        };
        if let Err(error) = self.follow_up.installed(&installed).await {
            // The install itself is done; only the greeting and the resumption wait for the
            // next install.
            tracing::error!(%error, installation_id = installation.id(), "could not queue the install's follow-up");
        }
        Ok(CallbackOutcome::Redirect(with_query(
            &record.return_url,
            &[
                ("slack", "connected"),
                ("team_id", installation.id()),
                ("team_name", link.team_name.as_deref().unwrap_or_default()),
            ],
        )))
    }
}

fn failed(return_url: &str, reason: &str) -> CallbackOutcome {
    tracing::info!(reason, "Slack install refused");
    CallbackOutcome::Redirect(with_query(
        return_url,
        &[("slack", "error"), ("reason", reason)],
    ))
}

fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(base) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.into()
        }
        Err(_) => base.to_owned(),
    }
}

fn is_hex_token(value: &str) -> bool {
    (16..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_hexdigit())
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
