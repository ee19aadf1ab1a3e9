//! Tokens at rest: AES-256-GCM with a random nonce and a key id kept for rotation.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use approvals_core::config::{AppSecrets, ConfigError};
use approvals_core::secret::{CryptoError, SecretToken};

/// What is stored instead of a token.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedToken {
    pub key_id: String,
    pub nonce: String,
    pub ciphertext: String,
}

/// Encrypts and decrypts tokens. Each ciphertext carries its key's id (a fingerprint of the
/// key), so after a rotation of `token_encryption_key` old records open with the previous
/// key and new ones are sealed with the current one.
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
    key_id: String,
    previous: Vec<(String, Aes256Gcm)>,
}

fn key_id(key: &[u8; 32]) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(key)[..4])
}

impl TokenCipher {
    /// The cipher of the application secret: the current key seals, every listed key opens.
    pub fn from_secrets(secrets: &AppSecrets) -> Result<Self, ConfigError> {
        Ok(Self::with_previous(
            secrets.encryption_key()?,
            &secrets.previous_encryption_keys()?,
        ))
    }

    pub fn new(key: [u8; 32]) -> Self {
        Self::with_previous(key, &[])
    }

    /// `previous` keys only open; `key` seals and opens.
    pub fn with_previous(key: [u8; 32], previous: &[[u8; 32]]) -> Self {
        Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
            key_id: key_id(&key),
            previous: previous
                .iter()
                .map(|old| {
                    (
                        key_id(old),
                        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(old)),
                    )
                })
                .collect(),
        }
    }

    /// The id every new ciphertext carries.
    pub fn current_key_id(&self) -> &str {
        &self.key_id
    }

    /// `context` (e.g. `"T123/bot_token"`) is bound as associated data: a ciphertext moved
    /// to another record or field no longer decrypts.
    pub fn encrypt(&self, token: &SecretToken, context: &str) -> EncryptedToken {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: token.expose().as_bytes(),
                    aad: context.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short token cannot fail");
        let b64 = base64::engine::general_purpose::STANDARD;
        EncryptedToken {
            key_id: self.key_id.clone(),
            nonce: b64.encode(nonce),
            ciphertext: b64.encode(ciphertext),
        }
    }

    pub fn decrypt(
        &self,
        stored: &EncryptedToken,
        context: &str,
    ) -> Result<SecretToken, CryptoError> {
        let cipher = if stored.key_id == self.key_id {
            &self.cipher
        } else {
            self.previous
                .iter()
                .find(|(id, _)| *id == stored.key_id)
                .map(|(_, cipher)| cipher)
                .ok_or_else(|| CryptoError::UnknownKey(stored.key_id.clone()))?
        };
        let b64 = base64::engine::general_purpose::STANDARD;
        let nonce = b64
            .decode(&stored.nonce)
            .ok()
            .filter(|n| n.len() == 12)
            .ok_or(CryptoError::Undecryptable)?;
        let ciphertext = b64
            .decode(&stored.ciphertext)
            .map_err(|_| CryptoError::Undecryptable)?;
        let plain = cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: ciphertext.as_ref(),
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CryptoError::Undecryptable)?;
        String::from_utf8(plain)
            .map(SecretToken::new)
            .map_err(|_| CryptoError::Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_hides_the_token() {
        let cipher = TokenCipher::new([7; 32]);
        let sealed = cipher.encrypt(&SecretToken::new("xoxb-123-abc"), "T1/bot_token");
        assert!(!format!("{sealed:?}").contains("xoxb"));
        assert_eq!(
            cipher.decrypt(&sealed, "T1/bot_token").unwrap().expose(),
            "xoxb-123-abc"
        );
        assert!(
            matches!(
                cipher.decrypt(&sealed, "T2/bot_token"),
                Err(CryptoError::Undecryptable)
            ),
            "a ciphertext moved to another installation does not decrypt"
        );
        assert_eq!(
            format!("{:?}", SecretToken::new("xoxb-1")),
            "SecretToken(***)"
        );
    }

    #[test]
    fn after_a_rotation_old_tokens_open_and_new_ones_use_the_new_key() {
        let old = TokenCipher::new([7; 32]).encrypt(&SecretToken::new("xoxb-old"), "T1/bot_token");
        let rotated = TokenCipher::with_previous([9; 32], &[[7; 32]]);
        assert_eq!(
            rotated.decrypt(&old, "T1/bot_token").unwrap().expose(),
            "xoxb-old"
        );
        let resealed = rotated.encrypt(&SecretToken::new("xoxb-old"), "T1/bot_token");
        assert_ne!(resealed.key_id, old.key_id);
        assert!(TokenCipher::new([7; 32])
            .decrypt(&resealed, "T1/bot_token")
            .is_err());
    }

    #[test]
    fn another_key_cannot_read_it() {
        let sealed = TokenCipher::new([7; 32]).encrypt(&SecretToken::new("xoxb-1"), "T1/bot_token");
        assert!(matches!(
            TokenCipher::new([8; 32]).decrypt(&sealed, "T1/bot_token"),
            Err(CryptoError::UnknownKey(_))
        ));
        let mut tampered = sealed.clone();
        tampered.ciphertext =
            base64::engine::general_purpose::STANDARD.encode(b"garbage-bytes-here!");
        assert!(matches!(
            TokenCipher::new([7; 32]).decrypt(&tampered, "T1/bot_token"),
            Err(CryptoError::Undecryptable)
        ));
    }
}
