//! Organizations are sealed from each other: another organization's token gets 404 on every
//! endpoint of this one and changes nothing; keys and projects through the API and the CLI.

use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::{request, wait_for, Origin};

/// The project configs the origin serves edges for the bootstrap key.
fn project_config(origin: &Origin) -> Value {
    let body = format!("{{\"publicKeys\":[\"{}\"]}}", origin.bootstrap.public_key);
    origin.relay_post("/api/0/relays/projectconfigs/?version=3", body.as_bytes()).json()
}

#[test]
fn another_organizations_token_sees_nothing_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let auth = format!("Sentry sentry_key={}, sentry_version=7", b.public_key);
    let body =
        b"{\"event_id\":\"77777777777777777777777777777777\"}\n{\"type\":\"event\"}\n{\"message\":\"private\"}\n";
    request("POST", &format!("{}/api/{}/envelope/", origin.url, b.project_id), &[("x-sentry-auth", &auth)], body)
        .unwrap();
    let issue = wait_for("the issue", Duration::from_secs(20), || {
        origin.project_api("issues/?query=").json().as_array().unwrap().first().cloned()
    });
    let issue_id = issue["id"].as_str().unwrap().to_string();

    // A second organization, made with the CLI while the server runs.
    origin.manage(&["org", "create", "rival"]);
    let rival_project = origin.manage(&["project", "create", "rival", "app"]);
    let rival = origin.manage(&["token", "create", "rival"])["token"].as_str().unwrap().to_string();
    let (org, project) = (b.organization.as_str(), b.project.as_str());
    let endpoints = [
        ("GET", format!("/api/0/projects/{org}/{project}/")),
        ("PUT", format!("/api/0/projects/{org}/{project}/")),
        ("GET", format!("/api/0/projects/{org}/{project}/issues/")),
        ("PUT", format!("/api/0/projects/{org}/{project}/issues/?id={issue_id}")),
        ("GET", format!("/api/0/projects/{org}/{project}/events/")),
        ("GET", format!("/api/0/projects/{org}/{project}/events/77777777777777777777777777777777/")),
        ("GET", format!("/api/0/projects/{org}/{project}/keys/")),
        ("POST", format!("/api/0/projects/{org}/{project}/keys/")),
        ("GET", format!("/api/0/organizations/{org}/projects/")),
        ("GET", format!("/api/0/organizations/{org}/issues/{issue_id}/")),
        ("PUT", format!("/api/0/organizations/{org}/issues/{issue_id}/")),
        ("GET", format!("/api/0/organizations/{org}/issues/{issue_id}/events/")),
    ];
    let change = br#"{"status":"resolved","allowedDomains":["evil.example"],"name":"stolen"}"#;
    for (method, path) in &endpoints {
        let bearer = format!("Bearer {rival}");
        let reply = request(method, &format!("{}{path}", origin.url), &[("authorization", &bearer)], change).unwrap();
        assert_eq!(reply.status, 404, "{method} {path} with another organization's token");
        assert!(reply.json()["detail"].is_string());
        let anonymous = request(method, &format!("{}{path}", origin.url), &[], change).unwrap();
        assert_eq!(anonymous.status, 401, "{method} {path} without a token");
        let forged =
            request(method, &format!("{}{path}", origin.url), &[("authorization", "Bearer sntryu_forged")], change)
                .unwrap();
        assert_eq!(forged.status, 401, "{method} {path} with an unknown token");
    }
    // Nothing changed in the first organization.
    assert_eq!(origin.api(&format!("/api/0/organizations/{org}/issues/{issue_id}/")).json()["status"], "unresolved");
    assert_eq!(origin.project_api("").json()["allowedDomains"], serde_json::json!(["*"]));
    assert_eq!(origin.project_api("keys/").json().as_array().unwrap().len(), 1);
    // Each token lists only its own organization's projects.
    let mine = origin.api("/api/0/projects/").json();
    let theirs = request(
        "GET",
        &format!("{}/api/0/projects/", origin.url),
        &[("authorization", &format!("Bearer {rival}"))],
        b"",
    )
    .unwrap()
    .json();
    let slugs =
        |v: &Value| v.as_array().unwrap().iter().map(|p| p["slug"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!((slugs(&mine), slugs(&theirs)), (vec![project.to_string()], vec!["app".to_string()]));
    // The rival project's own key works for ingest, into its own project only.
    let rival_auth = format!("Sentry sentry_key={}, sentry_version=7", rival_project["public_key"].as_str().unwrap());
    let into_a = request(
        "POST",
        &format!("{}/api/{}/envelope/", origin.url, b.project_id),
        &[("x-sentry-auth", &rival_auth)],
        body,
    )
    .unwrap();
    assert_eq!(into_a.status, 403, "a key of one project cannot send into another");
}

#[test]
fn keys_are_listed_and_created_with_their_dsns() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start_with(dir.path(), "127.0.0.1:0", &[("PICKET_DSN_URL", "https://edge.example.com")]);
    let b = origin.bootstrap.clone();
    let keys = origin.project_api("keys/").json();
    assert_eq!(keys[0]["public"], b.public_key.as_str());
    assert_eq!(keys[0]["dsn"]["public"], format!("https://{}@edge.example.com/{}", b.public_key, b.project_id));
    assert_eq!(
        keys[0]["dsn"]["security"],
        format!("https://edge.example.com/api/{}/security/?sentry_key={}", b.project_id, b.public_key)
    );
    let url = format!("{}/api/0/projects/{}/{}/keys/", origin.url, b.organization, b.project);
    let bearer = format!("Bearer {}", b.token);
    let created = request("POST", &url, &[("authorization", &bearer)], br#"{"name":"ci"}"#).unwrap();
    assert_eq!((created.status, created.json()["name"].as_str()), (201, Some("ci")));
    let new_key = created.json()["public"].as_str().unwrap().to_string();
    assert_eq!(origin.project_api("keys/").json().as_array().unwrap().len(), 2);
    // The new key ingests at once.
    let auth = format!("Sentry sentry_key={new_key}, sentry_version=7");
    let body =
        b"{\"event_id\":\"88888888888888888888888888888888\"}\n{\"type\":\"event\"}\n{\"message\":\"new key\"}\n";
    let sent =
        request("POST", &format!("{}/api/{}/envelope/", origin.url, b.project_id), &[("x-sentry-auth", &auth)], body)
            .unwrap();
    assert_eq!(sent.status, 200);
    let bad = request("POST", &url, &[("authorization", &bearer)], b"{not json").unwrap();
    assert_eq!(bad.status, 400);
}

#[test]
fn retention_deletes_what_is_older_than_the_project_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let url = format!("{}/api/0/projects/{}/{}/", origin.url, b.organization, b.project);
    let bearer = format!("Bearer {}", b.token);
    let bad = request("PUT", &url, &[("authorization", &bearer)], br#"{"eventRetention":0}"#).unwrap();
    assert_eq!(bad.status, 400);
    let set = request("PUT", &url, &[("authorization", &bearer)], br#"{"eventRetention":1}"#).unwrap();
    assert_eq!((set.status, set.json()["eventRetention"].as_i64()), (200, Some(1)));
    // Edges learn it with the project config, as Relay's `eventRetention`.
    let configs = project_config(&origin);
    assert_eq!(configs["configs"][&b.public_key]["config"]["eventRetention"], 1);

    let auth = format!("Sentry sentry_key={}, sentry_version=7", b.public_key);
    let body =
        b"{\"event_id\":\"99999999999999999999999999999999\"}\n{\"type\":\"event\"}\n{\"message\":\"short-lived\"}\n";
    request("POST", &format!("{}/api/{}/envelope/", origin.url, b.project_id), &[("x-sentry-auth", &auth)], body)
        .unwrap();
    wait_for("the event", Duration::from_secs(20), || {
        (origin.project_api("events/99999999999999999999999999999999/").status == 200).then_some(())
    });
    let now = origin.manage(&["sweep"]);
    assert_eq!((now["events"].as_u64(), now["issues"].as_u64()), (Some(0), Some(0)));
    let later = rfc3339_in_days(2);
    let swept = origin.manage(&["sweep", "--as-of", &later]);
    assert_eq!((swept["events"].as_u64(), swept["issues"].as_u64()), (Some(1), Some(1)), "{swept}");
    assert_eq!(origin.project_api("events/99999999999999999999999999999999/").status, 404);
    assert!(origin.project_api("issues/?query=").json().as_array().unwrap().is_empty());
}

/// RFC 3339 for now plus `days`, from the system clock (tests may read it; the core may not).
fn rfc3339_in_days(days: u64) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + days * 86_400;
    let out = Command::new("date").args(["-u", "-d", &format!("@{secs}"), "+%Y-%m-%dT%H:%M:%SZ"]).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn the_cli_manages_quotas_filters_and_key_limits_that_edges_receive() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = origin.bootstrap.clone();
    let quota = r#"[{"id":"cap","categories":["error"],"scope":"organization","limit":500,"window":3600,"reasonCode":"org_cap"}]"#;
    origin.manage(&["quota", "set", &b.organization, quota]);
    let project_quota = r#"[{"categories":["transaction"],"scope":"project","limit":0}]"#;
    origin.manage(&["quota", "set", &b.organization, project_quota, "--project", &b.project]);
    origin.manage(&["filter", "set", &b.organization, &b.project, r#"{"webCrawlers":{"isEnabled":true}}"#]);
    let limited = origin.manage(&[
        "key",
        "rate-limit",
        &b.organization,
        &b.project,
        &b.public_key,
        "--window",
        "60",
        "--count",
        "7",
    ]);
    assert_eq!(limited["rateLimit"], serde_json::json!({ "window": 60, "count": 7 }));

    assert_eq!(
        origin.api(&format!("/api/0/organizations/{}/quotas/", b.organization)).json()[0]["reasonCode"],
        "org_cap"
    );
    assert_eq!(origin.project_api("quotas/").json()[0]["limit"], 0);
    assert!(origin
        .project_api("filters/")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == "web-crawlers" && f["active"] == true));
    assert_eq!(origin.project_api("keys/").json()[0]["rateLimit"]["count"], 7);
    let configs = project_config(&origin);
    let config = &configs["configs"][&b.public_key]["config"];
    let reasons: Vec<&str> =
        config["quotas"].as_array().unwrap().iter().filter_map(|q| q["reasonCode"].as_str()).collect();
    assert_eq!(reasons, vec!["org_cap", "key_quota"], "organization, project and key quotas, in that order: {config}");
    assert_eq!(config["quotas"].as_array().unwrap().len(), 3);
    assert_eq!(config["filterSettings"]["webCrawlers"]["isEnabled"], true);
    origin.manage(&["project", "allowed-domains", &b.organization, &b.project, "*.shop.example", "localhost:3000"]);
    assert_eq!(
        origin.project_api("").json()["allowedDomains"],
        serde_json::json!(["*.shop.example", "localhost:3000"])
    );
}
