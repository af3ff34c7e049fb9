//! Regression tests at the trust boundaries, each named after the defect it pins down and run on
//! both edges where an edge is involved (the origin API's own are in origin/tests/api).

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{request, wait_for, Edge, Kind, Origin, SENTRY_CLI_KEY};
use crate::upstream::Upstream;

/// Sends one event envelope to `base` (an edge or the origin) under `key`; returns the status.
fn send(base: &str, project_id: u64, key: &str, id: &str, event: Value, extra: &[(&str, &str)]) -> u16 {
    let auth = format!("Sentry sentry_key={key}, sentry_version=7");
    let mut headers = vec![("x-sentry-auth", auth.as_str())];
    headers.extend_from_slice(extra);
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n");
    request("POST", &format!("{base}/api/{project_id}/envelope/"), &headers, body.as_bytes()).unwrap().status
}

/// The `user.ip_address` the origin stored for event `id` of the bootstrap project.
fn stored_ip(origin: &Origin, id: &str) -> String {
    wait_for(&format!("event {id}"), Duration::from_secs(30), || {
        let r = origin.project_api(&format!("events/{id}/"));
        (r.status == 200).then(|| r.json()["user"]["ip_address"].as_str().unwrap_or("").to_string())
    })
}

/// How many of `reason`'s filtered errors the organization's stats count.
fn filtered(origin: &Origin, reason: &str) -> u64 {
    let path = format!(
        "/api/0/organizations/{}/stats_v2/?field=sum(quantity)&groupBy=outcome&groupBy=reason&statsPeriod=1h",
        origin.bootstrap.organization
    );
    let stats = origin.api(&path).json();
    let groups = stats["groups"].as_array().cloned().unwrap_or_default();
    groups
        .iter()
        .filter(|g| g["by"]["outcome"] == "filtered" && g["by"]["reason"] == reason)
        .map(|g| g["totals"]["sum(quantity)"].as_u64().unwrap_or(0))
        .sum()
}

crate::on_both_edges!(edge_believed_the_clients_x_forwarded_for);

/// The edge took the client's own `X-Forwarded-For` for its address: `{{auto}}` IPs were
/// stored as the forged value, and an IP filter was escaped by claiming another address.
fn edge_believed_the_clients_x_forwarded_for(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    // A second project filters the loopback address this test connects from.
    let walled = origin.manage(&["project", "create", &b.organization, "walled"]);
    let (walled_id, walled_key) = (walled["project_id"].as_u64().unwrap(), walled["public_key"].as_str().unwrap());
    let options = json!({ "options": { "filters:blacklisted_ips": "127.0.0.1" } });
    assert_eq!(origin.call("PUT", &format!("/api/0/projects/{}/walled/", b.organization), &options).status, 200);
    let edge = Edge::for_origin(kind, &origin, &[]);

    let auto = json!({ "message": "who am I", "user": { "ip_address": "{{auto}}" } });
    let forged = [("x-forwarded-for", "203.0.113.99")];
    assert_eq!(send(&edge.url, b.project_id, &b.public_key, &"e1".repeat(16), auto, &forged), 200);
    let escape = [("x-forwarded-for", "198.51.100.7")];
    let walled_event = "e2".repeat(16);
    assert_eq!(send(&edge.url, walled_id, walled_key, &walled_event, json!({ "message": "let me in" }), &escape), 200);

    assert_eq!(stored_ip(&origin, &"e1".repeat(16)), "127.0.0.1", "the platform's address, not the client's claim");
    wait_for("the ip-address filter's outcome", Duration::from_secs(30), || {
        (filtered(&origin, "ip-address") == 1).then_some(())
    });
    let walled_events = origin.api(&format!("/api/0/projects/{}/walled/events/", b.organization)).json();
    assert_eq!(walled_events, json!([]), "the filtered event was not stored");
}

/// Behind a proxy it was told of (`--trusted-proxies 1`), the origin takes the client from that
/// proxy's `X-Forwarded-For` entry, and nothing the client put before it.
#[test]
fn origin_behind_a_named_proxy_believes_only_that_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start_with(dir.path(), "127.0.0.1:0", &[("PICKET_TRUSTED_PROXIES", "1")]);
    let b = origin.bootstrap.clone();
    let auto = json!({ "message": "via a proxy", "user": { "ip_address": "{{auto}}" } });
    let chain = [("x-forwarded-for", "198.51.100.7, 203.0.113.5")];
    assert_eq!(send(&origin.url, b.project_id, &b.public_key, &"e3".repeat(16), auto, &chain), 200);
    assert_eq!(stored_ip(&origin, &"e3".repeat(16)), "203.0.113.5");
}

