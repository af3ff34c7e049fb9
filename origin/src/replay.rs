//! The replay set: a relay signature counts once. Its one question is "is this the first use
//! of this signature, signed at `t`, now that it is `n`?"; it imports nothing from the crate.

use std::collections::HashMap;
use std::sync::Mutex;

use picket::core::sign::MAX_CLOCK_SKEW_SECS;

/// How old a signature may be (Relay's upstream check uses five minutes); older ones are
/// refused for their age, so the set need not remember them.
pub const MAX_AGE_SECS: u64 = 300;

/// Signatures seen within [`MAX_AGE_SECS`] (plus the allowed clock skew): the same one again
/// is a replay.
#[derive(Default)]
pub struct Replays {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    /// Signature → when it was signed (Unix ms).
    at: HashMap<String, u64>,
    /// Expired signatures are swept when the set reaches this size, which is then set to twice
    /// what is left: each insert costs O(1) amortized, however busy the edges are.
    sweep_at: usize,
}

impl Replays {
    /// Records `signature` (signed at `signed_ms`, now being `now_ms`); false if it was seen
    /// before.
    pub fn first_use(&self, signature: &str, signed_ms: u64, now_ms: u64) -> bool {
        let mut seen = self.seen.lock().expect("the replay set is never poisoned");
        if seen.at.len() >= seen.sweep_at {
            let horizon = now_ms.saturating_sub(MAX_AGE_SECS * 1000 + MAX_CLOCK_SKEW_SECS as u64 * 1000);
            seen.at.retain(|_, at| *at >= horizon);
            seen.sweep_at = (seen.at.len() * 2).max(1024);
        }
        seen.at.insert(signature.to_string(), signed_ms).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_counts_once() {
        let replays = Replays::default();
        assert!(replays.first_use("a.b", 1_000, 2_000));
        assert!(!replays.first_use("a.b", 1_000, 3_000));
        assert!(replays.first_use("c.d", 1_000, 3_000));
    }

    #[test]
    fn old_signatures_are_forgotten() {
        let replays = Replays::default();
        // One signature a second for 10,000 seconds: only the last few minutes' are kept.
        for i in 0..10_000u64 {
            assert!(replays.first_use(&i.to_string(), i * 1_000, i * 1_000));
        }
        assert!(replays.seen.lock().unwrap().at.len() <= 1024);
    }
}
