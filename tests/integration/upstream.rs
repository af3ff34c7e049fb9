//! A recording upstream for edge conformance runs: it serves project configs for one key (as
//! the origin would) and records every envelope the edge forwards, so tests can compare the
//! forwarded bytes exactly. The real origin is what the end-to-end tests use. A delayed one
//! ([`Upstream::start_delayed`]) answers each envelope after a set time, on its own thread, and
//! counts the envelopes it holds, for the edge latency benchmarks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::{json, Value};

/// One forwarded request as the upstream received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Holds forwarded envelopes unanswered until opened.
type Gate = Arc<(Mutex<bool>, Condvar)>;

/// Answers the next forwarded envelopes get instead of being taken: status and headers.
pub type Refusals = Vec<(u16, Vec<(&'static str, &'static str)>)>;

/// A delayed upstream's envelope answers: the delay now (ms), and the envelopes held unanswered
/// now and at most at once since the last [`Delay::reset_peak`].
#[derive(Debug, Default)]
pub struct Delay {
    pub ms: AtomicU64,
    pub held: AtomicUsize,
    pub peak: AtomicUsize,
}

impl Delay {
    pub fn set(&self, delay: Duration) {
        self.ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn held(&self) -> usize {
        self.held.load(Ordering::SeqCst)
    }

    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::SeqCst)
    }

    pub fn reset_peak(&self) {
        self.peak.store(self.held(), Ordering::SeqCst);
    }
}

pub struct Upstream {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
    /// Set for a delayed upstream ([`Upstream::start_delayed`]).
    pub delay: Option<Arc<Delay>>,
    gate: Gate,
    server: Arc<tiny_http::Server>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Upstream {
    /// Serves `key` as a key of project `project_id` with the given `allowedDomains`.
    pub fn start(key: &str, project_id: u64, allowed_domains: Value) -> Upstream {
        Self::start_gated(key, project_id, allowed_domains, true)
    }

    /// As [`Upstream::start`]; when `open` is false, each forwarded envelope waits unanswered
    /// (and unrecorded) until [`Upstream::open`].
    pub fn start_gated(key: &str, project_id: u64, allowed_domains: Value, open: bool) -> Upstream {
        Self::start_with(key, project_id, allowed_domains, open, Vec::new(), None)
    }

    /// As [`Upstream::start`], but each forwarded envelope is answered `delay` after it arrived
    /// (changeable through [`Upstream::delay`]), on a thread of its own so that envelopes wait
    /// side by side and config fetches are never queued behind them.
    pub fn start_delayed(key: &str, project_id: u64, delay: Duration) -> Upstream {
        let held = Arc::new(Delay::default());
        held.set(delay);
        Self::start_with(key, project_id, json!(["*"]), true, Vec::new(), Some(held))
    }

    /// Serves each `(key, state)` of `states` (project states as the origin serves them), and
    /// answers envelopes after `delay` as [`Upstream::start_delayed`] does.
    pub fn start_states(states: Vec<(String, Value)>, delay: Duration) -> Upstream {
        let held = Arc::new(Delay::default());
        held.set(delay);
        Self::start_serving(states, true, Vec::new(), Some(held))
    }

    /// As [`Upstream::start`], but the first forwarded envelopes get `refusals` in turn (and are
    /// not recorded), as an origin that is busy or limiting would answer.
    pub fn start_refusing(key: &str, project_id: u64, refusals: Refusals) -> Upstream {
        Self::start_with(key, project_id, json!(["*"]), true, refusals, None)
    }

    fn start_with(
        key: &str,
        project_id: u64,
        allowed_domains: Value,
        open: bool,
        refusals: Refusals,
        delay: Option<Arc<Delay>>,
    ) -> Upstream {
        let state = json!({
            "projectId": project_id,
            "disabled": false,
            "publicKeys": [{ "publicKey": key, "numericId": 1, "isEnabled": true }],
            "slug": "conformance",
            "organizationId": 1,
            "config": { "allowedDomains": allowed_domains },
        });
        Self::start_serving(vec![(key.to_string(), state)], open, refusals, delay)
    }

    fn start_serving(
        states: Vec<(String, Value)>,
        open: bool,
        refusals: Refusals,
        delay: Option<Arc<Delay>>,
    ) -> Upstream {
        let mut refusals: VecDeque<_> = refusals.into();
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind the upstream"));
        let url = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let received = Arc::new(Mutex::new(Vec::new()));
        let states: std::collections::HashMap<String, Value> = states.into_iter().collect();
        let gate: Gate = Arc::new((Mutex::new(open), Condvar::new()));
        let (srv, rec, wait) = (server.clone(), received.clone(), gate.clone());
        let held = delay.clone();
        let thread = thread::spawn(move || {
            for mut request in srv.incoming_requests() {
                let mut body = Vec::new();
                let _ = request.as_reader().read_to_end(&mut body);
                let path = request.url().split('?').next().unwrap_or("").to_string();
                if path.ends_with("/envelope/") {
                    if let Some((status, headers)) = refusals.pop_front() {
                        let mut response =
                            tiny_http::Response::from_string("{\"detail\":\"not now\"}").with_status_code(status);
                        for (name, value) in headers {
                            response.add_header(tiny_http::Header::from_bytes(name, value).unwrap());
                        }
                        let _ = request.respond(response);
                        continue;
                    }
                }
                if let (Some(held), true) = (&held, path.ends_with("/envelope/")) {
                    let now = held.held.fetch_add(1, Ordering::SeqCst) + 1;
                    held.peak.fetch_max(now, Ordering::SeqCst);
                    let (held, rec) = (held.clone(), rec.clone());
                    thread::spawn(move || {
                        // The simulated origin's work: the one thing this upstream waits for.
                        thread::sleep(Duration::from_millis(held.ms.load(Ordering::SeqCst)));
                        let headers =
                            request.headers().iter().map(|h| (h.field.to_string(), h.value.to_string())).collect();
                        rec.lock().unwrap().push(Received { path, headers, body });
                        let _ = request.respond(tiny_http::Response::from_string("{}"));
                        held.held.fetch_sub(1, Ordering::SeqCst);
                    });
                    continue;
                }
                let answer = if path == "/api/0/relays/projectconfigs/" {
                    let asked: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let mut configs = serde_json::Map::new();
                    for k in asked["publicKeys"].as_array().into_iter().flatten().filter_map(Value::as_str) {
                        if let Some(state) = states.get(k) {
                            configs.insert(k.to_string(), state.clone());
                        }
                    }
                    json!({ "configs": configs, "pending": [] })
                } else if path.ends_with("/envelope/") {
                    let (lock, opened) = &*wait;
                    drop(opened.wait_while(lock.lock().unwrap(), |open| !*open).unwrap());
                    let headers =
                        request.headers().iter().map(|h| (h.field.to_string(), h.value.to_string())).collect();
                    rec.lock().unwrap().push(Received { path, headers, body });
                    json!({})
                } else {
                    json!({ "detail": "not found" })
                };
                let _ = request.respond(tiny_http::Response::from_string(answer.to_string()));
            }
        });
        Upstream { url, received, delay, gate, server, thread: Some(thread) }
    }

    /// Lets held and later envelopes through.
    pub fn open(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.open();
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
