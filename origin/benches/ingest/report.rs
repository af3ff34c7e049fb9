//! One target's figures ([`Run`]: an origin backend or a peer), the markdown table (one row
//! per figure, one column per target) and each run's part of `target/bench-origin.json`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::load::Posted;

/// One target's figures.
pub struct Run {
    /// The key in the JSON: `sqlite`, `postgres`, `bugsink`.
    pub key: &'static str,
    pub title: String,
    /// A Picket origin (not a peer).
    pub is_origin: bool,
    pub events: usize,
    pub posted: Posted,
    /// From the first request until every accepted event was processed (or, when not
    /// `complete`, until the last count).
    pub visible: Duration,
    pub complete: bool,
    /// Events processed, as the target itself counts them.
    pub processed: usize,
    pub processed_how: &'static str,
    pub idle_rss_kib: u64,
    pub peak_rss_kib: u64,
    pub rss_how: &'static str,
    /// CPU time the target used from the first request until all was processed.
    pub cpu_seconds: f64,
    /// Lines under the table.
    pub notes: Vec<String>,
}

impl Run {
    pub fn accepted(&self) -> usize {
        self.events - self.posted.refused()
    }

    pub fn accepted_per_second(&self) -> f64 {
        self.posted.per_second(self.events)
    }

    /// Accepted events over the time until all were processed; when not complete, what was
    /// processed over the time until the last count.
    pub fn processed_per_second(&self) -> f64 {
        let done = if self.complete { self.accepted() } else { self.processed.min(self.accepted()) };
        done as f64 / self.visible.as_secs_f64()
    }

    /// CPU time per event accepted, in µs: a figure that depends less on what else runs.
    pub fn cpu_per_event_us(&self) -> f64 {
        self.cpu_seconds * 1e6 / self.accepted().max(1) as f64
    }

    pub fn to_json(&self) -> Value {
        let mut run = json!({
            "accepted": self.accepted(),
            "refused": self.posted.refused(),
            "refused_by_status": self.posted.refused.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "accept_seconds": self.posted.took.as_secs_f64(),
            "accepted_per_second": self.accepted_per_second(),
            "visible_seconds": self.visible.as_secs_f64(),
            "all_processed": self.complete,
            "end_to_end_per_second": self.processed_per_second(),
            "events_sent": self.events,
            "events_processed": self.processed,
            "events_processed_how": self.processed_how,
            "idle_rss_mib": mib(self.idle_rss_kib),
            "peak_rss_mib": mib(self.peak_rss_kib),
            "rss_how": self.rss_how,
            "cpu_seconds": self.cpu_seconds,
            "generator_cpu_seconds": self.posted.cpu_seconds,
            "cpu_microseconds_per_event": self.cpu_per_event_us(),
        });
        if self.is_origin {
            // The names the origin's runs had before peers were added.
            run["origin_idle_rss_mib"] = json!(mib(self.idle_rss_kib));
            run["origin_peak_rss_mib"] = json!(mib(self.peak_rss_kib));
        }
        run
    }
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The markdown table: one row per figure, one column per run.
pub fn table(runs: &[Run]) -> String {
    type Cell = fn(&Run) -> String;
    let rows: [(&str, Cell); 9] = [
        ("events sent", |r| r.events.to_string()),
        ("accepted events/s", |r| format!("{:.0}", r.accepted_per_second())),
        ("processed and visible events/s", |r| {
            let rate = format!("{:.0}", r.processed_per_second());
            if r.complete {
                rate
            } else {
                format!("{rate} (incomplete)")
            }
        }),
        ("last processed after last accept (s)", |r| {
            format!("{:.2}", (r.visible.saturating_sub(r.posted.took)).as_secs_f64())
        }),
        ("CPU time per event (µs, the target's processes)", |r| format!("{:.0}", r.cpu_per_event_us())),
        ("refused", |r| r.posted.refused().to_string()),
        ("events processed, as the target counts", |r| r.processed.to_string()),
        ("peak RSS (MiB)", |r| format!("{:.1}", mib(r.peak_rss_kib))),
        ("idle RSS after start (MiB)", |r| format!("{:.1}", mib(r.idle_rss_kib))),
    ];
    let mut out = String::from("| |");
    for run in runs {
        out += &format!(" {} |", run.title);
    }
    out += "\n|---|";
    out += &"---:|".repeat(runs.len());
    for (label, cell) in rows {
        out += &format!("\n| {label} |");
        for run in runs {
            out += &format!(" {} |", cell(run));
        }
    }
    out
}
