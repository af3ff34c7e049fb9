//! `POST /api/0/relays/projectconfigs/?version=3`: project states for edges, by public key.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use picket::core::config;
use serde_json::Value;

use crate::app::AppState;
use crate::error::ApiError;

/// At most this many keys per request, as Relay batches them.
const MAX_KEYS: usize = 100;

pub async fn project_configs(State(state): State<AppState>, body: Bytes) -> Result<Json<Value>, ApiError> {
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
