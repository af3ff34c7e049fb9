//! Links the web API hands out: the base URL the client used, where SDKs send (DSNs), and
//! Sentry's cursor paging with `Link` headers. Helpers only: no handlers, no storage.

use axum::http::header::{HeaderMap, HOST, LINK};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;

use crate::error::ApiError;
use crate::state::AppState;

/// The most rows a page holds.
const PAGE_MAX: usize = 100;

#[derive(Deserialize)]
pub struct Paging {
    /// The search query (`is:unresolved error`), for the endpoints that take one.
    pub query: Option<String>,
    cursor: Option<String>,
    limit: Option<usize>,
}

impl Paging {
    /// Sentry cursors read `value:offset:is_prev`; Picket pages by offset. The offset of the
    /// page after this one must fit SQLite's integers, so no later sum can overflow.
    pub fn offset(&self) -> Result<usize, ApiError> {
        let Some(c) = self.cursor.as_deref().filter(|c| !c.is_empty()) else { return Ok(0) };
        let offset: usize = c
            .split(':')
            .nth(1)
            .and_then(|o| o.parse().ok())
            .ok_or_else(|| ApiError::BadRequest(format!("invalid cursor: {c}")))?;
        match offset.checked_add(PAGE_MAX + 1).map(i64::try_from) {
            Some(Ok(_)) => Ok(offset),
            _ => Err(ApiError::BadRequest(format!("the cursor's offset is out of range: {c}"))),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(PAGE_MAX).clamp(1, PAGE_MAX)
    }
}

/// The base URL the client used, for permalinks and `Link` headers.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// A page of results with Sentry's `Link` header (previous and next cursors). `rows` holds
/// up to `limit + 1` rows: one more than the page means there is a next page.
pub fn page<T>(
    mut rows: Vec<T>,
    offset: usize,
    limit: usize,
    url: &str,
    render: impl Fn(&T) -> Value,
) -> Result<Response, ApiError> {
    let more = rows.len() > limit;
    rows.truncate(limit);
    let prev = offset.saturating_sub(limit);
    let next = offset.checked_add(limit).ok_or_else(|| ApiError::BadRequest("the cursor is out of range".into()))?;
    let link = format!(
        "<{url}?cursor=0:{prev}:1>; rel=\"previous\"; results=\"{}\"; cursor=\"0:{prev}:1\", \
         <{url}?cursor=0:{next}:0>; rel=\"next\"; results=\"{more}\"; cursor=\"0:{next}:0\"",
        offset > 0
    );
    Ok(([(LINK, link)], Json(Value::Array(rows.iter().map(render).collect()))).into_response())
}

/// Where SDKs send, for the DSNs the API shows: `--dsn-url`, or the base URL the client used.
pub fn dsn_base(state: &AppState, headers: &HeaderMap) -> String {
    state.dsn_url.clone().unwrap_or_else(|| base_url(headers))
}
