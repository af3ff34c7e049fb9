//! Bearer-token authentication for the web API: an organization's token sees only that
//! organization; a user's personal token sees the organizations the user is a member of.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Issue, Organization, Project, User};

pub use crate::ids::token_digest;

/// The bearer token from an `Authorization` header, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// What the request's Bearer token may see: an organization token sees its organization; a
/// user's personal token sees exactly the organizations that user is a member of.
pub struct OrgAuth {
    organizations: Vec<Organization>,
    /// The user of a personal token.
    pub user: Option<User>,
}

impl FromRequestParts<AppState> for OrgAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        OrgAuth::of_token(state, token).await?.ok_or(ApiError::Unauthorized)
    }
}

impl OrgAuth {
    /// What `token` may see; `None` if it is no token.
    pub async fn of_token(state: &AppState, token: &str) -> Result<Option<OrgAuth>, ApiError> {
        let digest = token_digest(token);
        if let Some(org) = state.store.token_organization(&digest).await? {
            return Ok(Some(OrgAuth { organizations: vec![org], user: None }));
        }
        let now = chrono::Utc::now().timestamp_millis();
        let Some(user) = state.store.token_user(&digest, now).await? else {
            return Ok(None);
        };
        let organizations = state.store.memberships(user.id).await?.into_iter().map(|m| m.organization).collect();
        Ok(Some(OrgAuth { organizations, user: Some(user) }))
    }

    /// Every organization this token sees.
    pub fn organizations(&self) -> &[Organization] {
        &self.organizations
    }

    /// The path's organization if this token sees it; anything else is "not found".
    pub fn org(&self, org: &str) -> Result<&Organization, ApiError> {
        self.organizations.iter().find(|o| o.slug == org).ok_or(ApiError::NotFound)
    }

    /// Issue `id` of organization `org` with its project, if the token may see it.
    pub async fn issue(&self, state: &AppState, org: &str, id: i64) -> Result<(Issue, Project), ApiError> {
        let org = self.org(org)?;
        state.store.issue(org.id, id).await?.ok_or(ApiError::NotFound)
    }

    /// The project `org/project`, if this token sees `org` and it has the project.
    /// Anything else is "not found", so other organizations' names do not leak.
    pub async fn project(&self, state: &AppState, org: &str, project: &str) -> Result<Project, ApiError> {
        let org = self.org(org)?;
        state.store.project(org.id, project).await?.ok_or(ApiError::NotFound)
    }
}