crate::on_both_edges!(disabled_key_kept_ingesting);

/// `PUT .../keys/{id}/ {"isActive": false}` answered 200 and changed nothing. Now the origin
/// refuses the key, and an edge that still has it cached as enabled learns otherwise from the
/// first refused forward, long before its cached config expires (300 s).
fn disabled_key_kept_ingesting(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let edge = Edge::for_origin(kind, &origin, &[]);
    let event = || json!({ "message": "still here" });
    assert_eq!(send(&edge.url, b.project_id, &b.public_key, &"d1".repeat(16), event(), &[]), 200);
    stored_ip(&origin, &"d1".repeat(16));

    let keys = origin.project_api("keys/").json();
    let key_id = keys[0]["id"].as_str().map(str::to_string).unwrap_or_else(|| keys[0]["id"].to_string());
    let path = format!("/api/0/projects/{}/{}/keys/{key_id}/", b.organization, b.project);
    let disabled = origin.call("PUT", &path, &json!({ "isActive": false }));
    assert_eq!((disabled.status, &disabled.json()["isActive"]), (200, &json!(false)));
    assert_eq!(send(&origin.url, b.project_id, &b.public_key, &"d2".repeat(16), event(), &[]), 403, "at the origin");

    // The edge's cached config still says enabled: the first event is answered and forwarded,
    // the origin refuses it, and from then on the edge refuses the key itself.
    let mut n = 3u8;
    wait_for("the edge to refuse the disabled key", Duration::from_secs(30), || {
        n = n.checked_add(1)?;
        let status = send(&edge.url, b.project_id, &b.public_key, &format!("{n:02x}").repeat(16), event(), &[]);
        (status == 403).then_some(())
    });
    assert_eq!(origin.project_api("events/").json().as_array().unwrap().len(), 1, "only the event before");
}

/// An edge's outcome report with a quantity past `i64` was stored negative (`as i64`), and each
/// project's outcomes were written in their own transaction. Now the whole report is checked
/// first and refused with 400, or recorded at once.
#[test]
fn outcome_quantity_wrapped_negative() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let project = origin.bootstrap.project_id;
    let report = |quantity: u64, project_id: u64| {
        let outcome = |project_id: u64, quantity: u64| {
            json!({ "timestamp": "2026-11-26T10:00:00Z", "org_id": 1, "project_id": project_id, "outcome": 1,
                    "reason": "ip-address", "category": 1, "quantity": quantity })
        };
        json!({ "outcomes": [outcome(project, 1), outcome(project_id, quantity)] }).to_string()
    };
    for (quantity, project_id) in [(u64::MAX, project), (1 << 40, project), (1, u64::MAX)] {
        let r = origin.relay_post("/api/0/relays/outcomes/", report(quantity, project_id).as_bytes());
        assert_eq!(r.status, 400, "{quantity} for {project_id}: {}", String::from_utf8_lossy(&r.body));
        assert!(
            r.json()["detail"].as_str().unwrap().contains("out of range")
                || r.json()["detail"].as_str().unwrap().contains("is over")
        );
    }
    assert_eq!(filtered(&origin, "ip-address"), 0, "nothing of a refused report is recorded");
    let r = origin.relay_post("/api/0/relays/outcomes/", report(u32::MAX.into(), project).as_bytes());
    assert_eq!(r.status, 200);
    assert_eq!(filtered(&origin, "ip-address"), 1 + u64::from(u32::MAX));
}

/// An envelope whose header named no `event_id` got a fresh random id though its event carried
/// one: sent twice, it became two events, and the SDK's own id answered 404.
#[test]
fn event_id_from_the_event_item_was_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let id = "f00dfeedf00dfeedf00dfeedf00dfeed";
    let auth = format!("Sentry sentry_key={}, sentry_version=7", b.public_key);
    let body = format!("{{}}\n{{\"type\":\"event\"}}\n{{\"event_id\":\"{id}\",\"message\":\"sent twice\"}}\n");
    let url = format!("{}/api/{}/envelope/", origin.url, b.project_id);
    for _ in 0..2 {
        let r = request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes()).unwrap();
        assert_eq!((r.status, r.json()["id"].clone()), (200, json!(id)));
    }
    stored_ip(&origin, id);
    let issues = origin.project_api("issues/").json();
    assert_eq!(issues.as_array().unwrap().len(), 1);
    assert_eq!(issues[0]["count"], "1", "stored once");
}

