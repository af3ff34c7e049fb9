//! Origin throughput benchmark, SQLite against PostgreSQL (run by `scripts/bench`, not by the tests).
//!
//! For each backend the same measurement runs on a new release origin: 5 KB events from the SDK
//! capture are posted over parallel keep-alive connections; it measures how fast they are
//! accepted, how long until every one is grouped and visible in the API, and the origin's idle
//! (after start) and peak memory. SQLite is the origin's default file in a temp data dir;
//! PostgreSQL is a fresh database on the tests' own server (`tests/support/postgres.rs`: a
//! private cluster with fsync on, or `PICKET_TEST_POSTGRES`), given as `PICKET_DATABASE_URL`.
//! Prints a markdown table and writes `target/bench-origin.json`.
//!
//! Settings: BENCH_EVENTS (20000), BENCH_CONNECTIONS (8), BENCH_ISSUES (50 distinct messages,
//! at most 100), BENCH_BACKENDS (`sqlite,postgres`: which, in that order).

// Shared with the tests; the benchmark uses only part of it.
#[allow(dead_code)]
#[path = "../../tests/support/postgres.rs"]
mod postgres;

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
/// How long the events may take to become visible before the run fails.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(600);
const PG_MEMORY_NOTE: &str = "RSS is the origin process's only: PostgreSQL's own server processes \
     (shared buffers, backends) are not in it.";

/// The load, the same for every backend.
struct Settings {
    events: usize,
    connections: usize,
    issues: usize,
}

impl Settings {
    fn from_env() -> Self {
        let settings = Settings {
            events: setting("BENCH_EVENTS", 20_000),
            connections: setting("BENCH_CONNECTIONS", 8),
            issues: setting("BENCH_ISSUES", 50),
        };
        assert!(settings.events > 0 && settings.connections > 0, "BENCH_EVENTS and BENCH_CONNECTIONS must be > 0");
        // The visibility check reads one page of up to 100 issues.
        assert!((1..=100).contains(&settings.issues), "BENCH_ISSUES must be 1..=100");
        settings
    }
}

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The name in BENCH_BACKENDS and the JSON.
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }

    /// BENCH_BACKENDS, comma-separated, in the order given.
    fn from_env() -> Vec<Backend> {
        let list = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
        let mut backends = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let backend = match name.to_ascii_lowercase().as_str() {
                "sqlite" => Backend::Sqlite,
                "postgres" | "postgresql" => Backend::Postgres,
                _ => panic!("BENCH_BACKENDS: unknown backend {name:?} (sqlite, postgres)"),
            };
            if !backends.contains(&backend) {
                backends.push(backend);
            }
        }
        assert!(!backends.is_empty(), "BENCH_BACKENDS names no backend (sqlite, postgres)");
        backends
    }

    /// The origin's `PICKET_DATABASE_URL`: none for SQLite (its default file in the data dir),
    /// a fresh database for PostgreSQL (starting the server on first use).
    fn database_url(self) -> Option<String> {
        match self {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres::server().fresh_database("bench_origin")),
        }
    }

    /// Where the database lives, for the output.
    fn describe(self) -> String {
        match self {
            Backend::Sqlite => "SQLite: the origin's default file in a temp data dir".into(),
            Backend::Postgres => match postgres::server().data_dir() {
                Some(data) => format!("PostgreSQL: private cluster in {} (fsync on, same machine)", data.display()),
                None => format!("PostgreSQL: the server {} names", postgres::ENV),
            },
        }
    }
}

/// A running release origin with its temp data dir; killed when dropped.
struct Origin {
    child: Child,
    url: String,
    boot: Value,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Origin {
    fn start(database_url: Option<&str>, max_pending: usize) -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("origin.log");
        let mut command = Command::new(env!("CARGO_BIN_EXE_picket-origin"));
        command
            .args(["serve", "--bind", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path())
            .env("RUST_LOG", "warn")
            .env("PICKET_MAX_PENDING", max_pending.to_string())
            .env_remove("PICKET_DATABASE_URL")
            .env_remove("PICKET_DATA_DIR")
            .stdout(Stdio::piped())
            .stderr(File::create(&log).unwrap());
        if let Some(url) = database_url {
            command.env("PICKET_DATABASE_URL", url);
        }
        let mut child = command.spawn().unwrap();
        // The origin prints this line once it listens, after the bootstrap is written.
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let Some(url) = line.trim().strip_prefix("picket-origin listening on ").map(str::to_string) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the origin did not start: {line:?}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        };
        let boot = serde_json::from_slice(&std::fs::read(dir.path().join("bootstrap.json")).unwrap()).unwrap();
        Origin { child, url, boot, log, _dir: dir }
    }

    fn boot(&self, field: &str) -> &str {
        self.boot[field].as_str().unwrap()
    }

    /// Panics with the origin's log if it has exited.
    fn check_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the origin exited ({status})\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }

    /// `VmRSS` (now) or `VmHWM` (peak) from /proc, in KiB.
    fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// One backend's figures.
