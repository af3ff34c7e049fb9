//! The replay rule: a relay signature counts once — across every origin process sharing the
//! store, and across restarts — remembered in the store until its age alone refuses it.

use picket::core::sign::MAX_CLOCK_SKEW_SECS;

use crate::store::{Store, StoreResult};

/// How old a signature may be (Relay's upstream check uses five minutes); older ones are
/// refused for their age, so they need not be remembered.
pub const MAX_AGE_SECS: u64 = 300;

/// Until when (Unix ms) a signature made at `signed_ms` must be remembered: while its age (or
/// a clock up to the allowed skew ahead) could still let it in.
pub fn remember_until(signed_ms: u64) -> i64 {
    let horizon = (MAX_AGE_SECS + MAX_CLOCK_SKEW_SECS as u64) * 1000;
    i64::try_from(signed_ms.saturating_add(horizon)).unwrap_or(i64::MAX)
}

/// Whether this is the first use of `signature`, signed at `signed_ms`, now that it is `now_ms`.
pub async fn first_use(store: &dyn Store, signature: &str, signed_ms: u64, now_ms: u64) -> StoreResult<bool> {
    let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
    store.first_use(signature, remember_until(signed_ms), now).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_remembered_for_its_age_and_the_clock_skew() {
        let until = remember_until(1_000);
        assert_eq!(until, 1_000 + (MAX_AGE_SECS + MAX_CLOCK_SKEW_SECS as u64) as i64 * 1000);
        assert_eq!(remember_until(u64::MAX), i64::MAX, "saturates rather than wraps");
    }
}
