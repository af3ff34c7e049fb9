//! The core's decisions on hand-made requests: each rejection's status and JSON body, the
//! store endpoint, DSN-only auth, and event ids.

use picket::core::config::ProjectState;
use picket::core::envelope::Envelope;
use picket::core::limits::Limits;
use picket::core::quota::CachedLimits;
use picket::core::{judge, prepare, EventId, Headers, Reject, Request, Step};
use serde_json::Value;

use crate::harness::SENTRY_CLI_KEY as KEY;
use crate::vectors::state;

const FRESH: [u8; 16] = [0xab; 16];

fn auth_headers() -> Headers {
    [("x-sentry-auth", format!("Sentry sentry_key={KEY}, sentry_version=7"))].into_iter().collect()
}

/// Runs both steps against a project 42 that owns `KEY`.
fn run(
    path: &str,
    headers: &Headers,
    body: &[u8],
    project: Option<&ProjectState>,
) -> Result<(u16, Value, Vec<u8>), Reject> {
    let req = Request { method: "POST", path, query: "", headers, body, client_ip: None };
    let Step::NeedState(prepared) = prepare(&req, &Limits::default(), EventId::from_bytes(FRESH))? else {
        panic!("ingest needs state")
    };
    let done = judge(prepared, project, &CachedLimits::default(), 1_795_244_400)?.finish(&[]);
    let forward = done.forward.expect("no quotas, so it is forwarded");
    Ok((done.response.status, serde_json::from_slice(&done.response.body).unwrap(), forward.body))
}

fn ok(path: &str, headers: &Headers, body: &[u8]) -> (u16, Value, Vec<u8>) {
    run(path, headers, body, Some(&state(42, KEY))).unwrap()
}

fn err(path: &str, headers: &Headers, body: &[u8], project: Option<&ProjectState>) -> Reject {
    run(path, headers, body, project).unwrap_err()
}

const EVENT: &[u8] =
    b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\"}\n{\"type\":\"event\"}\n{\"message\":\"hi\"}\n";

#[test]
fn accepts_and_answers_with_the_event_id() {
    let (status, body, _) = ok("/api/42/envelope/", &auth_headers(), EVENT);
    assert_eq!((status, body["id"].as_str()), (200, Some("9ec79c33ec9942ab8353589fcb2e04dc")));
}

#[test]
fn missing_unknown_and_multiple_auth_are_401_with_json() {
    let r = err("/api/42/envelope/", &Headers::new(), EVENT, Some(&state(42, KEY)));
    assert_eq!((r.status(), r.to_string().as_str()), (401, "missing authorization information"));
    let r = err("/api/42/envelope/", &auth_headers(), EVENT, None);
    assert_eq!(r, Reject::UnknownKey);
    let body: Value = serde_json::from_slice(&r.response().body).unwrap();
    assert_eq!((r.response().status, body["detail"].as_str()), (401, Some("unknown public key")));
    let mut two = auth_headers();
    two.push("authorization", format!("Sentry sentry_key={KEY}"));
    assert_eq!(err("/api/42/envelope/", &two, EVENT, None), Reject::MultipleAuth);
}

#[test]
fn the_envelope_dsn_authenticates_and_must_agree() {
    let env = format!("{{\"dsn\":\"http://{KEY}@edge.example/42\"}}\n{{\"type\":\"event\"}}\n{{}}\n");
    let (status, body, forwarded) = ok("/api/42/envelope/", &Headers::new(), env.as_bytes());
    assert_eq!(status, 200);
    // No id came with the event, so the core gave it the fresh one.
    assert_eq!(body["id"], EventId::from_bytes(FRESH).simple());
    assert_eq!(Envelope::parse(&forwarded).unwrap().event_id(), Some(EventId::from_bytes(FRESH)));
    let other = format!("{{\"dsn\":\"http://{KEY}@edge.example/7\"}}\n{{\"type\":\"event\"}}\n{{}}\n");
    assert_eq!(err("/api/42/envelope/", &Headers::new(), other.as_bytes(), None).status(), 400);
}

#[test]
fn store_bodies_become_envelopes() {
    let (status, body, forwarded) =
        ok("/api/42/store/", &auth_headers(), br#"{"message":"from store","level":"info"}"#);
    assert_eq!((status, body["id"].as_str().map(str::len)), (200, Some(32)));
    let env = Envelope::parse(&forwarded).unwrap();
    assert_eq!(env.items[0].ty(), "event");
    assert_eq!(env.items[0].payload, br#"{"message":"from store","level":"info"}"#);
    assert_eq!(err("/api/42/store/", &auth_headers(), b"[]", None).status(), 400);
}

#[test]
fn an_event_over_one_mib_is_413_naming_the_item() {
    let payload = format!("{{\"message\":\"{}\"}}", "x".repeat(1 << 20));
    let env = format!("{{}}\n{{\"type\":\"event\",\"length\":{}}}\n{payload}\n", payload.len());
    let r = err("/api/42/envelope/", &auth_headers(), env.as_bytes(), None);
    assert_eq!((r.status(), r.to_string().as_str()), (413, "event item exceeds the limit of 1048576 bytes"));
}

#[test]
fn malformed_and_empty_envelopes_are_400() {
    assert_eq!(err("/api/42/envelope/", &auth_headers(), b"{}\n{not json\n", None).status(), 400);
    assert_eq!(err("/api/42/envelope/", &auth_headers(), b"{}\n", None), Reject::EmptyEnvelope);
}

#[test]
fn disabled_projects_and_foreign_project_ids_are_403() {
    let mut disabled = state(42, KEY);
    disabled.disabled = true;
    assert_eq!(err("/api/42/envelope/", &auth_headers(), EVENT, Some(&disabled)), Reject::ProjectDisabled);
    assert_eq!(err("/api/7/envelope/", &auth_headers(), EVENT, Some(&state(42, KEY))), Reject::ProjectIdMismatch);
}

#[test]
fn envelopes_without_events_answer_an_empty_object() {
    let env = b"{}\n{\"type\":\"client_report\"}\n{\"discarded_events\":[]}\n";
    let (status, body, _) = ok("/api/42/envelope/", &auth_headers(), env);
    assert_eq!((status, body), (200, serde_json::json!({})));
}

#[test]
fn forward_results_are_classified() {
    use picket::core::ingest::ForwardOutcome;
    assert_eq!(ForwardOutcome::from_status(Some(200)), ForwardOutcome::Delivered);
    assert_eq!(ForwardOutcome::from_status(Some(403)), ForwardOutcome::Rejected);
    assert_eq!(ForwardOutcome::from_status(Some(503)), ForwardOutcome::Unavailable);
    assert_eq!(ForwardOutcome::from_status(None).code(), "upstream_unavailable");
}
