//! When the edge forwards: after the SDK has its answer, on both platforms (Workers'
//! `waitUntil`, Spin's work after the component-model task returns).

use std::time::Duration;

use picket::core::envelope::Envelope;

use crate::conformance::allowed_domains;
use crate::harness::{request, wait_for, Edge, Kind, SENTRY_CLI_KEY};
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
