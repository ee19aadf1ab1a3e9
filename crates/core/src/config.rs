//! The application secret: its JSON shape, validated whenever it is read, and the signing
//! secrets drawn from it (current and previous), which the functions re-read.

use std::fmt;

use base64::Engine as _;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    MissingVariable(&'static str),
    #[error("the application secret is not valid JSON with the expected keys: {0}")]
    MalformedSecret(String),
    #[error("token_encryption_key must be base64 of exactly 32 bytes")]
    BadEncryptionKey,
    #[error("reading the application secret failed: {0}")]
    SecretUnavailable(String),
    #[error("the application secret's {0} is empty or still the template's CHANGE_ME placeholder")]
    PlaceholderSecret(&'static str),
    #[error("environment variable {0} is invalid: {1}")]
    InvalidVariable(&'static str, String),
}

/// The value `template.yaml` ships for every key until the operator sets the real ones.
pub const PLACEHOLDER: &str = "CHANGE_ME";

/// The JSON held in the `APP_SECRET_ID` secret. Debug output is redacted.
#[derive(Clone, Deserialize)]
pub struct AppSecrets {
    pub slack_signing_secret: String,
    pub slack_client_id: String,
    pub slack_client_secret: String,
    pub token_encryption_key: String,
    pub host_api_secret: String,
    pub host_webhook_secret: String,
    /// Earlier values of `token_encryption_key`, kept after a rotation so tokens sealed
    /// under them still open (each is re-sealed under the current key when next written).
    #[serde(default)]
    pub previous_token_encryption_keys: Vec<String>,
    /// Earlier signing secrets, accepted while Slack's and the host's requests still carry
    /// them (a rotation is not instant on either side); nothing is signed with them.
    #[serde(default)]
    pub previous_slack_signing_secrets: Vec<String>,
    #[serde(default)]
    pub previous_host_api_secrets: Vec<String>,
}

/// One kind of signing secret: the current one first, then those of earlier rotations.
/// Debug output is redacted.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SigningKeys(Vec<Vec<u8>>);

impl SigningKeys {
    pub fn new(current: &str, previous: &[String]) -> Self {
        let keys = std::iter::once(current)
            .chain(previous.iter().map(String::as_str))
            .filter(|key| !key.trim().is_empty())
            .map(|key| key.as_bytes().to_vec())
            .collect();
        Self(keys)
    }

    /// Every accepted key, the current one first.
    pub fn all(&self) -> Vec<&[u8]> {
        self.0.iter().map(Vec::as_slice).collect()
    }

    /// What new signatures are made with.
    pub fn current(&self) -> &[u8] {
        self.0.first().map_or(&[], Vec::as_slice)
    }
}

impl From<Vec<u8>> for SigningKeys {
    /// One key and no previous ones.
    fn from(key: Vec<u8>) -> Self {
        Self(vec![key])
    }
}

impl fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKeys({} keys)", self.0.len())
    }
}

/// The secrets requests are signed and checked with, as they stand now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestSecrets {
    pub slack_signing: SigningKeys,
    pub host_api: SigningKeys,
    pub host_webhook: SigningKeys,
}

impl From<&AppSecrets> for RequestSecrets {
    fn from(secrets: &AppSecrets) -> Self {
        Self {
            slack_signing: SigningKeys::new(
                &secrets.slack_signing_secret,
                &secrets.previous_slack_signing_secrets,
            ),
            host_api: SigningKeys::new(
                &secrets.host_api_secret,
                &secrets.previous_host_api_secrets,
            ),
            host_webhook: SigningKeys::new(&secrets.host_webhook_secret, &[]),
        }
    }
}

/// Where the signing secrets come from. The deployed functions re-read the application
/// secret at most every `SECRET_CACHE_SECONDS`, so a rotation reaches warm containers
/// without a deploy; tests hold them fixed.
#[async_trait::async_trait]
pub trait LiveSecrets: Send + Sync {
    async fn request_secrets(&self) -> std::sync::Arc<RequestSecrets>;
    /// A request failed its signature: read the secret again now, in case it was rotated
    /// a moment ago (Slack signs with a regenerated secret at once). `Some` only when this
    /// read found secrets other than those in use; at most one such read every few
    /// seconds, so forged requests cannot turn into a flood of reads.
    async fn reread_after_refusal(&self) -> Option<std::sync::Arc<RequestSecrets>> {
        None
    }
}

/// Secrets that never change: tests, benches, and the local stack.
pub struct FixedSecrets(pub std::sync::Arc<RequestSecrets>);

impl FixedSecrets {
    pub fn of(secrets: &AppSecrets) -> Self {
        Self(std::sync::Arc::new(RequestSecrets::from(secrets)))
    }
}

#[async_trait::async_trait]
impl LiveSecrets for FixedSecrets {
    async fn request_secrets(&self) -> std::sync::Arc<RequestSecrets> {
        self.0.clone()
    }
}

