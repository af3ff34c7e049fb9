//! What a page answers when it cannot show itself: a small HTML page with the status (404 for
//! anything the viewer may not see, so other organizations' names do not leak), or a redirect
//! to sign-in that comes back with `?next=`. No side effects; a storage failure is logged once
//! by the router's layer, as for the API (a 503 with Retry-After).

use std::sync::Arc;

use axum::http::header::{LOCATION, RETRY_AFTER};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};

use crate::error::StorageFailure;

#[derive(Debug)]
pub enum PageError {
    /// No session: go to `/auth/login/?next=<this path>`.
    SignIn {
        next: String,
    },
    /// Absent, or not visible to this viewer.
    NotFound,
    /// A form without the session's CSRF token, or with a stale one.
    Csrf,
    /// The viewer's role may not do this.
    Forbidden,
    BadRequest(String),
    /// Too many attempts (sign-in); try again later.
    TooMany,
    /// Storage failed: a 503 whose cause rides on the response for the router's log layer.
    Unavailable(anyhow::Error),
    /// A template could not be rendered (a bug).
    Internal(String),
}

impl From<anyhow::Error> for PageError {
    fn from(e: anyhow::Error) -> Self {
        PageError::Unavailable(e)
    }
}

/// Percent-encodes a path for a query value (`next=`).
pub fn encode_component(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut cause = None;
        let (status, message) = match self {
            PageError::SignIn { next } => {
                let to = format!("/auth/login/?next={}", encode_component(&next));
                return (StatusCode::SEE_OTHER, [(LOCATION, to)]).into_response();
            }
            PageError::NotFound => (StatusCode::NOT_FOUND, "Not found.".to_string()),
            PageError::Csrf => (
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload and try again.".into(),
            ),
            PageError::Forbidden => (StatusCode::FORBIDDEN, "Your role in this organization may not do this.".into()),
            PageError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            PageError::TooMany => {
                (StatusCode::TOO_MANY_REQUESTS, "Too many attempts. Wait a few minutes and try again.".into())
            }
            PageError::Unavailable(e) => {
                cause = Some(StorageFailure(Arc::new(e)));
                (StatusCode::SERVICE_UNAVAILABLE, "Storage is unavailable. Try again in a few seconds.".into())
            }
            PageError::Internal(why) => {
                (StatusCode::INTERNAL_SERVER_ERROR, format!("This page could not be drawn: {why}"))
            }
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{code} · Picket</title><link rel=\"stylesheet\" href=\"/_static/picket.css\"></head>\
             <body><main class=\"narrow\"><h1>{code}</h1><p class=\"error\">{msg}</p>\
             <p><a href=\"/\">Picket</a></p></main></body></html>",
            code = status.as_u16(),
            msg = escape(&message),
        );
        let mut response = (status, Html(body)).into_response();
        if let Some(cause) = cause {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("5"));
            response.extensions_mut().insert(cause);
        }
        response
    }
}
