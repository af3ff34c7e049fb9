//! End to end on the real parts: the origin binary on SQLite, the edge in workerd through
//! `wrangler dev` and as the shipped Spin component in wasmtime, the `sentry` crate and
//! `sentry-cli` (npm) as clients.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{request, root, wait_for, Edge, Kind, Origin};

/// Sends through a `sentry` crate client of its own (not the process-global hub).
fn sentry_client(dsn: &str) -> (Arc<sentry::Client>, sentry::Hub) {
    let mut options = sentry::ClientOptions::new();
    options.dsn = Some(dsn.parse().unwrap());
    options.release = Some("picket-e2e@1.0.0".into());
    let options = sentry::apply_defaults(options);
    let client = Arc::new(sentry::Client::from_config(options));
    let hub = sentry::Hub::new(Some(client.clone()), Arc::new(sentry::Scope::default()));
    (client, hub)
}

#[derive(Debug)]
struct Checkout(String);

impl std::fmt::Display for Checkout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "checkout failed: {}", self.0)
    }
}

impl std::error::Error for Checkout {}

fn issues(origin: &Origin) -> Vec<Value> {
    let reply = origin.project_api("issues/?query=");
    assert_eq!(reply.status, 200);
    reply.json().as_array().unwrap().clone()
}

fn sentry_cli(origin: &Origin, args: &[&str]) -> String {
    let output = Command::new(root().join("node_modules/.bin/sentry-cli"))
        .args(args)
        .env("SENTRY_URL", &origin.url)
        .env("SENTRY_AUTH_TOKEN", &origin.bootstrap.token)
        .env("SENTRY_ORG", &origin.bootstrap.organization)
        .env("SENTRY_PROJECT", &origin.bootstrap.project)
        .env("SENTRY_LOG_LEVEL", "warn")
        .output()
        .expect("run sentry-cli");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    assert!(
        output.status.success(),
        "sentry-cli {args:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

crate::on_both_edges!(sentry_sdk_events_through_the_edge_group_into_issues_and_sentry_cli_lists_them);

fn sentry_sdk_events_through_the_edge_group_into_issues_and_sentry_cli_lists_them(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[]);
    let (client, hub) = sentry_client(&origin.dsn_at(&edge.url));
    let same = Checkout("card declined".into());
    let mut ids = vec![hub.capture_error(&same), hub.capture_error(&same)];
    ids.push(hub.capture_error(&Checkout("address missing".into())));
    assert!(client.flush(Some(Duration::from_secs(30))), "the SDK could not deliver to the edge");

    let listed = wait_for("two issues, one seen twice", Duration::from_secs(30), || {
        let list = issues(&origin);
        let counts: Vec<&str> = list.iter().filter_map(|i| i["count"].as_str()).collect();
        (list.len() == 2 && counts.contains(&"2") && counts.contains(&"1")).then_some(list)
    });
    let twice = listed.iter().find(|i| i["count"] == "2").unwrap();
    assert!(twice["title"].as_str().unwrap().contains("card declined"), "{twice}");
    for issue in &listed {
        for key in ["id", "shortId", "title", "culprit", "firstSeen", "lastSeen", "level", "status"] {
            assert!(issue[key].is_string(), "issue lacks {key}: {issue}");
        }
        assert!(issue["userCount"].is_number());
        assert_eq!(issue["status"], "unresolved");
    }
    let events = origin.project_api("events/").json();
    let mut stored: Vec<String> =
        events.as_array().unwrap().iter().map(|e| e["eventID"].as_str().unwrap().to_string()).collect();
    let mut sent: Vec<String> = ids.iter().map(|u| u.simple().to_string()).collect();
    stored.sort();
    sent.sort();
    assert_eq!(stored, sent, "every event the SDK sent is stored exactly once");
    let detail = origin.project_api(&format!("events/{}/", sent[0])).json();
    assert_eq!(detail["eventID"], sent[0].as_str());
    assert!(detail["entries"].as_array().is_some_and(|e| !e.is_empty()), "{detail}");

    // Cursor paging with Sentry's Link header, one issue a page.
    let first = origin.project_api("issues/?query=&limit=1");
    let link = first.header("link").unwrap().to_string();
    assert!(link.contains(r#"rel="next"; results="true"; cursor="0:1:0""#), "{link}");
    let second = origin.project_api("issues/?query=&limit=1&cursor=0:1:0");
    assert!(second.header("link").unwrap().contains(r#"rel="next"; results="false""#));
    let (a, b) = (first.json(), second.json());
    assert_eq!((a.as_array().unwrap().len(), b.as_array().unwrap().len()), (1, 1));
    assert_ne!(a[0]["id"], b[0]["id"]);

    let list = sentry_cli(&origin, &["issues", "list"]);
    assert!(list.contains("card declined") && list.contains("address missing"), "{list}");
    let list = sentry_cli(&origin, &["issues", "list", "--query", "is:unresolved declined"]);
    assert!(list.contains("card declined") && !list.contains("address missing"), "{list}");
    let list = sentry_cli(&origin, &["events", "list"]);
    for id in &ids {
        assert!(list.contains(&id.hyphenated().to_string()), "{id} not in:\n{list}");
    }
}

crate::on_both_edges!(a_bad_key_gets_401_json_from_the_edge);

fn a_bad_key_gets_401_json_from_the_edge(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[]);
    let body = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n";
    let url = format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id);
    for auth in ["Sentry sentry_key=ffffffffffffffffffffffffffffffff, sentry_version=7", "Sentry sentry_key=nope"] {
        let reply = request("POST", &url, &[("x-sentry-auth", auth)], body).unwrap();
        assert_eq!(reply.status, 401, "{auth}");
        assert_eq!(reply.header("content-type"), Some("application/json"));
        assert!(reply.json()["detail"].is_string(), "{auth}");
    }
    let reply = request("POST", &url, &[], body).unwrap();
    assert_eq!((reply.status, reply.json()["detail"].as_str()), (401, Some("missing authorization information")));
    assert!(origin.project_api("events/").json().as_array().unwrap().is_empty());
}

crate::on_both_edges!(the_edge_answers_while_the_origin_is_stopped_and_delivers_when_it_is_back);

fn the_edge_answers_while_the_origin_is_stopped_and_delivers_when_it_is_back(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let mut origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[]);
    let url = format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    let envelope =
        |id: &str| format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"m {id}\"}}\n");
    let first = "11111111111111111111111111111111";
    let reply = request("POST", &url, &[("x-sentry-auth", &auth)], envelope(first).as_bytes()).unwrap();
    assert_eq!(reply.status, 200);
    wait_for("the first event at the origin", Duration::from_secs(20), || {
        origin.project_api(&format!("events/{first}/")).status.eq(&200).then_some(())
    });

    origin.stop();
    let second = "22222222222222222222222222222222";
    let started = Instant::now();
    let reply = request("POST", &url, &[("x-sentry-auth", &auth)], envelope(second).as_bytes()).unwrap();
    let answered_in = started.elapsed();
    assert_eq!((reply.status, reply.json()["id"].as_str()), (200, Some(second)));
    assert!(answered_in < Duration::from_secs(5), "the SDK waited {answered_in:?}");
    // The edge logs the typed outcome with the event id, and keeps the envelope.
    let line = edge.wait_for_log(&format!("forward of event {second}"), Duration::from_secs(30));
    assert!(line.contains("upstream_unavailable") && line.contains("will retry"), "{line}");
    edge.wait_for_log("kept fwd/", Duration::from_secs(30));

    // The origin comes back on the same port and keeps serving what it had.
    let origin = Origin::start_on(dir.path(), origin.addr());
    assert_eq!(origin.project_api(&format!("events/{first}/")).status, 200);
    let third = "33333333333333333333333333333333";
    let reply = request("POST", &url, &[("x-sentry-auth", &auth)], envelope(third).as_bytes()).unwrap();
    assert_eq!(reply.status, 200);
    // Nothing answered 200 is lost: the kept envelope arrives too (Workers: the queue's retry;
    // Spin: retried after a later request).
    for id in [third, second] {
        wait_for(&format!("event {id} at the restarted origin"), Duration::from_secs(60), || {
            origin.project_api(&format!("events/{id}/")).status.eq(&200).then_some(())
        });
    }
}

crate::on_both_edges!(a_redelivered_event_is_stored_and_counted_once);

fn a_redelivered_event_is_stored_and_counted_once(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[]);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    let id = "44444444444444444444444444444444";
    // Hyphenated in one delivery, plain in the others: still one event.
    let hyphenated = "44444444-4444-4444-4444-444444444444";
    let body = |eid: &str| format!("{{\"event_id\":\"{eid}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"once\"}}\n");
    let pid = origin.bootstrap.project_id;
    for (base, eid) in [(&edge.url, id), (&origin.url, id), (&origin.url, hyphenated), (&edge.url, hyphenated)] {
        let reply =
            request("POST", &format!("{base}/api/{pid}/envelope/"), &[("x-sentry-auth", &auth)], body(eid).as_bytes())
                .unwrap();
        assert_eq!((reply.status, reply.json()["id"].as_str()), (200, Some(id)));
    }
    // The edge forwards in the background: wait until both edge deliveries had their chance.
    wait_for("the event at the origin", Duration::from_secs(20), || {
        (origin.project_api(&format!("events/{id}/")).status == 200).then_some(())
    });
    let marker = "55555555555555555555555555555555";
    request("POST", &format!("{}/api/{pid}/envelope/", edge.url), &[("x-sentry-auth", &auth)], body(marker).as_bytes())
        .unwrap();
    wait_for("a later event through the edge", Duration::from_secs(20), || {
        (origin.project_api(&format!("events/{marker}/")).status == 200).then_some(())
    });
    let events = origin.project_api("events/").json();
    let ids: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["eventID"].as_str().unwrap()).collect();
    assert_eq!(ids.iter().filter(|&&e| e == id).count(), 1, "{ids:?}");
    let issues = issues(&origin);
    assert_eq!(issues.len(), 1, "both messages read `once`: one issue");
    assert_eq!(issues[0]["count"], "2", "the redelivered event counts once, the marker once");
}