/// Limits the bootstrap project's errors to `limit` an hour.
fn error_quota(origin: &Origin, limit: u64) {
    let b = &origin.bootstrap;
    let quota = json!([{ "id": "errors", "categories": ["error"], "scope": "project", "limit": limit, "window": 3600,
                         "reasonCode": "error_quota" }]);
    let path = format!("/api/0/projects/{}/{}/quotas/", b.organization, b.project);
    assert!(origin.call("PUT", &path, &quota).status < 300);
}

crate::on_both_edges!(origin_counted_a_trusted_edges_forward_again);

/// The origin judged a signed edge's forward a second time, quotas included: with the origin's
/// window full of direct traffic, an event the edge had counted and answered 200 got 429 and
/// was dropped. A trusted edge's forward is filtered and counted once, at the edge.
fn origin_counted_a_trusted_edges_forward_again(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    error_quota(&origin, 1);
    // Direct traffic fills the origin's own window.
    assert_eq!(
        send(&origin.url, b.project_id, &b.public_key, &"c1".repeat(16), json!({ "message": "direct" }), &[]),
        200
    );
    assert_eq!(
        send(&origin.url, b.project_id, &b.public_key, &"c2".repeat(16), json!({ "message": "direct" }), &[]),
        429
    );
    // The edge counts in its own window, allows one, and forwards it.
    let edge = Edge::for_origin(kind, &origin, &[]);
    let id = "c3".repeat(16);
    assert_eq!(send(&edge.url, b.project_id, &b.public_key, &id, json!({ "message": "through the edge" }), &[]), 200);
    stored_ip(&origin, &id);
    assert!(!edge.log.lock().unwrap().contains("upstream_"), "{}", edge.log.lock().unwrap());
}

crate::on_both_edges!(origin_408_429_and_503_were_final);

/// A 408 or 429 from the origin made the edge drop an envelope the SDK had been told was
/// accepted. 408, 429 and 5xx mean "later": the edge keeps the envelope and delivers it.
fn origin_408_429_and_503_were_final(kind: Kind) {
    let refusals = vec![(408, vec![]), (429, vec![]), (503, vec![("Retry-After", "1")])];
    let upstream = Upstream::start_refusing(SENTRY_CLI_KEY, 42, refusals);
    let edge = Edge::start_on(kind, &upstream.url, &[]);
    let first = "a8".repeat(16);
    assert_eq!(send(&edge.url, 42, SENTRY_CLI_KEY, &first, json!({ "message": "later" }), &[]), 200);
    let mut sent = vec![first];
    // On Spin, later requests are what retry kept envelopes: one a second.
    delivered_nudging(&edge, &upstream, &mut sent, kind == Kind::Spin, 0xa9_0000, 30);
    // Each forward frames its body by its length: a chunked one left the origin waiting for a
    // closing chunk the Spin guest wrote only after its 10 s timeout, so a 429 went unseen.
    for r in upstream.received.lock().unwrap().iter() {
        let length = r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.clone());
        assert_eq!(length, Some(r.body.len().to_string()), "{:?}", r.headers);
    }
    let log = edge.log.lock().unwrap().clone();
    for status in [408, 429, 503] {
        assert!(log.contains(&format!("upstream_unavailable ({status}); will retry")), "{status}:\n{log}");
    }
    assert!(!log.contains("envelope dropped"), "{log}");
}

/// A multipart upload of one file to the attachments endpoint.
fn upload(origin: &Origin, event_id: &str, name: &str, data: &[u8]) -> u16 {
    let b = &origin.bootstrap;
    let mut body = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/plain\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let url = format!("{}/api/{}/events/{event_id}/attachments/?sentry_key={}", origin.url, b.project_id, b.public_key);
    request("POST", &url, &[("content-type", "multipart/form-data; boundary=XyZ")], &body).unwrap().status
}

