//! The one decision function, in two steps. [`prepare`] judges everything that needs no
//! project state (route, auth, body, envelope, limits); the shell then looks up the key's
//! state (cache, origin, or database) and [`judge`] decides: answer the SDK, and forward this.

use serde_json::json;

use super::auth::{self, Auth, Source};
use super::config::{Project, ProjectState};
use super::cors;
use super::decode::decode_body;
use super::envelope::Envelope;
use super::filter::{self, CompiledFilters};
use super::http::{Request, Response};
use super::id::EventId;
use super::limit::{self, Check, Plan};
use super::limits::Limits;
use super::multipart;
use super::outcome::Reject;
use super::outcome::{Outcome, OutcomeKind};
use super::quota::{self, CachedLimits, Scoping};
use super::route::{route, Action, Endpoint, Route};
use super::security;
use super::store::{decode_store_body, envelope_from_store, PIXEL_GIF};

/// The `sentry_client` Picket names when it forwards without a client of its own.
pub const CLIENT_NAME: &str = concat!("picket/", env!("CARGO_PKG_VERSION"));

/// The first step's result.
#[derive(Debug)]
pub enum Step {
    /// Answer at once (health checks, CORS preflights).
    Respond(Response),
    /// An ingest request that needs the state of `prepared.auth.public_key`.
    NeedState(Prepared),
}

/// An ingest request that passed every state-free check.
#[derive(Debug)]
pub struct Prepared {
    pub route: Route,
    pub auth: Auth,
    pub envelope: Envelope,
    pub client_ip: Option<String>,
    /// The browser page that sent it (`Origin`, else `Referer`), for `allowedDomains`.
    pub origin: Option<String>,
    /// Whether the request was a `GET` (image-beacon store requests answer with a GIF).
    pub is_get: bool,
    /// A trusted edge's forward: filtered and counted there already.
    judged_upstream: bool,
}

impl Prepared {
    pub fn public_key(&self) -> &str {
        &self.auth.public_key
    }

    /// Marks the request as a trusted edge's forward. It was filtered and counted against its
    /// quotas at the edge, which answered the SDK, so [`judge`] checks only its key and
    /// project and never filters or counts it again (as Relay trusts its internal relays).
    pub fn judged_upstream(mut self) -> Self {
        self.judged_upstream = true;
        self
    }
}

/// An envelope to forward to `/api/{project_id}/envelope/` upstream.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    pub project_id: u64,
    pub event_id: Option<EventId>,
    /// The client's address, which resolves `{{auto}}` IPs in processing.
    pub client_ip: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Forward {
    /// The upstream path, relative to the origin's base URL.
    pub fn path(&self) -> String {
        format!("/api/{}/envelope/", self.project_id)
    }

    /// The DSN key the forward is sent under (its `X-Sentry-Auth`).
    pub fn public_key(&self) -> Option<String> {
        let (_, value) = self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("x-sentry-auth"))?;
        auth::parse_auth_header(value, Source::SentryAuthHeader).ok().map(|a| a.public_key)
    }
}

/// Step one: everything that needs no project state. `fresh_id` is used only when an event
/// needs an id and brought none.
pub fn prepare(req: &Request, limits: &Limits, fresh_id: EventId) -> Result<Step, Reject> {
    prepare_route(route(req.method, req.path)?, req, limits, fresh_id, None)
}

/// Reads a tunnelled envelope's `dsn` header (absent: `None`) and names the project it is
/// for, or refuses it ([`super::tunnel`]).
pub(crate) type DsnCheck<'a> = &'a dyn Fn(Option<&str>) -> Result<u64, Reject>;

