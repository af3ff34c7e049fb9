//! Request bodies, all made before any clock starts: the real SDK capture
//! (`tests/data/vectors/envelope-5kb.envelope.gz`) gunzipped, each event with its own event id
//! (envelope header and payload) and one of BENCH_ISSUES exception types, its `dsn` that of the
//! target, gzipped again (level 9, as the Python SDK does) and kept in memory.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::Bytes;
use flate2::{read::GzDecoder, write::GzEncoder, Compression};
use serde_json::Value;

use crate::ROOT;

pub const CAPTURE: &str = "tests/data/vectors/envelope-5kb.envelope.gz";
/// What the bodies are, for the output.
pub const DESCRIBE: &str = "5 KB gzipped capture";
/// Stands for the target's DSN while the envelopes are laid out.
const DSN_MARK: &str = "\u{1}DSN\u{1}";

/// Every event's envelope, uncompressed, but for the target's DSN.
pub struct Template {
    /// The envelope header up to its `dsn` value, and everything after it.
    events: Vec<(String, Vec<u8>)>,
}

/// One target's bodies.
pub struct Bodies {
    pub gzipped: Arc<Vec<Bytes>>,
    /// Total bytes, gzipped and decoded.
    pub gzipped_bytes: usize,
    pub raw_bytes: usize,
}

impl Bodies {
    pub fn per_event(&self) -> (usize, usize) {
        let n = self.gzipped.len().max(1);
        (self.gzipped_bytes / n, self.raw_bytes / n)
    }
}

impl Template {
    /// `events` envelopes from the capture: distinct event ids, `issues` distinct exception types.
    pub fn new(events: usize, issues: usize) -> Template {
        let mut raw = Vec::new();
        let file = std::fs::read(format!("{ROOT}/{CAPTURE}")).unwrap_or_else(|e| panic!("{CAPTURE}: {e}"));
        GzDecoder::new(&file[..]).read_to_end(&mut raw).unwrap_or_else(|e| panic!("{CAPTURE}: not gzip: {e}"));
        let text = String::from_utf8(raw).expect("the capture is UTF-8");
        let mut lines = text.lines();
        let mut parse = |what: &str| -> Value {
            let line = lines.next().unwrap_or_else(|| panic!("{CAPTURE}: no {what} line"));
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{CAPTURE}: {what}: {e}"))
        };
        let (header, item, event) = (parse("envelope header"), parse("item header"), parse("event"));
        assert_eq!(item["type"], "event", "{CAPTURE}: the first item is not an event");
        assert!(event["exception"]["values"][0]["type"].is_string(), "{CAPTURE}: the event has no exception type");
        let events = (0..events)
            .map(|i| {
                let id = format!("{:032x}", 0xbe_0000_0000_0000_0000_0000_0000u128 + i as u128);
                let mut ev = event.clone();
                ev["event_id"] = Value::String(id.clone());
                ev["exception"]["values"][0]["type"] = Value::String(format!("BenchError{}", i % issues));
                let payload = serde_json::to_vec(&ev).unwrap();
                let mut item = item.clone();
                item["length"] = payload.len().into();
                let mut header = header.clone();
                header["event_id"] = Value::String(id);
                header["dsn"] = Value::String(DSN_MARK.into());
                let header = serde_json::to_string(&header).unwrap();
                let mark = serde_json::to_string(DSN_MARK).unwrap();
                let (before, after) = header.split_once(&mark).expect("the DSN mark is in the header");
                let mut rest = format!("{after}\n{}\n", serde_json::to_string(&item).unwrap()).into_bytes();
                rest.extend(payload);
                (format!("{before}\""), rest)
            })
            .collect();
        Template { events }
    }

    /// The gzipped bodies for a target whose DSN is `dsn`, on every core.
    pub fn bodies(&self, dsn: &str) -> Bodies {
        assert!(!dsn.contains(['"', '\\']), "a DSN needs no JSON escaping: {dsn}");
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = self.events.len().div_ceil(threads).max(1);
        let parts: Vec<Vec<(Bytes, usize)>> = std::thread::scope(|scope| {
            let workers: Vec<_> = self
                .events
                .chunks(chunk)
                .map(|events| {
                    scope.spawn(move || events.iter().map(|(before, after)| body(before, dsn, after)).collect())
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let mut gzipped = Vec::with_capacity(self.events.len());
        let (mut gzipped_bytes, mut raw_bytes) = (0, 0);
        for (body, raw) in parts.into_iter().flatten() {
            gzipped_bytes += body.len();
            raw_bytes += raw;
            gzipped.push(body);
        }
        Bodies { gzipped: Arc::new(gzipped), gzipped_bytes, raw_bytes }
    }
}

/// One envelope with `dsn` filled in, gzipped; and its decoded length.
fn body(before: &str, dsn: &str, after: &[u8]) -> (Bytes, usize) {
    let mut raw = Vec::with_capacity(before.len() + dsn.len() + after.len() + 1);
    raw.extend_from_slice(before.as_bytes());
    raw.extend_from_slice(dsn.as_bytes());
    raw.push(b'"');
    raw.extend_from_slice(after);
    let mut gz = GzEncoder::new(Vec::with_capacity(raw.len() / 2), Compression::new(9));
    gz.write_all(&raw).unwrap();
    (Bytes::from(gz.finish().unwrap()), raw.len())
}

/// The DSN an SDK configured for this target would carry.
pub fn dsn(base_url: &str, public_key: &str, project_id: &str) -> String {
    let (scheme, host) = base_url.split_once("://").unwrap_or(("http", base_url));
    format!("{scheme}://{public_key}@{}/{project_id}", host.trim_end_matches('/'))
}
