//! Typed outcomes: every rejection is a [`Reject`] that maps to one status code, one `detail`
//! text, one client-report [`DiscardReason`] and one stable stat code — never a bare string.

use std::fmt;

use serde_json::json;

use super::http::Response;
use super::quota::{DataCategory, Scoping};

/// What happened to data, as Relay's outcomes name it: kept, or dropped and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    /// Kept by the origin (recorded there, the tier that keeps it).
    Accepted,
    Filtered,
    RateLimited,
    Invalid,
    /// The SDK dropped it itself and said so in a client report.
    ClientDiscard,
}

impl OutcomeKind {
    /// Relay's numeric outcome id.
    pub fn value(self) -> u8 {
        match self {
            OutcomeKind::Accepted => 0,
            OutcomeKind::Filtered => 1,
            OutcomeKind::RateLimited => 2,
            OutcomeKind::Invalid => 3,
            OutcomeKind::ClientDiscard => 5,
        }
    }

    /// The name Sentry's stats API groups by.
    pub fn name(self) -> &'static str {
        match self {
            OutcomeKind::Accepted => "accepted",
            OutcomeKind::Filtered => "filtered",
            OutcomeKind::RateLimited => "rate_limited",
            OutcomeKind::Invalid => "invalid",
            OutcomeKind::ClientDiscard => "client_discard",
        }
    }

    pub fn from_value(value: u8) -> Option<Self> {
        match value {
            0 => Some(OutcomeKind::Accepted),
            1 => Some(OutcomeKind::Filtered),
            2 => Some(OutcomeKind::RateLimited),
            3 => Some(OutcomeKind::Invalid),
            5 => Some(OutcomeKind::ClientDiscard),
            _ => None,
        }
    }
}

/// What became of an item's data in one category: one record for the origin's stats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub kind: OutcomeKind,
    pub category: DataCategory,
    pub quantity: u64,
    /// Why it was dropped; empty for accepted data.
    pub reason: String,
}

impl Outcome {
    /// One outcome of `kind` for each category `item` counts in.
    pub fn for_item(item: &super::envelope::Item, kind: OutcomeKind, reason: &str) -> Vec<Outcome> {
        Outcome::of(super::category::item_quantities(item), kind, reason)
    }

    /// One outcome of `kind` for each of an item's `(category, quantity)` counts.
    pub fn of(quantities: Vec<(DataCategory, u64)>, kind: OutcomeKind, reason: &str) -> Vec<Outcome> {
        let outcome = |(category, quantity)| Outcome { kind, category, quantity, reason: reason.to_string() };
        quantities.into_iter().map(outcome).collect()
    }
}

/// Why data was discarded, spelled as Relay spells its `invalid` outcome reasons.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DiscardReason {
    /// Authentication failed or the key is unknown; nothing is counted against a project.
    Auth,
    /// The request's project id does not match the key's project.
    ProjectId,
    /// The client speaks a protocol version above 7.
    AuthVersion,
    /// The body could not be decoded (content encoding, base64, ...).
    Payload,
    /// A JSON payload did not parse.
    InvalidJson,
    /// The envelope framing is broken.
    InvalidEnvelope,
    /// The envelope carried no items.
    EmptyEnvelope,
    /// An item or the whole request exceeds a size limit.
    TooLarge,
    /// The project is disabled or its state is unavailable.
    ProjectState,
    /// The request did not reach an ingest endpoint.
    Route,
    /// The browser origin is not in the project's allowed domains.
    Cors,
    /// A crash upload was malformed.
    Minidump,
    /// The server could not handle it.
    Internal,
}

impl DiscardReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscardReason::Auth => "auth",
            DiscardReason::ProjectId => "project_id",
            DiscardReason::AuthVersion => "auth_version",
            DiscardReason::Payload => "payload",
            DiscardReason::InvalidJson => "invalid_json",
            DiscardReason::InvalidEnvelope => "invalid_envelope",
            DiscardReason::EmptyEnvelope => "empty_envelope",
            DiscardReason::TooLarge => "too_large",
            DiscardReason::ProjectState => "project_state",
            DiscardReason::Route => "route",
            DiscardReason::Cors => "cors",
            DiscardReason::Minidump => "invalid_minidump",
            DiscardReason::Internal => "internal",
        }
    }
}

