//! Quotas and rate limits at the edge in workerd: exact counting in Durable Objects (with the
//! real Python sentry-sdk and with concurrent requests), each quota scope, partial limits,
//! limits learned from an origin 429, and every drop reaching the origin's stats.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{request, root, wait_for, Edge, Kind, Origin, SENTRY_CLI_KEY};
use crate::upstream::Upstream;

fn bearer(origin: &Origin) -> String {
    format!("Bearer {}", origin.bootstrap.token)
}

fn put(origin: &Origin, path: &str, body: Value) -> Value {
    let reply = request(
        "PUT",
        &format!("{}{path}", origin.url),
        &[("authorization", &bearer(origin))],
        body.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(reply.status, 200, "PUT {path}: {}", String::from_utf8_lossy(&reply.body));
    reply.json()
}

fn project_path(origin: &Origin, rest: &str) -> String {
    format!("/api/0/projects/{}/{}/{rest}", origin.bootstrap.organization, origin.bootstrap.project)
}

/// Sums of `sum(quantity)` per (outcome, category, reason) from `stats_v2`.
fn stats(origin: &Origin) -> Vec<(String, String, String, u64)> {
    let path = format!(
        "/api/0/organizations/{}/stats_v2/?field=sum(quantity)&groupBy=outcome&groupBy=category&groupBy=reason&statsPeriod=1h&interval=1h",
        origin.bootstrap.organization
    );
    let reply = origin.api(&path);
    assert_eq!(reply.status, 200);
    let body = reply.json();
    body["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let by = &g["by"];
            let text = |k: &str| by[k].as_str().unwrap_or("").to_string();
            (text("outcome"), text("category"), text("reason"), g["totals"]["sum(quantity)"].as_u64().unwrap())
        })
        .collect()
}

fn quantity(stats: &[(String, String, String, u64)], outcome: &str, category: &str, reason: &str) -> u64 {
    stats.iter().filter(|(o, c, r, _)| o == outcome && c == category && r == reason).map(|s| s.3).sum()
}

fn event(id: usize) -> String {
    format!("{{\"event_id\":\"{id:032x}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"quota {id}\"}}\n")
}

fn stored_events(origin: &Origin) -> usize {
    origin.project_api("events/?limit=100").json().as_array().unwrap().len()
}

/// Waits for the start of a minute, so a one-minute window cannot roll over mid-test.
fn at_start_of_a_window(window: u64) {
    wait_for("a fresh quota window", Duration::from_secs(window + 5), || {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        (now % window < window - 30).then_some(())
    });
}

#[test]
fn ten_errors_a_minute_means_exactly_ten_with_the_python_sdk_and_its_client_report_in_stats() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let keys = origin.project_api("keys/").json();
    let key_id = keys[0]["id"].as_str().unwrap().to_string();
    let key = put(
        &origin,
        &project_path(&origin, &format!("keys/{key_id}/")),
        json!({ "rateLimit": { "window": 60, "count": 10 } }),
    );
    assert_eq!(key["rateLimit"], json!({ "window": 60, "count": 10 }));
    let edge = Edge::for_origin(Kind::Workerd, &origin, &[]);
    at_start_of_a_window(60);
    let out = Command::new(root().join(".tools/venv/bin/python"))
        .arg(root().join("tests/clients/python_burst.py"))
        .args([&origin.dsn_at(&edge.url), "15", "limited"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait_for("exactly ten stored events", Duration::from_secs(30), || (stored_events(&origin) == 10).then_some(()));
    // The SDK heard the 429 and backed off; what it dropped itself comes back in its report.
    let seen = wait_for("the rate-limited outcome and the client report", Duration::from_secs(30), || {
        let s = stats(&origin);
        let limited = quantity(&s, "rate_limited", "error", "key_quota");
        let backed_off = quantity(&s, "client_discard", "error", "ratelimit_backoff");
        (limited >= 1 && limited + backed_off == 5).then_some(s)
    });
    assert_eq!(stored_events(&origin), 10, "never an eleventh: {seen:?}");
}

crate::on_both_edges!(concurrent_requests_get_exactly_the_limit);

fn concurrent_requests_get_exactly_the_limit(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    put(
        &origin,
        &project_path(&origin, "quotas/"),
        json!([{ "id": "burst", "categories": ["error"], "scope": "project", "limit": 10, "window": 3600, "reasonCode": "project_quota" }]),
    );
    let edge = Arc::new(Edge::for_origin(kind, &origin, &[]));
    let url = Arc::new(format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id));
    let auth = Arc::new(format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key));
    // Warm the edge's config cache so all requests race on the counter, not the fetch.
    assert_eq!(
        request("POST", &url, &[("x-sentry-auth", &auth)], b"{}\n{\"type\":\"client_report\"}\n{}\n").unwrap().status,
        200
    );
    let senders: Vec<_> = (0..30)
        .map(|i| {
            let (url, auth) = (url.clone(), auth.clone());
            std::thread::spawn(move || {
                request("POST", &url, &[("x-sentry-auth", &auth)], event(1000 + i).as_bytes()).unwrap()
            })
        })
        .collect();
    let replies: Vec<_> = senders.into_iter().map(|t| t.join().unwrap()).collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    let limited: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!((ok, limited.len()), (10, 20), "statuses: {:?}", replies.iter().map(|r| r.status).collect::<Vec<_>>());
    let header = limited[0].header("x-sentry-rate-limits").unwrap();
    assert!(header.ends_with(":error:project:project_quota"), "{header}");
    assert!(limited[0].header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    wait_for("exactly ten stored events", Duration::from_secs(30), || (stored_events(&origin) == 10).then_some(()));
    wait_for("twenty rate-limited outcomes", Duration::from_secs(30), || {
        (quantity(&stats(&origin), "rate_limited", "error", "project_quota") == 20).then_some(())
    });
    assert_eq!(stored_events(&origin), 10);
}

