//! The relay API, for trusted edges only (signed requests): project states by public key, and
//! the outcomes edges report.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use picket::core::config;
use serde_json::Value;

use crate::error::ApiError;
use crate::http::signed::FromEdge;
use crate::state::AppState;

/// The relay API (signed requests from trusted edges only).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/0/relays/projectconfigs/", post(project_configs))
        .route("/api/0/relays/outcomes/", post(outcomes))
}

/// At most this many keys per request, as Relay batches them.
const MAX_KEYS: usize = config::BATCH_SIZE;

/// `POST /api/0/relays/projectconfigs/?version=3`.
async fn project_configs(State(state): State<AppState>, FromEdge(body): FromEdge) -> Result<Json<Value>, ApiError> {
    let keys = config::parse_request(&body).map_err(|e| ApiError::BadRequest(format!("invalid request: {e}")))?;
    if keys.len() > MAX_KEYS {
        return Err(ApiError::BadRequest(format!("at most {MAX_KEYS} public keys per request")));
    }
    let mut found = Vec::new();
    for key in keys {
        if let Some(project_state) = state.store.project_state(&key).await? {
            found.push((key, project_state));
        }
    }
    Ok(Json(config::response_body(&found)))
}

/// `POST /api/0/relays/outcomes/`: dropped data reported by edges, in Relay's shape. The whole
/// report is checked first (ids and quantities in range), then recorded in one transaction.
async fn outcomes(State(state): State<AppState>, FromEdge(body): FromEdge) -> Result<Json<Value>, ApiError> {
    let outcomes = picket::core::outcome::parse_outcomes_body(&body)
        .map_err(|e| ApiError::BadRequest(format!("invalid outcomes: {e}")))?;
    let rows = outcomes
        .into_iter()
        .map(|(project, o)| {
            if o.kind == picket::core::outcome::OutcomeKind::Accepted {
                return Err(ApiError::BadRequest(
                    "accepted outcomes are recorded by the origin that keeps the data".into(),
                ));
            }
            let project = i64::try_from(project)
                .map_err(|_| ApiError::BadRequest(format!("project_id {project} is out of range")))?;
            if o.quantity > MAX_OUTCOME_QUANTITY {
                return Err(ApiError::BadRequest(format!("quantity {} is over {MAX_OUTCOME_QUANTITY}", o.quantity)));
            }
            Ok((project, o))
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    state.store.record_outcomes(chrono::Utc::now().timestamp_millis(), &rows).await?;
    state.metrics.outcomes("edge", rows.iter().map(|(_, o)| o));
    Ok(Json(serde_json::json!({})))
}

/// The most one outcome may count (4 GiB of attachment bytes): sums over billions of them
/// still fit the store's 64-bit integers.
pub const MAX_OUTCOME_QUANTITY: u64 = u32::MAX as u64;
