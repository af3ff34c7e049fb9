//! Real clients through the edge in workerd to the origin: the Python sentry-sdk with gzip
//! and with brotli, and `sentry-cli send-event` (npm) — each event lands, once, at the origin.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{root, wait_for, Edge, Kind, Origin};

fn landed(origin: &Origin, id: &str) -> Value {
    wait_for(&format!("event {id} at the origin"), Duration::from_secs(30), || {
        let reply = origin.project_api(&format!("events/{id}/"));
        (reply.status == 200).then(|| reply.json())
    })
}

fn python_send(dsn: &str, compression: &str, marker: &str) -> Value {
    let python = root().join(".tools/venv/bin/python");
    assert!(python.exists(), "the Python clients are missing: run scripts/setup (scripts/test does)");
    let out = Command::new(python)
        .arg(root().join("tests/clients/python_send.py"))
        .args([dsn, compression, marker])
        .output()
        .unwrap();
    assert!(out.status.success(), "python_send failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

crate::on_both_edges!(python_sentry_sdk_with_gzip_and_brotli_lands_at_the_origin);

fn python_sentry_sdk_with_gzip_and_brotli_lands_at_the_origin(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[]);
    let dsn = origin.dsn_at(&edge.url);
    for compression in ["gzip", "br"] {
        let sent = python_send(&dsn, compression, compression);
        assert_eq!(sent["compression"], compression, "the SDK used another compression");
        let exception = landed(&origin, sent["exception"].as_str().unwrap());
        assert_eq!(exception["title"], format!("KeyError: 'missing-{compression}'"));
        assert_eq!(exception["culprit"], "__main__ in <module>");
        let message = landed(&origin, sent["message"].as_str().unwrap());
        assert_eq!(message["title"], format!("python {compression} {compression}"));
        let tags = message["tags"].as_array().unwrap();
        assert!(tags.iter().any(|t| t["key"] == "release" && t["value"] == "py-client@1.0.0"), "{tags:?}");
    }
}

crate::on_both_edges!(sentry_cli_send_event_lands_at_the_origin_with_its_ip_resolved);

fn sentry_cli_send_event_lands_at_the_origin_with_its_ip_resolved(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[]);
    let out = Command::new(root().join("node_modules/.bin/sentry-cli"))
        .args(["send-event", "--no-environ", "-m", "hello from sentry-cli through the edge", "--release", "cli@1.0"])
        .env("SENTRY_DSN", origin.dsn_at(&edge.url))
        .env_remove("SENTRY_AUTH_TOKEN")
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "sentry-cli send-event failed:\n{text}");
    // It prints the event id, hyphenated.
    let id: String = text
        .split(|c: char| !(c.is_ascii_hexdigit() || c == '-'))
        .find(|w| w.len() == 36 && w.matches('-').count() == 4)
        .unwrap_or_else(|| panic!("no event id in:\n{text}"))
        .replace('-', "");
    let event = landed(&origin, &id);
    assert_eq!(event["title"], "hello from sentry-cli through the edge");
    let ip = event["user"]["ip_address"].as_str().unwrap_or("");
    assert!(!ip.is_empty() && ip != "{{auto}}", "{{auto}} was not resolved: {ip:?}");
}
