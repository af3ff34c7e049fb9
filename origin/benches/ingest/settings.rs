//! The benchmark's settings, all from the environment, each number parsed with an error that
//! names the variable: the load (events, connections, issues), the backends and the peers.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ROOT;

/// The load, the same for every target, and what to measure it on.
pub struct Settings {
    pub events: usize,
    pub connections: usize,
    pub issues: usize,
    pub backends: Vec<Backend>,
    /// The peers to compare with, each already checked to be runnable.
    pub peers: Vec<Peer>,
    /// Why a peer is left out, for the report.
    pub peer_notes: Vec<String>,
    /// At most this many of the events go to each peer (`BENCH_PEER_EVENTS`).
    pub peer_events: usize,
    /// How long a peer may take to process what it accepted before its figure is reported as
    /// a lower bound.
    pub peer_timeout: Duration,
}

/// A Sentry-compatible tracker driven by a tool of the `tools/bugsink/peer` contract.
pub struct Peer {
    pub name: &'static str,
    pub title: &'static str,
    pub tool: PathBuf,
}

impl Settings {
    pub fn from_env() -> Self {
        let (peers, peer_notes) = peers_from_env();
        let settings = Settings {
            events: number("BENCH_EVENTS", 20_000),
            connections: number("BENCH_CONNECTIONS", 16),
            issues: number("BENCH_ISSUES", 50),
            backends: backends_from_env(),
            peers,
            peer_notes,
            peer_events: number("BENCH_PEER_EVENTS", 5_000),
            peer_timeout: Duration::from_secs(number("BENCH_PEER_TIMEOUT", 600) as u64),
        };
        assert!(settings.events > 0, "BENCH_EVENTS must be > 0");
        assert!(settings.peer_events > 0, "BENCH_PEER_EVENTS must be > 0");
        assert!(settings.connections > 0, "BENCH_CONNECTIONS must be > 0");
        // The visibility check reads one page of up to 100 issues.
        assert!((1..=100).contains(&settings.issues), "BENCH_ISSUES must be 1..=100, not {}", settings.issues);
        settings
    }
}

/// A whole number from `name`, `default` when unset or empty; anything else panics naming it.
pub fn number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Err(std::env::VarError::NotPresent) => default,
        Err(std::env::VarError::NotUnicode(v)) => panic!("{name}={v:?}: not a whole number"),
        Ok(v) if v.trim().is_empty() => default,
        Ok(v) => v.trim().replace('_', "").parse().unwrap_or_else(|e| panic!("{name}={v:?}: not a whole number ({e})")),
    }
}

/// The origin's own names for its databases (`name()` is what BENCH_BACKENDS and the JSON use).
pub use picket_origin::store::Backend;

/// How the report names a backend.
pub fn title(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "SQLite",
        Backend::Postgres => "PostgreSQL",
    }
}

/// BENCH_BACKENDS, comma-separated, in the order given (`sqlite,postgres` when unset; empty or
/// `none` for the peers only).
fn backends_from_env() -> Vec<Backend> {
    let list = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut backends = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty() && *n != "none") {
        let backend = match name.to_ascii_lowercase().as_str() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            _ => panic!("BENCH_BACKENDS: unknown backend {name:?} (sqlite, postgres, none)"),
        };
        if !backends.contains(&backend) {
            backends.push(backend);
        }
    }
    backends
}

/// BENCH_PEERS: `bugsink` to require it, empty or `none` for no peer; unset, Bugsink is
/// included when its tool exists and is executable, else skipped with a note. BENCH_BUGSINK
/// names another tool than `tools/bugsink/peer`.
fn peers_from_env() -> (Vec<Peer>, Vec<String>) {
    let tool = match std::env::var_os("BENCH_BUGSINK") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => Path::new(ROOT).join("tools/bugsink/peer"),
    };
    let bugsink = || Peer { name: "bugsink", title: "Bugsink", tool: tool.clone() };
    match std::env::var("BENCH_PEERS") {
        Err(_) => {
            if is_executable(&tool) {
                (vec![bugsink()], Vec::new())
            } else {
                let note = format!(
                    "No peer comparison: {} is not an executable file (BENCH_PEERS=bugsink requires it, \
                     BENCH_BUGSINK=PATH names another).",
                    tool.display()
                );
                eprintln!("bench origin: {note}");
                (Vec::new(), vec![note])
            }
        }
        Ok(list) => {
            let mut peers = Vec::new();
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty() && *n != "none") {
                match name.to_ascii_lowercase().as_str() {
                    "bugsink" => {
                        assert!(
                            is_executable(&tool),
                            "BENCH_PEERS=bugsink: {} is not an executable file",
                            tool.display()
                        );
                        if peers.is_empty() {
                            peers.push(bugsink());
                        }
                    }
                    _ => panic!("BENCH_PEERS: unknown peer {name:?} (bugsink, none)"),
                }
            }
            (peers, Vec::new())
        }
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}
