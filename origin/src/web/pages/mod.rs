//! The page handlers, one module per page family, each with its own `routes()`; what they
//! share: reading a query string into a struct (a bad one is a 400 page), finding an
//! organization the viewer belongs to (404 otherwise), safe redirects back after a form, and
//! the favicon (so browsers asking for `/favicon.ico` get no 404 in the console).

pub mod issue;
pub mod issues;
pub mod settings;
pub mod stats;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::de::DeserializeOwned;

use super::{PageError, Viewer};
use crate::model::{Membership, Organization};
use crate::state::AppState;

/// Every page family's routes and the favicon.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/favicon.ico", get(favicon))
        .merge(issues::routes())
        .merge(issue::routes())
        .merge(stats::routes())
        .merge(settings::routes())
}

const FAVICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\">\
<rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#5b3fd6\"/><path d=\"M5 13V3h4a3 3 0 0 1 0 6H5\" \
stroke=\"#fff\" stroke-width=\"2\" fill=\"none\"/></svg>";

async fn favicon() -> impl IntoResponse {
    ([(CONTENT_TYPE, "image/svg+xml"), (CACHE_CONTROL, "public, max-age=86400")], FAVICON)
}

/// A query string read into `T` (repeated keys as lists); a malformed one is a 400 page.
pub fn query<T: DeserializeOwned>(raw: Option<&str>) -> Result<T, PageError> {
    serde_html_form::from_str(raw.unwrap_or("")).map_err(|e| PageError::BadRequest(format!("Bad query: {e}")))
}

/// The viewer's membership of `org` and the organization; 404 for organizations they are not in.
pub fn member<'a>(viewer: &'a Viewer, org: &str) -> Result<(&'a Membership, &'a Organization), PageError> {
    let m = viewer.membership(org)?;
    Ok((m, &m.organization))
}

/// A 303 to `to` (after a form).
pub fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

/// `next` if it is a path inside `prefix` (no other host, no scheme), else `fallback`.
pub fn back_to(next: Option<&str>, prefix: &str, fallback: &str) -> String {
    match next {
        Some(n) if n.starts_with(prefix) && !n.contains("//") && !n.contains('\\') && !n.contains(['\r', '\n']) => {
            n.to_string()
        }
        _ => fallback.to_string(),
    }
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The layout's data for rendering pages in tests, as a signed-in owner of `acme` sees it.
#[cfg(test)]
pub fn test_chrome(section: &'static str) -> super::Chrome {
    super::Chrome {
        title: "Test".into(),
        email: "owner@example.com".into(),
        org: Some("acme".into()),
        orgs: vec!["acme".into()],
        csrf: "csrf-token-123".into(),
        section,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_stay_inside() {
        let p = "/organizations/acme/";
        assert_eq!(back_to(Some("/organizations/acme/issues/?query="), p, "/x"), "/organizations/acme/issues/?query=");
        assert_eq!(back_to(Some("https://evil.example/"), p, "/x"), "/x");
        assert_eq!(back_to(Some("/organizations/acme//evil"), p, "/x"), "/x");
        assert_eq!(back_to(Some("/organizations/rival/"), p, "/x"), "/x");
        assert_eq!(back_to(None, p, "/x"), "/x");
    }
}
