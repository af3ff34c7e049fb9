//! What every handler shares ([`AppState`]): storage, limits, the processing queue's
//! bookkeeping and settings. Plain data; it handles no requests. What several origin processes
//! must agree on (quota counters, used signatures) lives in the store, not here.

use std::sync::Arc;
use std::time::Duration;

use picket::core::limits::Limits;

use crate::commit::Committer;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::worker::Queue;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limits: Limits,
    /// The processing queue's bookkeeping (backpressure and wake-ups).
    pub queue: Arc<Queue>,
    /// Where SDKs send (the edge), for the DSNs the API shows; the origin itself if unset.
    pub dsn_url: Option<String>,
    /// How long a request body may take to arrive.
    pub body_timeout: Duration,
    /// Proxies in front of the origin whose `X-Forwarded-For` entries are believed for direct
    /// (unsigned) traffic; 0 believes only the socket's peer.
    pub trusted_proxies: usize,
    /// Ingest's group commit (the one way accepted envelopes reach the store).
    pub committer: Committer,
    /// What `GET /metrics` shows.
    pub metrics: Arc<Metrics>,
    /// If set, `GET /metrics` wants `Authorization: Bearer <this>`.
    pub metrics_token: Option<String>,
}
