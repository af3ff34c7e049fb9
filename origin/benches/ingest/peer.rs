//! The peer comparison: the same load against another self-hosted Sentry-compatible tracker,
//! only by shelling out to its tool (`tools/bugsink/peer`: `setup`, `start DIR PORT` printing
//! one JSON line `{"url","project_id","public_key","pids"}`, `count DIR`, `stop DIR`).
//! Accepted/s; processed/s by polling `count` until it reaches what was accepted (bounded); and
//! RSS summed over the peer's processes and their children, sampled from /proc.

use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::bodies::{self, Template};
use crate::load::{self, Target};
use crate::procs::{self, TreeSampler};
use crate::report::Run;
use crate::settings::{Peer, Settings};

const SETUP_TIMEOUT: Duration = Duration::from_secs(1800);
const START_TIMEOUT: Duration = Duration::from_secs(300);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Between two `count`s while waiting for the peer to process everything.
const POLL_EVERY: Duration = Duration::from_millis(250);

/// Runs `tool ARGS` with stdout and stderr in files under `logs` (never pipes: `start` leaves
/// servers running that may hold them open), polls it to its end within `timeout`, and gives
/// its stdout.
fn run(tool: &Path, args: &[&str], logs: &Path, timeout: Duration) -> Result<String, String> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let name = format!("{:04}-{}", RUNS.fetch_add(1, Ordering::Relaxed), args[0]);
    let (out, err) = (logs.join(format!("{name}.stdout")), logs.join(format!("{name}.stderr")));
    let shown = format!("{} {}", tool.display(), args.join(" "));
    let mut child = Command::new(tool)
        .args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?)
        .stderr(File::create(&err).map_err(|e| format!("{}: {e}", err.display()))?)
        .spawn()
        .map_err(|e| format!("{shown}: {e}"))?;
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("{shown}: {e}"))? {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{shown}: no end within {timeout:?}; stderr in {}", err.display()));
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = std::fs::read_to_string(&out).unwrap_or_default();
    if !status.success() {
        let stderr = std::fs::read_to_string(&err).unwrap_or_default();
        let tail: String =
            stderr.lines().rev().take(20).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
        return Err(format!("{shown}: {status}\n{tail}"));
    }
    Ok(stdout)
}

/// A free loopback port, for the peer to bind.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A started peer; stopped when dropped.
struct Started<'a> {
    tool: &'a Path,
    dir: &'a Path,
    logs: &'a Path,
}

impl Drop for Started<'_> {
    fn drop(&mut self) {
        let dir = self.dir.to_string_lossy();
        if let Err(e) = run(self.tool, &["stop", &dir], self.logs, COMMAND_TIMEOUT) {
            eprintln!("bench origin: could not stop the peer: {e}");
        }
    }
}

fn count(tool: &Path, dir: &Path, logs: &Path) -> Result<usize, String> {
    let out = run(tool, &["count", &dir.to_string_lossy()], logs, COMMAND_TIMEOUT)?;
    out.trim().parse().map_err(|e| format!("`count` printed {out:?}: {e}"))
}

/// The peer's figures under the same load, or why there are none.
pub fn measure(peer: &Peer, settings: &Settings, template: &Template) -> Result<Run, String> {
    let tool = peer.tool.as_path();
    let home = tempfile::Builder::new().prefix("bench-peer-").tempdir().map_err(|e| e.to_string())?;
    let (dir, logs) = (home.path().join("peer"), home.path().join("logs"));
    std::fs::create_dir_all(&dir).and_then(|_| std::fs::create_dir_all(&logs)).map_err(|e| e.to_string())?;
    eprintln!("bench origin: {}: setup ...", peer.title);
    run(tool, &["setup"], &logs, SETUP_TIMEOUT)?;
    let port = free_port().to_string();
    let out = run(tool, &["start", &dir.to_string_lossy(), &port], &logs, START_TIMEOUT)?;
    let started = Started { tool, dir: &dir, logs: &logs };
    let line =
        out.lines().find(|l| l.trim_start().starts_with('{')).ok_or(format!("`start` printed no JSON: {out:?}"))?;
    let info: Value = serde_json::from_str(line).map_err(|e| format!("`start` printed {line:?}: {e}"))?;
    let url = info["url"].as_str().ok_or("`start`: no url")?.trim_end_matches('/').to_string();
    let project_id = match &info["project_id"] {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return Err("`start`: no project_id".into()),
    };
    let public_key = info["public_key"].as_str().ok_or("`start`: no public_key")?.to_string();
    let pids: Vec<u32> = info["pids"]
        .as_array()
        .ok_or("`start`: no pids")?
        .iter()
        .filter_map(|p| p.as_u64().or_else(|| p.as_str()?.parse().ok()))
        .map(|p| p as u32)
        .collect();
    if pids.is_empty() {
        return Err("`start`: no pids".into());
    }
    let before = count(tool, &dir, &logs)?;
    let idle_rss_kib = procs::tree_rss_kib(&pids);
    let bodies = template.bodies(&bodies::dsn(&url, &public_key, &project_id));
    let target = Target { url: format!("{url}/api/{project_id}/envelope/"), public_key };

    // A peer may take a smaller share of the load (it may digest far slower than it accepts).
    let events = settings.events.min(settings.peer_events);
    let bodies = Arc::new(bodies.gzipped[..events].to_vec());
    eprintln!("bench origin: {events} events on {} ...", peer.title);
    let cpu_before = procs::tree_cpu_seconds(&pids);
    let sampler = TreeSampler::start(pids.clone());
    let start = Instant::now();
    let posted = load::post_all(&target, &bodies, settings.connections);
    let accepted = events - posted.refused();
    let (mut processed, mut polled) = (0, start.elapsed());
    let mut failure = None;
    while start.elapsed() < settings.peer_timeout {
        match count(tool, &dir, &logs) {
            Ok(n) => {
                polled = start.elapsed();
                processed = n.saturating_sub(before);
                if processed >= accepted {
                    break;
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        std::thread::sleep(POLL_EVERY);
    }
    let cpu_seconds = procs::tree_cpu_seconds(&pids) - cpu_before;
    let peak_rss_kib = sampler.stop();
    drop(started);
    let complete = processed >= accepted;
    let mut notes = vec![format!(
        "{}: driven by {} (its servers on {url}; RSS summed over pids {pids:?} and their children, sampled every 50 ms)",
        peer.title,
        tool.display()
    )];
    if posted.refused() > 0 {
        notes.push(format!("{} refused: {}", peer.title, posted.describe_refused()));
    }
    if !complete {
        notes.push(format!(
            "{}: only {processed} of {accepted} accepted events processed after {:.0} s{}; its processed/s is that count over that time",
            peer.title,
            polled.as_secs_f64(),
            failure.map(|e| format!(" (`count` failed: {e})")).unwrap_or_default()
        ));
    }
    Ok(Run {
        key: peer.name,
        title: peer.title.into(),
        is_origin: false,
        events,
        posted,
        visible: polled,
        complete,
        processed,
        processed_how: "the peer tool's `count`",
        idle_rss_kib,
        peak_rss_kib,
        rss_how: "VmRSS summed over the peer's processes and their children: after start, and the highest sample",
        cpu_seconds,
        notes,
    })
}
