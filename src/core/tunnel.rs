//! The tunnel route (Sentry's `tunnel` option): a browser SDK posts envelopes to a path of the
//! site's own (`/tunnel` by default, `TUNNEL_PATH`) so blocklists that match `/api/{id}/envelope/`
//! do not stop them, and the DSN travels in the envelope header. The tunnel accepts a DSN only
//! when its host is this edge's own (the request's `Host`) or one of `TUNNEL_DSN_HOSTS`; the
//! DSN's path names the project and its key authenticates, and from then on the request is
//! judged exactly as `/api/{project_id}/envelope/` would be (CORS included). The DSN's host is
//! only ever compared, never contacted: the edge forwards to its own origins alone.

use super::auth;
use super::cors;
use super::http::Request;
use super::id::EventId;
use super::ingest::{self, Step};
use super::limits::Limits;
use super::outcome::Reject;
use super::route::{Action, Endpoint, Route};

/// The tunnel path unless `TUNNEL_PATH` says otherwise.
pub const DEFAULT_PATH: &str = "/tunnel";

/// The tunnel's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    /// The path's segments (`/tunnel/` and `//tunnel` are `["tunnel"]`).
    segments: Vec<String>,
    /// DSN hosts accepted besides this edge's own: `host`, `host:port` or `*.domain` patterns
    /// (as `allowedDomains` reads them).
    dsn_hosts: Vec<String>,
}

impl Default for Tunnel {
    fn default() -> Self {
        Tunnel { segments: vec!["tunnel".to_string()], dsn_hosts: Vec::new() }
    }
}

impl Tunnel {
    /// The settings [`Tunnel::from_settings`] reads.
    pub const SETTINGS: [&'static str; 2] = ["TUNNEL_PATH", "TUNNEL_DSN_HOSTS"];

    /// Reads `TUNNEL_PATH` (an absolute path outside `/api/`; unset or empty: `/tunnel`) and
    /// `TUNNEL_DSN_HOSTS` (comma-separated hosts, `host:port` or `*.domain`; unset: none).
    pub fn from_settings(get: impl Fn(&str) -> Option<String>) -> Result<Tunnel, String> {
        let mut tunnel = Tunnel::default();
        if let Some(raw) = get("TUNNEL_PATH").filter(|p| !p.trim().is_empty()) {
            let path = raw.trim();
            let bad = |why: &str| format!("TUNNEL_PATH must be {why}, not {raw:?}");
            if !path.starts_with('/') || path.contains(['?', '#']) || path.chars().any(char::is_whitespace) {
                return Err(bad("an absolute path such as /tunnel"));
            }
            let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
            if segments.is_empty() || segments[0] == "api" {
                return Err(bad("a path other than / and outside /api/ (where the ingest endpoints are)"));
            }
            tunnel.segments = segments;
        }
        if let Some(raw) = get("TUNNEL_DSN_HOSTS").filter(|h| !h.trim().is_empty()) {
            for entry in raw.split(',').map(str::trim) {
                let bad = |why: &str| format!("TUNNEL_DSN_HOSTS entry {entry:?} {why} (in {raw:?})");
                if entry.is_empty() {
                    return Err(bad("is empty: separate hosts by single commas"));
                }
                if entry.contains(['/', '@', '?', '#']) || entry.chars().any(char::is_whitespace) {
                    return Err(bad("is not a host: give host, host:port or *.domain"));
                }
                tunnel.dsn_hosts.push(entry.to_ascii_lowercase());
            }
        }
        Ok(tunnel)
    }

    /// The path, as the SDK's `tunnel` option names it.
    pub fn path(&self) -> String {
        format!("/{}", self.segments.join("/"))
    }

    /// The route of a request to the tunnel path (`None`: another path): an envelope endpoint
    /// whose project the envelope's DSN names; `OPTIONS` is a CORS preflight.
    pub fn route(&self, method: &str, path: &str) -> Option<Result<Route, Reject>> {
        if !path.split('/').filter(|s| !s.is_empty()).eq(self.segments.iter().map(String::as_str)) {
            return None;
        }
        let action = if method.eq_ignore_ascii_case("OPTIONS") {
            Action::Preflight
        } else if method.eq_ignore_ascii_case("POST") {
            Action::Call
        } else {
            return Some(Err(Reject::MethodNotAllowed));
        };
        Some(Ok(Route { endpoint: Endpoint::Envelope, project_id: None, action }))
    }

    /// Admits a tunnelled envelope's `dsn` for a request that arrived with `Host: own_host`:
    /// the project id it names, or why not.
    pub fn admit(&self, dsn: Option<&str>, own_host: Option<&str>) -> Result<u64, Reject> {
        let dsn = dsn.ok_or(Reject::TunnelDsn("the envelope header has no dsn"))?;
        let parsed = auth::parse_dsn(dsn).map_err(|_| Reject::TunnelDsn("the envelope header's dsn is not a DSN"))?;
        let host = url_authority(dsn);
        let own = own_host.is_some_and(|own| same_host(&own.trim().to_ascii_lowercase(), &host));
        if !(own || cors::is_allowed(&format!("dsn://{host}"), &self.dsn_hosts)) {
            return Err(Reject::TunnelHostNotAllowed(host));
        }
        Ok(parsed.project_id)
    }
}

/// `host[:port]` of a URL or DSN (without its user info), lowercased.
pub fn url_authority(dsn: &str) -> String {
    let rest = dsn.split_once("://").map_or(dsn, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.rsplit_once('@').map_or(authority, |(_, host)| host).to_ascii_lowercase()
}

/// `host[:port]` split into the host (an IPv6 literal keeps its brackets) and the port, if any.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    authority
        .rsplit_once(':')
        .filter(|(host, port)| {
            port.bytes().all(|b| b.is_ascii_digit()) && (!host.starts_with('[') || host.ends_with(']'))
        })
        .map_or((authority, None), |(host, port)| (host, Some(port)))
}

/// Whether two authorities name the same host: the same host name, and the same port when
/// both name one (a proxy in front often drops the default port from `Host`).
fn same_host(a: &str, b: &str) -> bool {
    let ((host_a, port_a), (host_b, port_b)) = (split_port(a), split_port(b));
    host_a == host_b && (port_a.is_none() || port_b.is_none() || port_a == port_b)
}

/// [`ingest::prepare`] with the tunnel route: a request to the tunnel path is routed to the
/// project its envelope's DSN names once [`Tunnel::admit`] accepts that DSN (the request's
/// `Host` header is this edge's own host); any other request is prepared as usual.
pub fn prepare(req: &Request, limits: &Limits, tunnel: &Tunnel, fresh_id: EventId) -> Result<Step, Reject> {
    match tunnel.route(req.method, req.path) {
        None => ingest::prepare(req, limits, fresh_id),
        Some(route) => {
            let own_host = req.headers.get("host");
            let check = |dsn: Option<&str>| tunnel.admit(dsn, own_host);
            ingest::prepare_route(route?, req, limits, fresh_id, Some(&check))
        }
    }
}

#[cfg(test)]
mod tests;
