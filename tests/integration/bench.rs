//! Benchmarks run by `scripts/bench` (ignored by the test run), on each edge platform: the SDK's
//! answer latency one request at a time, and requests per second over many connections without
//! a quota and with one (a Durable Object on Workers; compare-and-swap in the key-value store on
//! Spin). The helpers here serve the other benchmarks too: `bench_latency` (answer latency
//! in front of a slow origin) and `bench_quota` (quota checks on one counter and on 100).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::json;

use crate::harness::{request, root, Edge, Kind, Origin};

/// A number from the environment, or `default`.
pub fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU seconds (user + system) used so far by the live processes of process group `group`.
pub fn group_cpu_secs(group: u32) -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    let mut total = 0u64;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // Fields after the command's closing parenthesis: state ppid pgrp ... utime(14) stime(15).
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 12 && fields[2] == group.to_string() {
            total += fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
        }
    }
    total as f64 / ticks
}

/// A small envelope with one event whose id is `n`.
pub fn small_event(n: usize) -> String {
    format!("{{\"event_id\":\"{n:032x}\"}}\n{{\"type\":\"event\"}}\n{{\"message\":\"bench\"}}\n")
}

/// Sends `total` small events over `threads` connections; returns (seconds, statuses ok).
fn blast(url: &str, auth: &str, total: usize, threads: usize, offset: usize) -> (f64, usize) {
    blast_keys(url, &[auth.to_string()], total, threads, offset)
}

/// As [`blast`], request `i` with `auths[i % auths.len()]` (one key after another).
pub fn blast_keys(url: &str, auths: &[String], total: usize, threads: usize, offset: usize) -> (f64, usize) {
    let auths = Arc::new(auths.to_vec());
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (next, ok, url, auths) = (next.clone(), ok.clone(), url.to_string(), auths.clone());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let (body, auth) = (small_event(offset + i), &auths[i % auths.len()]);
                if request("POST", &url, &[("x-sentry-auth", auth)], body.as_bytes()).is_ok_and(|r| r.status == 200) {
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
            let body = small_event(offset + i);
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
    println!("{kind:?}: {total} events over {threads} connections; the SDK's answer one at a time over 500 requests");
    println!("| answer p50 / p99 (ms) | events/s without quota | events/s with one quota on one counter |");
    println!("|---|---|---|");
    println!("| {p50:.2} / {p99:.2} | {:.0} | {:.0} |", plain_ok as f64 / plain_secs, quota_ok as f64 / quota_secs);
    let name = format!("target/bench-edge-{}.json", format!("{kind:?}").to_lowercase());
    std::fs::write(root().join(name), result.to_string()).unwrap();
    assert_eq!((plain_ok, quota_ok), (total, total));
}
