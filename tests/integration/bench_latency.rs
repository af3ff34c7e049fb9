//! Benchmark (scripts/bench; ignored by the test run): the SDK's answer latency from each edge
//! platform in front of an upstream that answers every envelope after 1 ms, then after 2 s
//! (`BENCH_SLOW_MS`). The edge answers first and forwards after, so p50/p99 should not move:
//! this prints both, their ratio and how many forwards the upstream held at once, and writes
//! `target/bench-edge-latency-{workerd,spin}.json`. Loads are bounded (per round and delay,
//! `BENCH_LATENCY_REQUESTS` one at a time, the same number again over
//! `BENCH_LATENCY_CONNECTIONS`; `BENCH_LATENCY_ROUNDS` rounds, alternating which delay goes
//! first), and every forward is waited for (bounded) before the next phase, so slow forwards
//! never pile up unseen.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::bench::{group_cpu_secs, setting, small_event};
use crate::harness::{request, root, wait_for, Edge, Kind};
use crate::upstream::Upstream;

const KEY: &str = "1a7e4c7b0d2f4e6a8b9c0d1e2f3a4b5c";
const PROJECT: u64 = 42;

#[test]
#[ignore = "a benchmark: run with scripts/bench"]
fn bench_edge_latency_on_workerd() {
    bench_edge_latency(Kind::Workerd);
}

#[test]
#[ignore = "a benchmark: run with scripts/bench"]
fn bench_edge_latency_on_spin() {
    bench_edge_latency(Kind::Spin);
}

/// Nearest-rank percentile of sorted `times`.
fn percentile(times: &[f64], q: f64) -> f64 {
    let rank = ((q * times.len() as f64).ceil() as usize).clamp(1, times.len());
    times[rank - 1]
}

/// Answer latencies (ms, sorted) of `total` requests over `threads` connections, each request on a new
/// connection as an SDK's first would be; every answer must be 200.
fn answer_times(url: &str, auth: &str, total: usize, threads: usize, offset: usize) -> Vec<f64> {
    let next = Arc::new(AtomicUsize::new(0));
    let times = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (next, times, url, auth) = (next.clone(), times.clone(), url.to_string(), auth.to_string());
            std::thread::spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let body = small_event(offset + i);
                let start = Instant::now();
                let reply = request("POST", &url, &[("x-sentry-auth", &auth)], body.as_bytes());
                let ms = start.elapsed().as_secs_f64() * 1000.0;
                let status = reply.map(|r| r.status);
                assert_eq!(status, Ok(200), "request {i}");
                times.lock().unwrap().push(ms);
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let mut times = std::mem::take(&mut *times.lock().unwrap());
    times.sort_by(f64::total_cmp);
    times
}

/// Waits (bounded) until the upstream has answered `expected` forwards in all and holds none;
/// returns the seconds waited.
fn drain(upstream: &Upstream, expected: usize, limit: Duration) -> f64 {
    let start = Instant::now();
    let delay = upstream.delay.as_ref().unwrap();
    wait_for(&format!("{expected} forwards answered"), limit, || {
        (upstream.count() >= expected && delay.held() == 0).then_some(())
    });
    start.elapsed().as_secs_f64()
}

/// One phase: `total` requests over `threads`, then every forward answered. Its sorted answer
/// times and its figures.
fn phase(
    url: &str,
    auth: &str,
    edge: &Edge,
    upstream: &Upstream,
    sent: &mut usize,
    total: usize,
    threads: usize,
) -> (Vec<f64>, Value) {
    let delay = upstream.delay.as_ref().unwrap();
    delay.reset_peak();
    let (start, cpu) = (Instant::now(), group_cpu_secs(edge.pid()));
    let times = answer_times(url, auth, total, threads, *sent);
    let seconds = start.elapsed().as_secs_f64();
    let cpu_ms = (group_cpu_secs(edge.pid()) - cpu) * 1000.0 / total as f64;
    let held_at_end = delay.held();
    *sent += total;
    let slow = Duration::from_millis(delay.ms.load(Ordering::SeqCst));
    let drained = drain(upstream, *sent, Duration::from_secs(60) + slow * 4);
    let cpu_all_ms = (group_cpu_secs(edge.pid()) - cpu) * 1000.0 / total as f64;
    let figures = json!({
        "p50_ms": percentile(&times, 0.50),
        "p99_ms": percentile(&times, 0.99),
        "max_ms": times[times.len() - 1],
        "seconds": seconds,
        "edge_cpu_ms_per_request_until_last_answer": cpu_ms,
        "edge_cpu_ms_per_request_until_last_forward": cpu_all_ms,
        "forwards_held_at_once_peak": delay.peak(),
        "forwards_held_when_last_answered": held_at_end,
        "seconds_until_all_forwards_answered": drained,
    });
    (times, figures)
}

