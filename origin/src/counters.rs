//! Quota counters for traffic that reaches the origin directly (edges count their own in
//! Durable Objects): one lock over all counters, so counting is exact within this process.

use std::collections::HashMap;
use std::sync::Mutex;

use picket::core::limit::{try_consume, Check};

/// Used quantity per shard and window.
#[derive(Debug, Default)]
pub struct Counters {
    used: Mutex<HashMap<(String, u64), u64>>,
}

impl Counters {
    /// Answers each check in order, counting what is allowed; windows ended by `now` are dropped.
    pub fn ask(&self, checks: &[Check], now: u64) -> Vec<bool> {
        let mut used = self.used.lock().unwrap_or_else(|p| p.into_inner());
        used.retain(|(_, window_end), _| *window_end > now);
        checks
            .iter()
            .map(|check| {
                let slot = used.entry((check.shard.clone(), check.window_end)).or_insert(0);
                match try_consume(*slot, check.quantity, check.limit) {
                    Some(total) => {
                        *slot = total;
                        true
                    }
                    None => false,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_up_to_the_limit_per_window() {
        let c = Counters::default();
        let check = |end| Check { shard: "q:project:1".into(), window_end: end, quantity: 1, limit: 2 };
        assert_eq!(c.ask(&[check(60), check(60), check(60)], 10), vec![true, true, false]);
        assert_eq!(c.ask(&[check(120)], 60), vec![true], "a new window starts from zero");
    }
}
