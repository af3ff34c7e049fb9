//! Benchmarks run by `scripts/bench` (ignored by the test run), on each edge platform: the SDK's
//! answer latency one request at a time, and requests per second over many connections without
//! a quota and with one (a Durable Object on Workers; compare-and-swap in the key-value store on
//! Spin).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::harness::{request, root, Edge, Kind, Origin};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Sends `total` small events over `threads` connections; returns (seconds, statuses ok).
fn blast(url: &str, auth: &str, total: usize, threads: usize, offset: usize) -> (f64, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (next, ok, url, auth) = (next.clone(), ok.clone(), url.to_string(), auth.to_string());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = format!(
                    "{{\"event_id\":\"{:032x}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"bench\"}}\n",
                    offset + i
                );
                if request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes()).is_ok_and(|r| r.status == 200) {
                    ok.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    (start.elapsed().as_secs_f64(), ok.load(Ordering::Relaxed))
}

/// Answer latencies of `n` requests sent one at a time: (p50, p99) in milliseconds.
fn latency(url: &str, auth: &str, n: usize, offset: usize) -> (f64, f64) {
    let mut times: Vec<f64> = (0..n)
        .map(|i| {
            let body = format!(
                "{{\"event_id\":\"{:032x}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"bench\"}}\n",
                offset + i
            );
            let start = Instant::now();
            let reply = request("POST", url, &[("x-sentry-auth", auth)], body.as_bytes()).unwrap();
            assert_eq!(reply.status, 200);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[n / 2], times[n * 99 / 100])
}

#[test]
#[ignore = "a benchmark: run with scripts/bench"]
fn bench_edge_on_workerd() {
    bench_edge(Kind::Workerd);
}

#[test]
#[ignore = "a benchmark: run with scripts/bench"]
fn bench_edge_on_spin() {
    bench_edge(Kind::Spin);
}

fn bench_edge(kind: Kind) {
    let (total, threads) = (setting("BENCH_REQUESTS", 2000), setting("BENCH_CONNECTIONS", 16));
    let dir = tempfile::tempdir().unwrap();
    let origin = Origin::start(dir.path());
    let edge = Edge::for_origin(kind, &origin, &[]);
    let url = format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.bootstrap.public_key);
    blast(&url, &auth, 50, 4, 0); // warm the isolate and its config cache
    let (p50, p99) = latency(&url, &auth, 500, 500_000);
    let (plain_secs, plain_ok) = blast(&url, &auth, total, threads, 1_000_000);

    let quota = json!([{ "id": "bench", "categories": ["error"], "scope": "project", "limit": 1_000_000_000u64, "window": 3600 }]);
    let path =
        format!("{}/api/0/projects/{}/{}/quotas/", origin.url, origin.bootstrap.organization, origin.bootstrap.project);
    let bearer = format!("Bearer {}", origin.bootstrap.token);
    request("PUT", &path, &[("authorization", &bearer)], quota.to_string().as_bytes()).unwrap();
    // A fresh edge fetches the config with the quota.
    drop(edge);
    let edge = Edge::for_origin(kind, &origin, &[]);
    let url = format!("{}/api/{}/envelope/", edge.url, origin.bootstrap.project_id);
    blast(&url, &auth, 50, 4, 2_000_000);
    let (quota_secs, quota_ok) = blast(&url, &auth, total, threads, 3_000_000);
    let result = json!({
        "edge": format!("{kind:?}"),
        "answer_latency_ms": { "p50": p50, "p99": p99, "requests": 500, "note": "one at a time, forward after the answer" },
        "requests": total,
        "connections": threads,
        "without_quota": { "seconds": plain_secs, "per_second": plain_ok as f64 / plain_secs, "ok": plain_ok },
        "with_quota": { "seconds": quota_secs, "per_second": quota_ok as f64 / quota_secs, "ok": quota_ok,
                        "quota_checks_per_second": quota_ok as f64 / quota_secs },
        "note": "one quota, one shard: every check serializes on it (the exact, worst case)",
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    let name = format!("target/bench-edge-{}.json", format!("{kind:?}").to_lowercase());
    std::fs::write(root().join(name), result.to_string()).unwrap();
    assert_eq!((plain_ok, quota_ok), (total, total));
}
