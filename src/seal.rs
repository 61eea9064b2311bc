//! The server's key, from `MA_SECRET_KEY` (or its file), and what it seals: small values kept where someone else
//! could read them (two-factor secrets in the database, a secret being set up in the session, a single sign-on under
//! way in a cookie). AES-256-GCM with a fresh nonce each time; the context a value belongs to (a user id, a purpose)
//! is authenticated with it, so a value moved elsewhere does not open.

use aes_gcm::aead::{Aead as _, KeyInit as _, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64;
use rand::RngExt as _;
use sha2::{Digest as _, Sha256};
use std::fmt;

pub const MIN_KEY_CHARS: usize = 32;
const NONCE_BYTES: usize = 12;

/// `Debug` hides it.
#[derive(Clone)]
pub struct SecretKey(Aes256Gcm);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([hidden])")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "must be at least {MIN_KEY_CHARS} characters long (it has {0}): a long random value, e.g. `openssl rand -base64 48`"
)]
pub struct KeyTooShort(pub usize);

/// A sealed value that this key cannot open: another key made it, it belongs elsewhere, or it was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the value cannot be decrypted with this MA_SECRET_KEY")]
pub struct Undecryptable;

impl SecretKey {
    /// The SHA-256 of `value` (at least [`MIN_KEY_CHARS`] characters once trimmed) is the AES-256 key.
    pub fn derive(value: &str) -> Result<SecretKey, KeyTooShort> {
        let value = value.trim();
        let chars = value.chars().count();
        if chars < MIN_KEY_CHARS {
            return Err(KeyTooShort(chars));
        }
        Ok(SecretKey::from_bytes(&Sha256::digest(value.as_bytes()).into()))
    }

    pub fn from_bytes(bytes: &[u8; 32]) -> SecretKey {
        SecretKey(Aes256Gcm::new(bytes.into()))
    }

    /// The key kept in `path`, made (random, readable by its owner only) if the file does not exist yet: demo mode's
    /// key, so two-factor sign-in works there with no setting.
    pub fn kept_in(path: &std::path::Path) -> anyhow::Result<SecretKey> {
        let shown = path.display();
        match std::fs::read_to_string(path) {
            Ok(value) => return SecretKey::derive(&value).map_err(|e| anyhow::anyhow!("the key in {shown} {e}")),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => anyhow::bail!("cannot read the key in {shown}: {e}"),
            Err(_) => {}
        }
        let bytes: [u8; 36] = rand::rng().random();
        let value = base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| anyhow::anyhow!("cannot create the key file {shown}: {e}"))?;
        std::io::Write::write_all(&mut file, format!("{value}\n").as_bytes())
            .map_err(|e| anyhow::anyhow!("cannot write the key file {shown}: {e}"))?;
        SecretKey::derive(&value).map_err(|e| anyhow::anyhow!("the new key {e}"))
    }

    /// A key from the thread's CSPRNG, and its bytes (to keep it).
    pub fn generate() -> ([u8; 32], SecretKey) {
        let bytes: [u8; 32] = rand::rng().random();
        (bytes, SecretKey::from_bytes(&bytes))
    }

    /// Base64 (URL-safe, fit for a cookie) of a fresh nonce and the ciphertext of `plain`, bound to `context`.
    pub fn seal(&self, context: &[u8], plain: &[u8]) -> String {
        let nonce_bytes: [u8; NONCE_BYTES] = rand::rng().random();
        // AES-GCM refuses only inputs of gigabytes: what is sealed here is a few hundred bytes.
        let sealed =
            self.0.encrypt(&Nonce::from(nonce_bytes), Payload { msg: plain, aad: context }).unwrap_or_default();
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&sealed);
        BASE64.encode(out)
    }

    pub fn open(&self, context: &[u8], sealed: &str) -> Result<Vec<u8>, Undecryptable> {
        // Values sealed before the cookie-safe alphabet were standard base64 with padding.
        let raw = BASE64
            .decode(sealed.trim_end_matches('='))
            .or_else(|_| base64::engine::general_purpose::STANDARD.decode(sealed))
            .map_err(|_| Undecryptable)?;
        if raw.len() <= NONCE_BYTES {
            return Err(Undecryptable);
        }
        let (nonce, body) = raw.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| Undecryptable)?;
        self.0.decrypt(&Nonce::from(nonce), Payload { msg: body, aad: context }).map_err(|_| Undecryptable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_opens_only_with_the_same_key_and_context() {
        let key = SecretKey::derive("a key of at least thirty-two characters").unwrap();
        let sealed = key.seal(b"user 7", b"the value");
        assert!(!sealed.contains("the value"));
        assert_ne!(sealed, key.seal(b"user 7", b"the value"), "a fresh nonce each time");
        assert_eq!(key.open(b"user 7", &sealed), Ok(b"the value".to_vec()));
        assert_eq!(key.open(b"user 8", &sealed), Err(Undecryptable));
        let other = SecretKey::derive("another key of at least thirty-two characters").unwrap();
        assert_eq!(other.open(b"user 7", &sealed), Err(Undecryptable));
        assert_eq!(key.open(b"user 7", "not base64!"), Err(Undecryptable));
        assert_eq!(SecretKey::derive(" too short ").unwrap_err(), KeyTooShort(9));
        let (bytes, generated) = SecretKey::generate();
        assert_eq!(SecretKey::from_bytes(&bytes).open(b"", &generated.seal(b"", b"x")), Ok(b"x".to_vec()));
    }
}
