//! The time as the core sees it. Production reads the system clock; tests that are about time
//! (throttling delays) hold a manual clock and move it forward, so no test waits for, or
//! depends on, the real clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

#[derive(Clone, Debug, Default)]
pub enum Clock {
    #[default]
    System,
    /// Unix milliseconds, moved only by [`Clock::advance`].
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at the current system time.
    pub fn manual() -> Self {
        Clock::Manual(Arc::new(AtomicI64::new(system_millis())))
    }

    /// Unix time in milliseconds.
    pub fn now_millis(&self) -> i64 {
        match self {
            Clock::System => system_millis(),
            Clock::Manual(millis) => millis.load(Ordering::SeqCst),
        }
    }

    /// Unix time in whole seconds (what the stores keep).
    pub fn now_secs(&self) -> i64 {
        self.now_millis().div_euclid(1000)
    }

    /// Moves a manual clock forward; the system clock cannot be moved.
    pub fn advance(&self, by: Duration) {
        match self {
            Clock::System => panic!("only a manual clock can be advanced"),
            Clock::Manual(millis) => {
                millis.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
            }
        }
    }
}

fn system_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual();
        let start = clock.now_millis();
        assert_eq!(clock.now_millis(), start);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now_millis(), start + 1500);
    }
}
