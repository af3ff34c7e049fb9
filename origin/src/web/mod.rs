//! The web UI: server-rendered pages (askama templates, checked at compile time) behind
//! cookie sessions, at Sentry-shaped URLs. No JavaScript build step; one stylesheet.

pub mod auth;
pub mod error;
pub mod pages;
pub mod session;
pub mod tokens;
pub mod view;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

pub use error::PageError;
pub use session::{Chrome, CsrfForm, Viewer};

/// The stylesheet every page links.
const STYLESHEET: &str = include_str!("../../static/picket.css");

/// Every page and the stylesheet.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_static/picket.css", get(stylesheet))
        .merge(auth::routes())
        .merge(tokens::routes())
        .merge(pages::routes())
}

/// Whether `path` is under the UI's prefixes, where what no page takes answers as a page
/// ([`no_page`]) rather than as ingest's JSON.
pub fn is_page_path(path: &str) -> bool {
    ["/organizations/", "/settings/", "/auth/"].iter().any(|p| path.starts_with(p))
}

/// A UI address without its trailing slash goes to the slashed one (Sentry's URLs all end in
/// `/`); anything else under the UI's prefixes is a 404 page.
pub async fn no_page(uri: axum::http::Uri) -> axum::response::Response {
    let path = uri.path();
    if !path.ends_with('/') {
        let to = match uri.query() {
            Some(q) => format!("{path}/?{q}"),
            None => format!("{path}/"),
        };
        return axum::response::Redirect::permanent(&to).into_response();
    }
    PageError::NotFound.into_response()
}

async fn stylesheet() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=300")], STYLESHEET)
}

/// Renders a template into a page, or a 500 page if it cannot be rendered.
pub fn render<T: askama::Template>(template: &T) -> Result<axum::response::Html<String>, PageError> {
    template.render().map(axum::response::Html).map_err(|e| PageError::Internal(e.to_string()))
}
