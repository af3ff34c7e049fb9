//! An edge in front of several origins (`ORIGIN_URL` a comma-separated list), on both edges:
//! an origin that refuses connections or answers 503 is passed over and every event is stored
//! at a healthy one without being kept for later; two healthy origins (each its own
//! `picket-origin` with its own SQLite, made from one data dir so they share keys and the edge's
//! trust) each get some of the events, and every event exactly one of them. All origins down is
//! in `forwarding` (kept, then delivered once one answers).

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crate::harness::{request, wait_for, Edge, Kind, Origin, Refusing};

/// An origin that answers 503 to every request (busy, or failing), counting them.
struct Busy {
    url: String,
    asked: Arc<AtomicUsize>,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Busy {
    fn start() -> Busy {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let asked = Arc::new(AtomicUsize::new(0));
        let (srv, count) = (server.clone(), asked.clone());
        let thread = thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let _ = std::io::copy(request.as_reader(), &mut std::io::sink());
                count.fetch_add(1, Ordering::SeqCst);
                let busy = tiny_http::Response::from_string("{\"detail\":\"busy\"}").with_status_code(503);
                let _ = request.respond(busy);
            }
        });
        Busy { url, asked, server, thread: Some(thread) }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The edge settings that sign as the identity `origin` trusts from first start.
fn identity(origin: &Origin) -> [(&str, &str); 2] {
    let b = &origin.bootstrap;
    [("RELAY_ID", b.edge_relay_id.as_str()), ("RELAY_SECRET_KEY", b.edge_secret_key.as_str())]
}

/// Sends one event for the bootstrap project through `edge`; the SDK must get 200.
fn send(edge: &Edge, origin: &Origin, id: &str) {
    let b = &origin.bootstrap;
    let auth = format!("Sentry sentry_key={}, sentry_version=7", b.public_key);
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"spread {id}\"}}\n");
    let url = format!("{}/api/{}/envelope/", edge.url, b.project_id);
    let reply = request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes()).unwrap();
    assert_eq!(reply.status, 200, "{id}: {}", String::from_utf8_lossy(&reply.body));
}

fn stored(origin: &Origin, id: &str) -> bool {
    origin.project_api(&format!("events/{id}/")).status == 200
}

fn ids(base: u128, n: u128) -> Vec<String> {
    (0..n).map(|i| format!("{:032x}", base + i)).collect()
}

crate::on_both_edges!(an_origin_refusing_connections_or_answering_503_is_passed_over);

fn an_origin_refusing_connections_or_answering_503_is_passed_over(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let (refusing, busy) = (Refusing::bind(), Busy::start());
    // Whitespace around entries is ignored; each forward starts at the origin its id picks.
    let list = format!("{}, {} ,{}", refusing.url, busy.url, origin.url);
    let edge = Edge::start_on(kind, &list, &identity(&origin));
    let sent = ids(0xb0_0000, 12);
    for id in &sent {
        send(&edge, &origin, id);
    }
    wait_for("every event stored at the healthy origin", Duration::from_secs(60), || {
        sent.iter().all(|id| stored(&origin, id)).then_some(())
    });
    let log = edge.log.lock().unwrap().clone();
    assert!(!log.contains("kept fwd/") && !log.contains("will retry"), "nothing kept for later:\n{log}");
    assert!(busy.asked.load(Ordering::SeqCst) > 0, "the 503 origin was never tried:\n{log}");
    let refused = format!("to {} failed: upstream_unavailable (no response: ", refusing.url);
    let answered_503 = format!("to {} failed: upstream_unavailable (503); trying ", busy.url);
    assert!(log.contains(&refused) && log.contains(&answered_503), "both failovers logged:\n{log}");
}

crate::on_both_edges!(two_healthy_origins_each_store_some_of_the_events);

fn two_healthy_origins_each_store_some_of_the_events(kind: Kind) {
    // One first start, copied: two origins with their own SQLite that know the same project,
    // key and edge identity, as origins sharing one database would.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    Origin::start(dir_a.path()).stop();
    let copied = Command::new("cp").arg("-a").arg(dir_a.path().join(".")).arg(dir_b.path()).status().unwrap();
    assert!(copied.success());
    let (a, b) = (Origin::start(dir_a.path()), Origin::start(dir_b.path()));
    assert_eq!(a.bootstrap.public_key, b.bootstrap.public_key);
    let edge = Edge::start_on(kind, &format!("{},{}", a.url, b.url), &identity(&a));
    let sent = ids(0xc0_0000, 30);
    for id in &sent {
        send(&edge, &a, id);
    }
    let (mut at_a, mut at_b) = (BTreeSet::new(), BTreeSet::new());
    wait_for("every event stored at one origin or the other", Duration::from_secs(60), || {
        for id in &sent {
            if !at_a.contains(id) && !at_b.contains(id) {
                if stored(&a, id) {
                    at_a.insert(id.clone());
                } else if stored(&b, id) {
                    at_b.insert(id.clone());
                }
            }
        }
        (at_a.len() + at_b.len() == sent.len()).then_some(())
    });
    // Each forward went to one origin: none holds an event the other has.
    assert!(at_a.iter().all(|id| !stored(&b, id)) && at_b.iter().all(|id| !stored(&a, id)), "an event at both");
    assert_eq!(at_a.len() + at_b.len(), sent.len());
    assert!(!at_a.is_empty() && !at_b.is_empty(), "not spread: {} at a, {} at b", at_a.len(), at_b.len());
    let log = edge.log.lock().unwrap().clone();
    let failed: Vec<&str> = log.lines().filter(|l| l.contains("picket:") && l.contains("failed")).collect();
    assert!(failed.is_empty(), "no origin failed: {failed:?}");
    eprintln!("multi_origin: {} events at a, {} at b", at_a.len(), at_b.len());
}
