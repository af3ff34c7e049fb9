//! What an operator watches: the metrics `GET /metrics` (`http/metrics.rs`) shows in
//! Prometheus' text format (OpenMetrics), from `prometheus-client`. Ingest requests by endpoint and status with a latency histogram,
//! outcomes by source, category and reason, the processing queue's depth and lag (the age of
//! the oldest waiting envelope, read from the store when scraped, so it counts every origin
//! process on a shared database), envelopes and events processed, store errors, and the group
//! commit's batch sizes and commit times. Counters are this process's since it started.
//!
//! The endpoint answers anyone unless a token is set (`--metrics-token`,
//! `PICKET_METRICS_TOKEN`), then only `Authorization: Bearer <token>`.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use picket::core::outcome::Outcome;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    endpoint: &'static str,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndpointLabels {
    endpoint: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    source: &'static str,
    outcome: &'static str,
    category: &'static str,
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabels {
    source: &'static str,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.25 ms to about 8 s.
    Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
}

/// The origin's metrics, one set per process (tests make one per app).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<EndpointLabels>,
    outcomes: Family<OutcomeLabels, Counter>,
    queue_depth: Gauge,
    queue_lag: Gauge<f64, AtomicU64>,
    envelopes_processed: Counter,
    events_processed: Counter,
    store_errors: Family<SourceLabels, Counter>,
    commit_batch: Histogram,
    commit_seconds: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("picket");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("ingest_requests", "Ingest requests answered, by endpoint and status", requests.clone());
        let latency = Histograms::<EndpointLabels>::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("ingest_request_duration_seconds", "Ingest answer time, by endpoint", latency.clone());
        let outcomes = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "outcomes",
            "Quantities by outcome, data category and reason; source: ingest (refused here), processing, edge \
             (reported by edges)",
            outcomes.clone(),
        );
        let queue_depth = Gauge::default();
        registry.register("queue_depth", "Envelopes waiting for processing, read when scraped", queue_depth.clone());
        let queue_lag = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "queue_lag_seconds",
            "Age of the oldest envelope waiting for processing (0 when none waits)",
            queue_lag.clone(),
        );
        let envelopes_processed = Counter::default();
        registry.register("envelopes_processed", "Envelopes processed and committed", envelopes_processed.clone());
        let events_processed = Counter::default();
        registry.register("events_processed", "Events processed and committed", events_processed.clone());
        let store_errors = Family::<SourceLabels, Counter>::default();
        registry.register("store_errors", "Storage failures, by where they happened", store_errors.clone());
        let commit_batch = Histogram::new(exponential_buckets(1.0, 2.0, 10));
        registry.register("group_commit_batch_size", "Envelopes per group commit", commit_batch.clone());
        let commit_seconds = latency_histogram();
        registry.register("group_commit_duration_seconds", "Time of one group commit", commit_seconds.clone());
        Metrics {
            registry,
            requests,
            latency,
            outcomes,
            queue_depth,
            queue_lag,
            envelopes_processed,
            events_processed,
            store_errors,
            commit_batch,
            commit_seconds,
        }
    }
}

impl Metrics {
    /// One ingest request answered.
    pub fn ingest(&self, path: &str, status: u16, took: Duration) {
        let endpoint = endpoint(path);
        self.requests.get_or_create(&RequestLabels { endpoint, status: status.to_string() }).inc();
        self.latency.get_or_create(&EndpointLabels { endpoint }).observe(took.as_secs_f64());
    }

    /// Outcomes recorded by `source` (`ingest`, `processing`, `edge`).
    pub fn outcomes<'a>(&self, source: &'static str, outcomes: impl IntoIterator<Item = &'a Outcome>) {
        for o in outcomes {
            let reason: String = o.reason.chars().take(64).collect();
            let labels = OutcomeLabels { source, outcome: o.kind.name(), category: o.category.name(), reason };
            self.outcomes.get_or_create(&labels).inc_by(o.quantity);
        }
    }

    /// Envelopes (with their events) processed and committed.
    pub fn processed(&self, envelopes: u64, events: u64) {
        self.envelopes_processed.inc_by(envelopes);
        self.events_processed.inc_by(events);
    }

    /// A storage failure at `source` (`api`, `worker`, `commit`, `metrics`).
    pub fn store_error(&self, source: &'static str) {
        self.store_errors.get_or_create(&SourceLabels { source }).inc();
    }

    /// One group commit of `size` envelopes.
    pub fn committed(&self, size: usize, took: Duration) {
        self.commit_batch.observe(size as f64);
        self.commit_seconds.observe(took.as_secs_f64());
    }

    /// The text exposition, with the queue gauges as given.
    pub fn render(&self, queue_depth: usize, oldest_ms: Option<i64>, now_ms: i64) -> String {
        self.queue_depth.set(i64::try_from(queue_depth).unwrap_or(i64::MAX));
        self.queue_lag.set(oldest_ms.map_or(0.0, |t| (now_ms - t).max(0) as f64 / 1000.0));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
}

/// The ingest endpoint a path names (`/api/{project}/{endpoint}/...`), from a fixed list so
/// labels stay few.
pub fn endpoint(path: &str) -> &'static str {
    let mut parts = path.trim_start_matches('/').split('/');
    if parts.next() != Some("api") {
        return "other";
    }
    match parts.nth(1) {
        Some("envelope") => "envelope",
        Some("store") => "store",
        Some("security") => "security",
        Some("csp-report") => "csp-report",
        Some("minidump") => "minidump",
        Some("unreal") => "unreal",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_a_fixed_few() {
        assert_eq!(endpoint("/api/1/envelope/"), "envelope");
        assert_eq!(endpoint("/api/42/store/"), "store");
        assert_eq!(endpoint("/api/42/unreal/abc/"), "unreal");
        assert_eq!(endpoint("/api/42/whatever/"), "other");
        assert_eq!(endpoint("/healthz"), "other");
    }

    #[test]
    fn counters_render_with_their_labels() {
        let m = Metrics::default();
        m.ingest("/api/1/envelope/", 200, Duration::from_millis(3));
        m.committed(7, Duration::from_millis(2));
        let text = m.render(3, Some(1_000), 3_500);
        assert!(text.contains("picket_ingest_requests_total{endpoint=\"envelope\",status=\"200\"} 1"), "{text}");
        assert!(text.contains("picket_queue_depth 3"), "{text}");
        assert!(text.contains("picket_queue_lag_seconds 2.5"), "{text}");
        assert!(text.contains("picket_group_commit_batch_size_count 1"), "{text}");
    }
}
