//! Inbound filters at the edge in workerd, set through Sentry's filter API and project options:
//! each filter drops its event without changing the SDK's answer, and says why in the stats.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{request, wait_for, Edge, Kind, Origin};

const IE8: &str = "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)";
const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";

fn api(origin: &Origin, method: &str, path: &str, body: Value) -> (u16, Vec<u8>) {
    let bearer = format!("Bearer {}", origin.bootstrap.token);
    let r =
        request(method, &format!("{}{path}", origin.url), &[("authorization", &bearer)], body.to_string().as_bytes())
            .unwrap();
    (r.status, r.body)
}

crate::on_both_edges!(each_inbound_filter_drops_its_event_and_keeps_the_answer);

fn each_inbound_filter_drops_its_event_and_keeps_the_answer(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let base = format!("/api/0/projects/{}/{}/", origin.bootstrap.organization, origin.bootstrap.project);
    for id in ["localhost", "browser-extensions", "web-crawlers"] {
        assert_eq!(api(&origin, "PUT", &format!("{base}filters/{id}/"), json!({ "active": true })).0, 204, "{id}");
    }
    assert_eq!(
        api(&origin, "PUT", &format!("{base}filters/legacy-browsers/"), json!({ "subfilters": ["ie_pre_9"] })).0,
        204
    );
    assert_eq!(api(&origin, "PUT", &format!("{base}filters/nonsense/"), json!({ "active": true })).0, 404);
    let options = json!({ "options": {
        "filters:error_messages": "*ConnectionError*",
        "filters:releases": "0.9.*",
        "filters:blacklisted_ips": "198.51.100.0/24",
        "filters:ignored_transactions": "*healthz*",
    }});
    assert_eq!(api(&origin, "PUT", &base, options).0, 200);
    let listed: Value =
        serde_json::from_slice(&api(&origin, "GET", &format!("{base}filters/"), json!(null)).1).unwrap();
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "legacy-browsers" && f["active"] == json!(["ie_pre_9"])));

    // Behind one proxy it was told of, the edge takes the client from that proxy's entry in
    // X-Forwarded-For (event 7's "client" is on the blocked network).
    let edge = Edge::for_origin(kind, &origin, &[("TRUSTED_PROXIES", "1")]);
    let url = format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    let send = |n: u32, ty: &str, payload: Value, extra: &[(&str, &str)]| {
        let id = format!("{n:032x}");
        let body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"{ty}\"}}\n{payload}\n");
        let mut headers = vec![("x-sentry-auth", auth.as_str())];
        headers.extend_from_slice(extra);
        let r = request("POST", &url, &headers, body.as_bytes()).unwrap();
        assert_eq!((r.status, r.json()["id"].as_str()), (200, Some(id.as_str())), "filtering never changes the answer");
    };
    let ua = |ua: &str| json!({ "message": "from a browser", "request": { "url": "https://shop.example/", "headers": [["User-Agent", ua]] } });
    send(1, "event", json!({ "message": "dev box", "request": { "url": "http://localhost:3000/cart" } }), &[]);
    send(
        2,
        "event",
        json!({ "exception": { "values": [{ "type": "Error", "value": "x",
        "stacktrace": { "frames": [{ "abs_path": "chrome-extension://abcdef/content.js", "function": "f" }] } }] } }),
        &[],
    );
    send(3, "event", ua(GOOGLEBOT), &[]);
    send(4, "event", ua(IE8), &[]);
    send(
        5,
        "event",
        json!({ "exception": { "values": [{ "type": "requests.ConnectionError", "value": "timed out" }] } }),
        &[],
    );
    send(6, "event", json!({ "message": "old build", "release": "0.9.4" }), &[]);
    send(7, "event", json!({ "message": "from a blocked network" }), &[("x-forwarded-for", "198.51.100.23")]);
    send(
        8,
        "transaction",
        json!({ "type": "transaction", "transaction": "/healthz", "start_timestamp": 1, "timestamp": 2 }),
        &[],
    );
    send(9, "event", json!({ "message": "a real problem", "release": "1.0.0" }), &[]);

    let stats_path = format!(
        "/api/0/organizations/{}/stats_v2/?field=sum(quantity)&groupBy=outcome&groupBy=reason&groupBy=category&statsPeriod=1h",
        origin.bootstrap.organization
    );
    let want = [
        ("localhost", "error"),
        ("browser-extensions", "error"),
        ("web-crawlers", "error"),
        ("legacy-browsers", "error"),
        ("error-message", "error"),
        ("release-version", "error"),
        ("ip-address", "error"),
        ("filtered-transaction", "transaction"),
    ];
    wait_for("a filtered outcome for every filter", Duration::from_secs(30), || {
        let stats = origin.api(&stats_path).json();
        let groups = stats["groups"].as_array().cloned().unwrap_or_default();
        want.iter()
            .all(|(reason, category)| {
                groups.iter().any(|g| {
                    g["by"]["outcome"] == "filtered"
                        && g["by"]["reason"] == *reason
                        && g["by"]["category"] == *category
                        && g["totals"]["sum(quantity)"] == 1
                })
            })
            .then_some(())
    });
    let stored = wait_for("the one real event", Duration::from_secs(30), || {
        let events = origin.project_api("events/").json();
        (!events.as_array().unwrap().is_empty()).then_some(events)
    });
    let ids: Vec<&str> = stored.as_array().unwrap().iter().map(|e| e["eventID"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![format!("{:032x}", 9)]);

    // Refused once its project is known: counted as `invalid` for that project.
    let elsewhere = format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id + 1000);
    let body = "{\"event_id\":\"0000000000000000000000000000000a\"}\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n";
    assert_eq!(request("POST", &elsewhere, &[("x-sentry-auth", &auth)], body.as_bytes()).unwrap().status, 403);
    wait_for("the invalid outcome", Duration::from_secs(30), || {
        let stats = origin.api(&stats_path).json();
        stats["groups"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| {
                g["by"]["outcome"] == "invalid"
                    && g["by"]["reason"] == "project_id"
                    && g["totals"]["sum(quantity)"] == 1
            })
            .then_some(())
    });
}
