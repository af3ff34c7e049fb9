//! The tunnel route on both edges, with raw requests: a DSN of this edge's host or a listed one
//! goes to its project (and lands at the origin), any other is refused with a JSON 4xx, CORS is
//! answered exactly as on the envelope endpoint, and each item has one outcome.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{request, wait_for, Edge, Kind, Origin, Reply};

/// A DSN host the edge is told to accept besides its own; nothing resolves or listens there.
pub const LISTED_HOST: &str = "sentry.picket.test";

/// An envelope whose header carries `dsn` (or none) with one event.
fn envelope(id: &str, dsn: Option<&str>, message: &str) -> Vec<u8> {
    let dsn = dsn.map(|d| format!(",\"dsn\":\"{d}\"")).unwrap_or_default();
    format!("{{\"event_id\":\"{id}\"{dsn}}}\n{{\"type\":\"event\"}}\n{{\"message\":\"{message}\"}}\n").into_bytes()
}

fn post(url: &str, body: &[u8]) -> Reply {
    request("POST", url, &[("origin", "https://shop.example"), ("content-type", "text/plain;charset=UTF-8")], body)
        .unwrap()
}

/// The CORS headers of an answer, by lower-case name.
fn cors(reply: &Reply) -> BTreeMap<String, String> {
    let names = ["access-control-", "vary"];
    reply
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| names.iter().any(|p| n.starts_with(p)))
        .collect()
}

/// Per outcome, the error quantity `stats_v2` reports.
fn error_outcomes(origin: &Origin) -> BTreeMap<String, u64> {
    let path = format!(
        "/api/0/organizations/{}/stats_v2/?field=sum(quantity)&groupBy=outcome&category=error&statsPeriod=1h",
        origin.bootstrap.organization
    );
    let mut totals = BTreeMap::new();
    for g in origin.api(&path).json()["groups"].as_array().into_iter().flatten() {
        let outcome = g["by"]["outcome"].as_str().unwrap().to_string();
        *totals.entry(outcome).or_default() += g["totals"]["sum(quantity)"].as_u64().unwrap();
    }
    totals
}

crate::on_both_edges!(the_tunnel_takes_dsns_of_this_edge_or_a_listed_host_and_refuses_others);

fn the_tunnel_takes_dsns_of_this_edge_or_a_listed_host_and_refuses_others(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[("TUNNEL_DSN_HOSTS", LISTED_HOST)]);
    let b = &origin.bootstrap;
    let tunnel = format!("{}/tunnel", edge.url);
    let envelope_url = format!("{}/api/{}/envelope/", edge.url, b.project_id);

    // CORS: the preflight and the answers' headers are the envelope endpoint's.
    let preflight_headers = [
        ("origin", "https://shop.example"),
        ("access-control-request-method", "POST"),
        ("access-control-request-headers", "content-type"),
    ];
    let tunnel_preflight = request("OPTIONS", &tunnel, &preflight_headers, b"").unwrap();
    let envelope_preflight = request("OPTIONS", &envelope_url, &preflight_headers, b"").unwrap();
    assert_eq!(tunnel_preflight.status, 200);
    assert_eq!(cors(&tunnel_preflight), cors(&envelope_preflight));
    assert_eq!(cors(&tunnel_preflight)["access-control-allow-origin"], "*");

    // This edge's own host (as the request's Host names it), and the listed one.
    let own = origin.dsn_at(&edge.url);
    let listed = format!("https://{}@{LISTED_HOST}/{}", b.public_key, b.project_id);
    let mut landed = Vec::new();
    for (n, dsn) in [(1, &own), (2, &listed)] {
        let id = format!("{n:032x}");
        let reply = post(&tunnel, &envelope(&id, Some(dsn), &format!("through the tunnel {n}")));
        assert_eq!((reply.status, reply.json()["id"].as_str()), (200, Some(id.as_str())), "{dsn}");
        let direct = post(&envelope_url, &envelope(&format!("{:032x}", n + 10), Some(dsn), "direct"));
        assert_eq!(cors(&reply), cors(&direct), "the answers' CORS headers are the envelope endpoint's");
        landed.push(id);
    }
    for id in &landed {
        let event = wait_for(&format!("event {id} at the origin"), Duration::from_secs(30), || {
            let reply = origin.project_api(&format!("events/{id}/"));
            (reply.status == 200).then(|| reply.json())
        });
        assert!(event["title"].as_str().unwrap().starts_with("through the tunnel"), "{event}");
    }

    // Refusals: JSON with a detail, readable cross-origin, nothing forwarded anywhere.
    let refuse = |id: &str, dsn: Option<&str>, status: u16, detail: &str| {
        let reply = post(&tunnel, &envelope(id, dsn, "refused"));
        assert_eq!(reply.status, status, "{}", String::from_utf8_lossy(&reply.body));
        let json: Value = reply.json();
        assert!(json["detail"].as_str().unwrap().contains(detail), "{json}");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    };
    let key = &b.public_key;
    let id = |n: u32| format!("{:032x}", 100 + n);
    refuse(&id(1), Some(&format!("http://{key}@127.0.0.1:6379/{}", b.project_id)), 403, "127.0.0.1:6379");
    refuse(&id(2), Some(&format!("https://{key}@evil.example/{}", b.project_id)), 403, "evil.example");
    refuse(&id(3), None, 400, "no dsn");
    refuse(&id(4), Some("not a dsn"), 400, "not a DSN");
    // The project must exist: an unknown key, and the key with another project's id.
    let unknown = format!("https://{}@{LISTED_HOST}/{}", "f".repeat(32), b.project_id);
    refuse(&id(5), Some(&unknown), 401, "unknown public key");
    let other_project = format!("https://{key}@{LISTED_HOST}/{}", b.project_id + 1000);
    refuse(&id(6), Some(&other_project), 403, "ProjectId");
    let get = request("GET", &tunnel, &[], b"").unwrap();
    assert_eq!((get.status, get.header("content-type")), (405, Some("application/json")));

    // One outcome per item: the four accepted events, and the one refused once its project was
    // known (the others never reached a project).
    let want = BTreeMap::from([("accepted".to_string(), 4), ("invalid".to_string(), 1)]);
    wait_for("the outcomes at the origin", Duration::from_secs(30), || (error_outcomes(&origin) == want).then_some(()));
}
