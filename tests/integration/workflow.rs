//! The issue workflow through the API and the real `sentry-cli`: resolve, mute, unresolve,
//! status queries, and a regression when a resolved issue sees a new event.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{request, root, wait_for, Origin};

fn cli(origin: &Origin, args: &[&str]) -> String {
    let b = &origin.bootstrap;
    let out = Command::new(root().join("node_modules/.bin/sentry-cli"))
        .args(args)
        .env("SENTRY_URL", &origin.url)
        .env("SENTRY_AUTH_TOKEN", &b.token)
        .env("SENTRY_ORG", &b.organization)
        .env("SENTRY_PROJECT", &b.project)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "sentry-cli {args:?}: {text}{}", String::from_utf8_lossy(&out.stderr));
    text
}

fn send(origin: &Origin, id: &str, message: &str) {
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    let url = format!("{}/api/{}/envelope/", origin.url, origin.bootstrap.project_id);
    let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"{message}\"}}\n");
    assert_eq!(request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes()).unwrap().status, 200);
}

fn issue_by_title(origin: &Origin, title: &str) -> Value {
    let list = origin.project_api("issues/?query=").json();
    list.as_array().unwrap().iter().find(|i| i["title"] == title).cloned().unwrap_or(Value::Null)
}

fn org_issue(origin: &Origin, id: &str) -> Value {
    origin.api(&format!("/api/0/organizations/{}/issues/{id}/", origin.bootstrap.organization)).json()
}

#[test]
fn resolve_mute_unresolve_and_regress_with_sentry_cli() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    send(&origin, "a0000000000000000000000000000001", "order 1 failed");
    send(&origin, "a0000000000000000000000000000002", "order 2 failed");
    send(&origin, "b0000000000000000000000000000001", "cache miss storm");
    let alpha = wait_for("two issues", Duration::from_secs(20), || {
        let a = issue_by_title(&origin, "order 1 failed");
        let b = issue_by_title(&origin, "cache miss storm");
        (a["count"] == "2" && b["count"] == "1").then_some(a)
    });
    let beta = issue_by_title(&origin, "cache miss storm");
    let (a, b) = (alpha["id"].as_str().unwrap(), beta["id"].as_str().unwrap());

    cli(&origin, &["issues", "resolve", "-i", a]);
    assert_eq!(org_issue(&origin, a)["status"], "resolved");
    let resolved = cli(&origin, &["issues", "list", "--query", "is:resolved"]);
    assert!(resolved.contains("order 1 failed") && !resolved.contains("cache miss storm"), "{resolved}");

    cli(&origin, &["issues", "mute", "-i", b]);
    assert_eq!(org_issue(&origin, b)["status"], "ignored");
    let unresolved = origin.project_api("issues/?query=is:unresolved").json();
    assert!(unresolved.as_array().unwrap().is_empty(), "{unresolved}");

    // A new event of a resolved issue reopens it as a regression; a muted one stays muted.
    send(&origin, "a0000000000000000000000000000003", "order 3 failed");
    send(&origin, "b0000000000000000000000000000002", "cache miss storm");
    let regressed = wait_for("the regression", Duration::from_secs(20), || {
        let i = org_issue(&origin, a);
        (i["count"] == "3").then_some(i)
    });
    assert_eq!(
        (regressed["status"].as_str(), regressed["substatus"].as_str()),
        (Some("unresolved"), Some("regressed"))
    );
    wait_for("the muted issue's second event", Duration::from_secs(20), || {
        (org_issue(&origin, b)["count"] == "2").then_some(())
    });
    assert_eq!(org_issue(&origin, b)["status"], "ignored");

    cli(&origin, &["issues", "unresolve", "-i", b]);
    assert_eq!(org_issue(&origin, b)["status"], "unresolved");

    // The issue's own events, newest first, through the organization endpoint.
    let events =
        origin.api(&format!("/api/0/organizations/{}/issues/{a}/events/", origin.bootstrap.organization)).json();
    let ids: Vec<&str> = events.as_array().unwrap().iter().map(|e| e["eventID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{ids:?}");
    assert!(ids.contains(&"a0000000000000000000000000000003"));

    // Bulk by status, as `sentry-cli issues resolve --status unresolved` does.
    cli(&origin, &["issues", "resolve", "--status", "unresolved"]);
    let open = origin.project_api("issues/?query=is:unresolved").json();
    assert!(open.as_array().unwrap().is_empty(), "{open}");
    let bad = request(
        "PUT",
        &format!(
            "{}/api/0/projects/{}/{}/issues/?id={a}",
            origin.url, origin.bootstrap.organization, origin.bootstrap.project
        ),
        &[("authorization", &format!("Bearer {}", origin.bootstrap.token))],
        br#"{"status":"exploded"}"#,
    )
    .unwrap();
    assert_eq!((bad.status, bad.json()["detail"].as_str()), (400, Some("unknown status \"exploded\"")));
}

#[test]
fn scrubbing_is_on_by_default_and_follows_the_project_settings() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let auth = format!("Sentry sentry_key={}, sentry_version=7", b.public_key);
    let url = format!("{}/api/{}/envelope/", origin.url, b.project_id);
    let send = |id: &str| {
        let event =
            r#"{"message":"paid with 4111 1111 1111 1111","extra":{"password":"hunter2","customer_name":"Jo"}}"#;
        let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\"}}\n{event}\n");
        assert_eq!(request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes()).unwrap().status, 200);
    };
    let detail = |id: &str| {
        wait_for("the event", Duration::from_secs(20), || {
            let r = origin.project_api(&format!("events/{id}/"));
            (r.status == 200).then(|| r.json())
        })
    };
    send("c0000000000000000000000000000001");
    let first = detail("c0000000000000000000000000000001");
    assert_eq!(first["title"], "paid with [creditcard]");
    assert_eq!(first["context"]["password"], "[Filtered]");
    assert_eq!(first["context"]["customer_name"], "Jo");

    let project = format!("{}/api/0/projects/{}/{}/", origin.url, b.organization, b.project);
    let bearer = format!("Bearer {}", b.token);
    let put = request("PUT", &project, &[("authorization", &bearer)], br#"{"sensitiveFields":["customer"]}"#).unwrap();
    assert_eq!(put.json()["sensitiveFields"], serde_json::json!(["customer"]));
    send("c0000000000000000000000000000002");
    assert_eq!(detail("c0000000000000000000000000000002")["context"]["customer_name"], "[Filtered]");

    let off = request("PUT", &project, &[("authorization", &bearer)], br#"{"dataScrubber":false}"#).unwrap();
    assert_eq!(off.json()["dataScrubber"], false);
    send("c0000000000000000000000000000003");
    assert_eq!(detail("c0000000000000000000000000000003")["context"]["password"], "hunter2");
}
