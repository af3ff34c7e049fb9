//! Several origin processes on one PostgreSQL database, both named in the edge's `ORIGIN_URL`
//! (workerd and Spin): 1,000 events of one issue sent concurrently end with `count` exactly
//! 1,000; the same 200 event ids sent to both origins at once are stored once each; and one
//! origin SIGKILLed mid-stream leaves its queue to the other, with every answered event stored.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::{request, wait_for, Bootstrap, Edge, Kind, Origin};

/// Concurrent senders per stream.
const SENDERS: usize = 12;

fn envelope(n: usize, message: &str) -> Vec<u8> {
    let id = format!("{:032x}", 0x5ca1_e000_0000 + n);
    format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"{message}\",\"user\":{{\"id\":\"u{}\"}}}}\n", n % 7)
        .into_bytes()
}

/// Sends envelopes `ids` with `message` to `base`'s envelope endpoint from [`SENDERS`] threads,
/// counting each 200 in `answered`; every answer must be 200.
fn send(base: &str, boot: &Bootstrap, ids: Range<usize>, message: &'static str, answered: Arc<AtomicUsize>) {
    let url = Arc::new(format!("{base}/api/{}/envelope/", boot.project_id));
    let auth = Arc::new(format!("Sentry sentry_key={}, sentry_version=7", boot.public_key));
    let next = Arc::new(AtomicUsize::new(ids.start));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (url, auth, next, answered, end) = (url.clone(), auth.clone(), next.clone(), answered.clone(), ids.end);
            std::thread::spawn(move || loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= end {
                    return;
                }
                let reply = request("POST", &url, &[("x-sentry-auth", &auth)], &envelope(n, message)).unwrap();
                assert_eq!(reply.status, 200, "event {n}: {}", String::from_utf8_lossy(&reply.body));
                answered.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
}

/// The issue whose title is `message`, as `origin` serves it, once nothing waits in the queue.
/// Each poll also asks `edge` for its health: on Spin, later requests are what retry envelopes
/// the edge kept (an origin killed mid-forward, or too slow while the machine is loaded).
fn settled_issue(origin: &Origin, edge: &Edge, database: &str, message: &str, expect: u64) -> serde_json::Value {
    let server = crate::postgres::server();
    let live = format!("{}/api/relay/healthcheck/live/", edge.url);
    wait_for(&format!("{expect} events of '{message}' processed"), Duration::from_secs(180), || {
        let _ = request("GET", &live, &[], b"");
        let pending = server.psql(database, "SELECT COUNT(*) FROM envelopes WHERE processed = 0");
        let issues = origin.project_api("issues/?query=").json();
        let issue = issues.as_array()?.iter().find(|i| i["title"] == message)?.clone();
        let count: u64 = issue["count"].as_str()?.parse().ok()?;
        (pending == "0" && count >= expect).then_some(issue)
    })
}

fn several_origins_share_one_postgres(kind: Kind) {
    let database = crate::postgres::server().fresh_database("scale_out");
    let env = [("PICKET_DATABASE_URL", database.as_str())];
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = Origin::start_with(dir_a.path(), "127.0.0.1:0", &env);
    let mut b = Origin::start_sharing(&a, dir_b.path(), &env);
    let boot = a.bootstrap.clone();
    let vars = [("RELAY_ID", boot.edge_relay_id.as_str()), ("RELAY_SECRET_KEY", boot.edge_secret_key.as_str())];
    let edge = Edge::start_on(kind, &format!("{},{}", a.url, b.url), &vars);
    let server = crate::postgres::server();

    // The management CLI works on the shared database: a key made through one origin's CLI is
    // served by the other's API.
    let key = b.manage(&["key", "create", &boot.organization, &boot.project, "--label", "made by b"]);
    let keys = a.project_api("keys/").json();
    assert!(keys.as_array().unwrap().iter().any(|k| k["public"] == key["public_key"]), "{key} in {keys}");

    // 1,000 events of one issue, sent concurrently through the edge to both origins.
    let answered = Arc::new(AtomicUsize::new(0));
    send(&edge.url, &boot, 0..1_000, "scale out one issue", answered.clone());
    assert_eq!(answered.load(Ordering::Relaxed), 1_000);
    let issue = settled_issue(&b, &edge, &database, "scale out one issue", 1_000);
    assert_eq!(issue["count"], "1000", "no lost or doubled count across two origins: {issue}");
    assert_eq!(issue["userCount"], 7);

    // The same 200 event ids to both origins at once (an SDK retrying against a balancer).
    let both = Arc::new(AtomicUsize::new(0));
    let (to_a, to_b) = (a.url.clone(), b.url.clone());
    let (boot_a, boot_b, both_a, both_b) = (boot.clone(), boot.clone(), both.clone(), both.clone());
    let first = std::thread::spawn(move || send(&to_a, &boot_a, 1_000..1_200, "scale out twice", both_a));
    let second = std::thread::spawn(move || send(&to_b, &boot_b, 1_000..1_200, "scale out twice", both_b));
    first.join().unwrap();
    second.join().unwrap();
    assert_eq!(both.load(Ordering::Relaxed), 400);
    let issue = settled_issue(&a, &edge, &database, "scale out twice", 200);
    assert_eq!(issue["count"], "200", "each event id counted once: {issue}");
    let stored = server.psql(&database, "SELECT COUNT(*) FROM events WHERE message = 'scale out twice'");
    assert_eq!(stored, "200", "each event id stored once");

    // One origin SIGKILLed mid-stream: the edge fails over, and the other takes its queue.
    let answered = Arc::new(AtomicUsize::new(0));
    let (edge_url, boot_c, counted) = (edge.url.clone(), boot.clone(), answered.clone());
    let stream = std::thread::spawn(move || send(&edge_url, &boot_c, 2_000..3_000, "scale out killed", counted));
    wait_for("300 answered events", Duration::from_secs(120), || {
        (answered.load(Ordering::Relaxed) >= 300).then_some(())
    });
    b.kill();
    stream.join().unwrap();
    assert_eq!(answered.load(Ordering::Relaxed), 1_000, "the edge answered every event");
    let issue = settled_issue(&a, &edge, &database, "scale out killed", 1_000);
    assert_eq!(issue["count"], "1000", "every answered event is stored, once: {issue}");
    let distinct =
        server.psql(&database, "SELECT COUNT(DISTINCT event_id) FROM events WHERE message = 'scale out killed'");
    assert_eq!(distinct, "1000");
    drop(edge);
}

crate::on_both_edges!(several_origins_share_one_postgres);
