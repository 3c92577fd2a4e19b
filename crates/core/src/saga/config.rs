use serde::{Deserialize, Serialize};

/// Tunables of the saga. Pure numbers, so the same config replays the same decisions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaConfig {
    /// Attempts of one forward step on transient failures before the saga compensates.
    pub max_attempts: u32,
    /// Attempts of one undo before the deployment is declared stuck.
    pub max_undo_attempts: u32,
    /// First backoff delay; doubles per attempt up to `max_backoff_secs`.
    pub base_backoff_secs: u64,
    pub max_backoff_secs: u64,
    /// Poll interval when Azure sends no `Retry-After`.
    pub default_poll_secs: u64,
    /// Delay before retrying a step that failed for lack of regional capacity (B11).
    pub capacity_retry_delay_secs: u64,
    /// How many capacity retries before giving up with `Capacity`.
    pub max_capacity_retries: u32,
}

impl Default for SagaConfig {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            max_undo_attempts: 8,
            base_backoff_secs: 2,
            max_backoff_secs: 300,
            default_poll_secs: 5,
            capacity_retry_delay_secs: 300,
            max_capacity_retries: 3,
        }
    }
}

impl SagaConfig {
    /// Exponential backoff without randomness: the jitter comes from the attempt number and
    /// the step name, so replays agree and two steps do not retry in lock-step.
    pub fn backoff_secs(&self, attempt: u32, salt: &str) -> u64 {
        let exp = self.base_backoff_secs.saturating_mul(1 << attempt.min(20).saturating_sub(1));
        let jitter = salt.bytes().fold(attempt as u64, |acc, b| acc.wrapping_mul(31) ^ b as u64);
        let spread = (exp / 4).max(1);
        (exp + jitter % spread).min(self.max_backoff_secs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        let cfg = SagaConfig::default();
        let a1 = cfg.backoff_secs(1, "vnet");
        let a3 = cfg.backoff_secs(3, "vnet");
        assert!((2..=2).contains(&a1), "a1 = {a1}");
        assert!((8..=9).contains(&a3), "a3 = {a3}");
        assert_eq!(cfg.backoff_secs(30, "vnet"), 300);
        assert_eq!(cfg.backoff_secs(3, "vnet"), a3, "deterministic");
    }
}
