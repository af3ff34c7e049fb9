//! Origin throughput benchmark (run by `scripts/bench`, not the tests): one load, every backend and peer.
//!
//! The load: BENCH_EVENTS 5 KB events from a real SDK capture, each with its own event id,
//! gzipped and posted with `Content-Encoding: gzip` over BENCH_CONNECTIONS keep-alive
//! connections (`load.rs`); every body is made before any clock starts (`bodies.rs`). First the
//! generator's own ceiling: the same bodies against a trivial in-process server. Then, for each
//! backend, a new release origin (`origin.rs`): accepted/s (each committed before its 200),
//! processed-and-visible/s (until the API counts every one in its issue), idle and peak RSS.
//! Then each peer (`peer.rs`, e.g. Bugsink through `tools/bugsink/peer`) under the same load.
//! Prints a markdown table and writes `target/bench-origin.json`.
//!
//! Settings: BENCH_EVENTS (20000), BENCH_CONNECTIONS (16), BENCH_ISSUES (50 distinct exception
//! types, at most 100), BENCH_BACKENDS (`sqlite,postgres`: which, in that order; `none`),
//! BENCH_PEERS (unset: `bugsink` if its tool is executable; `bugsink` requires it; `none`),
//! BENCH_BUGSINK (the peer tool, default `tools/bugsink/peer`), BENCH_PEER_TIMEOUT (seconds a
//! peer may take to process everything, 600), BENCH_ORIGIN_WRAP (a command to run the origin
//! under, e.g. `perf record -g -o FILE --`).

mod bodies;
mod load;
mod origin;
mod peer;
// Shared with the tests; the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../../../tests/support/postgres.rs"]
mod postgres;
mod procs;
mod report;
mod settings;

use std::time::Instant;

use serde_json::json;

use crate::bodies::Template;
use crate::load::{Target, TrivialServer};
use crate::settings::{Backend, Settings};

pub const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// What the generator should reach over what it measures, to be sure it is not the bound.
const HEADROOM: f64 = 3.0;

fn main() {
    let settings = Settings::from_env();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_before = std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string();
    eprintln!("bench origin: load average before the run: {load_before}");

    let made = Instant::now();
    let template = Template::new(settings.events, settings.issues);

    // The load generator against a server that does nothing: its ceiling on this machine.
    let server = TrivialServer::start();
    let public_key = "0123456789abcdef0123456789abcdef";
    let probe = template.bodies(&bodies::dsn(&server.url, public_key, "1"));
    let (gzipped_per_event, raw_per_event) = probe.per_event();
    eprintln!(
        "bench origin: {} bodies of {gzipped_per_event} bytes gzipped ({raw_per_event} decoded) made in {:.1} s",
        settings.events,
        made.elapsed().as_secs_f64()
    );
    let target = Target { url: format!("{}/api/1/envelope/", server.url), public_key: public_key.into() };
    let ceiling = load::post_all(&target, &probe.gzipped, settings.connections);
    assert_eq!(ceiling.refused(), 0, "the trivial server answers every request: {}", ceiling.describe_refused());
    drop((server, probe));
    let generator_per_second = ceiling.per_second(settings.events);
    let generator_cpu_us = ceiling.cpu_seconds * 1e6 / settings.events as f64;
    eprintln!("bench origin: the load generator alone reaches {generator_per_second:.0} requests/s");

    let mut runs = Vec::new();
    for &backend in &settings.backends {
        eprintln!("bench origin: {} events on {} ...", settings.events, settings::title(backend));
        runs.push(origin::measure(backend, &settings, &template));
    }
    let mut skipped = settings.peer_notes.clone();
    for peer in &settings.peers {
        match peer::measure(peer, &settings, &template) {
            Ok(run) => runs.push(run),
            Err(e) => {
                eprintln!("bench origin: {} not measured: {e}", peer.title);
                skipped.push(format!("{} not measured: {}", peer.title, e.lines().next().unwrap_or("")));
            }
        }
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim().to_string();

    println!(
        "\nOrigin ingest: {} events ({}: {gzipped_per_event} bytes gzipped, {raw_per_event} decoded, \
         Content-Encoding: gzip), {} keep-alive connections, {} issues, {cores} cores \
         (load average before: {load_before})\n",
        settings.events,
        bodies::DESCRIBE,
        settings.connections,
        settings.issues
    );
    println!("{}\n", report::table(&runs));
    let fastest = runs.iter().map(|r| r.accepted_per_second()).fold(0.0, f64::max);
    let headroom = generator_per_second / fastest;
    println!(
        "- The load generator alone (the same bodies over the same {} connections to an in-process \
         server that only reads them and answers 200): {generator_per_second:.0} requests/s, {headroom:.1}x \
         the fastest accept rate measured here{}; generator and server together used {generator_cpu_us:.0} µs \
         of CPU per request.",
        settings.connections,
        if headroom < HEADROOM {
            format!(" -- less than {HEADROOM}x: the generator may be part of what bounds these figures")
        } else {
            String::new()
        }
    );
    for note in runs.iter().flat_map(|r| &r.notes).chain(&skipped) {
        println!("- {note}");
    }
    if runs.iter().any(|r| r.key == Backend::Postgres.name()) {
        println!("- {}", origin::PG_MEMORY_NOTE);
    }

    let mut result = json!({
        "events": settings.events, "connections": settings.connections, "issues": settings.issues,
        "cores": cores,
        "body": bodies::DESCRIBE,
        "capture": bodies::CAPTURE,
        "content_encoding": "gzip",
        "bytes_per_event": { "gzipped": gzipped_per_event, "raw": raw_per_event },
        "avg_envelope_bytes": gzipped_per_event,
        "generator_ceiling_per_second": generator_per_second,
        "generator_alone_per_second": generator_per_second,
        "generator_headroom": headroom,
        "generator_ceiling_cpu_microseconds_per_request": generator_cpu_us,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "backends": runs.iter().map(|r| r.key).collect::<Vec<_>>(),
        "skipped": skipped,
        "note": origin::PG_MEMORY_NOTE,
    });
    for run in &runs {
        result[run.key] = run.to_json();
    }
    let path = format!("{ROOT}/target/bench-origin.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap()).unwrap();
    println!("\nJSON: target/bench-origin.json");
}