/// [`prepare`] for a request already routed. With `tunnel`, the route is an envelope endpoint
/// that names no project: the envelope's `dsn` header, once `tunnel` admits it, names it, and
/// from then on the request is judged exactly as `/api/{project_id}/envelope/` would be.
pub(crate) fn prepare_route(
    mut route: Route,
    req: &Request,
    limits: &Limits,
    fresh_id: EventId,
    tunnel: Option<DsnCheck>,
) -> Result<Step, Reject> {
    if route.action == Action::Preflight {
        return Ok(Step::Respond(cors::preflight()));
    }
    if !route.endpoint.is_ingest() {
        return Ok(Step::Respond(Response::json(200, &json!({ "is_healthy": true }))));
    }
    let request_auth = auth::from_request(req)?;
    let is_get = req.method.eq_ignore_ascii_case("GET");
    let body = if is_get {
        let data = req.query_pairs().find(|(k, _)| k == "sentry_data").map(|(_, v)| v.into_bytes());
        data.ok_or(Reject::EmptyBody)?
    } else {
        decode_body(req.headers.get("content-encoding"), req.body, limits.max_envelope_size)?
    };
    if body.trim_ascii().is_empty() {
        return Err(Reject::EmptyBody);
    }
    let mut envelope = envelope_for(route.endpoint, req, &body, limits, fresh_id)?;
    if let Some(check) = tunnel {
        route.project_id = Some(check(envelope.dsn())?);
    }
    let auth = resolve_auth(request_auth, &envelope, route.project_id)?;
    if envelope.items.is_empty() {
        return Err(Reject::EmptyEnvelope);
    }
    // The event's own id, for an envelope whose header names none (as Relay takes it).
    let mut item_event_id = None;
    for item in &envelope.items {
        limits.check_item(item)?;
        if item.holds_json_object() {
            // serde_json refuses nesting past 128 levels, invalid UTF-8, NaN and out-of-range
            // numbers; one streaming pass, no map built.
            let event_id = super::json::object_event_id(&item.payload)
                .map_err(|e| Reject::InvalidJson(format!("{} item: {e}", item.ty())))?;
            if item.is_event_payload() && item_event_id.is_none() {
                item_event_id = event_id.as_deref().and_then(EventId::parse);
            }
        }
    }
    // The id goes upstream in its plain 32-hex form, from the header, else the event itself;
    // an event that came without one gets one.
    match envelope.event_id().or(item_event_id) {
        Some(id) => envelope.set_event_id(id),
        None if envelope.items.iter().any(|i| i.requires_event()) => envelope.set_event_id(fresh_id),
        None => {}
    }
    let client_ip = req.client_ip.map(str::to_string);
    let origin = cors::request_origin(req.headers);
    Ok(Step::NeedState(Prepared { route, auth, envelope, client_ip, origin, is_get, judged_upstream: false }))
}

/// The envelope each endpoint makes of its (decoded) body.
fn envelope_for(
    endpoint: Endpoint,
    req: &Request,
    body: &[u8],
    limits: &Limits,
    fresh: EventId,
) -> Result<Envelope, Reject> {
    let content_type = req.headers.get("content-type");
    match endpoint {
        Endpoint::Envelope => Envelope::parse(body).map_err(|e| Reject::InvalidEnvelope(e.0)),
        Endpoint::Store => envelope_from_store(&decode_store_body(body, limits.max_event_size)?, fresh),
        Endpoint::Security => {
            let query: Vec<(String, String)> = req.query_pairs().collect();
            security::envelope_from_report(body, content_type, &query, fresh)
        }
        Endpoint::Minidump => multipart::minidump_envelope(body, content_type, fresh),
        Endpoint::Attachments(id) => multipart::attachments_envelope(body, content_type, id),
        Endpoint::HealthLive | Endpoint::HealthReady => Err(Reject::NotFound),
    }
}

/// The request's own auth, else the envelope's `dsn`; the two must agree when both exist.
fn resolve_auth(request_auth: Option<Auth>, envelope: &Envelope, path_project: Option<u64>) -> Result<Auth, Reject> {
    let dsn = envelope.dsn().map(auth::parse_dsn).transpose()?;
    if let Some(dsn) = &dsn {
        let key_differs = request_auth.as_ref().is_some_and(|a| a.public_key != dsn.public_key);
        let project_differs = path_project.is_some_and(|p| p != dsn.project_id);
        if key_differs || project_differs {
            return Err(Reject::DsnMismatch);
        }
    }
    match (request_auth, dsn) {
        (Some(auth), _) => Ok(auth),
        (None, Some(dsn)) => {
            Ok(Auth { public_key: dsn.public_key, version: None, client: None, source: Source::EnvelopeDsn })
        }
        (None, None) => Err(Reject::MissingAuth),
    }
}

/// What the SDK hears for an accepted request, per endpoint, as Relay answers.
fn answer(endpoint: Endpoint, is_get: bool, event_id: Option<EventId>) -> Response {
    let mut response = match endpoint {
        Endpoint::Store if is_get => Response {
            status: 200,
            headers: vec![("content-type".into(), "image/gif".into())],
            body: PIXEL_GIF.to_vec(),
        },
        Endpoint::Minidump => Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: event_id.map(|id| id.hyphenated()).unwrap_or_default().into_bytes(),
        },
        Endpoint::Attachments(_) => Response { status: 201, headers: Vec::new(), body: Vec::new() },
        Endpoint::Security => Response { status: 200, headers: Vec::new(), body: Vec::new() },
        _ => Response::json(200, &event_id.map_or_else(|| json!({}), |id| json!({ "id": id.simple() }))),
    };
    cors::decorate(&mut response);
    response
}

