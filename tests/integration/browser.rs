//! `@sentry/browser` (npm, pinned) in Debian's Chromium (playwright-core, pinned) on a page
//! served from another port than the edge, so every request the SDK makes is cross-origin and
//! works only if the edge answers CORS right: an uncaught error and an unhandled rejection
//! arrive at the origin as events of issues, with the browser and OS read from Chromium's
//! User-Agent — sent directly to the DSN and through the edge's tunnel, on both edges — and
//! show in the web UI with that browser and OS.
//! The driver is tests/browser/sdk.mjs on tests/browser/lib.mjs; screenshots are kept under
//! target/browser-artifacts/.

use std::time::Duration;

use serde_json::Value;

use crate::harness::{wait_for, Edge, Kind, Origin};
use crate::tunnel::LISTED_HOST;
use crate::ui::drive;

/// Waits for event `id` at the origin and checks what the browser made of it.
fn landed(origin: &Origin, id: &str, marker: &str) -> Value {
    let event = wait_for(&format!("event {id} at the origin"), Duration::from_secs(30), || {
        let reply = origin.project_api(&format!("events/{id}/"));
        (reply.status == 200).then(|| reply.json())
    });
    let title = event["title"].as_str().unwrap_or_default();
    let kinds = [("TypeError", "uncaught"), ("RangeError", "rejection")];
    let (ty, _) = kinds
        .iter()
        .find(|(ty, what)| title == format!("{ty}: picket browser {what} {marker}"))
        .unwrap_or_else(|| panic!("{title:?} is neither the error nor the rejection of {marker}"));
    let contexts = &event["contexts"];
    let browser = contexts["browser"]["name"].as_str().unwrap_or_default();
    assert!(browser.contains("Chrome"), "the browser from the User-Agent: {contexts}");
    assert_eq!(contexts["os"]["name"], "Linux", "the OS from the User-Agent: {contexts}");
    // It is an event of an issue the API shows: one issue per exception type (the later runs'
    // events join the issue the first one made).
    let b = &origin.bootstrap;
    let group = event["groupID"].as_str().unwrap();
    let issue = origin.api(&format!("/api/0/organizations/{}/issues/{group}/", b.organization));
    assert_eq!(issue.status, 200);
    let issue_title = issue.json()["title"].as_str().unwrap_or_default().to_string();
    assert!(issue_title.starts_with(&format!("{ty}: picket browser ")), "{issue_title:?} for {title:?}");
    event
}

crate::on_both_edges!(browser_sdk_errors_arrive_directly_and_through_the_tunnel_with_cors);

fn browser_sdk_errors_arrive_directly_and_through_the_tunnel_with_cors(kind: Kind) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[("TUNNEL_DSN_HOSTS", LISTED_HOST)]);
    let b = &origin.bootstrap;
    let platform = match kind {
        Kind::Workerd => "workerd",
        Kind::Spin => "spin",
    };
    // Direct: the SDK posts to the DSN's envelope endpoint at the edge.
    let direct_dsn = origin.dsn_at(&edge.url);
    let envelope_url = format!("{}/api/{}/envelope/", edge.url, b.project_id);
    // Tunnel: the DSN names a host of the deployment's (listed in TUNNEL_DSN_HOSTS), and the SDK
    // posts to the edge's tunnel path instead, with the DSN in the envelope header.
    let tunnel_dsn = format!("https://{}@{LISTED_HOST}/{}", b.public_key, b.project_id);
    let tunnel = format!("{}/tunnel", edge.url);
    let runs = [
        (format!("sdk-{platform}-direct"), direct_dsn, envelope_url, None),
        (format!("sdk-{platform}-tunnel"), tunnel_dsn, tunnel.clone(), Some(tunnel)),
    ];
    for (name, dsn, target, tunnel) in &runs {
        let mut args = vec![name.as_str(), dsn.as_str(), target.as_str()];
        args.extend(tunnel.as_deref());
        let result = drive("sdk.mjs", &args);
        for page in result["runs"].as_array().unwrap() {
            let marker = page["marker"].as_str().unwrap();
            let sent = page["sent"].as_array().unwrap();
            assert_eq!(sent.len(), 2, "{page}");
            let titles: Vec<String> = sent
                .iter()
                .map(|id| landed(&origin, id.as_str().unwrap(), marker)["title"].as_str().unwrap().to_string())
                .collect();
            assert_ne!(titles[0], titles[1], "the error and the rejection are two events: {titles:?}");
            for answer in page["answers"].as_array().unwrap() {
                assert!(answer["url"].as_str().unwrap().starts_with(target.as_str()), "{answer}");
            }
        }
    }
    // And they show in the web UI, with the browser and the OS, to the first owner.
    let name = format!("sdk-{platform}-ui");
    let sees = [
        "sees",
        &name,
        &origin.url,
        &b.organization,
        &b.owner_email,
        &b.owner_password,
        "TypeError: picket browser",
        "RangeError: picket browser",
    ];
    drive("ui.mjs", &sees);
}
