//! A clock that only moves when told to: for tests of timeouts, here and in the contract suites.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::model::Timestamp;
use crate::ports::Clock;

/// A settable clock.
#[derive(Debug)]
pub struct ManualClock {
    micros: AtomicI64,
}

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: Timestamp) -> Self {
        Self {
            micros: AtomicI64::new(start.unix_micros()),
        }
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.micros.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }

    /// Moves the clock forward by `micros` microseconds.
    pub fn advance_micros(&self, micros: i64) {
        self.micros.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix_micros(self.micros.load(Ordering::SeqCst)).unwrap_or_else(|| {
            Timestamp::from_datetime_truncating(time::OffsetDateTime::UNIX_EPOCH)
        })
    }
}