crate::on_both_edges!(each_quota_scope_limits_its_own_data);

fn each_quota_scope_limits_its_own_data(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let org = origin.bootstrap.organization.clone();
    // Organization: transactions limited to zero. Project: errors to two. Key: sessions to none.
    put(
        &origin,
        &format!("/api/0/organizations/{org}/quotas/"),
        json!([{ "categories": ["transaction"], "scope": "organization", "limit": 0, "reasonCode": "org_tx" }]),
    );
    put(
        &origin,
        &project_path(&origin, "quotas/"),
        json!([{ "id": "p2", "categories": ["error"], "scope": "project", "limit": 2, "window": 3600, "reasonCode": "two_errors" }]),
    );
    let key_id = origin.project_api("keys/").json()[0]["id"].as_str().unwrap().to_string();
    put(
        &origin,
        &project_path(&origin, &format!("keys/{key_id}/")),
        json!({ "rateLimit": { "window": 3600, "count": 1 } }),
    );
    let edge = Edge::for_origin(kind, &origin, &[]);
    let url = format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    let send = |body: &str| request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes()).unwrap();

    // A transaction alone: refused whole by the organization's zero limit.
    let tx = "{\"event_id\":\"e1000000000000000000000000000001\"}\n{\"type\":\"transaction\"}\n{\"type\":\"transaction\",\"transaction\":\"/t\",\"start_timestamp\":1,\"timestamp\":2}\n";
    let r = send(tx);
    assert_eq!(r.status, 429);
    assert!(r.header("x-sentry-rate-limits").unwrap().contains(":transaction:organization:org_tx"));
    // Event + transaction: the event goes through, the transaction is dropped, the 200 says why.
    let both = "{\"event_id\":\"e1000000000000000000000000000002\"}\n{\"type\":\"event\"}\n{\"message\":\"ok\"}\n{\"type\":\"transaction\"}\n{\"type\":\"transaction\"}\n";
    let r = send(both);
    assert_eq!(r.status, 200);
    assert!(r.header("x-sentry-rate-limits").unwrap().contains("transaction:organization:org_tx"));
    // The key allows one error (the one above); the next is refused by the key before the project.
    let r = send(&event(3));
    assert_eq!(r.status, 429);
    assert!(
        r.header("x-sentry-rate-limits").unwrap().contains(":key:key_quota"),
        "{:?}",
        r.header("x-sentry-rate-limits")
    );
    wait_for("the outcomes in stats", Duration::from_secs(30), || {
        let s = stats(&origin);
        (quantity(&s, "rate_limited", "transaction", "org_tx") == 2
            && quantity(&s, "rate_limited", "error", "key_quota") == 1)
            .then_some(())
    });
    wait_for("the one event", Duration::from_secs(30), || (stored_events(&origin) == 1).then_some(()));
}

crate::on_both_edges!(limits_learned_from_an_upstream_429_are_applied_at_the_edge);

/// An upstream that limits (a Relay, or an origin of another make) answers a forward with 429
/// and `X-Sentry-Rate-Limits`: the edge refuses later events itself until the limit ends, and
/// keeps the refused forward, which was answered already, to deliver later.
fn limits_learned_from_an_upstream_429_are_applied_at_the_edge(kind: Kind) {
    let limit = vec![("X-Sentry-Rate-Limits", "60:error:project:upstream_says_no"), ("Retry-After", "60")];
    let upstream = Upstream::start_refusing(SENTRY_CLI_KEY, 42, vec![(429, limit)]);
    let edge = Edge::start_on(kind, &upstream.url, &[]);
    let url = format!("{}/api/42/envelope/", edge.url);
    let auth = format!("Sentry sentry_key={SENTRY_CLI_KEY}, sentry_version=7");
    let send = |id: usize| request("POST", &url, &[("x-sentry-auth", &auth)], event(id).as_bytes()).unwrap();
    assert_eq!(send(1).status, 200, "the edge's own state has no quota");
    // Only the limit the edge learned from that 429 can refuse this one.
    let r = wait_for("the edge applying the learned limit", Duration::from_secs(30), || {
        Some(send(2)).filter(|r| r.status == 429)
    });
    assert!(
        r.header("x-sentry-rate-limits").unwrap().contains("error:project:upstream_says_no"),
        "{:?}",
        r.header("x-sentry-rate-limits")
    );
    edge.wait_for_log("upstream_unavailable (429); will retry", Duration::from_secs(10));
    // The 429'd envelope was kept, and arrives once the upstream takes it (on Spin, a later
    // request is what retries it).
    let first = format!("{:032x}", 1);
    wait_for("the kept envelope", Duration::from_secs(60), || {
        if kind == Kind::Spin {
            send(3);
        }
        let got = upstream.received.lock().unwrap().iter().any(|r| {
            picket::core::envelope::Envelope::parse(&r.body).is_ok_and(|e| e.headers["event_id"] == first.as_str())
        });
        got.then_some(())
    });
}
