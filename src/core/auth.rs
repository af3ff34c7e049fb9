//! Authentication data: the DSN public key from exactly one of `X-Sentry-Auth`,
//! `Authorization: Sentry …`, `?sentry_key=` or (envelopes only) the envelope's `dsn`.

use super::http::Request;
use super::outcome::Reject;

/// The highest protocol version Relay speaks.
pub const MAX_PROTOCOL_VERSION: u16 = 7;

/// Where the key came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    SentryAuthHeader,
    AuthorizationHeader,
    Query,
    EnvelopeDsn,
}

/// Parsed authentication data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Auth {
    /// The 32-character public key, without flags.
    pub public_key: String,
    pub version: Option<u16>,
    pub client: Option<String>,
    pub source: Source,
}

/// Reads the request-level sources. More than one present is an error, none is `Ok(None)`.
pub fn from_request(req: &Request) -> Result<Option<Auth>, Reject> {
    let mut found = Vec::new();
    if let Some(value) = req.headers.get("x-sentry-auth") {
        found.push(parse_auth_header(value, Source::SentryAuthHeader));
    }
    if let Some(value) = req.headers.get("authorization") {
        if has_sentry_scheme(value) {
            found.push(parse_auth_header(value, Source::AuthorizationHeader));
        }
    }
    let pairs: Vec<(String, String)> = req.query_pairs().collect();
    if pairs.iter().any(|(k, _)| k == "sentry_key") {
        found.push(from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), Source::Query));
    }
    match found.len() {
        0 => Ok(None),
        1 => found.pop().expect("one element").map(Some),
        _ => Err(Reject::MultipleAuth),
    }
}

fn has_sentry_scheme(value: &str) -> bool {
    value.len() >= 7 && value[..7].eq_ignore_ascii_case("sentry ")
}

/// Parses `Sentry sentry_key=…, sentry_version=7, sentry_client=…`.
pub fn parse_auth_header(value: &str, source: Source) -> Result<Auth, Reject> {
    let rest = if has_sentry_scheme(value) { &value[7..] } else { value };
    let pairs = rest.split(',').filter_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        Some((k.trim(), v.trim()))
    });
    from_pairs(pairs, source)
}

fn from_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>, source: Source) -> Result<Auth, Reject> {
    let (mut key, mut version, mut client) = (None, None, None);
    for (name, value) in pairs {
        match name.strip_prefix("sentry_").unwrap_or(name) {
            "key" => key = Some(value),
            "version" => {
                // Relay accepts `7.0` and the like: only the major part counts.
                let major = value.split('.').next().unwrap_or(value);
                version = Some(major.parse::<u16>().map_err(|_| Reject::InvalidAuth("invalid sentry_version"))?);
            }
            "client" => client = Some(value.to_string()),
            _ => {}
        }
    }
    let key = key.ok_or(Reject::InvalidAuth("missing sentry_key"))?;
    if let Some(v) = version.filter(|&v| v > MAX_PROTOCOL_VERSION) {
        return Err(Reject::UnsupportedProtocolVersion(v));
    }
    Ok(Auth { public_key: parse_public_key(key)?, version, client, source })
}

/// A public key is 32 ASCII alphanumerics; flags after a `.` are ignored.
pub fn parse_public_key(raw: &str) -> Result<String, Reject> {
    let key = raw.split('.').next().unwrap_or(raw);
    if key.len() == 32 && key.bytes().all(|b| b.is_ascii_alphanumeric()) {
        Ok(key.to_ascii_lowercase())
    } else {
        Err(Reject::InvalidAuth("invalid public key"))
    }
}

/// A parsed DSN: `{scheme}://{public_key}[:{secret}]@{host}[:{port}]/[{path}/]{project_id}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dsn {
    pub public_key: String,
    pub project_id: u64,
}

/// Parses a DSN as carried in an envelope header.
pub fn parse_dsn(dsn: &str) -> Result<Dsn, Reject> {
    let bad = || Reject::InvalidAuth("invalid dsn");
    let (_, rest) = dsn.split_once("://").ok_or_else(bad)?;
    let (authority, path) = rest.split_once('/').ok_or_else(bad)?;
    let (userinfo, _host) = authority.rsplit_once('@').ok_or_else(bad)?;
    let key = userinfo.split(':').next().unwrap_or(userinfo);
    let path = path.split(['?', '#']).next().unwrap_or(path);
    let project = path.split('/').rfind(|s| !s.is_empty()).ok_or_else(bad)?;
    Ok(Dsn { public_key: parse_public_key(key)?, project_id: project.parse().map_err(|_| bad())? })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::http::Headers;

    const KEY: &str = "0123456789abcdef0123456789abcdef";

    fn req<'a>(headers: &'a Headers, query: &'a str) -> Request<'a> {
        Request { method: "POST", path: "/api/42/envelope/", query, headers, body: b"", client_ip: None }
    }

    #[test]
    fn reads_each_source() {
        let h: Headers = [("X-Sentry-Auth", format!("Sentry sentry_key={KEY}, sentry_version=7, sentry_client=x/1"))]
            .into_iter()
            .collect();
        let a = from_request(&req(&h, "")).unwrap().unwrap();
        assert_eq!((a.public_key.as_str(), a.version, a.source), (KEY, Some(7), Source::SentryAuthHeader));
        assert_eq!(a.client.as_deref(), Some("x/1"));

        let h: Headers = [("authorization", format!("sentry sentry_key={KEY}"))].into_iter().collect();
        assert_eq!(from_request(&req(&h, "")).unwrap().unwrap().source, Source::AuthorizationHeader);

        let h = Headers::new();
        let q = format!("sentry_key={KEY}&sentry_version=7");
        assert_eq!(from_request(&req(&h, &q)).unwrap().unwrap().source, Source::Query);
        assert_eq!(from_request(&req(&h, "")).unwrap(), None);
    }

    #[test]
    fn bearer_authorization_is_not_sentry_auth() {
        let h: Headers = [("authorization", "Bearer abc")].into_iter().collect();
        assert_eq!(from_request(&req(&h, "")).unwrap(), None);
    }

    #[test]
    fn two_sources_are_refused() {
        let h: Headers = [("x-sentry-auth", format!("Sentry sentry_key={KEY}"))].into_iter().collect();
        let q = format!("sentry_key={KEY}");
        assert_eq!(from_request(&req(&h, &q)), Err(Reject::MultipleAuth));
    }

    #[test]
    fn version_above_seven_and_bad_keys_are_refused() {
        assert_eq!(
            parse_auth_header(&format!("Sentry sentry_key={KEY}, sentry_version=8"), Source::SentryAuthHeader),
            Err(Reject::UnsupportedProtocolVersion(8))
        );
        assert!(parse_auth_header("Sentry sentry_key=short", Source::SentryAuthHeader).is_err());
        assert!(parse_auth_header("Sentry sentry_version=7", Source::SentryAuthHeader).is_err());
        assert_eq!(parse_public_key(&format!("{KEY}.flag")).unwrap(), KEY);
    }

    #[test]
    fn parses_dsns() {
        let d = parse_dsn(&format!("http://{KEY}@127.0.0.1:8787/42")).unwrap();
        assert_eq!(d, Dsn { public_key: KEY.into(), project_id: 42 });
        let d = parse_dsn(&format!("https://{KEY}:secret@o1.ingest.example/prefix/7")).unwrap();
        assert_eq!(d.project_id, 7);
        assert!(parse_dsn("not a dsn").is_err());
        assert!(parse_dsn(&format!("http://{KEY}@host/")).is_err());
    }
}