/// The attachments an event's API lists, with the bytes each downloads as.
fn served_attachments(origin: &Origin, event_id: &str) -> Vec<(String, Vec<u8>)> {
    let listed = origin.project_api(&format!("events/{event_id}/attachments/"));
    if listed.status != 200 {
        return Vec::new();
    }
    let list = listed.json();
    let mut out = Vec::new();
    for a in list.as_array().unwrap() {
        let id = a["id"].as_str().unwrap();
        let r = origin.project_api(&format!("events/{event_id}/attachments/{id}/?download=1"));
        assert_eq!((r.status, r.header("content-type")), (200, Some("text/plain")));
        out.push((a["name"].as_str().unwrap().to_string(), r.body));
    }
    out
}

/// The origin kept one envelope per event id: an attachment uploaded for a stored event was
/// answered 201 and thrown away, and one uploaded first made its event the one thrown away.
#[test]
fn second_envelope_for_an_event_id_was_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let (after, before) = ("a1".repeat(16), "b1".repeat(16));
    // Event first, then its attachment.
    assert_eq!(send(&origin.url, b.project_id, &b.public_key, &after, json!({ "message": "then a file" }), &[]), 200);
    stored_ip(&origin, &after);
    assert_eq!(upload(&origin, &after, "after.txt", b"late bytes"), 201);
    // Attachment first, then its event.
    assert_eq!(upload(&origin, &before, "before.txt", b"early bytes"), 201);
    assert_eq!(
        send(&origin.url, b.project_id, &b.public_key, &before, json!({ "message": "file came first" }), &[]),
        200
    );
    stored_ip(&origin, &before);
    for (id, name, bytes) in [(&after, "after.txt", &b"late bytes"[..]), (&before, "before.txt", &b"early bytes"[..])] {
        let served = wait_for(&format!("{name} served"), Duration::from_secs(30), || {
            Some(served_attachments(&origin, id)).filter(|s| !s.is_empty())
        });
        assert_eq!(served, vec![(name.to_string(), bytes.to_vec())]);
    }
    // The same upload again (an edge's retry) is kept once.
    assert_eq!(upload(&origin, &after, "after.txt", b"late bytes"), 201);
    assert_eq!(
        send(&origin.url, b.project_id, &b.public_key, &"a2".repeat(16), json!({ "message": "marker" }), &[]),
        200
    );
    stored_ip(&origin, &"a2".repeat(16));
    assert_eq!(served_attachments(&origin, &after).len(), 1);
}

/// User reports and feedback arrive in envelopes whose header carries the event's id; after the
/// event they were discarded. Now they are kept, served, and counted on the event's issue.
#[test]
fn user_report_for_a_stored_event_was_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let id = "c4".repeat(16);
    assert_eq!(send(&origin.url, b.project_id, &b.public_key, &id, json!({ "message": "users noticed" }), &[]), 200);
    stored_ip(&origin, &id);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", b.public_key);
    let url = format!("{}/api/{}/envelope/", origin.url, b.project_id);
    let report = format!(
        "{{\"event_id\":\"{id}\"}}\n{{\"type\":\"user_report\"}}\n{}\n",
        json!({ "event_id": id, "name": "Ann", "email": "ann@example.com", "comments": "it broke" })
    );
    assert_eq!(request("POST", &url, &[("x-sentry-auth", &auth)], report.as_bytes()).unwrap().status, 200);
    let feedback_id = "c5".repeat(16);
    let feedback = format!(
        "{{\"event_id\":\"{feedback_id}\"}}\n{{\"type\":\"feedback\"}}\n{}\n",
        json!({ "event_id": feedback_id, "contexts": { "feedback": {
            "message": "still broken", "contact_email": "bo@example.com", "name": "Bo" } } })
    );
    assert_eq!(request("POST", &url, &[("x-sentry-auth", &auth)], feedback.as_bytes()).unwrap().status, 200);
    let listed = wait_for("two user reports", Duration::from_secs(30), || {
        let r = origin.project_api("user-feedback/").json();
        (r.as_array().unwrap().len() == 2).then_some(r)
    });
    let by_event = |e: &str| listed.as_array().unwrap().iter().find(|r| r["eventID"] == e).cloned().unwrap();
    let ann = by_event(&id);
    assert_eq!(
        (&ann["name"], &ann["email"], &ann["comments"]),
        (&json!("Ann"), &json!("ann@example.com"), &json!("it broke"))
    );
    assert!(ann["issue"]["id"].is_string(), "linked to the event's issue: {ann}");
    assert_eq!(by_event(&feedback_id)["comments"], "still broken");
    let issues = origin.project_api("issues/").json();
    assert_eq!(issues[0]["userReportCount"], 1);
}

