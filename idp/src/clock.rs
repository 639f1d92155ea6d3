//! The time every action and rule reads: the system's, moved forward by tests.
//!
//! An action takes the clock rather than calling the system, so a test of an expiry (a code's
//! 30 days, a request's 15-day relaunch) moves this clock instead of sleeping.

use std::{
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
    time::Duration,
};

/// Seconds since the Unix epoch, as the system says plus an offset that only tests set.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset_seconds: Arc<AtomicI64>,
}

impl Clock {
    /// The system's time.
    pub fn system() -> Self {
        Self::default()
    }

    /// Now, in seconds since the epoch: how every timestamp is stored, on both engines.
    pub fn now(&self) -> i64 {
        crate::store::now() + self.offset_seconds.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward. For tests: a running provider is never
    /// moved, nothing in the provider calls it.
    #[doc(hidden)]
    pub fn advance(&self, by: Duration) {
        let seconds = i64::try_from(by.as_secs()).unwrap_or(i64::MAX);
        self.offset_seconds.fetch_add(seconds, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_advanced_clock_moves_every_clone() {
        let clock = Clock::system();
        let other = clock.clone();
        let before = other.now();
        clock.advance(Duration::from_secs(86_400));
        assert!(other.now() >= before + 86_400);
        assert!(other.now() < before + 86_400 + 60);
    }
}