/// What a size limit was measured on, so a 413 can name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Oversized {
    /// The decoded request body.
    Body,
    /// One envelope item, by its type.
    Item(String),
}

/// Outcomes in Relay's `/api/0/relays/outcomes/` shape; `timestamp` is RFC 3339 from the shell.
pub fn outcomes_body(outcomes: &[Outcome], scoping: &Scoping, timestamp: &str) -> serde_json::Value {
    let list: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|o| {
            json!({
                "timestamp": timestamp,
                "org_id": scoping.organization_id,
                "project_id": scoping.project_id,
                "key_id": scoping.key_id,
                "outcome": o.kind.value(),
                "reason": o.reason,
                "category": o.category.value(),
                "quantity": o.quantity,
            })
        })
        .collect();
    json!({ "outcomes": list })
}

/// Reads an outcomes body back: `(project_id, outcome)` pairs; malformed entries are skipped.
pub fn parse_outcomes_body(body: &[u8]) -> Result<Vec<(u64, Outcome)>, String> {
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let list = value["outcomes"].as_array().ok_or("no outcomes list")?;
    Ok(list
        .iter()
        .filter_map(|o| {
            let kind = OutcomeKind::from_value(u8::try_from(o["outcome"].as_u64()?).ok()?)?;
            let category = DataCategory::from_value(u8::try_from(o["category"].as_u64()?).ok()?);
            let reason = o["reason"].as_str().unwrap_or("").to_string();
            Some((
                o["project_id"].as_u64()?,
                Outcome { kind, category, quantity: o["quantity"].as_u64().unwrap_or(1), reason },
            ))
        })
        .collect())
}

