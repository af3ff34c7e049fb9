//! Who is looking: [`Viewer`] is the signed-in user behind a page request (from the session
//! cookie), with the organizations they belong to and the session's CSRF token; without a
//! session a page answers a redirect to `/auth/login/?next=`. [`CsrfForm`] is the only way a
//! page reads a form: it refuses a body whose `csrf` field is not the session's, one larger than
//! [`MAX_FORM`], and one whose `Origin` header names another host. Also the cookie helpers the
//! sign-in pages share: reading cookies, writing them `HttpOnly; SameSite=Lax` (and `Secure`
//! when the request came over https, see [`is_https`]).

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::{COOKIE as COOKIE_HEADER, HOST, ORIGIN, REFERER};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;

use super::PageError;
use crate::ids::token_digest;
use crate::model::{Membership, User};
use crate::state::AppState;

/// How long a session lasts from sign-in (fixed, not sliding): 14 days.
pub const SESSION_SECS: i64 = 14 * 24 * 3600;
/// A form body larger than this is refused.
pub const MAX_FORM: usize = 64 * 1024;

/// The session cookie's name.
pub const COOKIE: &str = "picket_session";

/// The signed-in user of a page request.
#[derive(Clone, Debug)]
pub struct Viewer {
    pub user: User,
    /// Every organization the user belongs to, by slug.
    pub memberships: Vec<Membership>,
    /// The session's CSRF token, for the hidden `csrf` field of every form.
    pub csrf: String,
}

impl Viewer {
    /// The viewer's membership of `org`; "not found" if they have none, so other
    /// organizations' names do not leak.
    pub fn membership(&self, org: &str) -> Result<&Membership, PageError> {
        self.memberships.iter().find(|m| m.organization.slug == org).ok_or(PageError::NotFound)
    }

    /// What the layout (`base.html`) shows around a page: title, account, organizations.
    pub fn chrome(&self, title: impl Into<String>, org: Option<&str>, section: &'static str) -> Chrome {
        Chrome {
            title: title.into(),
            email: self.user.email.clone(),
            org: org.map(str::to_string),
            orgs: self.memberships.iter().map(|m| m.organization.slug.clone()).collect(),
            csrf: self.csrf.clone(),
            section,
        }
    }
}

/// The layout's data; every page template has a `chrome` field of this type.
#[derive(Clone, Debug)]
pub struct Chrome {
    pub title: String,
    pub email: String,
    /// The organization the page belongs to, if any.
    pub org: Option<String>,
    pub orgs: Vec<String>,
    pub csrf: String,
    /// Which navigation entry is current: `issues`, `stats`, `settings`, `account`.
    pub section: &'static str,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let sign_in = || PageError::SignIn { next: come_back_to(parts) };
        let Some(token) = cookie(&parts.headers, COOKIE).filter(|t| is_token(t)) else {
            return Err(sign_in());
        };
        let id = token_digest(token);
        let now = chrono::Utc::now().timestamp_millis();
        let Some(session) = state.store.session(&id, now).await? else {
            return Err(sign_in());
        };
        if session.last_seen_ms <= now - crate::store::TOUCH_EVERY_MS {
            state.store.touch_session(&id, now).await?;
        }
        let memberships = state.store.memberships(session.user.id).await?;
        Ok(Viewer { user: session.user, memberships, csrf: session.csrf })
    }
}

/// Where sign-in leads back to: the page asked for, or for a form (which has no page at its
/// own address) the page it was sent from, when the `Referer` names a path here; else `/`.
pub fn come_back_to(parts: &Parts) -> String {
    if parts.method == Method::GET || parts.method == Method::HEAD {
        return parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_else(|| "/".into());
    }
    let referer = parts.headers.get(REFERER).and_then(|r| r.to_str().ok()).unwrap_or("");
    let path = referer.split_once("://").and_then(|(_, rest)| rest.find('/').map(|at| &rest[at..]));
    path.and_then(super::auth::local_path).unwrap_or("/").to_string()
}

