//! The whole first step (route, auth, decode, parse per endpoint, limits) never panics on any
//! body, for every ingest endpoint.
#![no_main]

use libfuzzer_sys::fuzz_target;
use picket::core::limits::Limits;
use picket::core::{prepare, EventId, Headers, Request};

const PATHS: &[(&str, &str, &str)] = &[
    ("POST", "/api/42/envelope/", "application/x-sentry-envelope"),
    ("POST", "/api/42/store/", "application/json"),
    ("POST", "/api/42/security/", "application/csp-report"),
    ("POST", "/api/42/minidump/", "multipart/form-data; boundary=xYz"),
    ("POST", "/api/42/events/9ec79c33ec9942ab8353589fcb2e04dc/attachments/", "multipart/form-data; boundary=xYz"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else { return };
    let (method, path, content_type) = PATHS[selector as usize % PATHS.len()];
    let headers: Headers = [
        ("x-sentry-auth", "Sentry sentry_key=0123456789abcdef0123456789abcdef, sentry_version=7"),
        ("content-type", content_type),
    ]
    .into_iter()
    .collect();
    let req = Request { method, path, query: "", headers: &headers, body, client_ip: None };
    let limits = Limits { max_envelope_size: 1 << 20, ..Limits::default() };
    let _ = prepare(&req, &limits, EventId::from_bytes([1; 16]));
});
