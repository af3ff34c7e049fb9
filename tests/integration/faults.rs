//! Nothing answered 200 is lost: 2,000 events go through the edge in workerd while the origin
//! is stopped, restarted, and killed with SIGKILL three times; afterwards the origin holds each
//! event id exactly once and the issue counts add up to 2,000.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::harness::{request, wait_for, Edge, Kind, Origin};

const EVENTS: usize = 2000;
const SENDERS: usize = 8;
/// Messages (so issues) the events spread over: words, since grouping masks numbers.
const MESSAGES: [&str; 20] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett", "kilo", "lima",
    "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
];

/// What happens to the origin once this many events have been answered.
enum Fault {
    Stop,
    Kill,
    Start,
}

#[test]
fn two_thousand_events_survive_an_origin_stopped_restarted_and_killed_three_times() {
    let dir = tempfile::tempdir().unwrap();
    let mut origin = Origin::start(dir.path());
    let addr = origin.addr().to_string();
    let edge = Edge::for_origin(Kind::Workerd, &origin, &[]);
    let b = origin.bootstrap.clone();
    let url = Arc::new(format!("{}/api/{}/envelope/", edge.url, b.project_id));
    let auth = Arc::new(format!("Sentry sentry_key={}, sentry_version=7", b.public_key));
    let body = |i: usize| {
        let id = format!("{:032x}", 0xfa_0000 + i);
        let word = MESSAGES[i % MESSAGES.len()];
        format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"fault {word}\"}}\n")
    };
    // The edge caches the project's config while the origin is up.
    assert_eq!(request("POST", &url, &[("x-sentry-auth", &auth)], body(0).as_bytes()).unwrap().status, 200);

    let answered = Arc::new(AtomicUsize::new(1));
    let next = Arc::new(AtomicUsize::new(1));
    let senders: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (url, auth, answered, next) = (url.clone(), auth.clone(), answered.clone(), next.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= EVENTS {
                    return;
                }
                let reply = request("POST", &url, &[("x-sentry-auth", &auth)], body(i).as_bytes()).unwrap();
                assert_eq!(reply.status, 200, "event {i}: {}", String::from_utf8_lossy(&reply.body));
                answered.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    let schedule = [
        (250, Fault::Stop),
        (450, Fault::Start),
        (700, Fault::Kill),
        (900, Fault::Start),
        (1150, Fault::Kill),
        (1350, Fault::Start),
        (1600, Fault::Kill),
        (1800, Fault::Start),
    ];
    for (at, fault) in schedule {
        wait_for(&format!("{at} answered events"), Duration::from_secs(120), || {
            (answered.load(Ordering::Relaxed) >= at).then_some(())
        });
        match fault {
            Fault::Stop => origin.stop(),
            Fault::Kill => origin.kill(),
            Fault::Start => origin = Origin::start_on(dir.path(), &addr),
        }
    }
    for s in senders {
        s.join().unwrap();
    }
    assert_eq!(answered.load(Ordering::Relaxed), EVENTS, "the edge answered every event 200");

    let db = rusqlite::Connection::open(dir.path().join("picket.db")).unwrap();
    let (distinct, rows) = wait_for("every event at the origin", Duration::from_secs(300), || {
        let counts: (i64, i64) = db
            .query_row("SELECT COUNT(DISTINCT event_id), COUNT(*) FROM events", [], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap();
        (counts.0 as usize >= EVENTS).then_some(counts)
    });
    assert_eq!((distinct as usize, rows as usize), (EVENTS, EVENTS), "each event id exactly once");
    let issues = origin.project_api("issues/?query=").json();
    let issues = issues.as_array().unwrap();
    assert_eq!(issues.len(), MESSAGES.len());
    let total: u64 = issues.iter().map(|i| i["count"].as_str().unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, EVENTS as u64, "issue counts add up");
    // The outages really hit forwards: some envelopes were kept and delivered later.
    let kept = edge.log.lock().unwrap().matches("picket: kept fwd/").count();
    assert!(kept > 0, "no forward failed, so nothing was tested");
    eprintln!("faults: {EVENTS} events, {kept} kept for retry during the outages, all delivered once");
}

#[test]
fn sigterm_drains_within_the_drain_time_even_with_a_request_stuck_mid_body() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let mut origin = Origin::start_with(dir.path(), "127.0.0.1:0", &[("PICKET_DRAIN_SECS", "1")]);
    let b = origin.bootstrap.clone();
    // A slow client: headers promise 1,000 bytes, 10 arrive, then nothing.
    let mut stuck = std::net::TcpStream::connect(origin.addr()).unwrap();
    let head = format!(
        "POST /api/{}/envelope/ HTTP/1.1\r\nhost: x\r\nx-sentry-auth: Sentry sentry_key={}, sentry_version=7\r\ncontent-length: 1000\r\n\r\n{{\"event_i",
        b.project_id, b.public_key
    );
    stuck.write_all(head.as_bytes()).unwrap();
    // An event answered 200 just before the signal must survive it.
    let id = "d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0d0";
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"before the signal\"}}\n");
    let auth = format!("Sentry sentry_key={}, sentry_version=7", b.public_key);
    let url = format!("{}/api/{}/envelope/", origin.url, b.project_id);
    assert_eq!(request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes()).unwrap().status, 200);
    let status = origin.terminate_within(Duration::from_secs(30)).expect("it exits by itself");
    assert!(status.success(), "{status}");
    drop(stuck);
    let origin = Origin::start_on(dir.path(), "127.0.0.1:0");
    wait_for("the event answered before the signal", Duration::from_secs(20), || {
        (origin.project_api(&format!("events/{id}/")).status == 200).then_some(())
    });
}
