//! Origin throughput benchmark (run by `scripts/bench`, not by the tests): 5 KB events from
//! the SDK capture are posted over parallel keep-alive connections to the release origin on
//! SQLite; it measures how fast they are accepted, how long until every one is grouped and
//! visible in the API, and the origin's peak memory. Settings: BENCH_EVENTS (20000),
//! BENCH_CONNECTIONS (8), BENCH_ISSUES (50 distinct messages).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() {
    let (events, connections, issues) =
        (setting("BENCH_EVENTS", 20_000), setting("BENCH_CONNECTIONS", 8), setting("BENCH_ISSUES", 50));
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let template: Value =
        serde_json::from_slice(&std::fs::read(format!("{root}/tests/data/vectors/event-5kb.json")).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut origin = Command::new(env!("CARGO_BIN_EXE_picket-origin"))
        .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("RUST_LOG", "warn")
        .env("PICKET_MAX_PENDING", (events + 1).to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(origin.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().trim_start_matches("picket-origin listening on ").to_string();
    let boot: Value = serde_json::from_slice(&std::fs::read(dir.path().join("bootstrap.json")).unwrap()).unwrap();
    let (key, project, token) =
        (boot["public_key"].as_str().unwrap(), boot["project_id"].clone(), boot["token"].as_str().unwrap());
    let ingest = format!("{url}/api/{project}/envelope/");
    let auth = format!("Sentry sentry_key={key}, sentry_version=7");

    // Bodies are made before the clock starts.
    let bodies: Vec<Vec<u8>> = (0..events)
        .map(|i| {
            let mut ev = template.clone();
            let id = format!("{:032x}", 0xbe_0000_0000_0000_0000_0000_0000u128 + i as u128);
            ev["event_id"] = Value::String(id.clone());
            ev["exception"]["values"][0]["type"] = Value::String(format!("BenchError{}", i % issues));
            let payload = serde_json::to_vec(&ev).unwrap();
            let mut body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n", payload.len())
                .into_bytes();
            body.extend(payload);
            body
        })
        .collect();
    let avg_size = bodies.iter().map(Vec::len).sum::<usize>() / events;
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let senders: Vec<_> = (0..connections)
        .map(|_| {
            let (bodies, next, refused, ingest, auth) =
                (bodies.clone(), next.clone(), refused.clone(), ingest.clone(), auth.clone());
            std::thread::spawn(move || {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let status = agent
                        .post(&ingest)
                        .header("x-sentry-auth", &auth)
                        .send(&body[..])
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status != 200 {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for s in senders {
        s.join().unwrap();
    }
    let accepted_in = start.elapsed();
    let api = agent();
    let list = format!(
        "{url}/api/0/projects/{}/{}/issues/?query=&limit=100",
        boot["organization"].as_str().unwrap(),
        boot["project"].as_str().unwrap()
    );
    let visible_in = loop {
        let text = api
            .get(&list)
            .header("authorization", &format!("Bearer {token}"))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap();
        let reply: Value = serde_json::from_str(&text).unwrap();
        let seen: usize =
            reply.as_array().unwrap().iter().map(|i| i["count"].as_str().unwrap().parse::<usize>().unwrap()).sum();
        if seen >= events - refused.load(Ordering::Relaxed) {
            break start.elapsed();
        }
        assert!(start.elapsed() < Duration::from_secs(600), "only {seen} of {events} events became visible");
        std::thread::sleep(Duration::from_millis(100));
    };
    let rss = peak_rss_kib(origin.id());
    let _ = origin.kill();
    let _ = origin.wait();
    let refused = refused.load(Ordering::Relaxed);
    let result = serde_json::json!({
        "events": events, "connections": connections, "issues": issues, "avg_envelope_bytes": avg_size,
        "refused": refused,
        "accept_seconds": accepted_in.as_secs_f64(),
        "accepted_per_second": (events - refused) as f64 / accepted_in.as_secs_f64(),
        "visible_seconds": visible_in.as_secs_f64(),
        "end_to_end_per_second": (events - refused) as f64 / visible_in.as_secs_f64(),
        "origin_peak_rss_mib": rss as f64 / 1024.0,
    });
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    std::fs::write(format!("{root}/target/bench-origin.json"), result.to_string()).unwrap();
}
