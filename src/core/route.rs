//! Routing: method + path → which endpoint and project. Doubled and trailing slashes are
//! tolerated, as Relay tolerates them.

use super::outcome::Reject;

/// The endpoints the core answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/{project_id}/envelope/`
    Envelope,
    /// `POST /api/{project_id}/store/`, or `/api/store/` with the project taken from the key.
    Store,
    /// `GET /api/relay/healthcheck/live/`
    HealthLive,
    /// `GET /api/relay/healthcheck/ready/`
    HealthReady,
}

impl Endpoint {
    pub fn is_ingest(self) -> bool {
        matches!(self, Endpoint::Envelope | Endpoint::Store)
    }
}

/// A matched route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    /// The project id named in the path, if the path names one.
    pub project_id: Option<u64>,
}

/// Matches `method` and `path` (no query string) to an endpoint.
pub fn route(method: &str, path: &str) -> Result<Route, Reject> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let (endpoint, project_id) = match segments.as_slice() {
        ["api", "relay", "healthcheck", "live"] => (Endpoint::HealthLive, None),
        ["api", "relay", "healthcheck", "ready"] => (Endpoint::HealthReady, None),
        ["api", "store"] => (Endpoint::Store, None),
        ["api", id, kind] => {
            let endpoint = match *kind {
                "envelope" => Endpoint::Envelope,
                "store" => Endpoint::Store,
                _ => return Err(Reject::NotFound),
            };
            let id = id.parse::<u64>().map_err(|_| Reject::NotFound)?;
            (endpoint, Some(id))
        }
        _ => return Err(Reject::NotFound),
    };
    let allowed = if endpoint.is_ingest() {
        method.eq_ignore_ascii_case("POST")
    } else {
        method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD")
    };
    if !allowed {
        return Err(Reject::MethodNotAllowed);
    }
    Ok(Route { endpoint, project_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_ingest_paths_with_any_slashes() {
        for path in ["/api/42/envelope/", "/api/42/envelope", "//api//42//envelope//"] {
            let r = route("POST", path).unwrap();
            assert_eq!((r.endpoint, r.project_id), (Endpoint::Envelope, Some(42)), "{path}");
        }
        let r = route("POST", "/api/7/store/").unwrap();
        assert_eq!((r.endpoint, r.project_id), (Endpoint::Store, Some(7)));
        let r = route("POST", "/api/store/").unwrap();
        assert_eq!((r.endpoint, r.project_id), (Endpoint::Store, None));
    }

    #[test]
    fn rejects_unknown_paths_and_methods() {
        assert_eq!(route("POST", "/api/x/envelope/"), Err(Reject::NotFound));
        assert_eq!(route("POST", "/api/42/nope/"), Err(Reject::NotFound));
        assert_eq!(route("GET", "/api/42/envelope/"), Err(Reject::MethodNotAllowed));
        assert_eq!(route("GET", "/api/relay/healthcheck/ready/").unwrap().endpoint, Endpoint::HealthReady);
    }
}
