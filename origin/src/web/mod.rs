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

async fn stylesheet() -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=300")], STYLESHEET)
}

/// Renders a template into a page, or a 500 page if it cannot be rendered.
pub fn render<T: askama::Template>(template: &T) -> Result<axum::response::Html<String>, PageError> {
    template.render().map(axum::response::Html).map_err(|e| PageError::Internal(e.to_string()))
}
