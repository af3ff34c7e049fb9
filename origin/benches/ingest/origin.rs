//! One backend's measurement on a new release origin: every body posted by the load
//! generator, then the API polled until every accepted event is counted in an issue; the
//! origin's idle (after start) and peak RSS. SQLite is the origin's default file in a temp
//! data dir; PostgreSQL a fresh database on the tests' server (`tests/support/postgres.rs`).

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bodies::{self, Template};
use crate::load::{self, Target};
use crate::postgres;
use crate::procs;
use crate::report::Run;
use crate::settings::{self, Backend, Settings};

/// How long the events may take to become visible before the run fails.
const VISIBLE_TIMEOUT: Duration = Duration::from_secs(600);
/// How long the origin may take to say it listens.
const START_TIMEOUT: Duration = Duration::from_secs(120);
/// Between two reads of the issue list while waiting for the count.
const POLL_EVERY: Duration = Duration::from_millis(100);
pub const PG_MEMORY_NOTE: &str = "RSS and CPU time are the origin process's only: PostgreSQL's own server \
     processes (shared buffers, backends, their work) are not in them.";

/// The origin's `PICKET_DATABASE_URL`: none for SQLite (its default file in the data dir),
/// a fresh database for PostgreSQL (starting the server on first use).
fn database_url(backend: Backend) -> Option<String> {
    match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(postgres::server().fresh_database("bench_origin")),
    }
}

/// Where the database lives, for the output.
pub fn describe(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => "SQLite: the origin's default file in a temp data dir".into(),
        Backend::Postgres => match postgres::server().data_dir() {
            Some(data) => format!("PostgreSQL: private cluster in {} (fsync on, same machine)", data.display()),
            None => format!("PostgreSQL: the server {} names", postgres::ENV),
        },
    }
}

/// A running release origin with its temp data dir; killed when dropped.
pub struct Origin {
    child: Child,
    pub url: String,
    boot: Value,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Origin {
    /// Starts `picket-origin serve` (the bench's own release build) and waits for its
    /// `listening on` line. `BENCH_ORIGIN_WRAP` (e.g. `perf record -g -o FILE --`) runs it under
    /// another command.
    pub fn start(database_url: Option<&str>, max_pending: usize) -> Origin {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("origin.log");
        let wrap: Vec<String> =
            std::env::var("BENCH_ORIGIN_WRAP").unwrap_or_default().split_whitespace().map(str::to_string).collect();
        let mut command = match wrap.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(env!("CARGO_BIN_EXE_picket-origin"));
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_picket-origin")),
        };
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
        // The origin prints this line once it listens, after the bootstrap is written; read on
        // a thread so a silent origin fails the run instead of hanging it.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining, so the origin never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let Some(url) = line.trim().strip_prefix("picket-origin listening on ").map(str::to_string) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the origin did not start: {line:?}\n{}", std::fs::read_to_string(&log).unwrap_or_default());
        };
        let boot = serde_json::from_slice(&std::fs::read(dir.path().join("bootstrap.json")).unwrap()).unwrap();
        Origin { child, url, boot, log, _dir: dir }
    }

    pub fn boot(&self, field: &str) -> String {
        match &self.boot[field] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The pid whose memory counts: the origin's, not a wrapper's.
    pub fn pid(&self) -> u32 {
        let root = self.child.id();
        if std::env::var_os("BENCH_ORIGIN_WRAP").is_none() {
            return root;
        }
        // The origin binary; else (a wrapper that execs another build) the newest descendant.
        let exe = std::fs::canonicalize(env!("CARGO_BIN_EXE_picket-origin")).unwrap_or_default();
        let tree = procs::tree(&[root]);
        let named =
            tree.iter().copied().find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e == exe));
        named.or_else(|| tree.iter().copied().filter(|&pid| pid != root).max()).unwrap_or(root)
    }

    /// Panics with the origin's log if it has exited.
    fn check_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("the origin exited ({status})\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
        }
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        if std::env::var_os("BENCH_ORIGIN_WRAP").is_some() {
            // Let a wrapper such as perf write its file: the origin stops on SIGINT.
            unsafe { libc::kill(self.pid() as i32, libc::SIGINT) };
            let deadline = Instant::now() + Duration::from_secs(60);
            while Instant::now() < deadline && self.child.try_wait().ok().flatten().is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// The measurement, the same for every backend: a new origin on `backend`, all bodies posted,
/// then the API polled until every accepted event is counted in an issue.
pub fn measure(backend: Backend, settings: &Settings, template: &Template) -> Run {
    let database_url = database_url(backend);
    let mut origin = Origin::start(database_url.as_deref(), settings.events + 1);
    let idle_rss_kib = procs::memory_kib(origin.pid(), "VmRSS");
    let project_id = origin.boot("project_id");
    let public_key = origin.boot("public_key");
    let bodies = template.bodies(&bodies::dsn(&origin.url, &public_key, &project_id));
    let target = Target { url: format!("{}/api/{project_id}/envelope/", origin.url), public_key };

    let cpu_before = procs::cpu_seconds(origin.pid());
    let start = Instant::now();
    let posted = load::post_all(&target, &bodies.gzipped, settings.connections);
    let accepted = settings.events - posted.refused();

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
        let reply: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("the issue list: {e}: {text}"));
        let seen: usize =
            reply.as_array().unwrap().iter().map(|i| i["count"].as_str().unwrap().parse::<usize>().unwrap()).sum();
        if seen >= accepted {
            break start.elapsed();
        }
        assert!(
            start.elapsed() < VISIBLE_TIMEOUT,
            "{}: only {seen} of {accepted} events became visible",
            settings::title(backend)
        );
        // Polling the API: the clock stops at the first full count.
        std::thread::sleep(POLL_EVERY);
    };
    let cpu_seconds = procs::cpu_seconds(origin.pid()) - cpu_before;
    let peak_rss_kib = procs::memory_kib(origin.pid(), "VmHWM");
    // The same count as the operator sees it.
    let metrics = api.get(format!("{}/metrics", origin.url)).call().unwrap().body_mut().read_to_string().unwrap();
    let processed = metrics
        .lines()
        .find_map(|l| l.strip_prefix("picket_events_processed_total ")?.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as usize;
    drop(origin);
    // A private cluster goes with this process; on a PICKET_TEST_POSTGRES server, clean up.
    if let Some(url) = database_url.filter(|_| postgres::server().data_dir().is_none()) {
        let name = url.rsplit('/').next().unwrap().split('?').next().unwrap();
        postgres::server().psql(&postgres::server().admin_url(), &format!("drop database if exists \"{name}\""));
    }
    let mut notes = vec![describe(backend)];
    if posted.refused() > 0 {
        notes.push(format!("{} refused: {}", settings::title(backend), posted.describe_refused()));
    }
    Run {
        key: backend.name(),
        title: settings::title(backend).into(),
        is_origin: true,
        events: settings.events,
        posted,
        visible,
        complete: true,
        processed,
        processed_how: "picket_events_processed_total in /metrics",
        idle_rss_kib,
        peak_rss_kib,
        rss_how: "the origin process: VmRSS after start, VmHWM after the run",
        cpu_seconds,
        notes,
    }
}
