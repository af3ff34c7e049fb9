//! Runs the conformance table four ways: against the core natively, against the edge in
//! workerd and the shipped Spin component in wasmtime (each with a recording upstream, so
//! forwarded bytes are seen exactly), and against the origin's own ingest endpoint (what it
//! stored is what it accepted).

use std::time::Duration;

use picket::core::envelope::Envelope;
use picket::core::limits::Limits;
use picket::core::quota::CachedLimits;
use picket::core::{judge, prepare, EventId, Headers, Request, Step};

use crate::conformance::{allowed_domains, cases, check, Case, Observed, Vars};
use crate::harness::{request, wait_for, Edge, Kind, Origin, SENTRY_CLI_KEY};
use crate::upstream::Upstream;
use crate::vectors::state;

const MIN_CASES: usize = 60;
const NOW: u64 = 1_795_244_400;

fn report(failures: Vec<String>, total: usize, target: &str) {
    assert!(total >= MIN_CASES + 10, "the table shrank to {total} cases");
    assert!(failures.is_empty(), "{} of {total} cases failed on {target}:\n{}", failures.len(), failures.join("\n"));
}

fn url(base: &str, case: &Case) -> String {
    let query = if case.query.is_empty() { String::new() } else { format!("?{}", case.query) };
    format!("{base}{}{query}", case.path)
}

fn send(base: &str, case: &Case) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let headers: Vec<(&str, &str)> = case.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let reply = request(&case.method, &url(base, case), &headers, &case.body)
        .unwrap_or_else(|e| panic!("{}: no answer: {e}", case.name));
    (reply.status, reply.headers, reply.body)
}

#[test]
fn conformance_core_natively() {
    let vars = Vars { key: SENTRY_CLI_KEY.into(), project: 42, peer: "192.0.2.1" };
    let mut project = state(42, SENTRY_CLI_KEY);
    project.config.allowed_domains = serde_json::from_value(allowed_domains()).unwrap();
    let all = cases(&vars);
    let mut failures = Vec::new();
    for (i, case) in all.iter().enumerate() {
        let headers: Headers = case.headers.iter().cloned().collect();
        let req = Request {
            method: &case.method,
            path: &case.path,
            query: &case.query,
            headers: &headers,
            body: &case.body,
            client_ip: Some(vars.peer),
        };
        let fresh = EventId::from_bytes([(i % 250) as u8 + 1; 16]);
        let observed = match prepare(&req, &Limits::default(), fresh) {
            Ok(Step::Respond(r)) => {
                Observed { status: r.status, headers: r.headers, body: r.body, forwarded: None, forward_headers: None }
            }
            Ok(Step::NeedState(p)) => {
                let known = (p.public_key() == SENTRY_CLI_KEY).then_some(&project);
                match judge(p, known, &CachedLimits::default(), NOW) {
                    Ok(j) => {
                        let a = j.finish(&[]);
                        let forward = a.forward.expect("no quotas, so everything is forwarded");
                        Observed {
                            status: a.response.status,
                            headers: a.response.headers,
                            body: a.response.body,
                            forwarded: Some(Envelope::parse(&forward.body).expect("forwarded envelopes parse")),
                            forward_headers: Some(forward.headers),
                        }
                    }
                    Err(r) => reject(r.reject),
                }
            }
            Err(r) => reject(r),
        };
        if let Err(e) = check(case, &observed) {
            failures.push(e);
        }
    }
    report(failures, all.len(), "the core");
}

fn reject(r: picket::core::Reject) -> Observed {
    let r = r.response();
    Observed { status: r.status, headers: r.headers, body: r.body, forwarded: None, forward_headers: None }
}

crate::on_both_edges!(conformance_edge);