/// The figures of all rounds of one delay and mode: percentiles of the pooled answer times,
/// the largest number of forwards held at once, and each round's own figures.
fn pooled(mut times: Vec<f64>, rounds: Vec<Value>, threads: usize) -> Value {
    times.sort_by(f64::total_cmp);
    let peak = rounds.iter().filter_map(|r| r["forwards_held_at_once_peak"].as_u64()).max();
    json!({
        "requests": times.len(),
        "connections": threads,
        "p50_ms": percentile(&times, 0.50),
        "p99_ms": percentile(&times, 0.99),
        "max_ms": times[times.len() - 1],
        "mean_ms": times.iter().sum::<f64>() / times.len() as f64,
        "forwards_held_at_once_peak": peak,
        "rounds": rounds,
    })
}

fn bench_edge_latency(kind: Kind) {
    let n = setting("BENCH_LATENCY_REQUESTS", 200);
    let threads = setting("BENCH_LATENCY_CONNECTIONS", 8);
    let slow_ms = setting("BENCH_SLOW_MS", 2000) as u64;
    let upstream = Upstream::start_delayed(KEY, PROJECT, Duration::from_millis(1));
    let edge = Edge::start_on(kind, &upstream.url, &[]);
    let url = format!("{}/api/{PROJECT}/envelope/", edge.url);
    let auth = format!("Sentry sentry_key={KEY}, sentry_version=7");
    let mut sent = 0;
    // Warm the isolate or instance and its config cache, and check forwards arrive.
    answer_times(&url, &auth, 20, 1, 0);
    answer_times(&url, &auth, 40, threads, 20);
    sent += 60;
    drain(&upstream, sent, Duration::from_secs(60));

    // Rounds alternate which delay goes first, so that drift in a loaded machine falls on both.
    let delay = upstream.delay.as_ref().unwrap();
    let delays = [("fast", 1), ("slow", slow_ms)];
    let mut runs: Vec<(Vec<f64>, Vec<Value>)> = vec![(Vec::new(), Vec::new()); 4];
    for round in 0..setting("BENCH_LATENCY_ROUNDS", 2) {
        for d in [round % 2, 1 - round % 2] {
            delay.set(Duration::from_millis(delays[d].1));
            for (m, conns) in [1, threads].into_iter().enumerate() {
                let (times, figures) = phase(&url, &auth, &edge, &upstream, &mut sent, n, conns);
                runs[d * 2 + m].0.extend(times);
                runs[d * 2 + m].1.push(figures);
            }
        }
    }
    let mut results = serde_json::Map::new();
    let mut runs = runs.into_iter();
    for (name, ms) in delays {
        let mut next = |conns| runs.next().map(|(times, rounds)| pooled(times, rounds, conns)).unwrap();
        let (sequential, concurrent) = (next(1), next(threads));
        results
            .insert(name.into(), json!({ "origin_delay_ms": ms, "sequential": sequential, "concurrent": concurrent }));
    }
    let ratio =
        |mode: &str, q: &str| results["slow"][mode][q].as_f64().unwrap() / results["fast"][mode][q].as_f64().unwrap();
    let ratios = json!({
        "sequential": { "p50": ratio("sequential", "p50_ms"), "p99": ratio("sequential", "p99_ms") },
        "concurrent": { "p50": ratio("concurrent", "p50_ms"), "p99": ratio("concurrent", "p99_ms") },
    });
    let result = json!({
        "edge": format!("{kind:?}"),
        "fast": results["fast"],
        "slow": results["slow"],
        "slow_over_fast": ratios,
        "forwards_answered": upstream.count(),
        "note": "loopback; the upstream answers each envelope after origin_delay_ms on its own thread; \
                 each request on a new connection; every forward waited for before the next phase; \
                 percentiles of all rounds' answers pooled (rounds alternate which delay goes first)",
    });
    println!("edge answer latency on {kind:?} (ms; upstream answering envelopes in 1 ms vs {slow_ms} ms)");
    println!("| mode | delay | requests | p50 | p99 | max | forwards held at once (peak) |");
    println!("|---|---|---|---|---|---|---|");
    for name in ["fast", "slow"] {
        for mode in ["sequential", "concurrent"] {
            let r = &result[name][mode];
            println!(
                "| {mode} ({} conn) | {} ms | {} | {:.2} | {:.2} | {:.2} | {} |",
                r["connections"],
                result[name]["origin_delay_ms"],
                r["requests"],
                r["p50_ms"].as_f64().unwrap(),
                r["p99_ms"].as_f64().unwrap(),
                r["max_ms"].as_f64().unwrap(),
                r["forwards_held_at_once_peak"]
            );
        }
    }
    for mode in ["sequential", "concurrent"] {
        let r = &result["slow_over_fast"][mode];
        println!("slow/fast {mode}: p50 {:.2}×, p99 {:.2}×", r["p50"].as_f64().unwrap(), r["p99"].as_f64().unwrap());
    }
    let name = format!("target/bench-edge-latency-{}.json", format!("{kind:?}").to_lowercase());
    std::fs::write(root().join(name), serde_json::to_string_pretty(&result).unwrap()).unwrap();
    assert_eq!(upstream.count(), sent, "every forward arrived");
}
