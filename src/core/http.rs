//! Platform-neutral HTTP values: what a shell hands the core and what it gets back to send.

/// Request headers in arrival order; names compare case-insensitively.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.push((name.into(), value.into()));
    }

    /// The first value of `name`, if any.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every header as `(name, value)`, in arrival order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<N: Into<String>, V: Into<String>> FromIterator<(N, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (N, V)>>(iter: I) -> Self {
        Headers(iter.into_iter().map(|(n, v)| (n.into(), v.into())).collect())
    }
}

/// One inbound request as the core sees it: the shell has read the whole body already
/// (bounded by the platform) and says who connected.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path without the query string, e.g. `/api/42/envelope/`.
    pub path: &'a str,
    /// The raw query string without `?` (may be empty).
    pub query: &'a str,
    pub headers: &'a Headers,
    pub body: &'a [u8],
    /// The client's address as the shell established it ([`client_address`]): never a value
    /// the client could choose.
    pub client_ip: Option<&'a str>,
}

/// The client's address. `peer` is the connecting address as the platform reports it
/// (`CF-Connecting-IP` on Workers, `spin-client-addr` on Spin, the socket at the origin).
/// Behind `trusted_proxies` proxies, each of which appends the address it saw to
/// `X-Forwarded-For`, the client is the entry that many places from the right (the leftmost one
/// when there are fewer); entries further left came from the client and are never believed.
/// With no trusted proxy, `X-Forwarded-For` is ignored. An entry that is not an IP address
/// counts as no entry.
pub fn client_address(peer: Option<&str>, headers: &Headers, trusted_proxies: usize) -> Option<String> {
    let peer = || peer.and_then(ip_text);
    if trusted_proxies == 0 {
        return peer();
    }
    // Several X-Forwarded-For fields are one list, in order (RFC 9110, 5.3).
    let entries: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("x-forwarded-for"))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .collect();
    match entries.len().checked_sub(trusted_proxies) {
        _ if entries.is_empty() => peer(),
        Some(i) => ip_text(entries[i]).or_else(peer),
        None => ip_text(entries[0]).or_else(peer),
    }
}

/// An IP address in its canonical text form: a bare address, or one with a port (`ip:port`,
/// `[v6]:port`, as Spin's `spin-client-addr` carries it).
fn ip_text(text: &str) -> Option<String> {
    let text = text.trim();
    let ip =
        text.parse::<std::net::IpAddr>().ok().or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()));
    ip.map(|ip| ip.to_string())
}

impl<'a> Request<'a> {
    /// Decoded `name=value` pairs of the query string.
    pub fn query_pairs(&self) -> impl Iterator<Item = (String, String)> + 'a {
        form_urlencoded::parse(self.query.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned()))
    }
}

/// A response for the shell to send as is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON response with the given status.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(value).expect("a JSON value always serializes"),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(values: &[&str]) -> Headers {
        values.iter().map(|v| ("X-Forwarded-For", *v)).collect()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client() {
        let headers = xff(&["203.0.113.99"]);
        assert_eq!(client_address(Some("127.0.0.1"), &headers, 0).as_deref(), Some("127.0.0.1"));
        assert_eq!(client_address(None, &headers, 0), None);
        assert_eq!(client_address(Some("not an ip"), &headers, 0), None);
        assert_eq!(client_address(Some("[2001:db8::1]:443"), &headers, 0).as_deref(), Some("2001:db8::1"));
    }

    #[test]
    fn trusted_proxies_count_from_the_right() {
        // The client claimed 198.51.100.7; the first proxy saw 203.0.113.5, the second 10.0.0.2.
        let headers = xff(&["198.51.100.7, 203.0.113.5", "10.0.0.2"]);
        assert_eq!(client_address(Some("10.0.0.3"), &headers, 1).as_deref(), Some("10.0.0.2"));
        assert_eq!(client_address(Some("10.0.0.3"), &headers, 2).as_deref(), Some("203.0.113.5"));
        assert_eq!(client_address(Some("10.0.0.3"), &headers, 3).as_deref(), Some("198.51.100.7"));
        assert_eq!(client_address(Some("10.0.0.3"), &headers, usize::MAX).as_deref(), Some("198.51.100.7"));
    }

    #[test]
    fn a_missing_or_garbled_entry_falls_back_to_the_peer() {
        assert_eq!(client_address(Some("192.0.2.1"), &Headers::new(), 1).as_deref(), Some("192.0.2.1"));
        assert_eq!(client_address(Some("192.0.2.1"), &xff(&["unknown"]), 1).as_deref(), Some("192.0.2.1"));
        assert_eq!(client_address(Some("192.0.2.1"), &xff(&[" 2001:DB8::5 "]), 1).as_deref(), Some("2001:db8::5"));
    }
}
