//! The origin's web UI in Debian's Chromium (playwright-core), on SQLite and on PostgreSQL: the
//! real `picket-origin` binary, an issue made by the real Python sentry-sdk, and
//! tests/browser/ui.mjs signing in as the first owner (bootstrap.json) and working the pages —
//! stack trace and breadcrumbs, resolve, stats, project settings, a forged form refused, another
//! organization's issue 404, 1280 px and 375 px without console errors. Screenshots are kept
//! under target/browser-artifacts/ui-<store>/.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{root, wait_for, Origin};

/// Runs the browser script `script` (under tests/browser/, on lib.mjs) with `args` in Debian's
/// Chromium; panics with the failed checks unless its JSON result says ok.
pub fn drive(script: &str, args: &[&str]) -> Value {
    let chromium = std::env::var("PICKET_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/setup (scripts/test does), or name Chromium in PICKET_CHROMIUM"
    );
    let out = Command::new(root().join("node_modules/.bin/node"))
        .current_dir(root())
        .arg(format!("tests/browser/{script}"))
        .args(args)
        .output()
        .expect("run node (scripts/setup installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap_or("")).unwrap_or_else(|e| {
        panic!("{script} printed no result ({e}):\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr))
    });
    let failed: Vec<&Value> =
        result["checks"].as_array().map(|c| c.iter().filter(|c| c["ok"] != true).collect()).unwrap_or_default();
    assert!(result["ok"] == true && out.status.success(), "{script} failed: {failed:#?}\n{result:#}");
    result
}

/// Sends tests/clients/python_ui_event.py's event to `dsn`; its event id.
fn python_ui_event(dsn: &str) -> String {
    let out = Command::new(root().join(".tools/venv/bin/python"))
        .arg(root().join("tests/clients/python_ui_event.py"))
        .arg(dsn)
        .output()
        .expect("run the tests' Python (scripts/setup makes it)");
    assert!(out.status.success(), "python_ui_event failed: {}", String::from_utf8_lossy(&out.stderr));
    let sent: Value = serde_json::from_slice(&out.stdout).unwrap();
    sent["event"].as_str().unwrap().to_string()
}

/// Waits until event `id` of `org/project` (read with `token`) belongs to an issue; its id.
fn issue_of(origin: &Origin, token: &str, org: &str, project: &str, id: &str) -> String {
    let url = format!("{}/api/0/projects/{org}/{project}/events/{id}/", origin.url);
    let auth = format!("Bearer {token}");
    wait_for(&format!("event {id} processed"), Duration::from_secs(30), || {
        let reply = crate::harness::request("GET", &url, &[("authorization", &auth)], b"").ok()?;
        (reply.status == 200).then(|| reply.json()["groupID"].as_str().map(str::to_string)).flatten()
    })
}

fn tour(name: &str, envs: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start_with(dir.path(), "127.0.0.1:0", envs);
    let b = origin.bootstrap.clone();
    let id = python_ui_event(&origin.dsn_at(&origin.url));
    issue_of(&origin, &b.token, &b.organization, &b.project, &id);
    // Another organization with an issue of its own, which the owner of the first may not see.
    origin.manage(&["org", "create", "rival"]);
    let project = origin.manage(&["project", "create", "rival", "shop"]);
    let token = origin.manage(&["token", "create", "rival"]);
    let (key, project_id) = (project["public_key"].as_str().unwrap(), project["project_id"].as_u64().unwrap());
    let host = origin.url.trim_start_matches("http://");
    let rival_event = python_ui_event(&format!("http://{key}@{host}/{project_id}"));
    let rival_issue = issue_of(&origin, token["token"].as_str().unwrap(), "rival", "shop", &rival_event);
    let foreign = format!("/organizations/rival/issues/{rival_issue}/");
    let args =
        ["tour", name, &origin.url, &b.organization, &b.owner_email, &b.owner_password, "ZeroDivisionError", &foreign];
    let result = drive("ui.mjs", &args);
    assert!(result["checks"].as_array().unwrap().len() > 40, "the tour ran its checks: {result}");
    assert!(result["screenshots"].as_array().unwrap().len() >= 10, "screenshots kept: {result}");
}

#[test]
fn web_ui_in_chromium_on_sqlite() {
    tour("ui-sqlite", &[]);
}

#[test]
fn web_ui_in_chromium_on_postgres() {
    let url = crate::postgres::server().fresh_database("ui");
    tour("ui-postgres", &[("PICKET_DATABASE_URL", &url)]);
}