crate::on_both_edges!(size_limits_come_from_wrangler_vars_and_origin_settings);

fn size_limits_come_from_wrangler_vars_and_origin_settings(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start_with(dir.path(), "127.0.0.1:0", &[("PICKET_MAX_EVENT_SIZE", "2000")]);
    let edge = Edge::for_origin(kind, &origin, &[("MAX_EVENT_SIZE", "2000"), ("MAX_ENVELOPE_SIZE", "50000")]);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    let pid = origin.bootstrap.project_id;
    let event = |size: usize| {
        let payload = format!("{{\"message\":\"{}\"}}", "x".repeat(size - 14));
        format!("{{}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n", payload.len())
    };
    for base in [&edge.url, &origin.url] {
        let url = format!("{base}/api/{pid}/envelope/");
        let big = request("POST", &url, &[("x-sentry-auth", &auth)], event(2001).as_bytes()).unwrap();
        assert_eq!(
            (big.status, big.json()["detail"].as_str()),
            (413, Some("event item exceeds the limit of 2000 bytes"))
        );
        let fits = request("POST", &url, &[("x-sentry-auth", &auth)], event(2000).as_bytes()).unwrap();
        assert_eq!(fits.status, 200, "{base}");
    }
    // A declared body over the envelope limit is refused before it is read.
    let url = format!("{}/api/{pid}/envelope/", edge.url);
    let reply = request("POST", &url, &[("x-sentry-auth", &auth)], &vec![b' '; 60_000]).unwrap();
    assert_eq!(
        (reply.status, reply.json()["detail"].as_str()),
        (413, Some("request body exceeds the limit of 50000 bytes"))
    );
}