fn conformance_edge(kind: Kind) {
    let upstream = Upstream::start(SENTRY_CLI_KEY, 42, allowed_domains());
    let edge = Edge::start_on(kind, &upstream.url, &[]);
    let vars = Vars { key: SENTRY_CLI_KEY.into(), project: 42, peer: "127.0.0.1" };
    let all = cases(&vars);
    let (mut failures, mut forwarded_cases) = (Vec::new(), 0);
    for case in &all {
        let before = upstream.count();
        let (status, headers, body) = send(&edge.url, case);
        let (forwarded, forward_headers) = if case.expect["forward"].is_null() {
            (None, None)
        } else {
            forwarded_cases += 1;
            let got = wait_for(&format!("{}: the forward", case.name), Duration::from_secs(15), || {
                upstream.received.lock().unwrap().get(before).cloned()
            });
            let env = Envelope::parse(&got.body).unwrap_or_else(|e| panic!("{}: forwarded garbage: {e:?}", case.name));
            (Some(env), Some(got.headers))
        };
        if let Err(e) = check(case, &Observed { status, headers, body, forwarded, forward_headers }) {
            failures.push(e);
        }
    }
    // Nothing that should have stayed at the edge reached the upstream.
    assert_eq!(upstream.count(), forwarded_cases, "forwards beyond the accepted cases");
    for r in upstream.received.lock().unwrap().iter() {
        assert_eq!(r.path, "/api/42/envelope/");
    }
    report(failures, all.len(), &format!("the edge on {kind:?}"));
}

#[test]
fn conformance_origin_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let b = &origin.bootstrap;
    let put = request(
        "PUT",
        &format!("{}/api/0/projects/{}/{}/", origin.url, b.organization, b.project),
        &[("authorization", &format!("Bearer {}", b.token)), ("content-type", "application/json")],
        serde_json::json!({ "allowedDomains": allowed_domains() }).to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!((put.status, put.json()["allowedDomains"].clone()), (200, allowed_domains()));
    let db = rusqlite::Connection::open(dir.path().join("picket.db")).unwrap();
    let stored_since = |row: i64| -> Vec<(i64, Vec<u8>)> {
        let mut stmt = db.prepare("SELECT id, body FROM envelopes WHERE id > ?1 ORDER BY id").unwrap();
        stmt.query_map([row], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    let by_event_id = |id: &str| -> Option<Vec<u8>> {
        db.query_row("SELECT body FROM envelopes WHERE event_id = ?1", [id], |r| r.get(0)).ok()
    };
    let vars = Vars { key: b.public_key.clone(), project: b.project_id, peer: "127.0.0.1" };
    let all = cases(&vars);
    let (mut failures, mut last) = (Vec::new(), 0);
    for case in &all {
        let (status, headers, body) = send(&origin.url, case);
        let rows = stored_since(last);
        let stored = match rows.as_slice() {
            [] => case.expect["forward"]["event_id"].as_str().filter(|id| *id != "generated").and_then(by_event_id),
            [(id, body)] => {
                last = *id;
                Some(body.clone())
            }
            more => panic!("{}: {} envelopes stored for one request", case.name, more.len()),
        };
        let forwarded = stored.map(|s| Envelope::parse(&s).expect("stored envelopes parse"));
        if let Err(e) = check(case, &Observed { status, headers, body, forwarded, forward_headers: None }) {
            failures.push(e);
        }
    }
    report(failures, all.len(), "the origin");
    // What processing made of the non-event items it stored.
    let wanted = [
        "Blocked 'script' from 'evil.example'",
        "Blocked 'image' from 'cdn.evil.example'",
        "Expect-CT failed for 'shop.example'",
        "Public key pinning validation failed for 'shop.example'",
        "Minidump: native crash report",
    ];
    wait_for("issues from security reports and minidumps", Duration::from_secs(30), || {
        let issues = origin.project_api("issues/?query=").json();
        let titles: Vec<String> =
            issues.as_array().unwrap().iter().filter_map(|i| i["title"].as_str().map(str::to_string)).collect();
        wanted.iter().all(|w| titles.iter().any(|t| t == w)).then_some(())
    });
}