/// A page's form body (`application/x-www-form-urlencoded`, repeated keys allowed as lists
/// through `serde_html_form`), read only if its `csrf` field is the viewer's session token.
pub struct CsrfForm<T> {
    pub viewer: Viewer,
    pub form: T,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = PageError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, PageError> {
        let (mut parts, body) = request.into_parts();
        let viewer = Viewer::from_request_parts(&mut parts, state).await?;
        let bytes = read_form(&parts, body).await?;
        let sent = form_field(&bytes, "csrf").ok_or(PageError::Csrf)?;
        if !same_secret(&sent, &viewer.csrf) {
            return Err(PageError::Csrf);
        }
        let form = serde_html_form::from_bytes(&bytes).map_err(|e| PageError::BadRequest(format!("bad form: {e}")))?;
        Ok(CsrfForm { viewer, form })
    }
}

/// Reads a form body of at most [`MAX_FORM`] bytes, after refusing a cross-site `Origin`.
pub async fn read_form(parts: &Parts, body: axum::body::Body) -> Result<axum::body::Bytes, PageError> {
    if !same_origin(&parts.headers, parts.uri.authority().map(|a| a.as_str())) {
        return Err(PageError::Csrf);
    }
    axum::body::to_bytes(body, MAX_FORM)
        .await
        .map_err(|_| PageError::BadRequest(format!("a form is at most {} KiB", MAX_FORM / 1024)))
}

/// The first value of a form field.
pub fn form_field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body).find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// Whether a request's `Origin` header, if it has one, names the host it was sent to.
pub fn same_origin(headers: &HeaderMap, authority: Option<&str>) -> bool {
    let Some(origin) = headers.get(ORIGIN) else { return true };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).or(authority);
    let origin_host = origin.to_str().ok().and_then(|o| o.split_once("://")).map(|(_, rest)| rest);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Constant-time equality of two secrets (their lengths are not secret).
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whether a cookie value has the shape of our tokens (64 hex digits).
pub fn is_token(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE_HEADER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Whether the request came over https: the origin serves plain HTTP, so only a trusted proxy
/// (`--trusted-proxies` at least 1) can say so, with `X-Forwarded-Proto: https` (its last entry,
/// the one the nearest proxy wrote).
pub fn is_https(headers: &HeaderMap, state: &AppState) -> bool {
    state.trusted_proxies > 0
        && headers
            .get_all("x-forwarded-proto")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, on `path`, for `max_age` seconds (0 clears
/// it), Secure if `secure`.
pub fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("picket_invalid=; Max-Age=0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_comes_back_to_a_page() {
        let parts = |method: &str, uri: &str, referer: Option<&str>| {
            let mut r = axum::http::Request::builder().method(method).uri(uri);
            if let Some(referer) = referer {
                r = r.header(REFERER, referer);
            }
            r.body(()).unwrap().into_parts().0
        };
        assert_eq!(
            come_back_to(&parts("GET", "/organizations/acme/issues/?query=x", None)),
            "/organizations/acme/issues/?query=x"
        );
        let form = |referer| come_back_to(&parts("POST", "/organizations/acme/issues/bulk/", referer));
        assert_eq!(
            form(Some("https://picket.example/organizations/acme/issues/?query=x")),
            "/organizations/acme/issues/?query=x"
        );
        assert_eq!(form(Some("https://picket.example//evil.example/")), "/");
        assert_eq!(form(Some("https://picket.example")), "/");
        assert_eq!(form(Some("nonsense")), "/");
        assert_eq!(form(None), "/");
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(COOKIE_HEADER, HeaderValue::from_static("a=1; picket_session=abc"));
        h.append(COOKIE_HEADER, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&h, "picket_session"), Some("abc"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), None);
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut h = HeaderMap::new();
        h.insert(HOST, HeaderValue::from_static("picket.example:8000"));
        assert!(same_origin(&h, None));
        h.insert(ORIGIN, HeaderValue::from_static("http://picket.example:8000"));
        assert!(same_origin(&h, None));
        h.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h, None));
        h.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h, None));
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "abcd"));
    }
}
