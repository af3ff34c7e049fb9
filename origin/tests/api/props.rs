//! Property: whatever the query string, the API answers 200 or a `{"detail": ...}` JSON 4xx,
//! never a panic or a 5xx. Covers every parameter the API parses (cursor, limit, per_page,
//! statsPeriod, start, end, interval, query, sort, and `id`/`status` on the bulk issue PUT).

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::{Api, Backend, Reply};

/// Numbers as text, biased to the edges where arithmetic overflows.
fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        (0..200u64).prop_map(|d| (u64::MAX - d).to_string()),
        (0..200u64).prop_map(|d| (i64::MAX as u64 - d).to_string()),
        (0..1_000u64).prop_map(|n| n.to_string()),
        "[0-9]{19,30}",
    ]
}

/// Values that probe parsers: anything at all, and near misses of what they expect.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => any::<String>(),
        1 => "[0-9a-z:\\-+.]{0,12}",
        2 => number(),
        3 => (number(), number(), 0..3u8).prop_map(|(v, o, p)| format!("{v}:{o}:{p}")),
        3 => (number(), "[smhdwy]?").prop_map(|(n, u)| format!("{n}{u}")),
        1 => "[+-]?[0-9]{4,6}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})",
        1 => "(is:[a-z]{0,10} ?){0,3}",
    ]
}

const PARAMS: &[&str] = &[
    "cursor",
    "limit",
    "per_page",
    "statsPeriod",
    "start",
    "end",
    "interval",
    "query",
    "sort",
    "groupBy",
    "field",
    "project",
    "category",
];

/// Up to eight parameters (repeats allowed), percent-encoded.
fn query() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(PARAMS), value()), 0..8).prop_map(|pairs| {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            out.append_pair(key, &value);
        }
        out.finish()
    })
}

fn check(what: &str, reply: &Reply) -> Result<(), TestCaseError> {
    let status = reply.status.as_u16();
    prop_assert!(status == 200 || (400..500).contains(&status), "{what}: {status}");
    if status != 200 {
        let body: serde_json::Value = serde_json::from_slice(&reply.body)
            .map_err(|e| TestCaseError::fail(format!("{what}: {status} without JSON: {e}")))?;
        prop_assert!(body["detail"].is_string(), "{what}: {body}");
    }
    Ok(())
}

/// 256 cases per run: seconds, not minutes.
fn runner() -> TestRunner {
    TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() })
}

#[test]
fn query_parameters_never_panic_or_5xx_sqlite() {
    query_parameters_never_panic_or_5xx(Backend::Sqlite);
}

#[test]
fn query_parameters_never_panic_or_5xx_postgres() {
    query_parameters_never_panic_or_5xx(Backend::Postgres);
}

fn query_parameters_never_panic_or_5xx(backend: Backend) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let api = rt.block_on(Api::new(backend));
    let issue = rt.block_on(api.make_issue("probed"));
    let org = api.boot.organization.clone();
    let lists = [
        "/api/0/".to_string(),
        "/api/0/projects/".to_string(),
        format!("/api/0/organizations/{org}/projects/"),
        api.project_path(""),
        api.project_path("issues/"),
        api.project_path("events/"),
        api.project_path("keys/"),
        api.project_path("filters/"),
        api.project_path("quotas/"),
        format!("/api/0/organizations/{org}/issues/{issue}/"),
        format!("/api/0/organizations/{org}/issues/{issue}/events/"),
        format!("/api/0/organizations/{org}/stats_v2/"),
        format!("/api/0/organizations/{org}/quotas/"),
    ];
    for path in lists {
        runner()
            .run(&query(), |query| {
                let url = format!("{path}?{query}");
                check(&url, &rt.block_on(api.get(&url)))
            })
            .unwrap();
    }
}

#[test]
fn bulk_issue_put_never_panics_or_5xx_sqlite() {
    bulk_issue_put_never_panics_or_5xx(Backend::Sqlite);
}

#[test]
fn bulk_issue_put_never_panics_or_5xx_postgres() {
    bulk_issue_put_never_panics_or_5xx(Backend::Postgres);
}

fn bulk_issue_put_never_panics_or_5xx(backend: Backend) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let api = rt.block_on(Api::new(backend));
    let issue = rt.block_on(api.make_issue("bulk"));
    let ids = prop_oneof![Just(issue), value()];
    let statuses =
        prop_oneof![prop::sample::select(vec!["resolved", "unresolved", "ignored"]).prop_map(String::from), value()];
    let selection =
        prop::collection::vec(prop_oneof![ids.prop_map(|v| ("id", v)), statuses.prop_map(|v| ("status", v))], 0..4);
    let body = prop_oneof![
        prop::sample::select(vec!["resolved", "unresolved", "ignored", "archived"])
            .prop_map(|s| serde_json::json!({ "status": s }).to_string()),
        value().prop_map(|s| serde_json::json!({ "status": s }).to_string()),
        value(),
    ];
    runner()
        .run(&(selection, body), |(pairs, body)| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            for (key, value) in &pairs {
                query.append_pair(key, value);
            }
            let url = api.project_path(&format!("issues/?{}", query.finish()));
            check(&format!("PUT {url} {body}"), &rt.block_on(api.send("PUT", &url, None, body.clone())))
        })
        .unwrap();
}
