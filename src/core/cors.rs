//! CORS as Relay answers it: a preflight for POST from any origin, the Sentry headers allowed
//! and exposed on every ingest response, and the project's `allowedDomains` checked against the
//! request's `Origin` (else `Referer`). Patterns follow Sentry: `*`, `example.com`,
//! `*.example.com` (subdomains and the domain itself), optionally with a port or scheme; an
//! empty list allows no browser origin.

use super::http::{Headers, Response};

pub const ALLOW_HEADERS: &str = "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, \
     content-type, authentication, authorization, content-encoding, transfer-encoding";
pub const EXPOSE_HEADERS: &str = "x-sentry-error, x-sentry-rate-limits, retry-after";
pub const MAX_AGE_SECS: u32 = 3600;

/// The answer to `OPTIONS` on an ingest endpoint.
pub fn preflight() -> Response {
    let mut response = Response { status: 200, headers: Vec::new(), body: Vec::new() };
    response.headers.extend([
        ("access-control-allow-origin".to_string(), "*".to_string()),
        ("access-control-allow-methods".to_string(), "POST".to_string()),
        ("access-control-allow-headers".to_string(), ALLOW_HEADERS.to_string()),
        ("access-control-max-age".to_string(), MAX_AGE_SECS.to_string()),
        ("vary".to_string(), "origin, access-control-request-method, access-control-request-headers".to_string()),
    ]);
    response
}

/// Adds the headers every ingest response carries, so browsers can read status and limits.
pub fn decorate(response: &mut Response) {
    response.headers.push(("access-control-allow-origin".into(), "*".into()));
    response.headers.push(("access-control-expose-headers".into(), EXPOSE_HEADERS.into()));
}

/// The page that sent the request: `Origin`, else `Referer` (a `null` origin counts as none).
pub fn request_origin(headers: &Headers) -> Option<String> {
    headers
        .get("origin")
        .filter(|o| !o.is_empty() && *o != "null")
        .or_else(|| headers.get("referer").filter(|r| !r.is_empty()))
        .map(str::to_string)
}

/// `host[:port]` of a URL or bare host, lowercased.
fn authority(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    authority.to_ascii_lowercase()
}

/// Whether `origin` (a URL) matches one of the `allowed` domain patterns.
pub fn is_allowed(origin: &str, allowed: &[String]) -> bool {
    let full = authority(origin);
    let host =
        full.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(full.as_str(), |(h, _)| h);
    allowed.iter().any(|pattern| {
        let pattern = pattern.trim();
        if pattern == "*" {
            return true;
        }
        let pattern = authority(pattern);
        let against = if pattern.contains(':') { full.as_str() } else { host };
        match pattern.strip_prefix("*.") {
            Some(domain) => against == domain || against.ends_with(&format!(".{domain}")),
            None => against == pattern,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn domain_patterns() {
        assert!(is_allowed("https://app.example.com", &allowed(&["*"])));
        assert!(is_allowed("https://example.com/page?x", &allowed(&["example.com"])));
        assert!(is_allowed("https://a.b.example.com", &allowed(&["*.example.com"])));
        assert!(is_allowed("https://example.com", &allowed(&["*.example.com"])));
        assert!(is_allowed("http://localhost:3000", &allowed(&["localhost:3000"])));
        assert!(is_allowed("http://localhost:3000", &allowed(&["https://localhost"])));
        assert!(!is_allowed("https://evil.com", &allowed(&["example.com"])));
        assert!(!is_allowed("https://notexample.com", &allowed(&["*.example.com"])));
        assert!(!is_allowed("http://localhost:4000", &allowed(&["localhost:3000"])));
        assert!(!is_allowed("https://example.com", &allowed(&[])));
    }

    #[test]
    fn origin_then_referer() {
        let h: Headers = [("Referer", "https://r.example/x"), ("Origin", "https://o.example")].into_iter().collect();
        assert_eq!(request_origin(&h).as_deref(), Some("https://o.example"));
        let h: Headers = [("Origin", "null"), ("Referer", "https://r.example/x")].into_iter().collect();
        assert_eq!(request_origin(&h).as_deref(), Some("https://r.example/x"));
        assert_eq!(request_origin(&Headers::new()), None);
    }

    #[test]
    fn preflight_allows_sentry_headers_for_an_hour() {
        let r = preflight();
        assert_eq!(r.status, 200);
        assert!(r.header("access-control-allow-headers").unwrap().contains("x-sentry-auth"));
        assert!(r.header("access-control-allow-headers").unwrap().contains("content-encoding"));
        assert_eq!(r.header("access-control-max-age"), Some("3600"));
    }
}
