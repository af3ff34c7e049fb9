//! When the edge forwards: after the SDK has its answer, on both platforms (Workers'
//! `waitUntil`, Spin's work after the component-model task returns); and when no origin can
//! take it now, later.

use std::time::Duration;

use picket::core::envelope::Envelope;

use crate::conformance::allowed_domains;
use crate::harness::{request, wait_for, Edge, Kind, Refusing, SENTRY_CLI_KEY};
use crate::upstream::Upstream;

crate::on_both_edges!(the_sdk_is_answered_before_the_forward_is);

fn the_sdk_is_answered_before_the_forward_is(kind: Kind) {
    // The upstream holds every forward unanswered until the test opens it.
    let upstream = Upstream::start_gated(SENTRY_CLI_KEY, 42, allowed_domains(), false);
    let edge = Edge::start_on(kind, &upstream.url, &[]);
    let auth = format!("Sentry sentry_key={SENTRY_CLI_KEY}, sentry_version=7");
    let id = "f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0";
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"answered first\"}}\n");
    let reply =
        request("POST", &format!("{}/api/42/envelope/", edge.url), &[("x-sentry-auth", &auth)], body.as_bytes())
            .expect("an answer while the forward is held");
    assert_eq!((reply.status, reply.json()["id"].as_str()), (200, Some(id)));
    assert_eq!(upstream.count(), 0, "the forward cannot have been answered yet");
    upstream.open();
    let got =
        wait_for("the held forward", Duration::from_secs(30), || upstream.received.lock().unwrap().first().cloned());
    let envelope = Envelope::parse(&got.body).expect("the forward is an envelope");
    assert_eq!(envelope.headers["event_id"], id);
}

crate::on_both_edges!(origins_refusing_or_too_slow_to_answer_get_the_envelope_later);

/// Every origin unavailable (one refuses connections, one holds forwards past the timeout):
/// each is tried once, the envelope is kept, and it arrives once one of them answers.
fn origins_refusing_or_too_slow_to_answer_get_the_envelope_later(kind: Kind) {
    let upstream = Upstream::start_gated(SENTRY_CLI_KEY, 42, allowed_domains(), false);
    let refusing = Refusing::bind();
    let origins = format!("{},{}", refusing.url, upstream.url);
    let edge = Edge::start_on(kind, &origins, &[("UPSTREAM_TIMEOUT_SECS", "1")]);
    let auth = format!("Sentry sentry_key={SENTRY_CLI_KEY}, sentry_version=7");
    let send = |id: &str| {
        let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"slow\"}}\n");
        let url = format!("{}/api/42/envelope/", edge.url);
        assert_eq!(request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes()).unwrap().status, 200);
    };
    let (slow, later) = ("e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1e1", "e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2e2");
    send(slow);
    // One refuses, the other has not answered within a second: the edge keeps the envelope
    // instead of waiting on.
    edge.wait_for_log("kept fwd/", Duration::from_secs(30));
    let log = edge.log.lock().unwrap().clone();
    // The first attempt's two lines (later ones may follow from retries).
    let tries: Vec<&str> =
        log.lines().filter(|l| l.contains(&format!("forward of event {slow} to "))).take(2).collect();
    assert_eq!(tries.len(), 2, "{log}");
    assert!(tries[0].contains("; trying ") && tries[1].contains("; will retry"), "each origin once: {tries:?}");
    assert!(tries.iter().any(|l| l.contains(&refusing.url)) && tries.iter().any(|l| l.contains(&upstream.url)));
    upstream.open();
    send(later); // on Spin, later requests are what retry kept envelopes
    let ids = |r: &crate::upstream::Received| Envelope::parse(&r.body).ok().map(|e| e.headers["event_id"].clone());
    wait_for("both events upstream", Duration::from_secs(60), || {
        let got: Vec<_> = upstream.received.lock().unwrap().iter().filter_map(ids).collect();
        (got.contains(&slow.into()) && got.contains(&later.into())).then_some(())
    });
}