#[test]
fn a_full_processing_queue_answers_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start_with(dir.path(), "127.0.0.1:0", &[("PICKET_MAX_PENDING", "0")]);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    let url = format!("{}/api/{}/envelope/", origin.url, origin.bootstrap.project_id);
    let body = b"{\"event_id\":\"66666666666666666666666666666666\"}\n{\"type\":\"event\"}\n{\"message\":\"busy\"}\n";
    let reply = request("POST", &url, &[("x-sentry-auth", &auth)], body).unwrap();
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("5"));
    assert!(reply.json()["detail"].as_str().unwrap().contains("busy"));
    // Nothing was accepted, so nothing may appear.
    assert!(origin.project_api("events/").json().as_array().unwrap().is_empty());
}

crate::on_both_edges!(a_chunked_body_over_the_limit_gets_413);

/// A body without a `Content-Length` is held to the envelope limit too (the Spin shell stops
/// reading at it; the Workers runtime buffers it and the core's decoder caps it).
fn a_chunked_body_over_the_limit_gets_413(kind: Kind) {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[("MAX_ENVELOPE_SIZE", "50000")]);
    let addr = edge.url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let head = format!(
        "POST /api/{}/envelope/ HTTP/1.1\r\nhost: {addr}\r\nx-sentry-auth: Sentry sentry_key={}, sentry_version=7\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n",
        origin.bootstrap.project_id, origin.bootstrap.public_key
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b' '; 10_000];
    for _ in 0..6 {
        // The edge may answer and close once it has seen enough: later writes may fail.
        if stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
            || stream.write_all(&chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("exceeds the limit of 50000 bytes"), "{answer}");
}