impl AppSecrets {
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        // serde's message may quote the offending value (a secret): say only what kind of
        // mistake it is and where.
        let secrets: Self = serde_json::from_str(json).map_err(|e| {
            ConfigError::MalformedSecret(format!(
                "{:?} error at line {} column {}",
                e.classify(),
                e.line(),
                e.column()
            ))
        })?;
        secrets.refuse_placeholders()?;
        secrets.encryption_key()?;
        secrets.previous_encryption_keys()?;
        Ok(secrets)
    }

    /// A forgotten key would make requests forgeable (an empty HMAC key, or the public
    /// `CHANGE_ME`), so a cold start stops and names it instead.
    fn refuse_placeholders(&self) -> Result<(), ConfigError> {
        let keys = [
            ("slack_signing_secret", &self.slack_signing_secret),
            ("slack_client_id", &self.slack_client_id),
            ("slack_client_secret", &self.slack_client_secret),
            ("token_encryption_key", &self.token_encryption_key),
            ("host_api_secret", &self.host_api_secret),
            ("host_webhook_secret", &self.host_webhook_secret),
        ];
        let previous = [
            (
                "previous_slack_signing_secrets",
                &self.previous_slack_signing_secrets,
            ),
            ("previous_host_api_secrets", &self.previous_host_api_secrets),
            (
                "previous_token_encryption_keys",
                &self.previous_token_encryption_keys,
            ),
        ];
        let listed = previous
            .into_iter()
            .flat_map(|(name, values)| values.iter().map(move |value| (name, value)));
        match keys
            .into_iter()
            .chain(listed)
            .find(|(_, value)| value.trim().is_empty() || value.contains(PLACEHOLDER))
        {
            Some((name, _)) => Err(ConfigError::PlaceholderSecret(name)),
            None => Ok(()),
        }
    }

    /// The 32-byte AES-256 key for tokens at rest.
    pub fn encryption_key(&self) -> Result<[u8; 32], ConfigError> {
        decode_key(&self.token_encryption_key)
    }

    /// The keys of earlier rotations, which still open the tokens they sealed.
    pub fn previous_encryption_keys(&self) -> Result<Vec<[u8; 32]>, ConfigError> {
        self.previous_token_encryption_keys
            .iter()
            .map(|key| decode_key(key))
            .collect()
    }
}

fn decode_key(key: &str) -> Result<[u8; 32], ConfigError> {
    base64::engine::general_purpose::STANDARD
        .decode(key.trim())
        .ok()
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or(ConfigError::BadEncryptionKey)
}

impl fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSecrets")
            .field("slack_client_id", &self.slack_client_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_debug_output_hides_every_secret_value() {
        let secrets = AppSecrets::from_json(
            r#"{"slack_signing_secret":"sig-SECRET","slack_client_id":"123.456",
                "slack_client_secret":"client-SECRET","token_encryption_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                "host_api_secret":"host-SECRET","host_webhook_secret":"hook-SECRET"}"#,
        )
        .unwrap();
        let shown = format!("{secrets:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("123.456"));
    }

    #[test]
    fn a_malformed_secret_is_refused_without_quoting_it() {
        let wrong_type = r#"{"slack_signing_secret":"s","slack_client_id":"c","slack_client_secret":"c",
            "token_encryption_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","host_api_secret":"h",
            "host_webhook_secret":"w","previous_slack_signing_secrets":"old-SECRET-value"}"#;
        let error = AppSecrets::from_json(wrong_type).unwrap_err().to_string();
        assert!(!error.contains("SECRET"), "{error}");
        assert!(error.contains("line 3"), "{error}");
    }

    #[test]
    fn an_empty_or_placeholder_value_is_refused_by_name() {
        let valid = r#"{"slack_signing_secret":"s","slack_client_id":"c","slack_client_secret":"c",
            "token_encryption_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","host_api_secret":"h",
            "host_webhook_secret":"w"}"#;
        assert!(AppSecrets::from_json(valid).is_ok());
        for (field, value) in [
            ("host_api_secret", "CHANGE_ME"),
            ("slack_signing_secret", ""),
            ("host_webhook_secret", "  "),
            ("slack_client_secret", "prefix-CHANGE_ME"),
            ("previous_host_api_secrets", "CHANGE_ME"),
            ("previous_slack_signing_secrets", ""),
        ] {
            let mut json: serde_json::Value = serde_json::from_str(valid).unwrap();
            json[field] = if field.starts_with("previous_") {
                serde_json::json!([value])
            } else {
                serde_json::json!(value)
            };
            match AppSecrets::from_json(&json.to_string()) {
                Err(error @ ConfigError::PlaceholderSecret(named)) => {
                    assert_eq!(named, field);
                    assert!(error.to_string().contains(field));
                }
                other => panic!("{field}={value:?} was taken: {other:?}"),
            }
        }
    }

    #[test]
    fn a_key_of_the_wrong_length_is_refused() {
        let result = AppSecrets::from_json(
            r#"{"slack_signing_secret":"s","slack_client_id":"c","slack_client_secret":"c",
                "token_encryption_key":"c2hvcnQ=","host_api_secret":"h","host_webhook_secret":"w"}"#,
        );
        assert!(matches!(result, Err(ConfigError::BadEncryptionKey)));
    }
}