/// A TCP relay to `target` that can be cut: cutting it closes the connections it carries and
/// every new one, as an origin that is down would. Its thread ends with the test process.
struct Cable {
    url: String,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    live: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Cable {
    fn to(target: &str) -> Cable {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let live = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (target, on, carried) = (target.trim_start_matches("http://").to_string(), up.clone(), live.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let server = match on.load(Ordering::SeqCst) {
                    true => TcpStream::connect(&target).ok(),
                    false => None,
                };
                let Some(server) = server else { continue };
                let pipe = |mut from: TcpStream, mut to: TcpStream| {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    })
                };
                carried.lock().unwrap().push(client.try_clone().unwrap());
                let (c, s) = (client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(client, server);
                pipe(s, c);
            }
        });
        Cable { url, up, live }
    }

    fn set(&self, up: bool) {
        self.up.store(up, std::sync::atomic::Ordering::SeqCst);
        if !up {
            for stream in self.live.lock().unwrap().drain(..) {
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        }
    }
}

crate::on_both_edges!(kept_envelope_met_a_full_window_at_the_origin);

/// An envelope the edge kept while the origin was unreachable arrived when the origin's own
/// window (filled by direct traffic meanwhile) was full; the origin answered 429 and the edge
/// deleted it — after the SDK had been told 200. Counted at the edge, it is stored.
fn kept_envelope_met_a_full_window_at_the_origin(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    error_quota(&origin, 2);
    let cable = Cable::to(&origin.url);
    let vars = [("RELAY_ID", b.edge_relay_id.as_str()), ("RELAY_SECRET_KEY", b.edge_secret_key.as_str())];
    let edge = Edge::start_on(kind, &cable.url, &vars);
    let message = || json!({ "message": "counted at the edge" });
    assert_eq!(send(&edge.url, b.project_id, &b.public_key, &"f1".repeat(16), message(), &[]), 200);
    stored_ip(&origin, &"f1".repeat(16));
    // The origin becomes unreachable; the edge answers from its cache and keeps the envelope.
    cable.set(false);
    let kept = "f2".repeat(16);
    assert_eq!(send(&edge.url, b.project_id, &b.public_key, &kept, message(), &[]), 200);
    edge.wait_for_log("kept fwd/", Duration::from_secs(30));
    // Meanwhile direct traffic fills the origin's own window of two.
    for (id, want) in [("f3", 200), ("f4", 200), ("f5", 429)] {
        assert_eq!(send(&origin.url, b.project_id, &b.public_key, &id.repeat(16), message(), &[]), want, "{id}");
    }
    cable.set(true);
    wait_for("the kept envelope stored", Duration::from_secs(60), || {
        if kind == Kind::Spin {
            // Spin retries what it kept after later requests.
            let _ = request("GET", &format!("{}/api/relay/healthcheck/live/", edge.url), &[], b"");
        }
        (origin.project_api(&format!("events/{kept}/")).status == 200).then_some(())
    });
    assert!(!edge.log.lock().unwrap().contains("envelope dropped"), "{}", edge.log.lock().unwrap());
}

/// `edge trust RELAY_ID PUBLIC_KEY` took a base64url key starting with `-` (one in 64 keys) for
/// an option and refused it.
#[test]
fn edge_trust_refused_a_key_starting_with_a_hyphen() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let key = (0u8..=255)
        .map(|seed| picket::core::sign::SecretKey::from_seed([seed; 32]).public().to_string())
        .find(|k| k.starts_with('-'))
        .expect("one in 64 keys starts with a hyphen");
    let relay_id = "0b4b1c1e-8f0e-4c55-9d56-6a9ad3c1a2b7";
    let trusted = origin.manage(&["edge", "trust", relay_id, &key, "--name", "hyphen"]);
    assert_eq!(trusted["public_key"], key, "{trusted}");
    let listed = origin.manage(&["edge", "list"]);
    assert!(listed.to_string().contains(&key), "{listed}");
}