/// Every way the core refuses a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reject {
    NotFound,
    MethodNotAllowed,
    MissingAuth,
    MultipleAuth,
    InvalidAuth(&'static str),
    UnsupportedProtocolVersion(u16),
    UnknownKey,
    KeyDisabled,
    ProjectDisabled,
    ProjectIdMismatch,
    DsnMismatch,
    UnsupportedEncoding(String),
    BadEncoding(String),
    TooLarge {
        what: Oversized,
        limit: usize,
    },
    InvalidEnvelope(String),
    InvalidJson(String),
    EmptyEnvelope,
    EmptyBody,
    /// The client stopped sending before the body ended.
    IncompleteBody(String),
    /// The client sent the body too slowly.
    BodyTimeout,
    InvalidEventId,
    UnsupportedMediaType(String),
    InvalidMultipart(String),
    InvalidMinidump,
    MissingMinidump,
    OriginNotAllowed,
    /// A request to the tunnel path whose envelope header has no usable `dsn` (which names the
    /// project there): why.
    TunnelDsn(&'static str),
    /// A request to the tunnel path whose envelope's `dsn` names a host the tunnel does not
    /// accept (neither this edge's own host nor one of `TUNNEL_DSN_HOSTS`): that host.
    TunnelHostNotAllowed(String),
    /// The key's project state is unknown and could not be fetched now.
    ConfigUnavailable,
    /// The deployment's own settings are invalid.
    Misconfigured(String),
}

impl Reject {
    /// The HTTP status Relay answers with.
    pub fn status(&self) -> u16 {
        match self {
            Reject::NotFound => 404,
            Reject::MethodNotAllowed => 405,
            Reject::MissingAuth | Reject::MultipleAuth | Reject::InvalidAuth(_) | Reject::UnknownKey => 401,
            Reject::KeyDisabled
            | Reject::ProjectDisabled
            | Reject::ProjectIdMismatch
            | Reject::OriginNotAllowed
            | Reject::TunnelHostNotAllowed(_) => 403,
            Reject::UnsupportedProtocolVersion(_)
            | Reject::DsnMismatch
            | Reject::BadEncoding(_)
            | Reject::InvalidEnvelope(_)
            | Reject::InvalidJson(_)
            | Reject::EmptyEnvelope
            | Reject::EmptyBody
            | Reject::IncompleteBody(_)
            | Reject::InvalidEventId
            | Reject::InvalidMultipart(_)
            | Reject::InvalidMinidump
            | Reject::MissingMinidump
            | Reject::TunnelDsn(_) => 400,
            Reject::UnsupportedEncoding(_) | Reject::UnsupportedMediaType(_) => 415,
            Reject::BodyTimeout => 408,
            Reject::TooLarge { .. } => 413,
            Reject::ConfigUnavailable => 503,
            Reject::Misconfigured(_) => 500,
        }
    }

    /// The reason reported in client reports and outcome stats.
    pub fn reason(&self) -> DiscardReason {
        match self {
            Reject::NotFound | Reject::MethodNotAllowed => DiscardReason::Route,
            Reject::MissingAuth
            | Reject::MultipleAuth
            | Reject::InvalidAuth(_)
            | Reject::UnknownKey
            | Reject::KeyDisabled
            | Reject::TunnelDsn(_)
            | Reject::TunnelHostNotAllowed(_) => DiscardReason::Auth,
            Reject::UnsupportedProtocolVersion(_) => DiscardReason::AuthVersion,
            Reject::ProjectDisabled | Reject::ConfigUnavailable => DiscardReason::ProjectState,
            Reject::Misconfigured(_) => DiscardReason::Internal,
            Reject::ProjectIdMismatch | Reject::DsnMismatch => DiscardReason::ProjectId,
            Reject::UnsupportedEncoding(_)
            | Reject::BadEncoding(_)
            | Reject::EmptyBody
            | Reject::IncompleteBody(_)
            | Reject::BodyTimeout
            | Reject::InvalidEventId
            | Reject::UnsupportedMediaType(_) => DiscardReason::Payload,
            Reject::InvalidMultipart(_) | Reject::InvalidMinidump | Reject::MissingMinidump => DiscardReason::Minidump,
            Reject::OriginNotAllowed => DiscardReason::Cors,
            Reject::TooLarge { .. } => DiscardReason::TooLarge,
            Reject::InvalidEnvelope(_) => DiscardReason::InvalidEnvelope,
            Reject::InvalidJson(_) => DiscardReason::InvalidJson,
            Reject::EmptyEnvelope => DiscardReason::EmptyEnvelope,
        }
    }

    /// A stable snake_case code for stats and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Reject::NotFound => "not_found",
            Reject::MethodNotAllowed => "method_not_allowed",
            Reject::MissingAuth => "missing_auth",
            Reject::MultipleAuth => "multiple_auth",
            Reject::InvalidAuth(_) => "invalid_auth",
            Reject::UnsupportedProtocolVersion(_) => "unsupported_protocol_version",
            Reject::UnknownKey => "unknown_key",
            Reject::KeyDisabled => "key_disabled",
            Reject::ProjectDisabled => "project_disabled",
            Reject::ProjectIdMismatch => "project_id_mismatch",
            Reject::DsnMismatch => "dsn_mismatch",
            Reject::UnsupportedEncoding(_) => "unsupported_encoding",
            Reject::BadEncoding(_) => "bad_encoding",
            Reject::TooLarge { .. } => "too_large",
            Reject::InvalidEnvelope(_) => "invalid_envelope",
            Reject::InvalidJson(_) => "invalid_json",
            Reject::EmptyEnvelope => "empty_envelope",
            Reject::EmptyBody => "empty_body",
            Reject::IncompleteBody(_) => "incomplete_body",
            Reject::BodyTimeout => "body_timeout",
            Reject::InvalidEventId => "invalid_event_id",
            Reject::UnsupportedMediaType(_) => "unsupported_media_type",
            Reject::InvalidMultipart(_) => "invalid_multipart",
            Reject::InvalidMinidump => "invalid_minidump",
            Reject::MissingMinidump => "missing_minidump",
            Reject::OriginNotAllowed => "origin_not_allowed",
            Reject::TunnelDsn(_) => "tunnel_dsn",
            Reject::TunnelHostNotAllowed(_) => "tunnel_host_not_allowed",
            Reject::ConfigUnavailable => "config_unavailable",
            Reject::Misconfigured(_) => "misconfigured",
        }
    }

    /// The JSON error response: `{"detail": "...", "causes": [...]}`.
    pub fn response(&self) -> Response {
        let causes: Vec<String> = match self {
            Reject::BadEncoding(c)
            | Reject::InvalidEnvelope(c)
            | Reject::InvalidJson(c)
            | Reject::InvalidMultipart(c) => {
                vec![c.clone()]
            }
            _ => Vec::new(),
        };
        let mut response = Response::json(self.status(), &json!({ "detail": self.to_string(), "causes": causes }));
        if let Reject::ConfigUnavailable = self {
            response.headers.push(("retry-after".into(), "60".into()));
        }
        super::cors::decorate(&mut response);
        response
    }
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::NotFound => write!(f, "not found"),
            Reject::MethodNotAllowed => write!(f, "method not allowed"),
            Reject::MissingAuth => write!(f, "missing authorization information"),
            Reject::MultipleAuth => write!(f, "multiple authorization payloads"),
            Reject::InvalidAuth(why) => write!(f, "bad x-sentry-auth header: {why}"),
            Reject::UnsupportedProtocolVersion(v) => {
                write!(f, "client requested unsupported protocol version ({v})")
            }
            Reject::UnknownKey => write!(f, "unknown public key"),
            Reject::KeyDisabled => write!(f, "public key is disabled"),
            Reject::ProjectDisabled => write!(f, "project is disabled"),
            Reject::ProjectIdMismatch => {
                write!(f, "event submission rejected with_reason: ProjectId")
            }
            Reject::DsnMismatch => {
                write!(f, "the envelope's dsn does not match the request's key or project")
            }
            Reject::UnsupportedEncoding(e) => write!(f, "unsupported content encoding: {e}"),
            Reject::BadEncoding(_) => write!(f, "failed to decode the request body"),
            Reject::TooLarge { what: Oversized::Body, limit } => {
                write!(f, "request body exceeds the limit of {limit} bytes")
            }
            Reject::TooLarge { what: Oversized::Item(ty), limit } => {
                write!(f, "{ty} item exceeds the limit of {limit} bytes")
            }
            Reject::InvalidEnvelope(_) => write!(f, "invalid envelope"),
            Reject::InvalidJson(_) => write!(f, "invalid event payload"),
            Reject::EmptyEnvelope => write!(f, "empty envelope"),
            Reject::EmptyBody => write!(f, "empty request body"),
            Reject::IncompleteBody(e) => write!(f, "the request body broke off: {e}"),
            Reject::BodyTimeout => write!(f, "the request body arrived too slowly"),
            Reject::InvalidEventId => write!(f, "invalid event id"),
            Reject::UnsupportedMediaType(m) => write!(f, "unsupported media type: {m}"),
            Reject::InvalidMultipart(_) => write!(f, "invalid multipart data"),
            Reject::InvalidMinidump => write!(f, "invalid minidump"),
            Reject::MissingMinidump => write!(f, "missing minidump"),
            Reject::OriginNotAllowed => write!(f, "event submission rejected with_reason: Cors"),
            Reject::TunnelDsn(why) => write!(f, "tunnel: {why}"),
            Reject::TunnelHostNotAllowed(host) => {
                write!(f, "tunnel: the envelope's dsn names {host}, which is not a DSN host this tunnel accepts")
            }
            Reject::ConfigUnavailable => write!(f, "project configuration is unavailable"),
            Reject::Misconfigured(why) => write!(f, "the server is misconfigured: {why}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_body_has_detail_and_causes() {
        let r = Reject::InvalidEnvelope("line 2: expected value".into()).response();
        assert_eq!(r.status, 400);
        assert_eq!(r.header("content-type"), Some("application/json"));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["detail"], "invalid envelope");
        assert_eq!(v["causes"][0], "line 2: expected value");
        let v: serde_json::Value = serde_json::from_slice(&Reject::MissingAuth.response().body).unwrap();
        assert_eq!(v["causes"], serde_json::json!([]));
    }

    #[test]
    fn too_large_names_the_item_type() {
        let r = Reject::TooLarge { what: Oversized::Item("event".into()), limit: 1 << 20 };
        assert_eq!(r.status(), 413);
        assert_eq!(r.to_string(), "event item exceeds the limit of 1048576 bytes");
        assert_eq!(r.reason().as_str(), "too_large");
    }
}
