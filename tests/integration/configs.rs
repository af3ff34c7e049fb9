//! The edge's project-config cache in workerd: answers come from the cache until it expires
//! (Relay's 300 s by default), and the expiry is a setting.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{request, wait_for, Edge, Kind, Origin};

crate::on_both_edges!(the_edge_serves_cached_configs_until_they_expire);

fn the_edge_serves_cached_configs_until_they_expire(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let cached = Edge::for_origin(kind, &origin, &[]);
    let quick = Edge::for_origin(kind, &origin, &[("CONFIG_EXPIRY_SECS", "1"), ("CONFIG_GRACE_SECS", "0")]);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    let send = |edge: &Edge, n: u32| {
        let body = format!("{{\"event_id\":\"{n:032x}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"m\"}}\n");
        let url = format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id);
        request("POST", &url, &[("x-sentry-auth", &auth), ("origin", "https://evil.example")], body.as_bytes())
            .unwrap()
            .status
    };
    assert_eq!((send(&cached, 1), send(&quick, 2)), (200, 200), "any origin is allowed at first");
    let path = format!("{}/api/0/projects/{}/{}/", origin.url, origin.bootstrap.organization, origin.bootstrap.project);
    let bearer = format!("Bearer {}", origin.bootstrap.token);
    let put = request(
        "PUT",
        &path,
        &[("authorization", &bearer)],
        json!({ "allowedDomains": ["good.example"] }).to_string().as_bytes(),
    );
    assert_eq!(put.unwrap().status, 200);
    let changed = Instant::now();
    // The edge with a one-second expiry refetches and refuses the origin soon.
    wait_for("the short-lived cache to refetch", Duration::from_secs(15), || (send(&quick, 3) == 403).then_some(()));
    // The default cache still answers from what it fetched before (it lives 300 s).
    assert!(changed.elapsed() < Duration::from_secs(60));
    assert_eq!(send(&cached, 4), 200, "served from the cached config");
}
