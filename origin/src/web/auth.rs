//! Sign-in and sign-out at Sentry's URLs: `GET/POST /auth/login/`, `POST /auth/logout/`, and
//! `GET /` (to the first organization's issues, or to sign-in). The login form is protected by
//! a pre-session double-submit CSRF cookie; attempts are rate-limited per email and per client
//! address in counters the store shares between origin processes; a wrong password and an
//! unknown email get the same answer after the same work. A redirect after sign-in goes only to
//! a local path.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::header::{LOCATION, SET_COOKIE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;

use super::session::{
    cookie, form_field, is_https, is_token, read_form, same_secret, set_cookie, CsrfForm, Viewer, COOKIE, SESSION_SECS,
};
use super::{render, PageError};
use crate::ids::{random_hex, token_digest};
use crate::people::{normalize_email, verify_password};
use crate::state::AppState;
use crate::store::NewSession;

/// The pre-session cookie the login form's `csrf` field must repeat.
pub const LOGIN_CSRF_COOKIE: &str = "picket_login_csrf";
/// Failed sign-ins allowed per email in a window.
pub const PER_EMAIL: i64 = 5;
/// Failed sign-ins allowed per client address in a window.
pub const PER_ADDRESS: i64 = 20;
/// The rate-limit window: fixed 15-minute windows.
pub const WINDOW_MS: i64 = 15 * 60 * 1000;

const INVALID: &str = "Invalid email or password.";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/auth/login/", get(login_page).post(login))
        .route("/auth/logout/", post(logout))
}

#[derive(askama::Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    csrf: &'a str,
    next: &'a str,
    email: &'a str,
    error: Option<&'a str>,
}

/// Whether `next` is a path on this site: it starts with one `/` (not `//`, which a browser
/// reads as another host), with no backslash (read as `/`) and no control characters.
pub fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2048
        && !next.chars().any(|c| c == '\\' || c.is_control());
    ok.then_some(next)
}

/// Where a signed-in user lands by default: their first organization's issues.
fn landing(viewer: &Viewer) -> String {
    match viewer.memberships.first() {
        Some(m) => format!("/organizations/{}/issues/", m.organization.slug),
        None => "/settings/account/api/auth-tokens/".to_string(),
    }
}

fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(LOCATION, to.to_string())]).into_response()
}

