//! The signed-in user's personal API tokens at Sentry's URL,
//! `/settings/account/api/auth-tokens/`: a list (name, created, last used; never the secret),
//! a form that creates one and shows its secret once, and a delete button per token. Both
//! forms are CSRF-checked. A token is stored as its SHA-256 only.

use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::session::{Chrome, CsrfForm, Viewer};
use super::{render, PageError};
use crate::ids::{api_token, token_digest};
use crate::state::AppState;
use crate::store::UserToken;

const PATH: &str = "/settings/account/api/auth-tokens/";
/// A user has at most this many tokens.
pub const MAX_TOKENS: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new().route(PATH, get(list).post(create)).route("/settings/account/api/auth-tokens/delete/", post(delete))
}

/// A token as the page lists it.
struct Row {
    id: i64,
    name: String,
    created: String,
    last_used: String,
}

#[derive(askama::Template)]
#[template(path = "auth_tokens.html")]
struct TokensPage {
    chrome: Chrome,
    tokens: Vec<Row>,
    new_secret: Option<String>,
    error: Option<String>,
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()).unwrap_or_default()
}

fn row(t: UserToken) -> Row {
    Row {
        id: t.id,
        name: t.name,
        created: when(t.date_created_ms),
        last_used: t.last_used_ms.map(when).unwrap_or_else(|| "never".into()),
    }
}

async fn page(
    state: &AppState,
    viewer: &Viewer,
    new_secret: Option<String>,
    error: Option<String>,
) -> Result<axum::response::Html<String>, PageError> {
    let tokens = state.store.user_tokens(viewer.user.id).await?.into_iter().map(row).collect();
    let chrome = viewer.chrome("API tokens", None, "account");
    render(&TokensPage { chrome, tokens, new_secret, error })
}

async fn list(State(state): State<AppState>, viewer: Viewer) -> Result<Response, PageError> {
    Ok(page(&state, &viewer, None, None).await?.into_response())
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
}

/// Creates a token and shows its secret once (this answer is the only place it appears).
async fn create(
    State(state): State<AppState>,
    CsrfForm { viewer, form }: CsrfForm<NewToken>,
) -> Result<Response, PageError> {
    let name = form.name.trim();
    let refusal = if name.is_empty() || name.chars().count() > 100 {
        Some("A token's name is 1 to 100 characters.")
    } else if state.store.user_tokens(viewer.user.id).await?.len() >= MAX_TOKENS {
        Some("You have too many tokens; delete one first.")
    } else {
        None
    };
    if let Some(why) = refusal {
        let page = page(&state, &viewer, None, Some(why.to_string())).await?;
        return Ok((StatusCode::BAD_REQUEST, page).into_response());
    }
    let secret = api_token();
    state.store.create_user_token(viewer.user.id, name, &token_digest(&secret)).await?;
    Ok(page(&state, &viewer, Some(secret), None).await?.into_response())
}

#[derive(Deserialize)]
struct DeleteToken {
    id: i64,
}

async fn delete(
    State(state): State<AppState>,
    CsrfForm { viewer, form }: CsrfForm<DeleteToken>,
) -> Result<Response, PageError> {
    if !state.store.delete_user_token(viewer.user.id, form.id).await? {
        return Err(PageError::NotFound);
    }
    Ok((StatusCode::SEE_OTHER, [(LOCATION, PATH)]).into_response())
}
