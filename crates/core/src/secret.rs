//! Secrets in memory: a token type whose Debug output never shows it, and the errors of
//! opening a sealed token (the sealing itself is the storage adapter's).

use std::fmt;

/// A token in memory. Debug never shows it; only adapters read it, to call Slack.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretToken(String);

impl SecretToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretToken(***)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("token was encrypted with key {0}, which this deployment does not hold")]
    UnknownKey(String),
    #[error("stored token is corrupt or was encrypted with another key")]
    Undecryptable,
}
