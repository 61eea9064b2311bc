//! Password hashing with argon2id. Hashing is slow and takes 19 MiB on purpose, so it runs on the blocking thread
//! pool, and only as many at once as there are cores: a burst of sign-ins waits its turn instead of taking memory
//! for every attempt at once.

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::RngExt as _;
use std::sync::LazyLock;
use std::time::Duration;
use tokio::sync::{Semaphore, SemaphorePermit};

/// How long an attempt waits for a free hashing slot before it is turned away.
const SLOT_WAIT: Duration = Duration::from_secs(10);

static SLOTS: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));

/// Every hashing slot stayed busy for the whole wait.
#[derive(Debug, thiserror::Error)]
#[error("too many sign-ins at once: try again in a moment")]
pub struct Busy;

/// The right to run one hash now.
pub struct Slot {
    _permit: SemaphorePermit<'static>,
}

/// Waits for a hashing slot (at most a few seconds).
pub async fn slot() -> Result<Slot, Busy> {
    match tokio::time::timeout(SLOT_WAIT, SLOTS.acquire()).await {
        Ok(Ok(permit)) => Ok(Slot { _permit: permit }),
        _ => Err(Busy),
    }
}

pub const MIN_LENGTH: usize = 10;
/// Bounds the work an attacker can make one sign-in attempt cost.
pub const MAX_LENGTH: usize = 1024;

/// Why a new password is not acceptable, in words for the form. Besides the length, a password that zxcvbn (its
/// dictionaries of common passwords, words and names, and its keyboard patterns) finds guessable within 10^6
/// guesses is refused: "Password1234", "qwertyuiop", a name and a year.
pub fn check_new(password: &str) -> Result<(), String> {
    let chars = password.chars().count();
    if chars < MIN_LENGTH {
        Err(format!("Password must be at least {MIN_LENGTH} characters long"))
    } else if password.len() > MAX_LENGTH {
        Err(format!("Password must be at most {MAX_LENGTH} bytes long"))
    } else if zxcvbn::zxcvbn(password, &[]).score() < zxcvbn::Score::Two {
        Err("This password is too common or too easy to guess: choose a longer, less predictable one".into())
    } else {
        Ok(())
    }
}

pub async fn hash(password: String) -> anyhow::Result<String> {
    slot().await?.hash(password).await
}

impl Slot {
    pub async fn hash(self, password: String) -> anyhow::Result<String> {
        run(move || {
            Argon2::default()
                .hash_password(password.as_bytes())
                .map(|h| h.to_string())
                .map_err(|e| anyhow::anyhow!("cannot hash the password: {e}"))
        })
        .await?
    }

    /// Verifies against `hash`, or against a dummy hash when there is no user, so both cases take the same time.
    pub async fn verify(self, password: String, hash: Option<String>) -> anyhow::Result<bool> {
        run(move || {
            let (hash, real) = match hash {
                Some(h) => (h, true),
                None => (DUMMY_HASH.clone(), false),
            };
            let matches = password.len() <= MAX_LENGTH
                && Argon2::default().verify_password(password.as_bytes(), hash.as_str()).is_ok();
            real && matches
        })
        .await
    }
}

/// Runs on the blocking pool; the caller's slot is held until it is done.
async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(work).await?)
}

/// Verifies against `hash` (or a dummy one) once a slot is free.
pub async fn verify(password: String, hash: Option<String>) -> anyhow::Result<bool> {
    slot().await?.verify(password, hash).await
}

static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| Argon2::default().hash_password(generate().as_bytes()).map(|h| h.to_string()).unwrap_or_default());

/// A random password for generated accounts: 20 characters without look-alikes.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_passwords_are_refused_and_long_unusual_ones_accepted() {
        for common in ["password123", "qwertyuiop", "Password1234", "1234567890", "iloveyou2024"] {
            assert!(check_new(common).unwrap_err().contains("too common"), "{common}");
        }
        for fine in ["correct horse battery", "renee second password", "Demo-Passw0rd!", "ops password 2"] {
            assert_eq!(check_new(fine), Ok(()), "{fine}");
        }
        assert!(check_new(&generate()).is_ok(), "generated passwords pass");
        assert!(check_new("short").unwrap_err().contains("at least 10"));
    }
}
