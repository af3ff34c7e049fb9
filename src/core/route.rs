//! Routing: method + path → which endpoint and project. Doubled and trailing slashes are
//! tolerated, as Relay tolerates them; `OPTIONS` on an ingest path is a CORS preflight.

use super::id::EventId;
use super::outcome::Reject;

/// The endpoints the core answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /api/{project_id}/envelope/`
    Envelope,
    /// `POST /api/{project_id}/store/` (JSON, base64, base64+zlib), `GET …/store/?sentry_data=`,
    /// or `/api/store/` with the project taken from the key.
    Store,
    /// `POST /api/{project_id}/security/` or `/csp-report/`: CSP, Expect-CT and HPKP reports.
    Security,
    /// `POST /api/{project_id}/minidump/` (multipart with `upload_file_minidump`).
    Minidump,
    /// `POST /api/{project_id}/events/{event_id}/attachments/` (multipart).
    Attachments(EventId),
    /// `GET /api/relay/healthcheck/live/`
    HealthLive,
    /// `GET /api/relay/healthcheck/ready/`
    HealthReady,
}

impl Endpoint {
    pub fn is_ingest(self) -> bool {
        !matches!(self, Endpoint::HealthLive | Endpoint::HealthReady)
    }
}

/// What the request asks of the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Submit data (or read health).
    Call,
    /// A CORS preflight (`OPTIONS`).
    Preflight,
}

/// A matched route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    pub endpoint: Endpoint,
    /// The project id named in the path, if the path names one.
    pub project_id: Option<u64>,
    pub action: Action,
}

/// Matches `method` and `path` (no query string) to an endpoint.
pub fn route(method: &str, path: &str) -> Result<Route, Reject> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let project = |id: &str| id.parse::<u64>().map_err(|_| Reject::NotFound);
    let (endpoint, project_id) = match segments.as_slice() {
        ["api", "relay", "healthcheck", "live"] => (Endpoint::HealthLive, None),
        ["api", "relay", "healthcheck", "ready"] => (Endpoint::HealthReady, None),
        ["api", "store"] => (Endpoint::Store, None),
        ["api", id, "events", event_id, "attachments"] => {
            (Endpoint::Attachments(EventId::parse(event_id).ok_or(Reject::NotFound)?), Some(project(id)?))
        }
        ["api", id, kind] => {
            let endpoint = match *kind {
                "envelope" => Endpoint::Envelope,
                "store" => Endpoint::Store,
                "security" | "csp-report" => Endpoint::Security,
                "minidump" => Endpoint::Minidump,
                _ => return Err(Reject::NotFound),
            };
            (endpoint, Some(project(id)?))
        }
        _ => return Err(Reject::NotFound),
    };
    let is = |m: &str| method.eq_ignore_ascii_case(m);
    let action = match endpoint {
        _ if endpoint.is_ingest() && is("OPTIONS") => Action::Preflight,
        Endpoint::HealthLive | Endpoint::HealthReady if is("GET") || is("HEAD") => Action::Call,
        Endpoint::Store if is("GET") || is("POST") => Action::Call,
        e if e.is_ingest() && is("POST") => Action::Call,
        _ => return Err(Reject::MethodNotAllowed),
    };
    Ok(Route { endpoint, project_id, action })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(method: &str, path: &str) -> (Endpoint, Option<u64>) {
        let r = route(method, path).unwrap();
        (r.endpoint, r.project_id)
    }

    #[test]
    fn matches_ingest_paths_with_any_slashes() {
        for path in ["/api/42/envelope/", "/api/42/envelope", "//api//42//envelope//"] {
            assert_eq!(ep("POST", path), (Endpoint::Envelope, Some(42)), "{path}");
        }
        assert_eq!(ep("POST", "/api/7/store/"), (Endpoint::Store, Some(7)));
        assert_eq!(ep("GET", "/api/7/store/"), (Endpoint::Store, Some(7)));
        assert_eq!(ep("POST", "/api/store/"), (Endpoint::Store, None));
        assert_eq!(ep("POST", "/api/7/csp-report/"), (Endpoint::Security, Some(7)));
        assert_eq!(ep("POST", "/api/7/minidump"), (Endpoint::Minidump, Some(7)));
        let id = EventId::parse("9ec79c33ec9942ab8353589fcb2e04dc").unwrap();
        assert_eq!(
            ep("POST", "/api/7/events/9ec79c33ec9942ab8353589fcb2e04dc/attachments/"),
            (Endpoint::Attachments(id), Some(7))
        );
    }

    #[test]
    fn options_is_a_preflight() {
        assert_eq!(route("OPTIONS", "/api/42/envelope/").unwrap().action, Action::Preflight);
        assert_eq!(route("OPTIONS", "/api/relay/healthcheck/live/"), Err(Reject::MethodNotAllowed));
    }

    #[test]
    fn rejects_unknown_paths_and_methods() {
        assert_eq!(route("POST", "/api/x/envelope/"), Err(Reject::NotFound));
        assert_eq!(route("POST", "/api/42/nope/"), Err(Reject::NotFound));
        assert_eq!(route("POST", "/api/42/events/nope/attachments/"), Err(Reject::NotFound));
        assert_eq!(route("GET", "/api/42/envelope/"), Err(Reject::MethodNotAllowed));
        assert_eq!(route("PUT", "/api/42/store/"), Err(Reject::MethodNotAllowed));
        assert_eq!(route("GET", "/api/relay/healthcheck/ready/").unwrap().endpoint, Endpoint::HealthReady);
    }
}