/// `GET /`: the first organization's issues when signed in, else sign-in.
async fn home(viewer: Result<Viewer, PageError>) -> Result<Response, PageError> {
    match viewer {
        Ok(viewer) => Ok(see_other(&landing(&viewer))),
        Err(PageError::SignIn { .. }) => Ok(see_other("/auth/login/")),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// The login form with status `status`, setting (or renewing) the pre-session CSRF cookie.
fn form_page(
    status: StatusCode,
    headers: &HeaderMap,
    state: &AppState,
    next: &str,
    email: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let csrf = match cookie(headers, LOGIN_CSRF_COOKIE).filter(|t| is_token(t)) {
        Some(t) => t.to_string(),
        None => random_hex(32),
    };
    let next = local_path(next).unwrap_or("");
    let page = render(&LoginPage { csrf: &csrf, next, email, error })?;
    let cookie = set_cookie(LOGIN_CSRF_COOKIE, &csrf, "/auth/", 24 * 3600, is_https(headers, state));
    Ok((status, [(SET_COOKIE, cookie)], page).into_response())
}

/// `GET /auth/login/?next=`: the form, or straight on when already signed in.
async fn login_page(
    State(state): State<AppState>,
    Query(query): Query<NextQuery>,
    headers: HeaderMap,
    viewer: Result<Viewer, PageError>,
) -> Result<Response, PageError> {
    let next = query.next.unwrap_or_default();
    if let Ok(viewer) = viewer {
        return Ok(see_other(local_path(&next).unwrap_or(&landing(&viewer))));
    }
    form_page(StatusCode::OK, &headers, &state, &next, "", None)
}

/// The client's address as the ingest path finds it (the socket's peer, or behind trusted
/// proxies the address they report); `unknown` in-process.
fn client_address(request: &Request, state: &AppState) -> String {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string());
    let headers: picket::core::Headers =
        request.headers().iter().filter_map(|(n, v)| Some((n.as_str(), v.to_str().ok()?))).collect();
    picket::core::http::client_address(peer.as_deref(), &headers, state.trusted_proxies)
        .unwrap_or_else(|| "unknown".to_string())
}

/// `POST /auth/login/` with `email`, `password`, `csrf` and `next`.
async fn login(State(state): State<AppState>, request: Request) -> Result<Response, PageError> {
    let address = client_address(&request, &state);
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let bytes = read_form(&parts, body).await?;
    let field = |name| form_field(&bytes, name).unwrap_or_default();
    let (sent_csrf, next, raw_email, password) = (field("csrf"), field("next"), field("email"), field("password"));
    match cookie(headers, LOGIN_CSRF_COOKIE) {
        Some(expected) if is_token(expected) && same_secret(&sent_csrf, expected) => {}
        _ => return Err(PageError::Csrf),
    }
    let email = normalize_email(&raw_email).ok();
    let now = chrono::Utc::now().timestamp_millis();
    let window_end = (now / WINDOW_MS + 1) * WINDOW_MS;
    // Not an address: counted under its digest, so a huge field makes no huge key.
    let email_scope = format!("email:{}", email.clone().unwrap_or_else(|| token_digest(raw_email.trim())));
    let scopes = vec![(email_scope, PER_EMAIL), (format!("ip:{address}"), PER_ADDRESS)];
    if !state.store.try_sign_in_attempt(&scopes, window_end).await? {
        let wait = "Too many sign-in attempts. Wait 15 minutes and try again.";
        return form_page(StatusCode::TOO_MANY_REQUESTS, headers, &state, &next, &raw_email, Some(wait));
    }
    let found = match &email {
        Some(email) => state.store.user_credentials(email).await?,
        None => None,
    };
    let hash = found.as_ref().map(|f| f.password_hash.clone());
    if password.len() > crate::people::MAX_PASSWORD || !verify_password(password, hash).await {
        return form_page(StatusCode::UNAUTHORIZED, headers, &state, &next, &raw_email, Some(INVALID));
    }
    let Some(found) = found else {
        return form_page(StatusCode::UNAUTHORIZED, headers, &state, &next, &raw_email, Some(INVALID));
    };
    let forgiven: Vec<String> = scopes.into_iter().map(|(s, _)| s).collect();
    state.store.forgive_sign_in_attempt(&forgiven, window_end).await?;
    let token = random_hex(32);
    let session = NewSession {
        id_sha256: token_digest(&token),
        user_id: found.user.id,
        csrf: random_hex(32),
        created_ms: now,
        expires_ms: now + SESSION_SECS * 1000,
    };
    state.store.create_session(&session).await?;
    let memberships = state.store.memberships(found.user.id).await?;
    let viewer = Viewer { user: found.user, memberships, csrf: session.csrf };
    let to = local_path(&next).map(str::to_string).unwrap_or_else(|| landing(&viewer));
    let secure = is_https(headers, &state);
    let mut response = see_other(&to);
    let h = response.headers_mut();
    h.append(SET_COOKIE, set_cookie(COOKIE, &token, "/", SESSION_SECS, secure));
    h.append(SET_COOKIE, set_cookie(LOGIN_CSRF_COOKIE, "", "/auth/", 0, secure));
    Ok(response)
}

#[derive(Deserialize)]
struct Empty {}

/// `POST /auth/logout/` (CSRF-checked): ends the session and clears its cookie.
async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    CsrfForm { .. }: CsrfForm<Empty>,
) -> Result<Response, PageError> {
    if let Some(token) = cookie(&headers, COOKIE) {
        state.store.delete_session(&token_digest(token)).await?;
    }
    let mut response = see_other("/auth/login/");
    response.headers_mut().append(SET_COOKIE, set_cookie(COOKIE, "", "/", 0, is_https(&headers, &state)));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn next_is_a_local_path_only() {
        for good in ["/", "/organizations/acme/issues/?query=is:resolved", "/a//b"] {
            assert_eq!(local_path(good), Some(good));
        }
        for bad in ["//evil.example", "https://evil.example/", "/\\evil.example", "evil", "", "/a\nb", "\\\\x"] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
