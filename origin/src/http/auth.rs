//! Bearer-token authentication for the web API; a token sees only its own organization.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;

use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Issue, Organization, Project};

pub use crate::ids::token_digest;

/// The bearer token from an `Authorization` header, if it has one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The organization the request's token belongs to.
pub struct OrgAuth(pub Organization);

impl FromRequestParts<AppState> for OrgAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let org = state.store.token_organization(&token_digest(token)).await?;
        org.map(OrgAuth).ok_or(ApiError::Unauthorized)
    }
}

impl OrgAuth {
    /// Checks the path's organization is this token's; anything else is "not found".
    pub fn org(&self, org: &str) -> Result<&Organization, ApiError> {
        if self.0.slug == org {
            Ok(&self.0)
        } else {
            Err(ApiError::NotFound)
        }
    }

    /// Issue `id` of organization `org` with its project, if the token may see it.
    pub async fn issue(&self, state: &AppState, org: &str, id: i64) -> Result<(Issue, Project), ApiError> {
        let org = self.org(org)?;
        state.store.issue(org.id, id).await?.ok_or(ApiError::NotFound)
    }

    /// The project `org/project`, if this token's organization is `org` and has it.
    /// Anything else is "not found", so other organizations' names do not leak.
    pub async fn project(&self, state: &AppState, org: &str, project: &str) -> Result<Project, ApiError> {
        if self.0.slug != org {
            return Err(ApiError::NotFound);
        }
        state.store.project(self.0.id, project).await?.ok_or(ApiError::NotFound)
    }
}
