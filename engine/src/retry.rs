//! When a failed attempt runs again: exponential backoff with jitter.

use crate::error::{Error, Result};

/// The longest delay before a retry: 366 days, as for a worker's own retry delay. `base` must
/// not exceed it; a larger `max` means this, and every delay is kept within it, so that adding
/// a delay to the current time can never overflow.
pub const MAX_RETRY_DELAY_MS: i64 = 366 * 86_400_000;

/// Delay before attempt `n + 1` after attempt `n` failed: `base * factor^(n-1)`, capped at
/// `max` (and at [`MAX_RETRY_DELAY_MS`]), then spread by ±`jitter` so that tasks failing
/// together do not retry together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    pub base_ms: i64,
    pub factor: f64,
    pub max_ms: i64,
    /// Fraction of the delay, 0.0 to 1.0.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base_ms: 10_000, factor: 2.0, max_ms: 3_600_000, jitter: 0.2 }
    }
}

impl RetryPolicy {
    pub fn validate(&self) -> Result<()> {
        if self.base_ms < 0 || self.max_ms < 0 {
            return Err(Error::Config("backoff base and max must not be negative".into()));
        }
        if self.base_ms > MAX_RETRY_DELAY_MS {
            return Err(Error::Config(format!(
                "backoff base must be at most {} seconds (366 days), got {} seconds",
                MAX_RETRY_DELAY_MS / 1000,
                self.base_ms as f64 / 1000.0
            )));
        }
        if !(1.0..=10.0).contains(&self.factor) {
            return Err(Error::Config(format!("backoff factor must be between 1 and 10, got {}", self.factor)));
        }
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(Error::Config(format!("backoff jitter must be between 0 and 1, got {}", self.jitter)));
        }
        Ok(())
    }

    /// The delay without jitter after `attempt` (1-based) failed.
    pub fn base_delay_ms(&self, attempt: i64) -> i64 {
        let exponent = (attempt.max(1) - 1).min(64) as i32;
        let raw = self.base_ms as f64 * self.factor.powi(exponent);
        let cap = self.max_ms.clamp(0, MAX_RETRY_DELAY_MS) as f64;
        // NaN (from a factor nobody validated) becomes 0 in the cast.
        raw.min(cap).max(0.0) as i64
    }

    /// The delay with jitter, using `unit`, a random number in [0, 1).
    pub fn delay_ms_with(&self, attempt: i64, unit: f64) -> i64 {
        let base = self.base_delay_ms(attempt) as f64;
        let spread = base * self.jitter * (unit * 2.0 - 1.0);
        ((base + spread).round() as i64).clamp(0, MAX_RETRY_DELAY_MS)
    }

    /// The delay with fresh jitter.
    pub fn delay_ms(&self, attempt: i64) -> i64 {
        self.delay_ms_with(attempt, fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_exponentially_and_caps() {
        let p = RetryPolicy { base_ms: 1000, factor: 2.0, max_ms: 5000, jitter: 0.0 };
        let delays: Vec<i64> = (1..=5).map(|a| p.delay_ms(a)).collect();
        assert_eq!(delays, [1000, 2000, 4000, 5000, 5000]);
        assert_eq!(p.base_delay_ms(10_000), 5000, "huge attempt counts must not overflow");
    }

    #[test]
    fn jitter_stays_within_bounds_and_varies() {
        let p = RetryPolicy { base_ms: 10_000, factor: 2.0, max_ms: 3_600_000, jitter: 0.2 };
        assert_eq!(p.delay_ms_with(1, 0.0), 8000);
        assert_eq!(p.delay_ms_with(1, 0.5), 10_000);
        assert!(p.delay_ms_with(1, 0.999_999) <= 12_000);
        let seen: std::collections::HashSet<i64> = (0..50).map(|_| p.delay_ms(3)).collect();
        assert!(seen.len() > 10, "jitter should spread retries");
        assert!(seen.iter().all(|d| (32_000..=48_000).contains(d)));
    }

    #[test]
    fn absurd_delays_stay_within_366_days() {
        let year = MAX_RETRY_DELAY_MS;
        for max_ms in [i64::MAX, (1e300_f64 * 1000.0) as i64, year * 2] {
            let p = RetryPolicy { base_ms: 10_000, factor: 10.0, max_ms, jitter: 1.0 };
            assert!(p.validate().is_ok(), "a large max means the longest delay");
            for attempt in [1, 10, 20, 100, i64::MAX] {
                for unit in [0.0, 0.5, 0.999_999] {
                    let delay = p.delay_ms_with(attempt, unit);
                    assert!((0..=year).contains(&delay), "attempt {attempt}: {delay}");
                }
            }
            assert_eq!(p.base_delay_ms(30), year);
        }
        // Unvalidated nonsense still gives a delay in range.
        let p = RetryPolicy { base_ms: i64::MAX, factor: f64::NAN, max_ms: i64::MAX, jitter: 5.0 };
        assert!((0..=year).contains(&p.delay_ms_with(3, 0.9)));
        let err = RetryPolicy { base_ms: i64::MAX, ..Default::default() }.validate().unwrap_err();
        assert!(matches!(err, Error::Config(_)) && err.to_string().contains("366 days"), "{err}");
        assert!(RetryPolicy { base_ms: year, max_ms: year, ..Default::default() }.validate().is_ok());
    }

    #[test]
    fn rejects_nonsense() {
        assert!(RetryPolicy { factor: 0.5, ..Default::default() }.validate().is_err());
        assert!(RetryPolicy { jitter: 2.0, ..Default::default() }.validate().is_err());
        assert!(RetryPolicy { base_ms: -1, ..Default::default() }.validate().is_err());
        assert!(RetryPolicy::default().validate().is_ok());
    }
}
