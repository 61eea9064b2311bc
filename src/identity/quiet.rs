//! What anyone can cause without knowing a password (a locked email's refusals, a single sign-on answer nobody
//! started) is logged once per key and window, noted in this process's memory: a flood of such requests writes
//! nothing per request, and an IPv6 host counts by its /64 like the lock-out.

use std::collections::HashMap;
use std::sync::Mutex;

/// How long a noted key keeps its next occurrences quiet.
pub(super) const WINDOW_SECS: i64 = 15 * 60;
/// The most keys remembered at once: past it, the old ones are forgotten.
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Default)]
pub(super) struct Quiet {
    seen: Mutex<HashMap<String, i64>>,
}

impl Quiet {
    /// True when none of `keys` was noted in the window before `now`; notes them all.
    pub(super) fn first(&self, keys: &[String], now: i64) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() + keys.len() > MAX_KEYS {
            seen.retain(|_, at| now - *at < WINDOW_SECS);
            if seen.len() + keys.len() > MAX_KEYS {
                seen.clear();
            }
        }
        let first = keys.iter().all(|k| seen.get(k).is_none_or(|at| now - *at >= WINDOW_SECS));
        for key in keys {
            seen.insert(key.clone(), now);
        }
        first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_first_once_per_window() {
        let quiet = Quiet::default();
        let (email, address) = ("refused ann".to_owned(), "refused 10.0.0.1".to_owned());
        assert!(quiet.first(&[email.clone(), address.clone()], 1_000));
        assert!(!quiet.first(&[email.clone(), address.clone()], 1_001));
        assert!(!quiet.first(&["refused bob".into(), address.clone()], 1_002), "the address was noted");
        assert!(quiet.first(&[email, address], 1_000 + WINDOW_SECS + 5), "a new window");
    }
}
