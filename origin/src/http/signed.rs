//! Requests from edges: Relay's `X-Sentry-Relay-Id` and `X-Sentry-Relay-Signature`, checked
//! against the trusted edges' public keys, with stale signatures and replays refused.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode};
use picket::core::sign::{PublicKey, RELAY_ID_HEADER, SIGNATURE_HEADER};

use crate::app::AppState;
use crate::error::ApiError;

/// How old a signature may be (Relay's upstream check uses five minutes).
pub const MAX_AGE_SECS: u64 = 300;

/// Signatures seen within [`MAX_AGE_SECS`]: the same one again is a replay. Older ones need no
/// memory, since their age alone refuses them.
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
    /// Records `signature` (signed at `signed_ms`); false if it was seen before.
    fn first_use(&self, signature: &str, signed_ms: u64, now_ms: u64) -> bool {
        let mut seen = self.seen.lock().expect("the replay set is never poisoned");
        if seen.at.len() >= seen.sweep_at {
            let horizon =
                now_ms.saturating_sub(MAX_AGE_SECS * 1000 + picket::core::sign::MAX_CLOCK_SKEW_SECS as u64 * 1000);
            seen.at.retain(|_, at| *at >= horizon);
            seen.sweep_at = (seen.at.len() * 2).max(1024);
        }
        seen.at.insert(signature.to_string(), signed_ms).is_none()
    }
}

/// The verified edge's Relay id; `None` when the request carries no relay headers at all.
pub async fn verify(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Option<String>, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (id, signature) = match (header(RELAY_ID_HEADER), header(SIGNATURE_HEADER)) {
        (None, None) => return Ok(None),
        (Some(id), Some(signature)) => (id, signature),
        _ => {
            return Err(ApiError::BadSignature("both X-Sentry-Relay-Id and X-Sentry-Relay-Signature are needed".into()))
        }
    };
    let edge = state.store.trusted_edge(id).await?.ok_or(ApiError::UntrustedRelay)?;
    let key: PublicKey = edge.public_key.parse().map_err(|_| ApiError::UntrustedRelay)?;
    let now = chrono::Utc::now().timestamp_millis().max(0) as u64;
    let signed_ms =
        key.verify(body, signature, now, MAX_AGE_SECS).map_err(|e| ApiError::BadSignature(e.to_string()))?;
    if !state.replays.first_use(signature, signed_ms, now) {
        return Err(ApiError::BadSignature("the relay signature was already used".into()));
    }
    Ok(Some(edge.relay_id))
}

/// The body of a request only edges may make, read (as JSON errors when it cannot be) and
/// verified as signed by a trusted edge.
pub struct FromEdge(pub Bytes);

impl FromRequest<AppState> for FromEdge {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let headers = req.headers().clone();
        let body = Bytes::from_request(req, state).await.map_err(|rejection| match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge,
            _ => ApiError::BadRequest(rejection.body_text()),
        })?;
        verify(state, &headers, &body).await?.ok_or(ApiError::Unsigned)?;
        Ok(FromEdge(body))
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
}
