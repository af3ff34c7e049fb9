//! Trust between edges and the origin, in Relay's format: only requests signed by a trusted
//! edge reach the relay API; unsigned, forged, stale, replayed and untrusted ones get 401/403
//! JSON; Relay's own core agrees with Picket's signatures both ways; and only a signed edge
//! may say who the client was.

use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use picket::core::sign::{Identity, SecretKey};
use serde_json::{json, Value};

use crate::harness::{origin_binary, request, root, wait_for, Origin, Reply};

const CONFIGS: &str = "/api/0/relays/projectconfigs/?version=3";

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn post_signed(origin: &Origin, path: &str, body: &[u8], relay_id: &str, signature: &str) -> Reply {
    let headers = [("x-sentry-relay-id", relay_id), ("x-sentry-relay-signature", signature)];
    request("POST", &format!("{}{path}", origin.url), &headers, body).unwrap()
}

fn refused(reply: &Reply, status: u16, detail: &str) {
    assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let said = reply.json()["detail"].as_str().unwrap_or("").to_string();
    assert!(said.contains(detail), "{said:?} does not say {detail:?}");
}

fn relay_oracle(input: Value) -> Value {
    let mut python = Command::new(root().join(".tools/venv/bin/python"));
    python.arg(root().join("tests/clients/relay_sign.py"));
    crate::oracle::run(python, &input)
}

#[test]
fn unsigned_forged_stale_replayed_and_untrusted_requests_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let body = format!("{{\"publicKeys\":[\"{}\"]}}", b.public_key);
    let body = body.as_bytes();
    let trusted: SecretKey = b.edge_secret_key.parse().unwrap();

    assert_eq!(origin.relay_post(CONFIGS, body).status, 200, "a trusted edge gets configs");
    let unsigned = request("POST", &format!("{}{CONFIGS}", origin.url), &[], body).unwrap();
    refused(&unsigned, 401, "signed by a trusted edge");
    let outcomes = request("POST", &format!("{}/api/0/relays/outcomes/", origin.url), &[], b"{\"outcomes\":[]}");
    refused(&outcomes.unwrap(), 401, "signed by a trusted edge");
    let half = request("POST", &format!("{}{CONFIGS}", origin.url), &[("x-sentry-relay-id", &b.edge_relay_id)], body);
    refused(&half.unwrap(), 401, "both");

    // Forged: the trusted edge's id, another key.
    let forged = SecretKey::from_seed([66; 32]).sign(body, now_ms(), 1);
    refused(&post_signed(&origin, CONFIGS, body, &b.edge_relay_id, &forged), 401, "does not match");
    // The trusted key over another body.
    let other = trusted.sign(b"{\"publicKeys\":[]}", now_ms(), 2);
    refused(&post_signed(&origin, CONFIGS, body, &b.edge_relay_id, &other), 401, "does not match");
    // Stale: signed ten minutes ago.
    let stale = trusted.sign(body, now_ms() - 600_000, 3);
    refused(&post_signed(&origin, CONFIGS, body, &b.edge_relay_id, &stale), 401, "expired");
    // Replayed: the same signed request twice.
    let once = trusted.sign(body, now_ms(), 4);
    assert_eq!(post_signed(&origin, CONFIGS, body, &b.edge_relay_id, &once).status, 200);
    refused(&post_signed(&origin, CONFIGS, body, &b.edge_relay_id, &once), 401, "already used");
    // Untrusted: a well-signed request from an edge the origin does not know.
    let stranger =
        Identity { relay_id: "5e1f3c2a-0000-4000-8000-00000000beef".into(), key: SecretKey::from_seed([5; 32]) };
    let [(_, id), (_, sig)] = stranger.headers(body, now_ms(), 5);
    refused(&post_signed(&origin, CONFIGS, body, &id, &sig), 403, "not trusted");
    // Regression: a body over axum's 2 MB default got a plain-text 413, not JSON. Sent raw: the
    // origin may answer before it has read it all.
    let head =
        format!("POST {CONFIGS} HTTP/1.1\r\nhost: o\r\nconnection: close\r\ncontent-length: {}\r\n\r\n", 3 << 20);
    let wire = [head.into_bytes(), vec![b' '; 3 << 20]].concat();
    let (status, text) = crate::hostile::send_raw(origin.addr(), &wire).unwrap();
    assert_eq!(status, 413, "{text}");
    assert!(text.contains("\"detail\"") && text.contains("too large"), "{text}");
    // A forwarded envelope with a bad signature is refused, not taken as an SDK's.
    let envelope =
        b"{\"event_id\":\"abababababababababababababababab\"}\n{\"type\":\"event\"}\n{\"message\":\"forged\"}\n";
    let path = format!("/api/{}/envelope/", b.project_id);
    refused(&post_signed(&origin, &path, envelope, &b.edge_relay_id, &forged), 401, "does not match");
}

