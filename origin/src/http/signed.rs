//! Requests from edges: Relay's `X-Sentry-Relay-Id` and `X-Sentry-Relay-Signature`, checked
//! against the trusted edges' public keys, with stale signatures and replays refused.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::HeaderMap;
use picket::core::sign::{PublicKey, RELAY_ID_HEADER, SIGNATURE_HEADER};

use crate::error::ApiError;
use crate::http::extract::Body;
use crate::replay::MAX_AGE_SECS;
use crate::state::AppState;

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
    // Remembered in the store: every origin process sharing it refuses the replay, and so does
    // this one after a restart.
    if !crate::replay::first_use(state.store.as_ref(), signature, signed_ms, now).await? {
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
        let Body(body) = Body::from_request(req, state).await?;
        verify(state, &headers, &body).await?.ok_or(ApiError::Unsigned)?;
        Ok(FromEdge(body))
    }
}