/// Relay's words for a 429.
pub const RATE_LIMITED_DETAIL: &str = "Sentry dropped data due to a quota or internal rate limit being reached. \
     This will not affect your application. See https://docs.sentry.io/product/accounts/quotas/ for more information.";

/// A request that passed every check but its quotas: ask the counters in [`Judged::checks`],
/// then [`Judged::finish`].
#[derive(Debug)]
pub struct Judged {
    pub scoping: Scoping,
    plan: Plan,
    route: Route,
    is_get: bool,
    envelope: Envelope,
    client_ip: Option<String>,
    headers: Vec<(String, String)>,
    now: u64,
    /// What the inbound filters dropped.
    filtered: Vec<Outcome>,
}

/// The final decision: what to answer, what (if anything) to send upstream, what was dropped.
#[derive(Debug)]
pub struct Finished {
    pub response: Response,
    pub forward: Option<Forward>,
    pub outcomes: Vec<Outcome>,
}

/// A request refused once its project was known: the reason, and the items it dropped as
/// `invalid` outcomes of that project (none when no project has the key).
#[derive(Debug)]
pub struct Refused {
    pub reject: Reject,
    pub outcomes: Vec<Outcome>,
    pub scoping: Option<Scoping>,
}

impl From<Refused> for Reject {
    fn from(refused: Refused) -> Reject {
        refused.reject
    }
}

/// Step two: the key's project state (`None`: no project has this key), the limits learned from
/// upstream, and the time (Unix seconds) decide everything but the quota counters.
pub fn judge(
    prepared: Prepared,
    state: Option<&ProjectState>,
    cached: &CachedLimits,
    now: u64,
) -> Result<Judged, Refused> {
    judge_with(prepared, state, None, cached, now)
}

/// [`judge`] for a project as the edge caches it: its filters were compiled once, when it
/// entered the cache, not for this request.
pub fn judge_project(
    prepared: Prepared,
    project: Option<&Project>,
    cached: &CachedLimits,
    now: u64,
) -> Result<Judged, Refused> {
    judge_with(prepared, project.map(|p| &p.state), project.map(|p| &p.filters), cached, now)
}

/// [`judge`] with the state's filters compiled already (`None`: compiled here if needed).
fn judge_with(
    prepared: Prepared,
    state: Option<&ProjectState>,
    filters: Option<&CompiledFilters>,
    cached: &CachedLimits,
    now: u64,
) -> Result<Judged, Refused> {
    let Prepared { route, auth, mut envelope, client_ip, origin, is_get, judged_upstream } = prepared;
    let unknown = || Refused { reject: Reject::UnknownKey, outcomes: Vec::new(), scoping: None };
    let state = state.ok_or_else(unknown)?;
    let key = state.key(&auth.public_key).ok_or_else(unknown)?;
    let scoping = Scoping {
        organization_id: state.organization_id.unwrap_or(0),
        project_id: state.project_id,
        public_key: auth.public_key.clone(),
        key_id: key.numeric_id,
    };
    let refusal = if !key.is_enabled {
        Some(Reject::KeyDisabled)
    } else if state.disabled {
        Some(Reject::ProjectDisabled)
    } else if route.project_id.is_some_and(|p| p != state.project_id) {
        Some(Reject::ProjectIdMismatch)
    } else if origin.is_some_and(|o| !cors::is_allowed(&o, &state.config.allowed_domains)) {
        Some(Reject::OriginNotAllowed)
    } else {
        None
    };
    if let Some(reject) = refusal {
        let reason = reject.reason().as_str().to_string();
        let outcomes =
            envelope.items.iter().flat_map(|item| Outcome::for_item(item, OutcomeKind::Invalid, &reason)).collect();
        return Err(Refused { reject, outcomes, scoping: Some(scoping) });
    }
    // Filters first: a filtered event counts against no quota. A trusted edge did both.
    let (filtered, plan) = if judged_upstream {
        (Vec::new(), Plan::default())
    } else {
        let filtered = match filters {
            Some(filters) => filters.apply(&mut envelope, client_ip.as_deref()),
            None => filter::apply(&mut envelope, &state.config.filter_settings, client_ip.as_deref()),
        };
        (filtered, limit::plan(&envelope, &state.config.quotas, &scoping, cached, now))
    };
    let client = auth.client.as_deref().unwrap_or(CLIENT_NAME);
    let mut headers = vec![
        ("content-type".to_string(), "application/x-sentry-envelope".to_string()),
        (
            "x-sentry-auth".to_string(),
            format!("Sentry sentry_key={}, sentry_version=7, sentry_client={client}", auth.public_key),
        ),
    ];
    if let Some(ip) = &client_ip {
        headers.push(("x-forwarded-for".to_string(), ip.clone()));
    }
    Ok(Judged { scoping, plan, route, is_get, envelope, client_ip, headers, now, filtered })
}

