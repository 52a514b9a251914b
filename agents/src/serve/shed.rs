//! Logging what the service refuses on purpose (503 when saturated): expected behaviour under
//! load, so at most one WARN line per interval with a count, never one line per request.
//! The counters in `/metrics` keep the exact numbers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A WARN event emitted at most once per `interval`; the events suppressed in between are
/// counted in the next line.
#[derive(Debug)]
pub struct RateLimitedWarn {
    interval: Duration,
    last: Mutex<Option<Instant>>,
    suppressed: AtomicU64,
}

impl RateLimitedWarn {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            last: Mutex::new(None),
            suppressed: AtomicU64::new(0),
        }
    }

    /// Logs `message` at WARN unless a line went out less than `interval` ago. Returns
    /// whether it logged.
    pub fn warn(&self, message: &str) -> bool {
        let now = Instant::now();
        // A poisoned lock only means a panic elsewhere mid-update; the time is still usable.
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| now.duration_since(t) < self.interval) {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        *last = Some(now);
        drop(last);
        let suppressed = self.suppressed.swap(0, Ordering::Relaxed);
        tracing::warn!(
            similar_since_last = suppressed,
            interval_s = self.interval.as_secs_f64(),
            "{message}"
        );
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_one_line_per_interval() {
        let w = RateLimitedWarn::new(Duration::from_secs(3600));
        assert!(w.warn("shed"));
        for _ in 0..100 {
            assert!(!w.warn("shed"));
        }
        assert_eq!(w.suppressed.load(Ordering::Relaxed), 100);
        let w = RateLimitedWarn::new(Duration::ZERO);
        assert!(w.warn("a") && w.warn("b"));
    }
}