/// The used-signature set lived in the origin's memory: a signed outcomes report replayed after
/// the origin restarted (its signature seconds old) was accepted again and counted twice. Now
/// used signatures are kept in the store until their age alone refuses them.
#[test]
fn replayed_signature_was_accepted_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut origin = Origin::start(dir.path());
    let addr = origin.addr().to_string();
    let b = origin.bootstrap.clone();
    let body = json!({ "outcomes": [{ "timestamp": "2026-11-26T10:00:00Z", "org_id": 1, "project_id": b.project_id,
        "outcome": 1, "reason": "replayed", "category": 1, "quantity": 5 }] })
    .to_string();
    let identity =
        picket::core::sign::Identity { relay_id: b.edge_relay_id.clone(), key: b.edge_secret_key.parse().unwrap() };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let [(id_name, id), (sig_name, sig)] = identity.headers(body.as_bytes(), now, 7);
    let post = |origin: &Origin| {
        let headers = [(id_name.as_str(), id.as_str()), (sig_name.as_str(), sig.as_str())];
        request("POST", &format!("{}/api/0/relays/outcomes/", origin.url), &headers, body.as_bytes()).unwrap()
    };
    assert_eq!(post(&origin).status, 200);
    origin.stop();
    origin = Origin::start_on(dir.path(), &addr);
    let replay = post(&origin);
    assert_eq!(replay.status, 401, "{}", String::from_utf8_lossy(&replay.body));
    assert!(replay.json()["detail"].as_str().unwrap().contains("already used"), "{}", replay.json());
    assert_eq!(filtered(&origin, "replayed"), 5, "the report counted once");
}

/// During an outage every request on Spin listed every kept envelope and retried the oldest,
/// so each request cost more as the backlog grew and a down origin got one more try per
/// request. Now a failed retry sets a time before which no request lists or retries.
#[test]
fn spin_retried_the_backlog_on_every_request_during_an_outage() {
    let upstream = Upstream::start_refusing(SENTRY_CLI_KEY, 42, vec![(503, vec![]); 24]);
    let edge = Edge::start_on(Kind::Spin, &upstream.url, &[]);
    let log = |needle: &str| edge.log.lock().unwrap().matches(needle).count();
    let mut sent = Vec::new();
    let started = std::time::Instant::now();
    for n in 0..9 {
        let id = format!("{:032x}", 0xb7_0000 + n);
        assert_eq!(send(&edge.url, 42, SENTRY_CLI_KEY, &id, json!({ "message": "outage" }), &[]), 200);
        sent.push(id);
    }
    wait_for("every forward kept", Duration::from_secs(30), || (log("kept fwd/") >= 9).then_some(()));
    // Nine forwards failed; retries only as often as the retry delay (1 s) allows.
    let elapsed = started.elapsed().as_secs() as usize;
    let failures = log("upstream_unavailable (503); will retry");
    assert!(failures <= 9 + 2 + elapsed, "{failures} failed tries in {elapsed} s:\n{}", edge.log.lock().unwrap());
    // Once the origin takes envelopes again, later requests deliver the whole backlog.
    delivered_nudging(&edge, &upstream, &mut sent, true, 0xb8_0000, 60);
    assert!(!edge.log.lock().unwrap().contains("envelope dropped"));
}

/// Waits (90 s at most) until the upstream has every event of `sent`; with `nudge`, sends one
/// more event a second (ids from `base`, up to `most` in all) and adds it to `sent`.
fn delivered_nudging(edge: &Edge, upstream: &Upstream, sent: &mut Vec<String>, nudge: bool, base: usize, most: usize) {
    let mut polls = 0;
    wait_for("every event delivered", Duration::from_secs(90), || {
        polls += 1;
        if nudge && polls % 20 == 0 && sent.len() < most {
            let id = format!("{:032x}", base + sent.len());
            assert_eq!(send(&edge.url, 42, SENTRY_CLI_KEY, &id, json!({ "message": "nudge" }), &[]), 200);
            sent.push(id);
        }
        let got: Vec<String> = upstream
            .received
            .lock()
            .unwrap()
            .iter()
            .filter_map(|r| picket::core::envelope::Envelope::parse(&r.body).ok())
            .filter_map(|e| e.headers["event_id"].as_str().map(str::to_string))
            .collect();
        sent.iter().all(|id| got.contains(id)).then_some(())
    });
}