#[test]
fn relays_own_core_and_picket_agree_on_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let body = format!("{{\"publicKeys\":[\"{}\"]}}", origin.bootstrap.public_key);
    // Relay signs; the origin, trusting Relay's public key, accepts it: a real Relay could
    // sit in front of the origin.
    let made = relay_oracle(json!({ "op": "sign", "body": body }));
    let relay_id = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
    let trust = Command::new(origin_binary())
        .args(["--data-dir", origin.data_dir().to_str().unwrap(), "edge", "trust", relay_id])
        .arg(made["public"].as_str().unwrap())
        .args(["--name", "relay"])
        .output()
        .unwrap();
    assert!(trust.status.success(), "{}", String::from_utf8_lossy(&trust.stderr));
    let reply = post_signed(&origin, CONFIGS, body.as_bytes(), relay_id, made["signature"].as_str().unwrap());
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    assert!(reply.json()["configs"][&origin.bootstrap.public_key].is_object());
    // Picket signs (with its extra nonce); Relay's verifier accepts it, and rejects a change.
    let secret: SecretKey = made["secret"].as_str().unwrap().parse().unwrap();
    assert_eq!(secret.public().to_string(), made["public"], "the same key from the same seed");
    let signature = secret.sign(body.as_bytes(), now_ms(), 42);
    let check = |body: &str| {
        relay_oracle(
            json!({ "op": "verify", "public": made["public"], "body": body, "signature": signature, "max_age": 300 }),
        )
    };
    assert_eq!(check(&body)["valid"], true);
    assert_eq!(check("tampered")["valid"], false);
}

#[test]
fn only_a_signed_edge_may_name_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let event = |id: &str| {
        format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"ip\",\"user\":{{\"ip_address\":\"{{{{auto}}}}\"}}}}\n")
    };
    let auth = format!("Sentry sentry_key={}, sentry_version=7", b.public_key);
    let path = format!("/api/{}/envelope/", b.project_id);
    let direct = "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1";
    let headers = [("x-sentry-auth", auth.as_str()), ("x-forwarded-for", "203.0.113.9")];
    let reply = request("POST", &format!("{}{path}", origin.url), &headers, event(direct).as_bytes()).unwrap();
    assert_eq!(reply.status, 200);
    let key: SecretKey = b.edge_secret_key.parse().unwrap();
    let signed = "c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2c2";
    let body = event(signed);
    let sig = key.sign(body.as_bytes(), now_ms(), 7);
    let headers = [
        ("x-sentry-auth", auth.as_str()),
        ("x-forwarded-for", "203.0.113.9"),
        ("x-sentry-relay-id", b.edge_relay_id.as_str()),
        ("x-sentry-relay-signature", sig.as_str()),
    ];
    assert_eq!(request("POST", &format!("{}{path}", origin.url), &headers, body.as_bytes()).unwrap().status, 200);
    let ip = |id: &str| {
        wait_for(&format!("event {id}"), Duration::from_secs(20), || {
            let r = origin.project_api(&format!("events/{id}/"));
            (r.status == 200).then(|| r.json()["user"]["ip_address"].as_str().unwrap_or("").to_string())
        })
    };
    assert_eq!(ip(direct), "127.0.0.1", "an SDK's own X-Forwarded-For is not believed");
    assert_eq!(ip(signed), "203.0.113.9", "the edge's is");
}
