//! Who is looking: [`Viewer`] is the signed-in user behind a page request (from the session
//! cookie), with the organizations they belong to and the session's CSRF token; without a
//! session a page answers a redirect to `/auth/login/?next=`. [`CsrfForm`] is the only way a
//! page reads a form: it refuses a body whose `csrf` field is not the session's.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::PageError;
use crate::model::{Membership, User};
use crate::state::AppState;

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
        let _ = (parts, state);
        todo!("sessions: being built")
    }
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
        let _ = (request, state);
        todo!("sessions: being built")
    }
}
