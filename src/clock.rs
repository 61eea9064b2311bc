//! The time, for every rule that depends on it (lock-outs, session limits, pending sign-ins, two-factor steps,
//! leases). Production reads the system clock; tests hold a clock they move, so no test sleeps past a limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Unix seconds, from the system or from a value a test sets. Cheap to clone; clones of a manual clock move together.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    manual: Option<Arc<AtomicI64>>,
}

impl Clock {
    pub fn system() -> Clock {
        Clock::default()
    }

    /// A clock standing at `at` until it is moved.
    pub fn manual(at: i64) -> Clock {
        Clock { manual: Some(Arc::new(AtomicI64::new(at))) }
    }

    /// A manual clock starting at the system's time now.
    pub fn manual_from_now() -> Clock {
        Clock::manual(system_now())
    }

    pub fn now(&self) -> i64 {
        self.manual.as_ref().map_or_else(system_now, |at| at.load(Ordering::SeqCst))
    }

    /// Moves a manual clock forward (or back, with a negative number); the system clock cannot be moved.
    pub fn advance(&self, secs: i64) {
        if let Some(at) = &self.manual {
            at.fetch_add(secs, Ordering::SeqCst);
        }
    }

    pub fn set(&self, to: i64) {
        if let Some(at) = &self.manual {
            at.store(to, Ordering::SeqCst);
        }
    }
}

fn system_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::Clock;

    #[test]
    fn a_manual_clock_stands_until_moved_and_its_clones_move_with_it() {
        let clock = Clock::manual(1_000);
        let clone = clock.clone();
        assert_eq!(clock.now(), 1_000);
        clock.advance(61);
        assert_eq!(clone.now(), 1_061);
        clone.set(5);
        assert_eq!(clock.now(), 5);
        let system = Clock::system();
        system.advance(1_000_000);
        assert!((system.now() - time::OffsetDateTime::now_utc().unix_timestamp()).abs() < 5);
    }
}
