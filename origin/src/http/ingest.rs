//! Ingest at the origin: the same core judges the request as at the edge; an accepted
//! envelope is committed to storage (with others waiting, [`crate::commit`]) before the 200
//! goes out, and processed by the worker after.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use picket::core::outcome::Oversized;
use picket::core::quota::CachedLimits;
use picket::core::{self, Headers, Reject, Step};

use crate::error::ApiError;
use crate::http::signed;
use crate::ids;
use crate::state::AppState;
use crate::store::AcceptedEnvelope;

/// The router's fallback: whatever no route takes is judged by the core. Storage failures and
/// a full queue are [`ApiError`]s like everywhere else (503 with `Retry-After`).
pub async fn ingest(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let limit = state.limits.max_envelope_size;
    let declared = parts.headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok());
    if let Err(reject) = state.limits.admit(declared) {
        return Ok(send(reject.response()));
    }
    // A slow client gets the body timeout, not a connection held open for ever.
    let body = match tokio::time::timeout(state.body_timeout, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(body)) => body,
        Ok(Err(e)) if is_length_limit(&e) => {
            return Ok(send(Reject::TooLarge { what: Oversized::Body, limit }.response()))
        }
        Ok(Err(e)) => return Ok(send(Reject::IncompleteBody(e.to_string()).response())),
        Err(_) => return Ok(send(Reject::BodyTimeout.response())),
    };
    // An edge's forward is signed; an SDK's direct request is not.
    let from_edge = signed::verify(&state, &parts.headers, &body).await?.is_some();
    let headers: Headers = parts.headers.iter().filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))).collect();
    // A trusted edge names the client in X-Forwarded-For (the leftmost entry: proxies in front of
    // the origin append theirs after it). A direct client is the socket's peer, or behind
    // `--trusted-proxies` proxies, the address they report.
    let client_ip = if from_edge {
        core::http::client_address(None, &headers, usize::MAX)
    } else {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
        core::http::client_address(peer.as_deref(), &headers, state.trusted_proxies)
    };
    let request = core::Request {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &headers,
        body: &body,
        client_ip: client_ip.as_deref(),
    };
    let prepared = match core::prepare(&request, &state.limits, ids::fresh_event_id()) {
        Ok(Step::Respond(response)) => return Ok(send(response)),
        Ok(Step::NeedState(prepared)) if from_edge => prepared.judged_upstream(),
        Ok(Step::NeedState(prepared)) => prepared,
        Err(reject) => return Ok(send(reject.response())),
    };
    let project_state = state.store.project_state(prepared.public_key()).await?;
    // A full queue refuses before any quota is counted.
    if state.queue.is_full() {
        return Err(ApiError::Busy);
    }
    let now = chrono::Utc::now();
    let judged = match core::judge(prepared, project_state.as_ref(), &CachedLimits::default(), now.timestamp() as u64) {
        Ok(judged) => judged,
        Err(refused) => {
            if let Some(scoping) = &refused.scoping {
                record(&state, scoping.project_id as i64, now.timestamp_millis(), &refused.outcomes).await;
            }
            return Ok(send(refused.reject.response()));
        }
    };
    // Counters live in the store, shared by every origin process on it.
    let allowed = state.store.consume_quotas(judged.checks()).await?;
    let project_id = judged.scoping.project_id as i64;
    let done = judged.finish(&allowed);
    record(&state, project_id, now.timestamp_millis(), &done.outcomes).await;
    let Some(forward) = done.forward else { return Ok(send(done.response)) };
    let envelope = AcceptedEnvelope {
        project_id,
        event_id: forward.event_id.map(|id| id.simple()),
        received_ms: now.timestamp_millis(),
        client_ip: forward.client_ip,
        body: forward.body,
    };
    // Group commit: answered once the batch holding it is durable.
    state.committer.accept(envelope).await?;
    state.queue.pushed();
    Ok(send(done.response))
}

/// Records dropped data for the project's stats; a failure is logged, the answer stands.
async fn record(state: &AppState, project_id: i64, at_ms: i64, outcomes: &[picket::core::outcome::Outcome]) {
    if outcomes.is_empty() {
        return;
    }
    state.metrics.outcomes("ingest", outcomes);
    let rows: Vec<_> = outcomes.iter().map(|o| (project_id, o.clone())).collect();
    if let Err(e) = state.store.record_outcomes(at_ms, &rows).await {
        tracing::error!(error = %e, "could not record outcomes");
    }
}

/// Sends a core response as is.
fn send(r: core::Response) -> Response {
    let mut response =
        (StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), r.body).into_response();
    for (name, value) in r.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(n, v);
        }
    }
    response
}

/// Whether reading stopped at the body limit (rather than the client going away).
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if err.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = err.source();
    }
    false
}