struct Run {
    backend: Backend,
    refused: usize,
    accept: Duration,
    visible: Duration,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    /// `picket_events_processed_total` from `GET /metrics` once all were visible.
    processed_by_metrics: usize,
}

impl Run {
    fn stored(&self, settings: &Settings) -> f64 {
        (settings.events - self.refused) as f64
    }

    fn accepted_per_second(&self, settings: &Settings) -> f64 {
        self.stored(settings) / self.accept.as_secs_f64()
    }

    fn visible_per_second(&self, settings: &Settings) -> f64 {
        self.stored(settings) / self.visible.as_secs_f64()
    }

    fn to_json(&self, settings: &Settings) -> Value {
        json!({
            "refused": self.refused,
            "accept_seconds": self.accept.as_secs_f64(),
            "accepted_per_second": self.accepted_per_second(settings),
            "visible_seconds": self.visible.as_secs_f64(),
            "end_to_end_per_second": self.visible_per_second(settings),
            "origin_idle_rss_mib": mib(self.idle_rss_kib),
            "origin_peak_rss_mib": mib(self.peak_rss_kib),
            "events_processed_by_metrics": self.processed_by_metrics,
        })
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Envelopes with one 5 KB event each, made before any clock starts: distinct event ids,
/// `issues` distinct exception types.
fn envelopes(settings: &Settings) -> Vec<Vec<u8>> {
    let template: Value =
        serde_json::from_slice(&std::fs::read(format!("{ROOT}/tests/data/vectors/event-5kb.json")).unwrap()).unwrap();
    (0..settings.events)
        .map(|i| {
            let mut ev = template.clone();
            let id = format!("{:032x}", 0xbe_0000_0000_0000_0000_0000_0000u128 + i as u128);
            ev["event_id"] = Value::String(id.clone());
            ev["exception"]["values"][0]["type"] = Value::String(format!("BenchError{}", i % settings.issues));
            let payload = serde_json::to_vec(&ev).unwrap();
            let mut body = format!("{{\"event_id\":\"{id}\"}}\n{{\"type\":\"event\",\"length\":{}}}\n", payload.len())
                .into_bytes();
            body.extend(payload);
            body
        })
        .collect()
}

/// Posts every body to `url` over `connections` keep-alive connections (one thread each): how
/// long it took and how many were not answered 200.
fn post_all(url: &str, auth: &str, bodies: &Arc<Vec<Vec<u8>>>, connections: usize) -> (Duration, usize) {
    let next = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let senders: Vec<_> = (0..connections)
        .map(|_| {
            let (bodies, next, refused, url, auth) =
                (bodies.clone(), next.clone(), refused.clone(), url.to_string(), auth.to_string());
            std::thread::spawn(move || {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(body) = bodies.get(i) else { break };
                    let status = agent
                        .post(&url)
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
    (start.elapsed(), refused.load(Ordering::Relaxed))
}

/// A server that does nothing but read each request and answer `200 {}` on the same
/// connection: what the load generator alone reaches, to show it is not what bounds the origin.
fn trivial_server() -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/1/envelope/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if reader.read_line(&mut line).unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((name, value)) = line.split_once(':') {
                            if name.eq_ignore_ascii_case("content-length") {
                                length = value.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err()
                        || writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// The measurement, the same for every backend: a new origin on `backend`, all envelopes
/// posted over `connections` keep-alive connections, then the API polled until every accepted
/// event is counted in an issue.
fn measure(backend: Backend, settings: &Settings, bodies: &Arc<Vec<Vec<u8>>>) -> Run {
    let database_url = backend.database_url();
    let mut origin = Origin::start(database_url.as_deref(), settings.events + 1);
    let idle_rss_kib = origin.memory_kib("VmRSS");
    let ingest = format!("{}/api/{}/envelope/", origin.url, origin.boot["project_id"]);
    let auth = format!("Sentry sentry_key={}, sentry_version=7", origin.boot("public_key"));

    let start = Instant::now();
    let (accept, refused) = post_all(&ingest, &auth, bodies, settings.connections);

    let api = agent();
    let list = format!(
        "{}/api/0/projects/{}/{}/issues/?query=&limit=100",
        origin.url,
        origin.boot("organization"),
        origin.boot("project")
    );
    let bearer = format!("Bearer {}", origin.boot("token"));
    let visible = loop {
        origin.check_alive();
        let text = api.get(&list).header("authorization", &bearer).call().unwrap().body_mut().read_to_string().unwrap();
        let reply: Value = serde_json::from_str(&text).unwrap();
        let seen: usize =
            reply.as_array().unwrap().iter().map(|i| i["count"].as_str().unwrap().parse::<usize>().unwrap()).sum();
        if seen >= settings.events - refused {
            break start.elapsed();
        }
        assert!(
            start.elapsed() < VISIBLE_TIMEOUT,
            "{}: only {seen} of {} events became visible",
            backend.title(),
            settings.events - refused
        );
        // Polling the API, not waiting for readiness: the clock stops at the first full count.
        std::thread::sleep(Duration::from_millis(100));
    };
    let peak_rss_kib = origin.memory_kib("VmHWM");
    // The same count as the operator sees it.
    let metrics = api.get(format!("{}/metrics", origin.url)).call().unwrap().body_mut().read_to_string().unwrap();
    let processed_by_metrics = metrics
        .lines()
        .find_map(|l| l.strip_prefix("picket_events_processed_total ")?.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as usize;
    drop(origin);
    // A private cluster goes with this process; on a PICKET_TEST_POSTGRES server, clean up.
    if let Some(url) = database_url.filter(|_| postgres::server().data_dir().is_none()) {
        let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
        postgres::server().psql(&postgres::server().admin_url(), &format!("drop database if exists \"{name}\""));
    }
    Run { backend, refused, accept, visible, idle_rss_kib, peak_rss_kib, processed_by_metrics }
}

/// The markdown table: one row per figure, one column per backend.
fn table(settings: &Settings, runs: &[Run]) -> String {
    type Cell = fn(&Run, &Settings) -> String;
    let rows: [(&str, Cell); 7] = [
        ("accepted events/s", |r, s| format!("{:.0}", r.accepted_per_second(s))),
        ("processed and visible events/s", |r, s| format!("{:.0}", r.visible_per_second(s))),
        ("last visible after last accept (s)", |r, _| format!("{:.2}", (r.visible - r.accept).as_secs_f64())),
        ("refused", |r, _| r.refused.to_string()),
        ("events processed, by /metrics", |r, _| r.processed_by_metrics.to_string()),
        ("origin peak RSS (MiB)", |r, _| format!("{:.1}", mib(r.peak_rss_kib))),
        ("origin idle RSS after start (MiB)", |r, _| format!("{:.1}", mib(r.idle_rss_kib))),
    ];
    let mut out = String::from("| |");
    for run in runs {
        out += &format!(" {} |", run.backend.title());
    }
    out += "\n|---|";
    out += &"---:|".repeat(runs.len());
    for (label, cell) in rows {
        out += &format!("\n| {label} |");
        for run in runs {
            out += &format!(" {} |", cell(run, settings));
        }
    }
    out
}

fn main() {
    let settings = Settings::from_env();
    let backends = Backend::from_env();
    let bodies = envelopes(&settings);
    let avg_envelope_bytes = bodies.iter().map(Vec::len).sum::<usize>() / settings.events;
    let bodies = Arc::new(bodies);
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());

    // The load generator against a server that does nothing: its ceiling on this machine.
    let (took, failed) = post_all(&trivial_server(), "Sentry sentry_key=x", &bodies, settings.connections);
    assert_eq!(failed, 0, "the trivial server answers every request");
    let generator_per_second = settings.events as f64 / took.as_secs_f64();
    eprintln!("bench origin: the load generator alone reaches {generator_per_second:.0} requests/s");

    let mut runs = Vec::new();
    for backend in backends {
        eprintln!("bench origin: {} events on {} ...", settings.events, backend.title());
        let run = measure(backend, &settings, &bodies);
        eprintln!("bench origin: {}", backend.describe());
        runs.push(run);
    }

    println!(
        "\nOrigin ingest: {} events (envelopes of {avg_envelope_bytes} bytes on average), {} keep-alive \
         connections, {} issues, {cores} cores\n",
        settings.events, settings.connections, settings.issues
    );
    println!("{}\n", table(&settings, &runs));
    let fastest = runs.iter().map(|r| r.accepted_per_second(&settings)).fold(0.0, f64::max);
    println!(
        "- The load generator alone (the same {} connections to a server that only answers 200): \
         {generator_per_second:.0} requests/s, {:.1}x the fastest accept rate measured here.",
        settings.connections,
        generator_per_second / fastest
    );
    for run in &runs {
        println!("- {}", run.backend.describe());
    }
    if runs.iter().any(|r| r.backend == Backend::Postgres) {
        println!("- {PG_MEMORY_NOTE}");
    }

    let mut result = json!({
        "events": settings.events, "connections": settings.connections, "issues": settings.issues,
        "avg_envelope_bytes": avg_envelope_bytes, "cores": cores,
        "generator_alone_per_second": generator_per_second,
        "backends": runs.iter().map(|r| r.backend.name()).collect::<Vec<_>>(),
        "note": PG_MEMORY_NOTE,
    });
    for run in &runs {
        result[run.backend.name()] = run.to_json(&settings);
    }
    let path = format!("{ROOT}/target/bench-origin.json");
    std::fs::write(&path, serde_json::to_string_pretty(&result).unwrap()).unwrap();
    println!("\nJSON: target/bench-origin.json");
}