impl Judged {
    /// Counter questions, in order; `finish` takes one answer for each.
    pub fn checks(&self) -> &[Check] {
        &self.plan.checks
    }

    /// Applies the counters' answers (`allowed[i]` for `checks[i]`).
    pub fn finish(self, allowed: &[bool]) -> Finished {
        let Judged { scoping, plan, route, is_get, envelope, client_ip, headers, now, filtered } = self;
        let had_items = !envelope.items.is_empty();
        let mut enforced = limit::enforce(envelope, &plan, allowed);
        enforced.outcomes.splice(0..0, filtered);
        let event_id = enforced.envelope.event_id();
        let header = (!enforced.limits.is_empty()).then(|| quota::format_header(&enforced.limits, now));
        if had_items && enforced.envelope.items.is_empty() {
            let retry_after = enforced.limits.iter().map(|l| l.retry_after(now)).max().unwrap_or(60);
            let mut response = Response::json(429, &json!({ "detail": RATE_LIMITED_DETAIL, "causes": [] }));
            response.headers.push(("retry-after".into(), retry_after.to_string()));
            response.headers.push(("x-sentry-rate-limits".into(), header.unwrap_or_default()));
            cors::decorate(&mut response);
            return Finished { response, forward: None, outcomes: enforced.outcomes };
        }
        let mut response = answer(route.endpoint, is_get, event_id);
        if let Some(header) = header {
            response.headers.push(("x-sentry-rate-limits".into(), header));
        }
        // Filters never change the answer; what they leave may be nothing to forward.
        let forward = (!enforced.envelope.items.is_empty()).then(|| Forward {
            project_id: scoping.project_id,
            event_id,
            client_ip,
            headers,
            body: enforced.envelope.to_bytes(),
        });
        Finished { response, forward, outcomes: enforced.outcomes }
    }
}

/// What became of a forward, from the upstream's status (`None`: no response at all).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardOutcome {
    /// 2xx: the origin has it.
    Delivered,
    /// 4xx but 408 and 429: the origin refused it for good; retrying would not help.
    Rejected,
    /// 408, 429, 5xx or no response: the origin could not take it now.
    Unavailable,
}

impl ForwardOutcome {
    pub fn from_status(status: Option<u16>) -> Self {
        match status {
            Some(200..=299) => ForwardOutcome::Delivered,
            // A timeout or a rate limit says "later", not "never": the envelope was judged and
            // answered already, so it is kept and tried again.
            Some(408 | 429) => ForwardOutcome::Unavailable,
            Some(400..=499) => ForwardOutcome::Rejected,
            _ => ForwardOutcome::Unavailable,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            ForwardOutcome::Delivered => "delivered",
            ForwardOutcome::Rejected => "upstream_rejected",
            ForwardOutcome::Unavailable => "upstream_unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::http::Headers;
    use crate::core::outcome::Oversized;

    fn refused(limits: &Limits, ty: &str, len: usize) -> Reject {
        let headers: Headers =
            [("x-sentry-auth", "Sentry sentry_key=0123456789abcdef0123456789abcdef")].into_iter().collect();
        let body = format!("{{}}\n{{\"type\":\"{ty}\",\"length\":{len}}}\n{}\n", "x".repeat(len));
        let req = Request {
            method: "POST",
            path: "/api/42/envelope/",
            query: "",
            headers: &headers,
            body: body.as_bytes(),
            client_ip: None,
        };
        match prepare(&req, limits, EventId::from_bytes([7; 16])) {
            Err(reject) => reject,
            Ok(_) => panic!("{ty} of {len} bytes was let through"),
        }
    }

    #[test]
    fn a_log_over_the_log_limit_is_refused_with_413_naming_it_as_an_event_is() {
        let limits = Limits { max_event_size: 10, max_log_size: 20, ..Limits::default() };
        for (ty, limit) in [("event", 10), ("log", 20)] {
            let reject = refused(&limits, ty, limit + 1);
            assert_eq!(reject, Reject::TooLarge { what: Oversized::Item(ty.into()), limit });
            let response = reject.response();
            assert_eq!(response.status, 413);
            let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap();
            assert_eq!(body["detail"], format!("{ty} item exceeds the limit of {limit} bytes"));
        }
    }
}
