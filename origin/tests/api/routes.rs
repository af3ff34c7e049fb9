//! The router's table, pinned: every API path answers exactly the methods it always did (the
//! rest are a JSON 405 whose `Allow` header names them), whichever module's `routes()` holds it.

use std::collections::BTreeSet;

/// Every API route, with its parameters filled in, and the methods it takes.
const ROUTES: &[(&str, &[&str])] = &[
    ("/api/0/", &["GET"]),
    ("/api/0/projects/", &["GET"]),
    ("/api/0/organizations/acme/projects/", &["GET"]),
    ("/api/0/projects/acme/web/", &["GET", "PUT"]),
    ("/api/0/projects/acme/web/keys/", &["GET", "POST"]),
    ("/api/0/projects/acme/web/keys/1/", &["PUT", "DELETE"]),
    ("/api/0/projects/acme/web/issues/", &["GET", "PUT"]),
    ("/api/0/organizations/acme/issues/1/", &["GET", "PUT"]),
    ("/api/0/organizations/acme/issues/1/events/", &["GET"]),
    ("/api/0/projects/acme/web/events/", &["GET"]),
    ("/api/0/projects/acme/web/events/e1/", &["GET"]),
    ("/api/0/projects/acme/web/events/e1/attachments/", &["GET"]),
    ("/api/0/projects/acme/web/events/e1/attachments/1/", &["GET"]),
    ("/api/0/projects/acme/web/user-feedback/", &["GET"]),
    ("/api/0/projects/acme/web/filters/", &["GET"]),
    ("/api/0/projects/acme/web/filters/localhost/", &["PUT"]),
    ("/api/0/projects/acme/web/quotas/", &["GET", "PUT"]),
    ("/api/0/organizations/acme/quotas/", &["GET", "PUT"]),
    ("/api/0/organizations/acme/stats_v2/", &["GET"]),
    ("/api/0/relays/projectconfigs/", &["POST"]),
    ("/api/0/relays/outcomes/", &["POST"]),
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH"];

on_both_stores! {
    async fn every_route_takes_exactly_its_methods(api) {
        for &(path, methods) in ROUTES {
            let expected: BTreeSet<&str> = methods.iter().copied().collect();
            for &method in METHODS {
                // No token: a route that exists answers 401 (or 200 for `GET /api/0/`), never 404/405.
                let reply = api.send(method, path, Some(""), "").await;
                if expected.contains(method) {
                    assert!(![404, 405].contains(&reply.status.as_u16()), "{method} {path}: {}", reply.status);
                    continue;
                }
                reply.assert_error(405);
                let allow = reply.headers.get("allow").and_then(|v| v.to_str().ok()).unwrap_or_default();
                let allowed: BTreeSet<&str> = allow.split(',').map(str::trim).filter(|m| *m != "HEAD").collect();
                assert_eq!(allowed, expected, "{method} {path}: Allow: {allow}");
            }
        }
    }
}
